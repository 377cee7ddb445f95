//! The shared oversampler (`ohmpatch_engine::dsp::oversample`) on the bench:
//! exact latency, a flat passband to 20 kHz, nothing above the base Nyquist
//! folding back, the ADAA droop equalised.

use ohmpatch_engine::dsp::oversample::*;
use ohmpatch_nodes::measure::{db, rms, tone_level};
use std::f64::consts::PI;

#[test]
fn latency_is_exact_and_gain_is_unity() {
    for factor in FACTORS {
        let mut os = Oversampler::new(factor);
        let n = 4096;
        let x: Vec<f64> = (0..n)
            .map(|i| (2.0 * PI * 1000.0 * i as f64 / 48_000.0).sin())
            .collect();
        let y: Vec<f64> = x.iter().map(|v| os.process(*v, |s| s)).collect();
        let l = os.latency();
        let err = (1000..n)
            .map(|i| (y[i] - x[i - l]).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-4, "factor {factor}: latency {l}, error {err}");
    }
    assert_eq!(Oversampler::new(1).latency(), 0);
}

#[test]
fn decimator_stops_everything_above_base_nyquist() {
    // What the nonlinearity makes between fs/2 and factor·fs/2 must not fold back.
    for factor in [2usize, 4, 8] {
        let hi_rate = 48_000.0 * factor as f64;
        for f in [24_500.0, 30_000.0, 47_000.0, 70_000.0, 95_000.0, 150_000.0] {
            if f >= hi_rate / 2.0 {
                continue;
            }
            let mut os = Oversampler::new(factor);
            let y: Vec<f32> = (0..24_000)
                .map(|n| {
                    let mut hi = [0.0f64; 8];
                    for (k, v) in hi[..factor].iter_mut().enumerate() {
                        let t = (n * factor + k) as f64 / hi_rate;
                        *v = (2.0 * PI * f * t).sin();
                    }
                    os.downsample(&hi) as f32
                })
                .collect();
            let l = db(rms(&y[2400..]) * 2f64.sqrt());
            assert!(l < -95.0, "factor {factor}, {f} Hz leaks at {l:.1} dB");
        }
    }
}

#[test]
fn passband_is_flat_to_20k() {
    for factor in [2, 4, 8] {
        for f in [20.0, 1000.0, 10_000.0, 20_000.0] {
            let mut os = Oversampler::new(factor);
            let n = 48_000;
            let y: Vec<f32> = (0..n)
                .map(|i| {
                    let x = (2.0 * PI * f * i as f64 / 48_000.0).sin();
                    os.process(x, |s| s) as f32
                })
                .collect();
            let l = db(tone_level(&y[4800..], 48_000.0, f) * 2f64.sqrt());
            assert!(l.abs() < 0.01, "factor {factor} at {f} Hz: {l} dB");
        }
    }
}

#[test]
fn adaa_droop_is_equalised() {
    // A linear ADAA shaper (identity) through the compensated chain stays flat.
    struct Lin;
    impl Shaper for Lin {
        fn f(&self, x: f64) -> f64 {
            x
        }
        fn f1(&self, x: f64) -> f64 {
            0.5 * x * x
        }
    }
    for factor in [2, 4, 8] {
        for f in [100.0, 1000.0, 10_000.0, 15_000.0, 20_000.0] {
            let mut os = Oversampler::for_adaa(factor);
            let mut adaa = Adaa::new();
            let y: Vec<f32> = (0..24_000)
                .map(|i| {
                    let x = (2.0 * PI * f * i as f64 / 48_000.0).sin();
                    os.process(x, |s| adaa.tick(&Lin, s, 1e-9)) as f32
                })
                .collect();
            let l = db(tone_level(&y[4800..], 48_000.0, f) * 2f64.sqrt());
            assert!(l.abs() < 0.002, "factor {factor} at {f} Hz: {l} dB");
        }
    }
}

#[test]
fn nearest_factors() {
    assert_eq!(nearest_factor(1.0), 1);
    assert_eq!(nearest_factor(3.0), 4);
    assert_eq!(nearest_factor(5.0), 4);
    assert_eq!(nearest_factor(7.0), 8);
    assert_eq!(nearest_factor(100.0), 8);
    assert_eq!(nearest_factor(f64::NAN), 4);
}
