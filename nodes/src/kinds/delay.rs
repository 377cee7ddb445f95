//! `delay`: a fractional delay line, and the only way to close a feedback
//! loop. Inside a loop it runs as read-then-write, so its effective delay is
//! at least one engine block (128 frames at most).

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::Smoother;
use ohmpatch_engine::{
    BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor, Role,
};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const TIME_MS: ParamId<Num> = ParamId::new(0, "time_ms");
pub const GAIN_DB: ParamId<Num> = ParamId::new(1, "gain_db");
pub const DOMAIN: ParamId<Choice> = ParamId::new(2, "domain");

/// Longest delay a patch may ask for; bounds memory for untrusted patches.
pub const MAX_DELAY_MS: f64 = 10_000.0;

pub struct Delay {
    spec: KindSpec,
}

impl Delay {
    pub fn new() -> Delay {
        Delay {
            spec: KindSpec {
                kind: "delay".into(),
                help: "Delays its input (fractional, smoothed); closes feedback loops. An active stage: its input presents no load and its output is ideal.".into(),
                ports: vec![
                    input("in", Domain::Line, "Signal in."),
                    output("out", Domain::Line, "Signal, later."),
                ],
                params: vec![
                    number(TIME_MS, 0.0, MAX_DELAY_MS, 100.0, "ms", "Delay time.").live(),
                    number(
                        GAIN_DB,
                        -120.0,
                        12.0,
                        0.0,
                        "dB",
                        "Gain of the delayed signal (feedback amount in a loop).",
                    )
                    .live(),
                    domain_param(DOMAIN, "line"),
                ],
            },
        }
    }
}

impl Default for Delay {
    fn default() -> Self {
        Delay::new()
    }
}

/// Samples a delay line needs for `time_ms`: the delay, a block of
/// interpolation room and the block being written.
fn needed(time_ms: f64, sample_rate: f64) -> usize {
    (time_ms.max(0.0) * 0.001 * sample_rate).ceil() as usize + ohmpatch_engine::MAX_BLOCK * 2 + 4
}

/// The line a delay of `time_ms` is built with: sized by need, with room to
/// double the time (or reach 100 ms) live; beyond that the node is built
/// anew (`live_fits`). Never more than the longest delay needs.
fn line_len(time_ms: f64, sample_rate: f64) -> usize {
    needed((2.0 * time_ms).clamp(100.0, MAX_DELAY_MS), sample_rate)
}

impl NodeKind for Delay {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![Level::sum(inputs).scaled(super::gain::gain_of(params.num(GAIN_DB)))],
            warnings: Vec::new(),
        }
    }
    fn role(&self) -> Role {
        Role::FeedbackBreaker
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        transparent(&self.spec, params, DOMAIN)
    }
    fn memory_bytes(&self, params: &Params, env: &BuildEnv) -> usize {
        line_len(params.num(TIME_MS), env.sample_rate) * std::mem::size_of::<f32>()
    }
    fn live_fits(&self, built: &Params, new: &Params, sample_rate: f64) -> bool {
        needed(new.num(TIME_MS), sample_rate) <= line_len(built.num(TIME_MS), sample_rate)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let len = line_len(params.num(TIME_MS), sr);
        let t = params.num(TIME_MS) * 0.001 * sr;
        Ok(Box::new(DelayProc {
            buf: vec![0.0; len],
            write: 0,
            delay: Smoother::new(t, 50.0, sr),
            gain: Smoother::new(super::gain::gain_of(params.num(GAIN_DB)), 5.0, sr),
            sr,
        }))
    }
}

struct DelayProc {
    buf: Vec<f32>,
    write: usize,
    /// Delay in samples.
    delay: Smoother,
    gain: Smoother,
    sr: f64,
}

impl DelayProc {
    #[inline]
    fn read_at(&self, d: f64) -> f32 {
        let len = self.buf.len();
        let d = d.clamp(0.0, (len - 2) as f64);
        let pos = self.write as f64 + len as f64 - d;
        let i = pos.floor();
        let frac = (pos - i) as f32;
        let i = i as usize % len;
        let j = (i + 1) % len;
        self.buf[i] + (self.buf[j] - self.buf[i]) * frac
    }
}

impl Processor for DelayProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(inp), Some(out)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let len = self.buf.len();
        for (o, x) in out.iter_mut().zip(inp.iter()) {
            self.buf[self.write] = *x;
            let d = self.delay.next();
            let g = self.gain.next() as f32;
            // Reading d samples behind the sample just written.
            let y = self.read_at(d);
            *o = y * g;
            self.write = (self.write + 1) % len;
        }
    }

    fn feedback_read(&mut self, ctx: &ProcessContext, outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        // In a loop the input of this block is not known yet: the delay is at
        // least one block, counted from the start of this block.
        let min = ctx.frames as f64;
        for (n, o) in out.iter_mut().enumerate() {
            let d = self.delay.next().max(min);
            let g = self.gain.next() as f32;
            // Sample n of this block, d samples ago, relative to `write` (the
            // next sample to be written, i.e. time n = 0 of this block).
            *o = self.read_at(d - n as f64) * g;
        }
    }

    fn feedback_write(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]]) {
        let Some(inp) = inputs.first() else { return };
        let len = self.buf.len();
        for x in inp.iter() {
            self.buf[self.write] = if x.is_finite() { *x } else { 0.0 };
            self.write = (self.write + 1) % len;
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == TIME_MS.index() => self.delay.set(value * 0.001 * self.sr),
            i if i == GAIN_DB.index() => self.gain.set(super::gain::gain_of(value)),
            _ => {}
        }
    }
}
