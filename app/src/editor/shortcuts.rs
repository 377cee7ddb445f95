//! The keyboard: shortcuts become actions (or open a dialog).

use super::dialogs::Dialog;
use super::{Action, Editor};
use bevy_egui::egui;

pub(super) fn read(ctx: &egui::Context, ed: &mut Editor, actions: &mut Vec<Action>) {
    use egui::{Key, KeyboardShortcut as K, Modifiers as M};
    let typing = ctx.egui_wants_keyboard_input();
    let cmd_shift = M::COMMAND | M::SHIFT;
    let selection = {
        let mut s = ed.canvas.selected(ctx);
        if s.is_empty()
            && let Some(f) = &ed.view.focused
        {
            s.push(f.clone());
        }
        s
    };
    ctx.input_mut(|i| {
        if i.consume_shortcut(&K::new(M::COMMAND, Key::S)) {
            if i.modifiers.shift || ed.doc.path.is_none() {
                ed.view.dialog = Some(Dialog::save_as(&ed.doc, None));
            } else {
                actions.push(Action::Save);
            }
        }
        if i.consume_shortcut(&K::new(M::COMMAND, Key::O)) {
            ed.view.dialog = Some(Dialog::Open {
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
            ed.view.palette = None;
            if matches!(ed.view.dialog, Some(Dialog::Shortcuts)) {
                ed.view.dialog = None;
            }
        }
    });
}
