//! A kind described at run time (as a plugin is: ports, params, ranges and
//! choices known only once it is found) registers, validates, loads, saves
//! and plays like a built-in one; a description that does not hold together
//! is refused in words.

use ohmpatch_engine::{
    BuildEnv, Engine, EngineConfig, Impedance, NodeKind, Params, PortElectrical, ProcessContext,
    Processor, Registry, render_offline,
};
use ohmpatch_patch::{
    Direction, Domain, KindSpec, ParamKind, ParamSpec, PortSpec, Taper, load_str, to_ron_string,
    validate,
};
use std::sync::Arc;

/// A kind made only of data: a gain whose param and ports are named by the
/// description it was given.
struct DataGain {
    spec: KindSpec,
}

fn described(kind: &str, param: &str, choices: &[&str]) -> DataGain {
    let port = |name: &str, direction| PortSpec {
        name: name.to_string().into(),
        direction,
        domain: Domain::Line,
        help: format!("{name} of {kind}").into(),
    };
    DataGain {
        spec: KindSpec {
            kind: kind.to_string().into(),
            help: format!("{kind}, described at run time").into(),
            ports: vec![
                port("left_in", Direction::In),
                port("left_out", Direction::Out),
            ],
            params: vec![
                ParamSpec {
                    name: param.to_string().into(),
                    kind: ParamKind::Number {
                        min: -24.0,
                        max: 24.0,
                        default: 0.0,
                        unit: "dB".to_string().into(),
                        taper: Taper::Linear,
                        integer: false,
                    },
                    help: "gain".to_string().into(),
                    live: true,
                    declared_index: None,
                },
                ParamSpec {
                    name: "mode".to_string().into(),
                    kind: ParamKind::Choice {
                        choices: choices.iter().map(|c| c.to_string().into()).collect(),
                        default: choices[0].to_string().into(),
                    },
                    help: "mode".to_string().into(),
                    live: false,
                    declared_index: None,
                },
            ],
        },
    }
}

struct Scale(f32);

impl Processor for Scale {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for (o, i) in outputs[0].iter_mut().zip(inputs[0]) {
            *o = i * self.0;
        }
    }
    fn set_param(&mut self, index: usize, value: f64) {
        if index == 0 {
            self.0 = 10f64.powf(value / 20.0) as f32;
        }
    }
}

impl NodeKind for DataGain {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, _params: &Params) -> Vec<PortElectrical> {
        self.spec
            .ports
            .iter()
            .map(|p| PortElectrical {
                domain: p.domain,
                impedance: Impedance::None,
            })
            .collect()
    }
    fn build(&self, params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let db = params.values()[0].as_f64();
        Ok(Box::new(Scale(10f64.powf(db / 20.0) as f32)))
    }
}

const TEXT: &str = r#"(version: 1, nodes: {
    "t": (kind: "tone", params: {"level_dbu": 0.0}),
    "g": (kind: "plugin_gain", params: {"drive_db": -6.0206, "mode": "warm"}),
    "o": (kind: "output"),
}, wires: [("t.out", "g.left_in"), ("g.left_out", "o.in")])"#;

fn registry() -> Registry {
    let mut r = ohmpatch_nodes::registry();
    r.try_register(Box::new(described(
        "plugin_gain",
        "drive_db",
        &["clean", "warm"],
    )))
    .expect("a sound description registers");
    r
}

#[test]
fn a_kind_described_at_run_time_validates_round_trips_and_plays() {
    let r = registry();
    let patch = load_str(TEXT, "dyn.ohm.ron").unwrap();
    assert!(validate(&patch, &r, "dyn.ohm.ron", None).is_empty());
    // The file format keeps it unchanged.
    let again = load_str(&to_ron_string(&patch), "again.ohm.ron").unwrap();
    assert_eq!(again, patch);
    // Validation knows its params, ranges and choices from the description.
    let bad = TEXT
        .replace("\"warm\"", "\"hot\"")
        .replace("-6.0206", "40.0");
    let diags = validate(
        &load_str(&bad, "bad.ohm.ron").unwrap(),
        &r,
        "bad.ohm.ron",
        None,
    );
    let all: Vec<String> = diags.iter().map(|d| d.message.clone()).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("hot") && m.contains("clean, warm")),
        "{all:?}"
    );
    assert!(all.iter().any(|m| m.contains("drive_db")), "{all:?}");

    // It plays: a 0 dBu sine (1.0954 V peak) at −6.02 dB is 0.5477 V peak,
    // −24.02 dBFS at the output's +18 dBu full scale (CONTRACT §1).
    let mut e = Engine::new(Arc::new(r), EngineConfig::default());
    e.set_patch(&patch).unwrap();
    let out = render_offline(&mut e, 9600, 128);
    let _ = e.shutdown();
    let peak = out[0][4800..].iter().fold(0f32, |m, v| m.max(v.abs()));
    let dbfs = 20.0 * f64::from(peak).log10();
    assert!((dbfs - -24.02).abs() < 0.02, "peak {dbfs:.3} dBFS");
}

