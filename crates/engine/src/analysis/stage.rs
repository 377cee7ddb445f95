//! The vocabulary a stage's model speaks (`NodeKind::analyze`): levels, the
//! context it is analysed in, its result and its findings. A leaf: it knows
//! nothing of kinds, the registry or the compiler, so `node` can use it
//! without a cycle.

use crate::impedance::Impedance;
use ohmpatch_patch::{Direction, Wire};
use serde::{Serialize, Serializer};

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
    /// The band this pass accounts noise in, Hz; `None` for the whole
    /// 20 Hz–20 kHz band (the signal pass).
    pub band: Option<(f64, f64)>,
}

/// The band every noise figure is stated over, Hz.
pub use crate::dsp::band::NOISE_BAND;

/// Power of a density ∝ f^slope between `lo` and `hi` (arbitrary scale).
fn band_power(lo: f64, hi: f64, slope: f64) -> f64 {
    if (slope + 1.0).abs() < 1e-9 {
        (hi / lo).ln()
    } else {
        (hi.powf(slope + 1.0) - lo.powf(slope + 1.0)) / (slope + 1.0)
    }
}

impl AnalysisContext<'_> {
    /// Amplitude factor for noise a stage makes itself: the square root of
    /// the share of its 20 Hz–20 kHz power that falls in this pass's band,
    /// for a power density ∝ f^slope (0 white, −1 pink, −2 brown).
    pub fn noise_in_band(&self, slope: f64) -> f64 {
        match self.band {
            None => 1.0,
            Some((lo, hi)) => {
                (band_power(lo, hi, slope) / band_power(NOISE_BAND.0, NOISE_BAND.1, slope)).sqrt()
            }
        }
    }

    /// Whether a tone at `f` Hz counts in this pass.
    pub fn in_band(&self, f: f64) -> bool {
        let (lo, hi) = self.band.unwrap_or(NOISE_BAND);
        f >= lo && f < hi
    }
}

/// A stage's result: levels at its outputs (open circuit, before loading;
/// a device output last for `output` nodes), and notes for the report.
#[derive(Clone, Debug, Default)]
pub struct StageAnalysis {
    pub outputs: Vec<Level>,
    pub warnings: Vec<Finding>,
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A node, by id. A kind names none of its own: the pass puts in the
    /// node's id.
    Node(String),
    Wire(Wire),
}

impl Subject {
    pub fn node(id: impl Into<String>) -> Subject {
        Subject::Node(id.into())
    }
}

/// `id` or `a.out -> b.in`, as `ohmpatch check` prints it.
impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Node(id) => f.write_str(id),
            Subject::Wire(w) => write!(f, "{} -> {}", w.from, w.to),
        }
    }
}

/// As the text it prints as, so `check --json` reads the same.
impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A warning: what is wrong, why, and what to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub at: Subject,
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
