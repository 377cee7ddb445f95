//! A measurement's private copy of the patch: the signal sources silenced,
//! generators standing in for the ports under test, taps where it listens,
//! rendered offline on an engine of its own. Nothing here touches an
//! engine that plays.

use super::kinds::{Generator, Tap};
use ohmpatch_engine::analysis::{AnalysisContext, Level};
use ohmpatch_engine::{
    ChannelMap, Engine, EngineConfig, EngineError, Impedance, NodeKind, Params, PortElectrical,
    Registry, Role, render_offline,
};
use ohmpatch_patch::{Direction, Endpoint, Node, Patch, Wire};
use std::path::PathBuf;
use std::sync::Arc;

/// What a rig needs to know about the patch and where it plays.
#[derive(Clone)]
pub struct Setup {
    pub patch: Patch,
    pub sample_rate: f64,
    pub patch_dir: Option<PathBuf>,
}

/// An instrument to register: a generator (port facts, level for the
/// analysis, signal) or a tap (domain, device output channel).
enum Instrument {
    Generator(PortElectrical, f64, Arc<Vec<f32>>),
    Tap(ohmpatch_patch::Domain, u32),
}

pub(crate) struct Rig {
    pub patch: Patch,
    kinds: Vec<Instrument>,
    /// Device channel of the first tap (after the patch's own outputs).
    out_base: u32,
    taps: u32,
    /// Ports a generator took over, and the generator's port.
    replaced: Vec<(Endpoint, Endpoint)>,
    sample_rate: f64,
    patch_dir: Option<PathBuf>,
}

/// A port's kind, resolved params and index.
fn port_of<'r>(
    patch: &Patch,
    registry: &'r Registry,
    e: &Endpoint,
) -> Result<(&'r dyn NodeKind, Params, usize), String> {
    let node = patch
        .nodes
        .get(&e.node)
        .ok_or_else(|| format!("the patch has no node \"{}\"", e.node))?;
    let kind = registry
        .get(&node.kind)
        .ok_or_else(|| format!("node \"{}\": unknown kind \"{}\"", e.node, node.kind))?;
    let index = kind
        .spec()
        .ports
        .iter()
        .position(|p| p.name == e.port && p.direction == Direction::Out)
        .ok_or_else(|| {
            format!(
                "node \"{}\" ({}) has no output port \"{}\"",
                e.node, node.kind, e.port
            )
        })?;
    Ok((kind, Params::resolve(kind.spec(), &node.params), index))
}

/// Domain and source impedance of an output port.
pub(crate) fn electrical(
    patch: &Patch,
    registry: &Registry,
    e: &Endpoint,
) -> Result<PortElectrical, String> {
    let (kind, params, i) = port_of(patch, registry, e)?;
    kind.electrical(&params)
        .get(i)
        .cloned()
        .ok_or_else(|| format!("{}.{}: no electrical description", e.node, e.port))
}

/// A node that plays a signal of its own and no noise: a tone, a file, a
/// device input. Its outputs are silenced on the bench, as a bench
/// disconnects the other inputs; sources of noise stay, since their hiss
/// is part of what is measured.
fn is_signal_source(kind: &dyn NodeKind, params: &Params) -> bool {
    let spec = kind.spec();
    if spec.ports.iter().any(|p| p.direction == Direction::In) {
        return false;
    }
    let loads = vec![Impedance::None; spec.ports.len()];
    let ctx = AnalysisContext {
        freq: 1000.0,
        sample_rate: 48_000.0,
        output_loads: &loads,
        input_sources: &[],
        band: None,
    };
    let out = kind.analyze(params, &ctx, &[]).outputs;
    out.iter().all(|l: &Level| l.noise <= 0.0)
}

impl Rig {
    /// The patch with its signal sources silenced (but for port `driven`,
    /// which a generator is about to replace).
    pub fn new(
        setup: &Setup,
        registry: &Registry,
        driven: Option<&Endpoint>,
    ) -> Result<Rig, String> {
        let mut out_base = 0;
        let mut silence = Vec::new();
        for (id, node) in &setup.patch.nodes {
            let Some(kind) = registry.get(&node.kind) else {
                return Err(format!("node \"{id}\": unknown kind \"{}\"", node.kind));
            };
            let params = Params::resolve(kind.spec(), &node.params);
            if kind.role() == Role::DeviceOut {
                out_base = out_base.max(kind.device_channel(&params).unwrap_or(0) + 1);
            }
            if is_signal_source(kind, &params) {
                let ports: Vec<Endpoint> = kind
                    .spec()
                    .ports
                    .iter()
                    .map(|p| Endpoint::new(id.clone(), p.name.to_string()))
                    .collect();
                let keep = ports.iter().any(|e| Some(e) == driven);
                silence.extend(ports.into_iter().map(|e| (e, keep)));
            }
        }
        let mut rig = Rig {
            patch: setup.patch.clone(),
            kinds: Vec::new(),
            out_base,
            taps: 0,
            replaced: Vec::new(),
            sample_rate: setup.sample_rate,
            patch_dir: setup.patch_dir.clone(),
        };
        let quiet = Arc::new(Vec::new());
        // A silenced source goes, its loads kept by a quiet generator; one
        // with the driven port stays, open, and the generator takes over.
        for (e, keep) in silence {
            if Some(&e) != driven && rig.patch.wires.iter().any(|w| w.from == e) {
                let el = electrical(&setup.patch, registry, &e)?;
                rig.drive(&e, el, 0.0, quiet.clone());
            }
            if !keep {
                rig.patch.nodes.remove(&e.node);
            }
        }
        Ok(rig)
    }

