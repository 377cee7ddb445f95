//! Static analysis of a compiled patch: for a stated test signal at each
//! source (its nominal level) and each node's own noise, the signal level,
//! noise floor, SNR and headroom on every wire, in the wire's unit, plus
//! warnings with reasons and fixes for chains that are badly staged.
//!
//! Levels propagate in the schedule's order through each kind's
//! small-signal model (`NodeKind::analyze`), with the loading of every wire
//! evaluated at the analysis frequency. Uncorrelated contributions add in
//! power. A loop through a `delay` is analysed without its feedback.

use crate::compile::Schedule;
use crate::dsp::{DBU_REF_V, SPL_REF_PA};
use crate::impedance::{Impedance, Loading};
use crate::registry::Registry;
use ohmpatch_patch::{Direction, Domain};
use serde::Serialize;

/// Levels on one port, rms, in the port's unit: volts, pascals or full scale.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Level {
    pub signal: f64,
    /// Noise over 20 Hz – 20 kHz, unweighted.
    pub noise: f64,
    /// The largest sine rms the stage can deliver here before it clips.
    pub clip: f64,
}

impl Level {
    pub const SILENT: Level = Level {
        signal: 0.0,
        noise: 0.0,
        clip: f64::INFINITY,
    };

    pub fn scaled(self, g: f64) -> Level {
        Level {
            signal: self.signal * g,
            noise: self.noise * g,
            clip: self.clip * g,
        }
    }

    /// Sum of uncorrelated contributions (power sum); the tightest clip wins.
    pub fn sum(levels: &[Level]) -> Level {
        let mut s = 0.0;
        let mut n = 0.0;
        let mut c = f64::INFINITY;
        for l in levels {
            s += l.signal * l.signal;
            n += l.noise * l.noise;
            c = c.min(l.clip);
        }
        Level {
            signal: s.sqrt(),
            noise: n.sqrt(),
            clip: c,
        }
    }
}

/// What a stage's model knows about its surroundings.
pub struct AnalysisContext<'a> {
    /// Frequency of the test signal, Hz.
    pub freq: f64,
    pub sample_rate: f64,
    /// For each output port: the parallel load it drives (`None` if open).
    pub output_loads: &'a [Impedance],
    /// For each input port: the impedance of what drives it.
    pub input_sources: &'a [Impedance],
}

/// A stage's result: levels at its outputs (open circuit, before loading;
/// a device output last for `output` nodes), and notes for the report.
#[derive(Clone, Debug, Default)]
pub struct StageAnalysis {
    pub outputs: Vec<Level>,
    pub warnings: Vec<Finding>,
}

/// A warning: what is wrong, why, and what to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// The wire (`a.out -> b.in`) or node id it is about.
    pub at: String,
    pub message: String,
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.at, self.message, self.fix)
    }
}

/// The default model: inputs summed to every output at unity gain; a node
/// without inputs is silent.
pub fn pass_through(spec: &ohmpatch_patch::KindSpec, inputs: &[Level]) -> StageAnalysis {
    let n_out = spec
        .ports
        .iter()
        .filter(|p| p.direction == Direction::Out)
        .count();
    let l = if inputs.is_empty() {
        Level::SILENT
    } else {
        Level::sum(inputs)
    };
    StageAnalysis {
        outputs: vec![l; n_out],
        warnings: Vec::new(),
    }
}

/// Levels expressed in a domain's unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Levels {
    pub unit: &'static str,
    pub signal_db: f64,
    pub noise_db: f64,
    pub snr_db: f64,
    pub headroom_db: f64,
    /// The signal's rms in volts, pascals or full scale.
    pub signal_rms: f64,
    pub noise_rms: f64,
}

pub fn unit_of(domain: Domain) -> &'static str {
    match domain {
        Domain::Acoustic => "dB SPL",
        Domain::Digital => "dBFS",
        _ => "dBu",
    }
}

fn to_db(x: f64, domain: Domain) -> f64 {
    let r = match domain {
        Domain::Acoustic => SPL_REF_PA,
        // 0 dBFS is a full-scale sine, whose rms is 1/√2.
        Domain::Digital => std::f64::consts::FRAC_1_SQRT_2,
        _ => DBU_REF_V,
    };
    if x <= 0.0 {
        -f64::INFINITY
    } else {
        20.0 * (x / r).log10()
    }
}

