//! Everything the user does, as an [`Action`], and how the editor applies
//! it: edits go through the document's history, so every one undoes.

use super::dialogs::Dialog;
use super::doc::{self, Doc};
use super::{Editor, canvas, disk, files, palette::Palette};
use bevy_egui::egui;
use ohmpatch_engine::NodeKind;
use ohmpatch_engine::backend::StreamOptions;
use ohmpatch_engine::node::DOMAIN_CHOICES;
use ohmpatch_patch::{Edit, Endpoint, ParamKind, ParamSpec, Patch, Value, Wire};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Something the user asked for, from the mouse, the keyboard, a menu or a
/// script.
pub enum Action {
    Edit(Edit),
    /// Part of a continuous gesture (a slider drag): merges into one undo step.
    Merged(Edit, u64),
    AddNode(NewNode),
    /// Add with a given id (scripts).
    AddNamed {
        id: String,
        node: NewNode,
    },
    Connect(Wire),
    Disconnect(Vec<Wire>),
    Delete(Vec<String>),
    Duplicate(Vec<String>),
    Copy(Vec<String>),
    /// Paste this text, or the editor's own clipboard.
    Paste(Option<String>),
    Rename {
        from: String,
        to: String,
    },
    OpenPalette {
        pos: (f32, f32),
        split: Option<Wire>,
    },
    Undo,
    Redo,
    New,
    Open(PathBuf),
    /// Pack the patch and its files into this bundle (the document keeps
    /// its own file).
    ExportBundle(PathBuf),
    Save,
    SaveAs(PathBuf),
    /// Save, then do what waited for the unsaved changes to be saved.
    SaveAndThen(PathBuf, Box<Action>),
    /// Drop the unsaved changes and do what waited for them.
    Discard(Box<Action>),
    /// Delete the previous session's recovery file unread.
    DiscardRecovery,
    Fit,
    Quit,
    /// New audio settings: the stream's, and the threads that run a block
    /// (0: one per core).
    Audio(StreamOptions, usize),
    Recover(PathBuf, Option<PathBuf>),
    Reload,
    /// Show this node in the inspector.
    Focus(String),
    /// Open the Measure window with this output port as the path's start…
    MeasureFrom(Endpoint),
    /// …or as its end.
    MeasureTo(Endpoint),
}

/// A node to add, optionally wired to a dragged pin or into a wire.
pub struct NewNode {
    /// A kind's name, or for a member of a family (a plugin) the family's
    /// name and the member's key after a space: `lv2 http://…`.
    pub kind: String,
    pub pos: (f32, f32),
    pub from: Option<Endpoint>,
    pub to: Option<Endpoint>,
    pub split: Option<Wire>,
}

impl NewNode {
    /// The kind's name, without a member's key.
    pub fn kind_name(&self) -> &str {
        self.kind.split_once(' ').map_or(&self.kind, |(k, _)| k)
    }
}

