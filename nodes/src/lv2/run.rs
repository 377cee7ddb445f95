//! The audio-thread half of an `lv2` node: the plugin instance, made and
//! activated on the control thread (`Lv2Proc::new`), run on the audio thread
//! with buffers allocated beforehand, and deactivated and freed when the old
//! plan comes back to the control thread.

use super::discover::{Control, PluginInfo};
use super::kind::{FIRST_CONTROL, Lv2Kind, full_scale_v};
use livi::event::LV2AtomSequence;
use livi::{EmptyPortConnections, PortIndex};
use ohmpatch_engine::{MAX_BLOCK, Params, ProcessContext, Processor};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// A plugin's control outputs (meters, its latency report) as it last
/// wrote them, for the editor to show read-only (`Engine::probe`).
pub struct ControlOutputs {
    pub names: Vec<String>,
    /// Port indices, in `names` order.
    ports: Vec<usize>,
    /// `f32` bits, written by the audio thread after each run.
    values: Vec<AtomicU32>,
    /// Runs that took longer than the block they filled lasts: a plugin
    /// too slow to play in real time (the editor's status bar names it).
    slow: AtomicU32,
}

impl ControlOutputs {
    pub fn slow_runs(&self) -> u32 {
        self.slow.load(Ordering::Relaxed)
    }

