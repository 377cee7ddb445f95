//! Impedances and the loading they cause between stages.
//!
//! A source with output impedance Zs driving a load Zl delivers
//! V = V_open · Zl / (Zs + Zl). For resistive ends this is one number; a
//! speaker's Z(f) makes it a filter: the rational divider in s, of any
//! order (each distinct load adds its own), becomes a cascade of
//! second-order sections ([`Sos::design`]) that follows the analog magnitude
//! up to near Nyquist.

use serde::Serialize;

pub use crate::dsp::design::{bilinear, digital_design};
pub use crate::dsp::poly::{C64, poly_add, poly_eval, poly_mul};
use crate::dsp::sos::Sos;

/// An impedance as a function of s = jω.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Impedance {
    /// Not an electrical port (acoustic, digital) or an ideal source: no loading.
    None,
    /// A real, frequency-independent impedance in ohms.
    Ohms(f64),
    /// num(s) / den(s), coefficients in ascending powers of s.
    Rational { num: Vec<f64>, den: Vec<f64> },
}

impl Impedance {
    /// Thiele–Small driver: Z(s) = Re + s·Le + 1/(1/Res + s·Cmes + 1/(s·Lces)).
    pub fn thiele_small(re: f64, le_h: f64, fs_hz: f64, qes: f64, qms: f64) -> Impedance {
        let w = 2.0 * std::f64::consts::PI * fs_hz;
        let res = re * qms / qes;
        let cmes = qes / (w * re);
        let lces = re / (w * qes);
        // Mechanical branch: s·Lces·Res / (Res + s·Lces + s²·Lces·Cmes·Res).
        let mech_num = [0.0, lces * res];
        let mech_den = [res, lces, lces * cmes * res];
        let series = [re, le_h];
        let num = poly_add(&poly_mul(&series, &mech_den), &mech_num);
        Impedance::Rational {
            num,
            den: mech_den.to_vec(),
        }
    }

    /// Value at frequency `f` in Hz; `None` for no electrical impedance.
    pub fn at(&self, f: f64) -> Option<C64> {
        let s = C64::new(0.0, 2.0 * std::f64::consts::PI * f);
        match self {
            Impedance::None => None,
            Impedance::Ohms(r) => Some(C64::new(*r, 0.0)),
            Impedance::Rational { num, den } => Some(poly_eval(num, s).div(poly_eval(den, s))),
        }
    }

    /// Magnitude at `f`, infinite for `None`.
    pub fn magnitude(&self, f: f64) -> f64 {
        self.at(f).map_or(f64::INFINITY, C64::abs)
    }

    fn as_rational(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        match self {
            Impedance::None => None,
            Impedance::Ohms(r) => Some((vec![*r], vec![1.0])),
            Impedance::Rational { num, den } => Some((num.clone(), den.clone())),
        }
    }

    /// Loads in parallel. `None` (an open circuit) drops out. Equal loads
    /// are taken together first (k of Z are Z/k): combined one by one they
    /// would raise the order k-fold with common factors that cancel only on
    /// paper, and four speakers on one amp would make a 12th-order divider
    /// where a 3rd-order one is exact.
    pub fn parallel(loads: &[Impedance]) -> Impedance {
        let mut distinct: Vec<(&Impedance, usize)> = Vec::new();
        for l in loads {
            if *l == Impedance::None {
                continue;
            }
            match distinct.iter_mut().find(|(z, _)| *z == l) {
                Some(e) => e.1 += 1,
                None => distinct.push((l, 1)),
            }
        }
        let mut acc: Option<Impedance> = None;
        for (l, k) in distinct {
            let l = l.divided(k);
            acc = match (acc, l) {
                (None, l) => Some(l),
                (Some(Impedance::Ohms(a)), Impedance::Ohms(b)) => {
                    Some(Impedance::Ohms(a * b / (a + b)))
                }
                (Some(a), b) => {
                    let (n1, d1) = a.as_rational().expect("not None");
                    let (n2, d2) = b.as_rational().expect("not None");
                    // n1 n2 / (n1 d2 + n2 d1)
                    Some(Impedance::Rational {
                        num: poly_mul(&n1, &n2),
                        den: poly_add(&poly_mul(&n1, &d2), &poly_mul(&n2, &d1)),
                    })
                }
            };
        }
        acc.unwrap_or(Impedance::None)
    }

