//! Shared pieces of ohmpatch's benchmarks: the synthetic patches, three
//! bench-only node kinds whose arithmetic is written once and run unchanged in
//! ohmpatch, fundsp and firewheel, and helpers to drive the engine block by
//! block.
//!
//! The bench kinds exist so that a comparison between hosts measures the
//! hosts, not different noise generators or filter designs:
//! - `bench_noise`: uniform white noise from a 32-bit xorshift, ±`level`.
//! - `bench_tanh`: `tanh(x)` per sample.
//! - `bench_lowpass`: an RBJ biquad low-pass (transposed direct form II, f32).

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::Num;
use ohmpatch_engine::{
    BuildEnv, Core, Engine, EngineConfig, NodeKind, Params, PortElectrical, ProcessContext,
    Processor, Registry,
};
use ohmpatch_nodes::desc::{input, number, output, port};
use ohmpatch_patch::{Domain, KindSpec, Node, Patch, Value, Wire};
use std::sync::Arc;

/// Frames per block in every block-based measurement.
pub const BLOCK: usize = 128;

/// One block of samples on a cache-line boundary, as the engine's buffers
/// are: the hand-written baselines use these so their speed does not depend
/// on where the stack happens to put an array.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Aligned(pub [f32; BLOCK]);

impl Aligned {
    pub const ZERO: Aligned = Aligned([0.0; BLOCK]);
}
pub const SAMPLE_RATE: f64 = 48_000.0;
/// Cut-off of the low-pass in the effect chain.
pub const LOWPASS_HZ: f64 = 2_000.0;
/// Level of the bench noise source (peak, in the wire's unit).
pub const NOISE_LEVEL: f32 = 0.5;
/// Gain of the effect chain's gain stage, dB (drives the tanh into its bend).
pub const FX_GAIN_DB: f64 = 12.0;

/// The gain of node `k` in a gain chain, dB: alternately up and down so a
/// chain of any length stays near unity (no overflow, no denormals) and no
/// stage is a no-op a host could skip.
pub fn chain_gain_db(k: usize) -> f64 {
    if k.is_multiple_of(2) { 0.5 } else { -0.5 }
}

pub fn chain_gain(k: usize) -> f32 {
    10f64.powf(chain_gain_db(k) / 20.0) as f32
}

/// Uniform white noise, ±`level`.
#[derive(Clone, Copy, Debug)]
pub struct WhiteNoise {
    state: u32,
    level: f32,
}

impl WhiteNoise {
    pub fn new(seed: u32, level: f32) -> WhiteNoise {
        WhiteNoise {
            state: seed.max(1),
            level,
        }
    }

    #[inline]
    pub fn tick(&mut self) -> f32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        // Top 24 bits to [-1, 1).
        ((x >> 8) as f32 * (2.0 / 16_777_216.0) - 1.0) * self.level
    }
}

/// RBJ biquad low-pass, transposed direct form II.
#[derive(Clone, Copy, Debug)]
pub struct Lowpass {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Lowpass {
    pub fn new(freq_hz: f64, q: f64, sample_rate: f64) -> Lowpass {
        let w = 2.0 * std::f64::consts::PI * freq_hz / sample_rate;
        let alpha = w.sin() / (2.0 * q);
        let c = w.cos();
        let a0 = 1.0 + alpha;
        Lowpass {
            b0: ((1.0 - c) / 2.0 / a0) as f32,
            b1: ((1.0 - c) / a0) as f32,
            b2: ((1.0 - c) / 2.0 / a0) as f32,
            a1: (-2.0 * c / a0) as f32,
            a2: ((1.0 - alpha) / a0) as f32,
            z1: 0.0,
            z2: 0.0,
        }
    }

