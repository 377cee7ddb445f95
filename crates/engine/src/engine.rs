//! The control-thread side of the engine: turns patch edits into plans,
//! builds processors, sends them to the audio thread and takes back what it
//! retires. Node state survives edits: a node whose kind and non-realtime
//! params are unchanged keeps its processor, and realtime params travel as
//! messages. Wires that appear or go, and nodes that are rebuilt, fade over a
//! few milliseconds so edits do not click.

use crate::compile::{CompileError, InputSrc, Schedule, StepKind, compile};
use crate::core::{
    Block, Core, EdgeGain, FromCore, NONE, Plan, RtInput, RtOutput, RtStep, RtStepKind, RtWire,
    ToCore,
};
use crate::impedance::LoadingState;
use crate::meters::{MeterReading, Meters, Stats};
use crate::node::{BuildEnv, MAX_BLOCK, MAX_PORTS, Params, Processor, Service};
use crate::registry::Registry;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use ohmpatch_patch::{Diagnostic, Direction, Node, Patch, Wire, validate};
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Plans sent but not yet handed back; past this the control side waits
/// before sending more, so the audio thread's return queue never overflows.
const MAX_IN_FLIGHT: usize = 32;
const RETURN_CAPACITY: usize = 64;
const COMMAND_CAPACITY: usize = 4096;

/// How device outputs map to device channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMap {
    /// One channel per `output` node, in id order (offline render).
    IdOrder,
    /// The node's `channel` param, 1-based (playback).
    Param,
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub sample_rate: f64,
    pub seed: u64,
    pub patch_dir: Option<PathBuf>,
    pub allow_outside_paths: bool,
    /// Fade time for wires that appear or go, ms.
    pub fade_ms: f64,
    pub max_nodes: usize,
    pub channel_map: ChannelMap,
    /// Measure each watched output port's meter every this many blocks
    /// (1 = every block, so no peak is missed); the ports take turns, so
    /// each block meters 1/`meter_every` of them. Only ports whose meters
    /// are read are measured at all (`Meters`).
    pub meter_every: u32,
    /// Run settled steps on the bound fast path and skip quiet nodes (see
    /// `Core::run_block`). Off, every step takes the general path: the
    /// same samples, more slowly; tests compare the two.
    pub fast_paths: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sample_rate: 48_000.0,
            seed: 0,
            patch_dir: None,
            allow_outside_paths: false,
            fade_ms: 5.0,
            max_nodes: 10_000,
            channel_map: ChannelMap::IdOrder,
            meter_every: 1,
            fast_paths: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    Invalid(Vec<Diagnostic>),
    Compile(CompileError),
    Build { node: String, message: String },
    TooManyNodes { count: usize, max: usize },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Invalid(d) => {
                for (i, x) in d.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{x}")?;
                }
                Ok(())
            }
            EngineError::Compile(e) => write!(f, "{e}"),
            EngineError::Build { node, message } => write!(f, "node \"{node}\": {message}"),
            EngineError::TooManyNodes { count, max } => {
                write!(
                    f,
                    "the patch has {count} nodes; this engine takes at most {max}"
                )
            }
        }
    }
}

impl std::error::Error for EngineError {}

impl From<CompileError> for EngineError {
    fn from(e: CompileError) -> Self {
        EngineError::Compile(e)
    }
}

struct Instance {
    slot: u32,
    kind: String,
    params: Params,
    raw: BTreeMap<String, ohmpatch_patch::Value>,
    services: Vec<Box<dyn Service>>,
    probes: Vec<Arc<dyn Any + Send + Sync>>,
}

type EdgeKey = (u32, String, u32, String);

struct Fading {
    synthetic: String,
    inst: Instance,
}

/// The engine as the editor and the command line hold it.
pub struct Engine {
    registry: Arc<Registry>,
    config: EngineConfig,
    to_core: Sender<ToCore>,
    from_core: Receiver<FromCore>,
    core: Option<Core>,
    meters: Arc<Meters>,
    stats: Arc<Stats>,

