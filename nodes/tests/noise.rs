//! `noise` on the bench: levels over 20 Hz–20 kHz, spectral slopes by
//! octave band, hum harmonics, determinism (NODES.md "noise").

mod support;
use ohmpatch_nodes::kinds::noise::{HUM_HARMONICS_DB, thermal_rms};
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const N: usize = 1 << 20;

#[test]
fn thermal_noise_of_150_ohm_at_300_k_is_minus_130_8_dbu() {
    for (r, expect) in [(150.0, -130.8), (200.0, -129.6)] {
        let (_, mut p) = build(
            "noise",
            &[
                ("color", "thermal".into()),
                ("resistance_ohm", r.into()),
                ("temperature_k", 300.0.into()),
                ("level_dbu", 0.0.into()),
            ],
        );
        let x = run(p.as_mut(), None, N);
        let level = dbu(band_rms(&x, SR, 20.0, 20_000.0));
        eprintln!("thermal {r} Ω 300 K: {level:.2} dBu (expected {expect})");
        assert!(
            (level - expect).abs() < 0.2,
            "{r} Ω: {level:.2} dBu, expected {expect}"
        );
        // And the formula itself, to a hundredth.
        assert!((dbu(thermal_rms(r, 300.0)) - expect).abs() < 0.05);
    }
}

#[test]
fn white_noise_reads_its_level_in_the_band() {
    let (_, mut p) = build(
        "noise",
        &[("color", "white".into()), ("level_dbu", (-20.0).into())],
    );
    let x = run(p.as_mut(), None, N);
    let level = dbu(band_rms(&x, SR, 20.0, 20_000.0));
    assert!((level + 20.0).abs() < 0.1, "{level}");
    // Everything up to Nyquist is there too, at the same density.
    let total = dbu(band_rms(&x, SR, 0.0, SR / 2.0));
    let expect = -20.0 + 10.0 * (24_000.0f64 / 19_980.0).log10();
    assert!((total - expect).abs() < 0.1, "{total} vs {expect}");
}

#[test]
fn pink_noise_has_equal_octave_bands_from_31_5_hz_to_16_khz() {
    let (_, mut p) = build(
        "noise",
        &[("color", "pink".into()), ("level_dbu", (-10.0).into())],
    );
    let x = run(p.as_mut(), None, 1 << 22);
    let (ps, df) = power_spectrum(&x, SR);
    let bands: Vec<f64> = octave_centres()
        .iter()
        .map(|&fc| 10.0 * band_power(&ps, df, fc / 2f64.sqrt(), fc * 2f64.sqrt()).log10())
        .collect();
    let mean = bands.iter().sum::<f64>() / bands.len() as f64;
    eprintln!(
        "pink octave bands re mean: {:?}",
        bands
            .iter()
            .map(|b| format!("{:+.2}", b - mean))
            .collect::<Vec<_>>()
    );
    for (fc, b) in octave_centres().iter().zip(&bands) {
        assert!(
            (b - mean).abs() < 0.5,
            "{fc} Hz band {:+.2} dB re mean: {bands:?}",
            b - mean
        );
    }
    let level = dbu(band_power(&ps, df, 20.0, 20_000.0).sqrt());
    assert!((level + 10.0).abs() < 0.2, "{level}");
}