impl Editor {
    pub(super) fn apply(&mut self, a: Action, ctx: &egui::Context) {
        match a {
            Action::Edit(e) => {
                let r = self.doc.apply(e);
                self.result(r);
            }
            Action::Merged(e, g) => {
                let r = self.doc.apply_merged(e, g);
                self.result(r);
            }
            Action::AddNode(n) => {
                let id = self.doc.patch.unique_id(n.kind_name());
                self.add_node(id, n);
            }
            Action::AddNamed { id, node } => self.add_node(id, node),
            Action::Connect(w) => {
                // A utility or probe with nothing else wired in takes the
                // domain of the wire that arrives (one undo step with it).
                let mut edits = Vec::new();
                if let (Some(d_from), Some(d_to), Some(node)) = (
                    self.port_domain(&w.from, true),
                    self.port_domain(&w.to, false),
                    self.doc.patch.nodes.get(&w.to.node),
                ) && d_from != d_to
                    && !self.doc.patch.wires.iter().any(|x| x.to.node == w.to.node)
                    && let Some(kind) = self.registry.of(node)
                    && let Some(p) = domain_param(kind)
                    && let ParamKind::Choice { choices, .. } = &p.kind
                    && choices.iter().any(|c| c == d_from.name())
                {
                    edits.push(Edit::SetParam {
                        id: w.to.node.clone(),
                        name: p.name.to_string(),
                        value: Some(Value::Str(d_from.name().to_string())),
                    });
                }
                let label = format!("connect {} to {}", w.from, w.to);
                edits.push(Edit::Connect(w));
                let r = self.doc.apply_group(edits, &label);
                self.result(r);
            }
            Action::Disconnect(ws) => {
                let label = if ws.len() == 1 {
                    format!("disconnect {} from {}", ws[0].from, ws[0].to)
                } else {
                    format!("disconnect {} wires", ws.len())
                };
                let r = self
                    .doc
                    .apply_group(ws.into_iter().map(Edit::Disconnect).collect(), &label);
                self.result(r);
            }
            Action::Delete(ids) => {
                let ids: Vec<String> = ids
                    .into_iter()
                    .filter(|i| self.doc.patch.nodes.contains_key(i))
                    .collect();
                if ids.is_empty() {
                    return;
                }
                let label = if ids.len() == 1 {
                    format!("remove node {}", ids[0])
                } else {
                    format!("remove {} nodes", ids.len())
                };
                if self.view.focused.as_ref().is_some_and(|f| ids.contains(f)) {
                    self.view.focused = None;
                }
                let edits = ids.into_iter().map(|id| Edit::RemoveNode { id }).collect();
                let r = self.doc.apply_group(edits, &label);
                self.result(r);
            }
            Action::Duplicate(ids) => {
                let set: BTreeSet<String> = ids.into_iter().collect();
                if set.is_empty() {
                    return;
                }
                let text = doc::copy_text(&self.doc.patch, &set);
                self.paste(&text, None);
            }
            Action::Copy(ids) => {
                let set: BTreeSet<String> = ids.into_iter().collect();
                if set.is_empty() {
                    return;
                }
                let text = doc::copy_text(&self.doc.patch, &set);
                ctx.copy_text(text.clone());
                self.view.clipboard = Some(text);
                self.info(format!("copied {} node(s) as text", set.len()));
            }
            Action::Paste(text) => {
                let Some(text) = text.or_else(|| self.view.clipboard.clone()) else {
                    self.error("nothing to paste");
                    return;
                };
                let at = ctx
                    .pointer_latest_pos()
                    .filter(|p| self.canvas.rect.contains(*p))
                    .map(|p| self.canvas.to_graph(p))
                    .map(|p| (p.x, p.y));
                self.paste(&text, at);
            }
            Action::Rename { from, to } => {
                let r = self.doc.apply(Edit::RenameNode {
                    from,
                    to: to.clone(),
                });
                if r.is_ok() {
                    self.view.focused = Some(to);
                }
                self.result(r);
            }
            Action::OpenPalette { pos, split } => {
                self.view.query.clear();
                let screen = ctx
                    .pointer_latest_pos()
                    .unwrap_or(self.canvas.rect.center());
                self.view.palette = Some(Palette { pos, split, screen });
            }
            Action::Undo => {
                if !self.doc.undo() {
                    self.info("nothing to undo");
                }
            }
            Action::Redo => {
                if !self.doc.redo() {
                    self.info("nothing to redo");
                }
            }
            Action::New => {
                if self.guard(Action::New).is_some() {
                    self.force_new();
                }
            }
            Action::Open(p) => {
                // A file that does not load is refused before anything is asked.
                if let Err(e) = Doc::open(&p, &self.registry) {
                    self.error(format!("could not open the patch:\n{e}"));
                } else if let Some(Action::Open(p)) = self.guard(Action::Open(p)) {
                    self.force_open(&p);
                }
            }
            Action::ExportBundle(p) => self.export_bundle(&p),
            Action::Save => match self.doc.path.clone() {
                Some(p) => self.save_as(&p),
                None => self.view.dialog = Some(Dialog::save_as(&self.doc, None)),
            },
            Action::SaveAs(p) => self.save_as(&p),
            Action::SaveAndThen(p, then) => {
                self.save_as(&p);
                if !self.is_dirty() {
                    self.run_forced(*then);
                }
            }
            Action::Discard(then) => {
                self.disk.recovered = false;
                self.doc.history.mark_saved();
                self.run_forced(*then);
            }
            Action::DiscardRecovery => files::clear_recovery(),
            Action::Fit => self.canvas.fit_in = 1,
            Action::Quit => {
                if self.guard(Action::Quit).is_some() {
                    self.run.quitting = true;
                }
            }
            Action::Audio(opts, threads) => {
                let dir = self.patch_dir();
                self.live.threads = threads;
                self.live.reconfigure(opts, &self.doc.patch, dir);
                let line = self.live.device_line();
                self.info(format!("audio: {line}"));
            }
            Action::Recover(file, origin) => match ohmpatch_patch::load_file(&file) {
                Ok(p) => {
                    let origin = origin.filter(|o| o.exists() || o.parent().is_some());
                    self.set_doc(Doc::new(p, origin));
                    self.disk.recovered = true;
                    self.info("recovered the unsaved changes of the last session");
                }
                Err(e) => self.error(format!("could not recover: {e}")),
            },
            Action::Reload => {
                if let Some(p) = self.doc.path.clone() {
                    self.force_open(&p);
                }
            }
            Action::Focus(id) => self.view.focused = Some(id),
            Action::MeasureFrom(e) => {
                self.bench.set_from(e);
                self.bench
                    .run_if_new(&self.doc.patch, self.doc.path.as_ref());
            }
            Action::MeasureTo(e) => {
                self.bench.set_to(e);
                self.bench
                    .run_if_new(&self.doc.patch, self.doc.path.as_ref());
            }
        }
    }

