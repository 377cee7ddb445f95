//! `power_amp` on the bench, through the engine so that the loading is the
//! engine's real one: gain, the damping factor against a speaker's Z(f),
//! residual noise, clipping (NODES.md "power_amp").

mod support;
use ohmpatch_engine::Impedance;
use ohmpatch_engine::dsp::{db_to_gain, dbu_to_v};
use ohmpatch_engine::impedance::C64;
use ohmpatch_nodes::kinds::power_amp::{clip_volts, noise_volts};
use ohmpatch_patch::Value;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

/// tone → amp → speaker, with a 10 MΩ voltmeter across the speaker
/// terminals. Returns the terminal voltage.
fn bench(
    tone: Vec<(&str, Value)>,
    amp: Vec<(&str, Value)>,
    spk: Vec<(&str, Value)>,
    frames: usize,
) -> Vec<f32> {
    let p = patch(
        &[
            ("src", "tone", tone),
            ("amp", "power_amp", amp),
            ("spk", "speaker", spk),
            ("v", "output", voltmeter()),
        ],
        &[
            ("src.out", "amp.in"),
            ("amp.out", "spk.in"),
            ("amp.out", "v.in"),
        ],
    );
    volts(&render(&p, frames)[0])
}

fn sine_in(freq: f64, dbu: f64) -> Vec<(&'static str, Value)> {
    vec![("freq_hz", freq.into()), ("level_dbu", dbu.into())]
}

/// The load the amp sees: the speaker's Z(f) in parallel with the voltmeter.
fn load(spk: &[(&str, Value)]) -> Impedance {
    let reg = ohmpatch_nodes::registry();
    let kind = reg.get("speaker").unwrap();
    let z = kind.electrical(&params_of(kind, spk))[0].impedance.clone();
    Impedance::parallel(&[z, Impedance::Ohms(1e7)])
}

/// |Z_L/(Z_L + Z_out)| in dB.
fn divider_db(zl: &Impedance, z_out: f64, f: f64) -> f64 {
    let z = zl.at(f).unwrap();
    db(z.div(z.add(C64::new(z_out, 0.0))).abs())
}

#[test]
fn p7000s_32_db_and_plus_8_dbu_give_77_5_volts_into_8_ohms() {
    let v = bench(
        sine_in(1000.0, 8.0),
        vec![
            ("gain_db", 32.0.into()),
            ("power_w", 750.0.into()),
            ("z_out_ohm", 0.0.into()),
        ],
        vec![("preset", "resistor_8".into())],
        24_000,
    );
    let got = rms(&v[12_000..]);
    eprintln!("+8 dBu, 32 dB, 750 W/8 Ω, Z_out 0 → {got:.3} V rms into 8 Ω");
    assert!((got / 77.5 - 1.0).abs() < 0.01, "{got} V");
}

#[test]
fn into_a_speaker_the_level_follows_the_impedance_divider() {
    let spk: Vec<(&str, Value)> = vec![("preset", "guitar_12in".into())];
    let zl = load(&spk);
    let input_dbu = -10.0;
    let open = dbu_to_v(input_dbu) * db_to_gain(32.0);
    for z_out in [8.0, 2.0, 0.05] {
        for f in [78.0, 1000.0, 10_000.0] {
            let v = bench(
                sine_in(f, input_dbu),
                vec![("z_out_ohm", z_out.into())],
                spk.clone(),
                72_000,
            );
            let got = db(tone_level(&v[24_000..], SR, f) / open);
            let expect = divider_db(&zl, z_out, f);
            eprintln!("Z_out {z_out} Ω, {f} Hz: {got:+.3} dB (|Z_L/(Z_L+Z_out)| {expect:+.3} dB)");
            assert!(
                (got - expect).abs() < 0.1,
                "Z_out {z_out}, {f} Hz: {got:.3} vs {expect:.3}"
            );
        }
    }
}

#[test]
fn the_damping_factor_shows_at_the_speakers_resonance() {
    let spk: Vec<(&str, Value)> = vec![("preset", "guitar_12in".into())];
    let level = |z_out: f64, f: f64| {
        let v = bench(
            sine_in(f, -10.0),
            vec![("z_out_ohm", z_out.into())],
            spk.clone(),
            72_000,
        );
        db(tone_level(&v[24_000..], SR, f))
    };
    let tube = level(8.0, 78.0) - level(8.0, 1000.0);
    let solid = level(0.05, 78.0) - level(0.05, 1000.0);
    eprintln!("fs re 1 kHz at the terminals: Z_out 8 Ω {tube:+.2} dB, 0.05 Ω {solid:+.3} dB");
    assert!(tube > 3.0, "{tube}");
    assert!(solid.abs() < 0.2, "{solid}");
}