#[test]
fn brown_noise_falls_6_db_per_octave() {
    let (_, mut p) = build(
        "noise",
        &[("color", "brown".into()), ("level_dbu", (-10.0).into())],
    );
    let x = run(p.as_mut(), None, 1 << 22);
    let (ps, df) = power_spectrum(&x, SR);
    // Density (power per Hz) in each octave band.
    let dens: Vec<f64> = octave_centres()
        .iter()
        .map(|&fc| {
            let (lo, hi) = (fc / 2f64.sqrt(), fc * 2f64.sqrt());
            10.0 * (band_power(&ps, df, lo, hi) / (hi - lo)).log10()
        })
        .collect();
    // Least-squares line through the band densities against octave number:
    // its slope is the dB per octave, and every band must sit near the line.
    let n = dens.len() as f64;
    let xs: Vec<f64> = (0..dens.len()).map(|i| i as f64).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, dens.iter().sum::<f64>() / n);
    let slope = xs
        .iter()
        .zip(&dens)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
    eprintln!(
        "brown slope {slope:.3} dB/oct; adjacent octaves {:?}",
        dens.windows(2)
            .map(|w| format!("{:+.2}", w[1] - w[0]))
            .collect::<Vec<_>>()
    );
    assert!((slope + 6.02).abs() < 0.1, "{slope:.3} dB/oct");
    for (i, d) in dens.iter().enumerate() {
        let line = my + slope * (i as f64 - mx);
        assert!(
            (d - line).abs() < 0.5,
            "band {i}: {:.2} dB off the line; {dens:?}",
            d - line
        );
    }
    let level = dbu(band_power(&ps, df, 20.0, 20_000.0).sqrt());
    assert!((level + 10.0).abs() < 0.2, "{level}");
    // No DC.
    let mean = x.iter().map(|v| f64::from(*v)).sum::<f64>() / x.len() as f64;
    assert!(mean.abs() < 0.01 * rms(&x), "{mean}");
}

#[test]
fn hum_harmonics_sit_at_their_table_levels() {
    for mains in [50.0, 60.0] {
        let level_dbu = -30.0;
        let (_, mut p) = build(
            "noise",
            &[
                ("color", "hum".into()),
                ("mains_hz", mains.into()),
                ("level_dbu", level_dbu.into()),
            ],
        );
        let x = run(p.as_mut(), None, 96_000);
        let x = &x[4800..];
        let total_rel: f64 = HUM_HARMONICS_DB
            .iter()
            .map(|d| 10f64.powf(d / 10.0))
            .sum::<f64>();
        for (k, rel) in HUM_HARMONICS_DB.iter().enumerate() {
            let f = mains * (k + 1) as f64;
            let got = dbu(tone_level(x, SR, f));
            let expect = level_dbu + rel - 10.0 * total_rel.log10();
            eprintln!("hum {mains} Hz k={}: {got:.3} vs {expect:.3}", k + 1);
            assert!(
                (got - expect).abs() < 0.2,
                "{mains} Hz mains, harmonic {}: {got:.2} vs {expect:.2}",
                k + 1
            );
        }
        // Their total is the level.
        assert!((dbu(rms(x)) - level_dbu).abs() < 0.05);
    }
}

#[test]
fn noise_is_deterministic_and_the_seed_decorrelates() {
    let render = |seed: f64, engine_seed: u64| {
        let (_, mut p) = build_seeded(
            "noise",
            &[("color", "white".into()), ("seed", seed.into())],
            engine_seed,
        );
        run(p.as_mut(), None, 4096)
    };
    assert_eq!(render(3.0, 1), render(3.0, 1));
    let (a, b) = (render(3.0, 1), render(4.0, 1));
    let dot: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let corr = dot / (rms(&a) * rms(&b) * a.len() as f64);
    assert!(corr.abs() < 0.2, "{corr}");
    assert_ne!(render(3.0, 1), render(3.0, 2));
}

#[test]
fn acoustic_noise_uses_db_spl() {
    let (_, mut p) = build(
        "noise",
        &[("domain", "acoustic".into()), ("level_db_spl", 94.0.into())],
    );
    let x = run(p.as_mut(), None, N);
    let pa = band_rms(&x, SR, 20.0, 20_000.0);
    assert!((db(pa / 20e-6) - 94.0).abs() < 0.1, "{pa}");
}

#[test]
fn check_reports_the_noise_level() {
    let p = patch(
        &[
            (
                "n",
                "noise",
                vec![
                    ("color", "thermal".into()),
                    ("resistance_ohm", 150.0.into()),
                ],
            ),
            ("out", "output", vec![]),
        ],
        &[("n.out", "out.in")],
    );
    let a = analysis_of(&p);
    let w = wire_report(&a, "n.out");
    assert!(
        (w.levels.noise_db + 130.8).abs() < 0.05,
        "{}",
        w.levels.noise_db
    );
}

#[test]
fn the_audio_thread_half_never_allocates() {
    for color in ["white", "pink", "brown", "thermal", "hum"] {
        assert_realtime_safe("noise", &[("color", color.into())], false);
    }
}
