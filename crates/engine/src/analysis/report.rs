//! The analysis report: levels in each wire's unit, per wire and per
//! output, the findings, and the gain-staging view.

use super::stage::{Finding, Level};
use crate::dsp::{DBU_REF_V, SPL_REF_PA};
use ohmpatch_patch::{Domain, Endpoint};
use serde::{Serialize, Serializer};

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

pub(super) fn to_db(x: f64, domain: Domain) -> f64 {
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
    #[serde(serialize_with = "as_text")]
    pub from: Endpoint,
    #[serde(serialize_with = "as_text")]
    pub to: Endpoint,
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
    /// Samples of delay on the longest path from a source to this output
    /// (oversampling filters and other processing latency).
    pub latency_samples: usize,
    pub latency_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub freq_hz: f64,
    pub order: Vec<String>,
    pub wires: Vec<WireReport>,
    pub outputs: Vec<OutputReport>,
    pub warnings: Vec<Finding>,
    /// The gain-staging view: for each output, its main chain from a source.
    pub staging: Vec<Strip>,
    /// Nodes whose levels were measured by running them (plugins, black
    /// boxes), not worked out from a model.
    pub measured: Vec<String>,
}

/// One output's chain from its loudest source, wire by wire, for the
/// gain-staging view: where the level rises, where the noise comes in, and
/// where the headroom runs out.
#[derive(Clone, Debug, Serialize)]
pub struct Strip {
    pub output: String,
    /// Indices into [`Analysis::wires`], source first.
    pub wires: Vec<usize>,
}

impl Analysis {
    /// The main chain into each output: from the output back along the
    /// input wire carrying the most signal (then the most noise) to a source.
    pub(super) fn strips(&self) -> Vec<Strip> {
        let power = |w: &WireReport| {
            (
                w.levels.signal_rms * w.levels.signal_rms,
                w.levels.noise_rms * w.levels.noise_rms,
            )
        };
        self.outputs
            .iter()
            .map(|o| {
                let mut wires = Vec::new();
                let mut at = o.node.as_str();
                while let Some((i, w)) = self
                    .wires
                    .iter()
                    .enumerate()
                    .filter(|(i, w)| w.to.node == at && !wires.contains(i))
                    .max_by(|a, b| {
                        power(a.1)
                            .partial_cmp(&power(b.1))
                            .unwrap_or(std::cmp::Ordering::Equal)
                    })
                {
                    wires.push(i);
                    at = w.from.node.as_str();
                }
                wires.reverse();
                Strip {
                    output: o.node.clone(),
                    wires,
                }
            })
            .collect()
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

/// An endpoint as `node.port`, as it always read in the JSON report.
fn as_text<S: Serializer>(e: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}
