//! Frequency response by exponential sine sweep (Farina, AES 2000).
//!
//! Why a sweep and not stepped sines for the response: 240 points at
//! 1/24 octave would each need a settled tone of a few periods (a second
//! and more at 20 Hz), some 15 s of render for the demo chain; one 3 s
//! sweep gives every point, its phase and its group delay, and a
//! nonlinear path's harmonics land at negative times after deconvolution,
//! where the window of the linear response leaves them out. Distortion is
//! measured with stepped sines instead (`steps`), where exactness per tone
//! matters more than coverage.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use std::f64::consts::PI;

/// Sweep length, seconds.
pub const SWEEP_S: f64 = 3.0;
/// Start frequency, Hz (an octave below the band, so 20 Hz is swept fully).
pub const F1: f64 = 10.0;

/// The top of the sweep: past 20 kHz, below Nyquist.
pub fn f2(sr: f64) -> f64 {
    (0.47 * sr).max(20_500.0).min(0.49 * sr)
}

/// The sweep at peak amplitude `amp`, faded in and out (raised cosine).
pub fn sweep(sr: f64, amp: f64) -> Vec<f32> {
    let n = (SWEEP_S * sr) as usize;
    let l = SWEEP_S / (f2(sr) / F1).ln();
    let fade_in = (0.05 * sr) as usize;
    let fade_out = (0.005 * sr) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let mut g = 1.0;
            if i < fade_in {
                g = 0.5 - 0.5 * (PI * i as f64 / fade_in as f64).cos();
            } else if i + fade_out > n {
                g = 0.5 - 0.5 * (PI * (n - i) as f64 / fade_out as f64).cos();
            }
            (amp * g * (2.0 * PI * F1 * l * ((t / l).exp() - 1.0)).sin()) as f32
        })
        .collect()
}

/// A linear impulse response: samples from `start` (negative: before the
/// peak's time zero) with a window already applied.
pub struct Ir {
    pub h: Vec<f64>,
    /// Time of `h[0]`, samples (may be negative).
    pub start: i64,
    /// Time of the largest sample.
    pub peak: i64,
}

/// Deconvolve the recording `y` of `sweep` into its linear impulse
/// response: spectral division (regularised −80 dB below the sweep's
/// peak, so the bands it does not cover stay quiet), then a window from
/// just before the peak to just before where the second harmonic's
/// response would begin.
pub fn impulse_response(y: &[f32], sweep: &[f32], sr: f64) -> Ir {
    let n = (y.len() + sweep.len()).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let spec = |x: &[f32]| {
        let mut b = vec![Complex::new(0.0, 0.0); n];
        for (d, s) in b.iter_mut().zip(x) {
            d.re = f64::from(*s);
        }
        fwd.process(&mut b);
        b
    };
    let s = spec(sweep);
    let mut h = spec(y);
    let peak = s.iter().map(|c| c.norm_sqr()).fold(0.0, f64::max);
    let eps = peak * 1e-8;
    for (hk, sk) in h.iter_mut().zip(&s) {
        *hk = *hk * sk.conj() / (sk.norm_sqr() + eps);
    }
    inv.process(&mut h);
    let h: Vec<f64> = h.iter().map(|c| c.re / n as f64).collect();
    // The peak, looked for in causal time only (the first half).
    let peak = (0..n / 2)
        .max_by(|&a, &b| h[a].abs().total_cmp(&h[b].abs()))
        .unwrap_or(0);
    let gap = SWEEP_S * 2f64.ln() / (f2(sr) / F1).ln();
    let pre = (0.005 * sr) as i64;
    let post = ((0.9 * gap * sr) as i64 - pre).max(pre);
    let len = (pre + post) as usize;
    let start = peak as i64 - pre;
    let taper_in = pre as usize;
    let taper_out = len / 4;
    let w: Vec<f64> = (0..len)
        .map(|i| {
            let idx = (start + i as i64).rem_euclid(n as i64) as usize;
            let g = if i < taper_in {
                0.5 - 0.5 * (PI * i as f64 / taper_in as f64).cos()
            } else if i + taper_out >= len {
                0.5 - 0.5 * (PI * (len - i) as f64 / taper_out as f64).cos()
            } else {
                1.0
            };
            h[idx] * g
        })
        .collect();
    Ir {
        h: w,
        start,
        peak: peak as i64,
    }
}

impl Ir {
    /// H(f) and Σ n·h[n]·e^{−jωn} at `f` Hz: the transfer function and what
    /// its group delay is worked out from (exact, no phase unwrapping).
    pub fn at(&self, f: f64, sr: f64) -> (Complex<f64>, Complex<f64>) {
        let w = 2.0 * PI * f / sr;
        let step = Complex::from_polar(1.0, -w);
        let mut rot = Complex::from_polar(1.0, -w * self.start as f64);
        let mut h = Complex::new(0.0, 0.0);
        let mut nh = Complex::new(0.0, 0.0);
        for (i, v) in self.h.iter().enumerate() {
            let t = (self.start + i as i64) as f64;
            h += rot * *v;
            nh += rot * (*v * t);
            rot *= step;
            if i % 1024 == 1023 {
                // Renormalise the rotator against drift.
                rot /= rot.norm();
            }
        }
        (h, nh)
    }

    /// Group delay at `f`, samples.
    pub fn group_delay(&self, f: f64, sr: f64) -> f64 {
        let (h, nh) = self.at(f, sr);
        if h.norm_sqr() > 0.0 { (nh / h).re } else { 0.0 }
    }
}
