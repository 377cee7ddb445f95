//! The passes: levels through every stage of a compiled schedule, noise
//! band by band, loop gains, and the wire checks.

use super::report::{Analysis, Levels, OutputReport, WireReport, levels, ohms, to_db};
use super::stage::{AnalysisContext, Finding, Level, NOISE_BAND, Subject};
use crate::compile::{SchedWire, Schedule, StepKind};
use crate::impedance::{Impedance, Loading};
use crate::node::Params;
use crate::registry::Registry;
use ohmpatch_patch::{Direction, Domain, Wire};

/// How much a bridging connection should exceed its source's impedance before
/// the loss (2.5 dB at 3×) is worth a warning: an SM57 (310 Ω) into a 1.2 kΩ
/// mic input is ordinary practice, a pickup into a mic input is not.
const BRIDGING_RATIO: f64 = 3.0;

/// The test frequency for a patch: its first sine test source's (so the
/// report describes what is heard), else 1 kHz.
pub fn test_frequency(patch: &ohmpatch_patch::Patch, registry: &Registry) -> f64 {
    patch
        .nodes
        .values()
        .find_map(|n| {
            let kind = registry.of(n)?;
            kind.test_frequency(&Params::resolve(kind.spec(), &n.params))
        })
        .unwrap_or(1000.0)
}

/// The schedule with its wiring resolved for the analysis passes.
struct Net<'a> {
    schedule: &'a Schedule,
    registry: &'a Registry,
    sample_rate: f64,
    index: std::collections::HashMap<&'a str, usize>,
    /// The parallel load on every output port, and the source on every input.
    parallel: Vec<Vec<Impedance>>,
    sources: Vec<Vec<Impedance>>,
}

/// What one pass finds: open-circuit levels per node and port, the device
/// level of each `output`-like node, the stages' findings, and which nodes
/// are fed past their source's clip point.
struct Pass {
    out_levels: Vec<Vec<Option<Level>>>,
    devices: Vec<(usize, Level)>,
    warnings: Vec<Finding>,
    fed_over: Vec<bool>,
    /// The level arriving back at each node's inputs once the whole pass
    /// has run: for a loop's `delay`, what the loop returns to it.
    returns: Vec<Level>,
}

