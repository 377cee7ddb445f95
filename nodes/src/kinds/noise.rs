//! `noise`: a seeded noise source — white, pink, brown, the thermal noise
//! of a resistor, or mains hum.
//!
//! Levels follow the project's noise-bandwidth convention: a noise level is
//! the rms inside 20 Hz–20 kHz, unweighted. White noise at sample rate fs
//! spreads over 0…fs/2, so the generator's total rms is the level ×
//! sqrt((fs/2)/19 980); coloured noise is scaled by the integral of its
//! filter's power response over the band, so every colour reads its level on
//! a 20 Hz–20 kHz meter.
//!
//! - pink: Kellet's refined filter, −3 dB/oct within ±0.05 dB from ~10 Hz.
//! - brown: white through Kellet's filter twice, −6 dB/oct within ±0.1 dB
//!   from ~10 Hz to 20 kHz (a leaky integrator's slope flattens toward
//!   Nyquist), then a 4 Hz second-order high-pass so it carries no DC.
//! - thermal: density 4·k·T·R (Johnson–Nyquist), so the band level is
//!   sqrt(4·k·T·R·19 980 Hz); `level_*` is ignored.
//! - hum: the mains fundamental and harmonics 2–10 at [`HUM_HARMONICS_DB`]
//!   relative to the fundamental (odd ones stronger, as from transformer
//!   fields; even ones from rectifier buzz); `level_*` is their total rms.
//!
//! Deterministic: the generator is seeded from the engine seed, the node id
//! and the `seed` param, so the same render gives the same bytes.

use super::tone::SourceLevel;
use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{
    Biquad, Kellet, NOISE_BAND, NOISE_BAND_WIDTH, Rng, Smoother, band_power_integral,
};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};
use std::f64::consts::PI;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const COLOR: ParamId<Choice> = ParamId::new(0, "color");
pub const LEVEL_DBU: ParamId<Num> = ParamId::new(1, "level_dbu");
pub const LEVEL_DB_SPL: ParamId<Num> = ParamId::new(2, "level_db_spl");
pub const LEVEL_DBFS: ParamId<Num> = ParamId::new(3, "level_dbfs");
pub const RESISTANCE_OHM: ParamId<Num> = ParamId::new(4, "resistance_ohm");
pub const TEMPERATURE_K: ParamId<Num> = ParamId::new(5, "temperature_k");
pub const MAINS_HZ: ParamId<Num> = ParamId::new(6, "mains_hz");
pub const SEED: ParamId<Num> = ParamId::new(7, "seed");
pub const DOMAIN: ParamId<Choice> = ParamId::new(8, "domain");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(9, "z_out_ohm");

pub const COLORS: &[&str] = &["white", "pink", "brown", "thermal", "hum"];

/// Boltzmann's constant, J/K.
pub const BOLTZMANN: f64 = 1.380_649e-23;

/// Levels of the hum's harmonics 1…10 in dB relative to the fundamental.
pub const HUM_HARMONICS_DB: [f64; 10] = [
    0.0, -10.0, -6.0, -20.0, -12.0, -26.0, -18.0, -32.0, -24.0, -38.0,
];

/// Corner of the brown noise's DC blocker.
const BROWN_DC_HZ: f64 = 4.0;

const WHITE: usize = 0;
const PINK: usize = 1;
const BROWN: usize = 2;
const THERMAL: usize = 3;
const HUM: usize = 4;

pub struct Noise {
    spec: KindSpec,
}

