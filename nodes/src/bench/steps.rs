//! Stepped sines for distortion: one settled tone per step, each on an
//! exact FFT bin of its analysis window, so the fundamental and every
//! harmonic fall on single bins of a rectangular-window FFT and are read
//! exactly, and what is left in the band is the noise.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use std::f64::consts::PI;

/// One tone: frequency (Hz) and peak amplitude (open-circuit units).
#[derive(Clone, Copy, Debug)]
pub struct Tone {
    pub hz: f64,
    pub amp: f64,
}

/// Samples per analysis window and settling time before it.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub window: usize,
    pub settle: usize,
}

impl Timing {
    pub fn new(sr: f64, window_s: f64, settle_s: f64) -> Timing {
        Timing {
            window: (window_s * sr) as usize,
            settle: (settle_s * sr) as usize,
        }
    }
    pub fn step(&self) -> usize {
        self.window + self.settle
    }
    /// `f` moved to the nearest bin of the window (at least bin 1).
    pub fn on_bin(&self, f: f64, sr: f64) -> f64 {
        let df = sr / self.window as f64;
        (f / df).round().max(1.0) * df
    }
}

/// The tones one after another, each faded in over 5 ms.
pub fn signal(tones: &[Tone], t: Timing, sr: f64) -> Vec<f32> {
    let fade = (0.005 * sr) as usize;
    let mut x = Vec::with_capacity(tones.len() * t.step());
    for tone in tones {
        let w = 2.0 * PI * tone.hz / sr;
        for i in 0..t.step() {
            let g = if i < fade {
                0.5 - 0.5 * (PI * i as f64 / fade as f64).cos()
            } else {
                1.0
            };
            x.push((tone.amp * g * (w * i as f64).sin()) as f32);
        }
    }
    x
}

/// What one tone's window holds: the fundamental's rms, H2…H5 rms, THD
/// (harmonics up to 20 kHz) and THD+N (everything in 20 Hz–20 kHz but the
/// fundamental), both as ratios to the fundamental.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    pub fundamental: f64,
    pub harmonics: [f64; 4],
    pub thd: f64,
    pub thdn: f64,
}

impl Reading {
    /// H2…H5 relative to the fundamental, dB.
    pub fn harmonics_dbc(&self) -> [f64; 4] {
        self.harmonics
            .map(|h| 20.0 * (h / self.fundamental.max(1e-300)).max(1e-15).log10())
    }
}

/// Read tone `k` of a stepped recording `y`.
pub fn read(y: &[f32], k: usize, hz: f64, t: Timing, sr: f64) -> Reading {
    let at = k * t.step() + t.settle;
    let n = t.window;
    let Some(win) = y.get(at..at + n) else {
        return Reading::default();
    };
    let mut b: Vec<Complex<f64>> = win
        .iter()
        .map(|v| Complex::new(f64::from(*v), 0.0))
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut b);
    // Rms of the component in bin i (one-sided).
    let rms = |i: usize| b[i].norm() * 2f64.sqrt() / n as f64;
    let df = sr / n as f64;
    let bin = (hz / df).round() as usize;
    let fundamental = rms(bin);
    let mut harmonics = [0.0; 4];
    let mut h2 = 0.0;
    for h in 2..=20 {
        let i = bin * h;
        if i >= n / 2 || i as f64 * df > 20_000.0 {
            break;
        }
        let r = rms(i);
        if h <= 5 {
            harmonics[h - 2] = r;
        }
        h2 += r * r;
    }
    let lo = (20.0 / df).ceil().max(1.0) as usize;
    let hi = ((20_000.0 / df).floor() as usize).min(n / 2 - 1);
    let rest: f64 = (lo..=hi)
        .filter(|&i| i != bin)
        .map(|i| rms(i).powi(2))
        .sum();
    let f = fundamental.max(1e-300);
    Reading {
        fundamental,
        harmonics,
        thd: h2.sqrt() / f,
        thdn: rest.sqrt() / f,
    }
}
