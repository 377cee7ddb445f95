//! Units and small helpers every node and the analysis share.

/// 0 dBu in volts rms.
pub const DBU_REF_V: f64 = 0.774_596_669_241_483_4;
/// 0 dB SPL in pascals rms.
pub const SPL_REF_PA: f64 = 20e-6;

pub fn dbu_to_v(dbu: f64) -> f64 {
    DBU_REF_V * 10f64.powf(dbu / 20.0)
}
pub fn v_to_dbu(v: f64) -> f64 {
    20.0 * (v / DBU_REF_V).log10()
}
pub fn dbv_to_v(dbv: f64) -> f64 {
    10f64.powf(dbv / 20.0)
}
pub fn v_to_dbv(v: f64) -> f64 {
    20.0 * v.log10()
}
pub fn spl_to_pa(db: f64) -> f64 {
    SPL_REF_PA * 10f64.powf(db / 20.0)
}
pub fn pa_to_spl(pa: f64) -> f64 {
    20.0 * (pa / SPL_REF_PA).log10()
}
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}
pub fn gain_to_db(g: f64) -> f64 {
    20.0 * g.log10()
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

/// One-pole smoothing of a control value, so knob moves do not zipper.
#[derive(Clone, Copy, Debug)]
pub struct Smoother {
    pub value: f64,
    pub target: f64,
    coeff: f64,
}

impl Smoother {
    /// `time_ms` is the time constant.
    pub fn new(value: f64, time_ms: f64, sample_rate: f64) -> Smoother {
        let n = (time_ms * 0.001 * sample_rate).max(1.0);
        Smoother {
            value,
            target: value,
            coeff: (-1.0 / n).exp(),
        }
    }

    pub fn set(&mut self, target: f64) {
        self.target = target;
    }

    /// Jump straight to the target (at build time).
    pub fn reset(&mut self, value: f64) {
        self.value = value;
        self.target = value;
    }

    #[inline]
    pub fn is_settled(&self) -> bool {
        self.value == self.target
    }

    /// The next smoothed value (one per sample).
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f64 {
        if self.value != self.target {
            self.value = self.target + (self.value - self.target) * self.coeff;
            if (self.value - self.target).abs() <= 1e-9 * self.target.abs().max(1e-12) {
                self.value = self.target;
            }
        }
        self.value
    }
}

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
        let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

/// Whole-period RMS of a signal, for tests and the analysis.
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_levels() {
        assert!((dbu_to_v(4.0) - 1.228).abs() < 1e-3);
        assert!((v_to_dbu(0.7746) - 0.0).abs() < 1e-3);
        assert!((pa_to_spl(1.0) - 93.98).abs() < 0.01);
    }

    #[test]
    fn gaussian_has_unit_variance() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let v: f64 = (0..n).map(|_| r.gaussian().powi(2)).sum::<f64>() / n as f64;
        assert!((v - 1.0).abs() < 0.02, "{v}");
    }

    #[test]
    fn smoother_reaches_its_target() {
        let mut s = Smoother::new(0.0, 5.0, 48000.0);
        s.set(1.0);
        let mut v = 0.0;
        for _ in 0..48000 {
            v = s.next();
        }
        assert_eq!(v, 1.0);
    }
}
