//! The editor's undo/redo history.
//!
//! Every [`Edit`] is broken into primitive operations ([`Op`]) that each
//! return their exact inverse when executed. An undo step stores the
//! inverses, so undoing restores the patch exactly (`==`), wires back at
//! their old places in the list included, and undoing a step yields the ops
//! that redo it. Nothing is limited in depth: a patch's edits are small.
//!
//! The patch must only be changed through the history between an edit and
//! its undo; if it was changed behind its back, an undo that no longer fits
//! is refused and leaves the patch as it was.

use crate::doc::{Node, Patch, Value, Wire};

/// One user-level change to a patch.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    AddNode {
        id: String,
        node: Node,
    },
    /// Also removes the node's wires; undo puts them back where they were.
    RemoveNode {
        id: String,
    },
    MoveNode {
        id: String,
        pos: (f32, f32),
    },
    Connect(Wire),
    Disconnect(Wire),
    SetParam {
        id: String,
        name: String,
        /// `None` goes back to the default by removing the key.
        value: Option<Value>,
    },
    /// Also rewrites the wires that use the old id.
    RenameNode {
        from: String,
        to: String,
    },
    SetName(String),
    SetDescription(String),
    /// Nodes and wires from the clipboard; the caller has made the ids unique.
    Paste {
        nodes: Vec<(String, Node)>,
        wires: Vec<Wire>,
    },
}

impl Edit {
    /// What the edit does, for "Undo move node amp" in a menu.
    pub fn label(&self) -> String {
        match self {
            Edit::AddNode { id, .. } => format!("add node {id}"),
            Edit::RemoveNode { id } => format!("remove node {id}"),
            Edit::MoveNode { id, .. } => format!("move node {id}"),
            Edit::Connect(w) => format!("connect {} to {}", w.from, w.to),
            Edit::Disconnect(w) => format!("disconnect {} from {}", w.from, w.to),
            Edit::SetParam {
                id,
                name,
                value: Some(_),
            } => format!("set {id} {name}"),
            Edit::SetParam {
                id,
                name,
                value: None,
            } => format!("reset {id} {name}"),
            Edit::RenameNode { from, to } => format!("rename node {from} to {to}"),
            Edit::SetName(_) => "rename patch".to_string(),
            Edit::SetDescription(_) => "edit description".to_string(),
            Edit::Paste { nodes, .. } if nodes.len() == 1 => "paste 1 node".to_string(),
            Edit::Paste { nodes, .. } => format!("paste {} nodes", nodes.len()),
        }
    }
}

/// A primitive change whose execution returns its exact inverse.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    InsertNode {
        id: String,
        node: Node,
    },
    RemoveNode {
        id: String,
    },
    InsertWire {
        index: usize,
        wire: Wire,
    },
    RemoveWire {
        index: usize,
    },
    SetWire {
        index: usize,
        wire: Wire,
    },
    RenameKey {
        from: String,
        to: String,
    },
    SetPos {
        id: String,
        pos: (f32, f32),
    },
    SetParam {
        id: String,
        name: String,
        value: Option<Value>,
    },
    SetName(String),
    SetDescription(String),
}

impl Op {
    /// The value a set-like op writes, or `None` for structural ops. Set ops
    /// on different targets commute, which lets a drag keep one inverse.
    fn target(&self) -> Option<(u8, &str, &str)> {
        match self {
            Op::SetPos { id, .. } => Some((0, id, "")),
            Op::SetParam { id, name, .. } => Some((1, id, name)),
            Op::SetName(_) => Some((2, "", "")),
            Op::SetDescription(_) => Some((3, "", "")),
            _ => None,
        }
    }
}

fn no_node(id: &str) -> String {
    format!("there is no node \"{id}\"")
}

