//! Bench measurements, shared by the tests, the command line and the analysis:
//! the instruments an audio analyser would use (RMS, tone level by sine fit,
//! band power and THD from a windowed FFT, A-weighting).
//!
//! Noise convention everywhere in ohmpatch: noise, EIN and SNR are stated over
//! 20 Hz–20 kHz, unweighted. White noise generated at a sample rate `fs` spans
//! 0…fs/2, so a node generating a level L over the audio band emits a total rms of
//! `L·sqrt((fs/2)/19980)`, and tests read it back with `band_rms(x, fs, 20.0, 20000.0)`.
//!
//! Not for the audio thread: these allocate.

use ohmpatch_engine::dsp::Biquad;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use std::f64::consts::PI;

pub use ohmpatch_engine::dsp::{
    dbu_to_v, dbv_to_v, pa_to_spl as db_spl, v_to_dbu as dbu, v_to_dbv as dbv,
};

/// Width of the audio band used for noise figures (20 Hz–20 kHz).
pub const AUDIO_BAND_HZ: f64 = ohmpatch_engine::dsp::NOISE_BAND_WIDTH;

/// Plain RMS of all the samples (measure over whole periods for tones).
pub fn rms(x: &[f32]) -> f64 {
    ohmpatch_engine::dsp::rms(x)
}

/// What a meter reads (rms, DC removed as a coupling capacitor would) after a
/// sine of rms `rms_in` passes through the static curve `f`: harmonics
/// included. The analysis uses it so a stage driven into its knee is
/// predicted as it will measure.
pub fn sine_rms_through(f: impl Fn(f64) -> f64, rms_in: f64) -> f64 {
    const N: usize = 512;
    let a = rms_in * std::f64::consts::SQRT_2;
    let ys: Vec<f64> = (0..N)
        .map(|i| f(a * (std::f64::consts::TAU * i as f64 / N as f64).sin()))
        .collect();
    let mean = ys.iter().sum::<f64>() / N as f64;
    (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / N as f64).sqrt()
}

/// Peak absolute sample value.
pub fn peak(x: &[f32]) -> f64 {
    x.iter().fold(0.0f64, |m, v| m.max(f64::from(v.abs())))
}

/// 20·log10 of a ratio (−inf for 0).
pub fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Rms amplitude of the component at `freq`, by a Hann-weighted least-squares
/// fit of cos, sin and DC. A pure tone reads exactly whatever the window length;
/// with an integer number of periods (and at least two of them) harmonics and DC
/// are orthogonal to the fit and do not bias it; otherwise the Hann weight keeps
/// other components' leakage low (−31 dB first sidelobe, −18 dB/oct).
pub fn tone_level(x: &[f32], sr: f64, freq: f64) -> f64 {
    let (a, b) = tone_phasor(x, sr, freq);
    (a * a + b * b).sqrt() / 2f64.sqrt()
}

/// The fitted (cos, sin) peak amplitudes of the component at `freq`
/// (phase reference: sample 0 of `x`).
#[allow(clippy::needless_range_loop)] // index arithmetic on a 3×3 system reads best as is
pub fn tone_phasor(x: &[f32], sr: f64, freq: f64) -> (f64, f64) {
    let n = x.len();
    if n < 3 {
        return (0.0, 0.0);
    }
    let step = freq / sr;
    // Weighted normal equations for [c, s, 1].
    let mut m = [[0.0f64; 3]; 3];
    let mut r = [0.0f64; 3];
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * (i as f64 + 0.5) / n as f64).cos();
        let ph = 2.0 * PI * (step * i as f64).fract();
        let (s, c) = ph.sin_cos();
        let basis = [c, s, 1.0];
        let v = f64::from(v);
        for a in 0..3 {
            r[a] += w * basis[a] * v;
            for b in a..3 {
                m[a][b] += w * basis[a] * basis[b];
            }
        }
    }
    for a in 0..3 {
        for b in 0..a {
            m[a][b] = m[b][a];
        }
    }
    match solve3(m, r) {
        Some(c) => (c[0], c[1]),
        None => (0.0, 0.0),
    }
}

