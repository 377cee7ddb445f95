//! The engine running behind the editor: the audio stream with its
//! fallbacks, the static analysis of every wire, and live meters.

use ohmpatch_engine::analysis::{Analysis, Subject, analyze};
use ohmpatch_engine::backend::{
    BackendKind, DeviceChoice, Stream, StreamEvent, StreamOptions, choose_device,
};
use ohmpatch_engine::{ChannelMap, Engine, EngineConfig, EngineError, Registry, compile};
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
    pub stream: Option<Stream>,
    pub opts: StreamOptions,
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
    lost_from: Option<DeviceChoice>,
    last_retry: Instant,
    pub load: f64,
    pub xruns: u64,
}

impl Live {
    pub fn new(registry: Arc<Registry>, opts: StreamOptions, patch_dir: Option<PathBuf>) -> Live {
        let choice = choose_device(&opts);
        let mut notes = Vec::new();
        if let Some(r) = &choice.fallback_reason {
            notes.push(format!(
                "{r}; using {} ({})",
                choice.backend.name(),
                choice.device_name
            ));
        }
        let engine = Engine::new(registry.clone(), config(&choice, patch_dir));
        let mut live = Live {
            registry,
            engine,
            stream: None,
            opts,
            engine_error: None,
            notes,
            wires: HashMap::new(),
            node_warnings: HashMap::new(),
            analysis_error: None,
            report: None,
            last_audio_rev: 0,
            last_analysis_rev: 0,
            last_analysis: Instant::now() - Duration::from_secs(1),
            lost_from: None,
            last_retry: Instant::now(),
            load: 0.0,
            xruns: 0,
        };
        live.start(choice);
        live
    }

    pub fn sample_rate(&self) -> f64 {
        self.engine.sample_rate()
    }

    /// Start the engine's core on `choice`, falling back to null.
    fn start(&mut self, choice: DeviceChoice) {
        let stats = self.engine.stats().clone();
        let Some(core) = self.engine.take_core() else {
            return;
        };
        match Stream::start(choice.clone(), core, stats.clone()) {
            Ok(s) => self.stream = Some(s),
            Err(e) => {
                self.notes.push(format!(
                    "{} ({}) failed: {e}; using the null device",
                    choice.backend.name(),
                    choice.device_name
                ));
                for e in self.engine.rebuild_core() {
                    self.notes.push(e.to_string());
                }
                let null = choose_device(&StreamOptions {
                    backend: BackendKind::Null,
                    sample_rate: Some(choice.sample_rate),
                    ..self.opts.clone()
                });
                if let Some(core) = self.engine.take_core() {
                    match Stream::start(null, core, stats) {
                        Ok(s) => self.stream = Some(s),
                        Err(e) => self
                            .notes
                            .push(format!("cannot start even the null device: {e}")),
                    }
                }
            }
        }
    }

    fn stop(&mut self) {
        if let Some(s) = self.stream.take() {
            match s.stop() {
                Some(c) => self.engine.return_core(c),
                None => {
                    for e in self.engine.rebuild_core() {
                        self.notes.push(e.to_string());
                    }
                }
            }
        }
    }

    /// Apply new audio settings: a new engine at the device's rate, then the
    /// current patch, then the stream.
    pub fn reconfigure(&mut self, opts: StreamOptions, patch: &Patch, patch_dir: Option<PathBuf>) {
        self.stop();
        for e in self.engine.shutdown() {
            self.notes.push(e);
        }
        self.opts = opts;
        let choice = choose_device(&self.opts);
        if let Some(r) = &choice.fallback_reason {
            self.notes.push(format!(
                "{r}; using {} ({})",
                choice.backend.name(),
                choice.device_name
            ));
        }
        self.engine = Engine::new(self.registry.clone(), config(&choice, patch_dir));
        self.set_patch(patch);
        self.start(choice);
        self.last_analysis_rev = 0;
    }

    /// The patch for a new file: a fresh engine (its paths are relative to
    /// the new folder).
    pub fn load_patch(&mut self, patch: &Patch, patch_dir: Option<PathBuf>) {
        let opts = self.opts.clone();
        self.reconfigure(opts, patch, patch_dir);
    }

    pub fn set_patch(&mut self, patch: &Patch) {
        self.engine_error = match self.engine.set_patch(patch) {
            Ok(()) => None,
            Err(e) => Some(describe(&e)),
        };
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
    }

    fn watch_device(&mut self) {
        let mut dead = None;
        if let Some(s) = &self.stream {
            while let Ok(ev) = s.events.try_recv() {
                match ev {
                    StreamEvent::Lost(why) => dead = Some(why),
                    StreamEvent::Error(why) => {
                        if self.notes.len() < 50 {
                            self.notes
                                .push(format!("{} reports: {why}", s.choice.backend.name()))
                        }
                    }
                    StreamEvent::Xrun => {}
                }
            }
        }
        if let Some(why) = dead {
            let prev = self.stream.as_ref().map(|s| s.choice.clone());
            self.notes.push(format!(
                "the audio device was lost ({why}); the patch keeps running on the null device"
            ));
            self.stop();
            let null = choose_device(&StreamOptions {
                backend: BackendKind::Null,
                sample_rate: prev.as_ref().map(|p| p.sample_rate),
                ..self.opts.clone()
            });
            if let Some(p) = prev
                && p.backend != BackendKind::Null
            {
                self.lost_from = Some(p);
                self.last_retry = Instant::now();
            }
            self.start(null);
        }
        if let Some(prev) = self.lost_from.clone()
            && self.last_retry.elapsed() >= Duration::from_secs(2)
        {
            self.last_retry = Instant::now();
            let again = choose_device(&StreamOptions {
                backend: prev.backend,
                sample_rate: Some(prev.sample_rate),
                ..self.opts.clone()
            });
            if again.backend == prev.backend && again.sample_rate == prev.sample_rate {
                self.stop();
                self.start(again);
                if self.stream.as_ref().map(|s| s.choice.backend) == Some(prev.backend) {
                    self.lost_from = None;
                    self.notes.push(format!(
                        "{} is back; playing on it again",
                        prev.backend.name()
                    ));
                }
            }
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
        match &self.stream {
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
        self.stop();
        let _ = self.engine.shutdown();
    }
}

fn config(choice: &DeviceChoice, patch_dir: Option<PathBuf>) -> EngineConfig {
    EngineConfig {
        sample_rate: f64::from(choice.sample_rate),
        patch_dir,
        channel_map: ChannelMap::Param,
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
