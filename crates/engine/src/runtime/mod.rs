//! The audio thread's side of the engine: the plan it runs (`plan`), the
//! block loop (`core`), the settled fast path and silence skipping
//! (`settled`), metering (`meter`) and the denormal guard (`denormal`);
//! the steps any thread runs (`steps`), the plan as tasks (`tasks`) and the
//! worker threads that run them beside the audio thread (`pool`).
//! Nothing here is called from the control thread except to build a plan
//! (`PlanBuilder`) or a core (`Core::new`) before handing it over.

mod core;
mod denormal;
mod meter;
mod plan;
mod pool;
mod settled;
mod steps;
mod tasks;

pub use self::core::Core;
pub(crate) use self::core::CoreSetup;
pub use plan::Plan;
pub(crate) use plan::{NONE, PlanBuilder, RtStepKind};
pub(crate) use pool::Pool;
pub use pool::WorkerPriority;

/// What the control thread sends the audio thread.
pub(crate) enum ToCore {
    Plan(Box<Plan>),
    Param { slot: u32, index: u32, value: f64 },
}

/// What the audio thread sends back, to be freed on the control thread.
pub(crate) enum FromCore {
    /// A plan that was replaced, holding the processors it removed.
    Retired(Box<Plan>),
}