#[test]
fn with_no_input_the_noise_is_the_snr_below_rated_output() {
    for (power, snr) in [(100.0, 100.0), (100.0, 80.0), (30.0, 90.0)] {
        let p = patch(
            &[
                (
                    "amp",
                    "power_amp",
                    vec![
                        ("power_w", power.into()),
                        ("snr_db", snr.into()),
                        ("z_out_ohm", 0.0.into()),
                    ],
                ),
                ("spk", "speaker", vec![("preset", "resistor_8".into())]),
                (
                    "v",
                    "output",
                    vec![("limiter", false.into()), ("z_in_ohm", 1e7.into())],
                ),
            ],
            &[("amp.out", "spk.in"), ("amp.out", "v.in")],
        );
        let fs = ohmpatch_nodes::kinds::output::full_scale_peak_v(18.0) as f32;
        let v: Vec<f32> = render(&p, 1 << 17)[0].iter().map(|s| s * fs).collect();
        let got = band_rms(&v[..1 << 16], SR, 20.0, 20_000.0);
        let expect = noise_volts(power, 8.0, snr);
        eprintln!(
            "{power} W, SNR {snr} dB: noise {:.1} µV (expected {:.1} µV, {:+.2} dB)",
            got * 1e6,
            expect * 1e6,
            db(got / expect)
        );
        assert!(db(got / expect).abs() < 0.5, "{got} vs {expect}");
    }
    // The NODES.md figure: 100 W/8 Ω at 100 dB is 283 µV.
    assert!((noise_volts(100.0, 8.0, 100.0) * 1e6 - 283.0).abs() < 0.5);
}

