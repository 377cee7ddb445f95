//! `file_in`: plays a WAV file as a source. A 0 dBFS sine in the file comes
//! out at `level_dbu` rms (or `level_db_spl` when acoustic); the file is
//! resampled to the session rate when it differs.

use super::audio_in::Converter;
use crate::desc::*;
use crate::wav::{read_wav, resample};
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};
use std::sync::Arc;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, File, Flag, Num};

// The params, in spec order.
pub const PATH: ParamId<File> = ParamId::new(0, "path");
pub const LEVEL_DBU: ParamId<Num> = ParamId::new(1, "level_dbu");
pub const LEVEL_DB_SPL: ParamId<Num> = ParamId::new(2, "level_db_spl");
pub const LOOP: ParamId<Flag> = ParamId::new(3, "loop");
pub const CHANNEL: ParamId<Num> = ParamId::new(4, "channel");
pub const DOMAIN: ParamId<Choice> = ParamId::new(5, "domain");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(6, "z_out_ohm");

pub struct FileIn {
    spec: KindSpec,
}

impl FileIn {
    pub fn new() -> FileIn {
        FileIn {
            spec: KindSpec {
                kind: "file_in".into(),
                help: "Plays a WAV file (relative to the patch's folder) as a source.".into(),
                ports: vec![output(
                    "out",
                    Domain::Line,
                    "The file's signal in volts (or pascals when acoustic).",
                )],
                params: vec![
                    path(PATH, "WAV file, relative to the patch's folder."),
                    number(
                        LEVEL_DBU,
                        -60.0,
                        40.0,
                        18.0,
                        "dBu",
                        "Rms level of a 0 dBFS sine in the file.",
                    )
                    .live(),
                    number(
                        LEVEL_DB_SPL,
                        60.0,
                        160.0,
                        120.0,
                        "dB SPL",
                        "Acoustic domain: rms level of a 0 dBFS sine in the file.",
                    )
                    .live(),
                    flag(LOOP, false, "Start again at the end.").live(),
                    integer(
                        CHANNEL,
                        0.0,
                        64.0,
                        0.0,
                        "File channel to play, from 1; 0 mixes all channels.",
                    ),
                    domain_param(DOMAIN, "line"),
                    number(
                        Z_OUT_OHM,
                        0.0,
                        1e6,
                        0.0,
                        "Ω",
                        "Source impedance; 0 is ideal.",
                    ),
                ],
            },
        }
    }
}

impl Default for FileIn {
    fn default() -> Self {
        FileIn::new()
    }
}

const CONVERTER: Converter = Converter {
    dbu: LEVEL_DBU,
    db_spl: LEVEL_DB_SPL,
    domain: DOMAIN,
    z_out: Z_OUT_OHM,
};

impl NodeKind for FileIn {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: vec![CONVERTER.nominal(params)],
            warnings: Vec::new(),
        }
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![CONVERTER.port(params)]
    }
    /// The file decoded: every channel while reading, then the chosen one
    /// at the session rate.
    fn memory_bytes(&self, params: &Params, env: &BuildEnv) -> usize {
        let Some((frames, channels, rate)) = crate::wav::header_of(params.path(PATH), env) else {
            return 0;
        };
        let at_rate = frames as f64 * env.sample_rate / f64::from(rate.max(1));
        let samples = frames as f64 * channels as f64 + at_rate;
        (samples * std::mem::size_of::<f32>() as f64) as usize
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let domain = params.domain(DOMAIN);
        let scale = CONVERTER.peak(params) as f32;
        let p = params.path(PATH);
        let data: Arc<[f32]> = if p.is_empty() {
            Arc::from(Vec::new())
        } else {
            let path = env.resolve_path(p)?;
            let audio = read_wav(&path)?;
            let ch = params.num(CHANNEL) as usize;
            let n = audio.channels.first().map_or(0, Vec::len);
            let mono: Vec<f32> = if ch == 0 {
                let k = audio.channels.len().max(1) as f32;
                (0..n)
                    .map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / k)
                    .collect()
            } else {
                audio.channels.get(ch - 1).cloned().ok_or_else(|| {
                    format!(
                        "{} has {} channels; channel {ch} asked for",
                        p,
                        audio.channels.len()
                    )
                })?
            };
            let sr = env.sample_rate.round() as u32;
            Arc::from(resample(&mono, audio.sample_rate, sr)?)
        };
        Ok(Box::new(FileInProc {
            data,
            pos: 0,
            looping: params.flag(LOOP),
            scale,
            domain,
        }))
    }
}

pub struct FileInProc {
    pub data: Arc<[f32]>,
    pub pos: usize,
    pub looping: bool,
    pub scale: f32,
    pub domain: Domain,
}

impl Processor for FileInProc {
    fn process(&mut self, _ctx: &ProcessContext, _inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let n = self.data.len();
        for o in out.iter_mut() {
            if self.pos >= n {
                if self.looping && n > 0 {
                    self.pos = 0;
                } else {
                    *o = 0.0;
                    continue;
                }
            }
            *o = self.data[self.pos] * self.scale;
            self.pos += 1;
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == LEVEL_DBU.index() && self.domain.is_electrical() => {
                self.scale =
                    (ohmpatch_engine::dsp::dbu_to_v(value) * std::f64::consts::SQRT_2) as f32;
            }
            i if i == LEVEL_DB_SPL.index() && self.domain == Domain::Acoustic => {
                self.scale =
                    (ohmpatch_engine::dsp::spl_to_pa(value) * std::f64::consts::SQRT_2) as f32;
            }
            i if i == LOOP.index() => self.looping = value != 0.0,
            _ => {}
        }
    }

    fn may_be_quiet(&self) -> bool {
        true
    }

    /// Past the end of a file that does not loop (or no file at all).
    fn is_quiet(&self) -> bool {
        self.pos >= self.data.len() && (!self.looping || self.data.is_empty())
    }
}
