//! The graphical editor: a Bevy app with an egui user interface and an
//! egui-snarl node canvas, with the engine playing the patch live behind it.
//!
//! Everything the user does becomes an [`Action`]; actions change the patch
//! only through its [`ohmpatch_patch::History`], so every edit undoes. The
//! canvas is synced from the patch after each change, and the engine is
//! given the new patch (it keeps node state and crossfades).

pub mod asset;
pub mod canvas;
pub mod doc;
pub mod files;
pub mod inspector;
pub mod live;
pub mod palette;
pub mod script;
pub mod staging;
pub mod theme;

use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::{
    FileDragAndDrop, PresentMode, PrimaryWindow, WindowCloseRequested, WindowResolution,
};
use bevy::winit::{UpdateMode, WinitSettings};
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use canvas::Canvas;
use doc::Doc;
use egui::{Color32, RichText};
use live::Live;
use ohmpatch_engine::Registry;
use ohmpatch_engine::backend::{BackendKind, StreamOptions};
use ohmpatch_patch::{Direction, Edit, Endpoint, Patch, Value, Wire};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The patch shown when none is given and `graphs/demo.ohm.ron` is not at
/// hand: the same chain, built into the binary.
const DEMO: &str = include_str!("../../../graphs/demo.ohm.ron");

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
    Save,
    SaveAs(PathBuf),
    Fit,
    Quit,
    Audio(StreamOptions),
    Recover(PathBuf, Option<PathBuf>),
    Reload,
    /// Show this node in the inspector.
    Focus(String),
}

/// A node to add, optionally wired to a dragged pin or into a wire.
pub struct NewNode {
    pub kind: String,
    pub pos: (f32, f32),
    pub from: Option<Endpoint>,
    pub to: Option<Endpoint>,
    pub split: Option<Wire>,
}

pub struct Options {
    pub patch: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub script: Option<PathBuf>,
}

enum Dialog {
    Open {
        path: String,
    },
    SaveAs {
        path: String,
        then: Option<Box<Action>>,
    },
    Confirm {
        then: Box<Action>,
    },
    Recover {
        file: PathBuf,
        origin: Option<PathBuf>,
    },
    Audio(AudioForm),
    Shortcuts,
}

struct AudioForm {
    backend: BackendKind,
    device: String,
    sample_rate: String,
    buffer: String,
    devices: Vec<String>,
}

struct Message {
    text: String,
    error: bool,
    at: Instant,
}

struct Palette {
    pos: (f32, f32),
    split: Option<Wire>,
    screen: egui::Pos2,
}

struct Shot {
    out: PathBuf,
    requested: bool,
    started: Instant,
    result: Arc<Mutex<Option<Result<(), String>>>>,
}

struct FrameStats {
    want: usize,
    skip: usize,
    frames: Vec<f64>,
    ui: Vec<f64>,
    last: Option<Instant>,
}

/// The editor's state; a non-Send resource because the audio stream is.
pub struct Editor {
    registry: Arc<Registry>,
    doc: Doc,
    /// Set after recovering unsaved work: dirty until saved.
    recovered: bool,
    canvas: Canvas,
    live: Live,
    inspector: inspector::InspectorState,
    focused: Option<String>,
    query: String,
    palette: Option<Palette>,
    dialog: Option<Dialog>,
    messages: Vec<Message>,
    gesture: u64,
    clipboard: Option<String>,
    frame: u64,
    last_autosave: Instant,
    autosaved_rev: u64,
    disk_stamp: Option<std::time::SystemTime>,
    last_disk_check: Instant,
    /// The file the asset watcher follows (others are polled).
    watched: Option<PathBuf>,
    script: Vec<script::Step>,
    script_wait: u32,
    shot: Option<Shot>,
    stats: Option<FrameStats>,
    quitting: bool,
    title: String,
    /// A screenshot a script asked for, taken without quitting.
    pending_shot: Option<PathBuf>,
}

