//! Noise sources: a seeded generator and Kellet's pink filter.

use std::f64::consts::PI;

/// A small, fast, seeded generator (xoshiro256**), so renders repeat exactly.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 to spread the seed.
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
            spare: None,
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, both values used).
    #[inline]
    pub fn gaussian(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_has_unit_variance() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let v: f64 = (0..n).map(|_| r.gaussian().powi(2)).sum::<f64>() / n as f64;
        assert!((v - 1.0).abs() < 0.02, "{v}");
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
