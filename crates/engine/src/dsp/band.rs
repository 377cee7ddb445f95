//! The measurement band: every noise level, EIN, SNR and thermal-noise
//! figure in ohmpatch is the rms inside 20 Hz–20 kHz, unweighted.

/// Lower and upper edge of the band, Hz.
pub const NOISE_BAND: (f64, f64) = (20.0, 20_000.0);

/// Width of the band, Hz (19 980).
pub const NOISE_BAND_WIDTH: f64 = NOISE_BAND.1 - NOISE_BAND.0;

/// White noise at sample rate `sr` spreads over 0…sr/2, so to put `rms`
/// inside the band its total rms must be `rms · white_total_factor(sr)`.
pub fn white_total_factor(sample_rate: f64) -> f64 {
    let band = NOISE_BAND.1.min(0.5 * sample_rate) - NOISE_BAND.0;
    (0.5 * sample_rate / band).sqrt()
}

/// ∫ |H(f)|² df over `lo`…`hi` Hz (trapezoids on a log grid), for setting
/// the level of filtered noise inside the measurement band.
pub fn band_power_integral(lo: f64, hi: f64, mag: impl Fn(f64) -> f64) -> f64 {
    let n = 4000;
    let (l0, l1) = (lo.ln(), hi.ln());
    let mut sum = 0.0;
    let mut prev: Option<f64> = None;
    let step = (l1 - l0) / n as f64;
    for i in 0..=n {
        let f = (l0 + step * i as f64).exp();
        // df = f·d(ln f)
        let v = mag(f).powi(2) * f;
        if let Some(p) = prev {
            sum += 0.5 * (p + v) * step;
        }
        prev = Some(v);
    }
    sum
}