impl Editor {
    fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            error: false,
            at: Instant::now(),
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("{text}");
        self.messages.push(Message {
            text,
            error: true,
            at: Instant::now(),
        });
    }

    fn is_dirty(&self) -> bool {
        self.doc.is_dirty() || self.recovered
    }

    /// The window title, with the unsaved-changes marker.
    fn title(&self) -> String {
        let t = self.doc.title();
        if self.recovered && !self.doc.is_dirty() {
            format!("* {t}")
        } else {
            t
        }
    }

    fn patch_dir(&self) -> Option<PathBuf> {
        self.doc.path.as_deref().map(crate::cli::patch_dir)
    }

    /// Replace the document (open, new, recover).
    fn set_doc(&mut self, doc: Doc) {
        self.doc = doc;
        self.recovered = false;
        self.canvas = Canvas::default();
        self.focused = None;
        self.inspector = inspector::InspectorState::default();
        self.live.load_patch(&self.doc.patch, self.patch_dir());
        self.disk_stamp = self.doc.path.as_deref().and_then(mtime);
        self.canvas.sync(&self.doc.patch, &self.registry);
        self.canvas.synced_rev = self.doc.rev;
    }

    /// Ask before an action that would drop unsaved changes.
    fn guard(&mut self, a: Action) -> Option<Action> {
        if self.is_dirty() {
            self.dialog = Some(Dialog::Confirm { then: Box::new(a) });
            None
        } else {
            Some(a)
        }
    }

    fn result(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.error(e);
        }
    }

    fn apply(&mut self, a: Action, ctx: &egui::Context) {
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
                let id = self.doc.patch.unique_id(&n.kind);
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
                    && let Some(kind) = self.registry.get(&node.kind)
                    && let Some(p) = kind.spec().param("domain")
                    && let ohmpatch_patch::ParamKind::Choice { choices, .. } = &p.kind
                    && choices.contains(&d_from.name())
                {
                    edits.push(Edit::SetParam {
                        id: w.to.node.clone(),
                        name: "domain".into(),
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
                if self.focused.as_ref().is_some_and(|f| ids.contains(f)) {
                    self.focused = None;
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
                self.clipboard = Some(text);
                self.info(format!("copied {} node(s) as text", set.len()));
            }
            Action::Paste(text) => {
                let Some(text) = text.or_else(|| self.clipboard.clone()) else {
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
                    self.focused = Some(to);
                }
                self.result(r);
            }
            Action::OpenPalette { pos, split } => {
                self.query.clear();
                let screen = ctx
                    .pointer_latest_pos()
                    .unwrap_or(self.canvas.rect.center());
                self.palette = Some(Palette { pos, split, screen });
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
            Action::Save => match self.doc.path.clone() {
                Some(p) => self.save_as(&p),
                None => {
                    self.dialog = Some(Dialog::SaveAs {
                        path: "untitled.ohm.ron".into(),
                        then: None,
                    })
                }
            },
            Action::SaveAs(p) => self.save_as(&p),
            Action::Fit => self.canvas.fit_in = 1,
            Action::Quit => {
                if self.guard(Action::Quit).is_some() {
                    self.quitting = true;
                }
            }
            Action::Audio(opts) => {
                let dir = self.patch_dir();
                self.live.reconfigure(opts, &self.doc.patch, dir);
                let line = self.live.device_line();
                self.info(format!("audio: {line}"));
            }
            Action::Recover(file, origin) => match ohmpatch_patch::load_file(&file) {
                Ok(p) => {
                    let origin = origin.filter(|o| o.exists() || o.parent().is_some());
                    self.set_doc(Doc::new(p, origin));
                    self.recovered = true;
                    self.info("recovered the unsaved changes of the last session");
                }
                Err(e) => self.error(format!("could not recover: {e}")),
            },
            Action::Reload => {
                if let Some(p) = self.doc.path.clone() {
                    self.force_open(&p);
                }
            }
            Action::Focus(id) => self.focused = Some(id),
        }
    }

    fn force_new(&mut self) {
        self.set_doc(Doc::new(Patch::default(), None));
        self.info("new patch");
    }

    fn force_open(&mut self, p: &Path) {
        match Doc::open(p, &self.registry) {
            Ok(d) => {
                self.set_doc(d);
                files::add_recent(p);
                self.info(format!("opened {}", p.display()));
            }
            Err(e) => self.error(format!("could not open the patch:\n{e}")),
        }
    }

    fn save_as(&mut self, p: &Path) {
        let mut p = p.to_path_buf();
        if !p.to_string_lossy().ends_with(".ohm.ron") {
            let name = p.to_string_lossy().trim_end_matches(".ron").to_string();
            p = PathBuf::from(format!("{name}.ohm.ron"));
        }
        let old_dir = self.patch_dir();
        match self.doc.save_to(&p) {
            Ok(()) => {
                self.recovered = false;
                files::add_recent(&p);
                files::clear_recovery();
                self.disk_stamp = mtime(&p);
                if self.patch_dir() != old_dir {
                    let dir = self.patch_dir();
                    let opts = self.live.opts.clone();
                    self.live.reconfigure(opts, &self.doc.patch, dir);
                }
                self.info(format!("saved {}", p.display()));
            }
            Err(e) => self.error(e),
        }
    }

    fn paste(&mut self, text: &str, at: Option<(f32, f32)>) {
        match doc::paste_edit(&self.doc.patch, text, at) {
            Ok((edit, ids)) => {
                let r = self.doc.apply(edit);
                if r.is_ok() && ids.len() == 1 {
                    self.focused = ids.first().cloned();
                }
                self.result(r);
            }
            Err(e) => self.error(e),
        }
    }

    fn add_node(&mut self, id: String, n: NewNode) {
        let Some(kind) = self.registry.get(&n.kind) else {
            self.error(format!("there is no node kind \"{}\"", n.kind));
            return;
        };
        let spec = kind.spec();
        let mut node = ohmpatch_patch::Node::new(n.kind.clone(), n.pos);
        // A node whose domain is a param follows the wire it is dropped on.
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
        if let (Some(d), Some(p)) = (wire_domain, spec.param("domain"))
            && let ohmpatch_patch::ParamKind::Choice { choices, default } = &p.kind
            && choices.contains(&d.name())
            && *default != d.name()
        {
            node.params
                .insert("domain".into(), Value::Str(d.name().to_string()));
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
            self.focused = Some(id);
        }
        self.result(r);
    }

    fn port_domain(&self, e: &Endpoint, out: bool) -> Option<ohmpatch_patch::Domain> {
        let node = self.doc.patch.nodes.get(&e.node)?;
        let v = canvas::node_view(&self.registry, &e.node, node);
        let ports = if out { &v.outs } else { &v.ins };
        ports.iter().find(|p| p.name == e.port).map(|p| p.domain)
    }
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Load the patch to start with. `Err` carries an exit code for the
/// screenshot command (the editor shows the error instead).
fn initial_doc(
    path: Option<&Path>,
    registry: &Registry,
) -> Result<(Doc, Option<String>), (u8, String)> {
    match path {
        None => {
            let demo = Path::new("graphs/demo.ohm.ron");
            if demo.exists()
                && let Ok(d) = Doc::open(demo, registry)
            {
                return Ok((d, None));
            }
            let patch = ohmpatch_patch::load_str(DEMO, "demo.ohm.ron")
                .map_err(|e| (crate::cli::EXIT_INVALID, e.to_string()))?;
            Ok((Doc::new(patch, None), None))
        }
        Some(p) if !p.exists() => Err((
            crate::cli::EXIT_UNREADABLE,
            format!("{}: no such file", p.display()),
        )),
        Some(p) => {
            let patch = ohmpatch_patch::load_file(p).map_err(|e| {
                let code = match e {
                    ohmpatch_patch::LoadError::Unreadable { .. } => crate::cli::EXIT_UNREADABLE,
                    ohmpatch_patch::LoadError::Invalid(_) => crate::cli::EXIT_INVALID,
                };
                (code, e.to_string())
            })?;
            doc::check(&patch, p, registry).map_err(|e| (crate::cli::EXIT_INVALID, e))?;
            Ok((Doc::new(patch, Some(p.to_path_buf())), None))
        }
    }
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// `ohmpatch edit [PATCH]`.
pub fn run(opts: Options) -> u8 {
    let registry = ohmpatch_nodes::shared_registry();
    let mut startup_error = None;
    let (doc, _) = match initial_doc(opts.patch.as_deref(), &registry) {
        Ok(d) => d,
        Err((code, e)) => {
            if opts.screenshot.is_some() {
                eprintln!("{e}");
                return code;
            }
            match &opts.patch {
                // A new file: start empty, save creates it.
                Some(p) if !p.exists() => (Doc::new(Patch::default(), Some(p.clone())), None),
                _ => {
                    eprintln!("{e}");
                    startup_error = Some(format!("could not open the patch:\n{e}"));
                    (Doc::new(Patch::default(), None), None)
                }
            }
        }
    };
    if !has_display() {
        eprintln!(
            "the editor needs a display (X11 or Wayland) and none is set (DISPLAY is empty); \
             run it in a desktop session or under xvfb-run. The command line works without one: \
             ohmpatch check | render | play"
        );
        return crate::cli::EXIT_INVALID;
    }
    let script = match &opts.script {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| format!("{}: {e}", p.display()))
            .and_then(|t| script::parse(&t))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return crate::cli::EXIT_INVALID;
            }
        },
        None => Vec::new(),
    };
    let headless_run = opts.screenshot.is_some() || opts.script.is_some();
    let stream_opts = StreamOptions {
        backend: if headless_run {
            BackendKind::Null
        } else {
            std::env::var("OHMPATCH_BACKEND")
                .ok()
                .and_then(|b| BackendKind::parse(&b))
                .unwrap_or(BackendKind::Auto)
        },
        ..StreamOptions::default()
    };
    let live = Live::new(
        registry.clone(),
        stream_opts,
        doc.path.as_deref().map(crate::cli::patch_dir),
    );
    let stats = std::env::var("OHMPATCH_FRAME_STATS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map(|want| FrameStats {
            want,
            skip: 30,
            frames: Vec::new(),
            ui: Vec::new(),
            last: None,
        });
    let mut ed = Editor {
        registry: registry.clone(),
        disk_stamp: doc.path.as_deref().and_then(mtime),
        doc,
        recovered: false,
        canvas: Canvas::default(),
        live,
        inspector: Default::default(),
        focused: None,
        query: String::new(),
        palette: None,
        dialog: None,
        messages: Vec::new(),
        gesture: 0,
        clipboard: None,
        frame: 0,
        last_autosave: Instant::now(),
        autosaved_rev: 0,
        last_disk_check: Instant::now(),
        watched: None,
        script,
        script_wait: 5,
        shot: opts.screenshot.map(|out| Shot {
            out,
            requested: false,
            started: Instant::now(),
            result: Arc::new(Mutex::new(None)),
        }),
        stats,
        quitting: false,
        title: String::new(),
        pending_shot: None,
    };
    ed.live.set_patch(&ed.doc.patch);
    ed.canvas.sync(&ed.doc.patch, &ed.registry);
    ed.canvas.synced_rev = ed.doc.rev;
    if let Some(e) = startup_error {
        ed.error(e);
    }
    for n in std::mem::take(&mut ed.live.notes) {
        ed.info(n);
    }
    if !headless_run && let Some((file, origin)) = files::pending_recovery() {
        ed.dialog = Some(Dialog::Recover { file, origin });
    }
    if let Some(p) = &ed.doc.path
        && p.exists()
        && !headless_run
    {
        files::add_recent(p);
    }
    let continuous = ed.stats.is_some() || ed.shot.is_some();
    let title = ed.title();

    let mut app = App::new();
    let watched = match (&ed.doc.path, &ed.shot) {
        (Some(p), None) if p.exists() => asset::register_source(&mut app, p),
        _ => None,
    };
    ed.watched = watched.as_ref().map(|w| w.path.clone());
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(1600, 1000),
                    present_mode: PresentMode::AutoNoVsync,
                    ..default()
                }),
                close_when_requested: false,
                ..default()
            })
            .set(AssetPlugin {
                watch_for_changes_override: Some(watched.is_some()),
                ..default()
            })
            .set(bevy::log::LogPlugin {
                filter: "warn,wgpu=error,naga=error,bevy_render=error,bevy_asset=error".into(),
                level: bevy::log::Level::WARN,
                ..default()
            }),
    )
    .add_plugins(EguiPlugin::default())
    .init_asset::<asset::PatchFile>()
    .init_asset_loader::<asset::PatchFileLoader>()
    .insert_resource(ClearColor(Color::srgb(0.08, 0.08, 0.1)))
    .insert_resource(if continuous {
        WinitSettings::continuous()
    } else {
        WinitSettings {
            focused_mode: UpdateMode::reactive(Duration::from_millis(40)),
            unfocused_mode: UpdateMode::reactive_low_power(Duration::from_millis(100)),
        }
    })
    .insert_non_send(ed)
    .add_systems(Startup, (setup, asset::start_watching))
    .add_systems(Update, asset::on_modified)
    .add_systems(EguiPrimaryContextPass, ui_system)
    .add_systems(Update, (window_events, screenshot_system));
    if let Some(w) = watched {
        app.insert_resource(w);
    }
    let exit = app.run();
    match exit {
        AppExit::Success => crate::cli::EXIT_OK,
        AppExit::Error(c) => c.get(),
    }
}

