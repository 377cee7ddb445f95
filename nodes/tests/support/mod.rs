//! The node tests' bench: build a node's processor or a whole patch, drive
//! it, read volts back, and measure levels the way an audio analyser would
//! (windowed sine fit for tones, FFT band power for noise). A test file that
//! uses `assert_realtime_safe` installs `assert_no_alloc::AllocDisabler` as
//! its global allocator.
#![allow(dead_code)]

use ohmpatch_engine::{
    BuildEnv, Engine, EngineConfig, NodeKind, Params, ProcessContext, Processor, render_offline,
};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::Path;
use std::sync::Arc;

pub const SR: f64 = 48_000.0;

pub fn params_of(kind: &dyn NodeKind, given: &[(&str, Value)]) -> Params {
    let map: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Params::resolve(kind.spec(), &map)
}

/// A node kind's resolved params and its processor, built at `SR`.
pub fn build(kind: &str, given: &[(&str, Value)]) -> (Params, Box<dyn Processor>) {
    build_seeded(kind, given, 1)
}

pub fn build_seeded(
    kind: &str,
    given: &[(&str, Value)],
    seed: u64,
) -> (Params, Box<dyn Processor>) {
    build_with(kind, given, None, seed).expect("builds")
}

/// The same with a patch folder for path params; the build error is returned.
pub fn build_in(
    kind: &str,
    given: &[(&str, Value)],
    dir: Option<&Path>,
) -> Result<(Params, Box<dyn Processor>), String> {
    build_with(kind, given, dir, 1)
}

fn build_with(
    kind: &str,
    given: &[(&str, Value)],
    dir: Option<&Path>,
    seed: u64,
) -> Result<(Params, Box<dyn Processor>), String> {
    let reg = ohmpatch_nodes::registry();
    let k = reg.get(kind).unwrap_or_else(|| panic!("no kind {kind}"));
    let params = params_of(k, given);
    let mut env = BuildEnv::new(SR, dir, seed, "dut");
    let p = k.build(&params, &mut env)?;
    Ok((params, p))
}

/// Run a one-output processor over `input` (or silence for `frames`), in blocks of 128.
pub fn run(p: &mut dyn Processor, input: Option<&[f32]>, frames: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; frames];
    let zeros = [0.0f32; 128];
    let mut t = 0;
    while t < frames {
        let n = (frames - t).min(128);
        let ctx = ProcessContext {
            sample_rate: SR,
            frames: n,
            time: t as u64,
        };
        let inp: &[f32] = match input {
            Some(x) => &x[t..t + n],
            None => &zeros[..n],
        };
        let ins: [&[f32]; 1] = [inp];
        let mut o: [&mut [f32]; 1] = [&mut out[t..t + n]];
        p.process(&ctx, &ins, &mut o);
        t += n;
    }
    out
}

/// Run a one-in, one-out processor over `input`, in blocks of 128.
pub fn drive(p: &mut dyn Processor, input: &[f32]) -> Vec<f32> {
    run(p, Some(input), input.len())
}

/// A sine of `rms` at `freq`, `n` samples at `SR`.
pub fn sine(freq: f64, rms: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (rms * 2f64.sqrt() * (2.0 * PI * freq * i as f64 / SR).sin()) as f32)
        .collect()
}

fn blackman_harris(n: usize) -> Vec<f64> {
    let (a0, a1, a2, a3) = (0.35875, 0.48829, 0.14128, 0.01168);
    (0..n)
        .map(|i| {
            let x = 2.0 * PI * i as f64 / (n - 1) as f64;
            a0 - a1 * x.cos() + a2 * (2.0 * x).cos() - a3 * (3.0 * x).cos()
        })
        .collect()
}

/// Complex amplitude (peak, phase re sine at sample 0 of `x`) of the
/// component at `freq`, by a Blackman–Harris-windowed projection: leakage
/// from other components 92 dB down at a few bins' distance.
pub fn tone_phasor(x: &[f32], sr: f64, freq: f64) -> (f64, f64) {
    let w = blackman_harris(x.len());
    let (mut re, mut im, mut sw) = (0.0, 0.0, 0.0);
    for (i, (v, wi)) in x.iter().zip(&w).enumerate() {
        let ph = 2.0 * PI * freq * i as f64 / sr;
        re += f64::from(*v) * wi * ph.cos();
        im += f64::from(*v) * wi * ph.sin();
        sw += wi;
    }
    // x = A sin(ωt + φ) = A (sin ωt cos φ + cos ωt sin φ)
    let a_sin = 2.0 * im / sw;
    let a_cos = 2.0 * re / sw;
    (a_sin.hypot(a_cos), a_cos.atan2(a_sin))
}

