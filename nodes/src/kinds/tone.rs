//! `tone`: a test-signal generator — sine, exponential sweep (Farina) or
//! square — at a stated rms level, as a bench oscillator would give it.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{Smoother, dbu_to_v, spl_to_pa};
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};
use std::f64::consts::PI;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const WAVEFORM: ParamId<Choice> = ParamId::new(0, "waveform");
pub const FREQ_HZ: ParamId<Num> = ParamId::new(1, "freq_hz");
pub const LEVEL_DBU: ParamId<Num> = ParamId::new(2, "level_dbu");
pub const LEVEL_DB_SPL: ParamId<Num> = ParamId::new(3, "level_db_spl");
pub const LEVEL_DBFS: ParamId<Num> = ParamId::new(4, "level_dbfs");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(5, "z_out_ohm");
pub const DOMAIN: ParamId<Choice> = ParamId::new(6, "domain");
pub const SWEEP_END_HZ: ParamId<Num> = ParamId::new(7, "sweep_end_hz");
pub const SWEEP_S: ParamId<Num> = ParamId::new(8, "sweep_s");

pub struct Tone {
    spec: KindSpec,
}

const WAVEFORMS: &[&str] = &["sine", "sweep", "square"];

impl Tone {
    pub fn new() -> Tone {
        Tone {
            spec: KindSpec {
                kind: "tone".into(),
                help: "Test oscillator: sine, exponential sweep or square at an rms level in the output's unit.".into(),
                ports: vec![output(
                    "out",
                    Domain::Line,
                    "The signal, in the chosen domain's unit.",
                )],
                params: vec![
                    choice(
                        WAVEFORM,
                        WAVEFORMS,
                        "sine",
                        "sine, exponential sweep (freq_hz to sweep_end_hz over sweep_s, repeating) or square.",
                    ).live(),
                    log_number(
                        FREQ_HZ,
                        1.0,
                        24_000.0,
                        1000.0,
                        "Hz",
                        "Frequency (the sweep's start).",
                    ).live(),
                    number(
                        LEVEL_DBU,
                        -140.0,
                        50.0,
                        0.0,
                        "dBu",
                        "Rms level on electrical domains.",
                    ).live(),
                    number(
                        LEVEL_DB_SPL,
                        0.0,
                        160.0,
                        94.0,
                        "dB SPL",
                        "Rms level when the domain is acoustic.",
                    ).live(),
                    number(
                        LEVEL_DBFS,
                        -140.0,
                        0.0,
                        -18.0,
                        "dBFS",
                        "Rms level when the domain is digital.",
                    ).live(),
                    number(
                        Z_OUT_OHM,
                        0.0,
                        1e6,
                        0.0,
                        "Ω",
                        "Source impedance; 0 is an ideal source.",
                    ),
                    domain_param(DOMAIN, "line"),
                    log_number(
                        SWEEP_END_HZ,
                        1.0,
                        24_000.0,
                        20_000.0,
                        "Hz",
                        "Where the sweep ends.",
                    ).live(),
                    number(SWEEP_S, 0.1, 60.0, 5.0, "s", "Duration of one sweep.").live(),
                ],
            },
        }
    }
}

impl Default for Tone {
    fn default() -> Self {
        Tone::new()
    }
}

/// A source's level params, one per kind of domain.
pub struct SourceLevel {
    pub dbu: ParamId<Num>,
    pub db_spl: ParamId<Num>,
    pub dbfs: ParamId<Num>,
}

impl SourceLevel {
    /// The rms level in the domain's unit (volts, pascals or full scale).
    pub fn rms(&self, params: &Params, domain: Domain) -> f64 {
        match domain {
            Domain::Acoustic => spl_to_pa(params.num(self.db_spl)),
            Domain::Digital => 10f64.powf(params.num(self.dbfs) / 20.0),
            _ => dbu_to_v(params.num(self.dbu)),
        }
    }
}

const LEVEL: SourceLevel = SourceLevel {
    dbu: LEVEL_DBU,
    db_spl: LEVEL_DB_SPL,
    dbfs: LEVEL_DBFS,
};

impl NodeKind for Tone {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn test_frequency(&self, params: &Params) -> Option<f64> {
        (params.choice(WAVEFORM) == 0).then(|| params.num(FREQ_HZ))
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![Level {
                signal: LEVEL.rms(params, params.domain(DOMAIN)),
                noise: 0.0,
                clip: f64::INFINITY,
            }],
            warnings: Vec::new(),
        }
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        let d = params.domain(DOMAIN);
        vec![port(
            d,
            if d.is_electrical() {
                ohms(params.num(Z_OUT_OHM))
            } else {
                ohmpatch_engine::Impedance::None
            },
        )]
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let domain = params.domain(DOMAIN);
        let rms = LEVEL.rms(params, domain);
        let sr = env.sample_rate;
        Ok(Box::new(ToneProc {
            waveform: params.choice(WAVEFORM),
            freq: Smoother::new(params.num(FREQ_HZ), 10.0, sr),
            rms: Smoother::new(rms, 10.0, sr),
            domain,
            end_hz: params.num(SWEEP_END_HZ),
            sweep_s: params.num(SWEEP_S),
            phase: 0.0,
            t: 0.0,
            sr,
            level_idx: [LEVEL_DBU.index(), LEVEL_DB_SPL.index(), LEVEL_DBFS.index()],
        }))
    }
}

struct ToneProc {
    waveform: usize,
    freq: Smoother,
    rms: Smoother,
    domain: Domain,
    end_hz: f64,
    sweep_s: f64,
    /// Phase in cycles, kept in [0, 1).
    phase: f64,
    /// Time within the sweep, seconds.
    t: f64,
    sr: f64,
    level_idx: [usize; 3],
}

impl Processor for ToneProc {
    fn process(&mut self, _ctx: &ProcessContext, _inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let dt = 1.0 / self.sr;
        for o in out.iter_mut() {
            let amp = self.rms.next();
            let f0 = self.freq.next();
            let v = match self.waveform {
                // Square: rms equals its amplitude.
                2 => {
                    if self.phase < 0.5 {
                        amp
                    } else {
                        -amp
                    }
                }
                _ => amp * std::f64::consts::SQRT_2 * (2.0 * PI * self.phase).sin(),
            };
            *o = v as f32;
            let f = if self.waveform == 1 {
                // Exponential sweep: f(t) = f0 · (f1/f0)^(t/T).
                let r = (self.end_hz / f0).ln() / self.sweep_s;
                self.t += dt;
                if self.t >= self.sweep_s {
                    self.t = 0.0;
                    self.phase = 0.0;
                }
                f0 * (r * self.t).exp()
            } else {
                f0
            };
            self.phase += f * dt;
            self.phase -= self.phase.floor();
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == WAVEFORM.index() => self.waveform = value as usize,
            i if i == FREQ_HZ.index() => self.freq.set(value),
            i if i == SWEEP_END_HZ.index() => self.end_hz = value,
            i if i == SWEEP_S.index() => self.sweep_s = value,
            i if i == self.level_idx[0] && self.domain.is_electrical() => {
                self.rms.set(dbu_to_v(value))
            }
            i if i == self.level_idx[1] && self.domain == Domain::Acoustic => {
                self.rms.set(spl_to_pa(value))
            }
            i if i == self.level_idx[2] && self.domain == Domain::Digital => {
                self.rms.set(10f64.powf(value / 20.0))
            }
            _ => {}
        }
    }
}
