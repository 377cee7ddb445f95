//! ohmpatch's engine: compiles a patch into a plan (petgraph, topological
//! order, buffer reuse, electrical loading), runs it on a real-time audio
//! thread, and drives it offline, on a paced null device or through cpal.
//!
//! Threads: the control thread owns [`Engine`]; the audio thread owns
//! [`Core`]. They meet only through bounded lock-free channels and atomics.

pub mod analysis;
pub mod backend;
pub mod compile;
mod core;
pub mod dsp;
mod engine;
pub mod impedance;
pub mod meters;
pub mod node;
pub mod registry;
pub mod supervisor;

pub use crate::core::{Core, Plan};
pub use backend::{BackendKind, DeviceChoice, Stream, StreamEvent, StreamOptions, render_offline};
pub use compile::{CompileError, Schedule, compile};
pub use engine::{ChannelMap, Engine, EngineConfig, EngineError};
pub use impedance::{Impedance, Loading};
pub use meters::{MeterReading, Meters, Stats};
pub use node::{
    BuildEnv, MAX_BLOCK, MAX_PORTS, NodeKind, ParamValue, Params, PortElectrical, ProcessContext,
    Processor, Display, Role, Service,
};
pub use registry::Registry;
