//! The one IIR type: a cascade of second-order sections ([`Biquad`]s), and
//! its design from a rational H(s) of any order.
//!
//! A direct-form filter of high order is hopeless in floating point (the
//! coefficients of a 12th-order polynomial in z⁻¹ cannot place poles near
//! z = 1), so H(s) is factored: up to order 3 the whole response is designed
//! at once ([`digital_design`]: bilinear, then a least-squares refinement of
//! the magnitude) and the digital result is factored into sections; above
//! that the analog poles and zeros are found, grouped into second-order
//! factors (each pole pair with the zeros nearest it in frequency) and each
//! factor is designed on its own. Either way the cascade, with one spare
//! section, is then refined as a whole (damped Gauss–Newton on the log
//! magnitude): within 0.01 dB of the analog divider over 20 Hz–20 kHz for
//! one to eight speakers behind 8 Ω. Every section is kept stable.

use super::biquad::Biquad;
use super::design::{digital_design, is_stable, least_squares};
use super::poly::{C64, poly_eval, poly_trim, roots};

/// Orders up to this are designed as one response, then factored.
const JOINT_MAX_ORDER: usize = 3;

/// A cascade of biquads, f64 state; allocated when designed, never while running.
#[derive(Clone, Debug, PartialEq)]
pub struct Sos {
    sections: Vec<Biquad>,
}

impl Sos {
    pub fn new(sections: Vec<Biquad>) -> Sos {
        Sos { sections }
    }

