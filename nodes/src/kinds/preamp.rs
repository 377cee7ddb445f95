//! `preamp`: a mic or instrument preamplifier to line level.
//!
//! Signal path, per sample: the input (already loaded by the engine: the
//! source impedance against `z_in_ohm`) → pad → + input-referred noise →
//! drive gain → nonlinear stage (oversampled, ADAA) → output gain (→ DC block
//! for the tube) → out, as an open-circuit voltage behind 50 Ω.
//!
//! - `clean`: a linear amplifier whose output bends smoothly into the rail:
//!   exactly linear up to 90 % of the peak of a `clip_dbu` sine, then a tanh
//!   knee that never passes that peak. Below the knee it adds no distortion.
//! - `tube_12ax7`: one common-cathode 12AX7 stage (B+ 300 V, Ra 100 kΩ,
//!   Rk 1.5 kΩ bypassed: Vk 1.46 V, Ip 0.97 mA, Vp 203 V, gain ×61), from the
//!   Koren triode equation (µ 100, Ex 1.4, kG1 1060, kP 600, kVB 300) solved
//!   on its load line, with grid current through a 33 kΩ source into a 2 kΩ
//!   grid-cathode diode. Solved once into a table. Moderate drive gives mostly
//!   2nd harmonic (the curvature of the triode); hard drive clips at cutoff on
//!   one side and grid current on the other, mostly 3rd. `gain_db` is the
//!   small-signal gain of the whole preamp, so it doubles as the drive: the
//!   plate swing at cutoff (97 V) is scaled to the peak of a `clip_dbu` sine,
//!   and the grid sees the input raised by `gain_db − 20.8 dB` (at the default
//!   +24 dBu): a −10 dBu guitar at 30 dB gain swings the grid ±1 V, about
//!   where grid current begins. Polarity is kept (as after a second,
//!   inverting stage).
//!
//! Noise: `ein_dbu` is the equivalent input noise over 20 Hz–20 kHz,
//! unweighted, as data sheets quote it, i.e. measured with a 150 Ω source, so
//! it already contains that source's thermal noise (−130.8 dBu). The node adds
//! exactly that noise at its input terminals, whatever drives it, so the output
//! noise is EIN + gain_db (the pad sits before the noise, so it does not
//! lower it). Sources modelled with their own noise add on top.
//!
//! Latency: the oversampler's linear-phase filters, reported by `latency()`
//! (87 samples at 4×, 79 at 2×, 90 at 8×, 0 at 1×); the ADAA adds another
//! 1/(2·factor) sample. At 1× there is no ADAA (its droop would be −12 dB at
//! 20 kHz) and aliasing is left as it is: choose 1× only to save CPU.

use crate::desc::*;
use crate::measure::sine_rms_through;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{
    Adaa, Oversampler, Rng, Shaper, Smoother, db_to_gain, dbu_to_v, nearest_factor,
    white_total_factor,
};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};
use std::sync::OnceLock;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const MODEL: ParamId<Choice> = ParamId::new(0, "model");
pub const GAIN_DB: ParamId<Num> = ParamId::new(1, "gain_db");
pub const PAD_DB: ParamId<Num> = ParamId::new(2, "pad_db");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(3, "z_in_ohm");
pub const EIN_DBU: ParamId<Num> = ParamId::new(4, "ein_dbu");
pub const CLIP_DBU: ParamId<Num> = ParamId::new(5, "clip_dbu");
pub const OVERSAMPLE: ParamId<Num> = ParamId::new(6, "oversample");

/// Output impedance of the line driver.
pub const Z_OUT_OHM: f64 = 50.0;

/// Input impedances from this up are instrument (Hi-Z) inputs.
const HI_Z_OHM: f64 = 100_000.0;

const MODELS: &[&str] = &["clean", "tube_12ax7"];

pub struct Preamp {
    spec: KindSpec,
}

