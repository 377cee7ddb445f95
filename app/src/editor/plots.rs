//! What a probe shows, on its node and (larger) in the inspector: a scope
//! trace, a spectrum or a meter reading, chosen by the kind's `display`.

use super::live::Live;
use super::theme;
use bevy_egui::egui::{RichText, Ui};
use ohmpatch_engine::Display;
use ohmpatch_nodes::kinds::probes::{MeterProbe, ScopeProbe, SpectrumProbe};

/// A scope trace or a spectrum for a probe node; `big` in the inspector.
/// A probe's plot: fixed in place (no drag, zoom or scroll), no cursor
/// read-out, larger in the inspector (`big`).
fn small_plot(name: &str, id: &str, big: bool) -> egui_plot::Plot<'static> {
    let (w, h) = if big { (300.0, 160.0) } else { (200.0, 90.0) };
    egui_plot::Plot::new((name.to_string(), id.to_string(), big))
        .width(w)
        .height(h)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_x(false)
        .show_y(false)
}

pub fn probe_plot(ui: &mut Ui, live: &Live, id: &str, display: Display, big: bool) {
    match display {
        Display::Scope => {
            let Some(p) = live.engine.probe::<ScopeProbe>(id) else {
                ui.label("no signal");
                return;
            };
            let mut buf = Vec::new();
            let n = (p.sample_rate * 0.01) as usize; // 10 ms
            p.triggered(n.max(64), &mut buf);
            let pts: Vec<[f64; 2]> = buf
                .iter()
                .enumerate()
                .map(|(i, y)| [i as f64 * 1000.0 / p.sample_rate, f64::from(*y)])
                .collect();
            small_plot("ohmpatch-scope", id, big).show(ui, |pu| {
                pu.line(egui_plot::Line::new(format!("{} (ms)", p.unit()), pts))
            });
        }
        Display::Spectrum => {
            let Some(p) = live.engine.probe::<SpectrumProbe>(id) else {
                ui.label("no signal");
                return;
            };
            let off = p.offset_db();
            let pts: Vec<[f64; 2]> = p
                .spectrum_db(4096)
                .into_iter()
                .filter(|(f, _)| *f >= 20.0)
                .map(|(f, db)| [f.log10(), (db + off).max(-150.0)])
                .collect();
            small_plot("ohmpatch-spectrum", id, big)
                .x_axis_formatter(|m, _| format!("{:.0}", 10f64.powf(m.value)))
                .show(ui, |pu| {
                    pu.line(egui_plot::Line::new("level (log Hz)", pts))
                });
        }
        Display::Meter => {
            if let Some(p) = live.engine.probe::<MeterProbe>(id) {
                let r = p.reading();
                ui.label(
                    RichText::new(format!(
                        "rms {} {}   peak {} {}",
                        theme::fmt_db(r.rms_db),
                        r.unit,
                        theme::fmt_db(r.peak_db),
                        r.unit
                    ))
                    .monospace(),
                );
            }
        }
    }
}