/// `ohmpatch screenshot PATCH --out OUT.png`.
pub fn screenshot(patch: PathBuf, out: PathBuf) -> u8 {
    run(Options {
        patch: Some(patch),
        screenshot: Some(out),
        script: None,
    })
}

fn setup(mut commands: Commands) {
    // No multisampling: egui draws anti-aliased shapes itself, and software
    // renderers (llvmpipe) pay for every sample.
    commands.spawn((Camera2d, Msaa::Off));
}

fn window_events(
    mut ed: NonSendMut<Editor>,
    mut close: MessageReader<WindowCloseRequested>,
    mut drops: MessageReader<FileDragAndDrop>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
    mut exit: MessageWriter<AppExit>,
) {
    for _ in close.read() {
        if ed.shot.is_none() {
            if ed.is_dirty() {
                ed.dialog = Some(Dialog::Confirm {
                    then: Box::new(Action::Quit),
                });
            } else {
                ed.quitting = true;
            }
        }
    }
    for d in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            let p = path_buf.clone();
            if let Err(e) = Doc::open(&p, &ed.registry) {
                ed.error(format!("could not open the dropped file:\n{e}"));
            } else if ed.guard(Action::Open(p.clone())).is_some() {
                ed.force_open(&p);
            }
        }
    }
    let title = ed.title();
    if title != ed.title {
        ed.title = title.clone();
        if let Ok(mut w) = windows.single_mut() {
            w.title = title;
        }
    }
    if ed.quitting {
        ed.quitting = false;
        ed.live.shutdown();
        files::clear_recovery();
        exit.write(AppExit::Success);
    }
}

