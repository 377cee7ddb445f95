//! The one oversampler: polyphase FIR oversampling by 1, 2, 4 or 8 for the
//! nonlinear stages (preamp, power amp) and the meter's true peak, and
//! first-order antiderivative antialiasing (ADAA) for the waveshaper that runs
//! at the high rate.
//!
//! The factor is a cascade of 2× stages. The outer stage (base rate ↔ 2×) is a
//! sharp linear-phase low-pass: flat to 0.42·fs (20 kHz at 48 kHz), ≥ 100 dB
//! down from fs/2 (24 kHz), so nothing the nonlinearity makes above the base
//! Nyquist folds back anywhere in the output band, not even into 20–24 kHz.
//! Inner stages only have to keep that band and reject their own images, so
//! they are short half-band filters. Every filter's length is chosen so that
//! the up-and-down round trip delays by a whole number of base-rate samples:
//! [`Oversampler::latency`] is exact (the ADAA adds another half sample at the
//! high rate, 1/(2·factor) of a base sample, which is left unreported).
//!
//! First-order ADAA is, on a linear stretch, a two-tap average: a droop of
//! cos(π·f/f_high), −0.47 dB at 20 kHz at 4× and −2 dB at 2×.
//! [`Oversampler::for_adaa`] folds the inverse of that droop into the outer
//! decimator (a 9-tap least-squares equaliser convolved into it), so the chain
//! stays flat within 0.001 dB to 20 kHz.
//!
//! Everything is allocated in `new`; the per-sample calls never allocate.

use std::f64::consts::PI;

/// The factors a node may ask for.
pub const FACTORS: [usize; 4] = [1, 2, 4, 8];

/// The allowed factor nearest to `x` (in octaves), for an integer param a
/// user may set to, say, 3.
pub fn nearest_factor(x: f64) -> usize {
    let x = if x.is_finite() {
        x.clamp(1.0, 8.0)
    } else {
        4.0
    };
    1usize << (x.log2().round() as u32).min(3)
}

/// Zeroth-order modified Bessel function (power series), for the Kaiser window.
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// A Kaiser-windowed sinc low-pass of length 2·half+1, cutoff `fc` as a
/// fraction of the sample rate, unity DC gain.
fn kaiser_lowpass(half: usize, fc: f64, beta: f64) -> Vec<f64> {
    let n = 2 * half + 1;
    let mut h: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 - half as f64;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * t).sin() / (PI * t)
            };
            let r = t / half as f64;
            sinc * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
        })
        .collect();
    let s: f64 = h.iter().sum();
    for v in h.iter_mut() {
        *v /= s;
    }
    h
}

/// Filter taps for the 2× stage number `stage` (1 = next to the base rate).
/// The length is 2^stage·k + 1, so the stage's round trip delays (len−1)/2^stage
/// base samples, a whole number.
fn stage_taps(stage: u32) -> Vec<f64> {
    let m = 1usize << stage;
    match stage {
        // Pass 0.4167, stop 0.5 of the base rate; Kaiser β for ~100 dB.
        // Transition 4 kHz at 96 kHz needs ~155 taps.
        1 => kaiser_lowpass(77, 22.0 / 96.0, 10.06),
        _ => {
            // Half-band (cutoff a quarter of this rate), ≥ 100 dB: flat within
            // 0.0002 dB over the base band (0–fs/2), stopped from where the
            // first image of the base band starts (1.5·fs at 4×, 3.5·fs at 8×).
            let half = match stage {
                2 => 15,
                _ => 11,
            };
            let mut h = kaiser_lowpass(half, 0.25, 10.0);
            // Pad with zeros to a length of the form m·k + 1.
            let len = h.len();
            let want = (len - 1).div_ceil(m) * m + 1;
            let pad = (want - len) / 2;
            let mut out = vec![0.0; pad];
            out.append(&mut h);
            out.resize(want, 0.0);
            out
        }
    }
}

/// Full linear convolution of two filters.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Taps each side of the ADAA equaliser (it runs at twice the base rate, so
/// an even number keeps the latency whole).
const EQ_HALF: usize = 4;