    /// k of this load in parallel.
    fn divided(&self, k: usize) -> Impedance {
        if k == 1 {
            return self.clone();
        }
        let k = k as f64;
        match self {
            Impedance::None => Impedance::None,
            Impedance::Ohms(r) => Impedance::Ohms(r / k),
            Impedance::Rational { num, den } => Impedance::Rational {
                num: num.clone(),
                den: den.iter().map(|c| c * k).collect(),
            },
        }
    }
}

/// The loading a source sees: how the open-circuit voltage becomes the
/// voltage at the terminals.
#[derive(Clone, Debug, PartialEq)]
pub enum Loading {
    Unity,
    Gain(f64),
    /// A cascade of second-order sections, from [`Sos::design`].
    Filter(Sos),
}

impl Loading {
    /// The divider Zl / (Zs + Zl) for a source and its (parallel) load.
    pub fn between(source: &Impedance, load: &Impedance, sample_rate: f64) -> Loading {
        match (source, load) {
            (Impedance::None, _) | (_, Impedance::None) => Loading::Unity,
            (Impedance::Ohms(zs), _) if *zs <= 0.0 => Loading::Unity,
            (Impedance::Ohms(zs), Impedance::Ohms(zl)) => Loading::Gain(zl / (zs + zl)),
            _ => {
                let (ns, ds) = source.as_rational().expect("not None");
                let (nl, dl) = load.as_rational().expect("not None");
                // H = (nl/dl) / (ns/ds + nl/dl) = nl·ds / (ns·dl + nl·ds)
                let num = poly_mul(&nl, &ds);
                let den = poly_add(&poly_mul(&ns, &dl), &num);
                match Sos::design(&num, &den, sample_rate) {
                    Some(f) => Loading::Filter(f),
                    // Not seen with real loads; the level at 1 kHz beats silence.
                    None => {
                        let s = C64::new(0.0, 2.0 * std::f64::consts::PI * 1000.0);
                        Loading::Gain(poly_eval(&num, s).div(poly_eval(&den, s)).abs())
                    }
                }
            }
        }
    }

    /// Gain at one frequency, for analysis and tests.
    pub fn response(&self, f: f64, sample_rate: f64) -> C64 {
        match self {
            Loading::Unity => C64::new(1.0, 0.0),
            Loading::Gain(g) => C64::new(*g, 0.0),
            Loading::Filter(sos) => sos.response(f, sample_rate),
        }
    }
}

/// Run-time state of one loading stage, owned by the plan on the audio thread.
#[derive(Clone, Debug)]
pub struct LoadingState {
    /// Current and target gain, ramped so impedance edits do not click.
    gain: f64,
    target: f64,
    step: f64,
    /// The filter with its running state (allocated when the plan is built).
    filter: Option<Sos>,
}

impl LoadingState {
    pub fn new(loading: &Loading) -> LoadingState {
        let mut s = LoadingState {
            gain: 1.0,
            target: 1.0,
            step: 0.0,
            filter: None,
        };
        match loading {
            Loading::Unity => {}
            Loading::Gain(g) => {
                s.gain = *g;
                s.target = *g;
            }
            Loading::Filter(f) => {
                let mut f = f.clone();
                f.reset();
                s.filter = Some(f);
            }
        }
        s
    }

    /// Carry the running state of the previous plan's stage into this one:
    /// the gain ramps from where it was, the filter keeps its memory (when
    /// it has the same shape and that memory is finite).
    pub fn inherit(&mut self, old: &LoadingState, ramp_frames: f64) {
        let target = self.target;
        self.gain = old.gain;
        self.step = (target - self.gain) / ramp_frames.max(1.0);
        if let (Some(f), Some(o)) = (self.filter.as_mut(), old.filter.as_ref()) {
            f.carry_state_from(o);
        }
    }

    /// Not ramping: the gain has reached its target.
    #[inline]
    pub fn is_settled(&self) -> bool {
        self.step == 0.0
    }

    /// A plain wire once any ramp ends: no filter, target gain 1.
    pub fn settles_to_unity(&self) -> bool {
        self.filter.is_none() && self.target == 1.0
    }

    #[inline]
    pub fn is_unity(&self) -> bool {
        self.filter.is_none() && self.gain == 1.0 && self.step == 0.0
    }