#[test]
fn solid_state_is_clean_below_clip_and_clips_past_its_power() {
    // 1 W into 8 Ω from a 100 W amp: 2.83 V.
    let clean_in = ohmpatch_engine::dsp::v_to_dbu(8f64.sqrt()) - 32.0;
    let v = bench(
        sine_in(1000.0, clean_in),
        vec![("z_out_ohm", 0.0.into())],
        vec![("preset", "resistor_8".into())],
        48_000,
    );
    let tail = &v[24_000..];
    let fund = tone_level(tail, SR, 1000.0);
    let harm = (2..=10)
        .map(|k| tone_level(tail, SR, 1000.0 * k as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    eprintln!("1 W: {fund:.3} V, THD {:.5} %", 100.0 * harm / fund);
    assert!((fund / 8f64.sqrt() - 1.0).abs() < 0.01);
    assert!(harm / fund < 1e-4, "THD {}", harm / fund);

    // 6 dB past the clip voltage: the output stops near it.
    let vc = clip_volts(100.0, 8.0);
    let hot_in = ohmpatch_engine::dsp::v_to_dbu(vc / 2f64.sqrt()) - 32.0 + 6.0;
    let v = bench(
        sine_in(1000.0, hot_in),
        vec![("z_out_ohm", 0.0.into())],
        vec![("preset", "resistor_8".into())],
        48_000,
    );
    let tail = &v[24_000..];
    let peak = tail.iter().fold(0.0f64, |m, x| m.max(f64::from(x.abs())));
    let fund = tone_level(tail, SR, 1000.0);
    let harm = (2..=10)
        .map(|k| tone_level(tail, SR, 1000.0 * k as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    eprintln!(
        "+6 dB over clip: peak {peak:.2} V (Vc {vc:.2} V), THD {:.2} %",
        100.0 * harm / fund
    );
    assert!(peak < 1.2 * vc && peak > 0.95 * vc, "{peak} vs {vc}");
    assert!(harm / fund > 0.02);
}

#[test]
fn overdriven_treble_aliases_little() {
    // 5 kHz, 6 dB over clip: harmonics at 5k multiples; everything else in
    // the audio band is alias or noise.
    let vc = clip_volts(100.0, 8.0);
    let hot_in = ohmpatch_engine::dsp::v_to_dbu(vc / 2f64.sqrt()) - 32.0 + 6.0;
    let v = bench(
        sine_in(5000.0, hot_in),
        vec![("z_out_ohm", 0.0.into()), ("snr_db", 140.0.into())],
        vec![("preset", "resistor_8".into())],
        1 << 16,
    );
    let (ps, df) = power_spectrum(&v[1 << 15..], SR);
    let mut harmonic = 0.0;
    let mut other = 0.0;
    for (k, p) in ps.iter().enumerate() {
        let f = k as f64 * df;
        if !(20.0..=20_000.0).contains(&f) {
            continue;
        }
        let near = (f / 5000.0 - (f / 5000.0).round()).abs() * 5000.0 < 60.0;
        if near { harmonic += p } else { other += p }
    }
    let sar = 10.0 * (harmonic / other).log10();
    eprintln!("5 kHz, +6 dB over clip: signal-to-aliasing {sar:.1} dB");
    assert!(sar > 60.0, "{sar}");
}

#[test]
fn the_tube_model_compresses_gently_with_some_second_harmonic_and_sags() {
    let vc = clip_volts(50.0, 8.0);
    let at = |rel_db: f64, sag: f64| {
        let input = ohmpatch_engine::dsp::v_to_dbu(vc / 2f64.sqrt()) - 32.0 + rel_db;
        let v = bench(
            sine_in(1000.0, input),
            vec![
                ("model", "tube_push_pull".into()),
                ("power_w", 50.0.into()),
                ("z_out_ohm", 0.0.into()),
                ("sag", sag.into()),
            ],
            vec![("preset", "resistor_8".into())],
            48_000,
        );
        let tail = v[24_000..].to_vec();
        (
            tone_level(&tail, SR, 1000.0),
            tone_level(&tail, SR, 2000.0),
            tone_level(&tail, SR, 3000.0),
        )
    };
    let (f1, h2, h3) = at(-6.0, 0.0);
    let open = vc / 2f64.sqrt() / 2.0;
    eprintln!(
        "tube at −6 dB re clip: {:+.2} dB compression, H2 {:.1} dB, H3 {:.1} dB",
        db(f1 / open),
        db(h2 / f1),
        db(h3 / f1)
    );
    assert!(db(f1 / open) < -0.2, "no compression");
    assert!(db(h2 / f1) > -60.0 && db(h3 / f1) > -60.0);
    // Sag lowers the headroom while it is loud.
    let (stiff, _, _) = at(6.0, 0.0);
    let (sagging, _, _) = at(6.0, 1.0);
    eprintln!("tube +6 dB over: sag costs {:.2} dB", db(sagging / stiff));
    assert!(db(sagging / stiff) < -1.0);
}

#[test]
fn electrical_ports_follow_the_params() {
    let reg = ohmpatch_nodes::registry();
    let kind = reg.get("power_amp").unwrap();
    let e = kind.electrical(&params_of(kind, &[]));
    assert_eq!(e[1].impedance, Impedance::Ohms(0.05));
    assert_eq!(e[0].impedance, Impedance::Ohms(20_000.0));
    let e = kind.electrical(&params_of(kind, &[("z_out_ohm", 0.0.into())]));
    assert_eq!(e[1].impedance, Impedance::None);
}

#[test]
fn check_predicts_the_level_and_says_when_the_amp_clips_or_is_overloaded() {
    let chain = |input_dbu: f64, spk: Vec<(&'static str, Value)>| {
        patch(
            &[
                ("src", "tone", vec![("level_dbu", input_dbu.into())]),
                (
                    "amp",
                    "power_amp",
                    vec![("power_w", 100.0.into()), ("z_out_ohm", 4.0.into())],
                ),
                ("spk", "speaker", spk),
            ],
            &[("src.out", "amp.in"), ("amp.out", "spk.in")],
        )
    };
    // Well below clip into the guitar speaker: the level at the terminals.
    let p = chain(-10.0, vec![("preset", "guitar_12in".into())]);
    let a = analysis_of(&p);
    let w = wire_report(&a, "amp.out");
    let zl = load(&[("preset", "guitar_12in".into())]);
    let expect = ohmpatch_engine::dsp::v_to_dbu(dbu_to_v(-10.0) * db_to_gain(32.0))
        + divider_db(&zl, 4.0, 1000.0);
    eprintln!(
        "check: amp.out {:.2} dBu (expected {expect:.2}), noise {:.1} dBu, headroom {:.1} dB",
        w.levels.signal_db, w.levels.noise_db, w.levels.headroom_db
    );
    assert!((w.levels.signal_db - expect).abs() < 0.05);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    // Past its power: says so.
    let a = analysis_of(&chain(10.0, vec![("preset", "guitar_12in".into())]));
    assert!(
        a.warnings.iter().any(|f| f.message.contains("clips")),
        "{:?}",
        a.warnings
    );
    assert!(wire_report(&a, "amp.out").levels.headroom_db < 0.0);
    // A 2 Ω load on an amp rated into 8 Ω: says so.
    let a = analysis_of(&chain(
        -10.0,
        vec![("preset", "resistor_8".into()), ("re_ohm", 2.0.into())],
    ));
    assert!(
        a.warnings
            .iter()
            .any(|f| f.message.contains("below the 8 Ω")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn the_audio_thread_half_never_allocates() {
    for model in ["solid_state", "tube_push_pull"] {
        assert_realtime_safe(
            "power_amp",
            &[("model", model.into()), ("sag", 0.5.into())],
            true,
        );
    }
}

#[test]
fn latency_is_reported_and_true() {
    // A click well inside the linear range comes out where the reported
    // latency says: the centre of the oversampler's linear-phase filters.
    let (_, mut p) = build("power_amp", &[("gain_db", 0.0.into())]);
    let l = p.latency();
    eprintln!("power_amp latency: {l} samples");
    let mut x = vec![0.0f32; 512];
    x[10] = 1.0;
    let y = run(p.as_mut(), Some(&x), 512);
    let peak = (0..y.len())
        .max_by(|&a, &b| y[a].abs().total_cmp(&y[b].abs()))
        .unwrap();
    assert_eq!(peak, 10 + l);
}
