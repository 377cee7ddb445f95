//! Untrusted patch files: whatever the bytes, loading, validating, compiling
//! and building never panic, never hang, and every rejection is a message.
//! A longer run: `PROPTEST_CASES=100000 cargo test -p ohmpatch-tests --test fuzz`.
//!
//! Random bytes and mutations mostly test the loader. The structure-aware
//! generator (`patch_from_registry`) builds patches from what the registry
//! says — its kinds, their real ports and params of the right type, mostly
//! in range — so most of them validate, compile and render, and the engine
//! and the nodes are what is exercised; it reports how many reached render.

use ohmpatch_engine::dsp::Rng;
use ohmpatch_engine::{Engine, EngineConfig, compile};
use ohmpatch_patch::{Node, ParamKind, Patch, Value, Wire};
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
        Ok(patch) => {
            exercise_patch(&patch, &dir);
        }
    }
}

/// What became of a patch: refused (with a message) or rendered.
#[derive(PartialEq)]
enum Fate {
    Refused,
    Rendered,
}

fn exercise_patch(patch: &Patch, dir: &std::path::Path) -> Fate {
    let registry = ohmpatch_nodes::shared_registry();
    let diags = ohmpatch_patch::validate(patch, &*registry, "fuzz", None);
    for d in &diags {
        assert!(!d.message.is_empty());
    }
    if !diags.is_empty() {
        if std::env::var_os("OHMPATCH_FUZZ_WHY").is_some() {
            eprintln!("refused: {}", diags[0].message);
        }
        return Fate::Refused;
    }
    {
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
                let _ = e.shutdown();
                // Finite always; within full scale unless an output's
                // limiter was turned off.
                let limited = !patch
                    .nodes
                    .values()
                    .any(|n| n.params.get("limiter") == Some(&Value::Bool(false)));
                for c in out {
                    assert!(
                        c.iter()
                            .all(|s| s.is_finite() && (!limited || s.abs() <= 1.0))
                    );
                }
                Fate::Rendered
            }
            Err(err) => {
                assert!(!err.to_string().is_empty());
                if std::env::var_os("OHMPATCH_FUZZ_WHY").is_some() {
                    eprintln!("refused: {err}");
                }
                Fate::Refused
            }
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

/// A patch made from the registry's own descriptions: real kinds, real
/// ports, params of the right type (in one patch in four, one value out of
/// range or of the wrong type), wires from outputs to inputs running
/// forward, one in ten running back (a loop, which needs a `delay`).
fn patch_from_registry(rng: &mut Rng) -> Patch {
    let registry = ohmpatch_nodes::registry();
    let specs = registry.specs();
    let pick = |rng: &mut Rng, n: usize| (rng.next_u64() % n.max(1) as u64) as usize;
    let mut p = Patch::default();
    let count = 1 + pick(rng, 10);
    let wild_node = if pick(rng, 4) == 0 {
        pick(rng, count)
    } else {
        usize::MAX
    };
    for i in 0..count {
        let spec = specs[pick(rng, specs.len())];
        let mut n = Node::new(spec.kind.as_ref(), (i as f32 * 10.0, 0.0));
        let wild_param = if i == wild_node {
            pick(rng, spec.params.len())
        } else {
            usize::MAX
        };
        for (k, param) in spec.params.iter().enumerate() {
            if pick(rng, 3) == 0 && k != wild_param {
                continue; // left at its default
            }
            let wild = k == wild_param;
            let v = match &param.kind {
                _ if wild => match pick(rng, 3) {
                    0 => Value::Number(f64::NAN),
                    1 => Value::Number(1e300),
                    _ => Value::Str("?".into()),
                },
                ParamKind::Number {
                    min, max, integer, ..
                } => {
                    let t = rng.next_u64() as f64 / u64::MAX as f64;
                    let v = min + t * (max - min);
                    Value::Number(if *integer { v.round() } else { v })
                }
                ParamKind::Choice { choices, .. } => {
                    Value::Str(choices[pick(rng, choices.len())].to_string())
                }
                ParamKind::Bool { .. } => Value::Bool(pick(rng, 2) == 0),
                ParamKind::Path { .. } => Value::Str(
                    [
                        "",
                        "f.wav",
                        "f.wav",
                        "f.wav",
                        "f.wav",
                        "missing.wav",
                        "../x.wav",
                    ][pick(rng, 7)]
                    .into(),
                ),
                // A plugin's URI: none of these is installed.
                ParamKind::Text { .. } => {
                    Value::Str(["", "urn:ohmpatch:none"][pick(rng, 2)].into())
                }
            };
            n.params.insert(param.name.to_string(), v);
        }
        p.nodes.insert(format!("n{i}"), n);
    }
    let ids: Vec<String> = p.nodes.keys().cloned().collect();
    for _ in 0..pick(rng, 2 * count + 1) {
        let (mut i, mut j) = (pick(rng, ids.len()), pick(rng, ids.len()));
        if i >= j && pick(rng, 10) != 0 {
            std::mem::swap(&mut i, &mut j);
            if i == j {
                continue;
            }
        }
        let (a, b) = (&ids[i], &ids[j]);
        let outs: Vec<_> = registry
            .get(&p.nodes[a].kind)
            .unwrap()
            .spec()
            .outputs()
            .map(|x| x.name.to_string())
            .collect();
        let ins: Vec<_> = registry
            .get(&p.nodes[b].kind)
            .unwrap()
            .spec()
            .inputs()
            .map(|x| x.name.to_string())
            .collect();
        if outs.is_empty() || ins.is_empty() {
            continue;
        }
        let w = Wire::parse(
            &format!("{a}.{}", outs[pick(rng, outs.len())]),
            &format!("{b}.{}", ins[pick(rng, ins.len())]),
        )
        .unwrap();
        if !p.wires.contains(&w) {
            p.wires.push(w);
        }
    }
    p
}

#[test]
fn patches_made_from_the_registry_mostly_reach_render() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-fuzz-reg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x: Vec<f32> = (0..2_400).map(|i| (i as f32 * 0.07).sin() * 0.5).collect();
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("f.wav"), &[x], 48_000).unwrap();
    let mut rng = Rng::new(0x0f_u64.wrapping_add(u64::from(cases())));
    let total = cases();
    let mut rendered = 0;
    for _ in 0..total {
        let p = patch_from_registry(&mut rng);
        let text = ohmpatch_patch::to_ron_string(&p);
        let fate = std::panic::catch_unwind(|| {
            let loaded = ohmpatch_patch::load_str(&text, "fuzz.ohm.ron").expect("own text loads");
            exercise_patch(&loaded, &dir)
        })
        .unwrap_or_else(|_| panic!("this patch broke the engine:\n{text}"));
        if fate == Fate::Rendered {
            rendered += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("structure-aware fuzz: {rendered} of {total} patches reached render");
    assert!(
        rendered * 2 >= total,
        "only {rendered} of {total} patches reached render"
    );
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