/// Gaussian elimination with partial pivoting on a 3×3 system.
#[allow(clippy::needless_range_loop)]
fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let piv = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[piv][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        for row in col + 1..3 {
            let f = m[row][col] / m[col][col];
            for k in col..3 {
                m[row][k] -= f * m[col][k];
            }
            r[row] -= f * r[col];
        }
    }
    let mut out = [0.0; 3];
    for row in (0..3).rev() {
        let mut acc = r[row];
        for k in row + 1..3 {
            acc -= m[row][k] * out[k];
        }
        out[row] = acc / m[row][row];
    }
    Some(out)
}

/// Window shapes used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Good for noise and levels (ENBW 1.5 bins).
    Hann,
    /// 4-term Blackman–Harris, −92 dB sidelobes: for harmonics and THD.
    BlackmanHarris,
}

/// A periodic window of length `n` (DFT-even, so integer-bin tones land cleanly).
pub fn window(kind: Window, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let x = 2.0 * PI * i as f64 / n as f64;
            match kind {
                Window::Hann => 0.5 - 0.5 * x.cos(),
                Window::BlackmanHarris => {
                    0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos()
                        - 0.01168 * (3.0 * x).cos()
                }
            }
        })
        .collect()
}

/// One-sided power spectrum: `ps[k]` is the mean-square (unit²) in bin k, so
/// summing bins over a band gives that band's power (window power-corrected,
/// Parseval). Returns the bins and the bin width in Hz.
pub fn power_spectrum(x: &[f32], sr: f64, kind: Window) -> (Vec<f64>, f64) {
    let n = x.len();
    if n < 2 {
        return (vec![0.0; 1], sr);
    }
    let w = window(kind, n);
    let sw2: f64 = w.iter().map(|v| v * v).sum();
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .zip(&w)
        .map(|(v, w)| Complex::new(f64::from(*v) * w, 0.0))
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let half = n / 2;
    let scale = 1.0 / (n as f64 * sw2);
    let ps = (0..=half)
        .map(|k| {
            let p = buf[k].norm_sqr() * scale;
            // Fold the negative frequencies in, except DC and (even n) Nyquist.
            if k == 0 || (n.is_multiple_of(2) && k == half) {
                p
            } else {
                2.0 * p
            }
        })
        .collect();
    (ps, sr / n as f64)
}

/// Power in the bins whose centre lies in [lo, hi].
fn band_power(ps: &[f64], df: f64, lo: f64, hi: f64) -> f64 {
    ps.iter()
        .enumerate()
        .filter(|(k, _)| {
            let f = *k as f64 * df;
            f >= lo && f <= hi
        })
        .map(|(_, p)| p)
        .sum()
}

/// Rms of the part of `x` between `lo` and `hi` Hz (Hann-windowed FFT over the
/// whole slice, power-corrected). Use ≥ 0.5 s of signal so the 20 Hz edge is sharp.
pub fn band_rms(x: &[f32], sr: f64, lo: f64, hi: f64) -> f64 {
    let (ps, df) = power_spectrum(x, sr, Window::Hann);
    band_power(&ps, df, lo, hi).sqrt()
}

/// Total harmonic distortion as a ratio (not %): sqrt(Σ P(h·f0), h = 2..=harmonics)
/// / sqrt(P(f0)), each harmonic's power summed over its Blackman–Harris main lobe
/// (±5 bins), so it is exact for tones between bins too. Harmonics above Nyquist
/// are skipped (they would have aliased and are not harmonics any more).
pub fn thd(x: &[f32], sr: f64, f0: f64, harmonics: usize) -> f64 {
    let (ps, df) = power_spectrum(x, sr, Window::BlackmanHarris);
    let lobe = |f: f64| -> f64 {
        let c = f / df;
        let half = 5.0f64.min(0.5 * f0 / df).max(1.0);
        let lo = (c - half).ceil().max(0.0) as usize;
        let hi = ((c + half).floor() as usize).min(ps.len() - 1);
        if lo > hi {
            0.0
        } else {
            ps[lo..=hi].iter().sum()
        }
    };
    let fund = lobe(f0);
    if fund <= 0.0 {
        return 0.0;
    }
    let mut h = 0.0;
    for k in 2..=harmonics.max(1) {
        let f = f0 * k as f64;
        if f >= sr / 2.0 - 5.0 * df {
            break;
        }
        h += lobe(f);
    }
    (h / fund).sqrt()
}

