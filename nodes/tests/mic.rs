//! `mic` on the bench: sensitivity, inverse-distance law and delay, polar
//! pattern, proximity effect, model response and self-noise (NODES.md "mic").

mod support;
use ohmpatch_engine::Impedance;
use ohmpatch_nodes::kinds::mic::{INTERPOLATOR_LATENCY, SPEED_OF_SOUND};
use ohmpatch_patch::Value;
use std::f64::consts::PI;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// Output level (dBV) of a mic for a sine of 1 Pa rms at `freq` at 1 m from the source.
fn level_dbv(params: &[(&str, Value)], freq: f64) -> f64 {
    let (_, mut p) = build("mic", params);
    let n = 48_000;
    let x = sine(freq, 1.0, n);
    let y = run(p.as_mut(), Some(&x), n);
    db(tone_level(&y[9_600..], SR, freq))
}

/// |1 + 1/(2·j·k·r)|: the on-axis cardioid proximity term.
fn proximity_db(freq: f64, r: f64) -> f64 {
    let kr = 2.0 * PI * freq / SPEED_OF_SOUND * r;
    db((1.0 + 1.0 / (2.0 * kr).powi(2)).sqrt())
}

#[test]
fn one_pascal_at_1_khz_on_axis_gives_the_sensitivity() {
    for (model, s) in [
        ("ideal", -56.0),
        ("dynamic_57", -56.0),
        ("condenser", -40.0),
    ] {
        let got = level_dbv(
            &[("model", model.into()), ("distance_m", 1.0.into())],
            1000.0,
        );
        // At 1 m and 1 kHz (kr = 18) the proximity term is +0.003 dB for the cardioids.
        let expect = s + if model == "ideal" {
            0.0
        } else {
            proximity_db(1000.0, 1.0)
        };
        eprintln!("{model}: 1 Pa at 1 kHz → {got:.3} dBV (expected {expect:.3})");
        assert!((got - expect).abs() < 0.1, "{model}: {got:.3} dBV");
        assert!((got - s).abs() < 0.1, "{model}: {got:.3} dBV");
    }
    // An explicit sensitivity overrides the model's.
    let got = level_dbv(
        &[
            ("model", "ideal".into()),
            ("sensitivity_dbv_pa", (-45.0).into()),
        ],
        1000.0,
    );
    assert!((got + 45.0).abs() < 0.1, "{got}");
}

#[test]
fn doubling_the_distance_drops_6_02_db() {
    for model in ["ideal", "dynamic_57"] {
        for r in [0.5, 1.0, 2.0] {
            let near = level_dbv(&[("model", model.into()), ("distance_m", r.into())], 1000.0);
            let far = level_dbv(
                &[("model", model.into()), ("distance_m", (2.0 * r).into())],
                1000.0,
            );
            eprintln!("{model}: {r} m → {} m: {:.3} dB", 2.0 * r, far - near);
            assert!(
                (far - near + 6.02).abs() < 0.1,
                "{model} {r} m: {:.3} dB",
                far - near
            );
        }
    }
}

#[test]
fn the_delay_is_distance_over_343_as_a_fractional_delay() {
    // 100 Hz: its period (480 samples) is longer than any delay tested here.
    let f = 100.0;
    for r in [0.025, 0.3, 1.0] {
        let (_, mut p) = build(
            "mic",
            &[("model", "ideal".into()), ("distance_m", r.into())],
        );
        let n = 48_000;
        let x = sine(f, 1.0, n);
        let y = run(p.as_mut(), Some(&x), n);
        let (_, ph_in) = tone_phasor(&x[9_600..], SR, f);
        let (_, ph_out) = tone_phasor(&y[9_600..], SR, f);
        let lag = (ph_in - ph_out).rem_euclid(2.0 * PI) / (2.0 * PI) * SR / f;
        let expect = r / SPEED_OF_SOUND * SR + INTERPOLATOR_LATENCY as f64;
        eprintln!(
            "{r} m: delay {lag:.3} samples (expected {expect:.3}, of which {INTERPOLATOR_LATENCY} latency)"
        );
        assert!(
            (lag - expect).abs() < 0.1,
            "{r} m: {lag:.3} vs {expect:.3} samples"
        );
    }
}

