//! The Measure window: the bench (`ohmpatch_nodes::bench`) on a path the
//! user picks from the wire menu ("Measure from here" / "Measure to here"),
//! run on a copy of the patch in a thread of its own so the editor and the
//! engine that plays are never held up; plots of the response, THD against
//! level, the noise spectrum and the load's impedance, each beside the
//! model's prediction, the figures, a re-run after edits and a PNG export
//! (the same drawing as `ohmpatch measure --png`).

use crate::cli::measure::plot;
use bevy_egui::egui::{self, Context, RichText, Ui};
use egui_plot::{Legend, Line, Plot, Points};
use ohmpatch_nodes::bench::{self, Options, Parts, Report, Setup};
use ohmpatch_patch::{Endpoint, Patch};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

#[derive(Default)]
pub struct Bench {
    pub open: bool,
    pub from: Option<Endpoint>,
    pub to: Option<Endpoint>,
    running: Option<Receiver<Result<Report, String>>>,
    report: Option<Report>,
    /// The patch the report was measured on, to say when it is stale.
    measured: Option<Patch>,
    note: Option<String>,
}

impl Bench {
    pub fn set_from(&mut self, e: Endpoint) {
        self.from = Some(e);
        self.open = true;
    }

    pub fn set_to(&mut self, e: Endpoint) {
        self.to = Some(e);
        self.open = true;
    }

    /// Both ends picked: measure, unless that path was measured last.
    pub fn run_if_new(&mut self, patch: &Patch, path: Option<&PathBuf>) {
        let same = self.report.as_ref().is_some_and(|r| {
            Some(r.from.as_str()) == self.from.as_ref().map(|e| e.to_string()).as_deref()
                && Some(r.to.as_str()) == self.to.as_ref().map(|e| e.to_string()).as_deref()
        });
        if !same && self.running.is_none() {
            self.start(
                patch,
                path.and_then(|p| p.parent().map(|d| d.to_path_buf())),
            );
        }
    }

    fn start(&mut self, patch: &Patch, dir: Option<PathBuf>) {
        let (Some(from), Some(to)) = (self.from.clone(), self.to.clone()) else {
            return;
        };
        let setup = Setup {
            patch: patch.clone(),
            sample_rate: 48_000.0,
            patch_dir: dir,
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let o = Options {
                from,
                to,
                level_db: None,
                parts: Parts::default(),
            };
            let _ = tx.send(bench::measure(&setup, &o));
        });
        self.running = Some(rx);
        self.measured = Some(patch.clone());
        self.note = None;
    }

    fn poll(&mut self) {
        let Some(rx) = &self.running else {
            return;
        };
        match rx.try_recv() {
            Ok(Ok(r)) => {
                self.report = Some(r);
                self.running = None;
            }
            Ok(Err(e)) => {
                self.note = Some(e);
                self.running = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.note = Some("the measurement stopped".into());
                self.running = None;
            }
        }
    }
}

/// The window, when open.
pub fn window(ctx: &Context, bench: &mut Bench, patch: &Patch, path: Option<&PathBuf>) {
    if !bench.open {
        return;
    }
    bench.poll();
    let mut open = bench.open;
    egui::Window::new("Measure")
        .order(egui::Order::Foreground)
        .open(&mut open)
        .default_size([760.0, 640.0])
        .show(ctx, |ui| body(ui, bench, patch, path));
    bench.open = open;
}

fn name(e: &Option<Endpoint>) -> String {
    e.as_ref()
        .map_or("— (pick a wire: Measure from/to here)".into(), |e| {
            e.to_string()
        })
}

fn body(ui: &mut Ui, bench: &mut Bench, patch: &Patch, path: Option<&PathBuf>) {
    ui.label(format!("from {}", name(&bench.from)));
    ui.label(format!("to   {}", name(&bench.to)));
    let dir = path.and_then(|p| p.parent().map(|d| d.to_path_buf()));
    ui.horizontal(|ui| {
        let ready = bench.from.is_some() && bench.to.is_some() && bench.running.is_none();
        let label = if bench.report.is_some() {
            "Re-run"
        } else {
            "Run"
        };
        if ui.add_enabled(ready, egui::Button::new(label)).clicked() {
            bench.start(patch, dir.clone());
        }
        if bench.running.is_some() {
            ui.spinner();
            ui.label("measuring on a copy of the patch…");
        }
        if let Some(r) = &bench.report
            && ui.button("Export PNG").clicked()
        {
            let file = dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(format!("measure-{}-{}.png", r.from, r.to).replace(['/', ' '], "_"));
            bench.note = Some(match plot::write_png(&file, r) {
                Ok(()) => format!("saved {}", file.display()),
                Err(e) => format!("{}: {e}", file.display()),
            });
        }
    });
    if bench.measured.as_ref().is_some_and(|m| m != patch) && bench.running.is_none() {
        ui.label(RichText::new("the patch changed since: re-run to measure it again").weak());
    }
    if let Some(n) = &bench.note {
        ui.label(n.as_str());
    }
    let Some(r) = &bench.report else {
        return;
    };
    figures(ui, r);
    egui::ScrollArea::vertical().show(ui, |ui| plots(ui, r));
}