    pub fn sections(&self) -> &[Biquad] {
        &self.sections
    }

    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let mut y = x;
        for s in self.sections.iter_mut() {
            y = s.tick(y);
        }
        y
    }

    /// Complex response at `f` Hz.
    pub fn response(&self, f: f64, sr: f64) -> C64 {
        let w = 2.0 * std::f64::consts::PI * f / sr;
        self.sections
            .iter()
            .fold(C64::new(1.0, 0.0), |acc, s| acc.mul(s.response(w)))
    }

    /// Magnitude at `f` Hz.
    pub fn magnitude(&self, f: f64, sr: f64) -> f64 {
        self.sections.iter().map(|s| s.magnitude(f, sr)).product()
    }

    /// Scale the whole cascade's gain.
    pub fn scale(&mut self, g: f64) {
        if let Some(s) = self.sections.first_mut() {
            s.b.iter_mut().for_each(|c| *c *= g);
        }
    }

    pub fn reset(&mut self) {
        self.sections.iter_mut().for_each(Biquad::reset);
    }

    /// After a block: a cascade whose state went non-finite (a NaN came in,
    /// or an overflow) starts again from silence, all its sections at once
    /// so no half-cleared state rings on; denormal-small state is flushed.
    /// Returns whether it had to start again.
    #[inline]
    pub fn sanitize(&mut self) -> bool {
        if self.sections.iter().all(Biquad::is_finite) {
            self.sections.iter_mut().for_each(Biquad::sanitize);
            false
        } else {
            self.reset();
            true
        }
    }

    /// Carry the running state of `old` over when it has the same shape.
    pub fn carry_state_from(&mut self, old: &Sos) {
        if self.sections.len() == old.sections.len() && old.sections.iter().all(Biquad::is_finite) {
            for (s, o) in self.sections.iter_mut().zip(&old.sections) {
                s.set_state(o.state());
            }
        }
    }

    /// A digital filter following H(s) = num/den (ascending powers of s) at
    /// `sample_rate`; `None` when the response cannot be factored (not finite,
    /// improper, or no roots found).
    pub fn design(num: &[f64], den: &[f64], sample_rate: f64) -> Option<Sos> {
        let (num, den) = (poly_trim(num), poly_trim(den));
        if num.is_empty() || den.is_empty() || num.len() > den.len() {
            return None;
        }
        let order = den.len() - 1;
        if order == 0 {
            let g = num[0] / den[0];
            return g
                .is_finite()
                .then(|| Sos::new(vec![Biquad::normalised([g, 0.0, 0.0], [1.0, 0.0, 0.0])]));
        }
        if order <= JOINT_MAX_ORDER {
            let (b, a) = digital_design(num, den, sample_rate);
            if let Some(mut s) = Sos::from_direct(&b, &a) {
                s.refine(num, den, sample_rate);
                return Some(s);
            }
        }
        Sos::design_factored(num, den, sample_rate)
    }

    /// Factor a direct-form `b / a` (ascending in z⁻¹) into sections.
    pub fn from_direct(b: &[f64], a: &[f64]) -> Option<Sos> {
        let (b, a) = (poly_trim(b), poly_trim(a));
        if a.is_empty() || a[0] == 0.0 || b.len() > a.len() {
            return None;
        }
        if b.is_empty() {
            return Some(Sos::new(vec![Biquad::normalised(
                [0.0; 3],
                [1.0, 0.0, 0.0],
            )]));
        }
        if b[0] == 0.0 {
            // A pure delay in front: no factor form of this kind.
            return None;
        }
        // b0 + b1 z⁻¹ + … + bn z⁻ⁿ = z⁻ⁿ (b0 zⁿ + … + bn): roots of the reversed polynomial.
        let rev = |p: &[f64]| p.iter().rev().copied().collect::<Vec<f64>>();
        let zeros = roots(&rev(b))?;
        let poles = roots(&rev(a))?;
        // z-plane roots are compared by the analog frequency they stand for, |ln z|.
        let key = |r: C64| r.abs().max(1e-300).ln().hypot(r.im.atan2(r.re));
        let pairs = pair(groups(&poles, key), groups(&zeros, key));
        let factor = |g: &Group| match g.roots.as_slice() {
            [r] => [1.0, -r.re, 0.0],
            [r1, r2] => {
                let (s, p) = (r1.add(*r2), r1.mul(*r2));
                [1.0, -s.re, p.re]
            }
            _ => [1.0, 0.0, 0.0],
        };
        let mut s = Sos::new(
            pairs
                .iter()
                .map(|(z, p)| {
                    Biquad::normalised(z.as_ref().map_or([1.0, 0.0, 0.0], factor), factor(p))
                })
                .collect(),
        );
        s.scale(b[0] / a[0]);
        s.is_sound().then_some(s)
    }

    /// Above [`JOINT_MAX_ORDER`]: analog roots, second-order factors, each
    /// designed on its own.
    fn design_factored(num: &[f64], den: &[f64], sr: f64) -> Option<Sos> {
        // Magnitude is what is designed, so roots in the right half plane are
        // reflected into the left (same |H(jω)| up to the gain kept below).
        let lhp = |r: C64| C64::new(-r.re.abs(), r.im);
        let zeros: Vec<C64> = roots(num)?.into_iter().map(lhp).collect();
        let poles: Vec<C64> = roots(den)?.into_iter().map(lhp).collect();
        let key = |r: C64| r.abs().max(1e-300);
        let pairs = pair(groups(&poles, key), groups(&zeros, key));
        // Monic factor in s, ascending.
        let factor = |g: &Group| -> Vec<f64> {
            match g.roots.as_slice() {
                [r] => vec![-r.re, 1.0],
                [r1, r2] => {
                    let (s, p) = (r1.add(*r2), r1.mul(*r2));
                    vec![p.re, -s.re, 1.0]
                }
                _ => vec![1.0],
            }
        };
        let f_ref = 1000f64.min(0.25 * sr);
        let s_ref = C64::new(0.0, 2.0 * std::f64::consts::PI * f_ref);
        let mut gain = num[num.len() - 1] / den[den.len() - 1];
        let mut sections = Vec::with_capacity(pairs.len());
        for (z, p) in &pairs {
            let mut n = z.as_ref().map_or(vec![1.0], factor);
            let d = factor(p);
            // Each section near 0 dB at f_ref, so no section's level runs away.
            let m = poly_eval(&n, s_ref).div(poly_eval(&d, s_ref)).abs();
            if m.is_finite() && m > 0.0 {
                n.iter_mut().for_each(|c| *c /= m);
                gain *= m;
            }
            let (b, a) = digital_design(&n, &d, sr);
            let pad = |v: &[f64]| [0, 1, 2].map(|i| v.get(i).copied().unwrap_or(0.0));
            sections.push(Biquad::normalised(pad(&b), pad(&a)));
        }
        let mut s = Sos::new(sections);
        s.scale(gain);
        if !s.is_sound() {
            return None;
        }
        s.refine(num, den, sr);
        Some(s)
    }

    /// Each section was fitted to its own factor, so their errors add up
    /// (0.3 dB for two speakers behind 8 Ω). A few damped Gauss–Newton steps
    /// on all the sections' coefficients at once fit the log magnitude of the
    /// whole cascade, with Lawson weights leaning toward the worst-case
    /// error; a step is taken only if every section stays stable and the
    /// worst error falls.
    fn refine(&mut self, num: &[f64], den: &[f64], sr: f64) {
        // One section more than the analog order gives the fit the freedom
        // to undo the bilinear warp toward Nyquist (0.17 dB → ~0.01 dB for
        // eight drivers behind 8 Ω); it starts as a plain wire.
        self.sections.push(Biquad::IDENTITY);
        let points = 200usize;
        let (f_lo, f_hi) = (10.0f64, 0.46 * sr);
        let mut grid: Vec<(C64, f64)> = Vec::with_capacity(points);
        for i in 0..points {
            let f = f_lo * (f_hi / f_lo).powf(i as f64 / (points - 1) as f64);
            let s = C64::new(0.0, 2.0 * std::f64::consts::PI * f);
            let h = poly_eval(num, s).div(poly_eval(den, s)).abs();
            if h.is_finite() && h > 1e-12 {
                let w = 2.0 * std::f64::consts::PI * f / sr;
                grid.push((C64::new(w.cos(), -w.sin()), h.ln()));
            }
        }
        if grid.is_empty() {
            return;
        }
        let eval = |p: &[f64], zinv: C64| {
            let mut b = C64::new(p[0], 0.0);
            let mut a = C64::new(1.0, 0.0);
            let mut zp = C64::new(1.0, 0.0);
            for i in 1..3 {
                zp = zp.mul(zinv);
                b = b.add(zp.scale(p[i]));
                a = a.add(zp.scale(p[2 + i]));
            }
            (b, a)
        };
        let residuals = |p: &[f64]| -> Vec<f64> {
            grid.iter()
                .map(|&(zinv, t)| {
                    let mut h = C64::new(1.0, 0.0);
                    for sec in p.chunks(5) {
                        let (b, a) = eval(sec, zinv);
                        h = h.mul(b.div(a));
                    }
                    h.abs().ln() - t
                })
                .collect()
        };
        let worst = |r: &[f64]| {
            r.iter().fold(0.0f64, |m, e| {
                if e.is_finite() {
                    m.max(e.abs())
                } else {
                    f64::INFINITY
                }
            })
        };
        let stable = |p: &[f64]| p.chunks(5).all(|c| is_stable(&[1.0, c[3], c[4]]));
        let mut p: Vec<f64> = self
            .sections
            .iter()
            .flat_map(|s| [s.b[0], s.b[1], s.b[2], s.a[1], s.a[2]])
            .collect();
        let cols = p.len();
        let mut r = residuals(&p);
        let mut best = (worst(&r), p.clone());
        let mut weight = vec![1.0f64; grid.len()];
        let mut mu = 1e-3f64;
        for _ in 0..60 {
            if best.0 < 1e-5 {
                break;
            }
            let rows = grid.len() + cols;
            let mut m = vec![0.0; rows * cols];
            let mut rhs = vec![0.0; rows];
            for (k, &(zinv, _)) in grid.iter().enumerate() {
                let sw = weight[k].sqrt();
                for (si, sec) in p.chunks(5).enumerate() {
                    let (b, a) = eval(sec, zinv);
                    let mut zp = C64::new(1.0, 0.0);
                    for i in 0..3 {
                        // d ln|H| / d b_i = Re(z⁻ⁱ/B), d ln|H| / d a_i = −Re(z⁻ⁱ/A).
                        m[k * cols + si * 5 + i] = sw * zp.div(b).re;
                        if i > 0 {
                            m[k * cols + si * 5 + 2 + i] = -sw * zp.div(a).re;
                        }
                        zp = zp.mul(zinv);
                    }
                }
                rhs[k] = -sw * r[k];
            }
            // Levenberg–Marquardt damping, which also pins the gain that
            // could move freely between sections.
            for j in 0..cols {
                let norm = (0..grid.len())
                    .map(|k| m[k * cols + j].powi(2))
                    .sum::<f64>()
                    .sqrt();
                m[(grid.len() + j) * cols + j] = mu.sqrt() * norm.max(1e-12);
            }
            let Some(step) = least_squares(&mut m, &mut rhs, rows, cols) else {
                break;
            };
            let trial: Vec<f64> = p.iter().zip(&step).map(|(x, d)| x + d).collect();
            let tr = residuals(&trial);
            let cost = |r: &[f64]| r.iter().zip(&weight).map(|(e, w)| w * e * e).sum::<f64>();
            let tc = cost(&tr);
            if trial.iter().all(|v| v.is_finite()) && stable(&trial) && tc < cost(&r) {
                p = trial;
                r = tr;
                mu = (mu * 0.3).max(1e-9);
                let e = worst(&r);
                if e < best.0 {
                    best = (e, p.clone());
                }
            } else {
                mu *= 10.0;
                if mu > 1e4 {
                    break;
                }
                continue;
            }
            let mut total = 0.0;
            for (w, e) in weight.iter_mut().zip(&r) {
                *w *= e.abs() + 1e-9;
                total += *w;
            }
            if !(total > 0.0 && total.is_finite()) {
                break;
            }
            let norm = grid.len() as f64 / total;
            weight.iter_mut().for_each(|w| *w *= norm);
        }
        let p = best.1;
        for (s, c) in self.sections.iter_mut().zip(p.chunks(5)) {
            *s = Biquad::normalised([c[0], c[1], c[2]], [1.0, c[3], c[4]]);
        }
    }

    /// Finite coefficients and every section stable.
    fn is_sound(&self) -> bool {
        self.sections
            .iter()
            .all(|s| s.b.iter().chain(&s.a).all(|c| c.is_finite()) && is_stable(&s.a))
    }
}