impl Noise {
    pub fn new() -> Noise {
        Noise {
            spec: KindSpec {
                kind: "noise".into(),
                help: "Seeded noise source: white, pink, brown, a resistor's thermal noise, or mains hum. Levels are rms over 20 Hz–20 kHz, unweighted.".into(),
                ports: vec![output(
                    "out",
                    Domain::Line,
                    "Noise in the chosen domain's unit.",
                )],
                params: vec![
                    choice(
                        COLOR,
                        COLORS,
                        "white",
                        "white, pink (−3 dB/oct), brown (−6 dB/oct), thermal (sqrt(4kTRB) of resistance_ohm at temperature_k; ignores level) or hum (mains fundamental and harmonics 2–10 at fixed relative levels 0, −10, −6, −20, −12, −26, −18, −32, −24, −38 dB).",
                    ),
                    number(
                        LEVEL_DBU,
                        -160.0,
                        40.0,
                        -20.0,
                        "dBu",
                        "Rms over 20 Hz–20 kHz on electrical domains.",
                    ).live(),
                    number(
                        LEVEL_DB_SPL,
                        0.0,
                        160.0,
                        60.0,
                        "dB SPL",
                        "Rms over 20 Hz–20 kHz when the domain is acoustic.",
                    ).live(),
                    number(
                        LEVEL_DBFS,
                        -160.0,
                        0.0,
                        -30.0,
                        "dBFS",
                        "Rms over 20 Hz–20 kHz when the domain is digital.",
                    ).live(),
                    log_number(
                        RESISTANCE_OHM,
                        1.0,
                        1e7,
                        150.0,
                        "Ω",
                        "Thermal: the resistor whose noise this is.",
                    ).live(),
                    number(
                        TEMPERATURE_K,
                        1.0,
                        1000.0,
                        300.0,
                        "K",
                        "Thermal: its temperature.",
                    ).live(),
                    number(
                        MAINS_HZ,
                        40.0,
                        70.0,
                        50.0,
                        "Hz",
                        "Hum: mains frequency (50 or 60).",
                    ).live(),
                    integer(
                        SEED,
                        0.0,
                        1e9,
                        0.0,
                        "Mixed with the render seed and the node id; change it for an uncorrelated copy.",
                    ),
                    domain_param(DOMAIN, "line"),
                    number(
                        Z_OUT_OHM,
                        0.0,
                        1e7,
                        0.0,
                        "Ω",
                        "Source impedance; 0 is ideal. For a resistor's own noise set it to resistance_ohm.",
                    ),
                ],
            },
        }
    }
}

impl Default for Noise {
    fn default() -> Self {
        Noise::new()
    }
}

/// Band (20 Hz–20 kHz) rms of thermal noise: sqrt(4·k·T·R·B).
pub fn thermal_rms(resistance_ohm: f64, temperature_k: f64) -> f64 {
    (4.0 * BOLTZMANN * temperature_k * resistance_ohm * NOISE_BAND_WIDTH).sqrt()
}

/// The rms of each hum harmonic for a total rms `level`, up to those below
/// the band's top and Nyquist.
pub fn hum_amplitudes(level: f64, mains_hz: f64, sample_rate: f64) -> [f64; 10] {
    let top = NOISE_BAND.1.min(0.45 * sample_rate);
    let mut rel = [0.0; 10];
    for (k, r) in rel.iter_mut().enumerate() {
        if mains_hz * (k + 1) as f64 <= top {
            *r = 10f64.powf(HUM_HARMONICS_DB[k] / 20.0);
        }
    }
    let total = rel.iter().map(|r| r * r).sum::<f64>().sqrt();
    rel.map(|r| if total > 0.0 { level * r / total } else { 0.0 })
}

/// White-noise standard deviation that puts `level` rms inside the band
/// after a filter of magnitude `mag`. White noise of variance σ² has a
/// one-sided density σ²/(fs/2), so the band power is σ²·∫|H|²df/(fs/2).
fn sigma_for(level: f64, sr: f64, mag: impl Fn(f64) -> f64) -> f64 {
    let hi = NOISE_BAND.1.min(0.4999 * sr);
    let integral = band_power_integral(NOISE_BAND.0, hi, mag);
    level * (0.5 * sr / integral).sqrt()
}

const LEVEL: SourceLevel = SourceLevel {
    dbu: LEVEL_DBU,
    db_spl: LEVEL_DB_SPL,
    dbfs: LEVEL_DBFS,
};

fn level_of(params: &Params) -> f64 {
    LEVEL.rms(params, params.domain(DOMAIN))
}