#[test]
fn a_description_that_does_not_hold_together_is_refused_in_words() {
    let mut r = Registry::new();
    let mut twice = described("twice", "mode", &["a", "b"]);
    twice.spec.params[0].name = "mode".into();
    let e = r.try_register(Box::new(twice)).unwrap_err();
    assert!(
        e.contains("twice") && e.contains("mode") && e.contains("declared twice"),
        "{e}"
    );

    let mut off = described("off", "x", &["a"]);
    if let ParamKind::Choice { default, .. } = &mut off.spec.params[1].kind {
        *default = "z".into();
    }
    let e = r.try_register(Box::new(off)).unwrap_err();
    assert!(e.contains("off") && e.contains("not a choice"), "{e}");
    assert!(r.get("twice").is_none() && r.get("off").is_none());
}

/// A family: one kind name whose members are picked by a text param (as
/// `lv2` is by `uri`). The family's own kind stands for a missing member.
struct Family {
    spec: KindSpec,
}

impl NodeKind for Family {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn family_param(&self) -> Option<&'static str> {
        Some("model")
    }
    fn electrical(&self, _params: &Params) -> Vec<PortElectrical> {
        Vec::new()
    }
    fn build(&self, _params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Scale(0.0)))
    }
}

fn model_param() -> ParamSpec {
    ParamSpec {
        name: "model".to_string().into(),
        kind: ParamKind::Text {
            default: "".to_string().into(),
        },
        help: "which member".to_string().into(),
        live: false,
        declared_index: None,
    }
}

#[test]
fn a_familys_member_is_picked_by_its_param_and_a_missing_one_is_kept_as_written() {
    let mut r = ohmpatch_nodes::registry();
    let mut member = described("fam", "drive_db", &["clean", "warm"]);
    member.spec.params.push(model_param());
    // No family of that name yet: refused in words.
    let e = r.register_member("x1", Box::new(member)).unwrap_err();
    assert!(e.contains("fam") && e.contains("not a family"), "{e}");
    r.try_register(Box::new(Family {
        spec: KindSpec {
            kind: "fam".to_string().into(),
            help: "a family".to_string().into(),
            ports: Vec::new(),
            params: vec![model_param()],
        },
    }))
    .unwrap();
    let mut member = described("fam", "drive_db", &["clean", "warm"]);
    member.spec.params.push(model_param());
    r.register_member("x1", Box::new(member)).unwrap();

    let text = TEXT.replace("plugin_gain", "fam").replace(
        "\"mode\": \"warm\"",
        "\"mode\": \"warm\", \"model\": \"x1\"",
    );
    let patch = load_str(&text, "fam.ohm.ron").unwrap();
    assert!(validate(&patch, &r, "fam.ohm.ron", None).is_empty());
    assert_eq!(r.of(&patch.nodes["g"]).unwrap().spec().ports.len(), 2);
    let mut e = Engine::new(Arc::new(r), EngineConfig::default());
    e.set_patch(&patch).unwrap();
    let out = render_offline(&mut e, 9600, 128);
    let reg = e.registry().clone();
    let _ = e.shutdown();
    let peak = out[0][4800..].iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((20.0 * f64::from(peak).log10() - -24.02).abs() < 0.02);

    // An unknown member: valid, its params and wires unchecked and kept.
    let gone = text.replace("\"x1\"", "\"x9\"");
    let patch = load_str(&gone, "gone.ohm.ron").unwrap();
    assert!(validate(&patch, reg.as_ref(), "gone.ohm.ron", None).is_empty());
    let why = ohmpatch_patch::Catalogue::missing(reg.as_ref(), &patch.nodes["g"]).unwrap();
    assert!(why.contains("x9"), "{why}");
    assert_eq!(
        to_ron_string(&load_str(&to_ron_string(&patch), "again").unwrap()),
        to_ron_string(&patch)
    );
}
