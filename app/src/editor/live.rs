//! The engine running behind the editor: its stream (kept on a working
//! device by the engine's `Supervisor`), the static analysis of every wire,
//! and live meters.

use ohmpatch_engine::analysis::{Analysis, Subject, analyze};
use ohmpatch_engine::backend::{DeviceChoice, Stream, StreamOptions};
use ohmpatch_engine::meters::INPUT_METERS;
use ohmpatch_engine::supervisor::{PlaybackEvent, Supervisor};
use ohmpatch_engine::{
    ChannelMap, Engine, EngineConfig, EngineError, Registry, ThreadLoad, compile,
};
use ohmpatch_patch::{Domain, Patch, Wire};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What the analysis says about one wire, keyed by "a.out -> b.in".
#[derive(Clone, Debug, Default)]
pub struct WireInfo {
    pub from_domain: Option<Domain>,
    /// Expected level text, e.g. "+4.0 dBu".
    pub expected: String,
    pub warnings: Vec<String>,
}

pub fn wire_key(from: &str, to: &str) -> String {
    format!("{from} -> {to}")
}

pub struct Live {
    pub registry: Arc<Registry>,
    pub engine: Engine,
    /// Starts the stream and keeps it on a working device.
    sup: Supervisor,
    /// Why the engine is not playing the latest patch, in words.
    pub engine_error: Option<String>,
    /// Notes for the user (device fell back, device lost, ...).
    pub notes: Vec<String>,
    pub wires: HashMap<String, WireInfo>,
    pub node_warnings: HashMap<String, Vec<String>>,
    pub analysis_error: Option<String>,
    /// The latest full report, for the gain-staging view.
    pub report: Option<Analysis>,
    last_audio_rev: u64,
    last_analysis_rev: u64,
    last_analysis: Instant,
    pub load: f64,
    pub xruns: u64,
    pub input_xruns: u64,
    /// Loudest device input channel since the last frame (full scale), or
    /// `None` when no input reaches the engine.
    pub input_peak: Option<f32>,
    /// Each thread's load (the audio thread first) over the last half
    /// second; empty without worker threads.
    pub thread_loads: Vec<f64>,
    thread_load: ThreadLoad,
    thread_load_at: Instant,
    /// Threads that run a block (0: one per core), from the audio
    /// settings; taken by the next [`Live::reconfigure`].
    pub threads: usize,
}

impl Live {
    pub fn new(registry: Arc<Registry>, opts: StreamOptions, patch_dir: Option<PathBuf>) -> Live {
        let mut sup = Supervisor::new(opts);
        let choice = sup.choose();
        let engine = Engine::new(registry.clone(), config(&choice, patch_dir, 0));
        let mut live = Live {
            registry,
            engine,
            sup,
            engine_error: None,
            notes: Vec::new(),
            wires: HashMap::new(),
            node_warnings: HashMap::new(),
            analysis_error: None,
            report: None,
            last_audio_rev: 0,
            thread_loads: Vec::new(),
            thread_load: ThreadLoad::default(),
            thread_load_at: Instant::now(),
            last_analysis_rev: 0,
            last_analysis: Instant::now() - Duration::from_secs(1),
            load: 0.0,
            xruns: 0,
            input_xruns: 0,
            input_peak: None,
            threads: 0,
        };
        live.start(choice);
        live
    }

    pub fn sample_rate(&self) -> f64 {
        self.engine.sample_rate()
    }

    /// The running stream (what plays, at what rate and buffer).
    pub fn stream(&self) -> Option<&Stream> {
        self.sup.stream()
    }

    /// The audio settings asked for.
    pub fn opts(&self) -> &StreamOptions {
        self.sup.opts()
    }

    /// Start the engine's core on `choice`, falling back to null.
    fn start(&mut self, choice: DeviceChoice) {
        if let Err(e) = self.sup.start(&mut self.engine, choice) {
            self.notes
                .push(format!("cannot start even the null device: {e}"));
        }
        self.take_events();
    }

