//! The one second-order section: designs (RBJ cookbook, bilinear from s,
//! magnitude-matched low-pass) and a transposed direct form II in f64.

use super::poly::C64;
use std::f64::consts::PI;

/// A biquad `b / a` (a[0] = 1), transposed direct form II, f64 state.
#[derive(Clone, Copy, Debug, PartialEq)]
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

    /// From coefficients ascending in z⁻¹, normalised so a[0] = 1.
    pub fn normalised(b: [f64; 3], a: [f64; 3]) -> Biquad {
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

    /// Bilinear transform of (b0 s² + b1 s + b2)/(a0 s² + a1 s + a2) with
    /// s = k(1−z⁻¹)/(1+z⁻¹) (k = 2·fs, or prewarped by the caller).
    pub fn bilinear_s(bs: [f64; 3], as_: [f64; 3], k: f64) -> Biquad {
        let map = |c: [f64; 3]| {
            let k2 = k * k;
            [
                c[0] * k2 + c[1] * k + c[2],
                -2.0 * c[0] * k2 + 2.0 * c[2],
                c[0] * k2 - c[1] * k + c[2],
            ]
        };
        let nb = map(bs);
        let na = map(as_);
        Biquad {
            b: [nb[0] / na[0], nb[1] / na[0], nb[2] / na[0]],
            a: [1.0, na[1] / na[0], na[2] / na[0]],
            z: [0.0; 2],
        }
    }

    /// Second-order low-pass matched to the analog magnitude at DC, f0 and
    /// Nyquist (Vicanek 2016): impulse-invariant poles, fitted zeros.
    pub fn matched_lowpass(f0: f64, q: f64, sample_rate: f64) -> Biquad {
        let w0 = 2.0 * PI * f0 / sample_rate;
        let zeta = 1.0 / (2.0 * q);
        let a1 = if zeta <= 1.0 {
            -2.0 * (-zeta * w0).exp() * ((1.0 - zeta * zeta).sqrt() * w0).cos()
        } else {
            -2.0 * (-zeta * w0).exp() * ((zeta * zeta - 1.0).sqrt() * w0).cosh()
        };
        let a2 = (-2.0 * zeta * w0).exp();
        let big_a0 = (1.0 + a1 + a2).powi(2);
        let big_a1 = (1.0 - a1 + a2).powi(2);
        let big_a2 = -4.0 * a2;
        let p1 = (w0 / 2.0).sin().powi(2);
        let p0 = 1.0 - p1;
        let p2 = 4.0 * p0 * p1;
        let r1 = (big_a0 * p0 + big_a1 * p1 + big_a2 * p2) * q * q;
        let big_b1 = ((r1 - big_a0 * p0) / p1).max(0.0);
        let b0 = 0.5 * (big_a0.sqrt() + big_b1.sqrt());
        let b1 = big_a0.sqrt() - b0;
        Biquad {
            b: [b0, b1, 0.0],
            a: [1.0, a1, a2],
            z: [0.0; 2],
        }
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

    /// Complex response at `w` radians per sample.
    pub fn response(&self, w: f64) -> C64 {
        let z1 = (w.cos(), -w.sin());
        let z2 = ((2.0 * w).cos(), -(2.0 * w).sin());
        let num = C64::new(
            self.b[0] + self.b[1] * z1.0 + self.b[2] * z2.0,
            self.b[1] * z1.1 + self.b[2] * z2.1,
        );
        let den = C64::new(
            1.0 + self.a[1] * z1.0 + self.a[2] * z2.0,
            self.a[1] * z1.1 + self.a[2] * z2.1,
        );
        num.div(den)
    }

    pub fn reset(&mut self) {
        self.z = [0.0; 2];
    }

    /// Whether the state is finite.
    #[inline]
    pub fn is_finite(&self) -> bool {
        self.z[0].is_finite() && self.z[1].is_finite()
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

    /// The state, for carrying a running filter into a new design.
    pub fn state(&self) -> [f64; 2] {
        self.z
    }

    pub fn set_state(&mut self, z: [f64; 2]) {
        self.z = z;
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
