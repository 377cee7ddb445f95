//! DSP faults are contained: a runaway feedback loop through `delay` and a
//! file full of NaN and infinities never put a non-finite or over-ceiling
//! sample on the output, and the offending node is named.

use ohmpatch_engine::{Engine, EngineConfig, render_offline};
use ohmpatch_tests::*;
use std::sync::atomic::Ordering;

fn engine_for(text: &str, dir: &std::path::Path) -> Engine {
    let patch = ohmpatch_patch::load_str(text, "fault.ohm.ron").unwrap();
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.to_path_buf()),
            ..EngineConfig::default()
        },
    );
    e.set_patch(&patch).unwrap();
    e
}

fn assert_contained(out: &[Vec<f32>]) {
    for ch in out {
        assert!(ch.iter().all(|v| v.is_finite()), "a non-finite sample");
        let peak = ch.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= 1.0, "peak {peak} above the ceiling");
    }
}

#[test]
fn a_runaway_feedback_loop_stays_finite_and_limited_and_is_named() {
    // +12 dB around a 5 ms loop: +2400 dB a second, past f32 in well under a second.
    let mut e = engine_for(
        r#"(version: 1, nodes: {
            "t": (kind: "tone", params: {"level_dbu": 0.0}),
            "m": (kind: "mixer"),
            "d": (kind: "delay", params: {"time_ms": 5.0, "gain_db": 12.0}),
            "o": (kind: "output"),
        }, wires: [("t.out", "m.in1"), ("m.out", "d.in"), ("d.out", "m.in2"), ("m.out", "o.in")])"#,
        &root(),
    );
    let out = render_offline(&mut e, 48_000 * 3, 128);
    assert_contained(&out);
    let named = e.faulty_node();
    assert!(
        matches!(named.as_deref(), Some("m" | "d")),
        "the loop's node should be named, got {named:?}"
    );
    assert!(e.stats().nonfinite.load(Ordering::Relaxed) == 0);
}

#[test]
fn a_file_of_nan_and_infinity_is_silenced_at_the_source() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut x = vec![0.25f32; 4800];
    for (i, v) in x.iter_mut().enumerate() {
        if i % 5 == 0 {
            *v = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX][(i / 5) % 4];
        }
    }
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("bad.wav"), &[x], 48_000).unwrap();
    let mut e = engine_for(
        r#"(version: 1, nodes: {
            "f": (kind: "file_in", params: {"path": "bad.wav", "loop": true}),
            "p": (kind: "preamp", params: {"gain_db": 70.0, "z_in_ohm": 1000000.0}),
            "o": (kind: "output"),
        }, wires: [("f.out", "p.in"), ("p.out", "o.in")])"#,
        &dir,
    );
    let out = render_offline(&mut e, 48_000, 128);
    assert_contained(&out);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opening one large patch after another within a fade runs the slot arena
/// out of room; the fades are then finished at once and their slots handed
/// to the new nodes in the same plan. Every new node must still sound.
#[test]
fn replacing_large_patches_within_a_fade_leaves_no_node_silent() {
    let chains = 20;
    let patch_of = |round: usize| {
        let mut nodes = String::new();
        let mut wires = Vec::new();
        for i in 0..chains {
            nodes.push_str(&format!(
                r#""t{round}_{i}": (kind: "tone", params: {{"level_dbu": -10.0}}), "o{round}_{i}": (kind: "output"),"#
            ));
            wires.push(format!(r#"("t{round}_{i}.out", "o{round}_{i}.in")"#));
        }
        let text = format!(
            "(version: 1, nodes: {{{nodes}}}, wires: [{}])",
            wires.join(", ")
        );
        ohmpatch_patch::load_str(&text, "big.ohm.ron").unwrap()
    };
    let mut e = ohmpatch_engine::Engine::new(
        ohmpatch_nodes::shared_registry(),
        ohmpatch_engine::EngineConfig {
            max_nodes: 2 * chains,
            channel_map: ohmpatch_engine::ChannelMap::IdOrder,
            ..ohmpatch_engine::EngineConfig::default()
        },
    );
    // Four whole patches, each replacing every node, with no audio run in
    // between: what fades out piles up past the arena's room.
    for round in 0..4 {
        e.set_patch(&patch_of(round)).unwrap();
    }
    let out = ohmpatch_engine::render_offline(&mut e, 9_600, 128);
    let _ = e.shutdown();
    assert!(out.len() >= chains, "{} channels", out.len());
    // The live outputs come first, in id order (what still fades after).
    // A −10 dBu sine peaks at −28 dBFS, 0.0398.
    for (i, c) in out[..chains].iter().enumerate() {
        let peak = c[4_800..].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            (peak - 0.0398).abs() < 0.001,
            "output {i} of the last patch is silent ({peak})"
        );
    }
}