pub fn levels(l: Level, domain: Domain) -> Levels {
    let signal_db = to_db(l.signal, domain);
    let noise_db = to_db(l.noise, domain);
    Levels {
        unit: unit_of(domain),
        signal_db,
        noise_db,
        snr_db: signal_db - noise_db,
        headroom_db: if l.clip.is_finite() {
            20.0 * (l.clip / l.signal.max(1e-30)).log10()
        } else {
            f64::INFINITY
        },
        signal_rms: l.signal,
        noise_rms: l.noise,
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WireReport {
    pub from: String,
    pub to: String,
    pub from_domain: Domain,
    pub to_domain: Domain,
    /// |Z| of the source and of the whole load it drives, at the analysis frequency.
    pub source_ohm: Option<f64>,
    pub load_ohm: Option<f64>,
    /// Level change from the loading, dB.
    pub loading_db: f64,
    pub levels: Levels,
    /// For speaker wires: power into the load, watts.
    pub power_w: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputReport {
    pub node: String,
    pub levels: Levels,
}

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub freq_hz: f64,
    pub order: Vec<String>,
    pub wires: Vec<WireReport>,
    pub outputs: Vec<OutputReport>,
    pub warnings: Vec<Finding>,
}

/// How much a bridging connection should exceed its source's impedance.
const BRIDGING_RATIO: f64 = 10.0;

/// Analyse a schedule at `freq` Hz.
pub fn analyze(schedule: &Schedule, registry: &Registry, sample_rate: f64, freq: f64) -> Analysis {
    let n = schedule.nodes.len();
    // Output levels per node and port index (open circuit), filled in order.
    let mut out_levels: Vec<Vec<Option<Level>>> = schedule
        .nodes
        .iter()
        .map(|s| vec![None; s.ports.len() + 1])
        .collect();
    let index: std::collections::HashMap<&str, usize> = schedule
        .nodes
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let port_index = |node: usize, name: &str, dir: Direction| -> Option<usize> {
        let kind = registry.get(&schedule.nodes[node].kind)?;
        kind.spec()
            .ports
            .iter()
            .position(|p| p.name == name && p.direction == dir)
    };
    // Load on every output and source on every input.
    let mut loads: Vec<Vec<Vec<Impedance>>> = schedule
        .nodes
        .iter()
        .map(|s| vec![Vec::new(); s.ports.len()])
        .collect();
    let mut sources: Vec<Vec<Impedance>> = schedule
        .nodes
        .iter()
        .map(|s| vec![Impedance::None; s.ports.len()])
        .collect();
    for w in schedule.wires.iter().filter(|w| !w.fading_out) {
        let (Some(&a), Some(&b)) = (
            index.get(w.wire.from.node.as_str()),
            index.get(w.wire.to.node.as_str()),
        ) else {
            continue;
        };
        if let (Some(sp), Some(dp)) = (
            port_index(a, &w.wire.from.port, Direction::Out),
            port_index(b, &w.wire.to.port, Direction::In),
        ) {
            loads[a][sp].push(w.load_z.clone());
            sources[b][dp] = w.source_z.clone();
        }
    }
    let parallel: Vec<Vec<Impedance>> = loads
        .iter()
        .map(|ls| ls.iter().map(|l| Impedance::parallel(l)).collect())
        .collect();
    let loading_gain = |node: usize, port: usize| -> f64 {
        let src = &schedule.nodes[node].ports[port].impedance;
        Loading::between(src, &parallel[node][port], sample_rate)
            .response(freq, sample_rate)
            .abs()
    };

    let mut warnings = Vec::new();
    let mut wires = Vec::new();
    let mut outputs = Vec::new();
    for i in 0..n {
        let node = &schedule.nodes[i];
        let Some(kind) = registry.get(&node.kind) else {
            continue;
        };
        let spec = kind.spec();
        // Inputs: every wire into each input port, loaded, summed.
        let mut inputs = Vec::new();
        for (pi, p) in spec.ports.iter().enumerate() {
            if p.direction != Direction::In {
                continue;
            }
            let mut contribs = Vec::new();
            for w in schedule
                .wires
                .iter()
                .filter(|w| !w.fading_out && w.wire.to.node == node.id && w.wire.to.port == p.name)
            {
                let Some(&a) = index.get(w.wire.from.node.as_str()) else {
                    continue;
                };
                let Some(sp) = port_index(a, &w.wire.from.port, Direction::Out) else {
                    continue;
                };
                let l = out_levels[a][sp].unwrap_or(Level::SILENT);
                contribs.push(l.scaled(loading_gain(a, sp)));
            }
            let _ = pi;
            inputs.push(if contribs.is_empty() {
                Level::SILENT
            } else {
                Level::sum(&contribs)
            });
        }
        let ctx = AnalysisContext {
            freq,
            sample_rate,
            output_loads: &parallel[i],
            input_sources: &sources[i],
        };
        let stage = kind.analyze(&node.params, &ctx, &inputs);
        let mut k = 0;
        for (pi, p) in spec.ports.iter().enumerate() {
            if p.direction == Direction::Out {
                out_levels[i][pi] = stage.outputs.get(k).copied();
                k += 1;
            }
        }
        if let Some(dev) = stage.outputs.get(k) {
            outputs.push(OutputReport {
                node: node.id.clone(),
                levels: levels(*dev, Domain::Digital),
            });
            if dev.signal > 0.0 && dev.clip.is_finite() && dev.signal > dev.clip {
                warnings.push(Finding {
                    at: node.id.clone(),
                    message: format!(
                        "the output clips at the nominal level ({:+.1} dBFS)",
                        to_db(dev.signal, Domain::Digital)
                    ),
                    fix: "lower the gain before it or raise full_scale_dbu".into(),
                });
            }
        }
        warnings.extend(stage.warnings);
    }

    for w in schedule.wires.iter().filter(|w| !w.fading_out) {
        let (Some(&a), Some(&b)) = (
            index.get(w.wire.from.node.as_str()),
            index.get(w.wire.to.node.as_str()),
        ) else {
            continue;
        };
        let Some(sp) = port_index(a, &w.wire.from.port, Direction::Out) else {
            continue;
        };
        let g = loading_gain(a, sp);
        let l = out_levels[a][sp].unwrap_or(Level::SILENT).scaled(g);
        let at = format!("{} -> {}", w.wire.from, w.wire.to);
        let lv = levels(l, w.from_domain);
        let zs = w.source_z.at(freq).map(|z| z.abs());
        let zl_all = parallel[a][sp].at(freq).map(|z| z.abs());
        let power_w = match (w.from_domain, zl_all) {
            (Domain::Speaker, Some(z)) if z > 0.0 => Some(l.signal * l.signal / z),
            _ => None,
        };
        check_wire(
            w,
            &at,
            &lv,
            zs,
            zl_all,
            &schedule.nodes[b].kind,
            &mut warnings,
        );
        let _ = b;
        wires.push(WireReport {
            from: w.wire.from.to_string(),
            to: w.wire.to.to_string(),
            from_domain: w.from_domain,
            to_domain: w.to_domain,
            source_ohm: zs,
            load_ohm: zl_all,
            loading_db: 20.0 * g.max(1e-30).log10(),
            levels: lv,
            power_w,
        });
    }
    Analysis {
        freq_hz: freq,
        order: schedule.nodes.iter().map(|s| s.id.clone()).collect(),
        wires,
        outputs,
        warnings,
    }
}

fn check_wire(
    w: &crate::compile::SchedWire,
    at: &str,
    lv: &Levels,
    zs: Option<f64>,
    zl: Option<f64>,
    to_kind: &str,
    out: &mut Vec<Finding>,
) {
    use Domain::*;
    let push = |out: &mut Vec<Finding>, message: String, fix: &str| {
        out.push(Finding {
            at: at.to_string(),
            message,
            fix: fix.to_string(),
        })
    };
    match (w.from_domain, w.to_domain) {
        (Mic, Line) => push(
            out,
            format!(
                "mic level ({:.1} dBu) into a {} input: far too little level, and every stage after it lifts its own noise with it",
                lv.signal_db,
                w.to_domain.name()
            ),
            "add a preamp",
        ),
        (Instrument, Line) if to_kind == "power_amp" => push(
            out,
            format!(
                "instrument level ({:.1} dBu) straight into a power amp: too little gain",
                lv.signal_db
            ),
            "add a preamp",
        ),
        (Line | Mic | Instrument, Speaker) => push(
            out,
            format!(
                "{} level into a speaker: the source cannot deliver the current a {} load needs",
                w.from_domain.name(),
                zl.map(|z| format!("{z:.1} Ω"))
                    .unwrap_or_else(|| "low-impedance".into())
            ),
            "add a power amp",
        ),
        (Speaker, Line | Mic | Instrument) => push(
            out,
            format!(
                "speaker level ({:+.1} dBu) into a {} input: it will overload",
                lv.signal_db,
                w.to_domain.name()
            ),
            "put a pad or attenuator (speaker-level DI) in between",
        ),
        _ => {}
    }
    // Bridging: a voltage connection wants Z_in ≫ Z_out.
    if let (Some(zs), Some(zl)) = (zs, zl)
        && w.from_domain.is_electrical()
        && w.from_domain != Speaker
        && w.to_domain != Speaker
        && zs > 0.0
        && zl < BRIDGING_RATIO * zs
    {
        let loss = 20.0 * (zl / (zs + zl)).log10();
        push(
            out,
            format!(
                "the load ({}) is not much higher than the source impedance ({}): {loss:.1} dB lost, and the tone changes with a reactive source",
                ohms(zl),
                ohms(zs)
            ),
            "use an input of at least ten times the source impedance",
        );
    }
    if lv.headroom_db < 0.0 && lv.signal_rms > 0.0 {
        push(
            out,
            format!(
                "the stage feeding this wire clips at the nominal level ({:.1} dB over)",
                -lv.headroom_db
            ),
            "lower the gain before it",
        );
    }
}

pub fn ohms(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} MΩ", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.2} kΩ", r / 1e3)
    } else {
        format!("{r:.2} Ω")
    }
}
