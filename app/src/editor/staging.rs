//! The gain-staging view: for each output, its main chain from a source,
//! stage by stage, as a bar from the noise floor up to the signal (the SNR)
//! and on to the clip point (the headroom). Where a mic meets a power amp the
//! SNR bar shrinks; where a stage runs out of headroom the bar turns red.

use super::theme;
use bevy_egui::egui::{self, Color32, RichText, Ui};
use ohmpatch_engine::analysis::{Analysis, Levels};

/// dB the bar's full width stands for.
const SPAN_DB: f32 = 140.0;
const BAR_W: f32 = 130.0;

pub fn show(ui: &mut Ui, report: &Analysis) {
    if report.staging.iter().all(|s| s.wires.is_empty()) {
        return;
    }
    ui.separator();
    ui.label(RichText::new("Gain staging").strong());
    ui.label(
        RichText::new(
            "each stage: noise floor to signal (SNR, coloured), then to clip (headroom, grey)",
        )
        .small()
        .weak(),
    );
    for strip in &report.staging {
        let Some(&first) = strip.wires.first() else {
            continue;
        };
        ui.label(
            RichText::new(format!("into {}", strip.output))
                .small()
                .strong(),
        );
        ui.label(RichText::new(&report.wires[first].from.node).small());
        for &i in &strip.wires {
            let w = &report.wires[i];
            row(ui, &format!("· {}", w.to.node), &w.levels);
        }
        if let Some(o) = report.outputs.iter().find(|o| o.node == strip.output) {
            row(ui, "· converter", &o.levels);
        }
    }
}

/// SNR colour: fine, marginal, poor.
fn snr_color(snr: f64) -> Color32 {
    if snr >= 70.0 {
        Color32::from_rgb(0x4c, 0xaf, 0x50)
    } else if snr >= 50.0 {
        Color32::from_rgb(0xff, 0xa7, 0x26)
    } else {
        Color32::from_rgb(0xef, 0x53, 0x50)
    }
}

fn row(ui: &mut Ui, name: &str, l: &Levels) {
    ui.horizontal(|ui| {
        ui.add_sized(
            [96.0, 14.0],
            egui::Label::new(RichText::new(name).small()).truncate(),
        );
        let (rect, resp) = ui.allocate_exact_size(egui::vec2(BAR_W, 10.0), egui::Sense::hover());
        let p = ui.painter();
        p.rect_filled(rect, 2.0, Color32::from_gray(40));
        let px = |db: f64| (db.clamp(0.0, f64::from(SPAN_DB)) as f32 / SPAN_DB) * BAR_W;
        let snr = if l.snr_db.is_finite() {
            l.snr_db
        } else {
            f64::from(SPAN_DB)
        };
        let snr_w = px(snr);
        let mut r = rect;
        r.set_width(snr_w);
        p.rect_filled(r, 2.0, snr_color(snr));
        if l.headroom_db.is_finite() {
            let head = l.headroom_db;
            if head < 0.0 {
                p.rect_stroke(
                    rect,
                    2.0,
                    egui::Stroke::new(1.5, theme::WARN),
                    egui::StrokeKind::Inside,
                );
            } else {
                let mut h = rect;
                h.set_left(rect.left() + snr_w);
                h.set_width(px(head).min(BAR_W - snr_w));
                p.rect_filled(h, 2.0, Color32::from_gray(110));
            }
        }
        ui.label(
            RichText::new(format!("{} {}", theme::fmt_db(l.signal_db), l.unit))
                .small()
                .monospace(),
        );
        resp.on_hover_text(format!(
            "signal {} {u}\nnoise {} {u}\nSNR {}\nheadroom {}",
            theme::fmt_db(l.signal_db),
            theme::fmt_db(l.noise_db),
            if l.snr_db.is_finite() {
                format!("{:.1} dB", l.snr_db)
            } else {
                "—".into()
            },
            if l.headroom_db.is_finite() {
                format!("{:+.1} dB", l.headroom_db)
            } else {
                "∞".into()
            },
            u = l.unit
        ));
    });
}
