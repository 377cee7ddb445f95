//! The DSP toolkit every node and the engine share: level units, control
//! smoothing, noise sources, the measurement band, the one biquad, the one
//! IIR (cascaded second-order sections, designed from a rational H(s)), the
//! one oversampler, and the polynomial arithmetic behind them. Filters keep
//! f64 state of fixed size once built, so processors allocate nothing on the
//! audio thread.

pub mod band;
pub mod biquad;
pub mod design;
pub mod noise;
pub mod oversample;
pub mod poly;
pub mod smoother;
pub mod sos;
pub mod units;

pub use band::{NOISE_BAND, NOISE_BAND_WIDTH, band_power_integral, white_total_factor};
pub use biquad::Biquad;
pub use noise::{Kellet, Rng};
pub use oversample::{Adaa, Oversampler, Shaper, nearest_factor};
pub use smoother::Smoother;
pub use sos::Sos;
pub use units::*;

/// An input sample as f64, with NaN and infinities read as silence so one
/// bad sample cannot poison filter state forever.
#[inline]
pub fn finite(x: f32) -> f64 {
    if x.is_finite() { f64::from(x) } else { 0.0 }
}

/// `out[i] = inp[i] * g`. A whole block takes a fixed-length loop, which the
/// compiler unrolls and vectorises with no remainder handling; this is most
/// of the cost of a gain stage, so it is worth the second copy.
#[inline]
pub fn scale_into(out: &mut [f32], inp: &[f32], g: f32) {
    use crate::node::MAX_BLOCK;
    if let (Ok(o), Ok(i)) = (
        <&mut [f32; MAX_BLOCK]>::try_from(&mut *out),
        <&[f32; MAX_BLOCK]>::try_from(inp),
    ) {
        for (o, i) in o.iter_mut().zip(i.iter()) {
            *o = *i * g;
        }
        return;
    }
    for (o, i) in out.iter_mut().zip(inp.iter()) {
        *o = *i * g;
    }
}

/// Whole-period RMS of a signal, for tests and the analysis.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}