impl NodeKind for Noise {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        let d = params.domain(DOMAIN);
        vec![port(
            d,
            if d.is_electrical() {
                ohms(params.num(Z_OUT_OHM))
            } else {
                Impedance::None
            },
        )]
    }

    /// Everything this node makes counts as noise in `check`, over
    /// 20 Hz–20 kHz (hum included: it is what it interferes with).
    fn analyze(&self, params: &Params, ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        let noise = match params.choice(COLOR) {
            THERMAL => {
                thermal_rms(params.num(RESISTANCE_OHM), params.num(TEMPERATURE_K))
                    * ctx.noise_in_band(0.0)
            }
            HUM => {
                let mains = params.num(MAINS_HZ);
                hum_amplitudes(level_of(params), mains, ctx.sample_rate)
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| ctx.in_band(mains * (k + 1) as f64))
                    .map(|(_, a)| a * a)
                    .sum::<f64>()
                    .sqrt()
            }
            c => level_of(params) * ctx.noise_in_band([0.0, -1.0, -2.0][c.min(2)]),
        };
        StageAnalysis {
            outputs: vec![Level {
                signal: 0.0,
                noise,
                clip: f64::INFINITY,
            }],
            warnings: Vec::new(),
        }
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let color = params.choice(COLOR);
        let domain = params.domain(DOMAIN);
        let seed = params.num(SEED) as u64;
        let mut rng =
            Rng::new(env.node_seed() ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17));
        let mut phases = [0.0; 10];
        for p in phases.iter_mut() {
            *p = rng.uniform();
        }
        let brown_hp = Biquad::highpass(BROWN_DC_HZ, std::f64::consts::FRAC_1_SQRT_2, sr);
        let mut p = NoiseProc {
            color,
            domain,
            sr,
            rng,
            amp: Smoother::new(0.0, 10.0, sr),
            pink: Kellet::default(),
            pink2: Kellet::default(),
            brown_hp,
            // Per-unit σ for each filtered colour (computed here, off the audio thread).
            unit_sigma: [
                sigma_for(1.0, sr, |_| 1.0),
                sigma_for(1.0, sr, |f| Kellet::magnitude(f, sr)),
                sigma_for(1.0, sr, |f| {
                    Kellet::magnitude(f, sr).powi(2) * brown_hp.magnitude(f, sr)
                }),
            ],
            level: level_of(params),
            resistance: params.num(RESISTANCE_OHM),
            temperature: params.num(TEMPERATURE_K),
            mains_hz: params.num(MAINS_HZ),
            phase: 0.0,
            harmonic_phase: phases,
            hum: [0.0; 10],
        };
        p.retarget();
        p.amp.reset(p.amp.target);
        Ok(Box::new(p))
    }
}

struct NoiseProc {
    color: usize,
    domain: Domain,
    sr: f64,
    rng: Rng,
    /// σ of the white source (noise colours) or 1 (hum, whose level is in `hum`).
    amp: Smoother,
    pink: Kellet,
    pink2: Kellet,
    brown_hp: Biquad,
    unit_sigma: [f64; 3],
    level: f64,
    resistance: f64,
    temperature: f64,
    mains_hz: f64,
    /// Phase of the fundamental, cycles in [0, 1).
    phase: f64,
    harmonic_phase: [f64; 10],
    /// Rms of each hum harmonic at the current level.
    hum: [f64; 10],
}

impl NoiseProc {
    fn retarget(&mut self) {
        let target = match self.color {
            WHITE => self.level * self.unit_sigma[0],
            PINK => self.level * self.unit_sigma[1],
            BROWN => self.level * self.unit_sigma[2],
            // Density 4kTR V²/Hz over 0…fs/2.
            THERMAL => {
                (4.0 * BOLTZMANN * self.temperature * self.resistance * 0.5 * self.sr).sqrt()
            }
            _ => {
                self.hum = hum_amplitudes(self.level, self.mains_hz, self.sr);
                1.0
            }
        };
        self.amp.set(target);
    }
}

impl Processor for NoiseProc {
    fn process(&mut self, _ctx: &ProcessContext, _inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        match self.color {
            HUM => {
                let dp = self.mains_hz / self.sr;
                for o in out.iter_mut() {
                    let g = self.amp.next() * std::f64::consts::SQRT_2;
                    let mut v = 0.0;
                    for (k, (a, ph)) in self.hum.iter().zip(self.harmonic_phase.iter()).enumerate()
                    {
                        if *a > 0.0 {
                            v += a * (2.0 * PI * ((k + 1) as f64 * self.phase + ph)).sin();
                        }
                    }
                    *o = (g * v) as f32;
                    self.phase += dp;
                    self.phase -= self.phase.floor();
                }
            }
            _ => {
                for o in out.iter_mut() {
                    let w = self.rng.gaussian();
                    let v = match self.color {
                        PINK => self.pink.tick(w),
                        BROWN => {
                            let b = self.pink2.tick(self.pink.tick(w));
                            self.brown_hp.tick(b)
                        }
                        _ => w,
                    };
                    *o = (v * self.amp.next()) as f32;
                }
                self.pink.sanitize();
                self.pink2.sanitize();
                self.brown_hp.sanitize();
            }
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == LEVEL_DBU.index() && self.domain.is_electrical() => {
                self.level = ohmpatch_engine::dsp::dbu_to_v(value)
            }
            i if i == LEVEL_DB_SPL.index() && self.domain == Domain::Acoustic => {
                self.level = ohmpatch_engine::dsp::spl_to_pa(value)
            }
            i if i == LEVEL_DBFS.index() && self.domain == Domain::Digital => {
                self.level = 10f64.powf(value / 20.0)
            }
            i if i == RESISTANCE_OHM.index() => self.resistance = value,
            i if i == TEMPERATURE_K.index() => self.temperature = value,
            i if i == MAINS_HZ.index() => self.mains_hz = value,
            _ => return,
        }
        self.retarget();
    }
}
