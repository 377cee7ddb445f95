//! Converters, sources and utilities on the bench (NODES.md "converters",
//! CONTRACT §1 and §4): `output` maps volts to full scale with a limiter and a
//! NaN guard; `tone` and `file_in` make the level they are set to; `recorder`
//! writes what it hears; `gain`, `mixer`, `split` and `delay` are exact.

mod support;
use ohmpatch_engine::{Engine, EngineConfig, render_offline};
use ohmpatch_patch::Patch;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use support::*;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const N: usize = 48_000;

fn dbfs_peak(x: &[f32]) -> f64 {
    db(x.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64)
}

/// A fresh folder for files a test writes.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ohmpatch-conv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Render with paths resolved in `dir`; the engine is shut down so that
/// recorders have written their files.
fn render_in(p: &Patch, dir: &Path, frames: usize) -> Vec<Vec<f32>> {
    let mut e = Engine::new(
        Arc::new(ohmpatch_nodes::registry()),
        EngineConfig {
            sample_rate: SR,
            patch_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
    );
    e.set_patch(p).expect("patch is valid");
    let out = render_offline(&mut e, frames, 128);
    let errors = e.shutdown();
    assert!(errors.is_empty(), "{errors:?}");
    out
}

fn tone_into_output(level_dbu: f64, output: Vec<(&'static str, ohmpatch_patch::Value)>) -> Patch {
    patch(
        &[
            ("t", "tone", vec![("level_dbu", level_dbu.into())]),
            ("o", "output", output),
        ],
        &[("t.out", "o.in")],
    )
}

#[test]
fn plus_18_dbu_peaks_at_full_scale_and_minus_10_dbu_at_minus_28() {
    for (level, expect) in [(18.0, 0.0), (-10.0, -28.0), (4.0, -14.0)] {
        let out = render(&tone_into_output(level, vec![]), N);
        let got = dbfs_peak(&out[0][4800..]);
        assert!(
            (got - expect).abs() < 0.01,
            "{level} dBu: {got:.3} dBFS peak, expected {expect}"
        );
    }
    // full_scale_dbu moves the mapping: +24 dBu full scale puts +4 dBu at −20 dBFS.
    let out = render(
        &tone_into_output(4.0, vec![("full_scale_dbu", 24.0.into())]),
        N,
    );
    assert!((dbfs_peak(&out[0][4800..]) + 20.0).abs() < 0.01);
}

#[test]
fn the_limiter_holds_a_blast_under_its_ceiling_and_can_be_bypassed() {
    // +40 dBu is 22 dB past full scale.
    let out = render(&tone_into_output(40.0, vec![]), N);
    let peak = dbfs_peak(&out[0]);
    assert!(peak <= 0.0, "limited peak {peak:.2} dBFS");
    assert!(
        peak > -3.0,
        "the limiter should not pump far below its ceiling: {peak:.2}"
    );
    let out = render(
        &tone_into_output(40.0, vec![("ceiling_dbfs", (-6.0).into())]),
        N,
    );
    let peak = dbfs_peak(&out[0]);
    assert!(peak <= -6.0 + 1e-3, "ceiling −6: {peak:.3} dBFS");
    // Off, the converter is a plain scale (and the experiment is the user's).
    let out = render(&tone_into_output(24.0, vec![("limiter", false.into())]), N);
    let peak = dbfs_peak(&out[0][4800..]);
    assert!((peak - 6.0).abs() < 0.01, "unlimited: {peak:.3} dBFS");
}

#[test]
fn nan_and_infinity_never_reach_the_device() {
    let (_, mut p) = build("output", &[]);
    let mut x = sine(1000.0, 0.5, 4096);
    for i in (0..x.len()).step_by(7) {
        x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
    }
    let y = run(p.as_mut(), Some(&x), x.len());
    assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    // And it recovers: clean input afterwards comes out clean.
    // 0.5 V rms peaks at 0.707 V, against +18 dBu's 8.70 V full-scale peak.
    let y = run(p.as_mut(), Some(&sine(1000.0, 0.5, 9600)), 9600);
    let fs = ohmpatch_nodes::kinds::output::full_scale_peak_v(18.0);
    assert!((fs - 8.7013).abs() < 1e-3);
    let expect = 20.0 * (0.5 * std::f64::consts::SQRT_2 / fs).log10();
    assert!(
        (dbfs_peak(&y[4800..]) - expect).abs() < 0.05,
        "{}",
        dbfs_peak(&y[4800..])
    );
}

#[test]
fn tone_makes_its_rms_level_in_each_domain_and_waveform() {
    let probe_out = |kind_params: Vec<(&'static str, ohmpatch_patch::Value)>| {
        let p = patch(
            &[("t", "tone", kind_params), ("o", "output", voltmeter())],
            &[("t.out", "o.in")],
        );
        volts(&render(&p, N)[0][4800..])
    };
    // Sine and square at −6 dBu rms, 1 kHz (48 samples a period: whole periods).
    for wave in ["sine", "square"] {
        let v = probe_out(vec![
            ("waveform", wave.into()),
            ("level_dbu", (-6.0).into()),
        ]);
        let got = dbu(rms(&v[..38_400]));
        assert!((got + 6.0).abs() < 0.05, "{wave}: {got:.3} dBu");
    }
    // A sweep passes through the band from start to end.
    let v = probe_out(vec![
        ("waveform", "sweep".into()),
        ("freq_hz", 100.0.into()),
        ("sweep_end_hz", 10_000.0.into()),
        ("sweep_s", 1.0.into()),
        ("level_dbu", 0.0.into()),
    ]);
    let early = band_rms(&v[..4800], SR, 50.0, 400.0);
    let late = band_rms(&v[33_600..38_400], SR, 3000.0, 12_000.0);
    assert!(
        early > 0.5 && late > 0.5,
        "sweep: early {early:.3} V, late {late:.3} V"
    );
    // Acoustic: 94 dB SPL is 20 µPa · 10^(94/20) = 1.0024 Pa rms.
    let (_, mut t) = build(
        "tone",
        &[("domain", "acoustic".into()), ("level_db_spl", 94.0.into())],
    );
    let x = run(t.as_mut(), None, N);
    let got = rms(&x[4800..]);
    assert!((got - 1.002_374).abs() < 1e-4, "{got} Pa");
}

#[test]
fn gain_mixer_split_and_delay_are_exact() {
    let p = patch(
        &[
            ("a", "tone", vec![("level_dbu", 0.0.into())]),
            (
                "b",
                "tone",
                vec![("level_dbu", 0.0.into()), ("freq_hz", 250.0.into())],
            ),
            ("g", "gain", vec![("gain_db", (-6.0).into())]),
            (
                "m",
                "mixer",
                vec![
                    ("in1_db", 0.0.into()),
                    ("in2_db", (-20.0).into()),
                    ("gain_db", 3.0.into()),
                ],
            ),
            ("s", "split", vec![]),
            ("d", "delay", vec![("time_ms", 10.0.into())]),
            ("o1", "output", voltmeter()),
            ("o2", "output", voltmeter()),
            ("o3", "output", voltmeter()),
        ],
        &[
            ("a.out", "g.in"),
            ("g.out", "m.in1"),
            ("b.out", "m.in2"),
            ("m.out", "s.in"),
            ("s.out1", "o1.in"),
            ("s.out2", "d.in"),
            ("d.out", "o2.in"),
            ("a.out", "o3.in"),
        ],
    );
    let out = render(&p, N);
    let (direct, delayed, a) = (volts(&out[0]), volts(&out[1]), volts(&out[2]));
    // 1 kHz: 0 dBu − 6 dB + 3 dB; 250 Hz: 0 dBu − 20 dB + 3 dB.
    let k = &direct[9600..];
    assert!((dbu(tone_level(k, SR, 1000.0)) + 3.0).abs() < 0.01);
    assert!((dbu(tone_level(k, SR, 250.0)) + 17.0).abs() < 0.01);
    // The delay is 480 samples, exactly.
    let d = &delayed[9600 + 480..];
    let err = d
        .iter()
        .zip(&direct[9600..])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-4, "delayed copy differs by {err}");
    assert!((dbu(rms(&a[9600..])) - 0.0).abs() < 0.01);
}

#[test]
fn file_in_plays_a_0_dbfs_sine_at_level_dbu_and_recorder_writes_full_scale() {
    let dir = scratch("file");
    let x: Vec<f32> = sine(1000.0, std::f64::consts::FRAC_1_SQRT_2, N);
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("in.wav"), &[x], SR as u32).unwrap();
    let p = patch(
        &[
            (
                "f",
                "file_in",
                vec![
                    ("path", "in.wav".into()),
                    ("level_dbu", (-10.0).into()),
                    ("loop", true.into()),
                ],
            ),
            ("r", "recorder", vec![("path", "rec.wav".into())]),
            ("o", "output", voltmeter()),
        ],
        &[("f.out", "o.in"), ("f.out", "r.in")],
    );
    let out = render_in(&p, &dir, 2 * N);
    let v = volts(&out[0]);
    // The 0 dBFS sine comes out at −10 dBu, and keeps going when looped.
    assert!((dbu(rms(&v[..N])) + 10.0).abs() < 0.02);
    assert!((dbu(rms(&v[N..])) + 10.0).abs() < 0.02);
    // The recorder maps +18 dBu to full scale: −10 dBu peaks at −28 dBFS.
    let rec = ohmpatch_nodes::wav::read_wav(&dir.join("rec.wav")).unwrap();
    let ch = &rec.channels[0];
    assert_eq!(ch.len(), 2 * N);
    assert!((dbfs_peak(ch) + 28.0).abs() < 0.02, "{}", dbfs_peak(ch));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn converters_and_utilities_never_allocate_on_the_audio_thread() {
    assert_realtime_safe("output", &[], true);
    assert_realtime_safe("tone", &[("waveform", "sweep".into())], false);
    assert_realtime_safe("gain", &[], true);
    assert_realtime_safe("mixer", &[], true);
    assert_realtime_safe("delay", &[], true);
}