#[test]
fn ninety_degrees_off_axis_is_6_db_down_for_the_cardioids() {
    for model in ["dynamic_57", "condenser"] {
        let on = level_dbv(
            &[("model", model.into()), ("angle_deg", 0.0.into())],
            1000.0,
        );
        let side = level_dbv(
            &[("model", model.into()), ("angle_deg", 90.0.into())],
            1000.0,
        );
        eprintln!("{model}: 90° → {:.3} dB", side - on);
        assert!(
            (side - on + 6.0).abs() < 0.2,
            "{model}: {:.3} dB",
            side - on
        );
    }
    // The omni ideal model ignores the angle.
    let on = level_dbv(&[("model", "ideal".into())], 1000.0);
    let side = level_dbv(
        &[("model", "ideal".into()), ("angle_deg", 90.0.into())],
        1000.0,
    );
    assert!((side - on).abs() < 0.01);
}

#[test]
fn proximity_effect_lifts_the_bass_on_axis_only() {
    // Level normalised by distance (× r), close (2.5 cm) against far (3 m):
    // the model's own response cancels, leaving the proximity terms.
    let norm = |r: f64, f: f64, angle: f64| {
        level_dbv(
            &[
                ("model", "dynamic_57".into()),
                ("distance_m", r.into()),
                ("angle_deg", angle.into()),
            ],
            f,
        ) + db(r)
    };
    for f in [100.0, 300.0, 1000.0] {
        let lift = norm(0.025, f, 0.0) - norm(3.0, f, 0.0);
        let expect = proximity_db(f, 0.025) - proximity_db(f, 3.0);
        eprintln!("proximity at 2.5 cm, {f} Hz: {lift:+.2} dB (expected {expect:+.2})");
        assert!(
            (lift - expect).abs() < 0.3,
            "{f} Hz: {lift:.2} vs {expect:.2}"
        );
    }
    // 100 Hz re 1 kHz at 2.5 cm, as in NODES.md: the corner is c/(4πr) ≈ 1.09 kHz.
    let ratio = (norm(0.025, 100.0, 0.0) - norm(0.025, 1000.0, 0.0))
        - (norm(3.0, 100.0, 0.0) - norm(3.0, 1000.0, 0.0));
    let expect = proximity_db(100.0, 0.025) - proximity_db(1000.0, 0.025);
    assert!((ratio - expect).abs() < 0.3, "{ratio:.2} vs {expect:.2}");
    // At 90° the gradient part is gone, and with it the proximity effect.
    let side = norm(0.025, 100.0, 90.0) - norm(3.0, 100.0, 90.0);
    assert!(side.abs() < 0.3, "{side:.2}");
}

#[test]
fn dynamic_57_has_a_low_cut_and_a_presence_rise_and_ideal_is_flat() {
    let far =
        |model: &str, f: f64| level_dbv(&[("model", model.into()), ("distance_m", 3.0.into())], f);
    let ref57 = far("dynamic_57", 1000.0);
    let presence = far("dynamic_57", 5500.0) - ref57;
    let bass = far("dynamic_57", 60.0) - ref57;
    eprintln!("dynamic_57 far field: 5.5 kHz {presence:+.2} dB, 60 Hz {bass:+.2} dB re 1 kHz");
    assert!(presence > 3.0, "presence {presence:.2} dB");
    assert!(bass < -6.0, "bass {bass:.2} dB");
    let flat = far("ideal", 1000.0);
    for f in [50.0, 10_000.0, 16_000.0, 19_000.0] {
        let d = far("ideal", f) - flat;
        eprintln!("ideal at {f} Hz: {d:+.3} dB");
        assert!(d.abs() < 0.1, "ideal at {f} Hz: {d:.3} dB");
    }
}

#[test]
fn condenser_self_noise_is_its_equivalent_spl_times_the_sensitivity() {
    let (_, mut p) = build("mic", &[("model", "condenser".into())]);
    let y = run(p.as_mut(), None, 1 << 18);
    let got = db(band_rms(&y, SR, 20.0, 20_000.0));
    // 17 dB SPL (141.6 µPa) at −40 dBV/Pa.
    let expect = db(20e-6 * 10f64.powf(17.0 / 20.0)) - 40.0;
    eprintln!("condenser self-noise: {got:.2} dBV (expected {expect:.2})");
    assert!((got - expect).abs() < 0.5, "{got:.2} vs {expect:.2}");
    // Switched off, there is none.
    let (_, mut p) = build(
        "mic",
        &[
            ("model", "condenser".into()),
            ("self_noise_db_spl", (-1.0).into()),
        ],
    );
    let y = run(p.as_mut(), None, 4096);
    assert!(rms(&y) == 0.0);
}

