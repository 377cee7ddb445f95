//! The file on disk: autosave to the recovery file, and reloading the open
//! file when another program changes it (as one undoable step).

use super::doc::{self, Doc};
use super::{Editor, files};
use ohmpatch_patch::{Edit, Patch};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

pub(super) fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Autosave to the recovery file, and notice the file changing on disk.
pub(super) fn housekeeping(ed: &mut Editor) {
    if ed.run.shot.is_some() {
        return;
    }
    if ed.disk.last_autosave.elapsed() >= Duration::from_secs(3) {
        ed.disk.last_autosave = Instant::now();
        if ed.is_dirty() {
            if ed.disk.autosaved_rev != ed.doc.rev {
                ed.disk.autosaved_rev = ed.doc.rev;
                let text = ohmpatch_patch::to_ron_string(&ed.doc.patch);
                if let Err(e) = files::write_recovery(&text, ed.doc.path.as_deref()) {
                    ed.error(format!("could not write the recovery file: {e}"));
                }
            }
        } else if ed.disk.autosaved_rev != 0 {
            ed.disk.autosaved_rev = 0;
            files::clear_recovery();
        }
    }
    // Files opened from another folder than the watched one are polled.
    if ed.disk.last_check.elapsed() >= Duration::from_millis(1000) {
        ed.disk.last_check = Instant::now();
        if let Some(p) = ed.doc.path.clone()
            && std::fs::canonicalize(&p).ok() != ed.disk.watched
            && mtime(&p).is_some()
            && mtime(&p) != ed.disk.stamp
        {
            ed.disk_changed(None);
        }
    }
}

impl Editor {
    /// The open file changed on disk (a text editor saved it): reload it as
    /// one undoable step, or say so when that would drop unsaved changes.
    pub(crate) fn disk_changed(&mut self, text: Option<String>) {
        let Some(p) = self.doc.path.clone() else {
            return;
        };
        let now = mtime(&p);
        if now.is_none() || now == self.disk.stamp {
            return;
        }
        self.disk.stamp = now;
        if self.is_dirty() {
            self.error(format!(
                "{} changed on disk; File ▸ Reload from disk loads it (your unsaved changes would go)",
                p.display()
            ));
            return;
        }
        let loaded = match text {
            Some(t) => ohmpatch_patch::load_str(&t, &p.display().to_string())
                .map_err(|e| e.to_string())
                .and_then(|patch| doc::check(&patch, &p, &self.registry).map(|()| patch)),
            None => doc::load_checked(&p, &self.registry),
        };
        match loaded.map(|patch| Doc::new(patch, Some(p.clone()))) {
            Ok(d) => {
                if d.patch != self.doc.patch {
                    let edits = diff_edits(&self.doc.patch, &d.patch);
                    match self.doc.apply_group(edits, "reload from disk") {
                        Ok(()) => {
                            self.doc.history.mark_saved();
                            self.info(format!("reloaded {} (changed on disk)", p.display()));
                        }
                        Err(_) => self.set_doc(d),
                    }
                }
            }
            Err(e) => self.error(format!(
                "{} changed on disk but does not load:\n{e}",
                p.display()
            )),
        }
    }
}

/// Edits that turn `a` into `b`.
fn diff_edits(a: &Patch, b: &Patch) -> Vec<Edit> {
    let mut e = Vec::new();
    for w in &a.wires {
        if !b.wires.contains(w) {
            e.push(Edit::Disconnect(w.clone()));
        }
    }
    for (id, n) in &a.nodes {
        match b.nodes.get(id) {
            None => e.push(Edit::RemoveNode { id: id.clone() }),
            Some(m) if m.kind != n.kind => {
                e.push(Edit::RemoveNode { id: id.clone() });
                e.push(Edit::AddNode {
                    id: id.clone(),
                    node: m.clone(),
                });
            }
            Some(m) => {
                if m.pos != n.pos {
                    e.push(Edit::MoveNode {
                        id: id.clone(),
                        pos: m.pos,
                    });
                }
                let names: BTreeSet<&String> = n.params.keys().chain(m.params.keys()).collect();
                for k in names {
                    if n.params.get(k) != m.params.get(k) {
                        e.push(Edit::SetParam {
                            id: id.clone(),
                            name: k.clone(),
                            value: m.params.get(k).cloned(),
                        });
                    }
                }
            }
        }
    }
    for (id, m) in &b.nodes {
        if !a.nodes.contains_key(id) {
            e.push(Edit::AddNode {
                id: id.clone(),
                node: m.clone(),
            });
        }
    }
    for w in &b.wires {
        if !a.wires.contains(w) {
            e.push(Edit::Connect(w.clone()));
        }
    }
    if a.name != b.name {
        e.push(Edit::SetName(b.name.clone()));
    }
    if a.description != b.description {
        e.push(Edit::SetDescription(b.description.clone()));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use ohmpatch_patch::Value;

    const DEMO: &str = include_str!("../../../graphs/demo.ohm.ron");

    #[test]
    fn the_edits_between_two_patches_turn_one_into_the_other() {
        let a = ohmpatch_patch::load_str(DEMO, "demo").unwrap();
        let mut b = a.clone();
        let first = b.nodes.keys().next().unwrap().clone();
        b.nodes.get_mut(&first).unwrap().pos = (1.0, 1.0);
        b.nodes
            .get_mut(&first)
            .unwrap()
            .params
            .insert("x".into(), Value::Number(1.0));
        let gone = b.wires.remove(0);
        b.nodes.remove(&gone.to.node);
        b.wires
            .retain(|w| w.from.node != gone.to.node && w.to.node != gone.to.node);
        b.name = "other".into();
        let mut h = ohmpatch_patch::History::new();
        let mut p = a.clone();
        h.apply_group(&mut p, diff_edits(&a, &b), "reload").unwrap();
        assert_eq!(p.nodes, b.nodes);
        assert_eq!(p.name, b.name);
        let mut got = p.wires.clone();
        let mut want = b.wires.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert!(h.undo(&mut p));
        assert_eq!(p, a);
    }
}
