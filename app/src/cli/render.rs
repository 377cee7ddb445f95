//! `ohmpatch render`: offline, faster than real time, same seed → same bytes.

use super::*;
use ohmpatch_engine::{ChannelMap, EngineConfig, Params, Registry, Role, render_offline_with};
use ohmpatch_patch::Patch;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    pub patch: PathBuf,
    /// The WAV file to write (32-bit float, one channel per `output` node in id order).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    #[arg(long = "sample-rate", default_value_t = 48_000)]
    pub sample_rate: u32,
    /// Frames per block handed to the engine (as a device buffer would be).
    #[arg(long, default_value_t = 128)]
    pub block: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Feed the `audio_in` node ID from a WAV file: ID=FILE.wav (repeatable).
    #[arg(long = "input", value_name = "ID=FILE.wav")]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

pub fn run(a: Args) -> u8 {
    match render(a) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

fn render(a: Args) -> Result<(), u8> {
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 24.0 * 3600.0) {
        eprintln!(
            "--seconds must be a number of seconds between 0 and 86400; got {}",
            a.seconds
        );
        return Err(EXIT_INVALID);
    }
    if !(8_000..=384_000).contains(&a.sample_rate) {
        eprintln!(
            "--sample-rate must be between 8000 and 384000 Hz; got {}",
            a.sample_rate
        );
        return Err(EXIT_INVALID);
    }
    if a.block == 0 || a.block > 65_536 {
        eprintln!(
            "--block must be between 1 and 65536 frames; got {}",
            a.block
        );
        return Err(EXIT_INVALID);
    }
    let patch = load(&a.patch)?;
    let registry = ohmpatch_nodes::registry_with_plugins();
    let inputs = device_inputs(&a, &patch, &registry)?;
    let mut config = EngineConfig {
        sample_rate: f64::from(a.sample_rate),
        seed: a.seed,
        patch_dir: Some(patch_dir(&a.patch)),
        channel_map: ChannelMap::IdOrder,
        ..EngineConfig::default()
    };
    a.threads.apply(&mut config)?;
    let mut engine = engine_for(&a.patch, &patch, config)?;
    let outs: Vec<&String> = patch
        .nodes
        .iter()
        .filter(|(_, n)| {
            registry
                .get(&n.kind)
                .is_some_and(|k| k.role() == Role::DeviceOut)
        })
        .map(|(id, _)| id)
        .collect();
    if outs.is_empty() {
        eprintln!(
            "{}: the patch has no `output` node, so there is nothing to render",
            a.patch.display()
        );
        return Err(EXIT_INVALID);
    }
    let frames = (a.seconds * f64::from(a.sample_rate)).round() as usize;
    let t0 = Instant::now();
    let channels = render_offline_with(&mut engine, frames, a.block, &inputs);
    let wall = t0.elapsed().as_secs_f64();
    for e in engine.shutdown() {
        eprintln!("warning: {e}");
    }
    ohmpatch_nodes::wav::write_f32_wav(&a.out, &channels, a.sample_rate).map_err(|e| {
        eprintln!("{e}");
        EXIT_INVALID
    })?;
    if let Some(node) = engine.faulty_node() {
        eprintln!("warning: node \"{node}\" produced non-finite samples; they were silenced");
    }
    let peaks: Vec<String> = channels
        .iter()
        .zip(&outs)
        .map(|(c, id)| {
            format!(
                "{id} {} dBFS peak",
                dbfs(f64::from(c.iter().fold(0.0f32, |m, v| m.max(v.abs()))))
            )
        })
        .collect();
    println!(
        "rendered {:.3} s at {} Hz to {} ({} channel{}: {}) in {:.2} s, {:.0}x real time",
        a.seconds,
        a.sample_rate,
        a.out.display(),
        channels.len(),
        if channels.len() == 1 { "" } else { "s" },
        peaks.join(", "),
        wall,
        a.seconds / wall.max(1e-9)
    );
    Ok(())
}

/// The device input channels that `--input ID=FILE.wav` feeds: each file
/// reaches the device channel its node reads, as a live input would (full
/// scale at the node's own full-scale level). The files are read here, by
/// the user's command; the patch's own paths stay confined to its folder.
fn device_inputs(a: &Args, patch: &Patch, registry: &Registry) -> Result<Vec<Vec<f32>>, u8> {
    let mut inputs: Vec<Vec<f32>> = Vec::new();
    let mut fed: Vec<(u32, &str)> = Vec::new();
    for spec in &a.inputs {
        let Some((id, file)) = spec.split_once('=') else {
            eprintln!("--input takes ID=FILE.wav; got \"{spec}\"");
            return Err(EXIT_INVALID);
        };
        let Some(node) = patch.nodes.get(id) else {
            eprintln!("--input {spec}: the patch has no node \"{id}\"");
            return Err(EXIT_INVALID);
        };
        let kind = registry.get(&node.kind);
        let Some(kind) = kind.filter(|k| k.role() == Role::DeviceIn) else {
            eprintln!(
                "--input {spec}: node \"{id}\" is a {}, not a device input (audio_in)",
                node.kind
            );
            return Err(EXIT_INVALID);
        };
        let channel = kind
            .device_channel(&Params::resolve(kind.spec(), &node.params))
            .unwrap_or(0);
        if let Some((_, other)) = fed.iter().find(|(c, _)| *c == channel) {
            eprintln!(
                "--input {spec}: node \"{id}\" reads device channel {} like \"{other}\"; give each input its own channel",
                channel + 1
            );
            return Err(EXIT_INVALID);
        }
        fed.push((channel, id));
        let audio = ohmpatch_nodes::wav::read_wav(std::path::Path::new(file)).map_err(|e| {
            eprintln!("--input {spec}: {e}");
            EXIT_UNREADABLE
        })?;
        let first = audio.channels.into_iter().next().unwrap_or_default();
        let samples = if audio.sample_rate == a.sample_rate {
            first
        } else {
            ohmpatch_nodes::wav::resample(&first, audio.sample_rate, a.sample_rate).map_err(
                |e| {
                    eprintln!("--input {spec}: {e}");
                    EXIT_UNREADABLE
                },
            )?
        };
        let c = channel as usize;
        if inputs.len() <= c {
            inputs.resize(c + 1, Vec::new());
        }
        inputs[c] = samples;
    }
    Ok(inputs)
}
