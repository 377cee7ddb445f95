//! What the analysis (`check`'s model) predicts for a measured path: the
//! same compile and `analyze` as `check`, run on the rig's patch, so the
//! generator's level stands in for the path's signal.

use super::rig::{Rig, Setup};
use super::{Drive, Options, path_nodes};
use ohmpatch_engine::analysis::{Analysis, analyze, analyze_with, test_frequency};
use ohmpatch_engine::{Impedance, compile};
use ohmpatch_patch::Endpoint;

fn on_port<'a>(a: &'a Analysis, e: &Endpoint) -> Option<&'a ohmpatch_engine::analysis::Levels> {
    a.wires.iter().find(|w| w.from == *e).map(|w| &w.levels)
}

/// The signal rms `check` expects on `e` (loaded), at the patch's test
/// frequency.
pub(super) fn level_at(setup: &Setup, e: &Endpoint) -> Option<f64> {
    let registry = crate::registry();
    let freq = test_frequency(&setup.patch, &registry);
    let s = compile(
        &setup.patch,
        &registry,
        setup.sample_rate,
        &Default::default(),
    )
    .ok()?;
    let a = analyze_with(&s, &registry, setup.sample_rate, freq, false);
    on_port(&a, e).map(|l| l.signal_rms)
}

/// The signal rms at both ends of a driven path at `f` Hz.
pub(super) fn gain(d: &Drive, f: f64, sr: f64) -> Option<(f64, f64)> {
    let (s, registry) = d.rig.compiled().ok()?;
    let a = analyze_with(&s, &registry, sr, f, false);
    let x = on_port(&a, &d.gen_out)?.signal_rms;
    let y = on_port(&a, &d.to)?.signal_rms;
    (x > 0.0).then_some((x, y))
}

/// The least headroom (dB) at 1 kHz at the outputs of the stages on the
/// path from the generator to the far end: how far above the nominal level
/// the first of them clips.
pub(super) fn headroom(d: &Drive, setup: &Setup, o: &Options) -> Option<f64> {
    let (s, registry) = d.rig.compiled().ok()?;
    let a = analyze_with(&s, &registry, setup.sample_rate, 1000.0, false);
    let nodes = path_nodes(&d.rig.patch, &d.gen_out.node, &d.to.node);
    let _ = o;
    a.wires
        .iter()
        .filter(|w| nodes.contains(&w.from.node))
        .filter(|w| w.levels.signal_rms > 0.0 && w.levels.headroom_db.is_finite())
        .map(|w| w.levels.headroom_db)
        .reduce(f64::min)
}

/// `check`'s noise floor on each port in the rig (rms; 0 if unknown).
pub(super) fn noise(rig: &Rig, sr: f64, ports: &[(Endpoint, ohmpatch_patch::Domain)]) -> Vec<f64> {
    let a = rig
        .compiled()
        .ok()
        .map(|(s, registry)| analyze(&s, &registry, sr, 1000.0));
    ports
        .iter()
        .map(|(e, _)| {
            a.as_ref()
                .and_then(|a| on_port(a, e).map(|l| l.noise_rms))
                .unwrap_or(0.0)
        })
        .collect()
}

/// The load output port `e` drives, as the compiler models it.
pub(super) fn load(setup: &Setup, e: &Endpoint) -> Option<Impedance> {
    let registry = crate::registry();
    let s = compile(
        &setup.patch,
        &registry,
        setup.sample_rate,
        &Default::default(),
    )
    .ok()?;
    let node = s.node(&e.node)?;
    let kind = registry.get(&node.kind)?;
    let i = kind.spec().ports.iter().position(|p| p.name == e.port)?;
    node.loads.get(i).cloned()
}
