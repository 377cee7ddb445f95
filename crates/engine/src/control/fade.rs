//! What fades out: nodes that went or were rebuilt, and wires that went,
//! kept playing for a few milliseconds while their gains ramp to zero.
//!
//! The engine keys them by `NodeKey`. Only the patch compiled while
//! something fades (`Engine::union`) names a fading copy by a string, and
//! a name is only ever looked up (`Names`), never taken apart.

use super::{Engine, Instance};
use ohmpatch_patch::{Endpoint, Node, Patch, Wire};
use std::collections::HashMap;

/// A node the engine runs: the patch's own, or a retired instance still
/// fading out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum NodeKey {
    Live(String),
    /// The `instance`th node retired, which was `id` in the patch.
    Fading {
        id: String,
        instance: u64,
    },
}

impl NodeKey {
    /// The patch id it is, or was.
    pub(super) fn id(&self) -> &str {
        match self {
            NodeKey::Live(id) | NodeKey::Fading { id, .. } => id,
        }
    }
}

/// The name it is compiled under: a fading copy's (`id#n`) cannot meet a
/// patch id. Also how a fading node is named when it faults.
impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKey::Live(id) => f.write_str(id),
            NodeKey::Fading { id, instance } => write!(f, "{id}#{instance}"),
        }
    }
}

/// A retired node, with its processor's slot and services, until its fade
/// is over.
pub(super) struct Fading {
    /// Always `NodeKey::Fading`.
    pub(super) key: NodeKey,
    pub(super) inst: Instance,
}

/// One end of a fading wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct FadingEnd {
    pub(super) node: NodeKey,
    pub(super) port: String,
}

/// A wire on its way out, between live nodes or to fading ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct FadingWire {
    pub(super) from: FadingEnd,
    pub(super) to: FadingEnd,
}

impl FadingWire {
    /// A patch wire, between the live nodes it names.
    pub(super) fn live(w: &Wire) -> FadingWire {
        let end = |e: &Endpoint| FadingEnd {
            node: NodeKey::Live(e.node.clone()),
            port: e.port.clone(),
        };
        FadingWire {
            from: end(&w.from),
            to: end(&w.to),
        }
    }

    /// The wire as the compiled union names it.
    pub(super) fn to_wire(&self) -> Wire {
        let end = |e: &FadingEnd| Endpoint::new(e.node.to_string(), e.port.clone());
        Wire::new(end(&self.from), end(&self.to))
    }
}

/// The engine's nodes by the names a compiled schedule gives them.
pub(super) struct Names<'a> {
    live: &'a HashMap<String, Instance>,
    fading: HashMap<String, &'a Fading>,
}

impl Names<'_> {
    /// The slot of the node compiled as `name`.
    pub(super) fn slot(&self, name: &str) -> Option<u32> {
        self.live
            .get(name)
            .map(|i| i.slot)
            .or_else(|| self.fading.get(name).map(|f| f.inst.slot))
    }

    /// The latency its processor reported when built, samples.
    pub(super) fn latency(&self, name: &str) -> usize {
        self.live
            .get(name)
            .map(|i| i.latency)
            .or_else(|| self.fading.get(name).map(|f| f.inst.latency))
            .unwrap_or(0)
    }

    /// The node compiled as `name`.
    pub(super) fn key(&self, name: &str) -> Option<NodeKey> {
        if self.live.contains_key(name) {
            return Some(NodeKey::Live(name.to_string()));
        }
        self.fading.get(name).map(|f| f.key.clone())
    }
}

impl Engine {
    /// Current patch plus what is fading out, as one patch to compile.
    pub(super) fn union(&self) -> Patch {
        let mut u = self.target.clone();
        for f in &self.fading {
            u.nodes.insert(
                f.key.to_string(),
                Node {
                    kind: f.inst.kind.clone(),
                    pos: (0.0, 0.0),
                    params: f.inst.raw.clone(),
                },
            );
        }
        u.wires
            .extend(self.fading_wires.iter().map(FadingWire::to_wire));
        u
    }

    /// How to find the engine's nodes from a schedule of the patch or of
    /// the union.
    pub(super) fn names(&self) -> Names<'_> {
        Names {
            live: &self.live,
            fading: self.fading.iter().map(|f| (f.key.to_string(), f)).collect(),
        }
    }

    /// Remove fading parts in the next plan (their fade is over).
    pub(super) fn finish_fades(&mut self) {
        for f in self.fading.drain(..) {
            self.pending_removes.push(f.inst.slot);
            self.free_slots.push(f.inst.slot);
            self.retiring.push((self.generation + 1, f.inst.services));
        }
        self.fading_wires.clear();
    }

    pub(super) fn finish_fades_now(&mut self) {
        self.finish_fades();
    }
}
