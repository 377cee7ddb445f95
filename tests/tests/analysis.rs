//! The electrical analysis agrees with what the engine renders.

use ohmpatch_engine::analysis::analyze;
use ohmpatch_engine::compile;
use ohmpatch_patch::{Node, Patch, Wire};
use ohmpatch_tests::*;
use std::collections::HashSet;

fn tone_into_output(z_out: f64, z_in: f64) -> Patch {
    let mut p = Patch::default();
    let mut t = Node::new("tone", (0.0, 0.0));
    t.params.insert("level_dbu".into(), 0.0.into());
    t.params.insert("z_out_ohm".into(), z_out.into());
    let mut o = Node::new("output", (0.0, 0.0));
    o.params.insert("z_in_ohm".into(), z_in.into());
    p.nodes.insert("t".into(), t);
    p.nodes.insert("o".into(), o);
    p.wires.push(Wire::parse("t.out", "o.in").unwrap());
    p
}

#[test]
fn changing_only_an_impedance_changes_the_level_by_the_divider_ratio() {
    let dir = root();
    let reference = dbfs_rms(&render(&tone_into_output(0.0, 10_000.0), &dir, 0.5, 0)[0][4800..]);
    for (zs, zl) in [
        (600.0, 600.0),
        (150.0, 1200.0),
        (1000.0, 10_000.0),
        (50.0, 100_000.0),
    ] {
        let got = dbfs_rms(&render(&tone_into_output(zs, zl), &dir, 0.5, 0)[0][4800..]);
        let expect: f64 = 20.0 * (zl / (zs + zl)).log10();
        assert!(
            (got - reference - expect).abs() < 0.05,
            "{zs} Ω into {zl} Ω: {:.3} dB, expected {expect:.3}",
            got - reference
        );
    }
}

#[test]
fn predicted_output_levels_match_offline_renders() {
    let registry = ohmpatch_nodes::registry();
    let mut checked = 0;
    for path in examples() {
        let patch = load(&path);
        let schedule = compile(&patch, &registry, 48_000.0, &HashSet::new()).unwrap();
        // A loop's level depends on the phase of what returns; the analysis
        // leaves feedback out, so loops are not compared here.
        if schedule
            .steps
            .iter()
            .any(|s| s.kind != ohmpatch_engine::compile::StepKind::Process)
        {
            continue;
        }
        let report = analyze(&schedule, &registry, 48_000.0, 1000.0);
        let out = render(&patch, path.parent().unwrap(), 2.0, 1);
        for (i, o) in report.outputs.iter().enumerate() {
            let predicted = 10.0
                * (10f64.powf(o.levels.signal_db / 10.0) + 10f64.powf(o.levels.noise_db / 10.0))
                    .log10();
            let measured = dbfs_rms(&out[i][24_000..]);
            assert!(
                (predicted - measured).abs() < 0.5,
                "{}: output {} predicted {predicted:.2} dBFS, rendered {measured:.2} dBFS",
                path.display(),
                o.node
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no example was compared");
}