fn screenshot_system(
    mut commands: Commands,
    mut ed: NonSendMut<Editor>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some(out) = ed.pending_shot.take() {
        commands
            .spawn(Screenshot::primary_window())
            .observe(move |cap: On<ScreenshotCaptured>| {
                if let Err(e) = save_png(&cap.image, &out) {
                    eprintln!("{e}");
                }
            });
    }
    let frame = ed.frame;
    let fitted = ed.canvas.fit_in == 0;
    let Some(shot) = ed.shot.as_mut() else {
        return;
    };
    if !shot.requested && frame >= 20 && fitted {
        shot.requested = true;
        let out = shot.out.clone();
        let result = shot.result.clone();
        commands
            .spawn(Screenshot::primary_window())
            .observe(move |cap: On<ScreenshotCaptured>| {
                let r = save_png(&cap.image, &out);
                *result.lock().expect("lock") = Some(r);
            });
    }
    let done = shot.result.lock().expect("lock").take();
    match done {
        Some(Ok(())) => {
            ed.live.shutdown();
            exit.write(AppExit::Success);
        }
        Some(Err(e)) => {
            eprintln!("{e}");
            ed.live.shutdown();
            exit.write(AppExit::from_code(crate::cli::EXIT_INVALID));
        }
        None => {
            if shot.started.elapsed() > Duration::from_secs(90) {
                eprintln!("the window was not drawn within 90 s; no screenshot written");
                ed.live.shutdown();
                exit.write(AppExit::from_code(crate::cli::EXIT_INVALID));
            }
        }
    }
}

