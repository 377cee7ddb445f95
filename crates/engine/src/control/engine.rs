//! The engine's edit path and the audio-thread half's lifecycle.

use super::fade::{Fading, FadingWire, NodeKey};
use super::{
    COMMAND_CAPACITY, Engine, EngineConfig, EngineError, Instance, MAX_IN_FLIGHT, RETURN_CAPACITY,
};
use crate::compile::{Schedule, compile_with};
use crate::meters::{MeterReading, Meters, Stats};
use crate::node::{BuildEnv, MAX_PORTS, Params, Processor};
use crate::registry::Registry;
use crate::runtime::{Core, CoreSetup, Plan, Pool, ToCore};
use crossbeam_channel::{TrySendError, bounded};
use ohmpatch_patch::{Direction, Patch, Wire, validate};
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Engine {
    pub fn new(registry: Arc<Registry>, config: EngineConfig) -> Engine {
        let (to_core, core_rx) = bounded(COMMAND_CAPACITY);
        let (core_tx, from_core) = bounded(RETURN_CAPACITY);
        let meters = Arc::new(Meters::new(capacity(&config)));
        let stats = Arc::new(Stats::default());
        let threads = config.thread_count();
        let pool = (threads > 1).then(|| Pool::new(threads - 1, stats.clone()));
        let core = Core::new(
            core_rx,
            core_tx,
            core_setup(&config, &meters, &stats, 0, pool.as_ref()),
        );
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
            delay_keys: HashMap::new(),
            loading_keys: HashMap::new(),
            schedule: None,
            pool,
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

    /// The nodes that use each device channel, as `(inputs, outputs)`:
    /// entry `c` names channel `c + 1`'s users joined by `+` (empty: none),
    /// for device port names. Follows the `channel` params (playback).
    pub fn device_users(&self) -> (Vec<String>, Vec<String>) {
        match &self.schedule {
            Some(s) => self.registry.device_users(
                s.nodes
                    .iter()
                    .map(|n| (n.id.as_str(), n.kind.as_str(), &n.params)),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// Samples from a source to the device outputs through the patch as
    /// now built (paths are compensated to the latest one): what the patch
    /// adds to a device's input-to-output latency.
    pub fn device_latency(&self) -> usize {
        let Some(s) = &self.schedule else {
            return 0;
        };
        let own = |i: usize| self.live.get(&s.nodes[i].id).map_or(0, |x| x.latency);
        let l = s.latencies(own);
        s.device_outs
            .iter()
            .map(|&(n, _)| l.leave[n])
            .max()
            .unwrap_or(0)
    }

    /// Errors reported by services (a recorder that cannot write) since last asked.
    pub fn take_service_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.service_errors)
    }

    /// A node's output meter, in the wire's unit.
    pub fn meter(&self, id: &str, port: &str) -> Option<MeterReading> {
        let inst = self.live.get(id)?;
        let kind = self.registry.of_params(&inst.kind, &inst.params)?;
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
                    .map(|f| f.key.to_string())
            })
    }

    /// Make a fresh audio-thread half after the old one was lost with a
    /// device: every node is built again (its state starts over) and the
    /// current patch is sent. Returns the nodes that could not be built.
    pub fn rebuild_core(&mut self) -> Vec<EngineError> {
        let (to_core, core_rx) = bounded(COMMAND_CAPACITY);
        let (core_tx, from_core) = bounded(RETURN_CAPACITY);
        let time = self.stats.frames.load(Ordering::Relaxed);
        self.core = Some(Core::new(
            core_rx,
            core_tx,
            core_setup(
                &self.config,
                &self.meters,
                &self.stats,
                time,
                self.pool.as_ref(),
            ),
        ));
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
        self.delay_keys.clear();
        self.loading_keys.clear();
        let mut errors = Vec::new();
        let ids: Vec<String> = self.live.keys().cloned().collect();
        for id in ids {
            let inst = self.live.get(&id).expect("listed");
            let Some(kind) = self.registry.of_params(&inst.kind, &inst.params) else {
                continue;
            };
            let mut env = BuildEnv::new(
                self.config.sample_rate,
                self.config.patch_dir.as_deref(),
                self.config.seed,
                &id,
            );
            env.allow_outside_paths = self.config.allow_outside_paths;
            env.output_loads = inst.loads.clone();
            match kind.build(&inst.params, &mut env) {
                Ok(p) => {
                    let slot = inst.slot;
                    let services = env.take_services();
                    let probes = env.take_probes();
                    let inst = self.live.get_mut(&id).expect("listed");
                    inst.built = inst.params.clone();
                    inst.latency = p.latency();
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
        capacity(&self.config)
    }

    /// Buffers are reused within a block on one thread, and for a patch
    /// that is one chain (nothing to share out, and its blocks stay in
    /// cache). With workers and branches they are not: a block reused by an
    /// independent branch would tie the two together.
    fn reuse_buffers(&self, patch: &Patch) -> bool {
        self.pool.is_none() || one_chain(patch)
    }

    /// Whether plans are split into tasks for worker threads.
    pub(super) fn has_workers(&self) -> bool {
        self.pool.is_some()
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
        let schedule = compile_with(
            patch,
            &self.registry,
            self.config.sample_rate,
            &HashSet::new(),
            self.reuse_buffers(patch),
        )?;

        // Build what must be built before touching any state.
        let mut built: Vec<(String, Instance, Box<dyn Processor>)> = Vec::new();
        let mut param_msgs: Vec<(u32, u32, f64)> = Vec::new();
        // What each node takes (`NodeKind::memory_bytes`): kept nodes what
        // they were built with, the others their estimate, judged against
        // the budget before anything is built.
        let mut memory: Vec<(String, usize)> = Vec::with_capacity(patch.nodes.len());
        let mut to_build = Vec::new();
        for (id, node) in &patch.nodes {
            let kind = self.registry.of(node).expect("validated");
            let params = Params::resolve(kind.spec(), &node.params);
            // What a load-dependent kind drives; it is built for this load.
            let loads = if kind.load_dependent() {
                schedule
                    .node(id)
                    .map(|n| n.loads.clone())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
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
                    .any(|(spec, (a, b))| a != b && !spec.live)
                    || inst.loads != loads
                    || !kind.live_fits(&inst.built, &params, self.config.sample_rate);
                if !rebuild {
                    for (i, (a, b)) in params.values().iter().zip(inst.params.values()).enumerate()
                    {
                        if a != b {
                            param_msgs.push((inst.slot, i as u32, a.as_f64()));
                        }
                    }
                    memory.push((id.clone(), inst.memory));
                    continue;
                }
            }
            let env = BuildEnv::new(
                self.config.sample_rate,
                self.config.patch_dir.as_deref(),
                self.config.seed,
                id,
            );
            let bytes = kind.memory_bytes(&params, &env);
            memory.push((id.clone(), bytes));
            to_build.push((id, node, kind, params, loads, bytes));
        }
        super::budget::within(memory, self.config.max_memory_bytes)?;
        for (id, node, kind, params, loads, bytes) in to_build {
            let mut env = BuildEnv::new(
                self.config.sample_rate,
                self.config.patch_dir.as_deref(),
                self.config.seed,
                id,
            );
            env.allow_outside_paths = self.config.allow_outside_paths;
            env.output_loads = loads.clone();
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
                    built: params.clone(),
                    latency: p.latency(),
                    memory: bytes,
                    params,
                    raw: node.params.clone(),
                    loads,
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
        let mut renamed: HashMap<String, NodeKey> = HashMap::new();
        for id in &retire {
            let inst = self.live.remove(id).expect("listed above");
            self.synthetic_counter += 1;
            let key = NodeKey::Fading {
                id: id.clone(),
                instance: self.synthetic_counter,
            };
            renamed.insert(id.clone(), key.clone());
            self.fading.push(Fading { key, inst });
        }
        let new_wires: HashSet<&Wire> = patch.wires.iter().collect();
        for w in &self.target.wires {
            let from_r = renamed.get(&w.from.node);
            let to_r = renamed.get(&w.to.node);
            if from_r.is_none() && to_r.is_none() && new_wires.contains(w) {
                continue;
            }
            let mut fw = FadingWire::live(w);
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
        self.fading_wires
            .retain(|w| !new_wires.contains(&w.to_wire()));

        for (id, mut inst, p) in built {
            inst.slot = self.alloc_slot();
            self.pending_installs.push((inst.slot, p));
            self.live.insert(id, inst);
        }
        // Params of kept nodes may have changed without a rebuild.
        for (id, node) in &patch.nodes {
            if let Some(inst) = self.live.get_mut(id) {
                let kind = self.registry.of(node).expect("validated");
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

    pub(super) fn send_plan(&mut self) {
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
        let fading: HashSet<Wire> = self.fading_wires.iter().map(FadingWire::to_wire).collect();
        let union = self.union();
        let reuse = self.reuse_buffers(&union);
        let sr = self.config.sample_rate;
        let schedule = match compile_with(&union, &self.registry, sr, &fading, reuse) {
            Ok(s) => s,
            Err(_) => {
                // The fading parts make a loop the new patch does not have:
                // drop the fade rather than refuse the edit.
                self.finish_fades_now();
                match compile_with(&self.target, &self.registry, sr, &HashSet::new(), reuse) {
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
                let (mut installs, mut removes) = p.into_unsent();
                self.pending_installs.append(&mut installs);
                self.pending_removes.append(&mut removes);
                self.plan_dirty = true;
            }
            Err(_) => {}
        }
    }
}

/// Whether the patch is one chain: a single source and no node with more
/// than one wire in or out, so its plan is a single task.
fn one_chain(patch: &Patch) -> bool {
    let mut ins: HashMap<&str, usize> = HashMap::new();
    let mut outs: HashMap<&str, usize> = HashMap::new();
    for w in &patch.wires {
        *ins.entry(w.to.node.as_str()).or_default() += 1;
        *outs.entry(w.from.node.as_str()).or_default() += 1;
    }
    let sources = patch
        .nodes
        .keys()
        .filter(|id| !ins.contains_key(id.as_str()))
        .count();
    sources <= 1 && ins.values().all(|&n| n <= 1) && outs.values().all(|&n| n <= 1)
}

/// What the audio-thread half is made with: a slot for every node, live or
/// fading, and room for the plans it hands back.
fn core_setup(
    config: &EngineConfig,
    meters: &Arc<Meters>,
    stats: &Arc<Stats>,
    time: u64,
    pool: Option<&Pool>,
) -> CoreSetup {
    CoreSetup {
        slots: capacity(config),
        meters: meters.clone(),
        stats: stats.clone(),
        sample_rate: config.sample_rate,
        time,
        meter_every: config.meter_every,
        fast_paths: config.fast_paths,
        backlog: RETURN_CAPACITY,
        pool: pool.map(Pool::shared),
        parallel_min_ns: (config.parallel_min_us * 1e3) as f32,
    }
}

/// Slots for every node of the largest patch, the same again fading out,
/// and a few to spare.
fn capacity(config: &EngineConfig) -> usize {
    config.max_nodes * 2 + 64
}
