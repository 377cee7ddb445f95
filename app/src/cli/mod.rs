//! The subcommands. Errors go to stderr in plain words with the exit codes of
//! CONTRACT §3: 0 fine, 1 invalid, 2 unreadable.

pub mod bundle;
pub mod check;
pub mod devices;
pub mod editor;
pub mod measure;
pub mod nodes;
pub mod play;
pub mod plugins;
pub mod render;

use ohmpatch_engine::{Engine, EngineConfig, EngineError};
use ohmpatch_patch::{LoadError, Patch};
use std::path::Path;

pub const EXIT_OK: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_UNREADABLE: u8 = 2;

/// Load a patch, printing the error and giving its exit code on failure.
pub fn load(path: &Path) -> Result<Patch, u8> {
    ohmpatch_patch::load_file(path).map_err(|e| {
        eprintln!("{e}");
        match e {
            LoadError::Unreadable { .. } => EXIT_UNREADABLE,
            LoadError::Invalid(_) => EXIT_INVALID,
        }
    })
}

/// The folder paths in a patch are relative to.
pub fn patch_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// Validate against the catalogue, printing every problem.
pub fn validate(
    path: &Path,
    patch: &Patch,
    registry: &ohmpatch_engine::Registry,
) -> Result<(), u8> {
    let source = std::fs::read_to_string(path).ok();
    let origin = path.display().to_string();
    let diags = ohmpatch_patch::validate(patch, registry, &origin, source.as_deref());
    for d in &diags {
        eprintln!("{d}");
    }
    // A plugin that is not installed: kept, silent, and said so.
    for (id, node) in &patch.nodes {
        if let Some(why) = ohmpatch_patch::Catalogue::missing(registry, node) {
            eprintln!("{origin}: warning: node \"{id}\": {why}");
        }
    }
    // File params that leave the patch's folder: refused by every command in
    // the words the engine uses when it builds the node.
    let refused = ohmpatch_patch::refused_paths(patch, registry, &patch_dir(path));
    for (node, why) in &refused {
        eprintln!("{origin}: node \"{node}\": {why}");
    }
    // Memory: the same budget the engine refuses a patch over, so `check`
    // says so too (at 48 kHz; `render` checks again at its own rate).
    let memory = ohmpatch_engine::check_memory(
        patch,
        registry,
        48_000.0,
        Some(&patch_dir(path)),
        ohmpatch_engine::DEFAULT_MEMORY_BUDGET,
    );
    if let Err(e) = &memory {
        eprintln!("{origin}: {e}");
    }
    if diags.is_empty() && refused.is_empty() && memory.is_ok() {
        Ok(())
    } else {
        Err(EXIT_INVALID)
    }
}

/// Build an engine and set the patch, printing errors in words.
pub fn engine_for(path: &Path, patch: &Patch, config: EngineConfig) -> Result<Engine, u8> {
    let registry = std::sync::Arc::new(ohmpatch_nodes::registry_with_plugins());
    validate(path, patch, &registry)?;
    let mut engine = Engine::new(registry, config);
    match engine.set_patch(patch) {
        Ok(()) => Ok(engine),
        Err(e) => {
            let origin = path.display();
            match e {
                EngineError::Invalid(d) => {
                    for x in d {
                        eprintln!("{origin}: {}", x.message);
                    }
                }
                other => eprintln!("{origin}: {other}"),
            }
            Err(EXIT_INVALID)
        }
    }
}

/// `--threads` and `--parallel-min-us`, shared by `play` and `render`.
#[derive(clap::Args, Clone, Debug)]
pub struct ThreadArgs {
    /// Threads that run the patch: the audio thread and workers for
    /// independent branches (default: one per core; 1: no workers).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Hand branches to the workers only while that saves at least this
    /// many µs a block (default 30; negative: always).
    #[arg(long = "parallel-min-us", allow_negative_numbers = true)]
    pub parallel_min_us: Option<f64>,
}

impl ThreadArgs {
    /// The engine settings they make, or the exit code after saying why not.
    pub fn apply(&self, config: &mut ohmpatch_engine::EngineConfig) -> Result<(), u8> {
        let most = ohmpatch_engine::meters::MAX_THREADS;
        match self.threads {
            Some(n) if !(1..=most).contains(&n) => {
                eprintln!("--threads must be between 1 and {most}; got {n}");
                return Err(EXIT_INVALID);
            }
            Some(n) => config.threads = n,
            None => config.threads = 0,
        }
        if let Some(us) = self.parallel_min_us {
            if !us.is_finite() {
                eprintln!("--parallel-min-us must be a number of microseconds; got {us}");
                return Err(EXIT_INVALID);
            }
            config.parallel_min_us = us;
        }
        Ok(())
    }
}

/// Each thread's load as `play` and the status bar show it: "41 % 38 %"
/// (the audio thread first), with a star while the workers take part.
pub fn thread_loads(loads: &[f64], parallel: bool) -> String {
    let parts: Vec<String> = loads
        .iter()
        .map(|l| format!("{:.0} %", l * 100.0))
        .collect();
    format!(
        "{}{}",
        parts.join(" "),
        if parallel { "" } else { " (one thread)" }
    )
}

pub fn dbfs(x: f64) -> String {
    if x <= 0.0 {
        "-inf".into()
    } else {
        format!("{:.1}", 20.0 * x.log10())
    }
}
