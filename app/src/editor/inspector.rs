//! The inspector: the selected node's params (sliders with units, typed
//! entry, Shift-drag for fine steps, double-click for the default), its
//! ports, help, live levels and plots; the patch's name and description
//! when no node is selected.

use super::Action;
use super::live::{Live, wire_key};
use super::plots::probe_plot;
use super::theme::{self, domain_color};
use bevy_egui::egui::{self, RichText, Ui};
use ohmpatch_engine::Registry;
use ohmpatch_patch::{Direction, Domain, Edit, ParamKind, Patch, Taper, Value};

#[derive(Default)]
pub struct InspectorState {
    pub rename: String,
    pub renaming_for: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub text_params: std::collections::HashMap<String, String>,
}

#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut Ui,
    st: &mut InspectorState,
    patch: &Patch,
    registry: &Registry,
    live: &Live,
    focused: &Option<String>,
    gesture: u64,
    actions: &mut Vec<Action>,
) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        match focused
            .as_ref()
            .and_then(|id| patch.nodes.get(id).map(|n| (id, n)))
        {
            Some((id, node)) => node_ui(ui, st, patch, registry, live, id, node, gesture, actions),
            None => patch_ui(ui, st, patch, live, actions),
        }
    });
}

fn patch_ui(
    ui: &mut Ui,
    st: &mut InspectorState,
    patch: &Patch,
    live: &Live,
    actions: &mut Vec<Action>,
) {
    ui.heading("Patch");
    let name = st.name.get_or_insert_with(|| patch.name.clone());
    ui.label("Name");
    let r = ui.text_edit_singleline(name);
    if r.lost_focus() && *name != patch.name {
        actions.push(Action::Edit(Edit::SetName(name.clone())));
    }
    if !r.has_focus() && *name != patch.name && !r.lost_focus() {
        *name = patch.name.clone();
    }
    ui.label("Description");
    let d = st
        .description
        .get_or_insert_with(|| patch.description.clone());
    let r = ui.add(egui::TextEdit::multiline(d).desired_rows(4));
    if r.lost_focus() && *d != patch.description {
        actions.push(Action::Edit(Edit::SetDescription(d.clone())));
    }
    if !r.has_focus() && *d != patch.description && !r.lost_focus() {
        *d = patch.description.clone();
    }
    ui.separator();
    ui.label(format!(
        "{} nodes, {} wires",
        patch.nodes.len(),
        patch.wires.len()
    ));
    let warnings: usize = live.wires.values().map(|w| w.warnings.len()).sum::<usize>()
        + live.node_warnings.values().map(|w| w.len()).sum::<usize>();
    if warnings > 0 {
        let s = if warnings == 1 { "" } else { "s" };
        ui.label(RichText::new(format!("⚠ {warnings} warning{s}")).color(theme::WARN));
        for (at, ws) in &live.node_warnings {
            for w in ws {
                ui.label(
                    RichText::new(format!("{at}: {w}"))
                        .color(theme::WARN)
                        .small(),
                );
            }
        }
        for (at, info) in &live.wires {
            for w in &info.warnings {
                ui.label(
                    RichText::new(format!("{at}: {w}"))
                        .color(theme::WARN)
                        .small(),
                );
            }
        }
    }
    if let Some(report) = &live.report {
        super::staging::show(ui, report);
    }
    ui.separator();
    ui.label(RichText::new("Port domains").strong());
    for d in Domain::ALL {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
            ui.painter()
                .circle_filled(rect.center(), 6.0, domain_color(d));
            ui.label(format!("{} ({})", d.name(), theme::unit_of(d)));
        });
    }
    ui.separator();
    ui.label(RichText::new("Click a node to inspect it. Space or right-click adds a node; drag from a pin to wire it.").weak());
}

