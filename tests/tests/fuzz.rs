//! Untrusted patch files: whatever the bytes, loading, validating, compiling
//! and building never panic, never hang, and every rejection is a message.
//! A longer run: `PROPTEST_CASES=100000 cargo test -p ohmpatch-tests --test fuzz`.

use ohmpatch_engine::{Engine, EngineConfig, compile};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use proptest::prelude::*;
use std::collections::HashSet;

const KINDS: &[&str] = &[
    "tone",
    "gain",
    "mixer",
    "split",
    "delay",
    "output",
    "audio_in",
    "file_in",
    "recorder",
    "noise",
    "mic",
    "preamp",
    "power_amp",
    "speaker",
    "cab_ir",
    "meter",
    "scope",
    "spectrum",
    "nope",
];
const PORTS: &[&str] = &["in", "out", "in1", "in2", "out1", "x"];
const PARAMS: &[&str] = &[
    "gain_db",
    "time_ms",
    "level_dbu",
    "freq_hz",
    "z_out_ohm",
    "z_in_ohm",
    "path",
    "model",
    "waveform",
    "domain",
    "channel",
    "loop",
    "oversample",
    "bogus",
];

/// Everything the loader, validator, compiler and engine say about `text`.
fn exercise(text: &str) {
    let dir = std::env::temp_dir().join("ohmpatch-fuzz");
    let _ = std::fs::create_dir_all(&dir);
    match ohmpatch_patch::load_str(text, "fuzz.ohm.ron") {
        Err(e) => assert!(!e.to_string().trim().is_empty()),
        Ok(patch) => exercise_patch(&patch, &dir),
    }
}

fn exercise_patch(patch: &Patch, dir: &std::path::Path) {
    let registry = ohmpatch_nodes::shared_registry();
    let diags = ohmpatch_patch::validate(patch, &*registry, "fuzz", None);
    for d in &diags {
        assert!(!d.message.is_empty());
    }
    if diags.is_empty() {
        let _ = compile(patch, &registry, 48_000.0, &HashSet::new());
        let mut e = Engine::new(
            registry,
            EngineConfig {
                patch_dir: Some(dir.to_path_buf()),
                max_nodes: 64,
                ..EngineConfig::default()
            },
        );
        match e.set_patch(patch) {
            Ok(()) => {
                let out = ohmpatch_engine::render_offline(&mut e, 512, 128);
                for c in out {
                    assert!(c.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
                }
            }
            Err(err) => assert!(!err.to_string().is_empty()),
        }
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1e300),
            Just(1e300),
            -1e6f64..1e6,
            Just(0.0),
            Just(-0.0)
        ]
        .prop_map(Value::Number),
        prop_oneof![
            Just("../../etc/passwd".to_string()),
            Just("/etc/passwd".to_string()),
            Just("missing.wav".to_string()),
            Just("sine".to_string()),
            Just("tube_12ax7".to_string()),
            Just("acoustic".to_string()),
            ".{0,12}"
        ]
        .prop_map(Value::Str),
    ]
}

fn patch_strategy() -> impl Strategy<Value = Patch> {
    let node = (
        prop::sample::select(KINDS),
        prop::collection::btree_map(
            prop::sample::select(PARAMS).prop_map(String::from),
            value(),
            0..4,
        ),
    );
    let ids = prop::collection::vec(node, 0..12);
    let wires = prop::collection::vec(
        (
            0usize..12,
            prop::sample::select(PORTS),
            0usize..12,
            prop::sample::select(PORTS),
        ),
        0..24,
    );
    (ids, wires).prop_map(|(nodes, wires)| {
        let mut p = Patch::default();
        for (i, (kind, params)) in nodes.iter().enumerate() {
            let mut n = Node::new(*kind, (i as f32 * 10.0, 0.0));
            n.params = params.clone();
            p.nodes.insert(format!("n{i}"), n);
        }
        for (a, pa, b, pb) in wires {
            p.wires
                .push(Wire::parse(&format!("n{a}.{pa}"), &format!("n{b}.{pb}")).unwrap());
        }
        p
    })
}

/// A valid patch in canonical text, to mutate.
fn seed_text() -> String {
    std::fs::read_to_string(ohmpatch_tests::root().join("graphs/sine-unity.ohm.ron")).unwrap()
}

/// 300 cases a property in `cargo test`; `PROPTEST_CASES` sets a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_valid_files_never_panic(cuts in prop::collection::vec((0usize..2000, any::<u8>(), 0usize..3), 1..6)) {
        let mut text = seed_text().into_bytes();
        for (at, byte, op) in cuts {
            let at = at % (text.len() + 1);
            match op {
                0 => text.insert(at, byte),
                1 if at < text.len() => { text.remove(at); }
                _ => text.truncate(at),
            }
        }
        exercise(&String::from_utf8_lossy(&text));
    }

    #[test]
    fn random_structured_patches_never_panic(p in patch_strategy()) {
        let text = ohmpatch_patch::to_ron_string(&p);
        exercise(&text);
    }
}

#[test]
fn limits_are_enforced_with_clear_messages() {
    // Too many nodes.
    let mut p = Patch::default();
    for i in 0..10_001 {
        p.nodes
            .insert(format!("g{i}"), Node::new("gain", (0.0, 0.0)));
    }
    let text = ohmpatch_patch::to_ron_string(&p);
    let err = ohmpatch_patch::load_str(&text, "big.ohm.ron")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("10000") || err.contains("10 000") || err.contains("10,000"),
        "{err}"
    );
    // A delay longer than the limit is out of range, in words.
    let mut p = Patch::default();
    let mut d = Node::new("delay", (0.0, 0.0));
    d.params.insert("time_ms".into(), 1e9.into());
    p.nodes.insert("d".into(), d);
    let registry = ohmpatch_nodes::registry();
    let diags = ohmpatch_patch::validate(&p, &registry, "p", None);
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("time_ms") && d.message.contains("10000")),
        "{diags:?}"
    );
    // Paths may not leave the patch folder.
    let mut p = Patch::default();
    let mut f = Node::new("file_in", (0.0, 0.0));
    f.params.insert("path".into(), "../../etc/passwd".into());
    p.nodes.insert("f".into(), f);
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(std::env::temp_dir()),
            ..EngineConfig::default()
        },
    );
    let err = e.set_patch(&p).unwrap_err().to_string();
    assert!(
        err.contains("leaves the patch's folder") || err.contains("outside"),
        "{err}"
    );
}
