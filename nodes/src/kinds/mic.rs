//! `mic`: a microphone at `distance_m` and `angle_deg` from an acoustic
//! source. The acoustic wire carries the pressure at 1 m from its source;
//! the mic scales it by 1/distance and delays it by distance/343 m/s (a
//! fractional delay), applies the polar pattern and, for the pressure-gradient
//! (cardioid) models, the proximity effect; then the model's far-field
//! response and its sensitivity turn pascals into open-circuit volts. The
//! engine applies `z_out_ohm` against the preamp's input impedance.
//!
//! Models:
//! - `dynamic_57` (SM57-like): −56 dBV/Pa, 310 Ω, cardioid, low cut below
//!   ~200 Hz (−5.5 dB at 100 Hz), presence rise 3–10 kHz (+5 dB at 5–6 kHz,
//!   a dip near 8 kHz, +3.5 dB at 10 kHz), falling above 12 kHz. No
//!   self-noise by default: a dynamic's noise is its coil's thermal noise,
//!   which a preamp's EIN (quoted with a 150 Ω source) already contains.
//! - `condenser`: −40 dBV/Pa, 200 Ω, cardioid, flat with a +2.5 dB air
//!   lift around 11 kHz and a 25 Hz low cut; self-noise 17 dB SPL.
//! - `ideal`: a flat omnidirectional pressure transducer: no polar pattern,
//!   no proximity effect, −56 dBV/Pa, 0 Ω (an ideal source), no noise.
//!
//! The model's response is normalised to 0 dB at 1 kHz, where sensitivity is
//! specified, so the sensitivity holds exactly there in the far field.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{
    Biquad, Rng, Smoother, dbv_to_v, finite, spl_to_pa, white_total_factor,
};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};
use std::f64::consts::PI;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const MODEL: ParamId<Choice> = ParamId::new(0, "model");
pub const SENSITIVITY_DBV_PA: ParamId<Num> = ParamId::new(1, "sensitivity_dbv_pa");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(2, "z_out_ohm");
pub const DISTANCE_M: ParamId<Num> = ParamId::new(3, "distance_m");
pub const ANGLE_DEG: ParamId<Num> = ParamId::new(4, "angle_deg");
pub const SELF_NOISE_DB_SPL: ParamId<Num> = ParamId::new(5, "self_noise_db_spl");

/// Speed of sound, m/s (CONTRACT §1).
pub const SPEED_OF_SOUND: f64 = 343.0;
/// The farthest a mic may be placed; bounds the delay line.
pub const MAX_DISTANCE_M: f64 = 20.0;
/// Taps of the fractional-delay interpolator: a Kaiser-windowed sinc
/// (β = 9), flat within ±0.01 dB to 20 kHz at 48 kHz for any fraction,
/// where a short Lagrange interpolator droops by dBs above 15 kHz.
const INTERP_TAPS: usize = 32;
const INTERP_BETA: f64 = 9.0;
/// Fractions tabulated (linear interpolation between rows).
const INTERP_PHASES: usize = 256;
/// Samples of look-ahead the interpolator needs to stay centred (its
/// delay window is 15…16 samples): the mic's latency beyond the physical r/c.
pub const INTERPOLATOR_LATENCY: usize = INTERP_TAPS / 2 - 1;
/// Cardioid: g(θ) = a + (1 − a)·cos θ.
const CARDIOID_A: f64 = 0.5;
/// Below this the proximity term's integrator is made leaky, so the bass
/// rise stays finite and DC cannot build up (0.03 dB error at 100 Hz).
const PROXIMITY_LEAK_HZ: f64 = 10.0;

pub const MODELS: &[&str] = &["dynamic_57", "condenser", "ideal"];

/// Data-sheet values of a model; what the `0` (from model) params resolve to.
#[derive(Clone, Copy, Debug)]
pub struct MicModel {
    pub sensitivity_dbv_pa: f64,
    pub z_out_ohm: f64,
    /// Equivalent acoustic noise, dB SPL over 20 Hz–20 kHz unweighted; None: silent.
    pub self_noise_db_spl: Option<f64>,
    pub cardioid: bool,
}

pub fn model(index: usize) -> MicModel {
    match index {
        0 => MicModel {
            sensitivity_dbv_pa: -56.0,
            z_out_ohm: 310.0,
            self_noise_db_spl: None,
            cardioid: true,
        },
        1 => MicModel {
            sensitivity_dbv_pa: -40.0,
            z_out_ohm: 200.0,
            self_noise_db_spl: Some(17.0),
            cardioid: true,
        },
        _ => MicModel {
            sensitivity_dbv_pa: -56.0,
            z_out_ohm: 0.0,
            self_noise_db_spl: None,
            cardioid: false,
        },
    }
}

