//! `gain`: an ideal amplifier or attenuator, smoothed so a moving knob does
//! not zipper. Electrically an ideal transformer (`NodeKind::junction`): it
//! adds no impedance of its own and hides no load, so `amp → gain → speaker`
//! damps and loads the amp as `amp → speaker` does, scaled by the ratio.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{Smoother, db_to_gain, scale_into};
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const GAIN_DB: ParamId<Num> = ParamId::new(0, "gain_db");
pub const DOMAIN: ParamId<Choice> = ParamId::new(1, "domain");

pub struct Gain {
    spec: KindSpec,
}

impl Gain {
    pub fn new() -> Gain {
        Gain {
            spec: KindSpec {
                kind: "gain".into(),
                help: "Ideal gain or attenuation in dB, electrically an ideal transformer: the stage before it sees the loads after it divided by the gain squared. No noise.".into(),
                ports: vec![
                    input("in", Domain::Line, "Signal in."),
                    output("out", Domain::Line, "Signal times the gain."),
                ],
                params: vec![
                    number(
                        GAIN_DB,
                        -120.0,
                        60.0,
                        0.0,
                        "dB",
                        "Gain; −120 dB is silence.",
                    )
                    .live(),
                    domain_param(DOMAIN, "line"),
                ],
            },
        }
    }
}

impl Default for Gain {
    fn default() -> Self {
        Gain::new()
    }
}

pub(crate) fn gain_of(db: f64) -> f64 {
    if db <= -120.0 { 0.0 } else { db_to_gain(db) }
}

impl NodeKind for Gain {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    /// An ideal transformer of the gain's voltage ratio: the stage before
    /// it sees the loads after it, divided by the gain squared.
    fn junction(&self, params: &Params) -> Option<f64> {
        Some(gain_of(params.num(GAIN_DB)))
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![Level::sum(inputs).scaled(gain_of(params.num(GAIN_DB)))],
            warnings: Vec::new(),
        }
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        transparent(&self.spec, params, DOMAIN)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(GainProc {
            gain: Smoother::new(gain_of(params.num(GAIN_DB)), 5.0, env.sample_rate),
        }))
    }
}

pub struct GainProc {
    pub gain: Smoother,
}

impl Processor for GainProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(inp), Some(out)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        if self.gain.is_settled() {
            scale_into(out, inp, self.gain.value as f32);
        } else {
            for (o, i) in out.iter_mut().zip(inp.iter()) {
                *o = (f64::from(*i) * self.gain.next()) as f32;
            }
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if index == GAIN_DB.index() {
            self.gain.set(gain_of(value));
        }
    }

    fn may_be_quiet(&self) -> bool {
        true
    }

    /// Silence times any gain is silence; only a gain still gliding must
    /// keep running, or it would resume from where it stopped.
    fn is_quiet(&self) -> bool {
        self.gain.is_settled()
    }
}
