//! Utilities hide no loads. A `split` is a junction: the loads on its
//! outputs appear in parallel at its input. A `gain` is an ideal transformer
//! of its voltage ratio g: the stage before it sees the loads after it
//! divided by g². Both the render and `check` follow from that, and agree
//! with the circuit worked out by hand.

use ohmpatch_engine::analysis::analyze;
use ohmpatch_engine::compile;
use ohmpatch_tests::*;
use std::collections::HashSet;

fn patch(text: &str) -> ohmpatch_patch::Patch {
    ohmpatch_patch::load_str(text, "junction.ohm.ron").unwrap_or_else(|e| panic!("{e}"))
}

fn peak_db(x: &[f32]) -> f64 {
    let tail = &x[x.len() / 2..];
    20.0 * f64::from(tail.iter().fold(0f32, |m, v| m.max(v.abs()))).log10()
}

/// Four 12-inch speakers on one power amp, straight or through a split.
fn cab(through_split: bool) -> String {
    let mut nodes = String::from(
        r#""t": (kind: "tone", params: {"level_dbu": -10.0}),
        "amp": (kind: "power_amp", params: {"z_out_ohm": 8.0}),
        "s": (kind: "split", params: {"domain": "speaker"}),"#,
    );
    let mut wires = vec![r#"("t.out", "amp.in")"#.to_string()];
    for i in 1..=4 {
        nodes.push_str(&format!(
            r#""spk{i}": (kind: "speaker"), "o{i}": (kind: "output", params: {{"full_scale_dbu": 20.0}}),"#
        ));
        let from = if through_split {
            format!("s.out{i}")
        } else {
            "amp.out".into()
        };
        wires.push(format!(r#"("{from}", "spk{i}.in")"#));
        wires.push(format!(r#"("spk{i}.out", "o{i}.in")"#));
    }
    if through_split {
        wires.push(r#"("amp.out", "s.in")"#.into());
    }
    format!(
        "(version: 1, nodes: {{{nodes}}}, wires: [{}])",
        wires.join(", ")
    )
}

#[test]
fn four_speakers_through_a_split_load_the_amp_as_four_on_its_output() {
    let dir = std::env::temp_dir();
    let straight = render(&patch(&cab(false)), &dir, 0.5, 0);
    let split = render(&patch(&cab(true)), &dir, 0.5, 0);
    assert_eq!(straight.len(), 4);
    for (a, b) in straight.iter().zip(&split) {
        let (da, db) = (peak_db(a), peak_db(b));
        assert!(da > -60.0, "the speakers play ({da:.1} dBFS)");
        assert!(
            (da - db).abs() < 0.01,
            "straight {da:.3} dB, through a split {db:.3} dB"
        );
    }
    // check sees the same load on the amp's output either way.
    let registry = ohmpatch_nodes::registry();
    let load = |text: &str| {
        let p = patch(text);
        let s = compile(&p, &registry, 48_000.0, &HashSet::new()).unwrap();
        let a = analyze(&s, &registry, 48_000.0, 1000.0);
        a.wires
            .iter()
            .find(|w| w.from.to_string() == "amp.out")
            .and_then(|w| w.load_ohm)
            .unwrap()
    };
    let (za, zb) = (load(&cab(false)), load(&cab(true)));
    assert!((za - zb).abs() < 1e-9 * za, "{za} Ω against {zb} Ω");
}

#[test]
fn a_gain_is_an_ideal_transformer_between_a_source_and_its_load() {
    // A 10 kΩ source into a 10 kΩ input through a gain of ratio g: the
    // source sees 10 k/g², so the input gets g · 10k/g² / (10k + 10k/g²) of
    // the open-circuit voltage: 0.4 (−7.96 dB) for g = 2 and for g = 0.5.
    for (gain_db, expect_db) in [(6.0206, -7.9588), (-6.0206, -7.9588), (0.0, -6.0206)] {
        let text = format!(
            r#"(version: 1, nodes: {{
                "t": (kind: "tone", params: {{"level_dbu": 0.0, "z_out_ohm": 10000.0}}),
                "g": (kind: "gain", params: {{"gain_db": {gain_db}}}),
                "o": (kind: "output", params: {{"z_in_ohm": 10000.0}}),
                "r": (kind: "tone", params: {{"level_dbu": 0.0}}),
                "ref": (kind: "output"),
            }}, wires: [("t.out", "g.in"), ("g.out", "o.in"), ("r.out", "ref.in")])"#
        );
        let out = render(&patch(&text), &std::env::temp_dir(), 0.2, 0);
        // Channels in id order: "o", then "ref" (the open-circuit level).
        let got = peak_db(&out[0]) - peak_db(&out[1]);
        assert!(
            (got - expect_db).abs() < 0.01,
            "gain {gain_db} dB: {got:.3} dB, expected {expect_db:.3} dB"
        );
    }
}