    pub(super) fn force_new(&mut self) {
        self.set_doc(Doc::new(Patch::default(), None));
        self.info("new patch");
    }

    pub(super) fn force_open(&mut self, p: &Path) {
        match Doc::open(p, &self.registry) {
            Ok(d) => {
                self.set_doc(d);
                files::add_recent(p);
                self.info(format!("opened {}", p.display()));
            }
            Err(e) => self.error(format!("could not open the patch:\n{e}")),
        }
    }

    pub(super) fn export_bundle(&mut self, p: &Path) {
        let mut p = p.to_path_buf();
        if !ohmpatch_patch::bundle::is_bundle(&p) {
            p = PathBuf::from(format!("{}.ohmz", p.display()));
        }
        let dir = self.patch_dir().unwrap_or_else(|| PathBuf::from("."));
        match ohmpatch_patch::bundle::pack(
            &self.doc.patch,
            &*self.registry,
            &dir,
            crate::cli::bundle::plugins_of(&self.doc.patch),
            env!("CARGO_PKG_VERSION"),
            &p,
        ) {
            Ok(r) => {
                let files = r.manifest.map_or(0, |m| m.files.len());
                let mut line = format!("exported {} ({files} files)", p.display());
                for (node, param, value) in &r.missing {
                    line.push_str(&format!(
                        "; node \"{node}\": {param} \"{value}\" names no file, not packed"
                    ));
                }
                self.info(line);
            }
            Err(e) => self.error(format!("could not export the bundle: {e}")),
        }
    }

    pub(super) fn save_as(&mut self, p: &Path) {
        if ohmpatch_patch::bundle::is_bundle(p) {
            // Saving as .ohmz writes a bundle; the document keeps its file.
            self.export_bundle(p);
            return;
        }
        let mut p = p.to_path_buf();
        if !p.to_string_lossy().ends_with(".ohm.ron") {
            let name = p.to_string_lossy().trim_end_matches(".ron").to_string();
            p = PathBuf::from(format!("{name}.ohm.ron"));
        }
        let old_dir = self.patch_dir();
        match self.doc.save_to(&p) {
            Ok(()) => {
                self.disk.recovered = false;
                files::add_recent(&p);
                files::clear_recovery();
                self.disk.stamp = disk::mtime(&p);
                if self.patch_dir() != old_dir {
                    let dir = self.patch_dir();
                    let opts = self.live.opts().clone();
                    self.live.reconfigure(opts, &self.doc.patch, dir);
                }
                self.info(format!("saved {}", p.display()));
            }
            Err(e) => self.error(e),
        }
    }

    pub(super) fn paste(&mut self, text: &str, at: Option<(f32, f32)>) {
        match doc::paste_edit(&self.doc.patch, text, at) {
            Ok((edit, ids)) => {
                let r = self.doc.apply(edit);
                if r.is_ok() && ids.len() == 1 {
                    self.view.focused = ids.first().cloned();
                }
                self.result(r);
            }
            Err(e) => self.error(e),
        }
    }

