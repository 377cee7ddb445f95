//! The graphical editor: a Bevy app with an egui user interface and an
//! egui-snarl node canvas, with the engine playing the patch live behind it.
//!
//! Everything the user does becomes an [`Action`]; actions change the patch
//! only through its [`ohmpatch_patch::History`], so every edit undoes. The
//! canvas is synced from the patch after each change, and the engine is
//! given the new patch (it keeps node state and crossfades).

pub mod actions;
mod app;
pub mod asset;
pub mod canvas;
mod dialogs;
mod disk;
pub mod doc;
pub mod files;
pub mod inspector;
pub mod live;
pub mod measure;
mod menus;
mod modes;
pub mod palette;
pub mod plots;
pub mod script;
mod shortcuts;
pub mod staging;
pub mod theme;
pub mod wires;

pub use actions::{Action, NewNode};
pub use app::{Options, run, screenshot};

use canvas::Canvas;
use dialogs::Dialog;
use doc::Doc;
use live::Live;
use ohmpatch_engine::Registry;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The editor's state; a non-Send resource because the audio stream is.
pub struct Editor {
    registry: Arc<Registry>,
    doc: Doc,
    canvas: Canvas,
    live: Live,
    view: View,
    disk: Disk,
    run: Run,
    /// The Measure window.
    bench: measure::Bench,
}

/// What the panels, windows and dialogs show, apart from the canvas.
struct View {
    inspector: inspector::InspectorState,
    /// The node the inspector shows.
    focused: Option<String>,
    /// The palette's search text.
    query: String,
    palette: Option<palette::Palette>,
    dialog: Option<Dialog>,
    messages: Vec<Message>,
    /// Counts pointer presses: edits of one drag merge into one undo step.
    gesture: u64,
    /// Copied nodes, for when the system clipboard cannot be read.
    clipboard: Option<String>,
    /// The window title last set.
    title: String,
    /// Actions from outside the UI system (window close, dropped files).
    queued: Vec<Action>,
}

/// The open file on disk: recovery copies and changes made by others.
struct Disk {
    /// Set after recovering unsaved work: dirty until saved.
    recovered: bool,
    last_autosave: Instant,
    autosaved_rev: u64,
    stamp: Option<SystemTime>,
    last_check: Instant,
    /// The file the asset watcher follows (others are polled).
    watched: Option<PathBuf>,
}

/// How this run goes: scripted steps, the screenshot and frame-time modes,
/// and quitting.
struct Run {
    frame: u64,
    script: Vec<script::Step>,
    /// Frames to wait before the next script step.
    script_wait: u32,
    shot: Option<modes::Shot>,
    stats: Option<modes::FrameStats>,
    quitting: bool,
    /// A screenshot a script asked for, taken without quitting.
    pending_shot: Option<PathBuf>,
}

/// A line in the banner over the canvas; errors stay until dismissed.
struct Message {
    text: String,
    error: bool,
    at: Instant,
}

impl View {
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
}

impl Editor {
    fn info(&mut self, text: impl Into<String>) {
        self.view.info(text);
    }

    fn error(&mut self, text: impl Into<String>) {
        self.view.error(text);
    }

    fn is_dirty(&self) -> bool {
        self.doc.is_dirty() || self.disk.recovered
    }

    /// The window title, with the unsaved-changes marker.
    fn title(&self) -> String {
        let t = self.doc.title();
        if self.disk.recovered && !self.doc.is_dirty() {
            format!("* {t}")
        } else {
            t
        }
    }

    fn patch_dir(&self) -> Option<PathBuf> {
        self.doc.files_dir()
    }

    /// Replace the document (open, new, recover).
    fn set_doc(&mut self, doc: Doc) {
        self.doc = doc;
        self.disk.recovered = false;
        self.canvas = Canvas::default();
        self.view.focused = None;
        self.view.inspector = inspector::InspectorState::default();
        self.live.load_patch(&self.doc.patch, self.patch_dir());
        self.disk.stamp = self.doc.path.as_deref().and_then(disk::mtime);
        self.canvas.sync(&self.doc.patch, &self.registry);
        self.canvas.synced_rev = self.doc.rev;
    }

    /// Ask before an action that would drop unsaved changes.
    fn guard(&mut self, a: Action) -> Option<Action> {
        if self.is_dirty() {
            self.view.dialog = Some(Dialog::Confirm { then: Box::new(a) });
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
}
