//! A tiny test catalogue, so the engine is tested without the real nodes.
#![allow(dead_code)]

use ohmpatch_engine::*;
use ohmpatch_patch::{
    Direction, Domain, KindSpec, ParamKind, ParamSpec, Patch, PortSpec, Taper, Wire,
};
use std::sync::Arc;

fn port(name: &'static str, direction: Direction) -> PortSpec {
    PortSpec {
        name: name.into(),
        direction,
        domain: Domain::Line,
        help: "".into(),
    }
}

fn num(name: &'static str, min: f64, max: f64, default: f64) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind: ParamKind::Number {
            min,
            max,
            default,
            unit: "".into(),
            taper: Taper::Linear,
            integer: false,
        },
        help: "".into(),
        // The test processors take every number as a message, so edits
        // exercise the param path as well as rebuilds.
        live: true,
        declared_index: None,
    }
}

pub struct TestKind {
    pub spec: KindSpec,
    pub role: Role,
    pub z_out: f64,
    pub z_in: f64,
}

impl NodeKind for TestKind {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn role(&self) -> Role {
        self.role
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        self.spec
            .ports
            .iter()
            .map(|p| PortElectrical {
                domain: Domain::Line,
                impedance: match p.direction {
                    Direction::Out => {
                        let z = params.num_named("z_out").unwrap_or(self.z_out);
                        if z > 0.0 {
                            Impedance::Ohms(z)
                        } else {
                            Impedance::None
                        }
                    }
                    Direction::In => {
                        let z = params.num_named("z_in").unwrap_or(self.z_in);
                        if z > 0.0 {
                            Impedance::Ohms(z)
                        } else {
                            Impedance::None
                        }
                    }
                },
            })
            .collect()
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(match self.spec.kind.as_ref() {
            "src" => Box::new(Src {
                phase: 0.0,
                freq: params.num_named("freq").unwrap_or(1000.0),
                sr: env.sample_rate,
            }),
            "lp" => Box::new(OnePole { z: 0.0, a: 0.99 }),
            "delay" => Box::new(BlockDelay {
                last: [0.0; MAX_BLOCK],
            }),
            "out" => Box::new(Pass { gain: 1.0 }),
            "gate" => Box::new(Gate {
                on: params.num_named("on").unwrap_or(0.0) != 0.0,
                src: Src {
                    phase: 0.0,
                    freq: 1000.0,
                    sr: env.sample_rate,
                },
            }),
            "bias" => Box::new(Bias),
            "qpass" => Box::new(QuietPass),
            _ => Box::new(Pass {
                gain: params.num_named("gain").unwrap_or(1.0) as f32,
            }),
        })
    }
}

pub struct Src {
    phase: f64,
    freq: f64,
    sr: f64,
}
impl Processor for Src {
    fn process(&mut self, _: &ProcessContext, _: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for o in outputs[0].iter_mut() {
            *o = (2.0 * std::f64::consts::PI * self.phase).sin() as f32;
            self.phase = (self.phase + self.freq / self.sr).fract();
        }
    }
    fn set_param(&mut self, index: usize, value: f64) {
        if index == 0 {
            self.freq = value;
        }
    }
}

pub struct Pass {
    gain: f32,
}
impl Processor for Pass {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let n = outputs.first().map_or(0, |o| o.len());
        for o in outputs.iter_mut() {
            for i in 0..n {
                o[i] = inputs.iter().map(|x| x[i]).sum::<f32>() * self.gain;
            }
        }
    }
    fn set_param(&mut self, index: usize, value: f64) {
        if index == 0 {
            self.gain = value as f32;
        }
    }
}

/// A sine that can be switched off, and is then quiet.
pub struct Gate {
    on: bool,
    src: Src,
}
impl Processor for Gate {
    fn process(&mut self, ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if self.on {
            self.src.process(ctx, inputs, outputs);
        } else {
            outputs[0].fill(0.0);
        }
    }
    fn set_param(&mut self, index: usize, value: f64) {
        if index == 0 {
            self.on = value != 0.0;
        }
    }
    fn may_be_quiet(&self) -> bool {
        true
    }
    fn is_quiet(&self) -> bool {
        !self.on
    }
}