/// The A-weighting curve in dB (IEC 61672-1 analytic form), normalised to
/// exactly 0.0 dB at 1 kHz; −19.1 dB at 100 Hz, −2.5 dB at 10 kHz.
pub fn a_weighting_db(f: f64) -> f64 {
    fn ra(f: f64) -> f64 {
        let f2 = f * f;
        let (a, b, c, d) = (20.598_997f64, 107.652_65f64, 737.862_23f64, 12_194.217f64);
        (d * d * f2 * f2) / ((f2 + a * a) * ((f2 + b * b) * (f2 + c * c)).sqrt() * (f2 + d * d))
    }
    20.0 * (ra(f) / ra(1000.0)).log10()
}

/// A-weighting filter for meters: the IEC 61672 analog poles. The low ones
/// (20.6 Hz ×2, 107.7 Hz, 737.9 Hz) go through the bilinear transform, each pole
/// pre-warped to its own frequency; the 12194 Hz double pole, where the bilinear
/// warp would cost dBs, is a magnitude-matched section (Vicanek, "Matched Second
/// Order Digital Filters", 2016). Gain is exactly 0 dB at 1 kHz. Within ±0.1 dB of
/// [`a_weighting_db`] from 20 Hz to 12.5 kHz at 44.1/48 kHz (+0.3 dB at 16 kHz).
/// No allocation.
#[derive(Clone, Debug)]
pub struct AWeighting {
    s: [Biquad; 3],
    gain: f64,
}

impl AWeighting {
    pub fn new(sample_rate: f64) -> AWeighting {
        let k = 2.0 * sample_rate;
        // Pre-warp a pole so the digital corner lands on the analog one.
        let warp = |f: f64| {
            let f = f.min(0.45 * sample_rate);
            k * (PI * f / sample_rate).tan()
        };
        let w1 = warp(20.598_997);
        let w2 = warp(107.652_65);
        let w3 = warp(737.862_23);
        let s = [
            Biquad::bilinear_s([1.0, 0.0, 0.0], [1.0, 2.0 * w1, w1 * w1], k),
            Biquad::bilinear_s([1.0, 0.0, 0.0], [1.0, w2 + w3, w2 * w3], k),
            Biquad::matched_lowpass(12_194.217, 0.5, sample_rate),
        ];
        let w = 2.0 * PI * 1000.0 / sample_rate;
        let mag: f64 = s
            .iter()
            .map(|b| {
                let r = b.response(w);
                (r.re * r.re + r.im * r.im).sqrt()
            })
            .product();
        AWeighting { s, gain: 1.0 / mag }
    }

    /// Magnitude response in dB at `f` (for tests and display).
    pub fn response_db(&self, f: f64, sample_rate: f64) -> f64 {
        let w = 2.0 * PI * f / sample_rate;
        let mag: f64 = self
            .s
            .iter()
            .map(|b| {
                let r = b.response(w);
                (r.re * r.re + r.im * r.im).sqrt()
            })
            .product();
        20.0 * (mag * self.gain).log10()
    }

    /// Clear the filter state.
    pub fn reset(&mut self) {
        for b in &mut self.s {
            b.reset();
        }
    }