    /// Apply new audio settings: a new engine at the device's rate, then the
    /// current patch, then the stream.
    pub fn reconfigure(&mut self, opts: StreamOptions, patch: &Patch, patch_dir: Option<PathBuf>) {
        self.sup.stop(&mut self.engine);
        for e in self.engine.shutdown() {
            self.notes.push(e);
        }
        self.sup.set_opts(opts);
        let choice = self.sup.choose();
        self.engine = Engine::new(
            self.registry.clone(),
            config(&choice, patch_dir, self.threads),
        );
        self.set_patch(patch);
        self.start(choice);
        self.last_analysis_rev = 0;
    }

    /// The patch for a new file: a fresh engine (its paths are relative to
    /// the new folder).
    pub fn load_patch(&mut self, patch: &Patch, patch_dir: Option<PathBuf>) {
        let opts = self.opts().clone();
        self.reconfigure(opts, patch, patch_dir);
    }

    pub fn set_patch(&mut self, patch: &Patch) {
        self.engine_error = match self.engine.set_patch(patch) {
            Ok(()) => None,
            Err(e) => Some(describe(&e)),
        };
        // Port names follow the nodes; the ports and their connections stay.
        self.sup.label_ports(&self.engine);
    }

    /// Called every frame: follow the document, keep the engine and the
    /// device healthy, refresh the analysis now and then.
    pub fn tick(&mut self, patch: &Patch, audio_rev: u64) {
        if audio_rev != self.last_audio_rev {
            self.last_audio_rev = audio_rev;
            self.set_patch(patch);
        }
        self.engine.maintain();
        for e in self.engine.take_service_errors() {
            self.notes.push(e);
        }
        if audio_rev != self.last_analysis_rev
            && self.last_analysis.elapsed() >= Duration::from_millis(150)
        {
            self.last_analysis_rev = audio_rev;
            self.last_analysis = Instant::now();
            self.analyze(patch);
        }
        self.watch_device();
        let stats = self.engine.stats();
        self.load = stats.load();
        self.xruns = stats.xruns.load(Ordering::Relaxed);
        self.input_xruns = stats.input_xruns.load(Ordering::Relaxed);
        if self.thread_load_at.elapsed() >= Duration::from_millis(500) {
            self.thread_load_at = Instant::now();
            let sr = self.engine.sample_rate();
            self.thread_loads = self.thread_load.sample(stats, sr);
        }
        self.input_peak = self.stream().filter(|s| s.has_input()).map(|s| {
            (0..usize::from(s.choice.inputs).min(INPUT_METERS))
                .map(|c| stats.take_input_peak(c))
                .fold(0.0, f32::max)
        });
    }

    /// Input-to-output latency (or output latency without an input).
    pub fn latency_line(&self) -> Option<String> {
        let s = self.stream()?;
        let patch = self.engine.device_latency() as u32;
        Some(
            s.latency()
                .describe(patch, s.choice.sample_rate, s.has_input()),
        )
    }

    fn watch_device(&mut self) {
        if let Err(e) = self.sup.poll(&mut self.engine) {
            self.notes
                .push(format!("cannot start even the null device: {e}"));
        }
        self.take_events();
    }

    /// The supervisor's events as notes for the status messages.
    fn take_events(&mut self) {
        for ev in self.sup.take_events() {
            let note = match ev {
                PlaybackEvent::Substituted { reason, choice } => format!(
                    "{reason}; using {} ({})",
                    choice.backend.name(),
                    choice.device_name
                ),
                PlaybackEvent::StartFailed { choice, error } => format!(
                    "{} ({}) failed: {error}; using the null device",
                    choice.backend.name(),
                    choice.device_name
                ),
                PlaybackEvent::Lost { why, .. } => format!(
                    "the audio device was lost ({why}); the patch keeps running on the null device"
                ),
                PlaybackEvent::Back(backend) => {
                    format!("{} is back; playing on it again", backend.name())
                }
                // A device that keeps complaining must not flood the notes.
                PlaybackEvent::DeviceError { .. } if self.notes.len() >= 50 => continue,
                PlaybackEvent::DeviceError { backend, why } => {
                    format!("{} reports: {why}", backend.name())
                }
                PlaybackEvent::Rebuild(e) => e,
                PlaybackEvent::InputLost(why) => format!(
                    "the audio input was lost ({why}); audio_in plays silence, the output goes on"
                ),
                PlaybackEvent::InputBack => "the audio input is back".into(),
            };
            self.notes.push(note);
        }
    }

