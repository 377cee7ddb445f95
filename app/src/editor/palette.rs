//! The searchable list of node kinds, used by the palette window, the
//! canvas's right-click menu and the menu for a wire dropped on empty space.

use super::{Action, Editor, NewNode};
use bevy_egui::egui::{self, RichText, Ui};
use ohmpatch_engine::{NodeKind, Registry};
use ohmpatch_patch::{Direction, Domain, Wire};

/// The open palette: where the node goes, and the wire it goes into.
pub struct Palette {
    pub pos: (f32, f32),
    pub split: Option<Wire>,
    /// Where the window opens (the pointer).
    pub screen: egui::Pos2,
}

/// Whether `kind` has a port of `dir` that can take a wire of `domain`: the
/// same domain, a mic input for an instrument, or any port of a kind that
/// follows the wire it is given (utilities and probes).
pub fn fits(kind: &dyn NodeKind, dir: Direction, domain: Domain) -> bool {
    let flexible = kind.follows_wire();
    kind.spec().ports.iter().any(|p| {
        p.direction == dir
            && (p.domain == domain
                || flexible
                || (dir == Direction::In
                    && p.domain == Domain::Mic
                    && domain == Domain::Instrument))
    })
}

/// One line of the list: what a pick adds (`NewNode::kind`), its title,
/// its help, and whether it is a plugin (listed in its own section).
pub struct Entry<'a> {
    pub pick: String,
    pub title: String,
    pub help: &'a str,
    pub plugin: bool,
}

/// Kinds and plugins matching `query` (every word is in the name or the
/// help, where a plugin's class is), best first, kinds before plugins.
pub fn matches<'a>(
    registry: &'a Registry,
    query: &str,
    fit: Option<(Direction, Domain)>,
) -> Vec<Entry<'a>> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    let kinds = registry
        .iter()
        .filter(|k| k.family_param().is_none())
        .map(|k| {
            (
                k.spec().kind.to_string(),
                k.spec().kind.to_string(),
                k,
                false,
            )
        });
    // A family's members (plugins), titled by the first words of their help.
    let members = registry
        .iter()
        .filter(|k| k.family_param().is_some())
        .flat_map(|f| registry.members(&f.spec().kind))
        .map(|(key, k)| {
            let s = k.spec();
            let title = s.help.split(" (").next().unwrap_or(key).to_string();
            (format!("{} {key}", s.kind), title, k, true)
        });
    let mut out: Vec<(bool, u8, Entry)> = kinds
        .chain(members)
        .filter(|(_, _, k, _)| fit.is_none_or(|(d, dom)| fits(*k, d, dom)))
        .filter_map(|(pick, title, k, plugin)| {
            let name = title.to_lowercase();
            let help = k.spec().help.to_lowercase();
            let entry = Entry {
                pick,
                title,
                help: k.spec().help.as_ref(),
                plugin,
            };
            if words.is_empty() {
                return Some((plugin, 2, entry));
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
            Some((plugin, rank, entry))
        })
        .collect();
    out.sort_by(|a, b| (a.0, a.1, &a.2.title).cmp(&(b.0, b.1, &b.2.title)));
    out.into_iter().map(|(_, _, e)| e).collect()
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
        return Some(s.pick.clone());
    }
    let mut picked = None;
    egui::ScrollArea::vertical()
        .max_height(320.0)
        .show(ui, |ui| {
            if found.is_empty() {
                ui.label(RichText::new("no node kind matches").weak());
            }
            let mut heading = false;
            for (k, s) in found.into_iter().enumerate() {
                if s.plugin && !heading {
                    heading = true;
                    ui.separator();
                    ui.label(RichText::new("Plugins (LV2)").strong());
                }
                let first_line = s.help.lines().next().unwrap_or("");
                let r = ui
                    .selectable_label(k == sel, RichText::new(s.title.as_str()).strong())
                    .on_hover_text(s.help);
                if k == sel && (down || up) {
                    r.scroll_to_me(None);
                }
                ui.add(egui::Label::new(RichText::new(first_line).small().weak()).wrap());
                if r.clicked() {
                    picked = Some(s.pick.clone());
                }
            }
        });
    picked
}

/// The palette window, when open; a pick becomes an `AddNode`.
pub(super) fn window(ctx: &egui::Context, ed: &mut Editor, actions: &mut Vec<Action>) {
    let Some(p) = &ed.view.palette else { return };
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
        picked = list(ui, &ed.registry, &mut ed.view.query, fit);
    });
    if let Some(kind) = picked {
        let p = ed.view.palette.take().expect("open");
        actions.push(Action::AddNode(NewNode {
            kind,
            pos: p.pos,
            from: None,
            to: None,
            split: p.split,
        }));
        ed.view.query.clear();
    } else if !open {
        ed.view.palette = None;
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    /// Plugins are found by name and by class, after the built-in kinds,
    /// and a pick names the family and the plugin's URI. Needs Debian's
    /// `guitarix-lv2` (scripts/setup.sh).
    #[test]
    fn plugins_are_searched_by_name_and_class() {
        let r = ohmpatch_nodes::registry_with_plugins();
        let ds1 = "lv2 http://guitarix.sourceforge.net/plugins/gx_bossds1_#_bossds1_";
        let by_name = matches(&r, "boss ds1", None);
        assert!(
            by_name.iter().any(|e| e.pick == ds1 && e.plugin),
            "GxBoss DS1 not found: run scripts/setup.sh (guitarix-lv2)"
        );
        let by_class = matches(&r, "simulator", None);
        assert!(by_class.iter().any(|e| e.title == "GxAmplifier-X"));
        assert!(by_class.iter().all(|e| e.plugin));
        // Kinds first; the family's placeholder is not offered.
        let all = matches(&r, "", None);
        assert!(!all[0].plugin && all.iter().all(|e| e.pick != "lv2"));
    }
}
