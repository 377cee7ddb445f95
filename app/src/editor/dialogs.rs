//! The dialogs: open, save as, unsaved changes, recovery, audio settings
//! and the shortcut list. They change nothing themselves: what the user
//! decides leaves as an [`Action`].

use super::doc::Doc;
use super::{Action, View, files};
use bevy_egui::egui::{self, RichText};
use ohmpatch_engine::backend::{BackendKind, MAX_JACK_PORTS, StreamOptions};
use ohmpatch_engine::meters::MAX_THREADS;
use std::path::{Path, PathBuf};

pub(super) enum Dialog {
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
    /// File ▸ Export bundle…: where to write the `.ohmz`.
    Export {
        path: String,
    },
}

impl Dialog {
    /// Save As for the open document: its own path to start from (or a new
    /// name), then `then`.
    /// Export bundle for the open document: its name with `.ohmz`.
    pub(super) fn export(doc: &Doc) -> Dialog {
        let base = match (&doc.path, &doc.bundle) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(b)) => b.source.display().to_string(),
            (None, None) => "untitled.ohm.ron".into(),
        };
        let stem = base
            .trim_end_matches(".ohmz")
            .trim_end_matches(".ron")
            .trim_end_matches(".ohm");
        Dialog::Export {
            path: format!("{stem}.ohmz"),
        }
    }

    pub(super) fn save_as(doc: &Doc, then: Option<Box<Action>>) -> Dialog {
        Dialog::SaveAs {
            path: doc
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "untitled.ohm.ron".into()),
            then,
        }
    }
}

pub(super) struct AudioForm {
    pub backend: BackendKind,
    pub device: String,
    pub sample_rate: String,
    pub buffer: String,
    pub devices: Vec<String>,
    pub input_device: String,
    pub inputs: String,
    pub connect: bool,
    pub input_devices: Vec<String>,
    /// Threads that run a block; empty: one per core.
    pub threads: String,
    /// How many threads "one per core" comes to here.
    pub per_core: usize,
}

/// Draw the open dialog, if any.
pub(super) fn show(ctx: &egui::Context, view: &mut View, doc: &Doc, actions: &mut Vec<Action>) {
    let Some(dialog) = view.dialog.take() else {
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
                    doc.file_name()
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
                    match doc.path.clone() {
                        Some(p) => actions.push(Action::SaveAndThen(p, then)),
                        None => {
                            view.dialog = Some(Dialog::save_as(doc, Some(then)));
                        }
                    }
                    None
                }
                2 => {
                    keep = false;
                    actions.push(Action::Discard(then));
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
                    ui.label("File (.ohm.ron, or a bundle .ohmz):");
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
                    ui.label("File (.ohm.ron; .ohmz writes a bundle):");
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
                let path = PathBuf::from(&path);
                actions.push(match then {
                    Some(t) => Action::SaveAndThen(path, t),
                    None => Action::SaveAs(path),
                });
                None
            } else {
                Some(Dialog::SaveAs { path, then })
            }
        }
        Dialog::Export { mut path } => {
            let mut go = false;
            egui::Window::new("Export bundle")
                .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 80.0))
                .open(&mut keep)
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label(
                        "Bundle (.ohmz): the patch and every file it plays, in one file to share.",
                    );
                    let r = ui.add(egui::TextEdit::singleline(&mut path).desired_width(420.0));
                    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        go = true;
                    }
                    if ui.button("Export").clicked() {
                        go = true;
                    }
                });
            if go {
                keep = false;
                actions.push(Action::ExportBundle(PathBuf::from(&path)));
                None
            } else {
                Some(Dialog::Export { path })
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
                    actions.push(Action::DiscardRecovery);
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
                        ui.label("Input device");
                        egui::ComboBox::from_id_salt("input_device")
                            .selected_text(if f.input_device.is_empty() {
                                "default"
                            } else {
                                &f.input_device
                            })
                            .show_ui(ui, |ui| {
                                ui.selectable_value(&mut f.input_device, String::new(), "default");
                                for d in f.input_devices.clone() {
                                    ui.selectable_value(&mut f.input_device, d.clone(), d);
                                }
                            });
                        ui.end_row();
                        ui.label("Input channels");
                        ui.add(egui::TextEdit::singleline(&mut f.inputs).hint_text("0 = none"));
                        ui.end_row();
                        ui.label("JACK");
                        ui.checkbox(&mut f.connect, "Connect to the system ports");
                        ui.end_row();
                        ui.label("Sample rate (Hz)");
                        ui.text_edit_singleline(&mut f.sample_rate);
                        ui.end_row();
                        ui.label("Buffer (frames)");
                        ui.add(
                            egui::TextEdit::singleline(&mut f.buffer).hint_text("device default"),
                        );
                        ui.end_row();
                        ui.label("Threads");
                        ui.add(
                            egui::TextEdit::singleline(&mut f.threads)
                                .hint_text(format!("one per core ({})", f.per_core)),
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
                let inputs = f.inputs.trim().parse::<u16>().ok();
                let threads = f.threads.trim().parse::<usize>().ok();
                if inputs.is_none_or(|n| n > MAX_JACK_PORTS) {
                    view.error(format!(
                        "the input channels must be a number from 0 to {MAX_JACK_PORTS}"
                    ));
                } else if !f.sample_rate.trim().is_empty()
                    && !sr.is_some_and(|r| (8000..=384_000).contains(&r))
                {
                    view.error("the sample rate must be a number of Hz between 8000 and 384000");
                } else if !f.buffer.trim().is_empty()
                    && !buf.is_some_and(|b| (16..=8192).contains(&b))
                {
                    view.error("the buffer must be between 16 and 8192 frames");
                } else if !f.threads.trim().is_empty()
                    && !threads.is_some_and(|n| (1..=MAX_THREADS).contains(&n))
                {
                    view.error(format!(
                        "the threads must be a number from 1 to {MAX_THREADS}, or empty for one per core"
                    ));
                } else {
                    keep = false;
                    actions.push(Action::Audio(
                        StreamOptions {
                            backend: f.backend,
                            device: (!f.device.is_empty()).then(|| f.device.clone()),
                            input_device: (!f.input_device.is_empty())
                                .then(|| f.input_device.clone()),
                            buffer: buf,
                            sample_rate: sr,
                            channels: 2,
                            inputs: inputs.unwrap_or(2),
                            connect: f.connect,
                        },
                        threads.unwrap_or(0),
                    ));
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
    if keep && view.dialog.is_none() {
        view.dialog = dialog;
    }
}