    pub(super) fn add_node(&mut self, id: String, n: NewNode) {
        let (name, member) = n.kind.split_once(' ').unwrap_or((&n.kind, ""));
        let Some(kind) = self.registry.resolve(name, Some(member)) else {
            self.error(format!("there is no node kind \"{name}\""));
            return;
        };
        let spec = kind.spec();
        let mut node = ohmpatch_patch::Node::new(name, n.pos);
        // A family's member (a plugin) is named by its param.
        if let Some(p) = self.registry.get(name).and_then(|k| k.family_param()) {
            node.params
                .insert(p.to_string(), Value::Str(member.to_string()));
        }
        // A kind that follows the wire takes the domain of the one it is
        // dropped on.
        let wire_domain = n
            .from
            .as_ref()
            .and_then(|e| self.port_domain(e, true))
            .or_else(|| n.to.as_ref().and_then(|e| self.port_domain(e, false)))
            .or_else(|| {
                n.split
                    .as_ref()
                    .and_then(|w| self.port_domain(&w.from, true))
            });
        if let (Some(d), Some(p)) = (wire_domain, domain_param(kind))
            && let ParamKind::Choice { choices, default } = &p.kind
            && choices.iter().any(|c| c == d.name())
            && *default != d.name()
        {
            node.params
                .insert(p.name.to_string(), Value::Str(d.name().to_string()));
        }
        let first_in = spec.inputs().next().map(|p| p.name.to_string());
        let first_out = spec.outputs().next().map(|p| p.name.to_string());
        let mut edits = vec![Edit::AddNode {
            id: id.clone(),
            node,
        }];
        if let (Some(from), Some(i)) = (&n.from, &first_in) {
            edits.push(Edit::Connect(Wire::new(
                from.clone(),
                Endpoint::new(id.clone(), i.clone()),
            )));
        }
        if let (Some(to), Some(o)) = (&n.to, &first_out) {
            edits.push(Edit::Connect(Wire::new(
                Endpoint::new(id.clone(), o.clone()),
                to.clone(),
            )));
        }
        if let Some(w) = &n.split {
            match (&first_in, &first_out) {
                (Some(i), Some(o)) => {
                    edits.push(Edit::Disconnect(w.clone()));
                    edits.push(Edit::Connect(Wire::new(
                        w.from.clone(),
                        Endpoint::new(id.clone(), i.clone()),
                    )));
                    edits.push(Edit::Connect(Wire::new(
                        Endpoint::new(id.clone(), o.clone()),
                        w.to.clone(),
                    )));
                }
                _ => {
                    self.error(format!(
                        "a {} has no input and output to put into a wire",
                        n.kind
                    ));
                    return;
                }
            }
        }
        let label = format!("add node {id}");
        let r = self.doc.apply_group(edits, &label);
        if r.is_ok() {
            self.view.focused = Some(id);
        }
        self.result(r);
    }

    pub(super) fn port_domain(&self, e: &Endpoint, out: bool) -> Option<ohmpatch_patch::Domain> {
        let node = self.doc.patch.nodes.get(&e.node)?;
        let v = canvas::node_view(&self.registry, &e.node, node);
        let ports = if out { &v.outs } else { &v.ins };
        ports.iter().find(|p| p.name == e.port).map(|p| p.domain)
    }
}

impl Editor {
    /// Run an action whose unsaved-changes question was answered.
    pub(super) fn run_forced(&mut self, a: Action) {
        match a {
            Action::New => self.force_new(),
            Action::Open(p) => self.force_open(&p),
            Action::Quit => self.run.quitting = true,
            Action::Reload => {
                if let Some(p) = self.doc.path.clone() {
                    self.force_open(&p);
                }
            }
            _ => {}
        }
    }
}

/// The param through which a kind that follows the wire takes its domain:
/// the choice among the domains, where the kind has one (probes and the
/// recorder follow the wire without one).
fn domain_param(kind: &dyn NodeKind) -> Option<&ParamSpec> {
    if !kind.follows_wire() {
        return None;
    }
    kind.spec().params.iter().find(
        |p| matches!(&p.kind, ParamKind::Choice { choices, .. } if choices.iter().map(|c| c.as_ref()).eq(DOMAIN_CHOICES.iter().copied())),
    )
}
