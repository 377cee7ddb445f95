//! Small DSP building blocks shared by the transducer and amplifier models
//! (`mic`, `speaker`, `power_amp`, `noise`): filters in f64 with fixed-size
//! state, so processors allocate nothing on the audio thread, and the noise
//! bandwidth convention.

use crate::oversample::{Delay, dot};
use std::f64::consts::PI;

/// Lower and upper edge of the band in which noise levels, EIN, SNR and
/// thermal noise are specified: 20 Hz–20 kHz, unweighted.
pub const NOISE_BAND_HZ: (f64, f64) = (20.0, 20_000.0);

/// The noise-bandwidth convention: a level is the rms inside 20 Hz–20 kHz.
/// White noise at sample rate `sr` spreads over 0…sr/2, so to put `rms`
/// inside the band its total rms must be `rms · white_total_factor(sr)`.
pub fn white_total_factor(sample_rate: f64) -> f64 {
    let band = NOISE_BAND_HZ.1.min(0.5 * sample_rate) - NOISE_BAND_HZ.0;
    (0.5 * sample_rate / band).sqrt()
}

/// An input sample as f64, with NaN and infinities read as silence so one
/// bad sample cannot poison filter state forever.
#[inline]
pub fn finite(x: f32) -> f64 {
    if x.is_finite() { f64::from(x) } else { 0.0 }
}

/// A biquad in transposed direct form II, f64 state.
#[derive(Clone, Copy, Debug)]
pub struct Biquad {
    pub b: [f64; 3],
    pub a: [f64; 3],
    z: [f64; 2],
}

impl Biquad {
    pub const IDENTITY: Biquad = Biquad {
        b: [1.0, 0.0, 0.0],
        a: [1.0, 0.0, 0.0],
        z: [0.0; 2],
    };

    fn normalised(b: [f64; 3], a: [f64; 3]) -> Biquad {
        let a0 = a[0];
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [1.0, a[1] / a0, a[2] / a0],
            z: [0.0; 2],
        }
    }

    /// RBJ cookbook designs: the analog prototype through the bilinear
    /// transform prewarped at `f0`, so centre and corner land where stated.
    fn rbj(f0: f64, q: f64, sr: f64) -> (f64, f64) {
        let w0 = 2.0 * PI * (f0 / sr).min(0.499);
        (w0.cos(), w0.sin() / (2.0 * q))
    }

    pub fn lowpass(f0: f64, q: f64, sr: f64) -> Biquad {
        let (c, alpha) = Biquad::rbj(f0, q, sr);
        Biquad::normalised(
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    pub fn highpass(f0: f64, q: f64, sr: f64) -> Biquad {
        let (c, alpha) = Biquad::rbj(f0, q, sr);
        Biquad::normalised(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// Peaking bell of `gain_db` at `f0`.
    pub fn peaking(f0: f64, q: f64, gain_db: f64, sr: f64) -> Biquad {
        let (c, alpha) = Biquad::rbj(f0, q, sr);
        let a = 10f64.powf(gain_db / 40.0);
        Biquad::normalised(
            [1.0 + alpha * a, -2.0 * c, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * c, 1.0 - alpha / a],
        )
    }

    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[1] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[2] * y;
        y
    }

    /// Magnitude at `f` Hz.
    pub fn magnitude(&self, f: f64, sr: f64) -> f64 {
        response(&self.b, &self.a, f, sr)
    }

    pub fn reset(&mut self) {
        self.z = [0.0; 2];
    }

    /// Clear state that went non-finite or denormal.
    #[inline]
    pub fn sanitize(&mut self) {
        for z in self.z.iter_mut() {
            if !z.is_finite() || z.abs() < 1e-30 {
                *z = 0.0;
            }
        }
    }
}

/// |B(e^jω)/A(e^jω)| for coefficients ascending in z⁻¹.
pub fn response(b: &[f64], a: &[f64], f: f64, sr: f64) -> f64 {
    let w = 2.0 * PI * f / sr;
    let eval = |p: &[f64]| {
        let (mut re, mut im) = (0.0, 0.0);
        for (k, c) in p.iter().enumerate() {
            re += c * (w * k as f64).cos();
            im -= c * (w * k as f64).sin();
        }
        re.hypot(im)
    };
    eval(b) / eval(a)
}

/// Highest order of an [`Iir`].
pub const MAX_IIR_ORDER: usize = 8;

/// A direct IIR of order ≤ 8 (transposed direct form II, f64), for
/// responses designed as one rational function (a driver's T/S response).
#[derive(Clone, Copy, Debug)]
pub struct Iir {
    b: [f64; MAX_IIR_ORDER + 1],
    a: [f64; MAX_IIR_ORDER + 1],
    z: [f64; MAX_IIR_ORDER],
    order: usize,
}

impl Iir {
    /// From coefficients ascending in z⁻¹ with a[0] = 1; `None` past order 8.
    pub fn new(b: &[f64], a: &[f64]) -> Option<Iir> {
        let order = b.len().max(a.len()).checked_sub(1)?;
        if order > MAX_IIR_ORDER || a.first().copied() != Some(1.0) {
            return None;
        }
        let mut f = Iir {
            b: [0.0; MAX_IIR_ORDER + 1],
            a: [0.0; MAX_IIR_ORDER + 1],
            z: [0.0; MAX_IIR_ORDER],
            order,
        };
        f.b[..b.len()].copy_from_slice(b);
        f.a[..a.len()].copy_from_slice(a);
        Some(f)
    }

    pub fn scale(&mut self, g: f64) {
        for b in self.b.iter_mut() {
            *b *= g;
        }
    }

    pub fn magnitude(&self, f: f64, sr: f64) -> f64 {
        response(&self.b[..=self.order], &self.a[..=self.order], f, sr)
    }

    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let n = self.order;
        let y = self.b[0] * x + self.z[0];
        for i in 0..n {
            let next = if i + 1 < n { self.z[i + 1] } else { 0.0 };
            self.z[i] = next + self.b[i + 1] * x - self.a[i + 1] * y;
        }
        y
    }

    #[inline]
    pub fn sanitize(&mut self) {
        for z in self.z.iter_mut().take(self.order) {
            if !z.is_finite() || z.abs() < 1e-30 {
                *z = 0.0;
            }
        }
    }
}

/// Paul Kellet's "refined" pink-noise filter (musicdsp.org #76): six
/// first-order sections plus a direct term, −3 dB/oct within ±0.05 dB from
/// about 10 Hz to 20 kHz. The published coefficients are for 44.1 kHz and
/// are used as they are: the sections are spaced self-similarly, so at
/// 48 kHz the error stays within ±0.05 dB over 10 Hz–20 kHz; at higher rates
/// the lower edge rises in proportion (about 20 Hz at 96 kHz).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kellet {
    b: [f64; 7],
}

