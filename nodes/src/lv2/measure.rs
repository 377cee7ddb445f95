//! `check`'s view of a plugin: a black box, measured. A private instance
//! runs off the audio thread on the analysis sine (for the level it gives)
//! and on silence (for the noise it makes); the results are kept per set of
//! params, so an edit elsewhere measures nothing again.

use super::kind::{Lv2Kind, full_scale_v};
use super::run::Lv2Proc;
use crate::measure::{band_rms, peak, tone_level};
use ohmpatch_engine::analysis::{AnalysisContext, Finding, Level, StageAnalysis, Subject};
use ohmpatch_engine::dsp::NOISE_BAND;
use ohmpatch_engine::{MAX_BLOCK, Params, ProcessContext, Processor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Frames run before measuring: a second for the level `check` reports (an
/// amp simulation settles for most of one: GxAmplifier-X reads 0.7 dB low
/// after 0.1 s), 0.1 s for the gain each noise band is scaled by. Then
/// measured: a tone over 8,192 (three periods at the lowest band's 22 Hz),
/// silence over 32,768 (0.7 s, so band power resolves the 20 Hz edge).
const SETTLE: usize = 48_000;
const SETTLE_BAND: usize = 4096;
const TONE: usize = 8192;
const SILENCE: usize = 32768;
/// Sets of params kept; a knob dragged through many values starts afresh.
const KEPT: usize = 16;
/// The sine used when nothing reaches the plugin: −20 dB below full scale.
const PROBE_FS: f64 = 0.1;

/// What one instance, with one set of params, was measured to do.
#[derive(Default)]
pub struct Measured {
    /// The first output on silence, in the plugin's floats.
    silence: Option<Vec<f32>>,
    /// (frequency bits, input rms bits) → what each output gave.
    tones: HashMap<(u64, u64), Vec<Tone>>,
}

/// One output's answer to a sine, in the plugin's floats.
#[derive(Clone, Copy)]
struct Tone {
    /// The component at the test frequency: the gain for noise near it.
    fundamental: f64,
    /// Everything, DC removed, as a meter reads it: the signal level.
    total: f64,
    peak: f64,
}

pub type Cache = Mutex<HashMap<String, Arc<Mutex<Measured>>>>;

/// Run a fresh instance `settle + measure` frames with `input` (floats)
/// on every input port; the measured part of each output.
fn run(
    kind: &Lv2Kind,
    params: &Params,
    sr: f64,
    settle: usize,
    measure: usize,
    input: impl Fn(usize) -> f32,
) -> Option<Vec<Vec<f32>>> {
    let mut p = Lv2Proc::new(&kind.info, params, sr).ok()?;
    // Silence in the plugin's floats is silence in volts: the wrapper's
    // scaling is undone here by feeding volts of `input · fs`.
    let fs = full_scale_v(params) as f32;
    let n_in = kind.info.audio_inputs.len();
    let n_out = kind.info.audio_outputs.len();
    let total = settle + measure;
    let mut outs = vec![vec![0f32; measure]; n_out];
    let mut inb = [0f32; MAX_BLOCK];
    let mut ob = vec![[0f32; MAX_BLOCK]; n_out];
    let mut t = 0;
    while t < total {
        let n = MAX_BLOCK.min(total - t);
        for (i, x) in inb[..n].iter_mut().enumerate() {
            *x = input(t + i) * fs;
        }
        let ins: Vec<&[f32]> = (0..n_in).map(|_| &inb[..n]).collect();
        let mut refs: Vec<&mut [f32]> = ob.iter_mut().map(|b| &mut b[..n]).collect();
        let ctx = ProcessContext {
            sample_rate: sr,
            frames: n,
            time: t as u64,
        };
        p.process(&ctx, &ins, &mut refs);
        // Background work done at once, as an offline render does it.
        super::run::features().worker_manager().run_workers();
        for (o, b) in outs.iter_mut().zip(&ob) {
            for i in 0..n {
                if t + i >= settle {
                    o[t + i - settle] = b[i] / fs;
                }
            }
        }
        t += n;
    }
    Some(outs)
}

/// Rms with the mean taken out, as a coupling capacitor and a meter would.
fn ac_rms(x: &[f32]) -> f64 {
    let mean = x.iter().map(|v| f64::from(*v)).sum::<f64>() / x.len().max(1) as f64;
    (x.iter()
        .map(|v| (f64::from(*v) - mean).powi(2))
        .sum::<f64>()
        / x.len().max(1) as f64)
        .sqrt()
}

pub fn analyze(
    kind: &Lv2Kind,
    params: &Params,
    ctx: &AnalysisContext,
    inputs: &[Level],
) -> StageAnalysis {
    let n_out = kind.info.audio_outputs.len();
    let input = if inputs.is_empty() {
        Level::SILENT
    } else {
        Level::sum(inputs)
    };
    let sr = ctx.sample_rate;
    let key = format!("{sr}{:?}", params.values());
    let cell = {
        let mut cache = kind.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= KEPT && !cache.contains_key(&key) {
            cache.clear();
        }
        cache.entry(key).or_default().clone()
    };
    let mut m = cell.lock().unwrap_or_else(|e| e.into_inner());
    // The sine: the level that arrives, or a probe when none does, so the
    // gain is known for the noise that arrives.
    let probe = if input.signal > 0.0 {
        input.signal / full_scale_v(params) * std::f64::consts::SQRT_2
    } else {
        PROBE_FS
    };
    let settle = if ctx.band.is_none() {
        SETTLE
    } else {
        SETTLE_BAND
    };
    let tk = (ctx.freq.to_bits(), probe.to_bits());
    if let std::collections::hash_map::Entry::Vacant(slot) = m.tones.entry(tk) {
        let w = std::f64::consts::TAU * ctx.freq / sr;
        let got = run(kind, params, sr, settle, TONE, |i| {
            (probe * (w * i as f64).sin()) as f32
        })
        .map(|o| {
            o.iter()
                .map(|x| Tone {
                    fundamental: tone_level(x, sr, ctx.freq),
                    total: ac_rms(x),
                    peak: peak(x),
                })
                .collect()
        })
        .unwrap_or_else(|| {
            vec![
                Tone {
                    fundamental: 0.0,
                    total: 0.0,
                    peak: 0.0
                };
                n_out
            ]
        });
        slot.insert(got);
    }
    let tones = m.tones[&tk].clone();
    let pk = tones.iter().map(|t| t.peak).fold(0.0, f64::max);
    if m.silence.is_none() {
        m.silence =
            run(kind, params, sr, SETTLE_BAND, SILENCE, |_| 0.0).and_then(|o| o.into_iter().next());
    }
    let (lo, hi) = ctx.band.unwrap_or(NOISE_BAND);
    let own = m
        .silence
        .as_ref()
        .map_or(0.0, |s| band_rms(s, sr, lo, hi) * full_scale_v(params));
    let probe_rms = probe / std::f64::consts::SQRT_2;
    let mut outputs = Vec::with_capacity(n_out);
    for t in &tones {
        // Levels are in the plugin's floats: `fundamental / probe_rms` is
        // the gain at this frequency.
        let g = t.fundamental / probe_rms;
        let noise = ((input.noise * g).powi(2) + own * own).sqrt();
        outputs.push(Level {
            signal: if input.signal > 0.0 {
                t.total * full_scale_v(params)
            } else {
                0.0
            },
            noise,
            // Floats do not clip inside the plugin; what clips before it still does.
            clip: input.clip * g,
        });
    }
    let mut warnings = Vec::new();
    if ctx.band.is_none() && input.signal > 0.0 && pk > 1.0 {
        warnings.push(Finding {
            at: Subject::node(""),
            message: format!(
                "measured: the plugin's output peaks at {:+.1} dBFS of its +{:.0} dBu full scale",
                20.0 * pk.log10(),
                params.num(super::kind::FULL_SCALE_DBU)
            ),
            fix: "turn the plugin's output control down, or raise full_scale_dbu".into(),
        });
    }
    StageAnalysis { outputs, warnings }
}