/// Execute `op`, returning its inverse; the patch is unchanged on error.
fn exec(patch: &mut Patch, op: Op) -> Result<Op, String> {
    Ok(match op {
        Op::InsertNode { id, node } => {
            if patch.nodes.contains_key(&id) {
                return Err(format!("a node \"{id}\" already exists"));
            }
            patch.nodes.insert(id.clone(), node);
            Op::RemoveNode { id }
        }
        Op::RemoveNode { id } => {
            let node = patch.nodes.remove(&id).ok_or_else(|| no_node(&id))?;
            Op::InsertNode { id, node }
        }
        Op::InsertWire { index, wire } => {
            if index > patch.wires.len() {
                return Err("the wire list has changed".to_string());
            }
            patch.wires.insert(index, wire);
            Op::RemoveWire { index }
        }
        Op::RemoveWire { index } => {
            if index >= patch.wires.len() {
                return Err("the wire list has changed".to_string());
            }
            let wire = patch.wires.remove(index);
            Op::InsertWire { index, wire }
        }
        Op::SetWire { index, wire } => {
            let slot = patch
                .wires
                .get_mut(index)
                .ok_or_else(|| "the wire list has changed".to_string())?;
            let old = std::mem::replace(slot, wire);
            Op::SetWire { index, wire: old }
        }
        Op::RenameKey { from, to } => {
            if patch.nodes.contains_key(&to) {
                return Err(format!("a node \"{to}\" already exists"));
            }
            let node = patch.nodes.remove(&from).ok_or_else(|| no_node(&from))?;
            patch.nodes.insert(to.clone(), node);
            Op::RenameKey { from: to, to: from }
        }
        Op::SetPos { id, pos } => {
            let node = patch.nodes.get_mut(&id).ok_or_else(|| no_node(&id))?;
            let old = std::mem::replace(&mut node.pos, pos);
            Op::SetPos { id, pos: old }
        }
        Op::SetParam { id, name, value } => {
            let node = patch.nodes.get_mut(&id).ok_or_else(|| no_node(&id))?;
            let old = match value {
                Some(v) => node.params.insert(name.clone(), v),
                None => node.params.remove(&name),
            };
            Op::SetParam {
                id,
                name,
                value: old,
            }
        }
        Op::SetName(s) => Op::SetName(std::mem::replace(&mut patch.name, s)),
        Op::SetDescription(s) => Op::SetDescription(std::mem::replace(&mut patch.description, s)),
    })
}

/// Execute `ops` in order. On success returns the ops that revert them (in
/// the order to execute); on error reverts what ran and returns the error.
fn run(patch: &mut Patch, ops: Vec<Op>) -> Result<Vec<Op>, String> {
    let mut inverses = Vec::with_capacity(ops.len());
    for op in ops {
        match exec(patch, op) {
            Ok(inv) => inverses.push(inv),
            Err(e) => {
                revert(patch, inverses);
                return Err(e);
            }
        }
    }
    inverses.reverse();
    Ok(inverses)
}

/// Undo already-executed ops given their inverses in execution order.
fn revert(patch: &mut Patch, inverses: Vec<Op>) {
    for inv in inverses.into_iter().rev() {
        // Inverses of ops that just ran always fit the patch.
        let _ = exec(patch, inv);
    }
}

