//! The measurement bench: what an audio analyser reads off a path, measured
//! on a rendered private copy of the patch (`rig`), with the analysis'
//! prediction for the same path beside each figure.
//!
//! A path runs from an output port (`from`, where a generator replaces the
//! port's own signal, with the port's domain and source impedance, so every
//! load is loaded as before) to an output port (`to`, recorded by a tap that
//! presents no load). The patch's other signal sources are silenced, as a
//! bench disconnects the other inputs; its noise sources stay.
//!
//! - response: exponential sine sweep, deconvolved (`sweep`), at 1/24-octave
//!   points, relative to the level at `from` (as a two-channel analyser
//!   reads it), with the group delay and the phase after the pure delay;
//! - distortion: stepped sines on exact bins (`steps`): THD and THD+N at the
//!   1/3-octave centres at the nominal level, and against level at 1 kHz,
//!   with the levels where THD reaches 1 % and 10 %;
//! - noise: `to` with no signal anywhere, total and A-weighted over
//!   20 Hz–20 kHz, 1/3-octave bands, and the SNR to the nominal level;
//! - impedance: the load `to` drives, seen through a known resistor.
//!
//! The four measurements render on engines of their own, in parallel.

pub mod kinds;
mod noise;
mod predict;
pub use noise::floors as noise_floors;
pub mod rig;
pub mod steps;
pub mod sweep;

use ohmpatch_engine::analysis::{Level, levels};
use ohmpatch_engine::dsp::{DBU_REF_V, dbu_to_v, spl_to_pa};
use ohmpatch_engine::{Impedance, PortElectrical};
use ohmpatch_patch::{Domain, Endpoint};
pub use rig::Setup;
use rig::{Rig, electrical};
use std::collections::HashSet;
use std::sync::Arc;
use steps::{Timing, Tone};

/// Which measurements to make.
#[derive(Clone, Copy, Debug)]
pub struct Parts {
    pub response: bool,
    /// THD against frequency at the nominal level.
    pub thd_freq: bool,
    /// THD against level at 1 kHz, and the clip points.
    pub thd_level: bool,
    pub noise: bool,
    pub impedance: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            response: true,
            thd_freq: true,
            thd_level: true,
            noise: true,
            impedance: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The nominal level at `from` in its unit (dBu, dB SPL, dBFS); `None`:
    /// the level `check` predicts there, else the domain's usual level.
    pub level_db: Option<f64>,
    pub parts: Parts,
}

#[derive(Clone, Debug)]
pub struct ResponsePoint {
    pub hz: f64,
    pub db: f64,
    pub phase_deg: f64,
    pub group_delay_ms: f64,
}

#[derive(Clone, Debug)]
pub struct ThdPoint {
    pub hz: f64,
    pub thd_pct: f64,
    pub thdn_pct: f64,
    /// H2…H5 relative to the fundamental, dB.
    pub harmonics_dbc: [f64; 4],
}

#[derive(Clone, Debug)]
pub struct LevelPoint {
    /// Level at `from`, in its unit.
    pub level: f64,
    /// Level of the fundamental at `to`, in its unit.
    pub out_level: f64,
    pub thd_pct: f64,
    pub thdn_pct: f64,
    pub harmonics_dbc: [f64; 4],
}

/// Where THD reaches a figure: level at `from` and at `to`.
#[derive(Clone, Copy, Debug)]
pub struct Clip {
    pub level: f64,
    pub out_level: f64,
}

#[derive(Clone, Debug)]
pub struct Noise {
    /// 20 Hz–20 kHz rms at `to`, dB in its unit.
    pub total: f64,
    pub a_weighted: f64,
    pub snr_db: f64,
    /// 1/3-octave bands: (centre Hz, dB in the unit).
    pub spectrum: Vec<(f64, f64)>,
    /// `check`'s noise floor for the same port.
    pub predicted: f64,
}

#[derive(Clone, Debug)]
pub struct ZPoint {
    pub hz: f64,
    pub ohm: f64,
    pub phase_deg: f64,
}

