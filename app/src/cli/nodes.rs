//! `ohmpatch nodes`: the catalogue as a table or JSON.

use ohmpatch_engine::Params;
use ohmpatch_patch::{Direction, ParamKind};
use serde_json::json;

pub fn run(as_json: bool) -> u8 {
    let reg = ohmpatch_nodes::registry();
    if as_json {
        let kinds: Vec<serde_json::Value> = reg
            .iter()
            .map(|k| {
                let spec = k.spec();
                let defaults = Params::resolve(spec, &Default::default());
                let elec = k.electrical(&defaults);
                let ports: Vec<serde_json::Value> = spec
                    .ports
                    .iter()
                    .zip(elec.iter())
                    .map(|(p, e)| {
                        json!({
                            "name": p.name,
                            "direction": p.direction,
                            "domain": e.domain,
                            "impedance_ohm": impedance_json(&e.impedance),
                            "help": p.help,
                        })
                    })
                    .collect();
                json!({
                    "kind": spec.kind,
                    "help": spec.help,
                    "ports": ports,
                    "params": spec.params,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "kinds": kinds })).expect("json")
        );
        return 0;
    }
    for k in reg.iter() {
        let spec = k.spec();
        let defaults = Params::resolve(spec, &Default::default());
        let elec = k.electrical(&defaults);
        println!("{}  —  {}", spec.kind, spec.help);
        for (p, e) in spec.ports.iter().zip(elec.iter()) {
            let dir = if p.direction == Direction::In {
                "in "
            } else {
                "out"
            };
            println!(
                "    {dir} {:<6} {:<10} {}",
                p.name,
                e.domain.name(),
                impedance_text(&e.impedance, p.direction)
            );
        }
        for p in &spec.params {
            let range = match &p.kind {
                ParamKind::Number {
                    min,
                    max,
                    default,
                    unit,
                    ..
                } => {
                    format!("{min} … {max} {unit}, default {default}")
                }
                ParamKind::Choice { choices, default } => {
                    format!("{} (default {default})", choices.join(" | "))
                }
                ParamKind::Bool { default } => format!("true | false (default {default})"),
                ParamKind::Path { .. } => "file path".to_string(),
                ParamKind::Text { .. } => "text".to_string(),
            };
            // `~`: a live param, changed on the running processor.
            let live = if p.live { '~' } else { '·' };
            println!("    {live} {:<20} {range}", p.name);
        }
        println!();
    }
    0
}

fn impedance_json(z: &ohmpatch_engine::Impedance) -> serde_json::Value {
    match z {
        ohmpatch_engine::Impedance::None => serde_json::Value::Null,
        ohmpatch_engine::Impedance::Ohms(r) => json!(r),
        other => json!(other.magnitude(1000.0)),
    }
}

fn impedance_text(z: &ohmpatch_engine::Impedance, dir: Direction) -> String {
    let what = if dir == Direction::In {
        "load"
    } else {
        "source"
    };
    match z {
        ohmpatch_engine::Impedance::None => {
            if dir == Direction::In {
                "no load".into()
            } else {
                "ideal source".into()
            }
        }
        ohmpatch_engine::Impedance::Ohms(r) => format!("{what} {}", ohms(*r)),
        other => format!(
            "{what} {} at 1 kHz (frequency dependent)",
            ohms(other.magnitude(1000.0))
        ),
    }
}

pub fn ohms(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.3} MΩ", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.3} kΩ", r / 1e3)
    } else {
        format!("{r:.3} Ω")
    }
}