/// The primitive ops for `edit`, checked against `patch` without changing it.
/// An edit that changes nothing gives no ops.
fn plan(patch: &Patch, edit: Edit) -> Result<Vec<Op>, String> {
    let need = |id: &str| {
        if patch.nodes.contains_key(id) {
            Ok(())
        } else {
            Err(no_node(id))
        }
    };
    let free = |id: &str| {
        if !Patch::is_valid_id(id) {
            Err(format!(
                "\"{id}\" is not a valid node id; use letters, digits, \"_\" and \"-\""
            ))
        } else if patch.nodes.contains_key(id) {
            Err(format!("a node \"{id}\" already exists"))
        } else {
            Ok(())
        }
    };
    Ok(match edit {
        Edit::AddNode { id, node } => {
            free(&id)?;
            vec![Op::InsertNode { id, node }]
        }
        Edit::RemoveNode { id } => {
            need(&id)?;
            // Highest index first, so the indices stay right while removing
            // and the inverses put each wire back at its old place.
            let mut ops: Vec<Op> = (0..patch.wires.len())
                .rev()
                .filter(|&i| {
                    let w = &patch.wires[i];
                    w.from.node == id || w.to.node == id
                })
                .map(|index| Op::RemoveWire { index })
                .collect();
            ops.push(Op::RemoveNode { id });
            ops
        }
        Edit::MoveNode { id, pos } => {
            need(&id)?;
            if patch.nodes[&id].pos == pos {
                vec![]
            } else {
                vec![Op::SetPos { id, pos }]
            }
        }
        Edit::Connect(wire) => {
            need(&wire.from.node)?;
            need(&wire.to.node)?;
            if patch.wires.contains(&wire) {
                return Err(format!("{} is already wired to {}", wire.from, wire.to));
            }
            vec![Op::InsertWire {
                index: patch.wires.len(),
                wire,
            }]
        }
        Edit::Disconnect(wire) => {
            let index = patch
                .wires
                .iter()
                .position(|w| *w == wire)
                .ok_or_else(|| format!("there is no wire from {} to {}", wire.from, wire.to))?;
            vec![Op::RemoveWire { index }]
        }
        Edit::SetParam { id, name, value } => {
            need(&id)?;
            if name.is_empty() {
                return Err("a param needs a name".to_string());
            }
            if patch.nodes[&id].params.get(&name) == value.as_ref() {
                vec![]
            } else {
                vec![Op::SetParam { id, name, value }]
            }
        }
        Edit::RenameNode { from, to } => {
            need(&from)?;
            if from == to {
                return Ok(vec![]);
            }
            free(&to)?;
            let mut ops = vec![Op::RenameKey {
                from: from.clone(),
                to: to.clone(),
            }];
            for (index, w) in patch.wires.iter().enumerate() {
                if w.from.node == from || w.to.node == from {
                    let mut wire = w.clone();
                    for end in [&mut wire.from, &mut wire.to] {
                        if end.node == from {
                            end.node = to.clone();
                        }
                    }
                    ops.push(Op::SetWire { index, wire });
                }
            }
            ops
        }
        Edit::SetName(s) => {
            if patch.name == s {
                vec![]
            } else {
                vec![Op::SetName(s)]
            }
        }
        Edit::SetDescription(s) => {
            if patch.description == s {
                vec![]
            } else {
                vec![Op::SetDescription(s)]
            }
        }
        Edit::Paste { nodes, wires } => {
            let mut pasted = std::collections::BTreeSet::new();
            for (id, _) in &nodes {
                free(id)?;
                if !pasted.insert(id.as_str()) {
                    return Err(format!("the pasted nodes use \"{id}\" twice"));
                }
            }
            for (k, w) in wires.iter().enumerate() {
                for end in [&w.from, &w.to] {
                    if !pasted.contains(end.node.as_str()) {
                        need(&end.node)?;
                    }
                }
                if patch.wires.contains(w) || wires[..k].contains(w) {
                    return Err(format!("{} is already wired to {}", w.from, w.to));
                }
            }
            let base = patch.wires.len();
            let mut ops: Vec<Op> = nodes
                .into_iter()
                .map(|(id, node)| Op::InsertNode { id, node })
                .collect();
            ops.extend(
                wires
                    .into_iter()
                    .enumerate()
                    .map(|(k, wire)| Op::InsertWire {
                        index: base + k,
                        wire,
                    }),
            );
            ops
        }
    })
}

/// Plan and run one edit; returns the ops that undo it.
fn perform(patch: &mut Patch, edit: Edit) -> Result<Vec<Op>, String> {
    let ops = plan(patch, edit)?;
    run(patch, ops)
}

#[derive(Clone, Debug)]
struct Step {
    label: String,
    /// Ops to execute, in order, to undo (on the undo stack) or redo (on the
    /// redo stack) this step.
    ops: Vec<Op>,
    /// The gesture this step belongs to, for merging continuous drags.
    gesture: Option<u64>,
    /// An id for the patch state right after this step, for the dirty marker.
    state: u64,
}

/// Undo/redo history of a patch, with merged gestures and a dirty marker.
#[derive(Clone, Debug, Default)]
pub struct History {
    undo: Vec<Step>,
    redo: Vec<Step>,
    revision: u64,
    /// The state id when the undo stack is empty.
    base_state: u64,
    saved_state: u64,
    /// The gesture that may still merge into the top undo step.
    open_gesture: Option<u64>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    /// Apply `edit` as one undo step. On error the patch and the history are
    /// unchanged. An edit that changes nothing records no step.
    pub fn apply(&mut self, patch: &mut Patch, edit: Edit) -> Result<(), String> {
        self.open_gesture = None;
        let label = edit.label();
        let ops = perform(patch, edit)?;
        self.push(label, ops, None);
        Ok(())
    }

