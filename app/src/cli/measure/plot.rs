//! PNG plots of a measurement: four panels (response, THD against level,
//! noise spectrum, load impedance, or THD against frequency when the port
//! drives no load), log-frequency axes with units, the measurement and the
//! model's prediction in a legend. Drawn on a plain RGB raster written by
//! the `png` crate; text is rasterised with `ab_glyph` from the font egui
//! ships (`epaint_default_fonts`), so no system font is needed.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use ohmpatch_nodes::bench::Report;

const W: usize = 1600;
const H: usize = 1000;
type Rgb = [u8; 3];
const BG: Rgb = [255, 255, 255];
const GRID: Rgb = [225, 225, 225];
const AXIS: Rgb = [60, 60, 60];
const MEASURED: Rgb = [31, 119, 180];
const MODEL: Rgb = [230, 120, 20];
const EXTRA: Rgb = [44, 160, 44];

struct Canvas {
    px: Vec<Rgb>,
    font: FontRef<'static>,
}

impl Canvas {
    fn blend(&mut self, x: i64, y: i64, c: Rgb, a: f32) {
        if x < 0 || y < 0 || x >= W as i64 || y >= H as i64 {
            return;
        }
        let p = &mut self.px[y as usize * W + x as usize];
        for i in 0..3 {
            p[i] = (f32::from(p[i]) * (1.0 - a) + f32::from(c[i]) * a).round() as u8;
        }
    }

    /// A line `width` px wide, by stepping along it.
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb, width: f64) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()) * 2.0).ceil().max(1.0) as usize;
        let r = width / 2.0;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            for dy in (-r.ceil() as i64)..=(r.ceil() as i64) {
                for dx in (-r.ceil() as i64)..=(r.ceil() as i64) {
                    let d = ((dx * dx + dy * dy) as f64).sqrt();
                    if d <= r + 0.5 {
                        let a = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                        self.blend(x.round() as i64 + dx, y.round() as i64 + dy, c, a);
                    }
                }
            }
        }
    }

    fn dot(&mut self, (x, y): (f64, f64), c: Rgb, r: f64) {
        self.line((x, y), (x, y), c, 2.0 * r);
    }

    fn text_width(&self, s: &str, size: f32) -> f64 {
        let f = self.font.as_scaled(PxScale::from(size));
        s.chars()
            .map(|ch| f.h_advance(self.font.glyph_id(ch)))
            .sum::<f32>() as f64
    }

    /// Text with its left end at `x` and its middle at `y`.
    fn text(&mut self, s: &str, x: f64, y: f64, size: f32, c: Rgb) {
        let scale = PxScale::from(size);
        let font = self.font.clone();
        let f = font.as_scaled(scale);
        let mut pen = x as f32;
        let base = y as f32 + (f.ascent() + f.descent()) / 2.0;
        for ch in s.chars() {
            let id = font.glyph_id(ch);
            let g = id.with_scale_and_position(scale, point(pen, base));
            pen += f.h_advance(id);
            if let Some(o) = font.outline_glyph(g) {
                let b = o.px_bounds();
                let mut cover = Vec::new();
                o.draw(|gx, gy, a| cover.push((gx, gy, a)));
                for (gx, gy, a) in cover {
                    self.blend(b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64, c, a);
                }
            }
        }
    }
}

/// One panel's axes: the plot area in pixels and the data ranges.
struct Axes {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    xr: (f64, f64),
    yr: (f64, f64),
    log_x: bool,
    log_y: bool,
}

impl Axes {
    fn map(&self, x: f64, y: f64) -> (f64, f64) {
        let t = |v: f64, (a, b): (f64, f64), log: bool| {
            if log {
                (v.max(1e-30).ln() - a.ln()) / (b.ln() - a.ln())
            } else {
                (v - a) / (b - a)
            }
        };
        let tx = t(x, self.xr, self.log_x).clamp(-0.01, 1.01);
        let ty = t(y, self.yr, self.log_y).clamp(-0.01, 1.01);
        (self.x0 + tx * self.w, self.y0 + self.h - ty * self.h)
    }
}

fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if log {
        let mut v = Vec::new();
        let mut d = 10f64.powf(lo.log10().floor());
        while d <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let t = d * m;
                if t >= lo * 0.9999 && t <= hi * 1.0001 {
                    v.push(t);
                }
            }
            d *= 10.0;
        }
        v
    } else {
        let span = hi - lo;
        let raw = span / 6.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(raw);
        let mut t = (lo / step).ceil() * step;
        let mut v = Vec::new();
        while t <= hi + 1e-9 {
            v.push(t);
            t += step;
        }
        v
    }
}

fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 && (a / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if a >= 1.0 || a == 0.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        format!("{v}")
    }
}