fn save_png(image: &Image, out: &Path) -> Result<(), String> {
    let dynamic = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| format!("cannot read the window's pixels: {e:?}"))?;
    let rgb = dynamic.to_rgb8();
    let (w, h) = (rgb.width(), rgb.height());
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(rgb.as_raw())
            .map_err(|e| e.to_string())?;
    }
    let tmp = out.with_extension("png.part");
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, out))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn ui_system(mut contexts: EguiContexts, mut ed: NonSendMut<Editor>) -> Result {
    let t0 = Instant::now();
    let ctx = contexts.ctx_mut()?.clone();
    let ed = &mut *ed;
    ed.frame += 1;
    if ed.frame == 1 {
        let mut visuals = egui::Visuals::dark();
        visuals.window_corner_radius = 4.0.into();
        ctx.set_visuals(visuals);
    }
    let mut actions: Vec<Action> = Vec::new();

    // Script steps, one a frame.
    if ed.script_wait > 0 {
        ed.script_wait -= 1;
    } else if !ed.script.is_empty() {
        let waiting = match &ed.script[0] {
            script::Step::WaitFile(p) => !p.exists(),
            script::Step::WaitParam(id, name, v) => {
                ed.doc.patch.nodes.get(id).and_then(|n| n.params.get(name)) != Some(v)
            }
            _ => false,
        };
        let step = if waiting {
            script::Step::Wait(0)
        } else {
            ed.script.remove(0)
        };
        match step {
            script::Step::WaitFile(_) | script::Step::WaitParam(..) => {}
            script::Step::Shot(p) => ed.pending_shot = Some(p),
            script::Step::Act(a) => actions.push(*a),
            script::Step::Wait(n) => ed.script_wait = n,
            script::Step::Ready(p) => {
                let _ = std::fs::write(p, b"");
            }
            script::Step::Quit => {
                ed.live.shutdown();
                files::clear_recovery();
                ed.quitting = true;
            }
        }
    }

    if ctx.input(|i| i.pointer.primary_pressed()) {
        ed.gesture += 1;
    }
    shortcuts(&ctx, ed, &mut actions);

    let mut root = egui::Ui::new(
        ctx.clone(),
        "ohmpatch-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    menu_bar(&mut root, ed, &mut actions);
    status_bar(&mut root, ed);
    egui::Panel::right("inspector")
        .default_size(340.0)
        .show(&mut root, |ui| {
            let Editor {
                inspector,
                doc,
                registry,
                live,
                focused,
                gesture,
                ..
            } = ed;
            inspector::show(
                ui,
                inspector,
                &doc.patch,
                registry,
                live,
                focused,
                *gesture,
                &mut actions,
            );
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE)
        .show(&mut root, |ui| {
            banner(ui, ed);
            ed.canvas.blocked = ed.dialog.is_some() || ed.shot.is_some();
            let Editor {
                canvas,
                doc,
                registry,
                live,
                query,
                focused,
                ..
            } = ed;
            canvas::show(
                ui,
                canvas,
                &doc.patch,
                registry,
                live,
                query,
                focused,
                &mut actions,
            );
        });
    // Nodes dragged on the canvas: one undo step per drag.
    let moves: Vec<Edit> = ed
        .canvas
        .index
        .iter()
        .filter_map(|(id, n)| {
            let pos = ed.canvas.snarl.get_node_info(*n)?.pos;
            let node = ed.doc.patch.nodes.get(id)?;
            ((pos.x, pos.y) != node.pos).then(|| Edit::MoveNode {
                id: id.clone(),
                pos: (pos.x, pos.y),
            })
        })
        .collect();
    let g = ed.gesture.wrapping_mul(1024).wrapping_add(1023);
    for m in moves {
        actions.push(Action::Merged(m, g));
    }
    palette_window(&ctx, ed, &mut actions);
    dialogs(&ctx, ed, &mut actions);

    for a in actions {
        ed.apply(a, &ctx);
    }
    if ed.canvas.synced_rev != ed.doc.rev {
        ed.canvas.sync(&ed.doc.patch, &ed.registry);
        ed.canvas.synced_rev = ed.doc.rev;
    }
    ed.live.tick(&ed.doc.patch, ed.doc.audio_rev);
    for n in std::mem::take(&mut ed.live.notes) {
        ed.info(n);
    }
    housekeeping(ed);
    frame_stats(ed, t0);
    if ed.shot.is_none() && ed.stats.is_none() {
        ctx.request_repaint_after(Duration::from_millis(50));
    }
    Ok(())
}

fn frame_stats(ed: &mut Editor, t0: Instant) {
    let Some(s) = ed.stats.as_mut() else { return };
    let now = Instant::now();
    if let Some(last) = s.last
        && s.skip == 0
    {
        s.frames.push((now - last).as_secs_f64() * 1000.0);
        s.ui.push((now - t0).as_secs_f64() * 1000.0);
    }
    if s.skip > 0 {
        s.skip -= 1;
    }
    s.last = Some(now);
    if s.frames.len() >= s.want {
        let summary = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            format!(
                "mean {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                mean,
                p(0.5),
                p(0.95),
                p(1.0)
            )
        };
        println!(
            "{} nodes, {} wires, {} frames: frame time {}; editor UI (CPU) {}; DSP load {:.0} %",
            ed.doc.patch.nodes.len(),
            ed.doc.patch.wires.len(),
            s.frames.len(),
            summary(&mut s.frames),
            summary(&mut s.ui),
            ed.live.load * 100.0
        );
        ed.stats = None;
        ed.live.shutdown();
        ed.quitting = true;
    }
}

/// Autosave to the recovery file, and notice the file changing on disk.
fn housekeeping(ed: &mut Editor) {
    if ed.shot.is_some() {
        return;
    }
    if ed.last_autosave.elapsed() >= Duration::from_secs(3) {
        ed.last_autosave = Instant::now();
        if ed.is_dirty() {
            if ed.autosaved_rev != ed.doc.rev {
                ed.autosaved_rev = ed.doc.rev;
                let text = ohmpatch_patch::to_ron_string(&ed.doc.patch);
                if let Err(e) = files::write_recovery(&text, ed.doc.path.as_deref()) {
                    ed.error(format!("could not write the recovery file: {e}"));
                }
            }
        } else if ed.autosaved_rev != 0 {
            ed.autosaved_rev = 0;
            files::clear_recovery();
        }
    }
    // Files opened from another folder than the watched one are polled.
    if ed.last_disk_check.elapsed() >= Duration::from_millis(1000) {
        ed.last_disk_check = Instant::now();
        if let Some(p) = ed.doc.path.clone()
            && std::fs::canonicalize(&p).ok() != ed.watched
            && mtime(&p).is_some()
            && mtime(&p) != ed.disk_stamp
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
        if now.is_none() || now == self.disk_stamp {
            return;
        }
        self.disk_stamp = now;
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

fn shortcuts(ctx: &egui::Context, ed: &mut Editor, actions: &mut Vec<Action>) {
    use egui::{Key, KeyboardShortcut as K, Modifiers as M};
    let typing = ctx.egui_wants_keyboard_input();
    let cmd_shift = M::COMMAND | M::SHIFT;
    let selection = {
        let mut s = ed.canvas.selected(ctx);
        if s.is_empty()
            && let Some(f) = &ed.focused
        {
            s.push(f.clone());
        }
        s
    };
    ctx.input_mut(|i| {
        if i.consume_shortcut(&K::new(M::COMMAND, Key::S)) {
            if i.modifiers.shift || ed.doc.path.is_none() {
                ed.dialog = Some(Dialog::SaveAs {
                    path: ed
                        .doc
                        .path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "untitled.ohm.ron".into()),
                    then: None,
                });
            } else {
                actions.push(Action::Save);
            }
        }
        if i.consume_shortcut(&K::new(M::COMMAND, Key::O)) {
            ed.dialog = Some(Dialog::Open {
                path: ed
                    .doc
                    .path
                    .as_deref()
                    .map(|p| crate::cli::patch_dir(p).display().to_string() + "/")
                    .unwrap_or_default(),
            });
        }
        if i.consume_shortcut(&K::new(M::COMMAND, Key::N)) {
            actions.push(Action::New);
        }
        if typing {
            return;
        }
        if i.consume_shortcut(&K::new(cmd_shift, Key::Z))
            || i.consume_shortcut(&K::new(M::COMMAND, Key::Y))
        {
            actions.push(Action::Redo);
        }
        if i.consume_shortcut(&K::new(M::COMMAND, Key::Z)) {
            actions.push(Action::Undo);
        }
        let selection = selection.clone();
        if i.consume_shortcut(&K::new(M::COMMAND, Key::D)) {
            actions.push(Action::Duplicate(selection.clone()));
        }
        let mut copy = false;
        let mut paste = None;
        i.events.retain(|e| match e {
            egui::Event::Copy => {
                copy = true;
                false
            }
            egui::Event::Cut => {
                copy = true;
                false
            }
            egui::Event::Paste(t) => {
                paste = Some(t.clone());
                false
            }
            _ => true,
        });
        if copy {
            actions.push(Action::Copy(selection.clone()));
        }
        // bevy_egui delivers the system clipboard on Ctrl+V as a text event.
        if i.consume_key(M::COMMAND, Key::V) {
            let text = i.events.iter().find_map(|e| match e {
                egui::Event::Text(t) if t.contains("nodes") => Some(t.clone()),
                _ => None,
            });
            if text.is_some() {
                i.events.retain(|e| !matches!(e, egui::Event::Text(_)));
            }
            if paste.is_none() {
                paste = Some(text.unwrap_or_default());
            }
        }
        if let Some(t) = paste {
            // Empty: the system clipboard was not readable; use our own.
            actions.push(Action::Paste((!t.is_empty()).then_some(t)));
        }
        if i.consume_key(M::NONE, Key::Delete) || i.consume_key(M::NONE, Key::Backspace) {
            actions.push(Action::Delete(selection));
        }
        if i.consume_key(M::NONE, Key::F) {
            actions.push(Action::Fit);
        }
        if i.consume_key(M::NONE, Key::Space) || i.consume_key(M::NONE, Key::A) {
            let p = i
                .pointer
                .latest_pos()
                .filter(|p| ed.canvas.rect.contains(*p))
                .map(|p| ed.canvas.to_graph(p))
                .unwrap_or_else(|| ed.canvas.view_center());
            actions.push(Action::OpenPalette {
                pos: (p.x, p.y),
                split: None,
            });
        }
        if i.consume_key(M::NONE, Key::Escape) {
            ed.palette = None;
            if matches!(ed.dialog, Some(Dialog::Shortcuts)) {
                ed.dialog = None;
            }
        }
    });
}

fn menu_bar(root: &mut egui::Ui, ed: &mut Editor, actions: &mut Vec<Action>) {
    egui::Panel::top("menu").show(root, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New            Ctrl+N").clicked() {
                    actions.push(Action::New);
                }
                if ui.button("Open…          Ctrl+O").clicked() {
                    ed.dialog = Some(Dialog::Open {
                        path: String::new(),
                    });
                }
                ui.menu_button("Open recent", |ui| {
                    let recent = files::recent();
                    if recent.is_empty() {
                        ui.label("no recent patches");
                    }
                    for p in recent {
                        if ui.button(p.display().to_string()).clicked() {
                            actions.push(Action::Open(p));
                        }
                    }
                });
                if ui.button("Save           Ctrl+S").clicked() {
                    actions.push(Action::Save);
                }
                if ui.button("Save as…").clicked() {
                    ed.dialog = Some(Dialog::SaveAs {
                        path: ed
                            .doc
                            .path
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| "untitled.ohm.ron".into()),
                        then: None,
                    });
                }
                if ed.doc.path.is_some() && ui.button("Reload from disk").clicked() {
                    actions.push(Action::Reload);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    actions.push(Action::Quit);
                }
            });
            ui.menu_button("Edit", |ui| {
                let undo = ed
                    .doc
                    .history
                    .undo_label()
                    .map(|l| format!("Undo {l}"))
                    .unwrap_or_else(|| "Undo".into());
                if ui
                    .add_enabled(ed.doc.history.can_undo(), egui::Button::new(undo))
                    .clicked()
                {
                    actions.push(Action::Undo);
                }
                let redo = ed
                    .doc
                    .history
                    .redo_label()
                    .map(|l| format!("Redo {l}"))
                    .unwrap_or_else(|| "Redo".into());
                if ui
                    .add_enabled(ed.doc.history.can_redo(), egui::Button::new(redo))
                    .clicked()
                {
                    actions.push(Action::Redo);
                }
                ui.separator();
                let sel = {
                    let mut s = ed.canvas.selected(ui.ctx());
                    if s.is_empty()
                        && let Some(f) = &ed.focused
                    {
                        s.push(f.clone());
                    }
                    s
                };
                if ui.button("Add node…      Space").clicked() {
                    let c = ed.canvas.view_center();
                    actions.push(Action::OpenPalette {
                        pos: (c.x, c.y),
                        split: None,
                    });
                }
                if ui.button("Copy           Ctrl+C").clicked() {
                    actions.push(Action::Copy(sel.clone()));
                }
                if ui.button("Paste          Ctrl+V").clicked() {
                    actions.push(Action::Paste(None));
                }
                if ui.button("Duplicate      Ctrl+D").clicked() {
                    actions.push(Action::Duplicate(sel.clone()));
                }
                if ui.button("Delete         Del").clicked() {
                    actions.push(Action::Delete(sel));
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit to view    F").clicked() {
                    actions.push(Action::Fit);
                }
            });
            ui.menu_button("Audio", |ui| {
                if ui.button("Audio settings…").clicked() {
                    let devices = ohmpatch_engine::backend::list_devices()
                        .into_iter()
                        .map(|d| d.name.to_string())
                        .collect();
                    let s = ed.live.stream.as_ref().map(|s| s.choice.clone());
                    ed.dialog = Some(Dialog::Audio(AudioForm {
                        backend: ed.live.opts.backend,
                        device: ed.live.opts.device.clone().unwrap_or_default(),
                        sample_rate: s
                            .as_ref()
                            .map(|c| c.sample_rate.to_string())
                            .unwrap_or_else(|| "48000".into()),
                        buffer: s
                            .and_then(|c| c.buffer)
                            .map(|b| b.to_string())
                            .unwrap_or_default(),
                        devices,
                    }));
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard and mouse").clicked() {
                    ed.dialog = Some(Dialog::Shortcuts);
                }
            });
            ui.separator();
            ui.label(
                RichText::new(ed.title().trim_end_matches(" — ohmpatch").to_string()).strong(),
            );
        });
    });
}

