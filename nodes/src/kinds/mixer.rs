//! `mixer`: four inputs, each with its own level, summed, then a master gain.

use super::gain::gain_of;
use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::Smoother;
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const GAIN_DB: ParamId<Num> = ParamId::new(0, "gain_db");
pub const IN1_DB: ParamId<Num> = ParamId::new(1, "in1_db");
pub const IN2_DB: ParamId<Num> = ParamId::new(2, "in2_db");
pub const IN3_DB: ParamId<Num> = ParamId::new(3, "in3_db");
pub const IN4_DB: ParamId<Num> = ParamId::new(4, "in4_db");
pub const DOMAIN: ParamId<Choice> = ParamId::new(5, "domain");
/// The inputs' levels, in port order.
const INPUTS: [ParamId<Num>; 4] = [IN1_DB, IN2_DB, IN3_DB, IN4_DB];

pub struct Mixer {
    spec: KindSpec,
}

impl Mixer {
    pub fn new() -> Mixer {
        Mixer {
            spec: KindSpec {
                kind: "mixer".into(),
                help: "Sums four inputs, each with a level, then applies a master gain. An active mixer: its inputs present no load and its output is ideal.".into(),
                ports: vec![
                    input("in1", Domain::Line, "Input 1."),
                    input("in2", Domain::Line, "Input 2."),
                    input("in3", Domain::Line, "Input 3."),
                    input("in4", Domain::Line, "Input 4."),
                    output("out", Domain::Line, "The mix."),
                ],
                params: vec![
                    number(GAIN_DB, -120.0, 60.0, 0.0, "dB", "Master gain.").live(),
                    number(IN1_DB, -120.0, 24.0, 0.0, "dB", "Level of input 1.").live(),
                    number(IN2_DB, -120.0, 24.0, 0.0, "dB", "Level of input 2.").live(),
                    number(IN3_DB, -120.0, 24.0, 0.0, "dB", "Level of input 3.").live(),
                    number(IN4_DB, -120.0, 24.0, 0.0, "dB", "Level of input 4.").live(),
                    domain_param(DOMAIN, "line"),
                ],
            },
        }
    }
}

impl Default for Mixer {
    fn default() -> Self {
        Mixer::new()
    }
}

impl NodeKind for Mixer {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let each: Vec<Level> = inputs
            .iter()
            .enumerate()
            .map(|(i, l)| l.scaled(gain_of(params.num(INPUTS[i.min(3)]))))
            .collect();
        StageAnalysis {
            outputs: vec![Level::sum(&each).scaled(gain_of(params.num(GAIN_DB)))],
            warnings: Vec::new(),
        }
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        transparent(&self.spec, params, DOMAIN)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let mk = |id| Smoother::new(gain_of(params.num(id)), 5.0, sr);
        Ok(Box::new(MixerProc {
            gains: [
                mk(GAIN_DB),
                mk(INPUTS[0]),
                mk(INPUTS[1]),
                mk(INPUTS[2]),
                mk(INPUTS[3]),
            ],
        }))
    }
}

struct MixerProc {
    /// Master, then inputs 1–4.
    gains: [Smoother; 5],
}

impl Processor for MixerProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        for (n, o) in out.iter_mut().enumerate() {
            let master = self.gains[0].next();
            let mut acc = 0.0;
            for (k, inp) in inputs.iter().enumerate().take(4) {
                acc += f64::from(inp[n]) * self.gains[k + 1].next();
            }
            *o = (acc * master) as f32;
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        // Master then inputs 1–4: the params' spec order is the gains' order.
        if index <= IN4_DB.index() {
            self.gains[index].set(gain_of(value));
        }
    }
}