/// Frame, grid, ticks, title, axis names and legend of one panel.
fn frame(c: &mut Canvas, a: &Axes, title: &str, xname: &str, yname: &str, legend: &[(&str, Rgb)]) {
    for t in ticks(a.xr.0, a.xr.1, a.log_x) {
        let (x, _) = a.map(t, a.yr.0);
        c.line((x, a.y0), (x, a.y0 + a.h), GRID, 1.0);
        let s = label(t);
        let w = c.text_width(&s, 14.0);
        c.text(&s, x - w / 2.0, a.y0 + a.h + 14.0, 14.0, AXIS);
    }
    for t in ticks(a.yr.0, a.yr.1, a.log_y) {
        let (_, y) = a.map(a.xr.0, t);
        c.line((a.x0, y), (a.x0 + a.w, y), GRID, 1.0);
        let s = label(t);
        let w = c.text_width(&s, 14.0);
        c.text(&s, a.x0 - w - 6.0, y, 14.0, AXIS);
    }
    let (x1, y1) = (a.x0 + a.w, a.y0 + a.h);
    for (p, q) in [
        ((a.x0, a.y0), (x1, a.y0)),
        ((x1, a.y0), (x1, y1)),
        ((x1, y1), (a.x0, y1)),
        ((a.x0, y1), (a.x0, a.y0)),
    ] {
        c.line(p, q, AXIS, 1.0);
    }
    c.text(title, a.x0, a.y0 - 36.0, 18.0, AXIS);
    let w = c.text_width(xname, 14.0);
    c.text(xname, a.x0 + a.w - w, a.y0 + a.h + 34.0, 14.0, AXIS);
    c.text(yname, a.x0 - 60.0, a.y0 - 12.0, 14.0, AXIS);
    let mut ly = a.y0 + 14.0;
    for (name, col) in legend {
        let w = c.text_width(name, 14.0);
        let lx = a.x0 + a.w - w - 40.0;
        c.line((lx, ly), (lx + 24.0, ly), *col, 3.0);
        c.text(name, lx + 30.0, ly, 14.0, AXIS);
        ly += 20.0;
    }
}

fn polyline(c: &mut Canvas, a: &Axes, pts: &[(f64, f64)], col: Rgb) {
    let ok: Vec<(f64, f64)> = pts
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| a.map(*x, *y))
        .collect();
    for w in ok.windows(2) {
        c.line(w[0], w[1], col, 2.5);
    }
}

fn range(vals: impl Iterator<Item = f64>, pad: f64, min_span: f64) -> (f64, f64) {
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let mid = (lo + hi) / 2.0;
    let half = ((hi - lo) / 2.0 + pad).max(min_span / 2.0);
    (mid - half, mid + half)
}