impl<'a> Net<'a> {
    fn new(schedule: &'a Schedule, registry: &'a Registry, sample_rate: f64) -> Net<'a> {
        let index: std::collections::HashMap<&str, usize> = schedule
            .nodes
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut net = Net {
            schedule,
            registry,
            sample_rate,
            index,
            parallel: Vec::new(),
            sources: Vec::new(),
        };
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
        for w in net.live_wires() {
            if let Some((a, sp, b, dp)) = net.ends(w) {
                loads[a][sp].push(w.load_z.clone());
                sources[b][dp] = w.source_z.clone();
            }
        }
        net.parallel = loads
            .iter()
            .map(|ls| ls.iter().map(|l| Impedance::parallel(l)).collect())
            .collect();
        net.sources = sources;
        net
    }

    fn live_wires(&self) -> impl Iterator<Item = &'a SchedWire> + 'a {
        self.schedule.wires.iter().filter(|w| !w.fading_out)
    }

    fn port_index(&self, node: usize, name: &str, dir: Direction) -> Option<usize> {
        let kind = self.registry.of_params(
            &self.schedule.nodes[node].kind,
            &self.schedule.nodes[node].params,
        )?;
        kind.spec()
            .ports
            .iter()
            .position(|p| p.name == name && p.direction == dir)
    }

    /// (source node, its port, destination node, its port) of a wire.
    fn ends(&self, w: &SchedWire) -> Option<(usize, usize, usize, usize)> {
        let a = *self.index.get(w.wire.from.node.as_str())?;
        let b = *self.index.get(w.wire.to.node.as_str())?;
        let sp = self.port_index(a, &w.wire.from.port, Direction::Out)?;
        let dp = self.port_index(b, &w.wire.to.port, Direction::In)?;
        Some((a, sp, b, dp))
    }

    /// The loading on an output port at `freq`, as a gain.
    fn loading_gain(&self, node: usize, port: usize, freq: f64) -> f64 {
        let src = &self.schedule.nodes[node].ports[port].impedance;
        Loading::between(src, &self.parallel[node][port], self.sample_rate)
            .response(freq, self.sample_rate)
            .abs()
    }

    /// What reaches each of `node`'s input ports, loaded, from the levels found so far.
    fn input_levels(
        &self,
        node: usize,
        out_levels: &[Vec<Option<Level>>],
        freq: f64,
    ) -> Vec<Vec<Level>> {
        let n = &self.schedule.nodes[node];
        let Some(kind) = self.registry.of_params(&n.kind, &n.params) else {
            return Vec::new();
        };
        kind.spec()
            .ports
            .iter()
            .filter(|q| q.direction == Direction::In)
            .map(|port| {
                self.live_wires()
                    .filter(|w| w.wire.to.node == n.id && w.wire.to.port == port.name)
                    .filter_map(|w| self.ends(w))
                    .map(|(a, sp, _, _)| {
                        out_levels[a][sp]
                            .unwrap_or(Level::SILENT)
                            .scaled(self.loading_gain(a, sp, freq))
                    })
                    .collect()
            })
            .collect()
    }

    /// Every node in schedule order through its kind's model at `freq`;
    /// `probe`: a node whose inputs are taken as a unit sine (1 V or 1 Pa)
    /// instead, to measure the gain of a loop through it.
    fn pass(&self, freq: f64, band: Option<(f64, f64)>, probe: Option<usize>) -> Pass {
        let nodes = &self.schedule.nodes;
        let mut p = Pass {
            out_levels: nodes
                .iter()
                .map(|s| vec![None; s.ports.len() + 1])
                .collect(),
            devices: Vec::new(),
            warnings: Vec::new(),
            fed_over: vec![false; nodes.len()],
            returns: Vec::new(),
        };
        for (i, node) in nodes.iter().enumerate() {
            let Some(kind) = self.registry.of_params(&node.kind, &node.params) else {
                continue;
            };
            let spec = kind.spec();
            // Inputs: every wire into each input port, loaded, summed.
            let mut inputs = Vec::new();
            for contribs in self.input_levels(i, &p.out_levels, freq) {
                // A clip is reported once, where it happens, not on every wire after it.
                p.fed_over[i] |= contribs.iter().any(|l| l.signal > 0.0 && l.signal > l.clip);
                inputs.push(if probe == Some(i) {
                    Level {
                        signal: 1.0,
                        ..Level::SILENT
                    }
                } else if contribs.is_empty() {
                    Level::SILENT
                } else {
                    Level::sum(&contribs)
                });
            }
            let ctx = AnalysisContext {
                freq,
                sample_rate: self.sample_rate,
                output_loads: &self.parallel[i],
                input_sources: &self.sources[i],
                band,
            };
            let stage = kind.analyze(&node.params, &ctx, &inputs);
            let mut k = 0;
            for (pi, q) in spec.ports.iter().enumerate() {
                if q.direction == Direction::Out {
                    p.out_levels[i][pi] = stage.outputs.get(k).copied();
                    k += 1;
                }
            }
            if let Some(dev) = stage.outputs.get(k) {
                p.devices.push((i, *dev));
            }
            // A kind speaks of itself; the report names the node.
            p.warnings
                .extend(stage.warnings.into_iter().map(|f| Finding {
                    at: Subject::node(&node.id),
                    ..f
                }));
        }
        p.returns = (0..nodes.len())
            .map(|i| {
                let all: Vec<Level> = self
                    .input_levels(i, &p.out_levels, freq)
                    .into_iter()
                    .flatten()
                    .collect();
                Level::sum(&all)
            })
            .collect();
        p
    }

    /// The largest gain, over the test frequency and the band centres, of
    /// the loop closed through `node` (a feedback `delay`): what comes back
    /// to its input for a unit sine into it. Contributions add in power, so
    /// the loop's share is what the probe adds to the plain pass.
    fn loop_gain(&self, node: usize, freq: f64) -> (f64, f64) {
        std::iter::once(freq)
            .chain(noise_bands().into_iter().map(|(lo, hi)| (lo * hi).sqrt()))
            .map(|f| {
                let plain = self.pass(f, None, None).returns[node].signal;
                let probed = self.pass(f, None, Some(node)).returns[node].signal;
                ((probed * probed - plain * plain).max(0.0).sqrt(), f)
            })
            .fold((0.0, freq), |best, x| if x.0 > best.0 { x } else { best })
    }
}