    #[inline]
    pub fn tick(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// Block `n` (from 0) of the effect chain `noise → gain → tanh → low-pass`
/// computed straight from the shared kernels: what every host must put out.
pub fn fx_reference(n: usize) -> Vec<f32> {
    let mut noise = WhiteNoise::new(1, NOISE_LEVEL);
    let g = 10f64.powf(FX_GAIN_DB / 20.0) as f32;
    let mut lp = Lowpass::new(LOWPASS_HZ, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE);
    let mut out = vec![0.0; BLOCK];
    for _ in 0..=n {
        for o in out.iter_mut() {
            *o = lp.tick((noise.tick() * g).tanh());
        }
    }
    out
}

/// Check that a host's block of the effect chain, divided by `scale`, is
/// one of the reference's first `within` blocks (a host may start its
/// sources a few blocks late, while its schedule arrives): the hosts are
/// timed doing the same arithmetic on the same samples, or the comparison
/// means nothing. Returns the block it matched.
pub fn assert_fx_block(host: &str, got: &[f32], within: usize, scale: f32) -> usize {
    assert_eq!(got.len(), BLOCK, "{host}: block length");
    let mut best = (f32::INFINITY, 0);
    for n in 0..within {
        let err = got
            .iter()
            .zip(&fx_reference(n))
            .map(|(g, w)| (g / scale - w).abs())
            .fold(0.0f32, f32::max);
        if err < best.0 {
            best = (err, n);
        }
    }
    assert!(
        best.0 < 1e-4,
        "{host}: off the reference by {} at best (block {})",
        best.0,
        best.1
    );
    best.1
}

struct BenchNoise {
    spec: KindSpec,
}
struct BenchTanh {
    spec: KindSpec,
}
struct BenchLowpass {
    spec: KindSpec,
}

pub struct NoiseProc(pub WhiteNoise);
pub struct TanhProc;
pub struct LowpassProc(pub Lowpass);

impl Processor for NoiseProc {
    fn process(&mut self, _: &ProcessContext, _: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if let Some(out) = outputs.first_mut() {
            for o in out.iter_mut() {
                *o = self.0.tick();
            }
        }
    }
}

impl Processor for TanhProc {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if let (Some(i), Some(o)) = (inputs.first(), outputs.first_mut()) {
            for (o, x) in o.iter_mut().zip(i.iter()) {
                *o = x.tanh();
            }
        }
    }
}

impl Processor for LowpassProc {
    fn process(&mut self, _: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if let (Some(i), Some(o)) = (inputs.first(), outputs.first_mut()) {
            for (o, x) in o.iter_mut().zip(i.iter()) {
                *o = self.0.tick(*x);
            }
        }
    }
}

// The bench kinds' params, in spec order.
const LEVEL: ParamId<Num> = ParamId::new(0, "level");
const SEED: ParamId<Num> = ParamId::new(1, "seed");
const FREQ_HZ: ParamId<Num> = ParamId::new(0, "freq_hz");

/// Line ports with no impedance: the bench kinds load nothing.
fn line_ports(spec: &KindSpec) -> Vec<PortElectrical> {
    spec.ports
        .iter()
        .map(|_| port(Domain::Line, ohmpatch_engine::Impedance::None))
        .collect()
}

impl NodeKind for BenchNoise {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, _: &Params) -> Vec<PortElectrical> {
        line_ports(&self.spec)
    }
    fn build(&self, params: &Params, _: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(NoiseProc(WhiteNoise::new(
            params.num(SEED) as u32,
            params.num(LEVEL) as f32,
        ))))
    }
}

impl NodeKind for BenchTanh {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, _: &Params) -> Vec<PortElectrical> {
        line_ports(&self.spec)
    }
    fn build(&self, _: &Params, _: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(TanhProc))
    }
}

impl NodeKind for BenchLowpass {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, _: &Params) -> Vec<PortElectrical> {
        line_ports(&self.spec)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(LowpassProc(Lowpass::new(
            params.num(FREQ_HZ),
            std::f64::consts::FRAC_1_SQRT_2,
            env.sample_rate,
        ))))
    }
}

/// The node catalogue plus the bench kinds.
pub fn bench_registry() -> Arc<Registry> {
    let mut r = ohmpatch_nodes::registry();
    r.register(Box::new(BenchNoise {
        spec: KindSpec {
            kind: "bench_noise".into(),
            help: "Bench: uniform white noise from a 32-bit xorshift.".into(),
            ports: vec![output("out", Domain::Line, "Noise.")],
            params: vec![
                number(LEVEL, 0.0, 10.0, f64::from(NOISE_LEVEL), "V", "Peak."),
                number(SEED, 1.0, 1e9, 1.0, "", "Seed."),
            ],
        },
    }));
    r.register(Box::new(BenchTanh {
        spec: KindSpec {
            kind: "bench_tanh".into(),
            help: "Bench: tanh of each sample.".into(),
            ports: vec![
                input("in", Domain::Line, "In."),
                output("out", Domain::Line, "tanh(in)."),
            ],
            params: vec![],
        },
    }));
    r.register(Box::new(BenchLowpass {
        spec: KindSpec {
            kind: "bench_lowpass".into(),
            help: "Bench: RBJ biquad low-pass, Q = 0.707.".into(),
            ports: vec![
                input("in", Domain::Line, "In."),
                output("out", Domain::Line, "Low-passed."),
            ],
            params: vec![number(
                FREQ_HZ, 10.0, 20_000.0, LOWPASS_HZ, "Hz", "Cut-off.",
            )],
        },
    }));
    Arc::new(r)
}

fn node(kind: &str, params: &[(&str, Value)]) -> Node {
    let mut n = Node::new(kind, (0.0, 0.0));
    for (k, v) in params {
        n.params.insert((*k).to_string(), v.clone());
    }
    n
}

fn wire(from: &str, to: &str) -> Wire {
    Wire::parse(from, to).expect("well-formed endpoints")
}

/// The output node the synthetic chains end in: unity scale (full scale
/// 1 V peak is not settable, so the scale is whatever the default is) and no
/// limiter, so that every host does the same arithmetic after the chain.
fn sink() -> Node {
    node("output", &[("limiter", Value::Bool(false))])
}