    fn analyze(&mut self, patch: &Patch) {
        self.wires.clear();
        self.node_warnings.clear();
        let sr = self.sample_rate();
        let schedule = match compile(patch, &self.registry, sr, &HashSet::new()) {
            Ok(s) => s,
            Err(e) => {
                self.analysis_error = Some(e.to_string());
                self.report = None;
                return;
            }
        };
        self.analysis_error = None;
        let freq = ohmpatch_engine::analysis::test_frequency(patch, &self.registry);
        let report: Analysis = analyze(&schedule, &self.registry, sr, freq);
        for w in &report.wires {
            let l = &w.levels;
            let mut info = WireInfo {
                from_domain: Some(w.from_domain),
                expected: format!("{} {}", crate::editor::theme::fmt_db(l.signal_db), l.unit),
                warnings: Vec::new(),
            };
            let at = Subject::Wire(Wire::new(w.from.clone(), w.to.clone()));
            for f in report.warnings.iter().filter(|f| f.at == at) {
                info.warnings.push(format!("{} ({})", f.message, f.fix));
            }
            self.wires.insert(at.to_string(), info);
        }
        for f in &report.warnings {
            if let Subject::Node(id) = &f.at {
                self.node_warnings
                    .entry(id.clone())
                    .or_default()
                    .push(format!("{} ({})", f.message, f.fix));
            }
        }
        self.report = Some(report);
    }

    /// Backend, device, rate, buffer for the status bar.
    pub fn device_line(&self) -> String {
        match self.stream() {
            Some(s) => format!(
                "{} · {} · {} Hz · {}",
                s.choice.backend.name(),
                s.choice.device_name,
                s.choice.sample_rate,
                s.choice
                    .buffer
                    .map(|b| format!("{b} frames"))
                    .unwrap_or_else(|| "device buffer".into())
            ),
            None => "not playing".into(),
        }
    }

    pub fn shutdown(&mut self) {
        self.sup.stop(&mut self.engine);
        let _ = self.engine.shutdown();
    }
}

/// `threads` 0 is one per core; the plan goes to the workers only when it
/// has branches worth it.
fn config(choice: &DeviceChoice, patch_dir: Option<PathBuf>, threads: usize) -> EngineConfig {
    EngineConfig {
        sample_rate: f64::from(choice.sample_rate),
        patch_dir,
        channel_map: ChannelMap::Param,
        threads,
        ..EngineConfig::default()
    }
}

pub fn describe(e: &EngineError) -> String {
    match e {
        EngineError::Invalid(d) => d
            .iter()
            .map(|x| x.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::Live;
    use ohmpatch_engine::backend::{BackendKind, StreamOptions};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    /// Whether the engine has handed the plan to its workers within 5 s.
    fn goes_parallel(live: &mut Live) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            live.engine.maintain();
            if live.engine.stats().parallel.load(Ordering::Relaxed) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The audio settings' threads reach the engine: two rigs side by side
    /// go to the workers with two threads and stay on the audio thread
    /// with one.
    #[test]
    fn the_threads_setting_decides_whether_branches_run_on_workers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let patch = ohmpatch_patch::load_file(&root.join("graphs/two-rigs.ohm.ron")).unwrap();
        let registry = Arc::new(ohmpatch_nodes::registry_with_plugins());
        let opts = StreamOptions {
            backend: BackendKind::Null,
            ..StreamOptions::default()
        };
        // Its `assets/…` sounds read beside the repository's root.
        let dir = Some(root);
        let mut live = Live::new(registry, opts.clone(), dir.clone());
        for (threads, parallel) in [(2, true), (1, false)] {
            live.threads = threads;
            live.reconfigure(opts.clone(), &patch, dir.clone());
            assert_eq!(live.engine.config().thread_count(), threads);
            assert!(live.engine_error.is_none(), "{:?}", live.engine_error);
            assert_eq!(goes_parallel(&mut live), parallel, "{threads} threads");
        }
        live.shutdown();
    }
}