/// A symmetric FIR at twice the base rate whose response is 1/cos(π·f/f_high)
/// over 0–0.46·fs (least squares on a fine grid), f_high = factor·fs: the
/// inverse of a first-order ADAA's droop on linear signals.
fn adaa_equaliser(factor: usize) -> Vec<f64> {
    let k = EQ_HALF;
    let mut m = vec![vec![0.0f64; k + 1]; k + 1];
    let mut r = vec![0.0f64; k + 1];
    let points = 400;
    for i in 0..=points {
        // Frequency as a fraction of the base rate, 0 … 0.458 (22 kHz at 48 kHz).
        let f = 0.458 * i as f64 / points as f64;
        let w = PI * f; // radians per sample at twice the base rate
        let target = 1.0 / (PI * f / factor as f64).cos();
        let basis: Vec<f64> = (0..=k)
            .map(|j| {
                if j == 0 {
                    1.0
                } else {
                    2.0 * (j as f64 * w).cos()
                }
            })
            .collect();
        for a in 0..=k {
            r[a] += basis[a] * target;
            for b in 0..=k {
                m[a][b] += basis[a] * basis[b];
            }
        }
    }
    let c = solve(m, r);
    let mut h = vec![0.0; 2 * k + 1];
    h[k] = c[0];
    for j in 1..=k {
        h[k + j] = c[j];
        h[k - j] = c[j];
    }
    h
}

/// Gaussian elimination with partial pivoting (small, well-conditioned systems).
#[allow(clippy::needless_range_loop)] // textbook elimination, indices are the point
fn solve(mut m: Vec<Vec<f64>>, mut r: Vec<f64>) -> Vec<f64> {
    let n = r.len();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))
            .unwrap_or(col);
        m.swap(col, piv);
        r.swap(col, piv);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            for k in col..n {
                m[row][k] -= f * m[col][k];
            }
            r[row] -= f * r[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let mut acc = r[row];
        for k in row + 1..n {
            acc -= m[row][k] * x[k];
        }
        x[row] = acc / m[row][row];
    }
    x
}

/// History of recent samples, stored twice so a window is one contiguous slice.
#[derive(Clone, Debug)]
struct Delay {
    buf: Vec<f64>,
    len: usize,
    pos: usize,
}

impl Delay {
    fn new(len: usize) -> Delay {
        Delay {
            buf: vec![0.0; 2 * len.max(1)],
            len: len.max(1),
            pos: 0,
        }
    }

    #[inline]
    fn push(&mut self, x: f64) {
        self.pos = if self.pos == 0 {
            self.len - 1
        } else {
            self.pos - 1
        };
        self.buf[self.pos] = x;
        self.buf[self.pos + self.len] = x;
    }

    /// Newest first: [x[n], x[n−1], …], `len` long.
    #[inline]
    fn window(&self) -> &[f64] {
        &self.buf[self.pos..self.pos + self.len]
    }

    fn clear(&mut self) {
        self.buf.fill(0.0);
    }
}

#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One 2× interpolator: polyphase, each phase a short FIR on the low-rate history.
#[derive(Clone, Debug)]
struct Up {
    phases: [Vec<f64>; 2],
    hist: Delay,
}

impl Up {
    fn new(h: &[f64]) -> Up {
        // y[2n+p] = 2·Σ_k h[2k+p]·x[n−k]
        let p0: Vec<f64> = h.iter().step_by(2).map(|v| 2.0 * v).collect();
        let p1: Vec<f64> = h.iter().skip(1).step_by(2).map(|v| 2.0 * v).collect();
        let n = p0.len().max(p1.len());
        Up {
            phases: [p0, p1],
            hist: Delay::new(n),
        }
    }

    #[inline]
    fn tick(&mut self, x: f64) -> [f64; 2] {
        self.hist.push(x);
        let w = self.hist.window();
        [dot(&self.phases[0], w), dot(&self.phases[1], w)]
    }
}

/// One 2× decimator: y[n] = Σ_j h[j]·u[2n − j], computed once per pair.
#[derive(Clone, Debug)]
struct Down {
    h: Vec<f64>,
    hist: Delay,
}

impl Down {
    fn new(h: &[f64]) -> Down {
        Down {
            h: h.to_vec(),
            hist: Delay::new(h.len()),
        }
    }

    #[inline]
    fn tick(&mut self, pair: [f64; 2]) -> f64 {
        self.hist.push(pair[0]);
        let y = dot(&self.h, self.hist.window());
        self.hist.push(pair[1]);
        y
    }
}

/// Up- and down-sampling around a per-sample nonlinearity.
#[derive(Clone, Debug)]
pub struct Oversampler {
    factor: usize,
    ups: Vec<Up>,
    downs: Vec<Down>,
    latency: usize,
}

impl Oversampler {
    /// `factor` is rounded to 1, 2, 4 or 8.
    pub fn new(factor: usize) -> Oversampler {
        Oversampler::build(factor, false)
    }