    /// One sample through the filter.
    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let mut y = x * self.gain;
        for b in &mut self.s {
            y = b.tick(y);
        }
        if y.is_finite() {
            y
        } else {
            self.reset();
            0.0
        }
    }

    /// A-weight a whole signal (a fresh filter; skip the first ~0.1 s to settle).
    pub fn apply(x: &[f32], sample_rate: f64) -> Vec<f32> {
        let mut f = AWeighting::new(sample_rate);
        x.iter().map(|v| f.process(f64::from(*v)) as f32).collect()
    }
}

/// Hann-windowed spectrum as (frequency Hz, dB), bins 0…N/2, scaled so a sine of
/// rms A on a bin centre reads 20·log10(A) (dB re 1 unit rms: volt, pascal or FS).
pub fn spectrum_db(x: &[f32], sr: f64) -> Vec<(f64, f64)> {
    let n = x.len();
    if n < 2 {
        return Vec::new();
    }
    let w = window(Window::Hann, n);
    let sw: f64 = w.iter().sum();
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .zip(&w)
        .map(|(v, w)| Complex::new(f64::from(*v) * w, 0.0))
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let df = sr / n as f64;
    (0..=n / 2)
        .map(|k| {
            // Peak amplitude |X|·2/Σw, rms = peak/√2 (DC: |X|/Σw).
            let a = if k == 0 {
                buf[0].norm() / sw
            } else {
                buf[k].norm() * 2.0 / sw / 2f64.sqrt()
            };
            (k as f64 * df, 20.0 * a.max(1e-30).log10())
        })
        .collect()
}

/// Standard octave-band centres from 31.5 Hz to 16 kHz.
pub const OCTAVE_CENTRES: [f64; 10] = [
    31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16_000.0,
];

