//! `audio_in`: a device input channel as a source. Full scale becomes volts
//! (or pascals) at `full_scale_dbu`; `render --input ID=FILE.wav` feeds it
//! from a file instead.

use super::file_in::source_port;
use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{dbu_to_v, spl_to_pa};
use ohmpatch_engine::{
    BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor, Role,
};
use ohmpatch_patch::{Domain, KindSpec};

pub struct AudioIn {
    spec: KindSpec,
}

impl AudioIn {
    pub fn new() -> AudioIn {
        AudioIn {
            spec: KindSpec {
                kind: "audio_in",
                help: "A device input channel as a source.",
                ports: vec![output(
                    "out",
                    Domain::Line,
                    "The input, in volts (or pascals when acoustic).",
                )],
                params: vec![
                    integer("channel", 1.0, 64.0, 1.0, "Device input channel, from 1."),
                    number(
                        "full_scale_dbu",
                        -20.0,
                        40.0,
                        18.0,
                        "dBu",
                        "The level of a sine that peaks at 0 dBFS.",
                    ),
                    number(
                        "full_scale_db_spl",
                        60.0,
                        160.0,
                        120.0,
                        "dB SPL",
                        "Acoustic domain: the level of a sine that peaks at 0 dBFS.",
                    ),
                    domain_param("line"),
                    number(
                        "z_out_ohm",
                        0.0,
                        1e6,
                        0.0,
                        "Ω",
                        "Source impedance; 0 is ideal.",
                    ),
                ],
            },
        }
    }
}

impl Default for AudioIn {
    fn default() -> Self {
        AudioIn::new()
    }
}

/// Peak volts (or pascals) of a 0 dBFS sine for a converter's params.
pub fn converter_peak(params: &Params, domain: Domain, dbu_param: &str, spl_param: &str) -> f64 {
    std::f64::consts::SQRT_2
        * match domain {
            Domain::Acoustic => spl_to_pa(params.num(spl_param)),
            Domain::Digital => std::f64::consts::FRAC_1_SQRT_2,
            _ => dbu_to_v(params.num(dbu_param)),
        }
}

/// A converter source's nominal level: the alignment level, 18 dB below
/// full scale (EBU R68), and its clip at full scale.
pub fn converter_nominal(params: &Params, dbu_param: &str, spl_param: &str) -> Level {
    let domain = params.domain_or(Domain::Line);
    let peak = converter_peak(params, domain, dbu_param, spl_param);
    let fs_rms = peak * std::f64::consts::FRAC_1_SQRT_2;
    Level {
        signal: fs_rms * 10f64.powf(-18.0 / 20.0),
        noise: 0.0,
        clip: fs_rms,
    }
}

impl NodeKind for AudioIn {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn device_channel(&self, params: &Params) -> Option<u32> {
        Some((params.num("channel").max(1.0) as u32) - 1)
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![converter_nominal(
                params,
                "full_scale_dbu",
                "full_scale_db_spl",
            )],
            warnings: Vec::new(),
        }
    }
    fn role(&self) -> Role {
        Role::DeviceIn
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![source_port(params)]
    }
    fn build(&self, params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let domain = params.domain_or(Domain::Line);
        Ok(Box::new(AudioInProc {
            scale: converter_peak(params, domain, "full_scale_dbu", "full_scale_db_spl") as f32,
        }))
    }
}

struct AudioInProc {
    scale: f32,
}

impl Processor for AudioInProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(inp), Some(out)) = (inputs.last(), outputs.first_mut()) else {
            return;
        };
        for (o, x) in out.iter_mut().zip(inp.iter()) {
            *o = if x.is_finite() { *x * self.scale } else { 0.0 };
        }
    }
}
