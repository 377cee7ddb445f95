//! Complex numbers and real polynomials (coefficients ascending), enough for
//! evaluating impedances and factoring rational responses into sections.

/// A complex number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct C64 {
    pub re: f64,
    pub im: f64,
}

#[allow(clippy::should_implement_trait)]
impl C64 {
    pub const fn new(re: f64, im: f64) -> C64 {
        C64 { re, im }
    }
    pub fn add(self, o: C64) -> C64 {
        C64::new(self.re + o.re, self.im + o.im)
    }
    pub fn sub(self, o: C64) -> C64 {
        C64::new(self.re - o.re, self.im - o.im)
    }
    pub fn mul(self, o: C64) -> C64 {
        C64::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    pub fn div(self, o: C64) -> C64 {
        let d = o.re * o.re + o.im * o.im;
        C64::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
    pub fn scale(self, k: f64) -> C64 {
        C64::new(self.re * k, self.im * k)
    }
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
}

pub fn poly_eval(p: &[f64], x: C64) -> C64 {
    let mut acc = C64::new(0.0, 0.0);
    for &c in p.iter().rev() {
        acc = acc.mul(x).add(C64::new(c, 0.0));
    }
    acc
}

pub fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

pub fn poly_add(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len().max(b.len())];
    for (i, x) in a.iter().enumerate() {
        out[i] += x;
    }
    for (i, x) in b.iter().enumerate() {
        out[i] += x;
    }
    out
}

/// The polynomial without its highest zero coefficients.
pub fn poly_trim(p: &[f64]) -> &[f64] {
    let n = p.iter().rposition(|c| *c != 0.0).map_or(0, |i| i + 1);
    &p[..n]
}

/// All roots of a real polynomial (ascending coefficients), by the
/// Aberth–Ehrlich iteration on the polynomial rescaled so its roots sit
/// near the unit circle (impedance polynomials span 1 to 10¹⁵ in s), then
/// a Newton polish on the original. Conjugate pairs come out exactly
/// conjugate and near-real roots exactly real. `None` when it does not
/// converge or the polynomial is zero.
pub fn roots(p: &[f64]) -> Option<Vec<C64>> {
    let p = poly_trim(p);
    if p.is_empty() || !p.iter().all(|c| c.is_finite()) {
        return None;
    }
    // Roots at 0.
    let zeros = p.iter().position(|c| *c != 0.0)?;
    let mut out = vec![C64::new(0.0, 0.0); zeros];
    let p = &p[zeros..];
    let n = p.len() - 1;
    if n == 0 {
        return Some(out);
    }
    // s = σ·t with σ = |p0/pn|^(1/n): the scaled roots have a geometric mean of 1.
    let sigma = (p[0] / p[n]).abs().powf(1.0 / n as f64);
    let q: Vec<f64> = p
        .iter()
        .enumerate()
        .map(|(i, c)| c * sigma.powi(i as i32) / (p[n] * sigma.powi(n as i32)))
        .collect();
    let dq: Vec<f64> = q
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| c * i as f64)
        .collect();
    let mut z: Vec<C64> = (0..n)
        .map(|k| {
            let th = 2.0 * std::f64::consts::PI * k as f64 / n as f64 + 0.4;
            C64::new(th.cos(), th.sin())
        })
        .collect();
    let mut worst = f64::INFINITY;
    for _ in 0..800 {
        worst = 0.0;
        for k in 0..n {
            let pv = poly_eval(&q, z[k]);
            let dv = poly_eval(&dq, z[k]);
            let ratio = pv.div(dv);
            let mut sum = C64::new(0.0, 0.0);
            for (j, zj) in z.iter().enumerate() {
                if j != k {
                    sum = sum.add(C64::new(1.0, 0.0).div(z[k].sub(*zj)));
                }
            }
            let w = ratio.div(C64::new(1.0, 0.0).sub(ratio.mul(sum)));
            if !(w.re.is_finite() && w.im.is_finite()) {
                continue;
            }
            z[k] = z[k].sub(w);
            worst = worst.max(w.abs() / z[k].abs().max(1e-300));
        }
        if worst < 1e-15 {
            break;
        }
    }
    // Rounding in evaluating a long polynomial near its roots stalls the
    // corrections short of 1e-15 (about 1e-6 at degree 21, or for a root of
    // high multiplicity); the roots are then as good as the coefficients
    // allow, and what is designed from them is checked against H itself.
    if worst.is_nan() || worst >= 1e-4 {
        return None;
    }
    let dp: Vec<f64> = p
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| c * i as f64)
        .collect();
    for r in z.iter_mut() {
        let mut x = r.scale(sigma);
        for _ in 0..3 {
            let step = poly_eval(p, x).div(poly_eval(&dp, x));
            if !(step.re.is_finite() && step.im.is_finite()) || step.abs() > 1e-3 * x.abs() {
                break;
            }
            x = x.sub(step);
        }
        *r = x;
    }
    // Make the set conjugate-symmetric: real roots real, pairs exactly paired.
    let mut used = vec![false; n];
    let mut sym = Vec::with_capacity(n);
    for k in 0..n {
        if used[k] {
            continue;
        }
        used[k] = true;
        let r = z[k];
        if r.im.abs() <= 1e-9 * r.abs() {
            sym.push(C64::new(r.re, 0.0));
            continue;
        }
        // Its partner: the unused root nearest the conjugate.
        let conj = C64::new(r.re, -r.im);
        let partner = (0..n)
            .filter(|j| !used[*j])
            .min_by(|a, b| z[*a].sub(conj).abs().total_cmp(&z[*b].sub(conj).abs()));
        match partner {
            Some(j) => {
                used[j] = true;
                let re = 0.5 * (r.re + z[j].re);
                let im = 0.5 * (r.im.abs() + z[j].im.abs());
                sym.push(C64::new(re, im));
                sym.push(C64::new(re, -im));
            }
            None => sym.push(C64::new(r.re, 0.0)),
        }
    }
    out.extend(sym);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_of_a_badly_scaled_polynomial() {
        // (s + 10)(s + 2e4)(s² + 2·0.1·500 s + 500²), coefficients 1 … 5e10.
        let p = poly_mul(
            &poly_mul(&[10.0, 1.0], &[2e4, 1.0]),
            &[500.0 * 500.0, 100.0, 1.0],
        );
        let r = roots(&p).unwrap();
        assert_eq!(r.len(), 4);
        for want in [
            C64::new(-10.0, 0.0),
            C64::new(-2e4, 0.0),
            C64::new(-50.0, (500.0f64 * 500.0 - 2500.0).sqrt()),
            C64::new(-50.0, -(500.0f64 * 500.0 - 2500.0).sqrt()),
        ] {
            let near = r
                .iter()
                .map(|x| x.sub(want).abs())
                .fold(f64::INFINITY, f64::min);
            assert!(near < 1e-9 * want.abs(), "{want:?} not in {r:?}");
        }
        assert_eq!(
            roots(&[0.0, 0.0, 3.0]).unwrap(),
            vec![C64::new(0.0, 0.0); 2]
        );
    }
}