impl Preamp {
    pub fn new() -> Preamp {
        Preamp {
            spec: KindSpec {
                kind: "preamp".into(),
                help: "Mic or instrument preamp to line level: gain, pad, input impedance, noise (EIN), soft clipping; clean or a 12AX7 tube stage.".into(),
                ports: vec![
                    input(
                        "in",
                        Domain::Mic,
                        "Mic or instrument volts, loaded by z_in_ohm (instrument when z_in_ohm ≥ 100 kΩ).",
                    ),
                    output("out", Domain::Line, "Line-level volts, 50 Ω source."),
                ],
                params: vec![
                    choice(
                        MODEL,
                        MODELS,
                        "clean",
                        "clean (solid state, soft clip at clip_dbu) or tube_12ax7 (one triode stage).",
                    ),
                    number(
                        GAIN_DB,
                        0.0,
                        70.0,
                        40.0,
                        "dB",
                        "Small-signal gain from the input terminals to the output.",
                    ).live(),
                    number(
                        PAD_DB,
                        0.0,
                        30.0,
                        0.0,
                        "dB",
                        "Input attenuator before the amplifier (usually 0 or 20 dB); it does not lower the noise.",
                    ).live(),
                    log_number(
                        Z_IN_OHM,
                        100.0,
                        10e6,
                        1200.0,
                        "Ω",
                        "Input impedance: 1.2–10 kΩ for mics, about 1 MΩ for instruments.",
                    ),
                    number(
                        EIN_DBU,
                        -140.0,
                        -90.0,
                        -128.0,
                        "dBu",
                        "Equivalent input noise, 20 Hz–20 kHz unweighted, 150 Ω source (−130.8 dBu is the source's own floor).",
                    ).live(),
                    number(
                        CLIP_DBU,
                        0.0,
                        40.0,
                        24.0,
                        "dBu",
                        "Output clip level: the largest sine the output can swing.",
                    ).live(),
                    integer(
                        OVERSAMPLE,
                        1.0,
                        8.0,
                        4.0,
                        "Oversampling of the nonlinear stage: 1, 2, 4 or 8 (others round to the nearest).",
                    ),
                ],
            },
        }
    }
}

impl Default for Preamp {
    fn default() -> Self {
        Preamp::new()
    }
}

/// Total rms of white noise at `sr` that puts `band_rms` into 20 Hz–20 kHz.
fn white_total(band_rms: f64, sr: f64) -> f64 {
    band_rms * white_total_factor(sr)
}

impl NodeKind for Preamp {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    /// Its filters delay the signal: the built processor says by how much.
    fn latency(&self, params: &Params, env: &mut BuildEnv) -> usize {
        ohmpatch_engine::latency_of_built(self, params, env)
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        let z_in = params.num(Z_IN_OHM);
        let in_domain = if z_in >= HI_Z_OHM {
            Domain::Instrument
        } else {
            Domain::Mic
        };
        vec![
            port(in_domain, Impedance::Ohms(z_in)),
            port(Domain::Line, Impedance::Ohms(Z_OUT_OHM)),
        ]
    }

    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let g = db_to_gain(params.num(GAIN_DB));
        let pad = db_to_gain(-params.num(PAD_DB));
        let inp = Level::sum(inputs);
        let ein = dbu_to_v(params.num(EIN_DBU)) * ctx.noise_in_band(0.0);
        let (drive, out) = shaper_gains(params);
        // The test sine through the stage's own curve, so that a stage driven
        // into its knee (a tube compressing) is predicted as it will sound.
        let rms_in = inp.signal * pad * drive;
        let signal = out
            * match params.choice(MODEL) {
                1 => sine_rms_through(|x| tube_table().f(x), rms_in),
                _ => sine_rms_through(|x| SoftClip.f(x), rms_in),
            };
        StageAnalysis {
            outputs: vec![Level {
                signal,
                noise: (inp.noise * pad * g).hypot(ein * g),
                clip: dbu_to_v(params.num(CLIP_DBU)),
            }],
            warnings: Vec::new(),
        }
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let factor = nearest_factor(params.num(OVERSAMPLE));
        let common = Common::new(params, env, factor);
        Ok(match params.choice(MODEL) {
            1 => Box::new(PreampProc::new(tube_table(), common, true)),
            _ => Box::new(PreampProc::new(SoftClip, common, false)),
        })
    }
}

