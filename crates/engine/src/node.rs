//! The contract between the engine and a node kind: a descriptor that the
//! control thread asks about ports, impedances and parameters, and a processor
//! that runs on the audio thread.

use crate::impedance::Impedance;
use ohmpatch_patch::{Domain, KindSpec, Name, ParamKind, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest block the engine runs; device buffers are split into blocks of
/// at most this many frames.
pub const MAX_BLOCK: usize = 128;

/// Most ports a node may have on one side; inputs and outputs are gathered into
/// fixed arrays so the audio thread never allocates.
pub const MAX_PORTS: usize = 8;

/// What a processor learns about the block it is asked to fill.
#[derive(Clone, Copy, Debug)]
pub struct ProcessContext {
    pub sample_rate: f64,
    /// Frames in this block, 1..=MAX_BLOCK.
    pub frames: usize,
    /// Frame index of the block's first sample since the engine started.
    pub time: u64,
}

/// The audio-thread half of a node.
///
/// Called only from the audio thread: it must not allocate, lock, block or
/// print. Inputs arrive already loaded (the source impedance against this
/// node's input impedance) and summed; each slice is `ctx.frames` long.
pub trait Processor: Send {
    fn process(&mut self, ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]);

    /// A live param changed (`ParamSpec::live`; any other change builds a
    /// new processor). `index` is the param's index in the kind's
    /// `KindSpec::params` (`ParamId::index`); choices arrive as their
    /// index, booleans as 0 or 1. Processors smooth continuous values
    /// themselves.
    fn set_param(&mut self, _index: usize, _value: f64) {}

    /// For feedback breakers (`delay` in a loop): produce this block's output
    /// from history alone, before the loop's other nodes have run.
    fn feedback_read(&mut self, _ctx: &ProcessContext, outputs: &mut [&mut [f32]]) {
        for o in outputs.iter_mut() {
            o.fill(0.0);
        }
    }

    /// For feedback breakers: take this block's input after everything ran.
    fn feedback_write(&mut self, _ctx: &ProcessContext, _inputs: &[&[f32]]) {}

    /// Samples of delay the node adds (oversampling filters, lookahead).
    fn latency(&self) -> usize {
        0
    }

    /// Whether this node can ever be quiet (`is_quiet`). Asked once when a
    /// plan arrives; a node that says no is never asked `is_quiet` and
    /// costs nothing for the feature.
    fn may_be_quiet(&self) -> bool {
        false
    }

    /// Fed silence on every input, would this block's outputs be exactly
    /// zero, with nothing the node must keep doing: no tail still ringing,
    /// no source of its own (noise, hum, a file still playing), no smoothing
    /// under way, no side effect (recording, a display)? Then the engine
    /// skips `process` and writes zeros: silent stretches of a chain cost
    /// nothing. Asked only when every input is known to be silent.
    fn is_quiet(&self) -> bool {
        false
    }
}

/// What a node does besides processing, which the engine must plan for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Normal,
    /// Writes one hidden output to a device channel (`output`).
    DeviceOut,
    /// Reads one hidden input from a device channel (`audio_in`).
    DeviceIn,
    /// May close a feedback loop (`delay`): run as read-then-write when in a cycle.
    FeedbackBreaker,
}

/// What a probe draws in the editor (on the canvas and, larger, in the inspector).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// A triggered trace (`ScopeProbe`).
    Scope,
    /// A spectrum (`SpectrumProbe`).
    Spectrum,
    /// An rms and peak reading (`MeterProbe`).
    Meter,
}

/// Electrical facts of one port for a given set of params.
#[derive(Clone, Debug, PartialEq)]
pub struct PortElectrical {
    pub domain: Domain,
    /// Output ports: the source impedance. Input ports: the load it presents.
    pub impedance: Impedance,
}

/// A node's params resolved against its spec: every param present, typed.
/// Names are shared with the spec (`Name` clones of a built-in kind's names
/// cost nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    values: Vec<ParamValue>,
    names: Vec<Name>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Number(f64),
    Choice(usize),
    Bool(bool),
    Path(String),
    Text(String),
}

impl ParamValue {
    /// The value as the audio thread receives it in `set_param`.
    pub fn as_f64(&self) -> f64 {
        match self {
            ParamValue::Number(n) => *n,
            ParamValue::Choice(i) => *i as f64,
            ParamValue::Bool(b) => f64::from(u8::from(*b)),
            ParamValue::Path(_) | ParamValue::Text(_) => 0.0,
        }
    }
}