    /// Apply in place to one block. A filter whose state went non-finite
    /// (a NaN or infinity came in) starts again from silence after the
    /// block, so the fault lasts one block on this wire only.
    pub fn apply(&mut self, buf: &mut [f32]) {
        if let Some(f) = self.filter.as_mut() {
            for x in buf.iter_mut() {
                *x = f.tick(f64::from(*x)) as f32;
            }
            f.sanitize();
            return;
        }
        if self.step != 0.0 {
            for x in buf.iter_mut() {
                self.gain += self.step;
                if (self.step > 0.0 && self.gain >= self.target)
                    || (self.step < 0.0 && self.gain <= self.target)
                {
                    self.gain = self.target;
                    self.step = 0.0;
                }
                *x = (f64::from(*x) * self.gain) as f32;
            }
        } else if self.gain != 1.0 {
            let g = self.gain as f32;
            for x in buf.iter_mut() {
                *x *= g;
            }
        }
    }

    pub fn gain(&self) -> f64 {
        self.gain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::design::is_stable;

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn resistive_divider_matches_the_textbook_losses() {
        let l = Loading::between(&Impedance::Ohms(150.0), &Impedance::Ohms(1200.0), 48000.0);
        let g = l.response(1000.0, 48000.0).abs();
        assert!((db(g) + 1.02).abs() < 0.01, "{}", db(g));
        let l = Loading::between(&Impedance::Ohms(600.0), &Impedance::Ohms(600.0), 48000.0);
        assert!((db(l.response(1000.0, 48000.0).abs()) + 6.02).abs() < 0.01);
    }

    #[test]
    fn zero_source_impedance_is_unity() {
        assert_eq!(
            Loading::between(&Impedance::Ohms(0.0), &Impedance::Ohms(8.0), 48000.0),
            Loading::Unity
        );
    }

    #[test]
    fn thiele_small_peak_is_re_times_one_plus_qms_over_qes() {
        let z = Impedance::thiele_small(6.0, 0.0, 70.7, 0.34, 4.27);
        let peak = z.magnitude(70.7);
        let expect = 6.0 * (1.0 + 4.27 / 0.34);
        assert!((peak / expect - 1.0).abs() < 1e-6, "{peak} vs {expect}");
    }

    #[test]
    fn parallel_of_resistors_and_rational_agree() {
        let z = Impedance::parallel(&[Impedance::Ohms(8.0), Impedance::Ohms(8.0)]);
        assert_eq!(z, Impedance::Ohms(4.0));
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        let p = Impedance::parallel(&[spk.clone(), Impedance::Ohms(100_000.0)]);
        let f = 1000.0;
        let zs = spk.at(f).unwrap();
        let expect = zs.mul(C64::new(1e5, 0.0)).div(zs.add(C64::new(1e5, 0.0)));
        let got = p.at(f).unwrap();
        assert!((got.re - expect.re).abs() < 1e-9 && (got.im - expect.im).abs() < 1e-9);
    }

    #[test]
    fn speaker_loading_filter_follows_the_analog_divider_at_low_and_mid_frequencies() {
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        let l = Loading::between(&Impedance::Ohms(8.0), &spk, 48000.0);
        for f in [80.0, 1000.0] {
            let zl = spk.at(f).unwrap();
            let analog = zl.div(zl.add(C64::new(8.0, 0.0))).abs();
            let digital = l.response(f, 48000.0).abs();
            assert!(
                (db(digital) - db(analog)).abs() < 0.1,
                "{f}: {} vs {}",
                db(digital),
                db(analog)
            );
        }
    }

    #[test]
    fn speaker_loading_filter_follows_the_analog_divider_across_the_audio_band() {
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        for sr in [44100.0, 48000.0, 96000.0] {
            for (zs, tol) in [(0.05, 0.001), (2.0, 0.01), (8.0, 0.03), (30.0, 0.12)] {
                let l = Loading::between(&Impedance::Ohms(zs), &spk, sr);
                let Loading::Filter(sos) = &l else {
                    panic!("not a filter")
                };
                assert!(sos.sections().iter().all(|s| is_stable(&s.a)));
                let mut f = 20.0;
                while f < 20_000.0 {
                    let zl = spk.at(f).unwrap();
                    let analog = zl.div(zl.add(C64::new(zs, 0.0))).abs();
                    let digital = l.response(f, sr).abs();
                    assert!(
                        (db(digital) - db(analog)).abs() < tol,
                        "{sr} Hz, {zs} Ω, {f} Hz: {} vs {}",
                        db(digital),
                        db(analog)
                    );
                    f *= 1.1;
                }
            }
        }
    }

    #[test]
    fn loading_state_filter_matches_its_response_on_a_sine() {
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        let l = Loading::between(&Impedance::Ohms(8.0), &spk, 48000.0);
        let mut st = LoadingState::new(&l);
        let f = 1000.0;
        let n = 48000;
        let mut buf: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 48000.0).sin() as f32)
            .collect();
        for chunk in buf.chunks_mut(128) {
            st.apply(chunk);
        }
        let tail = &buf[24000..];
        let rms =
            (tail.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        let expect = l.response(f, 48000.0).abs() / 2f64.sqrt();
        assert!((db(rms) - db(expect)).abs() < 0.01);
    }