    /// For a first-order ADAA shaper at the high rate: the decimator also
    /// undoes the ADAA's linear droop. At factor 1 this is [`Oversampler::new`]
    /// (there is nothing to fold the equaliser into; do not use ADAA there).
    pub fn for_adaa(factor: usize) -> Oversampler {
        Oversampler::build(factor, true)
    }

    fn build(factor: usize, adaa: bool) -> Oversampler {
        let factor = nearest_factor(factor as f64);
        let stages = factor.trailing_zeros();
        let mut ups = Vec::new();
        let mut downs = Vec::new();
        let mut latency2 = 0;
        for s in 1..=stages {
            let h = stage_taps(s);
            let hd = if s == 1 && adaa {
                convolve(&h, &adaa_equaliser(factor))
            } else {
                h.clone()
            };
            // Round trip in samples of this stage's high rate, then in base samples.
            let trip = (h.len() - 1) / 2 + (hd.len() - 1) / 2;
            latency2 += trip << (stages - s);
            ups.push(Up::new(&h));
            downs.push(Down::new(&hd));
        }
        let latency = latency2 >> stages;
        debug_assert_eq!(latency << stages, latency2);
        Oversampler {
            factor,
            ups,
            downs,
            latency,
        }
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Base-rate samples of delay from input to output (filters only).
    pub fn latency(&self) -> usize {
        self.latency
    }

    pub fn reset(&mut self) {
        for u in &mut self.ups {
            u.hist.clear();
        }
        for d in &mut self.downs {
            d.hist.clear();
        }
    }

    /// One base-rate sample through: upsample, `f` on each of the `factor`
    /// high-rate samples in time order, downsample.
    #[inline]
    pub fn process(&mut self, x: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
        let mut hi = [0.0f64; 8];
        self.upsample(x, &mut hi);
        for v in hi[..self.factor].iter_mut() {
            *v = f(*v);
        }
        self.downsample(&hi)
    }

    /// Upsample one base-rate sample into `out[..factor]` (in time order).
    #[inline]
    pub fn upsample(&mut self, x: f64, out: &mut [f64; 8]) {
        out[0] = x;
        let mut n = 1;
        for up in self.ups.iter_mut() {
            // Expand in place from the back so earlier values are read first.
            let mut tmp = [0.0f64; 8];
            for i in 0..n {
                let [a, b] = up.tick(out[i]);
                tmp[2 * i] = a;
                tmp[2 * i + 1] = b;
            }
            n *= 2;
            out[..n].copy_from_slice(&tmp[..n]);
        }
    }

    /// Downsample `hi[..factor]` (time order) to one base-rate sample.
    #[inline]
    pub fn downsample(&mut self, hi: &[f64; 8]) -> f64 {
        let mut buf = *hi;
        let mut n = self.factor;
        for down in self.downs.iter_mut().rev() {
            for i in 0..n / 2 {
                buf[i] = down.tick([buf[2 * i], buf[2 * i + 1]]);
            }
            n /= 2;
        }
        buf[0]
    }
}

/// A memoryless nonlinearity with its antiderivative, for ADAA.
pub trait Shaper {
    fn f(&self, x: f64) -> f64;
    /// First antiderivative of `f`.
    fn f1(&self, x: f64) -> f64;
}

/// First-order ADAA (Parker, Zavalishin, Le Bivic, DAFx-16):
/// y[n] = (F₁(x[n]) − F₁(x[n−1])) / (x[n] − x[n−1]), falling back to
/// f at the midpoint when the step is too small to divide by. Suppresses
/// aliasing by a further ~6 dB/oct below the rate it runs at, at the cost of
/// half a sample of delay and a gentle top-octave droop (negligible when
/// it runs oversampled).
#[derive(Clone, Debug, Default)]
pub struct Adaa {
    x1: f64,
    f1_x1: f64,
}

impl Adaa {
    pub fn new() -> Adaa {
        Adaa::default()
    }

    pub fn reset<S: Shaper>(&mut self, s: &S) {
        self.x1 = 0.0;
        self.f1_x1 = s.f1(0.0);
    }

    #[inline]
    pub fn tick<S: Shaper>(&mut self, s: &S, x: f64, eps: f64) -> f64 {
        let fx = s.f1(x);
        let d = x - self.x1;
        let y = if d.abs() > eps {
            (fx - self.f1_x1) / d
        } else {
            s.f(0.5 * (x + self.x1))
        };
        self.x1 = x;
        self.f1_x1 = fx;
        y
    }
}
