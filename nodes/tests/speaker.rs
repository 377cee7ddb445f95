//! `speaker` on the bench: the impedance the amplifier sees (Thiele–Small)
//! and the pressure it makes at 1 m (NODES.md "speaker").

mod support;
use ohmpatch_engine::Impedance;
use ohmpatch_nodes::kinds::speaker::Driver;
use ohmpatch_patch::Value;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

fn driver(given: &[(&str, Value)]) -> (Driver, Impedance) {
    let reg = ohmpatch_nodes::registry();
    let kind = reg.get("speaker").unwrap();
    let params = params_of(kind, given);
    let z = kind.electrical(&params)[0].impedance.clone();
    (Driver::from_params(&params), z)
}

/// SPL at 1 m for a sine of `volts` rms at `freq` across the terminals.
fn spl(given: &[(&str, Value)], volts: f64, freq: f64) -> f64 {
    let (_, mut p) = build("speaker", given);
    let n = 48_000;
    let x = sine(freq, volts, n);
    let y = run(p.as_mut(), Some(&x), n);
    db(tone_level(&y[24_000..], SR, freq) / 20e-6)
}

#[test]
fn impedance_peaks_at_fs_with_re_times_one_plus_qms_over_qes() {
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![("preset", "guitar_12in".into())],
        vec![("preset", "hifi_woofer".into())],
        vec![
            ("preset", "guitar_12in".into()),
            ("re_ohm", 7.2.into()),
            ("fs_hz", 100.0.into()),
            ("qes", 0.45.into()),
            ("qms", 6.0.into()),
            ("le_mh", 1.0.into()),
        ],
    ];
    for given in cases {
        let (d, z) = driver(&given);
        assert!(matches!(z, Impedance::Rational { .. }));
        // Scan 10 Hz–1 kHz in 0.05 % steps.
        let (mut f, mut peak, mut f_peak) = (10.0, 0.0, 0.0);
        while f < 1000.0 {
            let m = z.magnitude(f);
            if m > peak {
                peak = m;
                f_peak = f;
            }
            f *= 1.0005;
        }
        let expect = d.re_ohm * (1.0 + d.qms / d.qes);
        eprintln!(
            "{given:?}: |Z| peak {peak:.3} Ω at {f_peak:.2} Hz (expected {expect:.3} Ω at {} Hz)",
            d.fs_hz
        );
        assert!(
            (peak / expect - 1.0).abs() < 0.01,
            "peak {peak:.3} vs {expect:.3}"
        );
        assert!(
            (f_peak / d.fs_hz - 1.0).abs() < 0.01,
            "at {f_peak:.2} vs {}",
            d.fs_hz
        );
        // The minimum above fs, before the voice coil's inductance takes over.
        let (mut f, mut min) = (d.fs_hz, f64::INFINITY);
        while f < 20_000.0 {
            min = min.min(z.magnitude(f));
            f *= 1.001;
        }
        eprintln!("   minimum above fs {min:.3} Ω = {:.3}·Re", min / d.re_ohm);
        assert!(
            min <= 1.1 * d.re_ohm,
            "minimum {min:.3} Ω vs Re {}",
            d.re_ohm
        );
    }
}

#[test]
fn resistor_8_is_an_8_ohm_resistor() {
    let (_, z) = driver(&[("preset", "resistor_8".into())]);
    assert_eq!(z, Impedance::Ohms(8.0));
    let (_, z) = driver(&[("preset", "resistor_8".into()), ("re_ohm", 4.0.into())]);
    assert_eq!(z, Impedance::Ohms(4.0));
}

#[test]
fn explicit_params_override_the_preset() {
    let (d, _) = driver(&[("preset", "guitar_12in".into()), ("fs_hz", 100.0.into())]);
    assert_eq!((d.fs_hz, d.re_ohm, d.qes), (100.0, 6.4, 0.6));
}

#[test]
fn two_point_eight_three_volts_gives_the_rated_sensitivity_at_1_khz() {
    let v = 8f64.sqrt();
    let cases: Vec<(Vec<(&str, Value)>, f64)> = vec![
        (vec![("preset", "resistor_8".into())], 90.0),
        (
            vec![("preset", "guitar_12in".into()), ("re_ohm", 8.0.into())],
            100.0,
        ),
        (vec![("preset", "guitar_12in".into())], 100.0),
        (
            vec![
                ("preset", "hifi_woofer".into()),
                ("sensitivity_db_spl", 91.0.into()),
            ],
            91.0,
        ),
    ];
    for (given, rated) in cases {
        let got = spl(&given, v, 1000.0);
        eprintln!("{given:?}: 2.83 V at 1 kHz → {got:.3} dB SPL (rated {rated})");
        assert!((got - rated).abs() < 0.2, "{got:.3} vs {rated}");
        // Level follows 10·log10(P): 1/10 the power, 10 dB less.
        let quieter = spl(&given, v / 10f64.sqrt(), 1000.0);
        assert!((got - quieter - 10.0).abs() < 0.05);
    }
}

