//! `spectrum`: the published ring yields a calibrated spectrum off the audio
//! thread, with optional A-weighting.

mod support;

use ohmpatch_engine::render_offline;
use ohmpatch_nodes::kinds::probes::SpectrumProbe;
use ohmpatch_patch::Value;
use support::*;

fn analysed(freq: f64, weighting: &str) -> std::sync::Arc<SpectrumProbe> {
    let p = patch(
        &[
            (
                "gen",
                "tone",
                vec![("freq_hz", freq.into()), ("level_dbu", 4.0.into())],
            ),
            (
                "sp",
                "spectrum",
                vec![("weighting", Value::from(weighting))],
            ),
        ],
        &[("gen.out", "sp.in")],
    );
    let mut e = engine(&p);
    render_offline(&mut e, 48_000, 128);
    e.probe::<SpectrumProbe>("sp")
        .expect("spectrum publishes its probe")
}

fn peak(s: &[(f64, f64)]) -> (f64, f64) {
    s.iter().copied().fold(
        (0.0, f64::NEG_INFINITY),
        |a, b| if b.1 > a.1 { b } else { a },
    )
}

#[test]
fn a_tone_shows_at_its_frequency_and_level() {
    // 1500 Hz sits on a bin of a 32768-point FFT at 48 kHz (1024 bins × 1.465 Hz).
    let probe = analysed(1500.0, "none");
    let s = probe.spectrum_db(SpectrumProbe::CAPACITY);
    assert_eq!(s.len(), SpectrumProbe::CAPACITY / 2 + 1);
    let (f, l) = peak(&s);
    let level = l + probe.offset_db();
    eprintln!("+4 dBu at 1500 Hz → peak {level:.3} dBu at {f:.1} Hz");
    assert!((f - 1500.0).abs() < 2.0, "{f}");
    assert!((level - 4.0).abs() < 0.05, "{level}");
    // Far from the tone, the floor is far down.
    let far = s.iter().find(|(fr, _)| *fr > 8000.0).unwrap().1 + probe.offset_db();
    assert!(far < -100.0, "{far}");
}

#[test]
fn a_weighting_lowers_100_hz_by_19_1_db() {
    let flat = analysed(100.0, "none");
    let a = analysed(100.0, "a");
    assert!(a.weighted());
    let d = peak(&a.spectrum_db(16_384)).1 - peak(&flat.spectrum_db(16_384)).1;
    eprintln!("spectrum, A-weighted 100 Hz: {d:.3} dB");
    assert!((d + 19.1).abs() < 0.1, "{d}");
}
