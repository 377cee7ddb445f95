//! `meter` on the bench: levels in each domain's unit, THD of a synthetic
//! signal, A-weighting, true peak, exact pass-through, audio-thread safety.

mod support;

use ohmpatch_engine::{ProcessContext, render_offline};
use ohmpatch_nodes::kinds::probes::MeterProbe;
use ohmpatch_patch::Value;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Tones (freq, dBu or the domain's level param) summed into a meter; the
/// meter's probe after `seconds`.
fn metered(
    tones: &[(f64, f64)],
    meter: Vec<(&'static str, Value)>,
    domain: &str,
    seconds: f64,
) -> std::sync::Arc<MeterProbe> {
    let level_param = match domain {
        "acoustic" => "level_db_spl",
        "digital" => "level_dbfs",
        _ => "level_dbu",
    };
    let ids: Vec<String> = (0..tones.len()).map(|i| format!("t{i}")).collect();
    let mut nodes: Vec<NodeDesc> = tones
        .iter()
        .zip(&ids)
        .map(|((f, l), id)| {
            (
                id.as_str(),
                "tone",
                vec![
                    ("freq_hz", (*f).into()),
                    (level_param, (*l).into()),
                    ("domain", domain.into()),
                ],
            )
        })
        .collect();
    let mut mp = meter;
    mp.push(("domain", domain.into()));
    nodes.push(("m", "meter", mp));
    let outs: Vec<String> = ids.iter().map(|id| format!("{id}.out")).collect();
    let wires: Vec<(&str, &str)> = outs.iter().map(|o| (o.as_str(), "m.in")).collect();
    let mut e = engine(&patch(&nodes, &wires));
    render_offline(&mut e, (seconds * SR) as usize, 128);
    e.probe::<MeterProbe>("m")
        .expect("meter publishes its probe")
}

#[test]
fn plus_four_dbu_reads_plus_four() {
    let dbu_of_1228 = dbu(1.228);
    let m = metered(&[(1000.0, dbu_of_1228)], vec![], "line", 1.0);
    let r = m.reading();
    eprintln!(
        "1.228 V rms → {:.4} {} ({:.4} dBV)",
        r.rms_db, r.unit, r.rms_dbv
    );
    assert_eq!(r.unit, "dBu");
    assert!((r.rms - 1.228).abs() < 1.228e-3, "{}", r.rms);
    assert!((r.rms_db - 4.0).abs() < 0.01, "{}", r.rms_db);
    assert!((r.rms_dbv - 1.78).abs() < 0.01, "{}", r.rms_dbv);
    // A sine's peak reads the same sine-equivalent level.
    assert!((r.peak_db - r.rms_db).abs() < 0.01, "{}", r.peak_db);
    // Lower frequencies are read just as well (the window holds whole periods).
    let r = metered(&[(50.0, dbu_of_1228)], vec![], "line", 1.0).reading();
    assert!((r.rms_db - 4.0).abs() < 0.01, "50 Hz: {}", r.rms_db);
}

#[test]
fn other_domains_read_in_their_units() {
    let r = metered(&[(1000.0, 94.0)], vec![], "acoustic", 1.0).reading();
    assert_eq!(r.unit, "dB SPL");
    assert!((r.rms_db - 94.0).abs() < 0.01, "{}", r.rms_db);
    // dBFS as the analysis reads it: a full-scale sine is 0 dBFS. (`tone`'s
    // level_dbfs is rms re 1.0, so its −18 is a sine peaking at −14.99 dBFS.)
    let r = metered(&[(1000.0, -18.0)], vec![], "digital", 1.0).reading();
    let want = 20.0 * (2f64.sqrt() * 10f64.powf(-18.0 / 20.0)).log10();
    assert_eq!(r.unit, "dBFS");
    assert!((r.rms_db - want).abs() < 0.01, "{}", r.rms_db);
    assert!((r.peak_db - want).abs() < 0.01, "{}", r.peak_db);
}

#[test]
fn a_one_percent_thd_signal_reads_one_percent() {
    // 0.8 % second and 0.6 % third harmonic: 1.00 % in all.
    let tones = [
        (1000.0, 0.0),
        (2000.0, dbu(0.008 * 0.774_596_669)),
        (3000.0, dbu(0.006 * 0.774_596_669)),
    ];
    let m = metered(&tones, vec![], "line", 1.5);
    let t = m.thd(1000.0) * 100.0;
    eprintln!("synthetic 1 % THD reads {t:.4} %");
    assert!((t - 1.0).abs() < 0.01, "{t} %");
    // A pure tone reads (almost) nothing.
    let m = metered(&[(1000.0, 0.0)], vec![], "line", 1.5);
    assert!(m.thd(1000.0) * 100.0 < 0.001);
}

#[test]
fn a_weighting_reads_iec_61672() {
    for (f, want) in [
        (1000.0, 0.0),
        (100.0, -19.1),
        (10_000.0, -2.5),
        (50.0, -30.3),
    ] {
        let flat = metered(&[(f, 0.0)], vec![], "line", 1.0).reading();
        let a = metered(&[(f, 0.0)], vec![("weighting", "a".into())], "line", 1.0).reading();
        assert!(a.weighted && !flat.weighted);
        let d = a.rms_db - flat.rms_db;
        eprintln!("A-weighting at {f} Hz: {d:.3} dB");
        assert!((d - want).abs() < 0.1, "{f} Hz: {d}");
    }
}

#[test]
fn true_peak_sees_between_the_samples() {
    // fs/6: the samples land at most at sin 60°, 1.25 dB under the real peak.
    // (The tone's abrupt start really does overshoot between samples, so the
    // holds are cleared once it has settled.)
    let p = patch(
        &[
            ("gen", "tone", vec![("freq_hz", 8000.0.into())]),
            ("m", "meter", vec![]),
        ],
        &[("gen.out", "m.in")],
    );
    let mut e = engine(&p);
    render_offline(&mut e, 12_000, 128);
    let m = e.probe::<MeterProbe>("m").expect("probe");
    m.take();
    render_offline(&mut e, 12_000, 128);
    let r = m.reading();
    eprintln!(
        "8 kHz: rms {:.3}, sample peak {:.3}, true peak {:.3} dBu",
        r.rms_db, r.peak_db, r.true_peak_db
    );
    assert!((r.peak_db - r.rms_db + 1.25).abs() < 0.05, "{}", r.peak_db);
    assert!(
        (r.true_peak_db - r.rms_db).abs() < 0.1,
        "{}",
        r.true_peak_db
    );
}

#[test]
fn passes_through_exactly_and_never_allocates() {
    for kind in ["meter", "scope", "spectrum"] {
        for weighting in ["none", "a"] {
            let (params, mut p) = build(kind, &[("weighting", weighting.into())]);
            let values: Vec<f64> = params.values().iter().map(|v| v.as_f64()).collect();
            let mut x = sine(997.0, 1.0, 128 * 50);
            x[77] = f32::NAN;
            let mut out = vec![0.0f32; x.len()];
            assert_no_alloc::assert_no_alloc(|| {
                for (round, (i, o)) in x.chunks(128).zip(out.chunks_mut(128)).enumerate() {
                    let ctx = ProcessContext {
                        sample_rate: SR,
                        frames: 128,
                        time: (round * 128) as u64,
                    };
                    let ins: [&[f32]; 1] = [i];
                    let mut os: [&mut [f32]; 1] = [o];
                    p.process(&ctx, &ins, &mut os);
                    for (k, v) in values.iter().enumerate() {
                        p.set_param(k, *v);
                    }
                }
            });
            x[77] = 0.0;
            assert_eq!(out, x, "{kind}, weighting {weighting}");
        }
    }
}

#[test]
fn peaks_hold_until_taken() {
    let m = metered(&[(1000.0, 10.0)], vec![], "line", 0.2);
    let first = m.take();
    assert!((first.peak_db - 10.0).abs() < 0.02, "{}", first.peak_db);
    let after = m.reading();
    assert_eq!(after.peak, 0.0);
    assert!(after.rms > 0.0);
}
