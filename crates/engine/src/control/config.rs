//! How an engine is set up, and what can go wrong when a patch is set.

use crate::compile::CompileError;
use ohmpatch_patch::Diagnostic;
use std::path::PathBuf;

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
    /// The most memory a patch's processors may take together, bytes
    /// (`NodeKind::memory_bytes`): an untrusted patch cannot ask for more
    /// than the machine has, and is refused in words before anything is
    /// allocated.
    pub max_memory_bytes: usize,
    /// Threads that run a block: 1 (the audio thread alone), N (the audio
    /// thread and N - 1 workers) or 0 (one per core). With more than one,
    /// plans are split into tasks and each plan runs on the workers only
    /// while that saves at least `parallel_min_us` a block.
    pub threads: usize,
    /// What running a plan on several threads must save a block before it
    /// does, µs: the cost of waking the workers and handing out tasks,
    /// measured on the benchmark machine (BENCHMARKS.md). Negative: always,
    /// whenever the plan has independent tasks (tests use it).
    pub parallel_min_us: f64,
}

/// The default `parallel_min_us`.
pub const DEFAULT_PARALLEL_MIN_US: f64 = 30.0;

impl EngineConfig {
    /// How many threads `threads` comes to on this machine.
    pub fn thread_count(&self) -> usize {
        let n = if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            self.threads
        };
        n.clamp(1, crate::meters::MAX_THREADS)
    }
}

/// The default memory budget of a patch: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 2 << 30;

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
            max_memory_bytes: DEFAULT_MEMORY_BUDGET,
            threads: 1,
            parallel_min_us: DEFAULT_PARALLEL_MIN_US,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    Invalid(Vec<Diagnostic>),
    Compile(CompileError),
    Build {
        node: String,
        message: String,
    },
    TooManyNodes {
        count: usize,
        max: usize,
    },
    /// The processors would need more memory than the budget; the largest
    /// consumers first, (node id, bytes).
    OverBudget {
        total: usize,
        budget: usize,
        largest: Vec<(String, usize)>,
    },
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
            EngineError::OverBudget {
                total,
                budget,
                largest,
            } => {
                let mb = |b: usize| b as f64 / 1e6;
                let names: Vec<String> = largest
                    .iter()
                    .map(|(id, b)| format!("\"{id}\" {:.1} MB", mb(*b)))
                    .collect();
                write!(
                    f,
                    "the patch needs {:.0} MB of memory for its nodes, more than the {:.0} MB allowed; the largest: {}",
                    mb(*total),
                    mb(*budget),
                    names.join(", ")
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