/// The clean model's normalised transfer: rail at ±1, linear below `KNEE`.
#[derive(Clone, Copy, Debug)]
pub struct SoftClip;

/// Where the clean model's curve leaves the straight line, as a fraction of the rail.
pub const KNEE: f64 = 0.9;

/// ln cosh x without overflow.
#[inline]
fn ln_cosh(x: f64) -> f64 {
    let a = x.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

impl Shaper for SoftClip {
    #[inline]
    fn f(&self, x: f64) -> f64 {
        let a = x.abs();
        if a <= KNEE {
            x
        } else {
            let w = 1.0 - KNEE;
            (KNEE + w * ((a - KNEE) / w).tanh()).copysign(x)
        }
    }

    #[inline]
    fn f1(&self, x: f64) -> f64 {
        let a = x.abs();
        if a <= KNEE {
            0.5 * x * x
        } else {
            let w = 1.0 - KNEE;
            KNEE * a + w * w * ln_cosh((a - KNEE) / w) - 0.5 * KNEE * KNEE
        }
    }
}

impl Shaper for &'static TubeTable {
    #[inline]
    fn f(&self, x: f64) -> f64 {
        self.eval(x).0
    }
    #[inline]
    fn f1(&self, x: f64) -> f64 {
        self.eval(x).1
    }
}

/// Gains and scales that turn a normalised shaper into the preamp.
struct Common {
    sr: f64,
    /// Slope of the shaper at 0 and its output at full swing (1 for the clean one).
    slope0: f64,
    swing: f64,
    gain_db: f64,
    clip_dbu: f64,
    pad: Smoother,
    drive: Smoother,
    out: Smoother,
    noise: f64,
    rng: Rng,
    factor: usize,
}

impl Common {
    fn new(params: &Params, env: &BuildEnv, factor: usize) -> Common {
        let sr = env.sample_rate;
        let (slope0, swing) = match params.choice(MODEL) {
            1 => (tube_table().slope0, tube_table().swing),
            _ => (1.0, 1.0),
        };
        let mut c = Common {
            sr,
            slope0,
            swing,
            gain_db: params.num(GAIN_DB),
            clip_dbu: params.num(CLIP_DBU),
            pad: Smoother::new(db_to_gain(-params.num(PAD_DB)), 10.0, sr),
            drive: Smoother::new(0.0, 10.0, sr),
            out: Smoother::new(0.0, 10.0, sr),
            noise: white_total(dbu_to_v(params.num(EIN_DBU)), sr),
            rng: Rng::new(env.node_seed()),
            factor,
        };
        let (d, o) = c.gains();
        c.drive.reset(d);
        c.out.reset(o);
        c
    }

    /// (drive into the shaper, scale after it) for the current gain and clip level.
    fn gains(&self) -> (f64, f64) {
        gains_for(self.gain_db, self.clip_dbu, self.slope0, self.swing)
    }

    fn retarget(&mut self) {
        let (d, o) = self.gains();
        self.drive.set(d);
        self.out.set(o);
    }
}

/// (drive into the shaper, scale after it): the small-signal gain is
/// `gain_db` and the curve's rail lands at `clip_dbu` (as a peak).
fn gains_for(gain_db: f64, clip_dbu: f64, slope0: f64, swing: f64) -> (f64, f64) {
    let rail = dbu_to_v(clip_dbu) * std::f64::consts::SQRT_2;
    let out = rail / swing;
    let drive = db_to_gain(gain_db) / (out * slope0);
    (drive, out)
}