/// Analyse a schedule: signal and headroom for a sine at `freq` Hz at each
/// source's nominal level; noise followed band by band over 20 Hz–20 kHz.
pub fn analyze(schedule: &Schedule, registry: &Registry, sample_rate: f64, freq: f64) -> Analysis {
    analyze_with(schedule, registry, sample_rate, freq, true)
}

/// `analyze` for the signal alone (`noise` false): one pass instead of one
/// per band, for callers that sweep the test frequency (`bench`'s
/// predicted response); the noise figures are then zero.
pub fn analyze_with(
    schedule: &Schedule,
    registry: &Registry,
    sample_rate: f64,
    freq: f64,
    noise: bool,
) -> Analysis {
    let net = Net::new(schedule, registry, sample_rate);
    let mut main = net.pass(freq, None, None);

    // Noise: each wire's (open-circuit) noise power summed over the bands,
    // with the loading of each band applied where the wires are read.
    let mut port_noise: Vec<Vec<f64>> =
        main.out_levels.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut wire_noise = vec![0.0; schedule.wires.len()];
    let mut device_noise = vec![0.0; main.devices.len()];
    for (lo, hi) in noise_bands().into_iter().filter(|_| noise) {
        let centre = (lo * hi).sqrt();
        let band = net.pass(centre, Some((lo, hi)), None);
        for (acc, lv) in port_noise.iter_mut().zip(&band.out_levels) {
            for (a, l) in acc.iter_mut().zip(lv) {
                *a += l.map_or(0.0, |l| l.noise * l.noise);
            }
        }
        for (wi, w) in schedule.wires.iter().enumerate() {
            if let (false, Some((a, sp, _, _))) = (w.fading_out, net.ends(w)) {
                let l = band.out_levels[a][sp].unwrap_or(Level::SILENT);
                wire_noise[wi] += (l.noise * net.loading_gain(a, sp, centre)).powi(2);
            }
        }
        for (acc, (_, l)) in device_noise.iter_mut().zip(&band.devices) {
            *acc += l.noise * l.noise;
        }
    }
    for (lv, acc) in main.out_levels.iter_mut().zip(&port_noise) {
        for (l, a) in lv.iter_mut().zip(acc) {
            if let Some(l) = l {
                l.noise = a.sqrt();
            }
        }
    }

    let path_latency = schedule
        .latencies(|i| {
            let n = &schedule.nodes[i];
            registry.of_params(&n.kind, &n.params).map_or(0, |k| {
                let mut env = crate::node::BuildEnv::new(sample_rate, None, 0, &n.id);
                k.latency(&n.params, &mut env)
            })
        })
        .leave;
    let mut warnings = Vec::new();
    let mut outputs = Vec::new();
    for ((i, dev), noise2) in main.devices.iter().zip(&device_noise) {
        let node = &schedule.nodes[*i];
        let dev = Level {
            noise: noise2.sqrt(),
            ..*dev
        };
        let latency = path_latency[*i];
        outputs.push(OutputReport {
            node: node.id.clone(),
            levels: levels(dev, Domain::Digital),
            latency_samples: latency,
            latency_ms: latency as f64 * 1000.0 / sample_rate,
        });
        if dev.signal > 0.0 && dev.clip.is_finite() && dev.signal > dev.clip {
            warnings.push(Finding {
                at: Subject::node(&node.id),
                message: format!(
                    "the output clips at the nominal level ({:+.1} dBFS)",
                    to_db(dev.signal, Domain::Digital)
                ),
                fix: "lower the gain before it or raise full_scale_dbu".into(),
            });
        }
    }
    warnings.append(&mut main.warnings);
    // A loop that gives back more than it takes builds up without end.
    for step in schedule
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::FeedbackRead)
    {
        let (g, at_f) = net.loop_gain(step.node, freq);
        if g >= 1.0 {
            let db = 20.0 * g.log10();
            warnings.push(Finding {
                at: Subject::node(&schedule.nodes[step.node].id),
                message: format!(
                    "the feedback loop through this delay has a gain of {db:+.1} dB at {at_f:.0} Hz: it builds up until the output limiter and the fault guard stop it"
                ),
                fix: format!(
                    "lower the loop's gain by at least {:.1} dB (gain_db on the delay)",
                    db + 1.0
                ),
            });
        }
    }

    let mut wires = Vec::new();
    for (wi, w) in schedule.wires.iter().enumerate() {
        let Some((a, sp, b, _)) = (!w.fading_out).then(|| net.ends(w)).flatten() else {
            continue;
        };
        let g = net.loading_gain(a, sp, freq);
        let l = Level {
            noise: wire_noise[wi].sqrt(),
            ..main.out_levels[a][sp].unwrap_or(Level::SILENT).scaled(g)
        };
        let lv = levels(l, w.from_domain);
        let zs = w.source_z.at(freq).map(|z| z.abs());
        let zl_all = net.parallel[a][sp].at(freq).map(|z| z.abs());
        let power_w = match (w.from_domain, zl_all) {
            (Domain::Speaker, Some(z)) if z > 0.0 => Some(l.signal * l.signal / z),
            _ => None,
        };
        let facts = WireFacts {
            at: &w.wire,
            lv: &lv,
            zs,
            zl: zl_all,
            to_amp: registry
                .of_params(&schedule.nodes[b].kind, &schedule.nodes[b].params)
                .is_some_and(|k| k.rated_load_ohm(&schedule.nodes[b].params).is_some()),
            clips_here: !main.fed_over[a],
        };
        check_wire(w, &facts, &mut warnings);
        wires.push(WireReport {
            from: w.wire.from.clone(),
            to: w.wire.to.clone(),
            from_domain: w.from_domain,
            to_domain: w.to_domain,
            source_ohm: zs,
            load_ohm: zl_all,
            loading_db: 20.0 * g.max(1e-30).log10(),
            levels: lv,
            power_w,
        });
    }
    let mut report = Analysis {
        freq_hz: freq,
        order: schedule.nodes.iter().map(|s| s.id.clone()).collect(),
        wires,
        outputs,
        warnings,
        staging: Vec::new(),
        measured: schedule
            .nodes
            .iter()
            .filter(|n| {
                registry
                    .of_params(&n.kind, &n.params)
                    .is_some_and(|k| k.measured())
            })
            .map(|n| n.id.clone())
            .collect(),
    };
    report.staging = report.strips();
    report
}