/// Level of each octave band [fc/√2, fc·√2] in dB re 1 unit rms (20·log10 of the band rms).
pub fn octave_band_levels(x: &[f32], sr: f64, centres: &[f64]) -> Vec<f64> {
    let (ps, df) = power_spectrum(x, sr, Window::Hann);
    let r = 2f64.sqrt();
    centres
        .iter()
        .map(|&fc| 10.0 * band_power(&ps, df, fc / r, fc * r).max(1e-300).log10())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ohmpatch_engine::dsp::Rng;

    const SR: f64 = 48_000.0;

    fn sine(f: f64, rms: f64, n: usize, phase: f64) -> Vec<f64> {
        (0..n)
            .map(|i| rms * 2f64.sqrt() * (2.0 * PI * f * i as f64 / SR + phase).sin())
            .collect()
    }

    fn to32(x: &[f64]) -> Vec<f32> {
        x.iter().map(|v| *v as f32).collect()
    }

    #[test]
    fn tone_level_is_exact_on_whole_periods() {
        // 1 kHz over 0.1 s, with a 2nd harmonic, DC and a tone at 3.3 kHz.
        let n = 4800;
        let a = sine(1000.0, 0.5, n, 0.3);
        let h = sine(2000.0, 0.2, n, 1.0);
        let o = sine(3300.0, 0.3, n, 0.0);
        let x: Vec<f32> = (0..n).map(|i| (a[i] + h[i] + o[i] + 0.1) as f32).collect();
        let l = tone_level(&x, SR, 1000.0);
        assert!(db(l / 0.5).abs() < 0.001, "{} dB", db(l / 0.5));
    }

    #[test]
    fn tone_level_is_robust_off_period() {
        let n = 4321;
        let a = sine(997.0, 1.0, n, 0.7);
        let o = sine(5000.0, 0.1, n, 0.0);
        let x: Vec<f32> = (0..n).map(|i| (a[i] + o[i]) as f32).collect();
        let l = tone_level(&x, SR, 997.0);
        assert!(db(l).abs() < 0.01, "{} dB", db(l));
    }

    #[test]
    fn band_rms_of_white_noise() {
        let mut r = Rng::new(3);
        let n = 96_000;
        let x: Vec<f32> = (0..n).map(|_| r.gaussian() as f32).collect();
        // All bins together are the window-weighted mean square (Parseval).
        let w = window(Window::Hann, n);
        let sw2: f64 = w.iter().map(|v| v * v).sum();
        let ms: f64 = x
            .iter()
            .zip(&w)
            .map(|(v, w)| (f64::from(*v) * w).powi(2))
            .sum::<f64>()
            / sw2;
        let total = band_rms(&x, SR, 0.0, SR / 2.0);
        assert!(
            db(total / ms.sqrt()).abs() < 1e-6,
            "{}",
            db(total / ms.sqrt())
        );
        // The audio band holds its share of white noise (statistical spread ~0.03 dB).
        let audio = band_rms(&x, SR, 20.0, 20_000.0);
        let expect = (AUDIO_BAND_HZ / (SR / 2.0)).sqrt();
        assert!(db(audio / expect).abs() < 0.1, "{}", db(audio / expect));
    }

    #[test]
    fn band_rms_of_a_tone() {
        let x = to32(&sine(1234.5, 0.3, 48_000, 0.0));
        assert!(db(band_rms(&x, SR, 1000.0, 1500.0) / 0.3).abs() < 0.01);
        assert!(band_rms(&x, SR, 3000.0, 20_000.0) < 1e-5);
    }

    #[test]
    fn thd_reads_one_percent() {
        for (f0, n) in [(1000.0, 48_000), (997.0, 48_000), (1000.0, 12_345)] {
            let a = sine(f0, 1.0, n, 0.1);
            let h2 = sine(2.0 * f0, 0.008, n, 0.4);
            let h3 = sine(3.0 * f0, 0.006, n, 1.2);
            let x: Vec<f32> = (0..n).map(|i| (a[i] + h2[i] + h3[i]) as f32).collect();
            let t = thd(&x, SR, f0, 10) * 100.0;
            assert!((t - 1.0).abs() < 0.01, "{f0} Hz, {n}: {t} %");
        }
        let pure = to32(&sine(1000.0, 1.0, 48_000, 0.0));
        assert!(thd(&pure, SR, 1000.0, 10) < 1e-5);
    }

    #[test]
    fn a_weighting_figures() {
        assert!(a_weighting_db(1000.0).abs() < 1e-9);
        assert!((a_weighting_db(100.0) + 19.1).abs() < 0.05);
        assert!((a_weighting_db(10_000.0) + 2.5).abs() < 0.05);
        assert!((a_weighting_db(31.5) + 39.5).abs() < 0.1);
    }

    #[test]
    fn a_weighting_filter_tracks_the_curve() {
        for sr in [44_100.0, 48_000.0, 96_000.0] {
            let f = AWeighting::new(sr);
            for freq in [
                20.0, 31.5, 63.0, 100.0, 250.0, 1000.0, 2000.0, 4000.0, 8000.0, 10_000.0, 12_500.0,
            ] {
                let e = f.response_db(freq, sr) - a_weighting_db(freq);
                assert!(e.abs() < 0.1, "{sr} Hz: {freq} Hz off by {e:.3} dB");
            }
            assert!(f.response_db(1000.0, sr).abs() < 1e-9);
        }
        // And measured by running signal through it.
        for (freq, want) in [(1000.0, 0.0), (100.0, -19.1)] {
            let x = to32(&sine(freq, 1.0, 48_000, 0.0));
            let y = AWeighting::apply(&x, SR);
            let l = db(tone_level(&y[24_000..], SR, freq));
            assert!((l - want).abs() < 0.1, "{freq}: {l}");
        }
    }

    #[test]
    fn spectrum_and_octaves() {
        let x = to32(&sine(1000.0, 0.5, 48_000, 0.0));
        let s = spectrum_db(&x, SR);
        let (f, l) = s[1000];
        assert_eq!(f, 1000.0);
        assert!((l - db(0.5)).abs() < 0.01, "{l}");
        let bands = octave_band_levels(&x, SR, &OCTAVE_CENTRES);
        assert!((bands[5] - db(0.5)).abs() < 0.01);
        assert!(bands[3] < -100.0);
    }
}