/// The model's far-field response as up to five biquads, normalised to
/// 0 dB at 1 kHz.
fn response(index: usize, sr: f64) -> ([Biquad; 5], usize) {
    let mut eq = [Biquad::IDENTITY; 5];
    let n = match index {
        0 => {
            eq[0] = Biquad::highpass(110.0, 0.6, sr);
            eq[1] = Biquad::peaking(5500.0, 1.0, 5.5, sr);
            eq[2] = Biquad::peaking(8000.0, 4.0, -3.0, sr);
            eq[3] = Biquad::peaking(10_000.0, 2.5, 3.0, sr);
            eq[4] = Biquad::lowpass(14_000.0, 0.7, sr);
            5
        }
        1 => {
            eq[0] = Biquad::highpass(25.0, 0.7, sr);
            eq[1] = Biquad::peaking(11_000.0, 1.0, 2.5, sr);
            2
        }
        _ => 0,
    };
    let g: f64 = eq[..n].iter().map(|b| b.magnitude(1000.0, sr)).product();
    if n > 0 {
        for c in eq[0].b.iter_mut() {
            *c /= g;
        }
    }
    (eq, n)
}

/// |a + (1 − a)·cos θ·(1 + 1/(j·k·r))| for the cardioids (the gradient
/// part carries the proximity effect), 1 for the omni.
pub fn polar_gain(m: &MicModel, freq: f64, r: f64, angle_deg: f64) -> f64 {
    if !m.cardioid {
        return 1.0;
    }
    let g = (1.0 - CARDIOID_A) * angle_deg.to_radians().cos();
    let kr = 2.0 * PI * freq / SPEED_OF_SOUND * r;
    // a + g·(1 − j/kr)
    (CARDIOID_A + g).hypot(g / kr)
}

/// The value of a param whose `0` means "from the model".
fn or_model(v: f64, model: f64) -> f64 {
    if v == 0.0 { model } else { v }
}

pub fn resolved_z_out(params: &Params) -> f64 {
    or_model(params.num(Z_OUT_OHM), model(params.choice(MODEL)).z_out_ohm)
}

fn resolved_sensitivity(v: f64, m: &MicModel) -> f64 {
    or_model(v, m.sensitivity_dbv_pa)
}

/// Self-noise in pascals (20 Hz–20 kHz rms) for a param value: 0 from the
/// model, negative none.
fn self_noise_pa(v: f64, m: &MicModel) -> f64 {
    let db = if v == 0.0 {
        m.self_noise_db_spl
    } else if v < 0.0 {
        None
    } else {
        Some(v)
    };
    db.map_or(0.0, spl_to_pa)
}

pub struct Mic {
    spec: KindSpec,
}

impl Mic {
    pub fn new() -> Mic {
        Mic {
            spec: KindSpec {
                kind: "mic".into(),
                help: "Microphone: pressure at 1 m from the source in, open-circuit volts out. Distance (1/r, r/343 s delay), polar pattern, proximity effect, the model's response and self-noise.".into(),
                ports: vec![
                    input(
                        "in",
                        Domain::Acoustic,
                        "Pressure at 1 m from the source, Pa.",
                    ),
                    output(
                        "out",
                        Domain::Mic,
                        "Open-circuit volts; the source impedance is z_out_ohm.",
                    ),
                ],
                params: vec![
                    choice(
                        MODEL,
                        MODELS,
                        "dynamic_57",
                        "dynamic_57 (SM57-like cardioid: −56 dBV/Pa, 310 Ω, low cut, presence rise 3–10 kHz), condenser (cardioid, −40 dBV/Pa, 200 Ω, 17 dB SPL self-noise) or ideal (flat omni, no proximity, −56 dBV/Pa, 0 Ω). The model sets the response shape and what 0 means in the params below.",
                    ),
                    number(
                        SENSITIVITY_DBV_PA,
                        -80.0,
                        0.0,
                        0.0,
                        "dBV/Pa",
                        "Open-circuit sensitivity at 1 kHz. 0 = the model's (−56 dynamic_57, −40 condenser, −56 ideal).",
                    ).live(),
                    number(
                        Z_OUT_OHM,
                        0.0,
                        10_000.0,
                        0.0,
                        "Ω",
                        "Output impedance. 0 = the model's (310 dynamic_57, 200 condenser, 0 ideal = no loading).",
                    ),
                    log_number(
                        DISTANCE_M,
                        0.005,
                        MAX_DISTANCE_M,
                        1.0,
                        "m",
                        "Distance from the source: level ∝ 1/r, delay r/343 s, proximity effect below 343/(4πr) Hz for the cardioids.",
                    ).live(),
                    number(
                        ANGLE_DEG,
                        0.0,
                        180.0,
                        0.0,
                        "°",
                        "Angle off axis; cardioid gain 0.5 + 0.5·cos θ (the omni ideal model ignores it).",
                    ).live(),
                    number(
                        SELF_NOISE_DB_SPL,
                        -1.0,
                        100.0,
                        0.0,
                        "dB SPL",
                        "Equivalent acoustic self-noise, 20 Hz–20 kHz unweighted. 0 = the model's (none for dynamic_57 and ideal, 17 for condenser); negative = none.",
                    ).live(),
                ],
            },
        }
    }
}

