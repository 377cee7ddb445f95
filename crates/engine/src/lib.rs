//! ohmpatch's engine: compiles a patch into a plan (petgraph, topological
//! order, buffer reuse, electrical loading), runs it on a real-time audio
//! thread, and drives it offline, on a paced null device or through cpal.
//!
//! Threads: the control thread owns [`Engine`] (`control/`); the audio
//! thread owns [`Core`] (`runtime/`). They meet only through bounded
//! lock-free channels and atomics. With `EngineConfig::threads` above one,
//! worker threads help the audio thread run independent branches of a
//! block (`runtime/pool`).

pub mod analysis;
pub mod backend;
pub mod compile;
mod control;
pub mod dsp;
pub mod impedance;
pub mod meters;
pub mod node;
pub mod registry;
mod runtime;
pub mod supervisor;

pub use backend::{
    BackendKind, DeviceChoice, Stream, StreamEvent, StreamOptions, render_offline,
    render_offline_with,
};
pub use compile::{CompileError, Schedule, compile, compile_with};
pub use control::{
    ChannelMap, DEFAULT_MEMORY_BUDGET, DEFAULT_PARALLEL_MIN_US, Engine, EngineConfig, EngineError,
    check_memory, memory_of,
};
pub use impedance::{Impedance, Loading};
pub use meters::{MeterReading, Meters, Stats, ThreadLoad};
pub use node::{
    BuildEnv, Display, MAX_BLOCK, MAX_PORTS, NodeKind, ParamId, ParamValue, Params, PortElectrical,
    ProcessContext, Processor, Role, Service, latency_of_built, param,
};
pub use registry::Registry;
pub use runtime::{Core, Plan, WorkerPriority};