fn status_bar(root: &mut egui::Ui, ed: &mut Editor) {
    egui::Panel::bottom("status").show(root, |ui| {
        ui.horizontal(|ui| {
            ui.label(RichText::new("♪").color(theme::OK));
            ui.label(ed.live.device_line());
            ui.separator();
            let load = ed.live.load * 100.0;
            ui.label(
                RichText::new(format!("DSP {load:.1} %")).color(if load > 80.0 {
                    theme::ERROR
                } else {
                    Color32::GRAY
                }),
            );
            ui.separator();
            ui.label(RichText::new(format!("xruns {}", ed.live.xruns)).color(
                if ed.live.xruns > 0 {
                    theme::WARN
                } else {
                    Color32::GRAY
                },
            ));
            ui.separator();
            ui.label(format!(
                "{} nodes · {} wires",
                ed.doc.patch.nodes.len(),
                ed.doc.patch.wires.len()
            ));
            if let Some(e) = &ed.live.engine_error {
                ui.separator();
                ui.label(
                    RichText::new(format!("not playing the latest change: {e}"))
                        .color(theme::ERROR),
                );
            } else if let Some(f) = ed.live.engine.faulty_node() {
                ui.separator();
                ui.label(
                    RichText::new(format!(
                        "node \"{f}\" produces non-finite samples; silenced"
                    ))
                    .color(theme::WARN),
                );
            }
        });
    });
}