impl Default for Mic {
    fn default() -> Self {
        Mic::new()
    }
}

impl NodeKind for Mic {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    /// Its filters delay the signal: the built processor says by how much.
    fn latency(&self, params: &Params, env: &mut BuildEnv) -> usize {
        ohmpatch_engine::latency_of_built(self, params, env)
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![
            port(Domain::Acoustic, Impedance::None),
            port(Domain::Mic, ohms(resolved_z_out(params))),
        ]
    }

    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let mi = params.choice(MODEL);
        let m = model(mi);
        let sens = dbv_to_v(resolved_sensitivity(params.num(SENSITIVITY_DBV_PA), &m));
        let r = params.num(DISTANCE_M);
        let g = sens / r * polar_gain(&m, ctx.freq, r, params.num(ANGLE_DEG)) * {
            let (eq, n) = response(mi, ctx.sample_rate);
            eq[..n]
                .iter()
                .map(|b| b.magnitude(ctx.freq, ctx.sample_rate))
                .product::<f64>()
        };
        let l = Level::sum(inputs).scaled(g);
        let own = self_noise_pa(params.num(SELF_NOISE_DB_SPL), &m) * sens * ctx.noise_in_band(0.0);
        StageAnalysis {
            outputs: vec![Level {
                noise: l.noise.hypot(own),
                ..l
            }],
            warnings: Vec::new(),
        }
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let mi = params.choice(MODEL);
        let m = model(mi);
        let (eq, eq_len) = response(mi, sr);
        let max_delay = (MAX_DISTANCE_M / SPEED_OF_SOUND * sr).ceil() as usize + INTERP_TAPS + 4;
        let size = max_delay.next_power_of_two();
        let distance = params.num(DISTANCE_M);
        let sens = dbv_to_v(resolved_sensitivity(params.num(SENSITIVITY_DBV_PA), &m));
        let noise = self_noise_pa(params.num(SELF_NOISE_DB_SPL), &m);
        let mut p = MicProc {
            model: m,
            sr,
            ring: vec![0.0; size],
            mask: size - 1,
            write: 0,
            distance: Smoother::new(distance, 30.0, sr),
            angle_cos: Smoother::new(params.num(ANGLE_DEG).to_radians().cos(), 10.0, sr),
            sens: Smoother::new(sens, 10.0, sr),
            noise_pa: Smoother::new(noise, 10.0, sr),
            noise_factor: white_total_factor(sr),
            rng: Rng::new(env.node_seed() ^ 0x6d69_635f_6e6f_6973),
            eq,
            eq_len,
            current_r: f64::NAN,
            int_delay: 0,
            table: interpolation_table(),
            taps: [0.0; INTERP_TAPS],
            inv_r: 1.0,
            prox_b: 0.0,
            prox_a1: 0.0,
            prox_z: 0.0,
        };
        p.set_distance(distance);
        Ok(Box::new(p))
    }
}

