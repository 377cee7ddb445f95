//! `ohmpatch check`: validate, compile, and report every wire's signal level,
//! noise floor, SNR, headroom and loading, with warnings and fixes.

use super::*;
use ohmpatch_engine::analysis::{Analysis, analyze, ohms};
use ohmpatch_engine::compile;
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
    let registry = ohmpatch_nodes::registry_with_plugins();
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
    let freq = ohmpatch_engine::analysis::test_frequency(&patch, &registry);
    let report = analyze(&schedule, &registry, 48_000.0, freq);
    if a.json {
        let mut v = serde_json::to_value(&report).expect("json");
        v["patch"] = json!(a.patch.display().to_string());
        v["valid"] = json!(true);
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        print_report(&a.patch, &patch, &report);
    }
    EXIT_OK
}

fn db(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 { "∞".into() } else { "-∞".into() }
    } else {
        format!("{x:+.1}")
    }
}

fn print_report(path: &std::path::Path, patch: &ohmpatch_patch::Patch, r: &Analysis) {
    println!(
        "{}: valid, {} nodes, {} wires; levels for a {} Hz test signal at each source's nominal level",
        path.display(),
        patch.nodes.len(),
        patch.wires.len(),
        r.freq_hz
    );
    println!("order: {}", r.order.join(" → "));
    if !r.wires.is_empty() {
        println!();
        println!(
            "  {:<34} {:>8} {:>8} {:>7} {:>9}  {:<7} {:>10} {:>10} {:>10}",
            "wire", "signal", "noise", "SNR", "headroom", "unit", "source", "load", "loading"
        );
    }
    for w in &r.wires {
        let l = &w.levels;
        println!(
            "  {:<34} {:>8} {:>8} {:>7} {:>9}  {:<7} {:>10} {:>10} {:>10}{}",
            format!("{} → {}", w.from, w.to),
            db(l.signal_db),
            db(l.noise_db),
            if l.snr_db.is_finite() {
                format!("{:.1}", l.snr_db)
            } else {
                "—".into()
            },
            db(l.headroom_db),
            l.unit,
            w.source_ohm.map(ohms).unwrap_or_else(|| "—".into()),
            w.load_ohm.map(ohms).unwrap_or_else(|| "—".into()),
            format!("{:+.2} dB", w.loading_db),
            w.power_w.map(|p| format!("  {p:.3} W")).unwrap_or_default(),
        );
    }
    if !r.outputs.is_empty() {
        println!();
    }
    for o in &r.outputs {
        println!(
            "output {}: signal {} dBFS rms, noise {} dBFS, SNR {}, headroom {} dB, latency {} samples ({:.2} ms)",
            o.node,
            db(o.levels.signal_db),
            db(o.levels.noise_db),
            if o.levels.snr_db.is_finite() {
                format!("{:.1} dB", o.levels.snr_db)
            } else {
                "—".into()
            },
            db(o.levels.headroom_db),
            o.latency_samples,
            o.latency_ms
        );
    }
    for strip in &r.staging {
        print_strip(r, strip);
    }
    if !r.measured.is_empty() {
        println!(
            "\nmeasured, not modelled (run on the test sine and on silence): {}",
            r.measured.join(", ")
        );
    }
    if !r.warnings.is_empty() {
        println!();
    }
    for w in &r.warnings {
        println!("warning: {}: {}; fix: {}", w.at, w.message, w.fix);
    }
}

/// The gain-staging strip of one output: each stage's level and noise floor
/// along its main chain, then the converter.
fn print_strip(r: &Analysis, strip: &ohmpatch_engine::analysis::Strip) {
    let Some(first) = strip.wires.first() else {
        return;
    };
    println!("\ngain staging into {}:", strip.output);
    println!("  {:<12}", r.wires[*first].from.node);
    for &i in &strip.wires {
        let w = &r.wires[i];
        let l = &w.levels;
        println!(
            "  {:<12} {:>8} {:<7} noise {:>8}  headroom {:>7} dB",
            format!("→ {}", w.to.node),
            db(l.signal_db),
            l.unit,
            db(l.noise_db),
            db(l.headroom_db),
        );
    }
    if let Some(o) = r.outputs.iter().find(|o| o.node == strip.output) {
        println!(
            "  {:<12} {:>8} {:<7} noise {:>8}  headroom {:>7} dB",
            "→ converter",
            db(o.levels.signal_db),
            "dBFS",
            db(o.levels.noise_db),
            db(o.levels.headroom_db),
        );
    }
}