/// What the analysis predicts for the path, to draw beside the figures.
#[derive(Clone, Debug, Default)]
pub struct Prediction {
    /// Gain from `from` to `to` at the 1/3-octave centres: (Hz, dB).
    pub response: Vec<(f64, f64)>,
    /// The level at `from` where the first stage on the path clips.
    pub clip_level: Option<f64>,
    /// The load's model at the 1/24-octave points: (Hz, |Z|, phase °).
    pub impedance: Vec<(f64, f64, f64)>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub sample_rate: f64,
    pub from_unit: &'static str,
    pub to_unit: &'static str,
    /// The nominal level at `from` the distortion and SNR refer to.
    pub nominal: f64,
    /// The pure delay taken out of the phase, ms.
    pub delay_ms: f64,
    pub response: Vec<ResponsePoint>,
    pub thd_vs_freq: Vec<ThdPoint>,
    pub thd_vs_level: Vec<LevelPoint>,
    pub clip_1pct: Option<Clip>,
    pub clip_10pct: Option<Clip>,
    pub noise: Option<Noise>,
    pub impedance: Vec<ZPoint>,
    /// The load's first resonance (the lowest local maximum of |Z|), found
    /// between the points: (Hz, Ω).
    pub impedance_peak: Option<(f64, f64)>,
    pub predicted: Prediction,
}

/// A level (rms) in its domain's dB unit.
pub fn to_db(rms: f64, domain: Domain) -> f64 {
    let l = Level {
        signal: rms,
        noise: 0.0,
        clip: f64::INFINITY,
    };
    levels(l, domain).signal_db
}

/// The inverse of [`to_db`].
pub fn from_db(db: f64, domain: Domain) -> f64 {
    match domain {
        Domain::Acoustic => spl_to_pa(db),
        Domain::Digital => std::f64::consts::FRAC_1_SQRT_2 * 10f64.powf(db / 20.0),
        _ => dbu_to_v(db),
    }
}

/// The usual operating level of a domain, when the patch plays nothing there.
fn usual_level(domain: Domain) -> f64 {
    match domain {
        Domain::Acoustic => 94.0,
        Domain::Mic => -40.0,
        Domain::Instrument => -10.0,
        Domain::Speaker => 20.0,
        Domain::Digital => -18.0,
        _ => 4.0,
    }
}

/// The 1/24-octave points from 20 Hz to 20 kHz.
pub fn points_24() -> Vec<f64> {
    (0..240)
        .map(|k| 20.0 * 2f64.powf(k as f64 / 24.0))
        .collect()
}

/// The 1/3-octave centres from 20 Hz to 20 kHz (base 2, as in IEC 61260).
pub fn points_3() -> Vec<f64> {
    (0..31)
        .map(|k| 1000.0 * 2f64.powf((k as f64 - 17.0) / 3.0))
        .collect()
}

