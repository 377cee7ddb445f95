//! Static analysis of a compiled patch: for a stated test signal at each
//! source (its nominal level) and each node's own noise, the signal level,
//! noise floor, SNR and headroom on every wire, in the wire's unit, plus
//! warnings with reasons and fixes for chains that are badly staged.
//!
//! Levels propagate in the schedule's order through each kind's
//! small-signal model (`NodeKind::analyze`), with the loading of every wire
//! evaluated at the analysis frequency. Uncorrelated contributions add in
//! power. A loop through a `delay` is analysed without its feedback.
//!
//! `stage` is the vocabulary kinds speak and imports nothing from the
//! compiler, the registry or `node`; `pass` runs the kinds' models over a
//! schedule; `report` is what comes out.

mod pass;
mod report;
mod stage;

pub use pass::{analyze, analyze_with, test_frequency};
pub use report::{Analysis, Levels, OutputReport, Strip, WireReport, levels, ohms, unit_of};
pub use stage::{
    AnalysisContext, Finding, Level, NOISE_BAND, StageAnalysis, Subject, pass_through,
};
