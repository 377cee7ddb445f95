//! `preamp` on the bench: gain and input loading through the engine, noise
//! (EIN + gain), distortion of both models, aliasing with oversampling,
//! latency and audio-thread safety.

mod support;

use ohmpatch_engine::ProcessContext;
use ohmpatch_nodes::measure::{Window, band_rms, power_spectrum, rms, thd, tone_level};
use ohmpatch_patch::Value;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// tone (level, source impedance) → preamp → 10 MΩ voltmeter; the output's rms
/// at 1 kHz in dBu, and the render.
fn bench(
    tone_dbu: f64,
    z_source: f64,
    pre: Vec<(&'static str, Value)>,
    seconds: f64,
) -> (f64, Vec<f32>) {
    let p = patch(
        &[
            (
                "gen",
                "tone",
                vec![
                    ("freq_hz", 1000.0.into()),
                    ("level_dbu", tone_dbu.into()),
                    ("z_out_ohm", z_source.into()),
                ],
            ),
            ("pre", "preamp", pre),
            ("vm", "output", voltmeter()),
        ],
        &[("gen.out", "pre.in"), ("pre.out", "vm.in")],
    );
    let out = render(&p, (seconds * SR) as usize);
    let v = volts(&out[0]);
    // Half a second of whole periods, after the filters and smoothers settled.
    let level = dbu(tone_level(&v[24_000..48_000], SR, 1000.0));
    (level, v)
}

#[test]
fn forty_db_of_gain_from_an_ideal_source() {
    let (level, _) = bench(-50.0, 0.0, vec![("gain_db", 40.0.into())], 1.0);
    eprintln!("−50 dBu, 0 Ω, 40 dB → {level:.3} dBu");
    assert!((level + 10.0).abs() < 0.1, "{level}");
}

#[test]
fn a_150_ohm_source_loses_1_02_db_into_1k2() {
    let (level, _) = bench(
        -50.0,
        150.0,
        vec![("gain_db", 40.0.into()), ("z_in_ohm", 1200.0.into())],
        1.0,
    );
    eprintln!("−50 dBu, 150 Ω into 1.2 kΩ, 40 dB → {level:.3} dBu");
    assert!((level + 11.02).abs() < 0.1, "{level}");
    // An SM57's 310 Ω into the same input loses 2.0 dB; a 10 kΩ input barely loads it.
    let (l310, _) = bench(-50.0, 310.0, vec![("gain_db", 40.0.into())], 1.0);
    assert!((l310 + 12.0).abs() < 0.1, "{l310}");
    let (l10k, _) = bench(
        -50.0,
        150.0,
        vec![("gain_db", 40.0.into()), ("z_in_ohm", 10_000.0.into())],
        1.0,
    );
    assert!((l10k + 10.13).abs() < 0.1, "{l10k}");
}

#[test]
fn tube_model_keeps_its_small_signal_gain() {
    let (level, _) = bench(
        -50.0,
        0.0,
        vec![("gain_db", 40.0.into()), ("model", "tube_12ax7".into())],
        1.0,
    );
    eprintln!("tube: −50 dBu, 40 dB → {level:.3} dBu");
    assert!((level + 10.0).abs() < 0.1, "{level}");
}

/// Output noise of an idle preamp over 20 Hz–20 kHz, in dBu.
fn idle_noise(pre: Vec<(&'static str, Value)>) -> f64 {
    let p = patch(
        &[("pre", "preamp", pre), ("vm", "output", voltmeter())],
        &[("pre.out", "vm.in")],
    );
    let v = volts(&render(&p, 2 * SR as usize)[0]);
    dbu(band_rms(&v[4800..], SR, 20.0, 20_000.0))
}

#[test]
fn output_noise_is_ein_plus_gain() {
    let n = idle_noise(vec![("gain_db", 60.0.into()), ("ein_dbu", (-128.0).into())]);
    eprintln!("60 dB, EIN −128 dBu → output noise {n:.2} dBu (20 Hz–20 kHz)");
    assert!((n + 68.0).abs() < 0.5, "{n}");
    // EIN moves it one for one; the pad sits before the noise and does not.
    let worse = idle_noise(vec![("gain_db", 60.0.into()), ("ein_dbu", (-118.0).into())]);
    assert!((worse - n - 10.0).abs() < 0.3, "{worse} vs {n}");
    let padded = idle_noise(vec![("gain_db", 60.0.into()), ("pad_db", 20.0.into())]);
    assert!((padded - n).abs() < 0.3, "{padded} vs {n}");
    // The tube model has the same input noise.
    let tube = idle_noise(vec![
        ("gain_db", 60.0.into()),
        ("model", "tube_12ax7".into()),
    ]);
    assert!((tube + 68.0).abs() < 0.5, "{tube}");
}

#[test]
fn check_agrees_with_the_render() {
    let p = patch(
        &[
            (
                "gen",
                "tone",
                vec![("level_dbu", (-50.0).into()), ("z_out_ohm", 150.0.into())],
            ),
            ("pre", "preamp", vec![("gain_db", 40.0.into())]),
            ("vm", "output", voltmeter()),
        ],
        &[("gen.out", "pre.in"), ("pre.out", "vm.in")],
    );
    let reg = ohmpatch_nodes::registry();
    let s = ohmpatch_engine::compile(&p, &reg, SR, &Default::default()).expect("compiles");
    let a = ohmpatch_engine::analysis::analyze(&s, &reg, SR, 1000.0);
    let w = a
        .wires
        .iter()
        .find(|w| w.from.to_string() == "pre.out")
        .expect("wire");
    assert!((w.levels.signal_db + 11.02).abs() < 0.02, "{:?}", w.levels);
    assert!((w.levels.noise_db + 88.0).abs() < 0.01, "{:?}", w.levels);
    assert!(
        (w.levels.headroom_db - 35.02).abs() < 0.02,
        "{:?}",
        w.levels
    );
}

/// A settled second of a processor's output for a sine input.
fn drive(pre: &[(&str, Value)], freq: f64, in_dbu: f64) -> Vec<f32> {
    let (_, mut p) = build("preamp", pre);
    let x = sine(freq, ohmpatch_engine::dsp::dbu_to_v(in_dbu), 96_000);
    support::drive(p.as_mut(), &x)[48_000..].to_vec()
}

#[test]
fn clean_model_well_below_clip_adds_no_distortion() {
    // −10 dBu out (34 dB below clip) and +20 dBu out (4 dB below clip).
    for in_dbu in [-50.0, -20.0] {
        let y = drive(&[("gain_db", 40.0.into())], 1000.0, in_dbu);
        let t = thd(&y, SR, 1000.0, 10) * 100.0;
        eprintln!("clean, {in_dbu} dBu in, 40 dB: THD {t:.5} %");
        assert!(t < 0.01, "{t} %");
    }
    // Driven 6 dB past clip it does distort, so the measurement can see it.
    let y = drive(&[("gain_db", 40.0.into())], 1000.0, -10.0);
    let t = thd(&y, SR, 1000.0, 10) * 100.0;
    assert!(t > 1.0, "{t} %");
    // And the rail holds: nothing above the peak of a +24 dBu sine.
    let rail = ohmpatch_engine::dsp::dbu_to_v(24.0) * 2f64.sqrt();
    let peak = y.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
    assert!(peak <= rail * 1.02, "{peak} > {rail}");
}

#[test]
fn tube_is_mostly_second_harmonic_then_third_when_clipping() {
    let tube = |gain: f64| -> (f64, f64, f64) {
        let y = drive(
            &[("model", "tube_12ax7".into()), ("gain_db", gain.into())],
            1000.0,
            -10.0,
        );
        let h1 = tone_level(&y, SR, 1000.0);
        (
            db(tone_level(&y, SR, 2000.0) / h1),
            db(tone_level(&y, SR, 3000.0) / h1),
            thd(&y, SR, 1000.0, 10) * 100.0,
        )
    };
    // A −10 dBu guitar: moderate drive at 25 dB, clipping hard at 50 dB.
    let (h2, h3, t) = tube(25.0);
    eprintln!("tube, moderate: H2 {h2:.1} dB, H3 {h3:.1} dB, THD {t:.2} %");
    assert!(h2 > h3 + 6.0, "moderate drive: H2 {h2} vs H3 {h3}");
    assert!(t > 0.3 && t < 10.0, "{t} %");
    let (h2, h3, t) = tube(50.0);
    eprintln!("tube, hard: H2 {h2:.1} dB, H3 {h3:.1} dB, THD {t:.2} %");
    assert!(h3 > h2, "hard drive: H2 {h2} vs H3 {h3}");
    assert!(t > 10.0, "{t} %");
    // The clean model at the same moderate setting stays clean.
    let y = drive(&[("gain_db", 25.0.into())], 1000.0, -10.0);
    assert!(thd(&y, SR, 1000.0, 10) < 1e-4);
}

/// Signal-to-aliasing ratio (dB) of an output driven by a 5 kHz sine: power
/// on the harmonic series (5, 10, 15, 20 kHz) over the power everywhere else
/// from 20 Hz to 24 kHz.
fn sar(y: &[f32]) -> f64 {
    let (ps, df) = power_spectrum(y, SR, Window::Hann);
    let (mut harm, mut other) = (0.0, 0.0);
    for (k, p) in ps.iter().enumerate() {
        let f = k as f64 * df;
        if f < 20.0 {
            continue;
        }
        let off = (f / 5000.0 - (f / 5000.0).round()).abs() * 5000.0;
        if off <= 2.0 * df {
            harm += p;
        } else {
            other += p;
        }
    }
    10.0 * (harm / other).log10()
}

#[test]
fn overdriven_5k_sine_aliases_60_db_down() {
    // 40 dB of gain on +4 dBu: 20 dB past the +24 dBu clip level.
    for model in ["clean", "tube_12ax7"] {
        let y = drive(
            &[("gain_db", 40.0.into()), ("model", model.into())],
            5000.0,
            4.0,
        );
        let s = sar(&y);
        let t = thd(&y, SR, 5000.0, 10) * 100.0;
        eprintln!("{model}, 5 kHz 20 dB over clip, 4×: SAR {s:.1} dB (THD {t:.1} %)");
        assert!(t > 5.0, "{model} is not overdriven: THD {t} %");
        assert!(s >= 60.0, "{model}: aliasing only {s:.1} dB down");
    }
    // Without oversampling the same drive aliases badly: the test can see it.
    let y = drive(
        &[("gain_db", 40.0.into()), ("oversample", 1.0.into())],
        5000.0,
        4.0,
    );
    let s = sar(&y);
    eprintln!("clean, 1×: SAR {s:.1} dB");
    assert!(s < 40.0, "{s}");
}

#[test]
fn latency_is_reported_and_true() {
    for (os, expect) in [(1.0, 0), (2.0, 79), (3.0, 87), (4.0, 87), (8.0, 90)] {
        let (_, mut p) = build(
            "preamp",
            &[
                ("gain_db", 0.0.into()),
                ("oversample", os.into()),
                ("ein_dbu", (-140.0).into()),
            ],
        );
        assert_eq!(p.latency(), expect, "oversample {os}");
        let mut x = vec![0.0f32; 512];
        x[10] = 0.5;
        let y = support::drive(p.as_mut(), &x);
        let peak = (0..y.len())
            .max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs()))
            .unwrap();
        assert_eq!(peak, 10 + expect, "oversample {os}");
    }
}