/// Nodes downstream of `from`'s node and upstream of `to`'s, both ends in.
fn path_nodes(patch: &ohmpatch_patch::Patch, from: &str, to: &str) -> HashSet<String> {
    let reach = |start: &str, forward: bool| {
        let mut seen: HashSet<String> = HashSet::from([start.to_string()]);
        let mut stack = vec![start.to_string()];
        while let Some(n) = stack.pop() {
            for w in &patch.wires {
                let (a, b) = if forward {
                    (&w.from.node, &w.to.node)
                } else {
                    (&w.to.node, &w.from.node)
                };
                if *a == n && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let down = reach(from, true);
    let up = reach(to, false);
    down.intersection(&up).cloned().collect()
}

/// The rig that drives `from` at `emf` rms (open circuit) and taps both ends.
struct Drive {
    rig: Rig,
    from_tap: usize,
    to_tap: usize,
    /// The generator's port and the port recorded at the far end.
    gen_out: Endpoint,
    to: Endpoint,
}

fn drive_rig(
    setup: &Setup,
    o: &Options,
    el: &PortElectrical,
    emf: f64,
    signal: Arc<Vec<f32>>,
) -> Result<Drive, String> {
    let registry = crate::registry();
    let mut rig = Rig::new(setup, &registry, Some(&o.from))?;
    let gen_out = rig.drive(&o.from, el.clone(), emf, signal);
    let to = if o.to == o.from {
        gen_out.clone()
    } else {
        o.to.clone()
    };
    let to_domain = electrical(&setup.patch, &registry, &o.to)?.domain;
    let from_tap = rig.tap(&gen_out, el.domain);
    let to_tap = rig.tap(&to, to_domain);
    Ok(Drive {
        rig,
        from_tap,
        to_tap,
        gen_out,
        to,
    })
}

/// Measure the path `o.from` → `o.to` of `setup.patch`.
pub fn measure(setup: &Setup, o: &Options) -> Result<Report, String> {
    let registry = crate::registry();
    let from_el = electrical(&setup.patch, &registry, &o.from)?;
    let to_el = electrical(&setup.patch, &registry, &o.to)?;
    let on_path = path_nodes(&setup.patch, &o.from.node, &o.to.node);
    if !on_path.contains(&o.to.node) {
        return Err(format!(
            "{}.{} is not reached from {}.{}: no path to measure",
            o.to.node, o.to.port, o.from.node, o.from.port
        ));
    }
    let sr = setup.sample_rate;
    let nominal = match o.level_db {
        Some(l) => l,
        None => predict::level_at(setup, &o.from)
            .filter(|l| *l > 0.0)
            .map_or(usual_level(from_el.domain), |l| to_db(l, from_el.domain)),
    };
    // The open-circuit level that gives the nominal level once loaded.
    let unit = drive_rig(setup, o, &from_el, 1.0, Arc::new(Vec::new()))?;
    let loaded = predict::gain(&unit, 1000.0, sr).map_or(1.0, |(x, _)| x);
    let emf = from_db(nominal, from_el.domain) / loaded.max(1e-12);

    let mut report = Report {
        from: format!("{}.{}", o.from.node, o.from.port),
        to: format!("{}.{}", o.to.node, o.to.port),
        sample_rate: sr,
        from_unit: ohmpatch_engine::analysis::unit_of(from_el.domain),
        to_unit: ohmpatch_engine::analysis::unit_of(to_el.domain),
        nominal,
        ..Report::default()
    };
    let p = o.parts;
    let (resp, dist, noise, imp) = std::thread::scope(|s| {
        let resp = p
            .response
            .then(|| s.spawn(|| response(setup, o, &from_el, emf)));
        let freq = p
            .thd_freq
            .then(|| s.spawn(|| thd_vs_freq(setup, o, &from_el, emf)));
        let level = p
            .thd_level
            .then(|| s.spawn(|| thd_vs_level(setup, o, &from_el, emf)));
        let noise = p.noise.then(|| s.spawn(|| noise(setup, o, to_el.domain)));
        let imp = p.impedance.then(|| s.spawn(|| impedance(setup, o, &to_el)));
        let freq = join(freq);
        let level = join(level);
        (join(resp), (freq, level), join(noise), join(imp))
    });
    if let Some(r) = resp {
        let (points, delay_ms, predicted) = r?;
        report.response = points;
        report.delay_ms = delay_ms;
        report.predicted.response = predicted;
    }
    if let Some(f) = dist.0 {
        report.thd_vs_freq = f?;
    }
    if let Some(l) = dist.1 {
        let (points, predicted_clip) = l?;
        report.clip_1pct = clip_at(&points, 0.01);
        report.clip_10pct = clip_at(&points, 0.10);
        report.thd_vs_level = points;
        report.predicted.clip_level = predicted_clip.map(|h| nominal + h);
    }
    if let Some(n) = noise {
        let mut n = n?;
        // The SNR to the nominal level: the output at the nominal step.
        let out = report
            .thd_vs_level
            .iter()
            .min_by(|a, b| {
                (a.level - nominal)
                    .abs()
                    .total_cmp(&(b.level - nominal).abs())
            })
            .map(|l| l.out_level)
            .or_else(|| {
                let r = report
                    .response
                    .iter()
                    .min_by(|a, b| (a.hz - 1000.0).abs().total_cmp(&(b.hz - 1000.0).abs()))?;
                let v = from_db(nominal, from_el.domain) * 10f64.powf(r.db / 20.0);
                Some(to_db(v, to_el.domain))
            });
        n.snr_db = out.map_or(f64::NAN, |o| o - n.total);
        report.noise = Some(n);
    }
    if let Some(z) = imp {
        let (points, peak, predicted) = z?;
        report.impedance = points;
        report.impedance_peak = peak;
        report.predicted.impedance = predicted;
    }
    Ok(report)
}

/// The response points, the pure delay (ms) and the model's points.
type Measured = (Vec<ResponsePoint>, f64, Vec<(f64, f64)>);

fn response(setup: &Setup, o: &Options, el: &PortElectrical, emf: f64) -> Result<Measured, String> {
    let sr = setup.sample_rate;
    let settle = (0.1 * sr) as usize;
    let sweep = sweep::sweep(sr, emf * std::f64::consts::SQRT_2);
    let mut input = vec![0.0f32; settle];
    input.extend_from_slice(&sweep);
    input.resize(input.len() + (0.6 * sr) as usize, 0.0);
    let frames = input.len();
    let d = drive_rig(setup, o, el, emf, Arc::new(input))?;
    let predicted = points_3()
        .into_iter()
        .filter_map(|f| {
            let (x, y) = predict::gain(&d, f, sr)?;
            Some((f, 20.0 * (y / x).log10()))
        })
        .collect();
    let (fx, fy) = (d.from_tap, d.to_tap);
    let taps = d.rig.render(frames)?;
    let hx = sweep::impulse_response(&taps[fx][settle..], &sweep, sr);
    let hy = sweep::impulse_response(&taps[fy][settle..], &sweep, sr);
    let delay = (hy.peak - hx.peak) as f64;
    let points = points_24()
        .into_iter()
        .map(|f| {
            let (x, _) = hx.at(f, sr);
            let (y, _) = hy.at(f, sr);
            let h = y / x;
            let w = 2.0 * std::f64::consts::PI * f / sr;
            let phase = (h * rustfft::num_complex::Complex::from_polar(1.0, w * delay)).arg();
            ResponsePoint {
                hz: f,
                db: 20.0 * h.norm().max(1e-15).log10(),
                phase_deg: phase.to_degrees(),
                group_delay_ms: (hy.group_delay(f, sr) - hx.group_delay(f, sr)) / sr * 1e3,
            }
        })
        .collect();
    Ok((points, delay / sr * 1e3, predicted))
}

fn thd_vs_freq(
    setup: &Setup,
    o: &Options,
    el: &PortElectrical,
    emf: f64,
) -> Result<Vec<ThdPoint>, String> {
    let sr = setup.sample_rate;
    let t = Timing::new(sr, 0.2, 0.05);
    let tones: Vec<Tone> = points_3()
        .into_iter()
        .map(|f| Tone {
            hz: t.on_bin(f, sr),
            amp: emf * std::f64::consts::SQRT_2,
        })
        .collect();
    let input = steps::signal(&tones, t, sr);
    let frames = input.len();
    let d = drive_rig(setup, o, el, emf, Arc::new(input))?;
    let fy = d.to_tap;
    let taps = d.rig.render(frames)?;
    Ok(tones
        .iter()
        .enumerate()
        .map(|(k, tone)| {
            let r = steps::read(&taps[fy], k, tone.hz, t, sr);
            ThdPoint {
                hz: tone.hz,
                thd_pct: 100.0 * r.thd,
                thdn_pct: 100.0 * r.thdn,
                harmonics_dbc: r.harmonics_dbc(),
            }
        })
        .collect())
}

/// Level steps at 1 kHz, dB from the nominal level.
const LEVEL_STEPS: std::ops::RangeInclusive<i32> = -15..=20;

fn thd_vs_level(
    setup: &Setup,
    o: &Options,
    el: &PortElectrical,
    emf: f64,
) -> Result<(Vec<LevelPoint>, Option<f64>), String> {
    let sr = setup.sample_rate;
    let t = Timing::new(sr, 0.05, 0.05);
    let tones: Vec<Tone> = LEVEL_STEPS
        .map(|k| Tone {
            hz: t.on_bin(1000.0, sr),
            amp: emf * std::f64::consts::SQRT_2 * 10f64.powf(2.0 * k as f64 / 20.0),
        })
        .collect();
    let input = steps::signal(&tones, t, sr);
    let frames = input.len();
    let d = drive_rig(setup, o, el, emf, Arc::new(input))?;
    let clip = predict::headroom(&d, setup, o);
    let (fx, fy) = (d.from_tap, d.to_tap);
    let to_domain = electrical(&setup.patch, &crate::registry(), &o.to)?.domain;
    let taps = d.rig.render(frames)?;
    let points = tones
        .iter()
        .enumerate()
        .map(|(k, tone)| {
            let x = steps::read(&taps[fx], k, tone.hz, t, sr);
            let y = steps::read(&taps[fy], k, tone.hz, t, sr);
            LevelPoint {
                level: to_db(x.fundamental, el.domain),
                out_level: to_db(y.fundamental, to_domain),
                thd_pct: 100.0 * y.thd,
                thdn_pct: 100.0 * y.thdn,
                harmonics_dbc: y.harmonics_dbc(),
            }
        })
        .collect();
    Ok((points, clip))
}

fn join<T>(
    h: Option<std::thread::ScopedJoinHandle<'_, Result<T, String>>>,
) -> Option<Result<T, String>> {
    h.map(|h| {
        h.join()
            .unwrap_or_else(|_| Err("a measurement stopped on an internal error".into()))
    })
}

/// The first level where THD reaches `ratio`, interpolated in log THD.
fn clip_at(points: &[LevelPoint], ratio: f64) -> Option<Clip> {
    let pct = 100.0 * ratio;
    let i = points.iter().position(|p| p.thd_pct >= pct)?;
    if i == 0 {
        return Some(Clip {
            level: points[0].level,
            out_level: points[0].out_level,
        });
    }
    let (a, b) = (&points[i - 1], &points[i]);
    let (la, lb) = (a.thd_pct.max(1e-9).ln(), b.thd_pct.ln());
    let t = if lb > la {
        ((pct.ln() - la) / (lb - la)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    Some(Clip {
        level: a.level + t * (b.level - a.level),
        out_level: a.out_level + t * (b.out_level - a.out_level),
    })
}

fn noise(setup: &Setup, o: &Options, domain: Domain) -> Result<Noise, String> {
    let mut n = noise::floors(setup, &[(o.to.clone(), domain)])?;
    Ok(n.remove(0))
}

type ZResult = (Vec<ZPoint>, Option<(f64, f64)>, Vec<(f64, f64, f64)>);

fn impedance(setup: &Setup, o: &Options, el: &PortElectrical) -> Result<ZResult, String> {
    let sr = setup.sample_rate;
    let Some(load) = predict::load(setup, &o.to) else {
        return Ok((Vec::new(), None, Vec::new()));
    };
    if !el.domain.is_electrical() || load == Impedance::None {
        return Ok((Vec::new(), None, Vec::new()));
    }
    let predicted = points_24()
        .into_iter()
        .filter_map(|f| {
            load.at(f)
                .map(|z| (f, z.abs(), z.im.atan2(z.re).to_degrees()))
        })
        .collect();
    // Through a resistor near the load's own size, so neither end of the
    // divider is lost in rounding.
    let r = load.magnitude(1000.0).clamp(0.1, 1e6);
    let settle = (0.1 * sr) as usize;
    let sweep = sweep::sweep(sr, DBU_REF_V * std::f64::consts::SQRT_2);
    let mut input = vec![0.0f32; settle];
    input.extend_from_slice(&sweep);
    input.resize(input.len() + (0.6 * sr) as usize, 0.0);
    let frames = input.len();
    let registry = crate::registry();
    let mut rig = Rig::new(setup, &registry, Some(&o.to))?;
    let probe = PortElectrical {
        domain: el.domain,
        impedance: Impedance::Ohms(r),
    };
    let out = rig.drive(&o.to, probe, DBU_REF_V, Arc::new(input));
    let tap = rig.tap(&out, el.domain);
    let taps = rig.render(frames)?;
    let ir = sweep::impulse_response(&taps[tap][settle..], &sweep, sr);
    let z_at = |f: f64| {
        let (h, _) = ir.at(f, sr);
        let one = rustfft::num_complex::Complex::new(1.0, 0.0);
        h * r / (one - h)
    };
    let points: Vec<ZPoint> = points_24()
        .into_iter()
        .map(|f| {
            let z = z_at(f);
            ZPoint {
                hz: f,
                ohm: z.norm(),
                phase_deg: z.arg().to_degrees(),
            }
        })
        .collect();
    // The resonance: the first point above both neighbours and 10 % above
    // the least |Z| on each side of it (a driver's fs; the voice coil's
    // rise toward 20 kHz and a resistor's ripple are no peaks), refined
    // between the points in 1/480-octave steps.
    let least = |s: &[ZPoint]| s.iter().map(|p| p.ohm).fold(f64::INFINITY, f64::min);
    let peak = (1..points.len().saturating_sub(1))
        .find(|&i| {
            let p = points[i].ohm;
            p > points[i - 1].ohm
                && p >= points[i + 1].ohm
                && p > 1.1 * least(&points[..i])
                && p > 1.1 * least(&points[i + 1..])
        })
        .map(|i| &points[i])
        .map(|p| {
            (-10..=10)
                .map(|k| {
                    let f = p.hz * 2f64.powf(k as f64 / 480.0);
                    (f, z_at(f).norm())
                })
                .fold((p.hz, p.ohm), |m, x| if x.1 > m.1 { x } else { m })
        });
    Ok((points, peak, predicted))
}