/// [`gains_for`] from a node's params.
fn shaper_gains(params: &Params) -> (f64, f64) {
    let (slope0, swing) = match params.choice(MODEL) {
        1 => (tube_table().slope0, tube_table().swing),
        _ => (1.0, 1.0),
    };
    gains_for(params.num(GAIN_DB), params.num(CLIP_DBU), slope0, swing)
}

/// One-pole DC blocker (5 Hz), as the coupling capacitor after a plate.
#[derive(Clone, Copy, Debug)]
struct DcBlock {
    r: f64,
    x1: f64,
    y1: f64,
}

impl DcBlock {
    fn new(sr: f64) -> DcBlock {
        DcBlock {
            r: (-2.0 * std::f64::consts::PI * 5.0 / sr).exp(),
            x1: 0.0,
            y1: 0.0,
        }
    }
    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = x - self.x1 + self.r * self.y1;
        self.x1 = x;
        self.y1 = y;
        y
    }
}

struct PreampProc<S: Shaper> {
    shaper: S,
    c: Common,
    os: Oversampler,
    adaa: Adaa,
    dc: Option<DcBlock>,
}

impl<S: Shaper> PreampProc<S> {
    fn new(shaper: S, c: Common, dc_block: bool) -> PreampProc<S> {
        let mut adaa = Adaa::new();
        adaa.reset(&shaper);
        PreampProc {
            os: Oversampler::for_adaa(c.factor),
            dc: dc_block.then(|| DcBlock::new(c.sr)),
            shaper,
            c,
            adaa,
        }
    }

    fn reset(&mut self) {
        self.os.reset();
        self.adaa.reset(&self.shaper);
        if let Some(d) = self.dc.as_mut() {
            *d = DcBlock::new(self.c.sr);
        }
    }
}

impl<S: Shaper + Send> Processor for PreampProc<S> {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let inp = inputs.first().copied().unwrap_or(&[]);
        for (i, o) in out.iter_mut().enumerate() {
            let x = inp.get(i).map_or(0.0, |v| f64::from(*v));
            let x = if x.is_finite() { x } else { 0.0 };
            let c = &mut self.c;
            let u = (x * c.pad.next() + c.noise * c.rng.gaussian()) * c.drive.next();
            let y = if c.factor == 1 {
                self.shaper.f(u)
            } else {
                let (shaper, adaa) = (&self.shaper, &mut self.adaa);
                self.os.process(u, |v| adaa.tick(shaper, v, 1e-6))
            };
            let mut y = y * self.c.out.next();
            if let Some(d) = self.dc.as_mut() {
                y = d.tick(y);
            }
            if y.is_finite() {
                *o = y as f32;
            } else {
                *o = 0.0;
                self.reset();
            }
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if !value.is_finite() {
            return;
        }
        match index {
            i if i == GAIN_DB.index() => {
                self.c.gain_db = value;
                self.c.retarget();
            }
            i if i == PAD_DB.index() => self.c.pad.set(db_to_gain(-value)),
            i if i == EIN_DBU.index() => self.c.noise = white_total(dbu_to_v(value), self.c.sr),
            i if i == CLIP_DBU.index() => {
                self.c.clip_dbu = value;
                self.c.retarget();
            }
            _ => {}
        }
    }

    fn latency(&self) -> usize {
        if self.c.factor == 1 {
            0
        } else {
            self.os.latency()
        }
    }
}

// ---------------------------------------------------------------------------
// The 12AX7 stage, solved on its load line.