impl Kellet {
    #[inline]
    pub fn tick(&mut self, white: f64) -> f64 {
        let b = &mut self.b;
        b[0] = 0.99886 * b[0] + white * 0.055_517_9;
        b[1] = 0.99332 * b[1] + white * 0.075_075_9;
        b[2] = 0.96900 * b[2] + white * 0.153_852_0;
        b[3] = 0.86650 * b[3] + white * 0.310_485_6;
        b[4] = 0.55000 * b[4] + white * 0.532_952_2;
        b[5] = -0.7616 * b[5] - white * 0.016_898_0;
        let pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + white * 0.5362;
        b[6] = white * 0.115_926;
        pink
    }

    /// The filter's magnitude at `f` Hz (for level normalisation).
    pub fn magnitude(f: f64, sr: f64) -> f64 {
        const P: [f64; 6] = [0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616];
        const G: [f64; 6] = [
            0.055_517_9,
            0.075_075_9,
            0.153_852_0,
            0.310_485_6,
            0.532_952_2,
            -0.016_898_0,
        ];
        let w = 2.0 * PI * f / sr;
        let (c, s) = (w.cos(), -w.sin());
        // Σ g/(1 − p z⁻¹) + 0.5362 + 0.115926 z⁻¹, z⁻¹ = c + j s.
        let (mut re, mut im) = (0.5362 + 0.115_926 * c, 0.115_926 * s);
        for (p, g) in P.iter().zip(G.iter()) {
            let (dr, di) = (1.0 - p * c, -p * s);
            let d2 = dr * dr + di * di;
            re += g * dr / d2;
            im -= g * di / d2;
        }
        re.hypot(im)
    }

    #[inline]
    pub fn sanitize(&mut self) {
        if !self.b.iter().all(|v| v.is_finite()) {
            self.b = [0.0; 7];
        }
    }
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

/// A linear-phase half-band FIR (Kaiser window), the building block of the
/// 2× up- and down-samplers.
fn halfband(taps: usize, beta: f64) -> Vec<f64> {
    let c = (taps - 1) as f64 / 2.0;
    let i0 = |x: f64| {
        // Modified Bessel function of order 0, by its series.
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut k = 1.0;
        while term > 1e-14 * sum {
            term *= (x / (2.0 * k)).powi(2);
            sum += term;
            k += 1.0;
        }
        sum
    };
    let norm = i0(beta);
    let mut h: Vec<f64> = (0..taps)
        .map(|n| {
            let t = n as f64 - c;
            let sinc = if t == 0.0 {
                0.5
            } else {
                (0.5 * PI * t).sin() / (PI * t)
            };
            let r = t / c;
            sinc * i0(beta * (1.0 - r * r).max(0.0).sqrt()) / norm
        })
        .collect();
    // Exact half-band zeros and unity DC gain.
    for (n, v) in h.iter_mut().enumerate() {
        let t = n as f64 - c;
        if t != 0.0 && (t.round() as i64) % 2 == 0 {
            *v = 0.0;
        }
    }
    let dc: f64 = h.iter().sum();
    for v in h.iter_mut() {
        *v /= dc;
    }
    h
}

/// 2× interpolator: polyphase half-band, both phases from the base-rate history.
#[derive(Clone, Debug)]
struct Up2 {
    even: Vec<f64>,
    odd: Vec<f64>,
    hist: Delay,
}

impl Up2 {
    fn new(h: &[f64]) -> Up2 {
        let even: Vec<f64> = h.iter().step_by(2).map(|v| 2.0 * v).collect();
        let mut odd: Vec<f64> = h.iter().skip(1).step_by(2).map(|v| 2.0 * v).collect();
        odd.resize(even.len(), 0.0);
        Up2 {
            hist: Delay::new(even.len()),
            even,
            odd,
        }
    }

