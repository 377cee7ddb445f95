//! WAV files in and out (hound), and resampling to the session rate (rubato).

use rubato::{FftFixedIn, Resampler};
use std::path::Path;

/// Largest audio file a patch may load; bounds memory for untrusted patches.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Longest audio file a patch may load, seconds.
pub const MAX_FILE_SECONDS: f64 = 30.0 * 60.0;

/// Samples of one WAV file, each channel as floats in full scale (±1.0).
pub struct Audio {
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
}

/// Frames, channels and sample rate of a WAV file, from its header alone:
/// what reading it would take, known before it is read.
pub fn header(path: &Path) -> Result<(u64, usize, u32), String> {
    let r = hound::WavReader::open(path)
        .map_err(|e| format!("{} is not a readable WAV file: {e}", path.display()))?;
    let spec = r.spec();
    Ok((
        u64::from(r.duration()),
        usize::from(spec.channels),
        spec.sample_rate,
    ))
}

/// The header of the WAV file a path param names, resolved as the build
/// would resolve it; `None` for no file or one that cannot be read (the
/// build then says why).
pub fn header_of(value: &str, env: &ohmpatch_engine::BuildEnv) -> Option<(u64, usize, u32)> {
    if value.is_empty() {
        return None;
    }
    header(&env.resolve_path(value).ok()?).ok()
}

/// Read a WAV file of any common format, refusing oversized files.
pub fn read_wav(path: &Path) -> Result<Audio, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is {} MB; files up to {} MB can be loaded",
            path.display(),
            meta.len() / 1_000_000,
            MAX_FILE_BYTES / 1_000_000
        ));
    }
    let mut r = hound::WavReader::open(path)
        .map_err(|e| format!("{} is not a readable WAV file: {e}", path.display()))?;
    let spec = r.spec();
    let n_ch = usize::from(spec.channels.max(1));
    if spec.sample_rate == 0 {
        return Err(format!("{} has a sample rate of 0", path.display()));
    }
    let frames = r.duration() as f64;
    if frames / f64::from(spec.sample_rate) > MAX_FILE_SECONDS {
        return Err(format!(
            "{} lasts {:.0} s; files up to {:.0} s can be loaded",
            path.display(),
            frames / f64::from(spec.sample_rate),
            MAX_FILE_SECONDS
        ));
    }
    let mut channels = vec![Vec::with_capacity(r.duration() as usize); n_ch];
    let bad = |e: hound::Error| format!("{} is damaged: {e}", path.display());
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for (i, s) in r.samples::<f32>().enumerate() {
                channels[i % n_ch].push(s.map_err(bad)?);
            }
        }
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            for (i, s) in r.samples::<i32>().enumerate() {
                channels[i % n_ch].push(s.map_err(bad)? as f32 * scale);
            }
        }
    }
    for c in channels.iter_mut() {
        for s in c.iter_mut() {
            if !s.is_finite() {
                *s = 0.0;
            }
        }
    }
    Ok(Audio {
        channels,
        sample_rate: spec.sample_rate,
    })
}

/// Resample one channel from `from` Hz to `to` Hz (band-limited, FFT based).
pub fn resample(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    if from == to || x.is_empty() {
        return Ok(x.to_vec());
    }
    let chunk = 1024;
    let mut rs = FftFixedIn::<f64>::new(from as usize, to as usize, chunk, 2, 1)
        .map_err(|e| e.to_string())?;
    let delay = rs.output_delay();
    let want = (x.len() as f64 * f64::from(to) / f64::from(from)).round() as usize;
    let mut out: Vec<f32> = Vec::with_capacity(want + delay + chunk * 2);
    let input: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    let mut pos = 0;
    while pos < input.len() {
        let need = rs.input_frames_next();
        let end = (pos + need).min(input.len());
        let block = if end - pos == need {
            rs.process(&[&input[pos..end]], None)
        } else {
            rs.process_partial(Some(&[&input[pos..end]]), None)
        }
        .map_err(|e| e.to_string())?;
        out.extend(block[0].iter().map(|v| *v as f32));
        pos = end;
    }
    while out.len() < want + delay {
        let block = rs
            .process_partial::<&[f64]>(None, None)
            .map_err(|e| e.to_string())?;
        if block[0].is_empty() {
            break;
        }
        out.extend(block[0].iter().map(|v| *v as f32));
    }
    let mut out: Vec<f32> = out.into_iter().skip(delay).take(want).collect();
    out.resize(want, 0.0);
    Ok(out)
}

/// Write mono or multichannel 32-bit float WAV (what `render` produces).
pub fn write_f32_wav(path: &Path, channels: &[Vec<f32>], sample_rate: u32) -> Result<(), String> {
    let n_ch = channels.len().max(1);
    let spec = hound::WavSpec {
        channels: n_ch as u16,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let tmp = path.with_extension(format!("wav.tmp-{}", std::process::id()));
    let result = (|| -> Result<(), String> {
        let mut w = hound::WavWriter::create(&tmp, spec)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let frames = channels.iter().map(Vec::len).max().unwrap_or(0);
        for f in 0..frames {
            for c in 0..n_ch {
                let s = channels
                    .get(c)
                    .and_then(|ch| ch.get(f))
                    .copied()
                    .unwrap_or(0.0);
                w.write_sample(s)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
        w.finalize()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_sine_level_and_length() {
        let from = 44_100;
        let x: Vec<f32> = (0..from)
            .map(|i| {
                (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(from)).sin() as f32
            })
            .collect();
        let y = resample(&x, from, 48_000).unwrap();
        assert_eq!(y.len(), 48_000);
        let rms = ohmpatch_engine::dsp::rms(&y[4800..43200]);
        assert!((20.0 * (rms * 2f64.sqrt()).log10()).abs() < 0.05, "{rms}");
    }
}
