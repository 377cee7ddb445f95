//! `ohmpatch check`: validate, compile, and show the processing order and
//! every wire's electrical facts.

use super::*;
use ohmpatch_engine::compile::Schedule;
use ohmpatch_engine::{Impedance, compile};
use serde_json::json;
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    pub patch: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> u8 {
    let patch = match load(&a.patch) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let registry = ohmpatch_nodes::registry();
    if let Err(code) = validate(&a.patch, &patch, &registry) {
        return code;
    }
    let schedule = match compile(&patch, &registry, 48_000.0, &HashSet::new()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", a.patch.display());
            return EXIT_INVALID;
        }
    };
    let warnings = domain_warnings(&schedule);
    if a.json {
        let wires: Vec<serde_json::Value> = schedule
            .wires
            .iter()
            .map(|w| {
                json!({
                    "from": w.wire.from.to_string(),
                    "to": w.wire.to.to_string(),
                    "from_domain": w.from_domain,
                    "to_domain": w.to_domain,
                    "source_impedance_ohm": z_json(&w.source_z),
                    "load_impedance_ohm": z_json(&w.load_z),
                })
            })
            .collect();
        let report = json!({
            "patch": a.patch.display().to_string(),
            "valid": true,
            "order": schedule.order(),
            "wires": wires,
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        println!(
            "{}: valid, {} nodes, {} wires",
            a.patch.display(),
            patch.nodes.len(),
            patch.wires.len()
        );
        println!("order: {}", schedule.order().join(" → "));
        for w in &schedule.wires {
            println!(
                "  {:<24} → {:<24} {:>10} → {:<10} source {:>12}  load {:>12}",
                w.wire.from.to_string(),
                w.wire.to.to_string(),
                w.from_domain.name(),
                w.to_domain.name(),
                z_text(&w.source_z),
                z_text(&w.load_z),
            );
        }
        for w in &warnings {
            println!("warning: {w}");
        }
    }
    EXIT_OK
}

fn domain_warnings(s: &Schedule) -> Vec<String> {
    s.wires
        .iter()
        .filter(|w| w.from_domain != w.to_domain)
        .map(|w| {
            format!(
                "{} → {}: {} level into a {} input",
                w.wire.from,
                w.wire.to,
                w.from_domain.name(),
                w.to_domain.name()
            )
        })
        .collect()
}

fn z_json(z: &Impedance) -> serde_json::Value {
    match z {
        Impedance::None => serde_json::Value::Null,
        Impedance::Ohms(r) => json!(r),
        other => json!(other.magnitude(1000.0)),
    }
}

fn z_text(z: &Impedance) -> String {
    match z {
        Impedance::None => "—".into(),
        Impedance::Ohms(r) => super::nodes::ohms(*r),
        other => format!("{} @1k", super::nodes::ohms(other.magnitude(1000.0))),
    }
}