/// Koren's triode model (12AX7 constants) and the stage around it.
mod triode {
    pub const MU: f64 = 100.0;
    pub const EX: f64 = 1.4;
    pub const KG1: f64 = 1060.0;
    pub const KP: f64 = 600.0;
    pub const KVB: f64 = 300.0;
    /// Supply, plate resistor, cathode resistor (bypassed).
    pub const B_PLUS: f64 = 300.0;
    pub const RA: f64 = 100e3;
    pub const RK: f64 = 1.5e3;
    /// Grid current: the driving source's resistance (grid stopper and the
    /// previous stage) into the grid–cathode diode's resistance, softened over
    /// about 0.1 V.
    pub const RS: f64 = 33e3;
    pub const RGI: f64 = 2e3;
    pub const GRID_KNEE_V: f64 = 0.1;

    /// Plate current (A) for grid–cathode and plate–cathode voltages (Koren 1996).
    pub fn plate_current(vgk: f64, vpk: f64) -> f64 {
        let vpk = vpk.max(0.0);
        let arg = KP * (1.0 / MU + vgk / (KVB + vpk * vpk).sqrt());
        // ln(1 + e^arg) without overflow.
        let softplus = if arg > 30.0 { arg } else { arg.exp().ln_1p() };
        let e1 = vpk / KP * softplus;
        if e1 > 0.0 {
            2.0 * e1.powf(EX) / KG1
        } else {
            0.0
        }
    }

    /// Monotone root of `f` on [lo, hi] by bisection (f decreasing).
    fn bisect(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
        for _ in 0..64 {
            let m = 0.5 * (lo + hi);
            if f(m) > 0.0 {
                lo = m;
            } else {
                hi = m;
            }
        }
        0.5 * (lo + hi)
    }

    /// Plate current on the load line for a given V_gk with the cathode at `vk`.
    pub fn load_line_current(vgk: f64, vk: f64) -> f64 {
        let top = ((B_PLUS - vk) / RA).max(0.0);
        bisect(0.0, top, |ip| {
            plate_current(vgk, B_PLUS - ip * RA - vk) - ip
        })
    }

    /// The cathode's quiescent voltage (the bypass capacitor holds it there).
    pub fn cathode_bias() -> f64 {
        bisect(0.0, 10.0, |vk| load_line_current(-vk, vk) * RK - vk)
    }

    /// V_gk for a grid drive `v` (volts from the source, grid leak to ground),
    /// with grid current loading the source once the grid passes the cathode.
    pub fn grid_voltage(v: f64, vk: f64) -> f64 {
        let lo = v.min(vk) - 1.0;
        let hi = v.max(vk) + 1.0;
        let vg = bisect(lo, hi, |vg| {
            let x = (vg - vk) / GRID_KNEE_V;
            let soft = if x > 30.0 { x } else { x.exp().ln_1p() };
            (v - vg) / RS - GRID_KNEE_V * soft / RGI
        });
        vg - vk
    }

    /// Plate voltage for a grid drive `v`.
    pub fn plate_voltage(v: f64, vk: f64) -> f64 {
        B_PLUS - load_line_current(grid_voltage(v, vk), vk) * RA
    }
}

/// The stage's transfer: grid drive (V) → change of plate voltage (V, sign
/// flipped so it does not invert), tabulated and linearly interpolated, with
/// its exact antiderivative for ADAA. Beyond the table it is held flat.
pub struct TubeTable {
    x0: f64,
    h: f64,
    t: Vec<f64>,
    /// ∫₀ˣ T, at the table points.
    f: Vec<f64>,
    /// Small-signal gain at the operating point (≈ 61).
    pub slope0: f64,
    /// Output swing at cutoff (≈ 97 V): B+ minus the quiescent plate voltage.
    pub swing: f64,
}

/// Table span in grid volts: down past cutoff, up well into grid current.
const TABLE_LO: f64 = -16.0;
const TABLE_HI: f64 = 64.0;
/// 1/128 V steps, so 0 V is a table point and T(0) = 0 exactly.
const TABLE_POINTS: usize = 80 * 128 + 1;