/// One or two roots (a conjugate pair, or two real roots) that make one
/// real factor of degree 1 or 2, with the frequency it stands for.
#[derive(Clone, Debug)]
struct Group {
    roots: Vec<C64>,
    key: f64,
}

/// Conjugate pairs as they come (adjacent, from [`roots`]); real roots
/// sorted and taken two by two, a last odd one alone.
fn groups(rs: &[C64], key: impl Fn(C64) -> f64) -> Vec<Group> {
    let mut out = Vec::new();
    let mut reals = Vec::new();
    let mut i = 0;
    while i < rs.len() {
        if rs[i].im == 0.0 || i + 1 == rs.len() {
            reals.push(C64::new(rs[i].re, 0.0));
            i += 1;
        } else {
            out.push(Group {
                roots: vec![rs[i], rs[i + 1]],
                key: key(rs[i]),
            });
            i += 2;
        }
    }
    reals.sort_by(|a, b| key(*a).total_cmp(&key(*b)));
    for c in reals.chunks(2) {
        let k = c.iter().map(|r| key(*r).max(1e-300).ln()).sum::<f64>() / c.len() as f64;
        out.push(Group {
            roots: c.to_vec(),
            key: k.exp(),
        });
    }
    out
}

/// Zeros to poles, each section proper: a lone real zero with a lone real
/// pole when both exist, then every zero factor with the unused pole factor
/// of degree 2 nearest it in (log) frequency.
fn pair(poles: Vec<Group>, zeros: Vec<Group>) -> Vec<(Option<Group>, Group)> {
    let (mut pole1, mut pole2): (Vec<Group>, Vec<Group>) =
        poles.into_iter().partition(|g| g.roots.len() == 1);
    let (mut zero1, zero2): (Vec<Group>, Vec<Group>) =
        zeros.into_iter().partition(|g| g.roots.len() == 1);
    let mut out: Vec<(Option<Group>, Group)> = Vec::new();
    // (At most one lone root of each; a second would have been paired.)
    if let Some(p) = pole1.pop() {
        out.push((zero1.pop(), p));
    }
    pole2.sort_by(|a, b| a.key.total_cmp(&b.key));
    let mut slots: Vec<(Option<Group>, Group)> = pole2.into_iter().map(|p| (None, p)).collect();
    let mut rest = zero2;
    rest.extend(zero1);
    rest.sort_by(|a, b| a.key.total_cmp(&b.key));
    for z in rest {
        let free = slots
            .iter_mut()
            .filter(|(taken, _)| taken.is_none())
            .min_by(|a, b| {
                let d = |g: &Group| (g.key.max(1e-300) / z.key.max(1e-300)).ln().abs();
                d(&a.1).total_cmp(&d(&b.1))
            });
        match free {
            Some(slot) => slot.0 = Some(z),
            // More zero factors than pole factors: cannot happen for a proper H.
            None => return Vec::new(),
        }
    }
    out.extend(slots);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::poly::poly_mul;

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn a_direct_form_factors_into_the_same_response() {
        // Three poles, three zeros, poles close to z = 1 as a bass resonance puts them.
        let a = poly_mul(&poly_mul(&[1.0, -1.98, 0.9802], &[1.0, -0.5]), &[1.0]);
        let b = poly_mul(&[0.3, 0.1, 0.05], &[1.0, 0.2]);
        let s = Sos::from_direct(&b, &a).unwrap();
        for f in [10.0, 100.0, 1000.0, 10_000.0, 20_000.0] {
            let direct = crate::dsp::biquad::response(&b, &a, f, 48_000.0);
            assert!(
                (db(s.magnitude(f, 48_000.0)) - db(direct)).abs() < 1e-9,
                "{f}"
            );
        }
    }

    #[test]
    fn a_high_order_response_is_designed_stable_and_close() {
        // Eight resonances spread over the band, each with a zero pair beside it:
        // order 16, far past what a direct form could hold.
        let mut num = vec![1.0];
        let mut den = vec![1.0];
        for k in 0..8 {
            let w = 2.0 * std::f64::consts::PI * 40.0 * 2f64.powi(k);
            num = poly_mul(&num, &[w * w * 1.2, 1.3 * w / 2.0, 1.0]);
            den = poly_mul(&den, &[w * w, w / 3.0, 1.0]);
        }
        let s = Sos::design(&num, &den, 48_000.0).unwrap();
        // Eight factors and the one the refinement adds.
        assert_eq!(s.sections().len(), 9);
        let mut f = 20.0;
        while f < 20_000.0 {
            let jw = C64::new(0.0, 2.0 * std::f64::consts::PI * f);
            let analog = poly_eval(&num, jw).div(poly_eval(&den, jw)).abs();
            let e = db(s.magnitude(f, 48_000.0)) - db(analog);
            assert!(e.abs() < 0.25, "{f} Hz: {e} dB");
            f *= 2f64.powf(1.0 / 6.0);
        }
    }
}
