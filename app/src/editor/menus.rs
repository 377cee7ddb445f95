//! The menu bar, the status bar and the message banner.

use super::dialogs::{AudioForm, Dialog};
use super::{Action, Editor, files, theme};
use bevy_egui::egui::{self, Color32, RichText};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(super) fn menu_bar(root: &mut egui::Ui, ed: &mut Editor, actions: &mut Vec<Action>) {
    egui::Panel::top("menu").show(root, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New            Ctrl+N").clicked() {
                    actions.push(Action::New);
                }
                if ui.button("Open…          Ctrl+O").clicked() {
                    ed.view.dialog = Some(Dialog::Open {
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
                    ed.view.dialog = Some(Dialog::save_as(&ed.doc, None));
                }
                if ui.button("Export bundle…").clicked() {
                    ed.view.dialog = Some(Dialog::export(&ed.doc));
                }
                ui.menu_button("Examples", |ui| {
                    for (path, name, description) in files::examples() {
                        let b = ui.button(name);
                        let b = if description.is_empty() {
                            b
                        } else {
                            b.on_hover_text(description)
                        };
                        if b.clicked() {
                            actions.push(Action::Open(path));
                        }
                    }
                });
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
                        && let Some(f) = &ed.view.focused
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
                    let listed = ohmpatch_engine::backend::list_devices();
                    let names = |input: bool| {
                        listed
                            .iter()
                            .filter(|d| d.host == "alsa")
                            .filter(|d| {
                                if input {
                                    d.input_channels.is_some()
                                } else {
                                    d.channels.is_some()
                                }
                            })
                            .map(|d| d.name.to_string())
                            .collect()
                    };
                    let s = ed.live.stream().map(|s| s.choice.clone());
                    let opts = ed.live.opts();
                    ed.view.dialog = Some(Dialog::Audio(AudioForm {
                        backend: opts.backend,
                        device: opts.device.clone().unwrap_or_default(),
                        input_device: opts.input_device.clone().unwrap_or_default(),
                        inputs: opts.inputs.to_string(),
                        connect: opts.connect,
                        input_devices: names(true),
                        sample_rate: s
                            .as_ref()
                            .map(|c| c.sample_rate.to_string())
                            .unwrap_or_else(|| "48000".into()),
                        buffer: s
                            .and_then(|c| c.buffer)
                            .map(|b| b.to_string())
                            .unwrap_or_default(),
                        devices: names(false),
                        threads: match ed.live.threads {
                            0 => String::new(),
                            n => n.to_string(),
                        },
                        per_core: ohmpatch_engine::EngineConfig {
                            threads: 0,
                            ..Default::default()
                        }
                        .thread_count(),
                    }));
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard and mouse").clicked() {
                    ed.view.dialog = Some(Dialog::Shortcuts);
                }
            });
            ui.separator();
            ui.label(
                RichText::new(ed.title().trim_end_matches(" — ohmpatch").to_string()).strong(),
            );
        });
    });
}

pub(super) fn status_bar(root: &mut egui::Ui, ed: &mut Editor) {
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
            if !ed.live.thread_loads.is_empty() {
                let parallel = ed.live.engine.stats().parallel.load(Ordering::Relaxed);
                let text = crate::cli::thread_loads(&ed.live.thread_loads, parallel);
                ui.label(RichText::new(format!("threads {text}")).color(Color32::GRAY))
                    .on_hover_text(format!(
                        "Each thread's share of the time, the audio thread first; workers: {}",
                        ohmpatch_engine::WorkerPriority::decode(
                            ed.live.engine.stats().worker_rt.load(Ordering::Relaxed)
                        )
                        .describe()
                    ));
            }
            if let Some(l) = ed.live.latency_line() {
                ui.separator();
                ui.label(RichText::new(format!("latency {l}")).color(Color32::GRAY));
            }
            ui.separator();
            ui.label(RichText::new(format!("xruns {}", ed.live.xruns)).color(
                if ed.live.xruns > 0 {
                    theme::WARN
                } else {
                    Color32::GRAY
                },
            ));
            if let Some(peak) = ed.live.input_peak {
                ui.separator();
                let db = crate::cli::dbfs(f64::from(peak));
                ui.label(
                    RichText::new(format!("in {db} dBFS")).color(if peak >= 1.0 {
                        theme::ERROR
                    } else {
                        Color32::GRAY
                    }),
                );
                ui.label(
                    RichText::new(format!("in xruns {}", ed.live.input_xruns)).color(
                        if ed.live.input_xruns > 0 {
                            theme::WARN
                        } else {
                            Color32::GRAY
                        },
                    ),
                );
            }
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
            } else if let Some((id, n)) = slow_plugin(ed) {
                ui.separator();
                ui.label(
                    RichText::new(format!(
                        "plugin node \"{id}\" took longer than real time {n} times"
                    ))
                    .color(theme::WARN),
                );
            }
        });
    });
}

/// Messages at the top of the canvas; errors stay until dismissed.
pub(super) fn banner(ui: &mut egui::Ui, ed: &mut Editor) {
    ed.view
        .messages
        .retain(|m| m.error || m.at.elapsed() < Duration::from_secs(6));
    if ed.view.messages.len() > 6 {
        let n = ed.view.messages.len() - 6;
        ed.view.messages.drain(..n);
    }
    if ed.view.messages.is_empty() {
        return;
    }
    let mut dismiss = None;
    egui::Frame::new()
        .fill(Color32::from_rgb(0x20, 0x20, 0x26))
        .inner_margin(6.0)
        .show(ui, |ui| {
            for (k, m) in ed.view.messages.iter().enumerate() {
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
        ed.view.messages.remove(k);
    }
}

/// An LV2 plugin that has run slower than real time, and how often.
fn slow_plugin(ed: &Editor) -> Option<(String, u32)> {
    ed.doc.patch.nodes.keys().find_map(|id| {
        let n = ed
            .live
            .engine
            .probe::<ohmpatch_nodes::lv2::run::ControlOutputs>(id)?
            .slow_runs();
        (n > 0).then(|| (id.clone(), n))
    })
}
