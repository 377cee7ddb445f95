//! One-pole smoothing of a control value, so knob moves do not zipper.

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

#[cfg(test)]
mod tests {
    use super::*;

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
