//! Bench helpers for the preamp, cab_ir and probe tests: build a processor or
//! a whole patch, drive it, and read volts back.
#![allow(dead_code)]

use ohmpatch_engine::{
    BuildEnv, Engine, EngineConfig, Params, ProcessContext, Processor, render_offline,
};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::Path;
use std::sync::Arc;

pub const SR: f64 = 48_000.0;

/// A kind's resolved params and processor, built at `SR` (seed 1).
pub fn build(kind: &str, given: &[(&str, Value)]) -> (Params, Box<dyn Processor>) {
    build_in(kind, given, None).expect("builds")
}

/// The same, with a patch folder for path params; the build error is returned.
pub fn build_in(
    kind: &str,
    given: &[(&str, Value)],
    dir: Option<&Path>,
) -> Result<(Params, Box<dyn Processor>), String> {
    let reg = ohmpatch_nodes::registry();
    let k = reg.get(kind).unwrap_or_else(|| panic!("no kind {kind}"));
    let map: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let params = Params::resolve(k.spec(), &map);
    let mut env = BuildEnv::new(SR, dir, 1, "dut");
    let p = k.build(&params, &mut env)?;
    Ok((params, p))
}

/// Run a one-in, one-out processor over `input` in blocks of 128.
pub fn run(p: &mut dyn Processor, input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; input.len()];
    let mut t = 0;
    while t < input.len() {
        let n = (input.len() - t).min(128);
        let ctx = ProcessContext {
            sample_rate: SR,
            frames: n,
            time: t as u64,
        };
        let ins: [&[f32]; 1] = [&input[t..t + n]];
        let mut o: [&mut [f32]; 1] = [&mut out[t..t + n]];
        p.process(&ctx, &ins, &mut o);
        t += n;
    }
    out
}

/// A sine of `rms` at `freq`, `n` samples at `SR`, computed in f64.
pub fn sine(freq: f64, rms: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (rms * 2f64.sqrt() * (2.0 * PI * freq * i as f64 / SR).sin()) as f32)
        .collect()
}

pub fn dbu(v: f64) -> f64 {
    ohmpatch_engine::dsp::v_to_dbu(v)
}

pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// A node for [`patch`]: id, kind and params.
pub type NodeDesc<'a> = (&'a str, &'a str, Vec<(&'a str, Value)>);

/// A patch from (id, kind, params) and ("a.out", "b.in") wires.
pub fn patch(nodes: &[NodeDesc], wires: &[(&str, &str)]) -> Patch {
    let mut p = Patch::default();
    for (id, kind, params) in nodes {
        let mut n = Node::new(*kind, (0.0, 0.0));
        for (k, v) in params {
            n.params.insert(k.to_string(), v.clone());
        }
        p.nodes.insert(id.to_string(), n);
    }
    for (a, b) in wires {
        p.wires.push(Wire::parse(a, b).expect("wire"));
    }
    p
}

pub fn engine(p: &Patch) -> Engine {
    let mut e = Engine::new(
        Arc::new(ohmpatch_nodes::registry()),
        EngineConfig {
            sample_rate: SR,
            seed: 7,
            ..Default::default()
        },
    );
    e.set_patch(p).expect("patch is valid");
    e
}

/// Render a patch offline at `SR`; one channel per `output` node, in id order.
pub fn render(p: &Patch, frames: usize) -> Vec<Vec<f32>> {
    let mut e = engine(p);
    render_offline(&mut e, frames, 128)
}

/// Full scale of the `output` used as a voltmeter.
pub const PROBE_FS_DBU: f64 = 40.0;

/// An `output` used as a voltmeter: no limiter, +40 dBu full scale, 10 MΩ.
pub fn voltmeter() -> Vec<(&'static str, Value)> {
    vec![
        ("limiter", false.into()),
        ("full_scale_dbu", PROBE_FS_DBU.into()),
        ("z_in_ohm", 1e7.into()),
    ]
}

/// Volts from a voltmeter channel.
pub fn volts(ch: &[f32]) -> Vec<f32> {
    let k = ohmpatch_nodes::kinds::output::full_scale_peak_v(PROBE_FS_DBU) as f32;
    ch.iter().map(|v| v * k).collect()
}