impl TubeTable {
    fn solve() -> TubeTable {
        let vk = triode::cathode_bias();
        let vp0 = triode::plate_voltage(0.0, vk);
        let h = (TABLE_HI - TABLE_LO) / (TABLE_POINTS - 1) as f64;
        let t: Vec<f64> = (0..TABLE_POINTS)
            .map(|i| vp0 - triode::plate_voltage(TABLE_LO + i as f64 * h, vk))
            .collect();
        // Cumulative trapezoids are the exact integral of the linear interpolant.
        let mut f = vec![0.0; TABLE_POINTS];
        for i in 1..TABLE_POINTS {
            f[i] = f[i - 1] + 0.5 * h * (t[i - 1] + t[i]);
        }
        let mut table = TubeTable {
            x0: TABLE_LO,
            h,
            t,
            f,
            slope0: 0.0,
            swing: triode::B_PLUS - vp0,
        };
        // Anchor the antiderivative at 0 V so small signals stay well conditioned.
        let (_, f_at_0) = table.eval(0.0);
        for v in table.f.iter_mut() {
            *v -= f_at_0;
        }
        let d = 1e-3;
        table.slope0 = (triode::plate_voltage(-d, vk) - triode::plate_voltage(d, vk)) / (2.0 * d);
        table
    }

    /// (T(x), ∫₀ˣ T).
    #[inline]
    pub fn eval(&self, x: f64) -> (f64, f64) {
        let last = self.t.len() - 1;
        let pos = (x - self.x0) / self.h;
        if pos <= 0.0 {
            let t = self.t[0];
            return (t, self.f[0] + t * (x - self.x0));
        }
        if pos >= last as f64 {
            let t = self.t[last];
            let x_end = self.x0 + last as f64 * self.h;
            return (t, self.f[last] + t * (x - x_end));
        }
        let i = pos as usize;
        let u = pos - i as f64;
        let (a, b) = (self.t[i], self.t[i + 1]);
        let t = a + (b - a) * u;
        let f = self.f[i] + self.h * u * (a + 0.5 * (b - a) * u);
        (t, f)
    }
}

/// Solved once per process (the constants never change).
pub fn tube_table() -> &'static TubeTable {
    static TABLE: OnceLock<TubeTable> = OnceLock::new();
    TABLE.get_or_init(TubeTable::solve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operating_point_matches_the_textbook_stage() {
        let vk = triode::cathode_bias();
        let ip = vk / triode::RK;
        let vp = triode::B_PLUS - ip * triode::RA;
        assert!((vk - 1.46).abs() < 0.02, "Vk {vk}");
        assert!((ip * 1e3 - 0.97).abs() < 0.02, "Ip {} mA", ip * 1e3);
        assert!((vp - 203.0).abs() < 2.0, "Vp {vp}");
        let t = tube_table();
        assert!((t.slope0 - 61.4).abs() < 1.0, "gain {}", t.slope0);
        assert!((t.swing - 97.0).abs() < 1.0, "swing {}", t.swing);
    }

    #[test]
    fn antiderivatives_match_their_functions() {
        let t = tube_table();
        for x in [-20.0, -3.0, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5, 10.0, 70.0] {
            let d = 1e-4;
            let num = (t.f1(x + d) - t.f1(x - d)) / (2.0 * d);
            assert!(
                (num - t.f(x)).abs() < 1e-3 * t.f(x).abs().max(1.0),
                "tube at {x}"
            );
            let num = (SoftClip.f1(x / 10.0 + d) - SoftClip.f1(x / 10.0 - d)) / (2.0 * d);
            assert!((num - SoftClip.f(x / 10.0)).abs() < 1e-6, "clip at {x}");
        }
        assert_eq!(t.eval(0.0), (0.0, 0.0));
        assert!(SoftClip.f(100.0) <= 1.0 && SoftClip.f(-100.0) >= -1.0);
        assert_eq!(SoftClip.f(0.85), 0.85);
    }
}
