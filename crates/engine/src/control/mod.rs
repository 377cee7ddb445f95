//! The control-thread side of the engine: turns patch edits into plans,
//! builds processors, sends them to the audio thread and takes back what it
//! retires. Node state survives edits: a node whose kind and non-realtime
//! params are unchanged keeps its processor, and realtime params travel as
//! messages. Wires that appear or go, and nodes that are rebuilt, fade over a
//! few milliseconds so edits do not click.
//!
//! `engine` holds the edit path (`set_patch`) and the audio-thread half's
//! lifecycle; `build` turns a schedule into a plan; `fade` keeps what fades
//! out; `retire` takes back retired plans and runs services.

mod budget;
mod build;
mod config;
mod engine;
mod fade;
mod retire;

pub use budget::{check_memory, memory_of};
pub use config::{
    ChannelMap, DEFAULT_MEMORY_BUDGET, DEFAULT_PARALLEL_MIN_US, EngineConfig, EngineError,
};

use crate::compile::Schedule;
use crate::impedance::Impedance;
use crate::meters::{Meters, Stats};
use crate::node::{Params, Processor, Service};
use crate::registry::Registry;
use crate::runtime::{Core, FromCore, Pool, ToCore};
use crossbeam_channel::{Receiver, Sender};
use fade::{Fading, FadingWire};
use ohmpatch_patch::Patch;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Plans sent but not yet handed back; past this the control side waits
/// before sending more, so the audio thread's return queue never overflows.
const MAX_IN_FLIGHT: usize = 32;
const RETURN_CAPACITY: usize = 64;
const COMMAND_CAPACITY: usize = 4096;

struct Instance {
    slot: u32,
    kind: String,
    /// The params it was built with; `params` follows live changes.
    built: Params,
    params: Params,
    raw: BTreeMap<String, ohmpatch_patch::Value>,
    /// Samples of latency its processor reports (`Processor::latency`).
    latency: usize,
    /// The memory it was built to take (`NodeKind::memory_bytes`).
    memory: usize,
    /// The loads it was built for (`NodeKind::load_dependent`), else empty.
    loads: Vec<Impedance>,
    services: Vec<Box<dyn Service>>,
    probes: Vec<Arc<dyn Any + Send + Sync>>,
}

type EdgeKey = (u32, String, u32, String);

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
    fading_wires: Vec<FadingWire>,
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
    /// The latency compensation line of each wire in the last plan.
    delay_keys: HashMap<EdgeKey, u32>,
    loading_keys: HashMap<(u32, usize), u32>,
    schedule: Option<Schedule>,
    /// Worker threads (`EngineConfig::threads` above 1); the core shares them.
    pool: Option<Pool>,
    /// Nodes retired so far: numbers each fading instance.
    synthetic_counter: u64,
    service_errors: Vec<String>,
}