/// The type of a param, as a marker on its typed id.
pub mod param {
    /// A number (`ParamKind::Number`), read as `f64`.
    #[derive(Clone, Copy, Debug)]
    pub struct Num;
    /// One of a list (`ParamKind::Choice`), read as its index.
    #[derive(Clone, Copy, Debug)]
    pub struct Choice;
    /// On or off (`ParamKind::Bool`).
    #[derive(Clone, Copy, Debug)]
    pub struct Flag;
    /// A file path (`ParamKind::Path`).
    #[derive(Clone, Copy, Debug)]
    pub struct File;
}

/// A kind's own handle on one of its params: its index in the spec, its
/// name and its type. A kind declares each param once, as a constant
/// (`const GAIN_DB: ParamId<Num> = ParamId::new(0, "gain_db")`), builds its
/// spec from it (`desc::number(GAIN_DB, …)`, so the name and type cannot
/// differ) and reads values and matches `set_param` by it. The registry
/// checks at registration that every id sits at the index it claims.
pub struct ParamId<T> {
    index: usize,
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> ParamId<T> {
    pub const fn new(index: usize, name: &'static str) -> ParamId<T> {
        ParamId {
            index,
            name,
            _type: PhantomData,
        }
    }

    /// The param's index in the spec, as `Processor::set_param` receives it.
    pub const fn index(self) -> usize {
        self.index
    }

    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl<T> Clone for ParamId<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ParamId<T> {}

impl<T> std::fmt::Debug for ParamId<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.name, self.index)
    }
}

impl Params {
    /// Resolve a patch node's params against its kind: missing ones take their
    /// default, wrong types fall back to the default (validation reports them).
    pub fn resolve(spec: &KindSpec, given: &BTreeMap<String, Value>) -> Params {
        let mut values = Vec::with_capacity(spec.params.len());
        for p in &spec.params {
            let v = given.get(p.name.as_ref());
            let resolved = match &p.kind {
                ParamKind::Number {
                    default, min, max, ..
                } => {
                    let n = v
                        .and_then(Value::as_f64)
                        .filter(|n| n.is_finite())
                        .unwrap_or(*default);
                    ParamValue::Number(n.clamp(*min, *max))
                }
                ParamKind::Choice { choices, default } => {
                    let s = v.and_then(Value::as_str).unwrap_or(default);
                    let i = choices
                        .iter()
                        .position(|c| c == s)
                        .or_else(|| choices.iter().position(|c| c == default))
                        .unwrap_or(0);
                    ParamValue::Choice(i)
                }
                ParamKind::Bool { default } => {
                    ParamValue::Bool(v.and_then(Value::as_bool).unwrap_or(*default))
                }
                ParamKind::Path { default } => {
                    ParamValue::Path(v.and_then(Value::as_str).unwrap_or(default).to_string())
                }
                ParamKind::Text { default } => {
                    ParamValue::Text(v.and_then(Value::as_str).unwrap_or(default).to_string())
                }
            };
            values.push(resolved);
        }
        Params {
            values,
            names: spec.params.iter().map(|p| p.name.clone()).collect(),
        }
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// A param by name, for code that meets a kind only as data (tests, a
    /// user interface); a kind reads its own params by their typed ids.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.index_of(name).map(|i| &self.values[i])
    }

    /// A number (or a choice's index, a flag as 0 or 1) by name, for kinds
    /// described as data.
    pub fn num_named(&self, name: &str) -> Option<f64> {
        self.get(name).map(ParamValue::as_f64)
    }