fn figures(ui: &mut Ui, r: &Report) {
    ui.label(
        RichText::new(format!(
            "{} -> {}, nominal {:.1} {}",
            r.from, r.to, r.nominal, r.from_unit
        ))
        .strong(),
    );
    if let Some(n) = &r.noise {
        ui.label(format!(
            "noise {:.1} {u} ({:.1} {u} A-weighted), SNR {:.1} dB; model {:.1} {u}",
            n.total,
            n.a_weighted,
            n.snr_db,
            n.predicted,
            u = r.to_unit
        ));
    }
    let clip = |c: Option<bench::Clip>| {
        c.map_or("not reached".to_string(), |c| {
            format!("{:+.1} {}", c.level, r.from_unit)
        })
    };
    ui.label(format!(
        "THD 1 % at {}, 10 % at {}; model clips at {}",
        clip(r.clip_1pct),
        clip(r.clip_10pct),
        r.predicted
            .clip_level
            .map_or("—".into(), |l| format!("{l:+.1} {}", r.from_unit))
    ));
    if let Some((f, z)) = r.impedance_peak {
        ui.label(format!("load: |Z| peaks at {z:.2} Ω at {f:.1} Hz"));
    }
}

/// A plot with a log-frequency x axis (log10 Hz shown as Hz).
fn freq_plot(id: &str) -> Plot<'static> {
    Plot::new(id.to_string())
        .height(180.0)
        .legend(Legend::default())
        .x_axis_formatter(|m, _| format!("{:.0}", 10f64.powf(m.value)))
}

fn plots(ui: &mut Ui, r: &Report) {
    ui.label("response, dB (measured line, model points)");
    freq_plot("measure-response").show(ui, |pu| {
        let m: Vec<[f64; 2]> = r.response.iter().map(|p| [p.hz.log10(), p.db]).collect();
        pu.line(Line::new("measured", m));
        let p: Vec<[f64; 2]> = r
            .predicted
            .response
            .iter()
            .map(|(f, d)| [f.log10(), *d])
            .collect();
        pu.points(Points::new("model", p).radius(3.0));
    });
    ui.label(format!(
        "THD % at 1 kHz against the level at {} ({})",
        r.from, r.from_unit
    ));
    Plot::new("measure-thd")
        .height(180.0)
        .legend(Legend::default())
        .y_axis_formatter(|m, _| {
            let v = 10f64.powf(m.value);
            format!("{}", (v * 1e6).round() / 1e6)
        })
        .show(ui, |pu| {
            let t: Vec<[f64; 2]> = r
                .thd_vs_level
                .iter()
                .map(|p| [p.level, p.thd_pct.max(1e-6).log10()])
                .collect();
            pu.line(Line::new("THD", t));
            let n: Vec<[f64; 2]> = r
                .thd_vs_level
                .iter()
                .map(|p| [p.level, p.thdn_pct.max(1e-6).log10()])
                .collect();
            pu.line(Line::new("THD+N", n));
            if let Some(l) = r.predicted.clip_level {
                pu.vline(egui_plot::VLine::new("model clip", l));
            }
        });
    if let Some(n) = &r.noise {
        ui.label(format!("noise per 1/3 octave, {}", r.to_unit));
        freq_plot("measure-noise").show(ui, |pu| {
            let s: Vec<[f64; 2]> = n
                .spectrum
                .iter()
                .filter(|(_, l)| l.is_finite())
                .map(|(f, l)| [f.log10(), *l])
                .collect();
            pu.line(Line::new("measured", s));
            if n.predicted.is_finite() {
                pu.hline(egui_plot::HLine::new("model total", n.predicted));
            }
        });
    }
    if !r.impedance.is_empty() {
        ui.label(format!("|Z| of the load on {}, Ω", r.to));
        freq_plot("measure-z").show(ui, |pu| {
            let m: Vec<[f64; 2]> = r.impedance.iter().map(|p| [p.hz.log10(), p.ohm]).collect();
            pu.line(Line::new("measured", m));
            let p: Vec<[f64; 2]> = r
                .predicted
                .impedance
                .iter()
                .map(|(f, z, _)| [f.log10(), *z])
                .collect();
            pu.line(Line::new("model", p));
        });
    }
}