#[test]
fn a_0_ohm_source_into_an_8_ohm_driver_through_the_engine_gives_the_rating() {
    // tone (speaker level, 0 Ω) → speaker → output (as a pascal meter).
    let p = patch(
        &[
            (
                "src",
                "tone",
                vec![
                    ("domain", "speaker".into()),
                    (
                        "level_dbu",
                        ohmpatch_engine::dsp::v_to_dbu(8f64.sqrt()).into(),
                    ),
                ],
            ),
            (
                "spk",
                "speaker",
                vec![("preset", "guitar_12in".into()), ("re_ohm", 8.0.into())],
            ),
            ("out", "output", voltmeter()),
        ],
        &[("src.out", "spk.in"), ("spk.out", "out.in")],
    );
    let ch = render(&p, 48_000);
    let pa = volts(&ch[0]);
    let got = db(tone_level(&pa[24_000..], SR, 1000.0) / 20e-6);
    eprintln!("engine: 2.83 V, 0 Ω → guitar_12in (Re 8 Ω): {got:.3} dB SPL");
    assert!((got - 100.0).abs() < 0.2, "{got:.3}");
}

#[test]
fn the_response_is_a_high_pass_at_fs_and_the_guitar_cone_rolls_off_above_5_khz() {
    let g = [("preset", Value::from("guitar_12in"))];
    let v = 8f64.sqrt();
    let at = |f: f64| spl(&g, v, f) - 100.0;
    let (bass, fs, presence, top) = (at(40.0), at(78.0), at(3500.0), at(8000.0));
    eprintln!(
        "guitar_12in re 1 kHz: 40 Hz {bass:+.1}, 78 Hz {fs:+.1}, 3.5 kHz {presence:+.1}, 8 kHz {top:+.1} dB"
    );
    // Second-order high-pass with Qts = 0.52: about −5.7 dB at fs, and at
    // 40 Hz (x = f/fs = 0.51) x²/√((1−x²)² + (x/Q)²) = −13.4 dB, 7.7 dB
    // below fs (the −12 dB/oct asymptote is reached only further down).
    assert!((-8.0..-4.0).contains(&fs), "{fs}");
    assert!((bass - fs + 7.7).abs() < 0.5, "{bass}");
    assert!(presence > 1.0, "{presence}");
    assert!(top < -15.0, "{top}");
    // The resistor is flat.
    let r = [("preset", Value::from("resistor_8"))];
    for f in [40.0, 10_000.0] {
        assert!((spl(&r, v, f) - 90.0).abs() < 0.05);
    }
}

#[test]
fn bad_input_does_not_stick() {
    let (_, mut p) = build("speaker", &[]);
    let mut x = sine(1000.0, 1.0, 24_000);
    x[10] = f32::NAN;
    let y = run(p.as_mut(), Some(&x), 24_000);
    assert!(y.iter().all(|v| v.is_finite()));
    assert!(tone_level(&y[12_000..], SR, 1000.0) > 0.1);
}

#[test]
fn check_predicts_the_spl_the_engine_renders() {
    for preset in ["resistor_8", "guitar_12in", "hifi_woofer"] {
        let p = patch(
            &[
                (
                    "src",
                    "tone",
                    vec![("domain", "speaker".into()), ("level_dbu", 20.0.into())],
                ),
                ("spk", "speaker", vec![("preset", preset.into())]),
                ("out", "output", voltmeter()),
            ],
            &[("src.out", "spk.in"), ("spk.out", "out.in")],
        );
        let a = analysis_of(&p);
        let predicted = wire_report(&a, "spk.out").levels.signal_db;
        let pa = volts(&render(&p, 24_000)[0]);
        let measured = db(tone_level(&pa[12_000..], SR, 1000.0) / 20e-6);
        eprintln!("{preset}: check {predicted:.2} dB SPL, render {measured:.2} dB SPL");
        assert!(
            (predicted - measured).abs() < 0.1,
            "{preset}: {predicted:.2} vs {measured:.2}"
        );
    }
}

#[test]
fn the_audio_thread_half_never_allocates() {
    for preset in ["resistor_8", "guitar_12in", "hifi_woofer"] {
        assert_realtime_safe("speaker", &[("preset", preset.into())], true);
    }
}