    /// A text param by name (`ParamKind::Text`), for kinds described as data.
    pub fn text_named(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            ParamValue::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn values(&self) -> &[ParamValue] {
        &self.values
    }

    pub fn names(&self) -> &[Name] {
        &self.names
    }

    fn at<T>(&self, id: ParamId<T>) -> &ParamValue {
        match self.values.get(id.index) {
            Some(v) if self.names[id.index] == id.name => v,
            // Registration checks every id against its spec, so this is a
            // kind reading params resolved for another kind.
            _ => panic!("param {id:?} does not belong to these params"),
        }
    }

    pub fn num(&self, id: ParamId<param::Num>) -> f64 {
        self.at(id).as_f64()
    }

    pub fn choice(&self, id: ParamId<param::Choice>) -> usize {
        match self.at(id) {
            ParamValue::Choice(i) => *i,
            v => v.as_f64() as usize,
        }
    }

    pub fn flag(&self, id: ParamId<param::Flag>) -> bool {
        self.at(id).as_f64() != 0.0
    }

    pub fn path(&self, id: ParamId<param::File>) -> &str {
        match self.at(id) {
            ParamValue::Path(p) => p,
            _ => "",
        }
    }

    /// The domain that a `domain` choice param (made by
    /// `desc::domain_param`, choices in `DOMAIN_CHOICES` order) names.
    pub fn domain(&self, id: ParamId<param::Choice>) -> Domain {
        DOMAIN_CHOICES
            .get(self.choice(id))
            .and_then(|n| Domain::from_name(n))
            .unwrap_or(Domain::Line)
    }
}

/// The choices of every `domain` param, in this order.
pub const DOMAIN_CHOICES: &[&str] = &[
    "line",
    "mic",
    "instrument",
    "speaker",
    "acoustic",
    "digital",
];

/// A control-thread job that a processor needs done off the audio thread,
/// such as writing a recorder's samples to disk. The engine calls `run`
/// regularly (after every block when rendering offline) and `finish` when the
/// node goes away or the engine stops.
pub trait Service: Send {
    fn run(&mut self) -> Result<(), String>;
    fn finish(&mut self) -> Result<(), String> {
        self.run()
    }
}

/// What a node kind may use while building its processor (control thread).
pub struct BuildEnv<'a> {
    pub sample_rate: f64,
    /// The folder of the patch file; relative paths resolve against it.
    pub patch_dir: Option<&'a Path>,
    /// Let paths leave the patch folder (a user's own patch, not a shared one).
    pub allow_outside_paths: bool,
    /// Seed for noise sources, mixed with the node id so nodes differ.
    pub seed: u64,
    pub node_id: &'a str,
    /// For each port, in spec order: the parallel load an output drives
    /// (`Impedance::None` when open, and for inputs). Filled for the kinds
    /// that are `NodeKind::load_dependent`; empty otherwise.
    pub output_loads: Vec<Impedance>,
    pub(crate) services: Vec<Box<dyn Service>>,
    pub(crate) probes: Vec<Arc<dyn Any + Send + Sync>>,
}

impl<'a> BuildEnv<'a> {
    pub fn new(sample_rate: f64, patch_dir: Option<&'a Path>, seed: u64, node_id: &'a str) -> Self {
        BuildEnv {
            sample_rate,
            patch_dir,
            allow_outside_paths: false,
            seed,
            node_id,
            output_loads: Vec::new(),
            services: Vec::new(),
            probes: Vec::new(),
        }
    }

    /// A seed unique to this node, stable across runs.
    pub fn node_seed(&self) -> u64 {
        // FNV-1a over the id, mixed with the engine seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in self.node_id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h
    }

    /// Resolve a path param against the patch folder, refusing escapes.
    pub fn resolve_path(&self, value: &str) -> Result<PathBuf, String> {
        let dir = self.patch_dir.unwrap_or_else(|| Path::new("."));
        ohmpatch_patch::resolve_param_path(dir, value, self.allow_outside_paths)
            .map_err(|e| e.to_string())
    }

    /// `resolve_path` for a file to be written: never into the read-only
    /// bundled assets.
    pub fn resolve_output_path(&self, value: &str) -> Result<PathBuf, String> {
        let dir = self.patch_dir.unwrap_or_else(|| Path::new("."));
        ohmpatch_patch::resolve_output_path(dir, value, self.allow_outside_paths)
            .map_err(|e| e.to_string())
    }

    pub fn add_service(&mut self, service: Box<dyn Service>) {
        self.services.push(service);
    }

    /// Share data a user interface reads (a scope's trace, a meter's
    /// readings): lock-free structures the processor writes and the editor
    /// finds with `Engine::probe`.
    pub fn publish(&mut self, data: Arc<dyn Any + Send + Sync>) {
        self.probes.push(data);
    }

    pub(crate) fn take_probes(&mut self) -> Vec<Arc<dyn Any + Send + Sync>> {
        std::mem::take(&mut self.probes)
    }

    pub(crate) fn take_services(&mut self) -> Vec<Box<dyn Service>> {
        std::mem::take(&mut self.services)
    }
}

/// `NodeKind::latency` for a kind whose processor knows its latency: build
/// it (off the audio thread) and ask.
pub fn latency_of_built(kind: &dyn NodeKind, params: &Params, env: &mut BuildEnv) -> usize {
    kind.build(params, env).map_or(0, |p| p.latency())
}