    /// Z(f) of a Thiele–Small driver straight from the circuit (series Re and
    /// Le, then Res ∥ Cmes ∥ Lces), not from the rational form under test.
    fn ts_at(re: f64, le: f64, fs: f64, qes: f64, qms: f64, f: f64) -> C64 {
        let w = 2.0 * std::f64::consts::PI * fs;
        let (res, cmes, lces) = (re * qms / qes, qes / (w * re), re / (w * qes));
        let jw = 2.0 * std::f64::consts::PI * f;
        let y = C64::new(1.0 / res, jw * cmes - 1.0 / (jw * lces));
        C64::new(re, jw * le).add(C64::new(1.0, 0.0).div(y))
    }

    #[test]
    fn equal_loads_in_parallel_keep_the_order_of_one() {
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        let Impedance::Rational { num, den } = Impedance::parallel(&vec![spk; 4]) else {
            panic!("not rational")
        };
        assert_eq!((num.len(), den.len()), (4, 3));
    }

    #[test]
    fn many_different_speakers_in_parallel_load_exactly() {
        // Up to eight drivers, all different: a divider of order up to 24.
        let params: Vec<(f64, f64, f64, f64, f64)> = (0..8)
            .map(|k| {
                let k = k as f64;
                (
                    4.0 + 0.7 * k,
                    0.0003 + 0.0001 * k,
                    40.0 + 23.0 * k,
                    0.35 + 0.05 * k,
                    3.0 + 0.4 * k,
                )
            })
            .collect();
        for n in 1..=8 {
            let loads: Vec<Impedance> = params[..n]
                .iter()
                .map(|p| Impedance::thiele_small(p.0, p.1, p.2, p.3, p.4))
                .collect();
            for zs in [0.05, 8.0] {
                let l =
                    Loading::between(&Impedance::Ohms(zs), &Impedance::parallel(&loads), 48_000.0);
                let Loading::Filter(sos) = &l else {
                    panic!("{n}: not a filter")
                };
                assert!(sos.sections().iter().all(|s| is_stable(&s.a)));
                let mut f = 20.0;
                while f <= 20_000.0 {
                    let y = params[..n].iter().fold(C64::new(0.0, 0.0), |acc, p| {
                        acc.add(C64::new(1.0, 0.0).div(ts_at(p.0, p.1, p.2, p.3, p.4, f)))
                    });
                    let zl = C64::new(1.0, 0.0).div(y);
                    let analog = zl.div(zl.add(C64::new(zs, 0.0))).abs();
                    let e = db(l.response(f, 48_000.0).abs()) - db(analog);
                    assert!(e.abs() < 0.25, "{n} drivers, {zs} Ω, {f:.0} Hz: {e:.3} dB");
                    f *= 2f64.powf(1.0 / 3.0);
                }
            }
        }
    }

    #[test]
    fn a_nan_into_a_loading_filter_recovers_after_the_block() {
        let spk = Impedance::thiele_small(6.4, 0.0005, 80.0, 0.6, 4.0);
        let l = Loading::between(&Impedance::Ohms(8.0), &spk, 48_000.0);
        let mut st = LoadingState::new(&l);
        let sine =
            |i: usize| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin() as f32;
        let mut block: Vec<f32> = (0..128).map(sine).collect();
        block[5] = f32::NAN;
        st.apply(&mut block);
        // The next plan inherits it: still nothing non-finite to carry on.
        let mut next = LoadingState::new(&l);
        next.inherit(&st, 240.0);
        let mut out = Vec::new();
        for b in 1..400 {
            let mut block: Vec<f32> = (b * 128..(b + 1) * 128).map(sine).collect();
            next.apply(&mut block);
            out.extend(block);
        }
        assert!(out.iter().all(|x| x.is_finite()));
        let tail = &out[24_000..];
        let rms =
            (tail.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        let expect = l.response(1000.0, 48_000.0).abs() / 2f64.sqrt();
        assert!(
            (db(rms) - db(expect)).abs() < 0.01,
            "{} vs {}",
            db(rms),
            db(expect)
        );
    }
}
