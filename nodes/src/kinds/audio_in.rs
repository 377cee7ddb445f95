//! `audio_in`: a device input channel as a source. Full scale becomes volts
//! (or pascals) at `full_scale_dbu`; `render --input ID=FILE.wav` feeds it
//! from a file instead.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::{dbu_to_v, spl_to_pa};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor, Role,
};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const CHANNEL: ParamId<Num> = ParamId::new(0, "channel");
pub const FULL_SCALE_DBU: ParamId<Num> = ParamId::new(1, "full_scale_dbu");
pub const FULL_SCALE_DB_SPL: ParamId<Num> = ParamId::new(2, "full_scale_db_spl");
pub const DOMAIN: ParamId<Choice> = ParamId::new(3, "domain");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(4, "z_out_ohm");

pub struct AudioIn {
    spec: KindSpec,
}

impl AudioIn {
    pub fn new() -> AudioIn {
        AudioIn {
            spec: KindSpec {
                kind: "audio_in".into(),
                help: "A device input channel as a source.".into(),
                ports: vec![output(
                    "out",
                    Domain::Line,
                    "The input, in volts (or pascals when acoustic).",
                )],
                params: vec![
                    integer(CHANNEL, 1.0, 64.0, 1.0, "Device input channel, from 1."),
                    full_scale_dbu(FULL_SCALE_DBU, "The level of a sine that peaks at 0 dBFS."),
                    number(
                        FULL_SCALE_DB_SPL,
                        60.0,
                        160.0,
                        120.0,
                        "dB SPL",
                        "Acoustic domain: the level of a sine that peaks at 0 dBFS.",
                    ),
                    domain_param(DOMAIN, "line"),
                    number(
                        Z_OUT_OHM,
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

/// The params of a converter source (`audio_in`, `file_in`): the level of
/// full scale in each domain, the domain, and the source impedance.
pub struct Converter {
    pub dbu: ParamId<Num>,
    pub db_spl: ParamId<Num>,
    pub domain: ParamId<Choice>,
    pub z_out: ParamId<Num>,
}

const CONVERTER: Converter = Converter {
    dbu: FULL_SCALE_DBU,
    db_spl: FULL_SCALE_DB_SPL,
    domain: DOMAIN,
    z_out: Z_OUT_OHM,
};

impl Converter {
    /// Peak volts (or pascals) of a 0 dBFS sine.
    pub fn peak(&self, params: &Params) -> f64 {
        std::f64::consts::SQRT_2
            * match params.domain(self.domain) {
                Domain::Acoustic => spl_to_pa(params.num(self.db_spl)),
                Domain::Digital => std::f64::consts::FRAC_1_SQRT_2,
                _ => dbu_to_v(params.num(self.dbu)),
            }
    }

    /// The nominal level: the alignment level, 18 dB below full scale
    /// (EBU R68), and its clip at full scale.
    pub fn nominal(&self, params: &Params) -> Level {
        let fs_rms = self.peak(params) * std::f64::consts::FRAC_1_SQRT_2;
        Level {
            signal: fs_rms * 10f64.powf(-18.0 / 20.0),
            noise: 0.0,
            clip: fs_rms,
        }
    }

    /// The output port: its domain and, when electrical, its impedance.
    pub fn port(&self, params: &Params) -> PortElectrical {
        let d = params.domain(self.domain);
        let z = if d.is_electrical() {
            ohms(params.num(self.z_out))
        } else {
            Impedance::None
        };
        port(d, z)
    }
}

impl NodeKind for AudioIn {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn device_channel(&self, params: &Params) -> Option<u32> {
        Some((params.num(CHANNEL).max(1.0) as u32) - 1)
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![CONVERTER.nominal(params)],
            warnings: Vec::new(),
        }
    }
    fn role(&self) -> Role {
        Role::DeviceIn
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![CONVERTER.port(params)]
    }
    fn build(&self, params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(AudioInProc {
            scale: CONVERTER.peak(params) as f32,
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