    target: Patch,
    live: HashMap<String, Instance>,
    fading: Vec<Fading>,
    /// Wires on their way out (between live nodes or to fading ones).
    fading_wires: Vec<Wire>,
    fade_generation: u64,
    retiring: Vec<(u64, Vec<Box<dyn Service>>)>,
    free_slots: Vec<u32>,
    slot_count: u32,

    generation: u64,
    in_flight: usize,
    pending_installs: Vec<(u32, Box<dyn Processor>)>,
    pending_removes: Vec<u32>,
    plan_dirty: bool,
    /// Keys of the last plan's wires and loadings, by slot, so the next plan
    /// carries their running state over. A rebuilt node has a new slot, so its
    /// wires fade in while the old ones fade out: a crossfade.
    edge_keys: HashMap<EdgeKey, u32>,
    loading_keys: HashMap<(u32, usize), u32>,
    schedule: Option<Schedule>,
    synthetic_counter: u64,
    service_errors: Vec<String>,
}

impl Engine {
    pub fn new(registry: Arc<Registry>, config: EngineConfig) -> Engine {
        let (to_core, core_rx) = bounded(COMMAND_CAPACITY);
        let (core_tx, from_core) = bounded(RETURN_CAPACITY);
        let capacity = config.max_nodes * 2 + 64;
        let meters = Arc::new(Meters::new(capacity));
        let stats = Arc::new(Stats::default());
        let core = Core {
            plan: Box::new(Plan::empty()),
            slots: (0..capacity).map(|_| None).collect(),
            rx: core_rx,
            tx: core_tx,
            backlog: Vec::with_capacity(RETURN_CAPACITY),
            meters: meters.clone(),
            stats: stats.clone(),
            rms_state: vec![f32::NAN; capacity * MAX_PORTS],
            sample_rate: config.sample_rate,
            time: 0,
            meter_every: config.meter_every.max(1),
            block_count: 0,
            watch_frames: watch_frames(config.sample_rate),
            epoch_left: 0,
            meter_phase: 0,
            meter_coeff: (0, 0.0),
            fast_paths: config.fast_paths,
        };
        Engine {
            registry,
            config,
            to_core,
            from_core,
            core: Some(core),
            meters,
            stats,
            target: Patch::default(),
            live: HashMap::new(),
            fading: Vec::new(),
            fading_wires: Vec::new(),
            fade_generation: 0,
            retiring: Vec::new(),
            free_slots: Vec::new(),
            slot_count: 0,
            generation: 0,
            in_flight: 0,
            pending_installs: Vec::new(),
            pending_removes: Vec::new(),
            plan_dirty: false,
            edge_keys: HashMap::new(),
            loading_keys: HashMap::new(),
            schedule: None,
            synthetic_counter: 0,
            service_errors: Vec::new(),
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn sample_rate(&self) -> f64 {
        self.config.sample_rate
    }

    /// Hand the audio-thread half to a backend.
    pub fn take_core(&mut self) -> Option<Core> {
        self.core.take()
    }

    /// Take the audio-thread half back (a backend stopped); node state is kept.
    pub fn return_core(&mut self, core: Core) {
        self.core = Some(core);
    }

    pub fn core_mut(&mut self) -> Option<&mut Core> {
        self.core.as_mut()
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    pub fn meters(&self) -> &Arc<Meters> {
        &self.meters
    }

    pub fn patch(&self) -> &Patch {
        &self.target
    }

    /// The schedule of the patch as last set (without fading parts).
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// Errors reported by services (a recorder that cannot write) since last asked.
    pub fn take_service_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.service_errors)
    }

    /// A node's output meter, in the wire's unit.
    pub fn meter(&self, id: &str, port: &str) -> Option<MeterReading> {
        let inst = self.live.get(id)?;
        let kind = self.registry.get(&inst.kind)?;
        let pi = kind
            .spec()
            .ports
            .iter()
            .position(|p| p.name == port && p.direction == Direction::Out)?;
        (pi < MAX_PORTS).then(|| self.meters.read(Meters::index(inst.slot, pi)))
    }

    /// Data a node published for display (scope trace, spectrum, meter), by type.
    pub fn probe<T: Any + Send + Sync>(&self, id: &str) -> Option<Arc<T>> {
        self.live
            .get(id)?
            .probes
            .iter()
            .find_map(|p| p.clone().downcast::<T>().ok())
    }

    /// The node whose output last went non-finite, if any.
    pub fn faulty_node(&self) -> Option<String> {
        let s = self.stats.faulty_slot.load(Ordering::Relaxed);
        if s == 0 {
            return None;
        }
        let slot = (s - 1) as u32;
        self.live
            .iter()
            .find(|(_, i)| i.slot == slot)
            .map(|(id, _)| id.clone())
            .or_else(|| {
                self.fading
                    .iter()
                    .find(|f| f.inst.slot == slot)
                    .map(|f| f.synthetic.clone())
            })
    }

    /// Make a fresh audio-thread half after the old one was lost with a
    /// device: every node is built again (its state starts over) and the
    /// current patch is sent. Returns the nodes that could not be built.
    pub fn rebuild_core(&mut self) -> Vec<EngineError> {
        let (to_core, core_rx) = bounded(COMMAND_CAPACITY);
        let (core_tx, from_core) = bounded(RETURN_CAPACITY);
        let capacity = self.capacity();
        self.core = Some(Core {
            plan: Box::new(Plan::empty()),
            slots: (0..capacity).map(|_| None).collect(),
            rx: core_rx,
            tx: core_tx,
            backlog: Vec::with_capacity(RETURN_CAPACITY),
            meters: self.meters.clone(),
            stats: self.stats.clone(),
            rms_state: vec![f32::NAN; capacity * MAX_PORTS],
            sample_rate: self.config.sample_rate,
            time: self.stats.frames.load(Ordering::Relaxed),
            meter_every: self.config.meter_every.max(1),
            block_count: 0,
            watch_frames: watch_frames(self.config.sample_rate),
            epoch_left: 0,
            meter_phase: 0,
            meter_coeff: (0, 0.0),
            fast_paths: self.config.fast_paths,
        });
        self.to_core = to_core;
        self.from_core = from_core;
        self.in_flight = 0;
        self.pending_installs.clear();
        self.pending_removes.clear();
        for f in self.fading.drain(..) {
            self.free_slots.push(f.inst.slot);
            self.retiring.push((0, f.inst.services));
        }
        self.fading_wires.clear();
        self.edge_keys.clear();
        self.loading_keys.clear();
        let mut errors = Vec::new();
        let ids: Vec<String> = self.live.keys().cloned().collect();
        for id in ids {
            let inst = self.live.get(&id).expect("listed");
            let Some(kind) = self.registry.get(&inst.kind) else {
                continue;
            };
            let mut env = BuildEnv::new(
                self.config.sample_rate,
                self.config.patch_dir.as_deref(),
                self.config.seed,
                &id,
            );
            env.allow_outside_paths = self.config.allow_outside_paths;
            match kind.build(&inst.params, &mut env) {
                Ok(p) => {
                    let slot = inst.slot;
                    let services = env.take_services();
                    let probes = env.take_probes();
                    let inst = self.live.get_mut(&id).expect("listed");
                    inst.probes = probes;
                    let old = std::mem::replace(&mut inst.services, services);
                    self.retiring.push((0, old));
                    self.pending_installs.push((slot, p));
                }
                Err(message) => errors.push(EngineError::Build {
                    node: id.clone(),
                    message,
                }),
            }
        }
        self.stats.generation.store(0, Ordering::Relaxed);
        self.send_plan();
        errors
    }

    fn alloc_slot(&mut self) -> u32 {
        if let Some(s) = self.free_slots.pop() {
            return s;
        }
        self.slot_count += 1;
        self.slot_count - 1
    }

    fn capacity(&self) -> usize {
        self.config.max_nodes * 2 + 64
    }

    /// Make `patch` the one that plays. On error nothing changes and the
    /// audio goes on as it was.
    pub fn set_patch(&mut self, patch: &Patch) -> Result<(), EngineError> {
        if patch.nodes.len() > self.config.max_nodes {
            return Err(EngineError::TooManyNodes {
                count: patch.nodes.len(),
                max: self.config.max_nodes,
            });
        }
        let diags = validate(patch, &*self.registry, "<patch>", None);
        if !diags.is_empty() {
            return Err(EngineError::Invalid(diags));
        }
        let schedule = compile(
            patch,
            &self.registry,
            self.config.sample_rate,
            &HashSet::new(),
        )?;

        // Build what must be built before touching any state.
        let mut built: Vec<(String, Instance, Box<dyn Processor>)> = Vec::new();
        let mut param_msgs: Vec<(u32, u32, f64)> = Vec::new();
        for (id, node) in &patch.nodes {
            let kind = self.registry.get(&node.kind).expect("validated");
            let params = Params::resolve(kind.spec(), &node.params);
            if let Some(inst) = self.live.get(id)
                && inst.kind == node.kind
            {
                // A change reaches the processor only through a live param;
                // any other change builds the node anew (with its crossfade).
                let rebuild = kind
                    .spec()
                    .params
                    .iter()
                    .zip(params.values().iter().zip(inst.params.values()))
                    .any(|(spec, (a, b))| a != b && !spec.live);
                if !rebuild {
                    for (i, (a, b)) in params.values().iter().zip(inst.params.values()).enumerate()
                    {
                        if a != b {
                            param_msgs.push((inst.slot, i as u32, a.as_f64()));
                        }
                    }
                    continue;
                }
            }
            let mut env = BuildEnv::new(
                self.config.sample_rate,
                self.config.patch_dir.as_deref(),
                self.config.seed,
                id,
            );
            env.allow_outside_paths = self.config.allow_outside_paths;
            let p = kind
                .build(&params, &mut env)
                .map_err(|message| EngineError::Build {
                    node: id.clone(),
                    message,
                })?;
            let services = env.take_services();
            let probes = env.take_probes();
            built.push((
                id.clone(),
                Instance {
                    slot: u32::MAX,
                    kind: node.kind.clone(),
                    params,
                    raw: node.params.clone(),
                    services,
                    probes,
                },
                p,
            ));
        }
        let needed = self.live.len() + self.fading.len() + built.len();
        if needed > self.capacity() {
            // Too much in the air at once: finish fades first.
            self.finish_fades();
        }

        // Retire nodes that are gone or rebuilt; their wires fade with them.
        let rebuilt: HashSet<&str> = built.iter().map(|b| b.0.as_str()).collect();
        let retire: Vec<String> = self
            .live
            .keys()
            .filter(|id| !patch.nodes.contains_key(*id) || rebuilt.contains(id.as_str()))
            .cloned()
            .collect();
        let mut renamed: HashMap<String, String> = HashMap::new();
        for id in &retire {
            let inst = self.live.remove(id).expect("listed above");
            self.synthetic_counter += 1;
            let synthetic = format!("{id}#{}", self.synthetic_counter);
            renamed.insert(id.clone(), synthetic.clone());
            self.fading.push(Fading { synthetic, inst });
        }
        let new_wires: HashSet<&Wire> = patch.wires.iter().collect();
        for w in &self.target.wires {
            let from_r = renamed.get(&w.from.node);
            let to_r = renamed.get(&w.to.node);
            if from_r.is_none() && to_r.is_none() && new_wires.contains(w) {
                continue;
            }
            let mut fw = w.clone();
            if let Some(s) = from_r {
                fw.from.node = s.clone();
            }
            if let Some(s) = to_r {
                fw.to.node = s.clone();
            }
            if !self.fading_wires.contains(&fw) {
                self.fading_wires.push(fw);
            }
        }
        // A wire put back while fading comes back to life.
        self.fading_wires.retain(|w| !new_wires.contains(w));

        for (id, mut inst, p) in built {
            inst.slot = self.alloc_slot();
            self.pending_installs.push((inst.slot, p));
            self.live.insert(id, inst);
        }
        // Params of kept nodes may have changed without a rebuild.
        for (id, node) in &patch.nodes {
            if let Some(inst) = self.live.get_mut(id) {
                let kind = self.registry.get(&node.kind).expect("validated");
                inst.params = Params::resolve(kind.spec(), &node.params);
                inst.raw = node.params.clone();
            }
        }
        let topology_changed = !retire.is_empty()
            || !self.pending_installs.is_empty()
            || self.target.wires != patch.wires
            || !self
                .schedule
                .as_ref()
                .is_some_and(|s| s.same_plan(&schedule));
        self.target = patch.clone();
        self.schedule = Some(schedule);
        if topology_changed {
            self.fade_generation = self.generation + 1;
            self.send_plan();
        }
        for (slot, index, value) in param_msgs {
            self.send_param(slot, index, value);
        }
        Ok(())
    }

    /// Change one param of one node: a message when it is realtime, a plan
    /// otherwise. Cheaper than `set_patch` for a knob being dragged.
    pub fn set_param(
        &mut self,
        id: &str,
        name: &str,
        value: ohmpatch_patch::Value,
    ) -> Result<(), EngineError> {
        let mut patch = self.target.clone();
        match patch.nodes.get_mut(id) {
            Some(n) => {
                n.params.insert(name.to_string(), value);
            }
            None => {
                return Err(EngineError::Build {
                    node: id.to_string(),
                    message: "no such node".into(),
                });
            }
        }
        self.set_patch(&patch)
    }

    fn send_param(&mut self, slot: u32, index: u32, value: f64) {
        // A full queue means the audio thread is not running; the value is
        // already in `live` and goes with the next rebuild.
        let _ = self.to_core.try_send(ToCore::Param { slot, index, value });
    }

    /// Current patch plus what is fading out, as one patch to compile.
    fn union(&self) -> Patch {
        let mut u = self.target.clone();
        for f in &self.fading {
            u.nodes.insert(
                f.synthetic.clone(),
                Node {
                    kind: f.inst.kind.clone(),
                    pos: (0.0, 0.0),
                    params: f.inst.raw.clone(),
                },
            );
        }
        u.wires.extend(self.fading_wires.iter().cloned());
        u
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        self.live.get(id).map(|i| i.slot).or_else(|| {
            self.fading
                .iter()
                .find(|f| f.synthetic == id)
                .map(|f| f.inst.slot)
        })
    }

    fn send_plan(&mut self) {
        self.drain_returns();
        if self.in_flight >= MAX_IN_FLIGHT {
            self.plan_dirty = true;
            return;
        }
        if self.fading.is_empty() && self.fading_wires.is_empty() {
            // Nothing is fading: the plan is the target's schedule, which
            // `set_patch` has just compiled; compiling it again would double
            // the cost of every edit.
            if let Some(schedule) = self.schedule.take() {
                let plan = self.build_plan(&schedule);
                self.schedule = Some(schedule);
                self.dispatch(plan);
                return;
            }
        }
        let fading: HashSet<Wire> = self.fading_wires.iter().cloned().collect();
        let union = self.union();
        let schedule = match compile(&union, &self.registry, self.config.sample_rate, &fading) {
            Ok(s) => s,
            Err(_) => {
                // The fading parts make a loop the new patch does not have:
                // drop the fade rather than refuse the edit.
                self.finish_fades_now();
                match compile(
                    &self.target,
                    &self.registry,
                    self.config.sample_rate,
                    &HashSet::new(),
                ) {
                    Ok(s) => s,
                    Err(_) => return,
                }
            }
        };
        let plan = self.build_plan(&schedule);
        self.dispatch(plan);
    }

    fn dispatch(&mut self, plan: Box<Plan>) {
        self.plan_dirty = false;
        match self.to_core.try_send(ToCore::Plan(plan)) {
            Ok(()) => self.in_flight += 1,
            Err(TrySendError::Full(ToCore::Plan(p)))
            | Err(TrySendError::Disconnected(ToCore::Plan(p))) => {
                // Put the processors back so they go with the next plan.
                let mut p = *p;
                self.pending_installs.append(&mut p.installs);
                self.pending_removes.append(&mut p.removes);
                self.plan_dirty = true;
            }
            Err(_) => {}
        }
    }

    /// The device channel a device node's params name (0 when it names none).
    fn channel_of(&self, n: &crate::compile::SchedNode) -> u32 {
        self.registry
            .get(&n.kind)
            .and_then(|k| k.device_channel(&n.params))
            .unwrap_or(0)
    }

    fn build_plan(&mut self, s: &Schedule) -> Box<Plan> {
        self.generation += 1;
        let first = self.generation == 1;
        let mut plan = Plan::empty();
        plan.generation = self.generation;
        plan.fade_frames = (self.config.fade_ms * self.config.sample_rate / 1000.0).max(1.0) as f32;
        plan.buffers = vec![Block::ZERO; s.buffer_count.max(1)];

        let mut edge_keys = HashMap::with_capacity(s.wires.len());
        for (i, w) in s.wires.iter().enumerate() {
            let target = if w.fading_out { 0.0 } else { 1.0 };
            let key = (
                self.slot_of(&w.wire.from.node).unwrap_or(u32::MAX),
                w.wire.from.port.clone(),
                self.slot_of(&w.wire.to.node).unwrap_or(u32::MAX),
                w.wire.to.port.clone(),
            );
            let inherit = self.edge_keys.get(&key).copied().unwrap_or(NONE);
            let gain = if first { target } else { 0.0 };
            plan.edges.push(EdgeGain {
                gain,
                target,
                step: 0.0,
            });
            plan.edge_inherit.push(inherit);
            edge_keys.insert(key, i as u32);
        }
        let mut loading_keys = HashMap::new();
        for step in &s.steps {
            let node = &s.nodes[step.node];
            let slot = self.slot_of(&node.id).unwrap_or(u32::MAX);
            let in_start = plan.inputs.len() as u32;
            for inp in &step.inputs {
                plan.inputs.push(match inp {
                    InputSrc::Zero => RtInput::Zero,
                    InputSrc::Device { buffer } => RtInput::Device { buffer: *buffer },
                    InputSrc::Sum { scratch, wires } => {
                        let start = plan.wires.len() as u32;
                        for &wi in wires {
                            plan.wires.push(RtWire {
                                src: s.wires[wi as usize].src_buffer,
                                edge: wi,
                            });
                        }
                        RtInput::Sum {
                            scratch: *scratch,
                            start,
                            len: wires.len() as u32,
                        }
                    }
                });
            }
            let out_start = plan.outputs.len() as u32;
            for o in &step.outputs {
                let li = plan.loadings.len() as u32;
                plan.loadings.push(LoadingState::new(&o.loading));
                let key = (slot, o.port.unwrap_or(usize::MAX));
                plan.loading_inherit
                    .push(self.loading_keys.get(&key).copied().unwrap_or(NONE));
                loading_keys.insert(key, li);
                let meter = match o.port {
                    Some(p) if p < MAX_PORTS && slot != u32::MAX => Meters::index(slot, p) as u32,
                    _ => NONE,
                };
                plan.outputs.push(RtOutput {
                    buffer: o.buffer,
                    loading: li,
                    meter,
                });
            }
            plan.steps.push(RtStep::new(
                slot,
                match step.kind {
                    StepKind::Process => RtStepKind::Process,
                    StepKind::FeedbackRead => RtStepKind::FeedbackRead,
                    StepKind::FeedbackWrite => RtStepKind::FeedbackWrite,
                },
                (in_start, step.inputs.len() as u32),
                (out_start, step.outputs.len() as u32),
            ));
        }
        for (i, &(n, b)) in s.device_outs.iter().enumerate() {
            let ch = match self.config.channel_map {
                ChannelMap::IdOrder => i as u32,
                ChannelMap::Param => self.channel_of(&s.nodes[n]),
            };
            // Fading outputs keep sounding on their channel until gone.
            plan.device_outs.push((b, ch));
        }
        if self.config.channel_map == ChannelMap::IdOrder {
            // Fading copies of an output share the channel of their live twin.
            let live_outs: Vec<&str> = s
                .device_outs
                .iter()
                .map(|(n, _)| s.nodes[*n].id.as_str())
                .filter(|id| !id.contains('#'))
                .collect();
            for (i, &(n, _)) in s.device_outs.iter().enumerate() {
                let id = s.nodes[n].id.as_str();
                let base = id.split('#').next().unwrap_or(id);
                let ch = live_outs
                    .iter()
                    .position(|l| *l == base)
                    .unwrap_or(live_outs.len() + i);
                plan.device_outs[i].1 = ch as u32;
            }
        }
        for &(n, b) in &s.device_ins {
            plan.device_ins.push((b, self.channel_of(&s.nodes[n])));
        }
        plan.installs = std::mem::take(&mut self.pending_installs);
        plan.removes = std::mem::take(&mut self.pending_removes);
        for (slot, _) in &plan.installs {
            for p in 0..MAX_PORTS {
                plan.clear_meters.push(Meters::index(*slot, p) as u32);
            }
        }
        plan.trash = Vec::with_capacity(plan.installs.len() + plan.removes.len());
        plan.prepare();
        self.edge_keys = edge_keys;
        self.loading_keys = loading_keys;
        Box::new(plan)
    }

    fn drain_returns(&mut self) {
        while let Ok(FromCore::Retired(plan)) = self.from_core.try_recv() {
            self.in_flight = self.in_flight.saturating_sub(1);
            drop(plan);
        }
    }

    /// Remove fading parts in the next plan (their fade is over).
    fn finish_fades(&mut self) {
        for f in self.fading.drain(..) {
            self.pending_removes.push(f.inst.slot);
            self.free_slots.push(f.inst.slot);
            self.retiring.push((self.generation + 1, f.inst.services));
        }
        self.fading_wires.clear();
    }

    fn finish_fades_now(&mut self) {
        self.finish_fades();
    }

    /// Regular upkeep on the control thread: take back retired plans, run
    /// services, end fades whose time is up, send what waited. Call it every
    /// few milliseconds while playing and after every offline block.
    pub fn maintain(&mut self) {
        self.drain_returns();
        let applied = self.stats.generation.load(Ordering::Relaxed);
        let since = self.stats.generation_frame.load(Ordering::Relaxed);
        let now = self.stats.frames.load(Ordering::Relaxed);
        let fade_frames =
            (self.config.fade_ms * self.config.sample_rate / 1000.0) as u64 + MAX_BLOCK as u64;
        if (!self.fading.is_empty() || !self.fading_wires.is_empty())
            && applied >= self.fade_generation
            && now.saturating_sub(since) >= fade_frames
        {
            self.finish_fades();
            self.plan_dirty = true;
        }
        if self.plan_dirty {
            self.send_plan();
        }
        let mut errors = Vec::new();
        for inst in self.live.values_mut() {
            for s in inst.services.iter_mut() {
                if let Err(e) = s.run() {
                    errors.push(e);
                }
            }
        }
        for f in self.fading.iter_mut() {
            for s in f.inst.services.iter_mut() {
                if let Err(e) = s.run() {
                    errors.push(e);
                }
            }
        }
        let mut keep = Vec::new();
        for (gen_, mut services) in self.retiring.drain(..) {
            if applied >= gen_ {
                for s in services.iter_mut() {
                    if let Err(e) = s.finish() {
                        errors.push(e);
                    }
                }
            } else {
                keep.push((gen_, services));
            }
        }
        self.retiring = keep;
        self.service_errors.extend(errors);
    }

    /// Whether everything sent has been taken up by the audio thread and no
    /// fade is pending.
    pub fn is_settled(&self) -> bool {
        self.fading.is_empty()
            && self.fading_wires.is_empty()
            && !self.plan_dirty
            && self.stats.generation.load(Ordering::Relaxed) == self.generation
    }

    /// Finish every service (flush recorders). Call before exit.
    pub fn shutdown(&mut self) -> Vec<String> {
        self.drain_returns();
        let mut errors = std::mem::take(&mut self.service_errors);
        for inst in self.live.values_mut() {
            for s in inst.services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        for f in self.fading.iter_mut() {
            for s in f.inst.services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        for (_, services) in self.retiring.iter_mut() {
            for s in services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        self.retiring.clear();
        errors
    }
}

/// A quarter second of frames: the unit in which the audio thread tells
/// whether a meter was read lately (`Meters::watched`).
fn watch_frames(sample_rate: f64) -> u64 {
    (sample_rate * 0.25).max(1.0) as u64
}