    pub fn values(&self) -> Vec<f32> {
        self.values
            .iter()
            .map(|v| f32::from_bits(v.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Bytes for each empty atom sequence a plugin is given.
const ATOM_CAPACITY: usize = 1024;

/// The host features every instance shares (the URID map, block bounds);
/// one set per process, so one worker thread.
pub fn features() -> Arc<livi::Features> {
    static FEATURES: OnceLock<Arc<livi::Features>> = OnceLock::new();
    FEATURES
        .get_or_init(|| {
            livi::FeaturesBuilder {
                min_block_length: 1,
                max_block_length: MAX_BLOCK,
            }
            .try_build(&super::catalog().world)
            .expect("1..=MAX_BLOCK is a valid block range")
        })
        .clone()
}

/// The plugins' background work (LV2 worker: a convolver loading its
/// impulse response, say), done on the control thread: the engine runs a
/// service after every block when rendering offline, so a render is the
/// same every time; live, it runs every few milliseconds beside livi's own
/// worker thread.
pub struct Workers;

impl ohmpatch_engine::Service for Workers {
    fn run(&mut self) -> Result<(), String> {
        features().worker_manager().run_workers();
        Ok(())
    }
}

pub struct Lv2Proc {
    /// Always `Some` until dropped; taken out to be freed quietly.
    instance: Option<livi::Instance>,
    controls: Vec<Control>,
    /// Inputs turned from volts into the plugin's floats.
    ins: Vec<[f32; MAX_BLOCK]>,
    atom_in: Vec<LV2AtomSequence>,
    atom_out: Vec<LV2AtomSequence>,
    to_float: f32,
    to_volts: f32,
    latency: usize,
    outputs: Arc<ControlOutputs>,
    ns_per_frame: f64,
}

impl Lv2Proc {
    /// Instantiate and activate the plugin with these params (control
    /// thread), and run it one block on silence to read the latency it
    /// reports.
    /// The control outputs it publishes for the editor.
    pub fn control_outputs(&self) -> Arc<ControlOutputs> {
        self.outputs.clone()
    }

    pub fn new(info: &PluginInfo, params: &Params, sample_rate: f64) -> Result<Lv2Proc, String> {
        let plugin = super::catalog()
            .world
            .plugin_by_uri(&info.uri)
            .ok_or_else(|| format!("LV2 plugin {:?} is not installed", info.uri))?;
        let features = features();
        // SAFETY: the plugin was found and described by lilv; ohmpatch keeps
        // to LV2's threading rules (instantiate and free here, run on the
        // audio thread only) and runs blocks within the bounds it announced.
        let instance =
            super::quiet::quietly(|| unsafe { plugin.instantiate(features.clone(), sample_rate) })
                .map_err(|e| format!("LV2 plugin {:?} could not be started: {e}", info.uri))?;
        let fs = full_scale_v(params);
        let mut p = Lv2Proc {
            instance: Some(instance),
            controls: info.controls.clone(),
            ins: info.audio_inputs.iter().map(|_| [0.0; MAX_BLOCK]).collect(),
            atom_in: (0..info.atom_inputs)
                .map(|_| LV2AtomSequence::new(&features, ATOM_CAPACITY))
                .collect(),
            atom_out: (0..info.atom_outputs)
                .map(|_| LV2AtomSequence::new(&features, ATOM_CAPACITY))
                .collect(),
            to_float: (1.0 / fs) as f32,
            to_volts: fs as f32,
            latency: 0,
            outputs: Arc::new(ControlOutputs {
                names: info
                    .control_outputs
                    .iter()
                    .map(|(s, _)| s.clone())
                    .collect(),
                ports: info.control_outputs.iter().map(|(_, i)| *i).collect(),
                values: info
                    .control_outputs
                    .iter()
                    .map(|_| AtomicU32::new(0))
                    .collect(),
                slow: AtomicU32::new(0),
            }),
            ns_per_frame: 1e9 / sample_rate,
        };
        for (i, v) in params.values().iter().enumerate().skip(FIRST_CONTROL) {
            p.set_param(i, v.as_f64());
        }
        if let Some(port) = info.latency_port {
            let mut outs: Vec<Vec<f32>> =
                info.audio_outputs.iter().map(|_| vec![0.0; 64]).collect();
            let mut refs: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
            let ctx = ProcessContext {
                sample_rate,
                frames: 64,
                time: 0,
            };
            let silence = [0.0f32; 64];
            let ins: Vec<&[f32]> = info.audio_inputs.iter().map(|_| &silence[..]).collect();
            p.process(&ctx, &ins, &mut refs);
            let reported = p
                .instance
                .as_ref()
                .and_then(|i| i.control_output(PortIndex(port)))
                .unwrap_or(0.0);
            p.latency = if reported.is_finite() && reported > 0.0 {
                (reported.round() as usize).min(sample_rate as usize)
            } else {
                0
            };
        }
        Ok(p)
    }
}

impl Processor for Lv2Proc {
    fn process(&mut self, ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let n = ctx.frames;
        let Some(instance) = self.instance.as_mut() else {
            return;
        };
        for (buf, inp) in self.ins.iter_mut().zip(inputs) {
            for (b, x) in buf[..n].iter_mut().zip(inp.iter()) {
                *b = x * self.to_float;
            }
        }
        for a in &mut self.atom_in {
            a.clear();
        }
        let ports = EmptyPortConnections::new()
            .with_audio_inputs(self.ins.iter().map(|b| &b[..n]))
            .with_audio_outputs(outputs.iter_mut().map(|o| &mut o[..n]))
            .with_atom_sequence_inputs(self.atom_in.iter())
            .with_atom_sequence_outputs(self.atom_out.iter_mut());
        // SAFETY: every buffer holds `n` frames and lives through the call;
        // `n` is within the block bounds given to the features.
        let t0 = std::time::Instant::now();
        let ran = unsafe { instance.run(n, ports) };
        if t0.elapsed().as_nanos() as f64 > n as f64 * self.ns_per_frame {
            self.outputs.slow.fetch_add(1, Ordering::Relaxed);
        }
        if ran.is_err() {
            for o in outputs.iter_mut() {
                o.fill(0.0);
            }
            return;
        }
        for o in outputs.iter_mut() {
            for x in o[..n].iter_mut() {
                *x *= self.to_volts;
            }
        }
        for (v, port) in self.outputs.values.iter().zip(&self.outputs.ports) {
            let x = instance.control_output(PortIndex(*port)).unwrap_or(0.0);
            v.store(x.to_bits(), Ordering::Relaxed);
        }
    }

    /// A control reaches the plugin at the start of the next block.
    fn set_param(&mut self, index: usize, value: f64) {
        let Some(c) = index
            .checked_sub(FIRST_CONTROL)
            .and_then(|i| self.controls.get(i))
        else {
            return;
        };
        let v = Lv2Kind::control_value(c, value);
        if let Some(i) = self.instance.as_mut() {
            i.set_control_input(PortIndex(c.index), v);
        }
    }

    fn latency(&self) -> usize {
        self.latency
    }
}

/// Deactivated and freed on the control thread, where the old plan is
/// dropped, with the plugin's printing kept off stdout.
impl Drop for Lv2Proc {
    fn drop(&mut self) {
        if let Some(i) = self.instance.take() {
            super::quiet::quietly(move || drop(i));
        }
    }
}