    fn add_node(&mut self, base: &str, kind: Instrument) -> String {
        let id = self.patch.unique_id(base);
        let name = match kind {
            Instrument::Generator(..) => "bench_generator",
            Instrument::Tap(..) => "bench_tap",
        };
        let node = Node::new(format!("{name}_{}", self.kinds.len()), (0.0, 0.0));
        self.patch.nodes.insert(id.clone(), node);
        self.kinds.push(kind);
        id
    }

    /// Put a generator playing `signal` in place of output port `e` (whose
    /// electrical facts are `el`): it drives every input `e` drove; the
    /// analysis sees it play `level` rms. Returns its own port.
    pub fn drive(
        &mut self,
        e: &Endpoint,
        el: PortElectrical,
        level: f64,
        signal: Arc<Vec<f32>>,
    ) -> Endpoint {
        let id = self.add_node("bench_generator", Instrument::Generator(el, level, signal));
        let out = Endpoint::new(id, "out");
        for w in self.patch.wires.iter_mut().filter(|w| w.from == *e) {
            w.from = out.clone();
        }
        self.replaced.push((e.clone(), out.clone()));
        out
    }

    /// Record output port `e` (of domain `el.domain`) without loading it.
    /// Returns the tap's index in what `render` gives back.
    pub fn tap(&mut self, e: &Endpoint, domain: ohmpatch_patch::Domain) -> usize {
        // A port a generator took over is heard at the generator.
        let e = self
            .replaced
            .iter()
            .rev()
            .find(|(p, _)| p == e)
            .map_or(e, |(_, g)| g)
            .clone();
        let i = self.taps;
        self.taps += 1;
        let id = self.add_node("bench_tap", Instrument::Tap(domain, self.out_base + i));
        self.patch.wires.push(Wire::new(e, Endpoint::new(id, "in")));
        i as usize
    }

    /// The private catalogue: every kind plus this rig's instruments.
    fn registry(&self) -> Result<Registry, String> {
        let mut r = crate::registry();
        for (i, k) in self.kinds.iter().enumerate() {
            let kind: Box<dyn NodeKind> = match k {
                Instrument::Generator(el, level, x) => Box::new(Generator::new(
                    format!("bench_generator_{i}"),
                    el.clone(),
                    *level,
                    x.clone(),
                )),
                Instrument::Tap(d, ch) => Box::new(Tap::new(format!("bench_tap_{i}"), *d, *ch)),
            };
            r.try_register(kind)?;
        }
        Ok(r)
    }

    /// The schedule `check` would see for this rig, for predictions.
    pub fn compiled(&self) -> Result<(ohmpatch_engine::Schedule, Registry), String> {
        let registry = self.registry()?;
        let s = ohmpatch_engine::compile(
            &self.patch,
            &registry,
            self.sample_rate,
            &Default::default(),
        )
        .map_err(|e| e.message)?;
        Ok((s, registry))
    }

    /// Render `frames`; one signal per tap.
    pub fn render(self, frames: usize) -> Result<Vec<Vec<f32>>, String> {
        let registry = Arc::new(self.registry()?);
        let config = EngineConfig {
            sample_rate: self.sample_rate,
            seed: 0,
            patch_dir: self.patch_dir.clone(),
            channel_map: ChannelMap::Param,
            ..EngineConfig::default()
        };
        let mut engine = Engine::new(registry, config);
        engine.set_patch(&self.patch).map_err(|e| match e {
            EngineError::Invalid(d) => d
                .iter()
                .map(|x| x.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        })?;
        let mut channels = render_offline(&mut engine, frames, 128);
        engine.shutdown();
        let mut taps = Vec::with_capacity(self.taps as usize);
        for i in 0..self.taps {
            let ch = (self.out_base + i) as usize;
            let mut x = if ch < channels.len() {
                std::mem::take(&mut channels[ch])
            } else {
                vec![0.0; frames]
            };
            x.resize(frames, 0.0);
            for v in x.iter_mut().filter(|v| !v.is_finite()) {
                *v = 0.0;
            }
            taps.push(x);
        }
        Ok(taps)
    }
}
