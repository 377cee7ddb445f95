//! `ohmpatch render`: offline, faster than real time, same seed → same bytes.

use super::*;
use ohmpatch_engine::{ChannelMap, EngineConfig, render_offline};
use ohmpatch_patch::Value;
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
    let mut patch = load(&a.patch)?;
    for spec in &a.inputs {
        let Some((id, file)) = spec.split_once('=') else {
            eprintln!("--input takes ID=FILE.wav; got \"{spec}\"");
            return Err(EXIT_INVALID);
        };
        let Some(node) = patch.nodes.get_mut(id) else {
            eprintln!("--input {spec}: the patch has no node \"{id}\"");
            return Err(EXIT_INVALID);
        };
        if node.kind != "audio_in" {
            eprintln!(
                "--input {spec}: node \"{id}\" is a {}, not an audio_in",
                node.kind
            );
            return Err(EXIT_INVALID);
        }
        let file = std::fs::canonicalize(file).map_err(|e| {
            eprintln!("--input {spec}: cannot read {file}: {e}");
            EXIT_UNREADABLE
        })?;
        // The file plays as the device input would: full scale at the same level.
        let fs = node
            .params
            .get("full_scale_dbu")
            .cloned()
            .unwrap_or(Value::Number(18.0));
        let fs_spl = node
            .params
            .get("full_scale_db_spl")
            .cloned()
            .unwrap_or(Value::Number(120.0));
        let mut params = std::collections::BTreeMap::new();
        params.insert("path".to_string(), Value::Str(file.display().to_string()));
        params.insert("level_dbu".to_string(), fs);
        params.insert("level_db_spl".to_string(), fs_spl);
        for k in ["domain", "z_out_ohm"] {
            if let Some(v) = node.params.get(k) {
                params.insert(k.to_string(), v.clone());
            }
        }
        if let Some(Value::Number(c)) = node.params.get("channel") {
            params.insert("channel".to_string(), Value::Number(*c));
        } else {
            params.insert("channel".to_string(), Value::Number(1.0));
        }
        node.kind = "file_in".into();
        node.params = params;
    }
    let config = EngineConfig {
        sample_rate: f64::from(a.sample_rate),
        seed: a.seed,
        patch_dir: Some(patch_dir(&a.patch)),
        // Files named on the command line are the user's own choice.
        allow_outside_paths: !a.inputs.is_empty(),
        channel_map: ChannelMap::IdOrder,
        ..EngineConfig::default()
    };
    let mut engine = engine_for(&a.patch, &patch, config)?;
    let outs: Vec<&String> = patch
        .nodes
        .iter()
        .filter(|(_, n)| n.kind == "output")
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
    let channels = render_offline(&mut engine, frames, a.block);
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