#[test]
fn renders_repeat_and_bad_samples_do_not_stick() {
    let pre = [("gain_db", 60.0.into()), ("model", "tube_12ax7".into())];
    let x = sine(440.0, 0.01, 4800);
    let a = support::drive(build("preamp", &pre).1.as_mut(), &x);
    let b = support::drive(build("preamp", &pre).1.as_mut(), &x);
    assert_eq!(a, b);
    for model in ["clean", "tube_12ax7"] {
        let (_, mut p) = build("preamp", &[("model", model.into())]);
        let mut x = sine(440.0, 0.01, 4800);
        x[100] = f32::NAN;
        x[200] = f32::INFINITY;
        x[300] = 1e30;
        let y = support::drive(p.as_mut(), &x);
        assert!(y.iter().all(|v| v.is_finite()), "{model}");
        // Working again afterwards.
        assert!(rms(&y[2400..]) > 0.1, "{model}: {}", rms(&y[2400..]));
    }
}

#[test]
fn gain_changes_are_smooth_and_realtime_safe() {
    for model in ["clean", "tube_12ax7"] {
        let (params, mut p) = build("preamp", &[("model", model.into())]);
        let values: Vec<f64> = params.values().iter().map(|v| v.as_f64()).collect();
        let input = sine(997.0, 0.001, 200 * 128);
        let mut out = vec![0.0f32; 128];
        let mut prev = 0.0f32;
        let mut biggest_step = 0.0f32;
        assert_no_alloc::assert_no_alloc(|| {
            for round in 0..200u64 {
                let ctx = ProcessContext {
                    sample_rate: SR,
                    frames: 128,
                    time: round * 128,
                };
                if round == 100 {
                    // A jump from 40 to 60 dB of gain.
                    p.set_param(1, 60.0);
                }
                if round == 150 {
                    for (i, v) in values.iter().enumerate() {
                        p.set_param(i, *v);
                    }
                }
                let at = round as usize * 128;
                let ins: [&[f32]; 1] = [&input[at..at + 128]];
                let mut o: [&mut [f32]; 1] = [&mut out];
                p.process(&ctx, &ins, &mut o);
                for v in out.iter() {
                    biggest_step = biggest_step.max((v - prev).abs());
                    prev = *v;
                }
            }
        });
        assert!(out.iter().all(|v| v.is_finite()));
        // A 997 Hz sine of 1.41 V peak (60 dB on 1 mV) moves at most 0.19 V a
        // sample; a zipper or a click would jump further.
        assert!(biggest_step < 0.25, "{model}: step {biggest_step}");
    }
}