/// Adds 1.0 to its input, yet says it is quiet: whether it was skipped
/// shows in its output (0.0 when skipped, 1.0 + input when run).
pub struct Bias;
impl Processor for Bias {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for (i, o) in outputs[0].iter_mut().enumerate() {
            *o = inputs.first().map_or(0.0, |x| x[i]) + 1.0;
        }
    }
    fn may_be_quiet(&self) -> bool {
        true
    }
    fn is_quiet(&self) -> bool {
        true
    }
}

/// Passes its input on; may be skipped on silence but never says it is
/// quiet, so it always runs and shows exactly what it was handed.
pub struct QuietPass;
impl Processor for QuietPass {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        outputs[0].copy_from_slice(inputs[0]);
    }
    fn may_be_quiet(&self) -> bool {
        true
    }
}

/// A stateful filter, to prove state survives recompiles.
pub struct OnePole {
    z: f32,
    a: f32,
}
impl Processor for OnePole {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for (o, x) in outputs[0].iter_mut().zip(inputs[0].iter()) {
            self.z = self.a * self.z + (1.0 - self.a) * x;
            *o = self.z;
        }
    }
}

pub struct BlockDelay {
    last: [f32; MAX_BLOCK],
}
impl Processor for BlockDelay {
    fn process(&mut self, ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        outputs[0].copy_from_slice(&self.last[..ctx.frames]);
        self.last[..ctx.frames].copy_from_slice(inputs[0]);
    }
    fn feedback_read(&mut self, ctx: &ProcessContext, outputs: &mut [&mut [f32]]) {
        outputs[0].copy_from_slice(&self.last[..ctx.frames]);
    }
    fn feedback_write(&mut self, ctx: &ProcessContext, inputs: &[&[f32]]) {
        self.last[..ctx.frames].copy_from_slice(inputs[0]);
    }
}

pub fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    let k =
        |kind: &'static str, ports: Vec<PortSpec>, params: Vec<ParamSpec>, role: Role| TestKind {
            spec: KindSpec {
                kind: kind.into(),
                help: "".into(),
                ports,
                params,
            },
            role,
            z_out: 0.0,
            z_in: 0.0,
        };
    use Direction::*;
    r.register(Box::new(k(
        "src",
        vec![port("out", Out)],
        vec![
            num("freq", 1.0, 20000.0, 1000.0),
            num("z_out", 0.0, 1e6, 0.0),
        ],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "pass",
        vec![port("in", In), port("out", Out)],
        vec![num("gain", -10.0, 10.0, 1.0), num("z_in", 0.0, 1e7, 0.0)],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "lp",
        vec![port("in", In), port("out", Out)],
        vec![],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "sum",
        vec![port("a", In), port("b", In), port("out", Out)],
        vec![],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "fan",
        vec![port("in", In), port("o1", Out), port("o2", Out)],
        vec![],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "gate",
        vec![port("out", Out)],
        vec![num("on", 0.0, 1.0, 1.0)],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "qpass",
        vec![port("in", In), port("out", Out)],
        vec![],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "bias",
        vec![port("in", In), port("out", Out)],
        vec![],
        Role::Normal,
    )));
    r.register(Box::new(k(
        "delay",
        vec![port("in", In), port("out", Out)],
        vec![],
        Role::FeedbackBreaker,
    )));
    r.register(Box::new(k(
        "out",
        vec![port("in", In)],
        vec![num("z_in", 0.0, 1e7, 0.0)],
        Role::DeviceOut,
    )));
    Arc::new(r)
}

/// Build a patch from `"a:kind b:kind"` and `"a.out>b.in c.out>d.in"`.
pub fn patch(nodes: &str, wires: &str) -> Patch {
    let mut p = Patch::default();
    for n in nodes.split_whitespace() {
        let (id, kind) = n.split_once(':').unwrap();
        p.nodes
            .insert(id.into(), ohmpatch_patch::Node::new(kind, (0.0, 0.0)));
    }
    for w in wires.split_whitespace() {
        let (a, b) = w.split_once('>').unwrap();
        p.wires.push(Wire::parse(a, b).unwrap());
    }
    p
}