/// What the wire checks look at: where, the levels, |Z| of the source and of
/// the whole load, what the wire feeds, and whether a clip starts here.
struct WireFacts<'a> {
    at: &'a Wire,
    lv: &'a Levels,
    zs: Option<f64>,
    zl: Option<f64>,
    /// The wire feeds an amplifier meant to drive a load.
    to_amp: bool,
    clips_here: bool,
}

fn check_wire(w: &SchedWire, facts: &WireFacts, out: &mut Vec<Finding>) {
    use Domain::*;
    let WireFacts {
        at,
        lv,
        zs,
        zl,
        to_amp,
        clips_here,
    } = *facts;
    let push = |out: &mut Vec<Finding>, message: String, fix: &str| {
        out.push(Finding {
            at: Subject::Wire(at.clone()),
            message,
            fix: fix.to_string(),
        })
    };
    match (w.from_domain, w.to_domain) {
        (Mic, Line) if to_amp => push(
            out,
            format!(
                "mic level ({:.1} dBu) straight into a power amp: far too little gain, and the amp's own noise floor lands close to the signal",
                lv.signal_db
            ),
            "add a mic preamp before the power amp",
        ),
        (Mic, Line) => push(
            out,
            format!(
                "mic level ({:.1} dBu) into a {} input: far too little level, and every stage after it lifts its own noise with it",
                lv.signal_db,
                w.to_domain.name()
            ),
            "add a preamp",
        ),
        (Instrument, Line) if to_amp => push(
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
    if clips_here && lv.headroom_db < 0.0 && lv.signal_rms > 0.0 {
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

/// Third-octave bands that tile 20 Hz–20 kHz: noise is followed through
/// every stage's frequency response band by band, then summed in power, so
/// a speaker's or mic's shaping of broadband noise is accounted for.
fn noise_bands() -> Vec<(f64, f64)> {
    let mut edges: Vec<f64> = (0..30)
        .map(|i| NOISE_BAND.0 * 2f64.powf(i as f64 / 3.0))
        .collect();
    edges.push(NOISE_BAND.1);
    edges.windows(2).map(|w| (w[0], w[1])).collect()
}