pub fn write_png(file: &std::path::Path, r: &Report) -> Result<(), String> {
    let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|e| format!("font: {e}"))?;
    let mut c = Canvas {
        px: vec![BG; W * H],
        font,
    };
    c.text(
        &format!(
            "{} -> {}   ({} Hz; nominal level {:.1} {})",
            r.from, r.to, r.sample_rate, r.nominal, r.from_unit
        ),
        30.0,
        22.0,
        20.0,
        AXIS,
    );
    let panel = |i: usize| {
        let (col, row) = (i % 2, i / 2);
        (
            100.0 + col as f64 * 790.0,
            100.0 + row as f64 * 460.0,
            660.0,
            350.0,
        )
    };
    let gain_unit = if r.from_unit == r.to_unit {
        "dB".to_string()
    } else {
        format!("dB ({} re {})", r.to_unit, r.from_unit)
    };
    // Response.
    let (x0, y0, w, h) = panel(0);
    let yr = range(
        r.response
            .iter()
            .map(|p| p.db)
            .chain(r.predicted.response.iter().map(|p| p.1))
            .filter(|v| *v > -150.0),
        3.0,
        6.0,
    );
    let a = Axes {
        x0,
        y0,
        w,
        h,
        xr: (20.0, 20_000.0),
        yr,
        log_x: true,
        log_y: false,
    };
    frame(
        &mut c,
        &a,
        "Frequency response",
        "Hz",
        &gain_unit,
        &[("measured", MEASURED), ("model", MODEL)],
    );
    let pts: Vec<_> = r.response.iter().map(|p| (p.hz, p.db)).collect();
    polyline(&mut c, &a, &pts, MEASURED);
    for (f, d) in &r.predicted.response {
        c.dot(a.map(*f, *d), MODEL, 4.0);
    }
    // THD against level.
    let (x0, y0, w, h) = panel(1);
    let xr = range(r.thd_vs_level.iter().map(|p| p.level), 1.0, 10.0);
    let lo = r
        .thd_vs_level
        .iter()
        .map(|p| p.thd_pct)
        .filter(|v| *v > 0.0)
        .fold(100.0f64, f64::min);
    let yr = (10f64.powf(lo.max(1e-6).log10().floor()), 100.0);
    let a = Axes {
        x0,
        y0,
        w,
        h,
        xr,
        yr,
        log_x: false,
        log_y: true,
    };
    let title = format!("THD at 1 kHz against level at {}", r.from);
    frame(
        &mut c,
        &a,
        &title,
        r.from_unit,
        "THD %",
        &[("THD", MEASURED), ("THD+N", EXTRA), ("model clip", MODEL)],
    );
    let pts: Vec<_> = r
        .thd_vs_level
        .iter()
        .map(|p| (p.level, p.thd_pct))
        .collect();
    polyline(&mut c, &a, &pts, MEASURED);
    let pts: Vec<_> = r
        .thd_vs_level
        .iter()
        .map(|p| (p.level, p.thdn_pct))
        .collect();
    polyline(&mut c, &a, &pts, EXTRA);
    if let Some(l) = r.predicted.clip_level {
        c.line(a.map(l, yr.0), a.map(l, yr.1), MODEL, 2.0);
    }
    for (name, clip) in [("1 %", r.clip_1pct), ("10 %", r.clip_10pct)] {
        if let Some(k) = clip {
            let p = a.map(k.level, if name == "1 %" { 1.0 } else { 10.0 });
            c.dot(p, MEASURED, 5.0);
            c.text(
                &format!("{name} at {:+.1}", k.level),
                p.0 - 90.0,
                p.1 - 14.0,
                14.0,
                AXIS,
            );
        }
    }
    // Noise.
    let (x0, y0, w, h) = panel(2);
    if let Some(n) = &r.noise {
        let yr = range(
            n.spectrum.iter().map(|p| p.1).chain([n.total, n.predicted]),
            5.0,
            20.0,
        );
        let a = Axes {
            x0,
            y0,
            w,
            h,
            xr: (20.0, 20_000.0),
            yr,
            log_x: true,
            log_y: false,
        };
        let title = format!(
            "Noise at {}: {:.1} {u}, {:.1} {u}(A), SNR {:.1} dB; model {:.1}",
            r.to,
            n.total,
            n.a_weighted,
            n.snr_db,
            n.predicted,
            u = r.to_unit
        );
        frame(
            &mut c,
            &a,
            &title,
            "Hz",
            &format!("{} per 1/3 octave", r.to_unit),
            &[
                ("measured", MEASURED),
                ("total", EXTRA),
                ("model total", MODEL),
            ],
        );
        polyline(&mut c, &a, &n.spectrum, MEASURED);
        for (v, col) in [(n.total, EXTRA), (n.predicted, MODEL)] {
            c.line(a.map(20.0, v), a.map(20_000.0, v), col, 1.5);
        }
    }
    // Impedance, or THD against frequency.
    let (x0, y0, w, h) = panel(3);
    if !r.impedance.is_empty() {
        let yr = range(
            r.impedance
                .iter()
                .map(|p| p.ohm)
                .chain(r.predicted.impedance.iter().map(|p| p.1)),
            0.0,
            1.0,
        );
        let yr = (yr.0.max(1e-3) * 0.8, yr.1 * 1.25);
        let a = Axes {
            x0,
            y0,
            w,
            h,
            xr: (20.0, 20_000.0),
            yr,
            log_x: true,
            log_y: true,
        };
        let title = match r.impedance_peak {
            Some((f, z)) => format!("Load on {}: |Z| peaks {z:.1} Ω at {f:.1} Hz", r.to),
            None => format!("Load on {}", r.to),
        };
        frame(
            &mut c,
            &a,
            &title,
            "Hz",
            "|Z| Ω",
            &[("measured", MEASURED), ("model", MODEL)],
        );
        let pts: Vec<_> = r.predicted.impedance.iter().map(|p| (p.0, p.1)).collect();
        polyline(&mut c, &a, &pts, MODEL);
        let pts: Vec<_> = r.impedance.iter().map(|p| (p.hz, p.ohm)).collect();
        polyline(&mut c, &a, &pts, MEASURED);
    } else {
        let lo = r
            .thd_vs_freq
            .iter()
            .map(|p| p.thd_pct)
            .filter(|v| *v > 0.0)
            .fold(100.0f64, f64::min);
        let yr = (10f64.powf(lo.max(1e-6).log10().floor()), 100.0);
        let a = Axes {
            x0,
            y0,
            w,
            h,
            xr: (20.0, 20_000.0),
            yr,
            log_x: true,
            log_y: true,
        };
        frame(
            &mut c,
            &a,
            "THD at the nominal level",
            "Hz",
            "THD %",
            &[("THD", MEASURED), ("THD+N", EXTRA)],
        );
        let pts: Vec<_> = r.thd_vs_freq.iter().map(|p| (p.hz, p.thd_pct)).collect();
        polyline(&mut c, &a, &pts, MEASURED);
        let pts: Vec<_> = r.thd_vs_freq.iter().map(|p| (p.hz, p.thdn_pct)).collect();
        polyline(&mut c, &a, &pts, EXTRA);
    }
    write(file, &c.px)
}

fn write(file: &std::path::Path, px: &[Rgb]) -> Result<(), String> {
    let f = std::fs::File::create(file).map_err(|e| e.to_string())?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), W as u32, H as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    let data: Vec<u8> = px.iter().flatten().copied().collect();
    w.write_image_data(&data).map_err(|e| e.to_string())
}