/// Kaiser-windowed sinc kernels for delays of 15 + j/256 samples, each row
/// normalised to unity DC gain.
fn interpolation_table() -> Vec<f64> {
    let i0 = |x: f64| {
        let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-14 * sum {
            term *= (x / (2.0 * k)).powi(2);
            sum += term;
            k += 1.0;
        }
        sum
    };
    let half = INTERP_TAPS as f64 / 2.0;
    let mut table = Vec::with_capacity((INTERP_PHASES + 1) * INTERP_TAPS);
    for j in 0..=INTERP_PHASES {
        let d = INTERPOLATOR_LATENCY as f64 + j as f64 / INTERP_PHASES as f64;
        let row: Vec<f64> = (0..INTERP_TAPS)
            .map(|k| {
                let t = k as f64 - d;
                let sinc = if t == 0.0 {
                    1.0
                } else {
                    (PI * t).sin() / (PI * t)
                };
                let r = t / half;
                sinc * i0(INTERP_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0(INTERP_BETA)
            })
            .collect();
        let dc: f64 = row.iter().sum();
        table.extend(row.iter().map(|v| v / dc));
    }
    table
}

struct MicProc {
    model: MicModel,
    sr: f64,
    ring: Vec<f64>,
    mask: usize,
    write: usize,
    distance: Smoother,
    angle_cos: Smoother,
    sens: Smoother,
    noise_pa: Smoother,
    noise_factor: f64,
    rng: Rng,
    eq: [Biquad; 5],
    eq_len: usize,
    /// The distance the delay, gain and proximity filter are set for.
    current_r: f64,
    int_delay: usize,
    /// Windowed-sinc rows for fractions 0, 1/256, …, 1 (row-major).
    table: Vec<f64>,
    taps: [f64; INTERP_TAPS],
    inv_r: f64,
    /// Proximity term ω_g/(s + ω_leak), ω_g = c/r, by the bilinear
    /// transform: y = b·(x + x₋₁) − a1·y₋₁, transposed with one state.
    prox_b: f64,
    prox_a1: f64,
    prox_z: f64,
}

impl MicProc {
    /// Delay (r/c as a fractional delay), 1/r and the proximity corner for distance `r`.
    fn set_distance(&mut self, r: f64) {
        self.current_r = r;
        self.inv_r = 1.0 / r;
        let d = r / SPEED_OF_SOUND * self.sr;
        let i0 = d.floor();
        self.int_delay = i0 as usize;
        // Interpolate the tabulated kernels for this fraction.
        let pos = (d - i0) * INTERP_PHASES as f64;
        let row = (pos.floor() as usize).min(INTERP_PHASES - 1);
        let t = pos - row as f64;
        let (r0, r1) = (
            &self.table[row * INTERP_TAPS..(row + 1) * INTERP_TAPS],
            &self.table[(row + 1) * INTERP_TAPS..(row + 2) * INTERP_TAPS],
        );
        for (k, w) in self.taps.iter_mut().enumerate() {
            *w = r0[k] + t * (r1[k] - r0[k]);
        }
        // Figure-of-eight proximity: 1 + 1/(jkr) = 1 + (c/r)/(jω).
        let wg = SPEED_OF_SOUND / r;
        let wl = 2.0 * PI * PROXIMITY_LEAK_HZ;
        let k = 2.0 * self.sr;
        self.prox_b = wg / (k + wl);
        self.prox_a1 = (wl - k) / (k + wl);
    }
}

impl Processor for MicProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let inp: &[f32] = inputs.first().copied().unwrap_or(&[]);
        for (i, o) in out.iter_mut().enumerate() {
            let x = inp.get(i).copied().map_or(0.0, finite);
            self.ring[self.write] = x;
            let r = self.distance.next();
            if r != self.current_r {
                self.set_distance(r);
            }
            // Fractional delay: taps k read x[n − int_delay − k].
            let base = self.write.wrapping_sub(self.int_delay);
            let mut d = 0.0;
            for (k, w) in self.taps.iter().enumerate() {
                d += w * self.ring[base.wrapping_sub(k) & self.mask];
            }
            self.write = (self.write + 1) & self.mask;
            let p = d * self.inv_r;
            let cos = self.angle_cos.next();
            let mut y = if self.model.cardioid {
                // Pressure part a, gradient part (1 − a)·cos θ·(1 + proximity).
                let grad = self.prox_b * p + self.prox_z;
                self.prox_z = self.prox_b * p - self.prox_a1 * grad;
                let g = (1.0 - CARDIOID_A) * cos;
                (CARDIOID_A + g) * p + g * grad
            } else {
                p
            };
            for b in self.eq[..self.eq_len].iter_mut() {
                y = b.tick(y);
            }
            let sens = self.sens.next();
            let npa = self.noise_pa.next();
            if npa > 0.0 {
                y += npa * self.noise_factor * self.rng.gaussian();
            }
            *o = (y * sens) as f32;
        }
        for b in self.eq[..self.eq_len].iter_mut() {
            b.sanitize();
        }
        if !self.prox_z.is_finite() {
            self.prox_z = 0.0;
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == SENSITIVITY_DBV_PA.index() => self
                .sens
                .set(dbv_to_v(resolved_sensitivity(value, &self.model))),
            i if i == DISTANCE_M.index() => self.distance.set(value.clamp(0.005, MAX_DISTANCE_M)),
            i if i == ANGLE_DEG.index() => self.angle_cos.set(value.to_radians().cos()),
            i if i == SELF_NOISE_DB_SPL.index() => {
                self.noise_pa.set(self_noise_pa(value, &self.model))
            }
            _ => {}
        }
    }

    fn latency(&self) -> usize {
        INTERPOLATOR_LATENCY
    }
}
