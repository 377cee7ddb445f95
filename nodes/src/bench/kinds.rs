//! The bench's two instruments, as node kinds that exist only in a
//! measurement's private registry: a generator that stands in for an output
//! port (same domain, same source impedance, so every load it drives is
//! loaded as before) and a tap that records a port without loading it.
//!
//! Each instance is its own kind with its electrical facts fixed at
//! construction, so they need no params and no patch file can name them.
//! The generator plays a signal it holds (by the engine's frame clock), not
//! a device input: device inputs are filled at the start of a block, and
//! a rig has several generators and open ports whose buffers the compiler
//! may share. The tap is a device output, so `render_offline` collects it
//! like any channel. Both speak volts (pascals, full scale) unscaled.

use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor, Role,
};
use ohmpatch_patch::{Direction, Domain, KindSpec, PortSpec};
use std::sync::Arc;

fn spec(kind: String, direction: Direction, domain: Domain) -> KindSpec {
    KindSpec {
        kind: kind.into(),
        help: "Measurement instrument.".into(),
        ports: vec![PortSpec {
            name: if direction == Direction::Out {
                "out"
            } else {
                "in"
            }
            .into(),
            direction,
            domain,
            help: "".into(),
        }],
        params: Vec::new(),
    }
}

/// A generator playing `signal` (open-circuit volts, pascals or full
/// scale, then silence) from an output port with `port`'s domain and source
/// impedance. For the analysis it plays a sine of rms `level`, so `check`'s
/// model of the rig is its prediction.
pub struct Generator {
    spec: KindSpec,
    port: PortElectrical,
    level: f64,
    signal: Arc<Vec<f32>>,
}

impl Generator {
    pub fn new(kind: String, port: PortElectrical, level: f64, signal: Arc<Vec<f32>>) -> Generator {
        Generator {
            spec: spec(kind, Direction::Out, port.domain),
            port,
            level,
            signal,
        }
    }
}

impl NodeKind for Generator {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, _params: &Params) -> Vec<PortElectrical> {
        vec![self.port.clone()]
    }
    fn analyze(
        &self,
        _params: &Params,
        _ctx: &AnalysisContext,
        _inputs: &[Level],
    ) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![Level {
                signal: self.level,
                noise: 0.0,
                clip: f64::INFINITY,
            }],
            warnings: Vec::new(),
        }
    }
    fn build(&self, _params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Play(self.signal.clone())))
    }
}

/// Plays its signal from frame 0 of the engine's clock.
struct Play(Arc<Vec<f32>>);

impl Processor for Play {
    fn process(&mut self, ctx: &ProcessContext, _inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(o) = outputs.first_mut() else {
            return;
        };
        let at = usize::try_from(ctx.time).unwrap_or(usize::MAX);
        let src = self.0.get(at..).unwrap_or(&[]);
        for (i, d) in o.iter_mut().enumerate() {
            *d = src.get(i).copied().unwrap_or(0.0);
        }
    }
}

/// A tap on device output `channel`: an input of `domain` that presents no
/// load.
pub struct Tap {
    spec: KindSpec,
    domain: Domain,
    channel: u32,
}

impl Tap {
    pub fn new(kind: String, domain: Domain, channel: u32) -> Tap {
        Tap {
            spec: spec(kind, Direction::In, domain),
            domain,
            channel,
        }
    }
}

impl NodeKind for Tap {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn role(&self) -> Role {
        Role::DeviceOut
    }
    fn device_channel(&self, _params: &Params) -> Option<u32> {
        Some(self.channel)
    }
    fn electrical(&self, _params: &Params) -> Vec<PortElectrical> {
        vec![PortElectrical {
            domain: self.domain,
            impedance: Impedance::None,
        }]
    }
    fn build(&self, _params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Copy))
    }
}

/// Input to hidden output, sample for sample.
struct Copy;

impl Processor for Copy {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if let (Some(i), Some(o)) = (inputs.last(), outputs.first_mut()) {
            for (o, i) in o.iter_mut().zip(i.iter()) {
                *o = *i;
            }
        }
    }
}