/// The control-thread half of a node kind: its description and how to build it.
pub trait NodeKind: Send + Sync {
    fn spec(&self) -> &KindSpec;

    fn role(&self) -> Role {
        Role::Normal
    }

    /// For a family of kinds under one name (a plugin host: `lv2`, one
    /// member per `uri`): the text param whose value picks the member
    /// (`Registry::register_member`). This kind itself then stands for a
    /// member that is not available: a placeholder that keeps the node as
    /// written and plays silence.
    fn family_param(&self) -> Option<&'static str> {
        None
    }

    /// Whether `analyze` measures the running processor (a plugin, a
    /// black box) instead of working from a model; `check` says so.
    fn measured(&self) -> bool {
        false
    }

    /// A probe with a display: what the editor draws for it. The editor asks
    /// this instead of knowing kinds by name.
    fn display(&self) -> Option<Display> {
        None
    }

    /// Whether the kind takes the domain of whatever wire it is given
    /// (utilities and probes): the palette offers it for a wire of any domain.
    fn follows_wire(&self) -> bool {
        false
    }

    /// For `DeviceIn`/`DeviceOut` kinds: the device channel (from 0) that
    /// these params name.
    fn device_channel(&self, params: &Params) -> Option<u32> {
        let _ = params;
        None
    }

    /// A test source for the analysis: the frequency of the sine it plays
    /// with these params, if it plays one. `check` measures at the first
    /// such frequency it finds, so the report describes what is heard.
    fn test_frequency(&self, params: &Params) -> Option<f64> {
        let _ = params;
        None
    }

    /// An amplifier meant to drive a load: its rated load in ohms. The
    /// analysis warns when a mic or instrument feeds such an input directly.
    fn rated_load_ohm(&self, params: &Params) -> Option<f64> {
        let _ = params;
        None
    }

    /// Samples of delay from input to output with these params, for
    /// `check`'s path latency. A kind whose processor delays (an
    /// oversampler, a lookahead) says so, best by building the processor
    /// and asking it (`latency_of_built`), so the figure is the one that
    /// plays; the default is none, so the analysis, which runs on every
    /// edit, builds nothing (and reads no file) for the other kinds.
    fn latency(&self, params: &Params, env: &mut BuildEnv) -> usize {
        let _ = (params, env);
        0
    }

    /// The memory its processor will take with these params, bytes, worked
    /// out without building it (a file's header may be read). The engine
    /// adds these up and refuses a patch over its budget in words. Kinds
    /// that allocate more than a few kilobytes say so.
    fn memory_bytes(&self, params: &Params, env: &BuildEnv) -> usize {
        let _ = (params, env);
        0
    }

    /// Whether a live change from the params a processor was built with
    /// (`built`) to `new` still fits what it allocated (a delay line long
    /// enough for the new time); when not, the node is built anew.
    fn live_fits(&self, built: &Params, new: &Params, sample_rate: f64) -> bool {
        let _ = (built, new, sample_rate);
        true
    }

    /// Whether the processor is built for the load it drives
    /// (`BuildEnv::output_loads`): a change of that load rebuilds it.
    fn load_dependent(&self) -> bool {
        false
    }

    /// A passive element between its input and its outputs, with these
    /// params: `Some(g)` when the input presents whatever loads its outputs
    /// drive, in parallel and transformed by an ideal voltage ratio `g`
    /// (`Z_in = Z_loads / g²`; `g = 1` for a junction such as `split`, the
    /// gain for `gain`), so that a utility never hides a load from the stage
    /// that drives it. Its outputs are then ideal: the loading is applied
    /// once, at the source. `None` (the default) for an active stage whose
    /// ports have impedances of their own.
    fn junction(&self, params: &Params) -> Option<f64> {
        let _ = params;
        None
    }

    /// Domain and impedance of each port (in `spec().ports` order) for these params.
    fn electrical(&self, params: &Params) -> Vec<PortElectrical>;

    /// Build a processor. Runs on the control thread, so it may allocate and
    /// read files; errors are shown to the user as they are.
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String>;

    /// The stage's small-signal model for `check`'s analysis: levels at its
    /// outputs (open circuit; a device output last) from levels at its
    /// inputs (already loaded). The default passes the summed inputs on.
    fn analyze(
        &self,
        params: &Params,
        ctx: &crate::analysis::AnalysisContext,
        inputs: &[crate::analysis::Level],
    ) -> crate::analysis::StageAnalysis {
        let _ = (params, ctx);
        crate::analysis::pass_through(self.spec(), inputs)
    }
}
