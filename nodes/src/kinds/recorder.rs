//! `recorder`: writes its input to a 32-bit float WAV file beside the patch.
//! The audio thread only pushes samples into a wait-free ring; a service on
//! the control thread writes them to disk.

use super::output::full_scale_peak_v;
use crate::desc::*;
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor, Service,
};
use ohmpatch_patch::{Domain, KindSpec};
use std::io::BufWriter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{File, Num};

// The params, in spec order.
pub const PATH: ParamId<File> = ParamId::new(0, "path");
pub const FULL_SCALE_DBU: ParamId<Num> = ParamId::new(1, "full_scale_dbu");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(2, "z_in_ohm");

pub struct Recorder {
    spec: KindSpec,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            spec: KindSpec {
                kind: "recorder".into(),
                help:
                    "Records its input to a 32-bit float WAV file (relative to the patch's folder)."
                        .into(),
                ports: vec![input("in", Domain::Line, "Volts to record.")],
                params: vec![
                    path(
                        PATH,
                        "WAV file to write, relative to the patch's folder; empty records nothing.",
                    ),
                    full_scale_dbu(FULL_SCALE_DBU, "The level of a sine that peaks at 0 dBFS.")
                        .live(),
                    log_number(Z_IN_OHM, 1.0, 1e7, 100_000.0, "Ω", "Input impedance."),
                ],
            },
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl NodeKind for Recorder {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![port(Domain::Line, Impedance::Ohms(params.num(Z_IN_OHM)))]
    }
    /// The ring to the writer thread: four seconds.
    fn memory_bytes(&self, _params: &Params, env: &BuildEnv) -> usize {
        (env.sample_rate * 4.0) as usize * std::mem::size_of::<f32>()
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let scale = (1.0 / full_scale_peak_v(params.num(FULL_SCALE_DBU))) as f32;
        let p = params.path(PATH);
        if p.is_empty() {
            return Ok(Box::new(RecorderProc {
                tx: None,
                scale,
                dropped: Arc::new(AtomicU64::new(0)),
            }));
        }
        let path = env.resolve_output_path(p)?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: env.sample_rate.round() as u32,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(&path, spec)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // Four seconds of headroom between the audio thread and the disk.
        let (tx, rx) = rtrb::RingBuffer::new((env.sample_rate * 4.0) as usize);
        let dropped = Arc::new(AtomicU64::new(0));
        env.add_service(Box::new(RecorderService {
            rx,
            writer: Some(writer),
            path: path.display().to_string(),
            dropped: dropped.clone(),
            reported: 0,
        }));
        Ok(Box::new(RecorderProc {
            tx: Some(tx),
            scale,
            dropped,
        }))
    }
}

struct RecorderProc {
    tx: Option<rtrb::Producer<f32>>,
    scale: f32,
    dropped: Arc<AtomicU64>,
}

impl Processor for RecorderProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], _outputs: &mut [&mut [f32]]) {
        let (Some(inp), Some(tx)) = (inputs.first(), self.tx.as_mut()) else {
            return;
        };
        let n = inp.len().min(tx.slots());
        if let Ok(mut chunk) = tx.write_chunk_uninit(n) {
            let (a, b) = chunk.as_mut_slices();
            for (d, s) in a.iter_mut().chain(b.iter_mut()).zip(inp.iter()) {
                let v = *s * self.scale;
                d.write(if v.is_finite() { v } else { 0.0 });
            }
            // SAFETY: all `n` slots were written just above.
            unsafe { chunk.commit_all() };
        }
        if n < inp.len() {
            self.dropped
                .fetch_add((inp.len() - n) as u64, Ordering::Relaxed);
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if index == FULL_SCALE_DBU.index() {
            self.scale = (1.0 / full_scale_peak_v(value)) as f32;
        }
    }
}

struct RecorderService {
    rx: rtrb::Consumer<f32>,
    writer: Option<hound::WavWriter<BufWriter<std::fs::File>>>,
    path: String,
    dropped: Arc<AtomicU64>,
    reported: u64,
}

impl Service for RecorderService {
    fn run(&mut self) -> Result<(), String> {
        let n = self.rx.slots();
        let Ok(chunk) = self.rx.read_chunk(n) else {
            return Ok(());
        };
        let mut result = Ok(());
        if let Some(w) = self.writer.as_mut() {
            let (a, b) = chunk.as_slices();
            for s in a.iter().chain(b.iter()) {
                if let Err(e) = w.write_sample(*s) {
                    result = Err(format!("recorder cannot write {}: {e}", self.path));
                    break;
                }
            }
        }
        chunk.commit_all();
        if result.is_err() {
            self.writer = None;
        }
        let d = self.dropped.load(Ordering::Relaxed);
        if d > self.reported {
            self.reported = d;
            result = result.and(Err(format!(
                "recorder {}: {d} samples lost (the disk was too slow)",
                self.path
            )));
        }
        result
    }

    fn finish(&mut self) -> Result<(), String> {
        let r = self.run();
        if let Some(w) = self.writer.take() {
            w.finalize()
                .map_err(|e| format!("recorder cannot finish {}: {e}", self.path))?;
        }
        r
    }
}
