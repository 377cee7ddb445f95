//! The wires' meters drawn over the canvas: a level bar and the live level
//! at the middle of every wire, warnings, a tooltip, and the wire's menu.

use super::Action;
use super::canvas::Canvas;
use super::live::{Live, wire_key};
use super::theme::{self, domain_color};
use bevy_egui::egui::{self, Color32, Pos2, Rect, RichText, Ui};
use ohmpatch_patch::{Domain, Patch, Wire};

/// Level meters and warnings at the middle of every wire.
pub fn overlay(
    ui: &mut Ui,
    canvas: &mut Canvas,
    patch: &Patch,
    live: &Live,
    actions: &mut Vec<Action>,
) {
    let ctx = ui.ctx().clone();
    let pointer = ctx
        .pointer_hover_pos()
        .filter(|p| canvas.rect.contains(*p) && !canvas.blocked);
    let clicked = ctx.input(|i| i.pointer.primary_clicked());
    let mut opened = None;
    let pins_rc = canvas.pins.clone();
    let pins = pins_rc.borrow();
    let t = canvas.to_global;
    let painter = ui
        .ctx()
        .layer_painter(egui::LayerId::new(
            egui::Order::Middle,
            egui::Id::new("ohmpatch-wire-overlay"),
        ))
        .with_clip_rect(canvas.rect);
    let show_text = t.scaling >= 0.45;
    for w in &patch.wires {
        let (Some(a), Some(b)) = (
            pins.get(&(w.from.node.clone(), w.from.port.clone(), true)),
            pins.get(&(w.to.node.clone(), w.to.port.clone(), false)),
        ) else {
            continue;
        };
        let mid = t * Pos2::new((a.x + b.x) * 0.5, (a.y + b.y) * 0.5);
        if !canvas.rect.contains(mid) {
            continue;
        }
        let key = wire_key(&w.from.to_string(), &w.to.to_string());
        let info = live.wires.get(&key);
        let domain = info
            .and_then(|i| i.from_domain)
            .or_else(|| {
                canvas
                    .index
                    .get(&w.from.node)
                    .and_then(|n| canvas.snarl.get_node(*n))
                    .and_then(|v| v.outs.iter().find(|p| p.name == w.from.port))
                    .map(|p| p.domain)
            })
            .unwrap_or(Domain::Line);
        let reading = live.engine.meter(&w.from.node, &w.from.port);
        let rms_db = reading
            .map(|r| theme::level_db(f64::from(r.rms), domain))
            .unwrap_or(f64::NEG_INFINITY);
        let warned = info.is_some_and(|i| !i.warnings.is_empty());
        // A small bar: -60..+30 in the domain's unit (dB SPL: 30..130).
        let (lo, hi) = match domain {
            Domain::Acoustic => (30.0, 130.0),
            Domain::Digital => (-60.0, 0.0),
            _ => (-70.0, 25.0),
        };
        let frac = ((rms_db - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
        // Short wires get a shorter meter, so the pins stay visible.
        let span = ((t * *a) - (t * *b)).length();
        let roomy = span >= 110.0;
        let bar = Rect::from_center_size(mid, egui::vec2(if roomy { 44.0 } else { 20.0 }, 7.0));
        painter.rect_filled(bar, 2.0, Color32::from_black_alpha(200));
        let mut fill = bar;
        fill.max.x = bar.min.x + bar.width() * frac;
        painter.rect_filled(fill, 2.0, domain_color(domain));
        let stroke = if warned {
            egui::Stroke::new(2.0, theme::WARN)
        } else {
            egui::Stroke::new(1.0, Color32::from_gray(90))
        };
        painter.rect_stroke(bar, 2.0, stroke, egui::StrokeKind::Outside);
        if show_text {
            let text = if rms_db.is_finite() {
                format!("{:.1} {}", rms_db, theme::unit_of(domain))
            } else {
                format!("— {}", theme::unit_of(domain))
            };
            let text = if warned { format!("⚠ {text}") } else { text };
            painter.text(
                mid + egui::vec2(0.0, -11.0),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(11.0),
                if warned {
                    theme::WARN
                } else {
                    Color32::from_gray(220)
                },
            );
        }
        let hit = Rect::from_center_size(mid + egui::vec2(0.0, -4.0), egui::vec2(70.0, 24.0));
        // The Snarl's layer takes the pointer, so hover and clicks on the
        // meters are read from the input and shown in areas above it.
        let Some(p) = pointer.filter(|p| hit.contains(*p)) else {
            continue;
        };
        if clicked {
            opened = Some((w.clone(), mid));
        }
        if canvas.wire_menu.is_some() || clicked {
            continue;
        }
        egui::Area::new(egui::Id::new("ohmpatch-wire-tip"))
            .order(egui::Order::Tooltip)
            .fixed_pos(p + egui::vec2(14.0, 14.0))
            .interactable(false)
            .show(&ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(360.0);
                    ui.label(RichText::new(format!("{} -> {}", w.from, w.to)).strong());
                    if let Some(i) = info {
                        ui.label(format!("expected level: {}", i.expected));
                        for warn in &i.warnings {
                            ui.label(RichText::new(format!("⚠ {warn}")).color(theme::WARN));
                        }
                    }
                    ui.label(format!(
                        "live: {}",
                        if rms_db.is_finite() {
                            format!("{rms_db:.1} {} rms", theme::unit_of(domain))
                        } else {
                            "silent".into()
                        }
                    ));
                    ui.label(RichText::new("click: insert a node here or delete the wire").weak());
                });
            });
    }
    drop(pins);
    if let Some(m) = opened {
        canvas.wire_menu = Some(m);
        return;
    }
    let Some((w, mid)) = canvas.wire_menu.clone() else {
        return;
    };
    let r = egui::Area::new(egui::Id::new("ohmpatch-wire-menu"))
        .order(egui::Order::Foreground)
        .fixed_pos(mid + egui::vec2(0.0, 10.0))
        .show(&ctx, |ui| {
            egui::Frame::menu(ui.style())
                .show(ui, |ui| wire_menu(ui, &w, mid, canvas, actions))
                .inner
        });
    let outside = ctx.input(|i| {
        (i.pointer.any_pressed()
            && i.pointer
                .interact_pos()
                .is_some_and(|p| !r.response.rect.contains(p)))
            || i.key_pressed(egui::Key::Escape)
    });
    if r.inner || outside || !patch.wires.contains(&w) {
        canvas.wire_menu = None;
    }
}

fn wire_menu(ui: &mut Ui, w: &Wire, mid: Pos2, canvas: &Canvas, actions: &mut Vec<Action>) -> bool {
    ui.label(RichText::new(format!("{} -> {}", w.from, w.to)).strong());
    if ui.button("Insert node here…").clicked() {
        let g = canvas.to_graph(mid);
        actions.push(Action::OpenPalette {
            pos: (g.x - 60.0, g.y + 60.0),
            split: Some(w.clone()),
        });
        return true;
    }
    if ui.button("Delete wire").clicked() {
        actions.push(Action::Disconnect(vec![w.clone()]));
        return true;
    }
    ui.separator();
    if ui.button("Measure from here").clicked() {
        actions.push(Action::MeasureFrom(w.from.clone()));
        return true;
    }
    if ui.button("Measure to here").clicked() {
        actions.push(Action::MeasureTo(w.from.clone()));
        return true;
    }
    false
}