#[allow(clippy::too_many_arguments)]
fn node_ui(
    ui: &mut Ui,
    st: &mut InspectorState,
    patch: &Patch,
    registry: &Registry,
    live: &Live,
    id: &str,
    node: &ohmpatch_patch::Node,
    gesture: u64,
    actions: &mut Vec<Action>,
) {
    if st.renaming_for.as_deref() != Some(id) {
        st.renaming_for = Some(id.to_string());
        st.rename = id.to_string();
        st.text_params.clear();
    }
    ui.horizontal(|ui| {
        ui.label("Node");
        let r = ui.add(egui::TextEdit::singleline(&mut st.rename).desired_width(140.0));
        if r.lost_focus() && st.rename != id {
            actions.push(Action::Rename {
                from: id.to_string(),
                to: st.rename.clone(),
            });
        }
    });
    let Some(kind) = registry.of(node) else {
        ui.label(RichText::new(format!("unknown node kind \"{}\"", node.kind)).color(theme::ERROR));
        return;
    };
    let spec = kind.spec();
    ui.label(RichText::new(spec.kind.as_ref()).strong().size(16.0));
    ui.label(RichText::new(spec.help.as_ref()).weak());
    if let Some(ws) = live.node_warnings.get(id) {
        for w in ws {
            ui.label(RichText::new(format!("⚠ {w}")).color(theme::WARN));
        }
    }
    ui.separator();
    ui.label(RichText::new("Parameters").strong());
    ui.label(
        RichText::new("Drag the slider; type in the box; Shift-drag the box for fine steps; double-click for the default.")
            .small()
            .weak(),
    );
    egui::Grid::new(("params", id))
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (pi, p) in spec.params.iter().enumerate() {
                let g = gesture.wrapping_mul(1024).wrapping_add(pi as u64);
                let current = node.params.get(p.name.as_ref()).cloned();
                let is_default = current.is_none();
                let label = ui.label(if is_default {
                    RichText::new(p.name.as_ref())
                } else {
                    RichText::new(p.name.as_ref()).strong()
                });
                label.on_hover_text(p.help.as_ref());
                let set = |v: Option<Value>, merged: bool, actions: &mut Vec<Action>| {
                    let e = Edit::SetParam {
                        id: id.to_string(),
                        name: p.name.to_string(),
                        value: v,
                    };
                    actions.push(if merged {
                        Action::Merged(e, g)
                    } else {
                        Action::Edit(e)
                    });
                };
                ui.horizontal(|ui| match &p.kind {
                    ParamKind::Number {
                        min,
                        max,
                        default,
                        unit,
                        taper,
                        integer,
                    } => {
                        let mut v = current
                            .as_ref()
                            .and_then(|v| v.as_f64())
                            .unwrap_or(*default);
                        let before = v;
                        let log = *taper == Taper::Log && *min > 0.0;
                        let slider = egui::Slider::new(&mut v, *min..=*max)
                            .logarithmic(log)
                            .show_value(false);
                        let r1 = ui.add(slider).on_hover_text(p.help.as_ref());
                        let span = (max - min).abs().max(1e-9);
                        let mut dv = egui::DragValue::new(&mut v)
                            .range(*min..=*max)
                            .speed(span / 400.0)
                            .suffix(if unit.is_empty() {
                                String::new()
                            } else {
                                format!(" {unit}")
                            });
                        if *integer {
                            dv = dv.fixed_decimals(0);
                        } else {
                            dv = dv.max_decimals(3);
                        }
                        let r2 = ui.add(dv).on_hover_text(p.help.as_ref());
                        if r1.double_clicked() || r2.double_clicked() {
                            set(None, false, actions);
                        } else if v != before {
                            let v = if *integer { v.round() } else { v };
                            set(Some(Value::Number(v)), true, actions);
                        }
                    }
                    ParamKind::Choice { choices, default } => {
                        let cur = current
                            .as_ref()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| default.to_string());
                        let mut sel = cur.clone();
                        egui::ComboBox::from_id_salt((id, p.name.as_ref()))
                            .selected_text(&sel)
                            .show_ui(ui, |ui| {
                                for c in choices {
                                    ui.selectable_value(&mut sel, c.to_string(), c.as_ref());
                                }
                            });
                        if sel != cur {
                            set(Some(Value::Str(sel)), false, actions);
                        }
                    }
                    ParamKind::Bool { default } => {
                        let mut b = current
                            .as_ref()
                            .and_then(|v| v.as_bool())
                            .unwrap_or(*default);
                        if ui.checkbox(&mut b, "").changed() {
                            set(Some(Value::Bool(b)), false, actions);
                        }
                    }
                    // Text names what the node is (a plugin's URI): shown, not edited.
                    ParamKind::Text { default } => {
                        let cur = current
                            .as_ref()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| default.to_string());
                        ui.label(RichText::new(cur).monospace());
                    }
                    ParamKind::Path { default } => {
                        let cur = current
                            .as_ref()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| default.to_string());
                        let text = st
                            .text_params
                            .entry(p.name.to_string())
                            .or_insert(cur.clone());
                        let r = ui.add(
                            egui::TextEdit::singleline(text)
                                .desired_width(160.0)
                                .hint_text("file in the patch's folder"),
                        );
                        if r.lost_focus() && *text != cur {
                            set(Some(Value::Str(text.clone())), false, actions);
                        }
                        if !r.has_focus() && !r.lost_focus() {
                            *text = cur;
                        }
                    }
                });
                ui.end_row();
            }
        });
    // A plugin's control outputs, as it last wrote them: read-only.
    if let Some(co) = live
        .engine
        .probe::<ohmpatch_nodes::lv2::run::ControlOutputs>(id)
        && !co.names.is_empty()
    {
        ui.separator();
        ui.label(RichText::new("Plugin outputs").strong());
        for (name, v) in co.names.iter().zip(co.values()) {
            ui.label(RichText::new(format!("{name} = {v:.3}")).monospace());
        }
    }
    ui.separator();
    ui.label(RichText::new("Ports").strong());
    let view = super::canvas::node_view(registry, id, node);
    for p in &spec.ports {
        let domain = match p.direction {
            Direction::In => view.ins.iter().find(|x| x.name == p.name).map(|x| x.domain),
            Direction::Out => view
                .outs
                .iter()
                .find(|x| x.name == p.name)
                .map(|x| x.domain),
        }
        .unwrap_or(p.domain);
        ui.horizontal(|ui| {
            let arrow = if p.direction == Direction::In {
                "input"
            } else {
                "output"
            };
            ui.label(
                RichText::new(format!("{arrow} {} · {}", p.name, domain.name()))
                    .color(domain_color(domain)),
            )
            .on_hover_text(p.help.as_ref());
            if p.direction == Direction::Out
                && let Some(r) = live.engine.meter(id, &p.name)
            {
                let db = theme::level_db(f64::from(r.rms), domain);
                ui.label(
                    RichText::new(format!("{} {}", theme::fmt_db(db), theme::unit_of(domain)))
                        .monospace(),
                );
            }
        });
        if !p.help.is_empty() {
            ui.label(RichText::new(p.help.as_ref()).small().weak());
        }
    }
    let wires: Vec<_> = patch.wires_of(id).collect();
    if !wires.is_empty() {
        ui.separator();
        ui.label(RichText::new("Wires").strong());
        for w in wires {
            let key = wire_key(&w.from.to_string(), &w.to.to_string());
            ui.horizontal(|ui| {
                ui.label(format!("{} -> {}", w.from, w.to));
                if let Some(info) = live.wires.get(&key) {
                    ui.label(RichText::new(&info.expected).weak());
                }
                if ui
                    .small_button("x")
                    .on_hover_text("delete this wire")
                    .clicked()
                {
                    actions.push(Action::Disconnect(vec![w.clone()]));
                }
            });
            if let Some(info) = live.wires.get(&key) {
                for warn in &info.warnings {
                    ui.label(
                        RichText::new(format!("⚠ {warn}"))
                            .color(theme::WARN)
                            .small(),
                    );
                }
            }
        }
    }
    if let Some(d) = registry.of(node).and_then(|k| k.display()) {
        ui.separator();
        probe_plot(ui, live, id, d, true);
    }
}
