//! The memory a patch's processors will take, added up before any of them
//! is built, so an untrusted patch that asks for more than the budget is
//! refused in words instead of failing an allocation.

use super::config::EngineError;
use crate::node::{BuildEnv, Params};
use crate::registry::Registry;
use ohmpatch_patch::Patch;
use std::path::Path;

/// How many of the largest consumers a refusal names.
const NAMED: usize = 3;

/// Each node's estimate (`NodeKind::memory_bytes`), largest first.
pub fn memory_of(
    patch: &Patch,
    registry: &Registry,
    sample_rate: f64,
    patch_dir: Option<&Path>,
) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = patch
        .nodes
        .iter()
        .filter_map(|(id, node)| {
            let kind = registry.of(node)?;
            let params = Params::resolve(kind.spec(), &node.params);
            let env = BuildEnv::new(sample_rate, patch_dir, 0, id);
            Some((id.clone(), kind.memory_bytes(&params, &env)))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Refuse a patch whose nodes would need more than `budget` bytes.
pub fn check_memory(
    patch: &Patch,
    registry: &Registry,
    sample_rate: f64,
    patch_dir: Option<&Path>,
    budget: usize,
) -> Result<(), EngineError> {
    within(memory_of(patch, registry, sample_rate, patch_dir), budget)
}

/// Refuse `each` (node id, bytes) when together they are over `budget`,
/// naming the largest.
pub(super) fn within(mut each: Vec<(String, usize)>, budget: usize) -> Result<(), EngineError> {
    let total = each.iter().fold(0usize, |t, (_, b)| t.saturating_add(*b));
    if total <= budget {
        return Ok(());
    }
    each.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    each.truncate(NAMED);
    Err(EngineError::OverBudget {
        total,
        budget,
        largest: each,
    })
}
