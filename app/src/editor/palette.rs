//! The searchable list of node kinds, used by the palette window, the
//! canvas's right-click menu and the menu for a wire dropped on empty space.

use bevy_egui::egui::{self, RichText, Ui};
use ohmpatch_engine::Registry;
use ohmpatch_patch::{Direction, Domain, KindSpec};

/// Whether `spec` has a port of `dir` that can take a wire of `domain`: the
/// same domain, a mic input for an instrument, or a kind whose domain is a
/// param (utilities and probes follow the wire).
pub fn fits(spec: &KindSpec, dir: Direction, domain: Domain) -> bool {
    let flexible = spec.param("domain").is_some();
    spec.ports.iter().any(|p| {
        p.direction == dir
            && (p.domain == domain
                || flexible
                || (dir == Direction::In
                    && p.domain == Domain::Mic
                    && domain == Domain::Instrument)
                || matches!(spec.kind, "meter" | "scope" | "spectrum" | "recorder"))
    })
}

/// Kinds matching `query` (every word is in the name or the help), best first.
pub fn matches<'a>(
    registry: &'a Registry,
    query: &str,
    fit: Option<(Direction, Domain)>,
) -> Vec<&'a KindSpec> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    let mut out: Vec<(u8, &KindSpec)> = registry
        .specs()
        .into_iter()
        .filter(|s| fit.is_none_or(|(d, dom)| fits(s, d, dom)))
        .filter_map(|s| {
            let name = s.kind.to_lowercase();
            let help = s.help.to_lowercase();
            if words.is_empty() {
                return Some((2, s));
            }
            if !words
                .iter()
                .all(|w| name.contains(w.as_str()) || help.contains(w.as_str()))
            {
                return None;
            }
            let rank = if name.starts_with(words[0].as_str()) {
                0
            } else if name.contains(words[0].as_str()) {
                1
            } else {
                2
            };
            Some((rank, s))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.kind.cmp(b.1.kind)));
    out.into_iter().map(|(_, s)| s).collect()
}

/// A search field and the matching kinds; returns the kind picked (a click,
/// or Enter for the highlighted one; arrow keys move the highlight).
pub fn list(
    ui: &mut Ui,
    registry: &Registry,
    query: &mut String,
    fit: Option<(Direction, Domain)>,
) -> Option<String> {
    ui.set_max_width(320.0);
    let field = ui.add(
        egui::TextEdit::singleline(query)
            .hint_text("type to filter…")
            .desired_width(220.0)
            .id(egui::Id::new("ohmpatch-palette-query")),
    );
    if !field.has_focus() {
        field.request_focus();
    }
    let found = matches(registry, query, fit);
    // Arrow keys move the highlight; Enter picks it. A new filter starts
    // again at the best match.
    let sel_id = egui::Id::new("ohmpatch-palette-sel");
    let (mut sel, last_query): (usize, String) = ui
        .data(|d| d.get_temp(sel_id))
        .unwrap_or((0, String::new()));
    if last_query != *query {
        sel = 0;
    }
    let (down, up, enter) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::ArrowDown),
            i.key_pressed(egui::Key::ArrowUp),
            i.key_pressed(egui::Key::Enter),
        )
    });
    if down {
        sel += 1;
    }
    if up {
        sel = sel.saturating_sub(1);
    }
    sel = sel.min(found.len().saturating_sub(1));
    ui.data_mut(|d| d.insert_temp(sel_id, (sel, query.clone())));
    let enter = enter && (field.has_focus() || field.lost_focus());
    if enter && let Some(s) = found.get(sel) {
        ui.data_mut(|d| d.remove::<(usize, String)>(sel_id));
        return Some(s.kind.to_string());
    }
    let mut picked = None;
    egui::ScrollArea::vertical()
        .max_height(320.0)
        .show(ui, |ui| {
            if found.is_empty() {
                ui.label(RichText::new("no node kind matches").weak());
            }
            for (k, s) in found.into_iter().enumerate() {
                let first_line = s.help.lines().next().unwrap_or("");
                let r = ui
                    .selectable_label(k == sel, RichText::new(s.kind).strong())
                    .on_hover_text(s.help);
                if k == sel && (down || up) {
                    r.scroll_to_me(None);
                }
                ui.add(egui::Label::new(RichText::new(first_line).small().weak()).wrap());
                if r.clicked() {
                    picked = Some(s.kind.to_string());
                }
            }
        });
    picked
}