/// Append `n` gain nodes (ids from `id`, gains `chain_gain_db`) in a line
/// after node `from`; returns the last one's id (`from` when `n` is 0).
fn push_gains(p: &mut Patch, from: &str, n: usize, id: impl Fn(usize) -> String) -> String {
    let mut prev = from.to_string();
    for k in 0..n {
        let next = id(k);
        p.nodes.insert(
            next.clone(),
            node("gain", &[("gain_db", Value::Number(chain_gain_db(k)))]),
        );
        p.wires
            .push(wire(&format!("{prev}.out"), &format!("{next}.in")));
        prev = next;
    }
    prev
}

/// `bench_noise → g0 → … → g(n-1) → output`.
pub fn gain_chain_patch(n: usize) -> Patch {
    let mut p = Patch {
        name: format!("gain chain of {n}"),
        ..Patch::default()
    };
    p.nodes.insert("src".into(), node("bench_noise", &[]));
    let last = push_gains(&mut p, "src", n, |k| format!("g{k:05}"));
    p.nodes.insert("out".into(), sink());
    p.wires.push(wire(&format!("{last}.out"), "out.in"));
    p
}

/// `bench_noise → gain (+12 dB) → bench_tanh → bench_lowpass (2 kHz) → output`.
pub fn fx_chain_patch() -> Patch {
    let mut p = Patch {
        name: "noise, gain, tanh, low-pass".into(),
        ..Patch::default()
    };
    p.nodes.insert("src".into(), node("bench_noise", &[]));
    p.nodes.insert(
        "gain".into(),
        node("gain", &[("gain_db", Value::Number(FX_GAIN_DB))]),
    );
    p.nodes.insert("shape".into(), node("bench_tanh", &[]));
    p.nodes.insert("lp".into(), node("bench_lowpass", &[]));
    p.nodes.insert("out".into(), sink());
    p.wires.push(wire("src.out", "gain.in"));
    p.wires.push(wire("gain.out", "shape.in"));
    p.wires.push(wire("shape.out", "lp.in"));
    p.wires.push(wire("lp.out", "out.in"));
    p
}

/// The gain chain fed by a `file_in` with no file: silence from a node that
/// says so, so every gain and the output may be skipped.
pub fn silent_chain_patch(n: usize) -> Patch {
    let mut p = gain_chain_patch(n);
    p.nodes.insert("src".into(), node("file_in", &[]));
    p
}

/// A patch of exactly `n` nodes (n ≥ 4) for the compile benchmark, shaped
/// like a large real patch rather than one long line: a source fans out to
/// parallel chains of gains (10 nodes each, the last one shorter), every chain
/// ends in a shared mix bus (fan-in on one input), and the bus feeds the
/// output.
pub fn compile_patch(n: usize) -> Patch {
    assert!(
        n >= 4,
        "a compile patch has a source, a bus, an output and a chain"
    );
    let mut p = Patch {
        name: format!("{n} nodes"),
        ..Patch::default()
    };
    p.nodes.insert("src".into(), node("bench_noise", &[]));
    p.nodes.insert("bus".into(), node("gain", &[]));
    p.nodes.insert("out".into(), sink());
    p.wires.push(wire("bus.out", "out.in"));
    let mut left = n - 3;
    let mut chain = 0;
    while left > 0 {
        let len = left.min(10);
        let last = push_gains(&mut p, "src", len, |k| format!("c{chain:04}_{k}"));
        p.wires.push(wire(&format!("{last}.out"), "bus.in"));
        left -= len;
        chain += 1;
    }
    p
}

/// An engine on the bench registry with `patch` set, its fades settled.
pub fn engine_for(patch: &Patch, config: EngineConfig) -> Engine {
    let mut engine = Engine::new(bench_registry(), config);
    engine
        .set_patch(patch)
        .unwrap_or_else(|e| panic!("{}: {e}", patch.name));
    engine
}

/// Blocks `running_core` runs before handing the core over.
pub const RUNNING_CORE_BLOCKS: usize = 8;

/// Take the engine's audio-thread half with its first plan installed.
pub fn running_core(engine: &mut Engine) -> Core {
    let mut core = engine.take_core().expect("a fresh engine has its core");
    // The first block installs the plan; a few more let every fade settle.
    for _ in 0..RUNNING_CORE_BLOCKS {
        core.run_block(BLOCK, &[], 0);
    }
    core
}

/// The processors of a patch's nodes, built as the engine builds them, in
/// chain order (for calling them directly, without the host).
pub fn build_processors(ids: &[&str], patch: &Patch) -> Vec<Box<dyn Processor>> {
    let registry = bench_registry();
    ids.iter()
        .map(|id| {
            let n = &patch.nodes[*id];
            let kind = registry.get(&n.kind).expect("known kind");
            let params = Params::resolve(kind.spec(), &n.params);
            let mut env = BuildEnv::new(SAMPLE_RATE, None, 0, id);
            kind.build(&params, &mut env).expect("builds")
        })
        .collect()
}