/// Messages at the top of the canvas; errors stay until dismissed.
fn banner(ui: &mut egui::Ui, ed: &mut Editor) {
    ed.messages
        .retain(|m| m.error || m.at.elapsed() < Duration::from_secs(6));
    if ed.messages.len() > 6 {
        let n = ed.messages.len() - 6;
        ed.messages.drain(..n);
    }
    if ed.messages.is_empty() {
        return;
    }
    let mut dismiss = None;
    egui::Frame::new()
        .fill(Color32::from_rgb(0x20, 0x20, 0x26))
        .inner_margin(6.0)
        .show(ui, |ui| {
            for (k, m) in ed.messages.iter().enumerate() {
                ui.horizontal(|ui| {
                    if m.error && ui.small_button("x").clicked() {
                        dismiss = Some(k);
                    }
                    ui.label(RichText::new(&m.text).color(if m.error {
                        theme::ERROR
                    } else {
                        Color32::LIGHT_GRAY
                    }));
                });
            }
        });
    if let Some(k) = dismiss {
        ed.messages.remove(k);
    }
}

fn palette_window(ctx: &egui::Context, ed: &mut Editor, actions: &mut Vec<Action>) {
    let Some(p) = &ed.palette else { return };
    let mut open = true;
    let mut picked = None;
    let fit = p
        .split
        .as_ref()
        .and_then(|w| ed.port_domain(&w.from, true).map(|d| (Direction::In, d)));
    egui::Window::new(if p.split.is_some() {
        "Insert node into wire"
    } else {
        "Add node"
    })
    .open(&mut open)
    .default_pos({
        // Keep the whole list on screen.
        let vp = ctx.viewport_rect();
        egui::pos2(
            p.screen.x.min(vp.max.x - 360.0).max(vp.min.x),
            p.screen.y.min(vp.max.y - 480.0).max(vp.min.y + 30.0),
        )
    })
    .collapsible(false)
    .resizable(false)
    .show(ctx, |ui| {
        picked = palette::list(ui, &ed.registry, &mut ed.query, fit);
    });
    if let Some(kind) = picked {
        let p = ed.palette.take().expect("open");
        actions.push(Action::AddNode(NewNode {
            kind,
            pos: p.pos,
            from: None,
            to: None,
            split: p.split,
        }));
        ed.query.clear();
    } else if !open {
        ed.palette = None;
    }
}