#[test]
fn the_output_impedance_follows_the_model_and_loads_through_the_engine() {
    let reg = ohmpatch_nodes::registry();
    let kind = reg.get("mic").unwrap();
    let z = |given: &[(&str, Value)]| {
        kind.electrical(&params_of(kind, given))[1]
            .impedance
            .clone()
    };
    assert_eq!(z(&[]), Impedance::Ohms(310.0));
    assert_eq!(z(&[("model", "condenser".into())]), Impedance::Ohms(200.0));
    assert_eq!(z(&[("model", "ideal".into())]), Impedance::None);
    assert_eq!(z(&[("z_out_ohm", 150.0.into())]), Impedance::Ohms(150.0));

    // 310 Ω into a 1.2 kΩ input loses 2.0 dB (NODES.md "preamp").
    let p = patch(
        &[
            (
                "src",
                "tone",
                vec![
                    ("domain", "acoustic".into()),
                    ("level_db_spl", 93.979_400_086_720_37.into()),
                ],
            ),
            ("mic", "mic", vec![]),
            (
                "out",
                "output",
                vec![("limiter", false.into()), ("z_in_ohm", 1200.0.into())],
            ),
        ],
        &[("src.out", "mic.in"), ("mic.out", "out.in")],
    );
    let ch = render(&p, 24_000);
    let fs = ohmpatch_nodes::kinds::output::full_scale_peak_v(18.0);
    let v: Vec<f32> = ch[0].iter().map(|s| s * fs as f32).collect();
    let got = db(tone_level(&v[4_800..], SR, 1000.0));
    let expect = -56.0 + db(1200.0 / 1510.0) + proximity_db(1000.0, 1.0);
    eprintln!("dynamic_57 into 1.2 kΩ: {got:.3} dBV (expected {expect:.3})");
    assert!((got - expect).abs() < 0.1, "{got:.3} vs {expect:.3}");
}

#[test]
fn bad_input_does_not_stick() {
    let (_, mut p) = build(
        "mic",
        &[("model", "dynamic_57".into()), ("distance_m", 0.05.into())],
    );
    let mut x = sine(1000.0, 1.0, 24_000);
    x[100] = f32::NAN;
    x[200] = f32::INFINITY;
    let y = run(p.as_mut(), Some(&x), 24_000);
    assert!(y.iter().all(|v| v.is_finite()));
    assert!(tone_level(&y[12_000..], SR, 1000.0) > 0.0);
}

#[test]
fn moving_the_mic_while_it_runs_glides_to_the_new_level() {
    let (_, mut p) = build(
        "mic",
        &[("model", "ideal".into()), ("distance_m", 1.0.into())],
    );
    let x = sine(1000.0, 1.0, 48_000);
    let a = run(p.as_mut(), Some(&x[..24_000]), 24_000);
    // distance_m is param 3; a realtime change, smoothed (30 ms).
    p.set_param(3, 0.1);
    let b = run(p.as_mut(), Some(&x[24_000..]), 24_000);
    assert!(a.iter().chain(&b).all(|v| v.is_finite()));
    let step = db(tone_level(&b[12_000..], SR, 1000.0)) - db(tone_level(&a[12_000..], SR, 1000.0));
    assert!((step - 20.0).abs() < 0.05, "{step:.3} dB");
}

#[test]
fn check_predicts_the_mic_level_the_engine_renders() {
    for (model, r, angle) in [
        ("dynamic_57", 0.05, 0.0),
        ("condenser", 0.3, 45.0),
        ("ideal", 2.0, 0.0),
    ] {
        let p = patch(
            &[
                (
                    "src",
                    "tone",
                    vec![
                        ("domain", "acoustic".into()),
                        ("level_db_spl", 100.0.into()),
                    ],
                ),
                (
                    "mic",
                    "mic",
                    vec![
                        ("model", model.into()),
                        ("distance_m", r.into()),
                        ("angle_deg", angle.into()),
                    ],
                ),
                ("out", "output", vec![("limiter", false.into())]),
            ],
            &[("src.out", "mic.in"), ("mic.out", "out.in")],
        );
        let a = analysis_of(&p);
        let predicted = wire_report(&a, "mic.out").levels.signal_db;
        let fs = ohmpatch_nodes::kinds::output::full_scale_peak_v(18.0) as f32;
        let v: Vec<f32> = render(&p, 24_000)[0].iter().map(|s| s * fs).collect();
        let measured = dbu(tone_level(&v[4_800..], SR, 1000.0));
        eprintln!("{model} at {r} m, {angle}°: check {predicted:.2} dBu, render {measured:.2} dBu");
        assert!(
            (predicted - measured).abs() < 0.1,
            "{model}: {predicted:.2} vs {measured:.2}"
        );
    }
}

#[test]
fn the_audio_thread_half_never_allocates() {
    for model in ["dynamic_57", "condenser", "ideal"] {
        assert_realtime_safe("mic", &[("model", model.into())], true);
    }
}