/// Rms amplitude of the component at `freq`.
pub fn tone_level(x: &[f32], sr: f64, freq: f64) -> f64 {
    tone_phasor(x, sr, freq).0 / 2f64.sqrt()
}

pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// One-sided power spectrum (V² per bin, Hann window, power-normalised) and bin width.
pub fn power_spectrum(x: &[f32], sr: f64) -> (Vec<f64>, f64) {
    let n = x.len();
    let w: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect();
    let wp: f64 = w.iter().map(|v| v * v).sum::<f64>() / n as f64;
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .zip(&w)
        .map(|(v, wi)| Complex::new(f64::from(*v) * wi, 0.0))
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let scale = 1.0 / (n as f64 * n as f64 * wp);
    let ps: Vec<f64> = buf[..n / 2 + 1]
        .iter()
        .enumerate()
        .map(|(k, c)| c.norm_sqr() * scale * if k == 0 || k == n / 2 { 1.0 } else { 2.0 })
        .collect();
    (ps, sr / n as f64)
}

/// Rms within `lo`…`hi` Hz (FFT band power).
pub fn band_rms(x: &[f32], sr: f64, lo: f64, hi: f64) -> f64 {
    let (ps, df) = power_spectrum(x, sr);
    band_power(&ps, df, lo, hi).sqrt()
}

pub fn band_power(ps: &[f64], df: f64, lo: f64, hi: f64) -> f64 {
    let k0 = (lo / df).ceil() as usize;
    let k1 = ((hi / df).floor() as usize).min(ps.len() - 1);
    ps[k0..=k1].iter().sum()
}

/// Octave-band centres 31.5 Hz … 16 kHz (base-2 nominal series).
pub fn octave_centres() -> Vec<f64> {
    (0..10).map(|i| 31.25 * 2f64.powi(i)).collect()
}

pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

pub fn dbu(v: f64) -> f64 {
    ohmpatch_engine::dsp::v_to_dbu(v)
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

/// An engine at `SR` playing `p` (seed 7).
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
    render_offline(&mut engine(p), frames, 128)
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

/// `check`'s static analysis of a patch at 1 kHz.
pub fn analysis_of(p: &Patch) -> ohmpatch_engine::analysis::Analysis {
    let reg = ohmpatch_nodes::registry();
    let schedule =
        ohmpatch_engine::compile(p, &reg, SR, &std::collections::HashSet::new()).expect("compiles");
    ohmpatch_engine::analysis::analyze(&schedule, &reg, SR, 1000.0)
}

/// The analysis of the wire leaving `from` ("node.port").
pub fn wire_report<'a>(
    a: &'a ohmpatch_engine::analysis::Analysis,
    from: &str,
) -> &'a ohmpatch_engine::analysis::WireReport {
    a.wires
        .iter()
        .find(|w| w.from.to_string() == from)
        .unwrap_or_else(|| panic!("no wire from {from}"))
}

/// Run a processor and send it every param's current value, with
/// allocation forbidden (the audio thread's rules).
pub fn assert_realtime_safe(kind: &str, given: &[(&str, Value)], with_input: bool) {
    let (params, mut p) = build(kind, given);
    let values: Vec<f64> = params.values().iter().map(|v| v.as_f64()).collect();
    let input = sine(997.0, 1.0, 128);
    let mut out = vec![0.0f32; 128];
    assert_no_alloc::assert_no_alloc(|| {
        for round in 0..4 {
            let ctx = ProcessContext {
                sample_rate: SR,
                frames: 128,
                time: round * 128,
            };
            let ins: [&[f32]; 1] = [&input];
            let mut o: [&mut [f32]; 1] = [&mut out];
            p.process(&ctx, if with_input { &ins } else { &[] }, &mut o);
            for (i, v) in values.iter().enumerate() {
                p.set_param(i, *v);
            }
        }
    });
    assert!(out.iter().all(|v| v.is_finite()));
}