    #[inline]
    fn push(&mut self, x: f64) -> [f64; 2] {
        self.hist.push(x);
        let w = self.hist.window();
        [dot(&self.even, w), dot(&self.odd, w)]
    }
}

/// 2× decimator: the half-band filter evaluated only at kept samples.
#[derive(Clone, Debug)]
struct Down2 {
    h: Vec<f64>,
    hist: Delay,
}

impl Down2 {
    fn new(h: &[f64]) -> Down2 {
        Down2 {
            h: h.to_vec(),
            hist: Delay::new(h.len()),
        }
    }

    /// Keeps the even-indexed filtered sample of each pair (which makes the
    /// oversampler's total delay a whole number of base samples).
    #[inline]
    fn push(&mut self, x: [f64; 2]) -> f64 {
        self.hist.push(x[0]);
        let y = dot(&self.h, self.hist.window());
        self.hist.push(x[1]);
        y
    }
}

/// 4× oversampling around a memoryless nonlinearity, with two half-band
/// stages each way. Passband flat (±0.0001 dB) to 0.43·fs, images and
/// aliases ≥ 100 dB down; linear phase, latency exactly
/// [`Oversampler4::LATENCY`] base-rate samples (the tap counts are chosen so
/// it is a whole number).
#[derive(Clone, Debug)]
pub struct Oversampler4 {
    up1: Up2,
    up2: Up2,
    down2: Down2,
    down1: Down2,
}

impl Oversampler4 {
    /// The filters' centres, (95 − 1)/2 at 2× each way and 11 + 13 at 4×,
    /// come to 52.5 base samples; keeping the even sample of each decimated
    /// pair adds the half sample.
    pub const LATENCY: usize = 53;

    pub fn new() -> Oversampler4 {
        // Stage 1: 2× rate, pass 0.215, stop 0.285 (of the 2× rate).
        let h1 = halfband(95, 10.0);
        // Stage 2: 4× rate, images of 0.43·fs lie beyond 0.39 of the 4× rate.
        let h2u = halfband(23, 10.0);
        let h2d = halfband(27, 10.0);
        Oversampler4 {
            up1: Up2::new(&h1),
            up2: Up2::new(&h2u),
            down2: Down2::new(&h2d),
            down1: Down2::new(&h1),
        }
    }

    /// Run one base-rate sample through `f` at 4× the rate.
    #[inline]
    pub fn process(&mut self, x: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
        let u = self.up1.push(x);
        let mut mid = [0.0; 2];
        for (m, v) in mid.iter_mut().zip(u) {
            let w = self.up2.push(v);
            *m = self.down2.push([f(w[0]), f(w[1])]);
        }
        self.down1.push(mid)
    }

    pub fn reset(&mut self) {
        self.up1.hist.clear();
        self.up2.hist.clear();
        self.down2.hist.clear();
        self.down1.hist.clear();
    }
}

impl Default for Oversampler4 {
    fn default() -> Self {
        Oversampler4::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversampler_is_flat_and_delays_by_its_latency() {
        let sr = 48_000.0;
        for f in [100.0, 1000.0, 10_000.0, 20_000.0] {
            let mut os = Oversampler4::new();
            let n = 9600;
            let x: Vec<f64> = (0..n)
                .map(|i| (2.0 * PI * f * i as f64 / sr).sin())
                .collect();
            let y: Vec<f64> = x.iter().map(|&v| os.process(v, |u| u)).collect();
            // Compare with the input delayed by LATENCY after the filters settle.
            let mut err: f64 = 0.0;
            for i in 2000..n {
                err = err.max((y[i] - x[i - Oversampler4::LATENCY]).abs());
            }
            assert!(err < 2e-5, "{f} Hz: {err}");
        }
    }

    #[test]
    fn kellet_is_pink_within_a_tenth_of_a_db() {
        let sr = 48_000.0;
        let r = Kellet::magnitude(1000.0, sr);
        let mut f = 10.0;
        while f < 20_000.0 {
            let d = 20.0 * (Kellet::magnitude(f, sr) / r).log10() + 10.0 * (f / 1000.0).log10();
            assert!(d.abs() < 0.1, "{f}: {d}");
            f *= 1.2;
        }
    }
}