    /// Apply `edit`, merging it into the previous step when that step came
    /// from `apply_merged` with the same `gesture` and nothing happened in
    /// between: a whole knob or node drag then undoes in one step, back to
    /// the state before its first edit.
    pub fn apply_merged(
        &mut self,
        patch: &mut Patch,
        edit: Edit,
        gesture: u64,
    ) -> Result<(), String> {
        let label = edit.label();
        let ops = perform(patch, edit)?;
        let merging = self.open_gesture == Some(gesture)
            && self.undo.last().is_some_and(|s| s.gesture == Some(gesture));
        if !merging {
            // Only a recorded step opens the gesture: a first event that
            // changed nothing leaves the next one to start the step.
            self.open_gesture = None;
            if !ops.is_empty() {
                self.push(label, ops, Some(gesture));
                self.open_gesture = Some(gesture);
            }
            return Ok(());
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.revision += 1;
        let state = self.revision;
        let top = self.undo.last_mut().expect("checked above");
        // The step already restores every target these ops restore when it is
        // made only of set-like ops: then the new inverses add nothing.
        let redundant = top.ops.iter().all(|o| o.target().is_some())
            && ops.iter().all(|o| {
                o.target()
                    .is_some_and(|t| top.ops.iter().any(|p| p.target() == Some(t)))
            });
        if !redundant {
            let mut merged = ops;
            merged.append(&mut top.ops);
            top.ops = merged;
        }
        top.state = state;
        self.redo.clear();
        Ok(())
    }

    /// Apply several edits as one undo step (e.g. deleting a selection).
    /// Later edits see the effect of earlier ones. If any edit fails, all are
    /// reverted and the error is returned.
    pub fn apply_group(
        &mut self,
        patch: &mut Patch,
        edits: Vec<Edit>,
        label: impl Into<String>,
    ) -> Result<(), String> {
        self.open_gesture = None;
        let mut undo_ops: Vec<Op> = Vec::new();
        for edit in edits {
            match perform(patch, edit) {
                Ok(mut ops) => {
                    // Later edits are undone first.
                    ops.append(&mut undo_ops);
                    undo_ops = ops;
                }
                Err(e) => {
                    // The undo ops revert everything applied so far; they were
                    // produced just now and fit the patch.
                    let _ = run(patch, undo_ops);
                    return Err(e);
                }
            }
        }
        self.push(label.into(), undo_ops, None);
        Ok(())
    }

    fn push(&mut self, label: String, ops: Vec<Op>, gesture: Option<u64>) {
        if ops.is_empty() {
            return;
        }
        self.revision += 1;
        self.undo.push(Step {
            label,
            ops,
            gesture,
            state: self.revision,
        });
        self.redo.clear();
    }

    /// Undo the last step; false if there is none (or it no longer fits).
    pub fn undo(&mut self, patch: &mut Patch) -> bool {
        self.open_gesture = None;
        let Some(mut step) = self.undo.pop() else {
            return false;
        };
        match run(patch, step.ops.clone()) {
            Ok(redo_ops) => {
                step.ops = redo_ops;
                self.redo.push(step);
                self.revision += 1;
                true
            }
            Err(_) => {
                // `run` left the patch as it was; keep the step where it was.
                self.undo.push(step);
                false
            }
        }
    }

    /// Redo the last undone step; false if there is none (or it no longer fits).
    pub fn redo(&mut self, patch: &mut Patch) -> bool {
        self.open_gesture = None;
        let Some(mut step) = self.redo.pop() else {
            return false;
        };
        match run(patch, step.ops.clone()) {
            Ok(undo_ops) => {
                step.ops = undo_ops;
                self.undo.push(step);
                self.revision += 1;
                true
            }
            Err(_) => {
                self.redo.push(step);
                false
            }
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// What undo would undo, e.g. "move node amp".
    pub fn undo_label(&self) -> Option<String> {
        self.undo.last().map(|s| s.label.clone())
    }

    /// What redo would redo.
    pub fn redo_label(&self) -> Option<String> {
        self.redo.last().map(|s| s.label.clone())
    }

    /// Forget every step (e.g. after loading another patch). Whether the
    /// patch counts as dirty is kept.
    pub fn clear(&mut self) {
        self.base_state = self.current_state();
        self.undo.clear();
        self.redo.clear();
        self.open_gesture = None;
    }

    /// A counter that changes on every apply, undo and redo, for redrawing.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Remember the current state as the saved one. A gesture in progress is
    /// closed, so undo can return exactly to what was saved.
    pub fn mark_saved(&mut self) {
        self.saved_state = self.current_state();
        self.open_gesture = None;
    }

    /// Whether the patch differs from the saved state (undoing back to the
    /// saved state makes it clean again).
    pub fn is_dirty(&self) -> bool {
        self.current_state() != self.saved_state
    }

    fn current_state(&self) -> u64 {
        self.undo.last().map_or(self.base_state, |s| s.state)
    }
}