fn dialogs(ctx: &egui::Context, ed: &mut Editor, actions: &mut Vec<Action>) {
    let Some(dialog) = ed.dialog.take() else {
        return;
    };
    let mut keep = true;
    let dialog = match dialog {
        Dialog::Confirm { then } => {
            let mut choice = 0;
            egui::Modal::new(egui::Id::new("confirm")).show(ctx, |ui| {
                ui.heading("Unsaved changes");
                ui.label(format!(
                    "{} has changes that are not saved. Save them first?",
                    ed.doc.file_name()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        choice = 1;
                    }
                    if ui.button("Don't save").clicked() {
                        choice = 2;
                    }
                    if ui.button("Cancel").clicked() {
                        choice = 3;
                    }
                });
            });
            match choice {
                1 => {
                    keep = false;
                    match ed.doc.path.clone() {
                        Some(p) => {
                            ed.save_as(&p);
                            if !ed.is_dirty() {
                                run_forced(ed, *then);
                            }
                        }
                        None => {
                            ed.dialog = Some(Dialog::SaveAs {
                                path: "untitled.ohm.ron".into(),
                                then: Some(then),
                            });
                        }
                    }
                    None
                }
                2 => {
                    keep = false;
                    ed.recovered = false;
                    ed.doc.history.mark_saved();
                    run_forced(ed, *then);
                    None
                }
                3 => {
                    keep = false;
                    None
                }
                _ => Some(Dialog::Confirm { then }),
            }
        }
        Dialog::Open { mut path } => {
            let mut go = None;
            egui::Window::new("Open patch")
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
                .open(&mut keep)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label("File (.ohm.ron):");
                    let r = ui.add(egui::TextEdit::singleline(&mut path).desired_width(420.0));
                    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        go = Some(PathBuf::from(&path));
                    }
                    if ui.button("Open").clicked() {
                        go = Some(PathBuf::from(&path));
                    }
                    ui.separator();
                    let dir = {
                        let p = Path::new(&path);
                        if p.is_dir() {
                            p.to_path_buf()
                        } else {
                            p.parent()
                                .filter(|d| !d.as_os_str().is_empty() && d.is_dir())
                                .map(Path::to_path_buf)
                                .unwrap_or_else(|| PathBuf::from("."))
                        }
                    };
                    egui::ScrollArea::vertical()
                        .max_height(260.0)
                        .show(ui, |ui| {
                            let mut list = files::patches_in(&dir);
                            list.extend(files::patches_in(&dir.join("graphs")));
                            for p in list {
                                if ui.button(p.display().to_string()).clicked() {
                                    go = Some(p);
                                }
                            }
                            let recent = files::recent();
                            if !recent.is_empty() {
                                ui.label(RichText::new("Recent").strong());
                                for p in recent {
                                    if ui.button(p.display().to_string()).clicked() {
                                        go = Some(p);
                                    }
                                }
                            }
                        });
                });
            if let Some(p) = go {
                keep = false;
                actions.push(Action::Open(p));
            }
            Some(Dialog::Open { path })
        }
        Dialog::SaveAs { mut path, then } => {
            let mut go = false;
            egui::Window::new("Save patch as")
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
                .open(&mut keep)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label("File (.ohm.ron):");
                    let r = ui.add(egui::TextEdit::singleline(&mut path).desired_width(420.0));
                    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        go = true;
                    }
                    if ui.button("Save").clicked() {
                        go = true;
                    }
                });
            if go {
                keep = false;
                ed.save_as(Path::new(&path));
                if !ed.is_dirty()
                    && let Some(t) = then
                {
                    run_forced(ed, *t);
                }
                None
            } else {
                Some(Dialog::SaveAs { path, then })
            }
        }
        Dialog::Recover { file, origin } => {
            let mut choice = 0;
            egui::Modal::new(egui::Id::new("recover")).show(ctx, |ui| {
                ui.heading("Recover unsaved work?");
                ui.label(format!(
                    "The last session ended without saving{}. Open its unsaved changes?",
                    origin
                        .as_ref()
                        .map(|o| format!(" {}", o.display()))
                        .unwrap_or_default()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Recover").clicked() {
                        choice = 1;
                    }
                    if ui.button("Discard").clicked() {
                        choice = 2;
                    }
                });
            });
            match choice {
                1 => {
                    keep = false;
                    actions.push(Action::Recover(file, origin));
                    None
                }
                2 => {
                    keep = false;
                    files::clear_recovery();
                    None
                }
                _ => Some(Dialog::Recover { file, origin }),
            }
        }
        Dialog::Audio(mut f) => {
            let mut apply = false;
            egui::Window::new("Audio settings")
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
                .open(&mut keep)
                .collapsible(false)
                .show(ctx, |ui| {
                    egui::Grid::new("audio").num_columns(2).show(ui, |ui| {
                        ui.label("Backend");
                        egui::ComboBox::from_id_salt("backend")
                            .selected_text(f.backend.name())
                            .show_ui(ui, |ui| {
                                for b in [
                                    BackendKind::Auto,
                                    BackendKind::Jack,
                                    BackendKind::Alsa,
                                    BackendKind::Null,
                                ] {
                                    ui.selectable_value(&mut f.backend, b, b.name());
                                }
                            });
                        ui.end_row();
                        ui.label("Device");
                        egui::ComboBox::from_id_salt("device")
                            .selected_text(if f.device.is_empty() {
                                "default"
                            } else {
                                &f.device
                            })
                            .show_ui(ui, |ui| {
                                ui.selectable_value(&mut f.device, String::new(), "default");
                                for d in f.devices.clone() {
                                    ui.selectable_value(&mut f.device, d.clone(), d);
                                }
                            });
                        ui.end_row();
                        ui.label("Sample rate (Hz)");
                        ui.text_edit_singleline(&mut f.sample_rate);
                        ui.end_row();
                        ui.label("Buffer (frames)");
                        ui.add(
                            egui::TextEdit::singleline(&mut f.buffer).hint_text("device default"),
                        );
                        ui.end_row();
                    });
                    ui.label(RichText::new("JACK uses its server's rate and buffer.").weak());
                    if ui.button("Apply").clicked() {
                        apply = true;
                    }
                });
            if apply {
                let sr = f.sample_rate.trim().parse::<u32>().ok();
                let buf = f.buffer.trim().parse::<u32>().ok();
                if !f.sample_rate.trim().is_empty()
                    && !sr.is_some_and(|r| (8000..=384_000).contains(&r))
                {
                    ed.error("the sample rate must be a number of Hz between 8000 and 384000");
                } else if !f.buffer.trim().is_empty()
                    && !buf.is_some_and(|b| (16..=8192).contains(&b))
                {
                    ed.error("the buffer must be between 16 and 8192 frames");
                } else {
                    keep = false;
                    actions.push(Action::Audio(StreamOptions {
                        backend: f.backend,
                        device: (!f.device.is_empty()).then(|| f.device.clone()),
                        buffer: buf,
                        sample_rate: sr,
                        channels: 2,
                    }));
                }
            }
            Some(Dialog::Audio(f))
        }
        Dialog::Shortcuts => {
            egui::Window::new("Keyboard and mouse")
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
                .open(&mut keep)
                .collapsible(false)
                .show(ctx, |ui| {
                    for (k, v) in [
                        (
                            "Space / A / right-click",
                            "add a node (type to filter; arrows and Enter pick)",
                        ),
                        (
                            "drag from a pin",
                            "wire; drop on empty space to add a node that fits",
                        ),
                        ("right-click a wire or pin", "disconnect"),
                        (
                            "click a wire's meter",
                            "insert a node into the wire, or delete it",
                        ),
                        ("Shift-drag / Shift-click", "select several nodes"),
                        ("drag empty space / wheel", "pan"),
                        ("Ctrl+wheel", "zoom"),
                        ("F", "fit the patch into view"),
                        ("Delete", "delete the selected nodes"),
                        ("Ctrl+C / Ctrl+V", "copy / paste nodes (as text)"),
                        ("Ctrl+D", "duplicate"),
                        ("Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y", "undo / redo"),
                        ("Ctrl+N / Ctrl+O / Ctrl+S", "new / open / save"),
                        (
                            "Shift-drag a value",
                            "fine adjustment; double-click: default",
                        ),
                    ] {
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(k).strong());
                            ui.label(v);
                        });
                    }
                });
            Some(Dialog::Shortcuts)
        }
    };
    if keep && ed.dialog.is_none() {
        ed.dialog = dialog;
    }
}

/// Run an action whose unsaved-changes question was answered.
fn run_forced(ed: &mut Editor, a: Action) {
    match a {
        Action::New => ed.force_new(),
        Action::Open(p) => ed.force_open(&p),
        Action::Quit => ed.quitting = true,
        Action::Reload => {
            if let Some(p) = ed.doc.path.clone() {
                ed.force_open(&p);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_built_in_demo_is_the_seed_chain_and_loads() {
        let registry = ohmpatch_nodes::registry();
        let p = ohmpatch_patch::load_str(DEMO, "demo").unwrap();
        assert!(ohmpatch_patch::validate(&p, &registry, "demo", Some(DEMO)).is_empty());
        let kinds: Vec<&str> = p.nodes.values().map(|n| n.kind.as_str()).collect();
        for k in ["mic", "preamp", "power_amp", "speaker", "output"] {
            assert!(kinds.contains(&k), "{k} missing from the demo");
        }
    }
}
