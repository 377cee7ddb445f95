//! `mixer`: four inputs, each with its own level, summed, then a master gain.

use super::gain::gain_of;
use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::Smoother;
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};

pub struct Mixer {
    spec: KindSpec,
}

impl Mixer {
    pub fn new() -> Mixer {
        Mixer {
            spec: KindSpec {
                kind: "mixer",
                help: "Sums four inputs, each with a level, then applies a master gain.",
                ports: vec![
                    input("in1", Domain::Line, "Input 1."),
                    input("in2", Domain::Line, "Input 2."),
                    input("in3", Domain::Line, "Input 3."),
                    input("in4", Domain::Line, "Input 4."),
                    output("out", Domain::Line, "The mix."),
                ],
                params: vec![
                    number("gain_db", -120.0, 60.0, 0.0, "dB", "Master gain."),
                    number("in1_db", -120.0, 24.0, 0.0, "dB", "Level of input 1."),
                    number("in2_db", -120.0, 24.0, 0.0, "dB", "Level of input 2."),
                    number("in3_db", -120.0, 24.0, 0.0, "dB", "Level of input 3."),
                    number("in4_db", -120.0, 24.0, 0.0, "dB", "Level of input 4."),
                    domain_param("line"),
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
            .map(|(i, l)| {
                l.scaled(gain_of(
                    params.num(["in1_db", "in2_db", "in3_db", "in4_db"][i.min(3)]),
                ))
            })
            .collect();
        StageAnalysis {
            outputs: vec![Level::sum(&each).scaled(gain_of(params.num("gain_db")))],
            warnings: Vec::new(),
        }
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        transparent(&self.spec, params)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let mk = |n: &str| Smoother::new(gain_of(params.num(n)), 5.0, sr);
        Ok(Box::new(MixerProc {
            gains: [
                mk("gain_db"),
                mk("in1_db"),
                mk("in2_db"),
                mk("in3_db"),
                mk("in4_db"),
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
        if index < 5 {
            self.gains[index].set(gain_of(value));
        }
    }
}
