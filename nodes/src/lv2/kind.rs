//! The `lv2` kind: one name, one member per installed plugin (picked by the
//! `uri` param, `Registry::register_member`), whose spec is built from the
//! plugin's description. The first five params are the electrical wrapper's;
//! each control input follows as a param named by its symbol. The family's
//! own kind stands for a plugin that is not installed: it keeps the node as
//! written and plays silence.

use super::discover::{Control, PluginInfo};
use super::run::Lv2Proc;
use crate::desc::*;
use crate::kinds::output::full_scale_peak_v;
use ohmpatch_engine::analysis::{AnalysisContext, Finding, Level, StageAnalysis, Subject};
use ohmpatch_engine::param::{Choice, Num};
use ohmpatch_engine::{BuildEnv, NodeKind, ParamId, Params, PortElectrical, Processor};
use ohmpatch_patch::{Direction, Domain, KindSpec, Name, ParamKind, ParamSpec, PortSpec, Taper};

pub const KIND: &str = "lv2";
pub const URI: &str = "uri";
pub const FULL_SCALE_DBU: ParamId<Num> = ParamId::new(1, "full_scale_dbu");
pub const DOMAIN: ParamId<Choice> = ParamId::new(2, "domain");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(3, "z_in_ohm");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(4, "z_out_ohm");
/// The index of the first control param.
pub const FIRST_CONTROL: usize = 5;

fn uri_param(default: Name, help: &'static str) -> ParamSpec {
    ParamSpec {
        name: URI.into(),
        kind: ParamKind::Text { default },
        help: help.into(),
        live: false,
        declared_index: Some(0),
    }
}

/// The wrapper's params, after `uri`: a plugin works in full-scale floats
/// and the node turns volts into them and back, at the converters'
/// convention (`output`, `audio_in`).
fn wrapper_params() -> Vec<ParamSpec> {
    vec![
        full_scale_dbu(
            FULL_SCALE_DBU,
            "The level of a sine that is 1.0 at its peak inside the plugin (EBU R68: +18 dBu), as `output` and `audio_in` convert.",
        ),
        domain_param(DOMAIN, "line"),
        log_number(Z_IN_OHM, 1.0, 1e7, 10_000.0, "Ω", "Input impedance."),
        number(
            Z_OUT_OHM,
            0.0,
            1e5,
            100.0,
            "Ω",
            "Output (source) impedance; 0 is ideal.",
        ),
    ]
}

/// Volts at the plugin's 1.0.
pub fn full_scale_v(params: &Params) -> f64 {
    full_scale_peak_v(params.num(FULL_SCALE_DBU))
}

fn electrical_of(spec: &KindSpec, params: &Params) -> Vec<PortElectrical> {
    let d = params.domain(DOMAIN);
    spec.ports
        .iter()
        .map(|p| match p.direction {
            Direction::In => port(d, ohms(params.num(Z_IN_OHM))),
            Direction::Out => port(d, ohms(params.num(Z_OUT_OHM))),
        })
        .collect()
}

/// A plugin that is not installed: the family's own kind.
pub struct Missing {
    spec: KindSpec,
}

impl Missing {
    pub fn new() -> Missing {
        let mut params = vec![uri_param(
            "".into(),
            "The LV2 plugin's URI (`ohmpatch plugins` lists them).",
        )];
        params.extend(wrapper_params());
        Missing {
            spec: KindSpec {
                kind: KIND.into(),
                help: "An LV2 plugin, by its URI; its controls are params named by their symbols. A plugin that is not installed keeps its params and plays silence.".into(),
                ports: Vec::new(),
                params,
            },
        }
    }
}

impl Default for Missing {
    fn default() -> Self {
        Missing::new()
    }
}

fn missing_text(params: &Params) -> String {
    let uri = params.text_named(URI).unwrap_or("");
    match super::catalog().get(uri).and_then(|p| p.refused.as_ref()) {
        Some(why) => format!("LV2 plugin {uri:?} cannot be hosted: {why}"),
        None => format!("LV2 plugin {uri:?} is not installed"),
    }
}

impl NodeKind for Missing {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn family_param(&self) -> Option<&'static str> {
        Some(URI)
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        electrical_of(&self.spec, params)
    }
    fn build(&self, _params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(Silent))
    }
    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, _inputs: &[Level]) -> StageAnalysis {
        StageAnalysis {
            outputs: Vec::new(),
            warnings: vec![Finding {
                at: Subject::node(""),
                message: format!("{}: the node plays silence", missing_text(params)),
                fix: "install the plugin (see `ohmpatch plugins`) or replace the node".into(),
            }],
        }
    }
}

struct Silent;

impl ohmpatch_engine::Processor for Silent {
    fn process(
        &mut self,
        _ctx: &ohmpatch_engine::ProcessContext,
        _inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) {
        for o in outputs.iter_mut() {
            o.fill(0.0);
        }
    }
}

/// One installed plugin.
pub struct Lv2Kind {
    spec: KindSpec,
    pub info: PluginInfo,
    /// `check`'s measurements, per set of params.
    pub(crate) cache: super::measure::Cache,
    /// Latencies reported, per set of params and rate.
    latencies: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

fn control_param(c: &Control, index: usize) -> ParamSpec {
    let help: Name = c.name.clone().into();
    let kind = if c.toggled {
        ParamKind::Bool {
            default: c.default >= 0.5 * (c.min + c.max),
        }
    } else if !c.choices.is_empty() {
        let default = c
            .choices
            .iter()
            .find(|(_, v)| *v == c.default)
            .map_or(c.choices[0].0.clone(), |(l, _)| l.clone());
        ParamKind::Choice {
            choices: c.choices.iter().map(|(l, _)| l.clone().into()).collect(),
            default: default.into(),
        }
    } else {
        ParamKind::Number {
            min: c.min,
            max: c.max,
            default: c.default,
            unit: "".into(),
            taper: if c.logarithmic {
                Taper::Log
            } else {
                Taper::Linear
            },
            integer: c.integer,
        }
    };
    ParamSpec {
        name: c.symbol.clone().into(),
        kind,
        help,
        live: true,
        declared_index: Some(index),
    }
}

impl Lv2Kind {
    /// The kind for a plugin ohmpatch can host; a plugin it cannot is
    /// refused in words.
    pub fn new(info: PluginInfo) -> Result<Lv2Kind, String> {
        if let Some(why) = &info.refused {
            return Err(format!(
                "{} ({}) cannot be hosted: {why}",
                info.name, info.uri
            ));
        }
        let mut params = vec![uri_param(
            info.uri.clone().into(),
            "The LV2 plugin's URI; a change picks another plugin.",
        )];
        params.extend(wrapper_params());
        for (i, c) in info.controls.iter().enumerate() {
            params.push(control_param(c, FIRST_CONTROL + i));
        }
        let port = |name: &String, direction| PortSpec {
            name: name.clone().into(),
            direction,
            domain: Domain::Line,
            help: format!("Audio port {name} of {}.", info.name).into(),
        };
        let mut ports: Vec<PortSpec> = info
            .audio_inputs
            .iter()
            .map(|n| port(n, Direction::In))
            .collect();
        ports.extend(info.audio_outputs.iter().map(|n| port(n, Direction::Out)));
        let spec = KindSpec {
            kind: KIND.into(),
            help: format!(
                "{} ({}), an LV2 plugin: {}",
                info.name, info.class, info.uri
            )
            .into(),
            ports,
            params,
        };
        spec.check()?;
        Ok(Lv2Kind {
            spec,
            info,
            cache: Default::default(),
            latencies: Default::default(),
        })
    }

    /// The value the plugin's control port takes for a param's value as
    /// the engine sends it (a choice's index becomes its scale point).
    pub fn control_value(c: &Control, value: f64) -> f32 {
        if c.toggled {
            return if value != 0.0 {
                c.max as f32
            } else {
                c.min as f32
            };
        }
        if !c.choices.is_empty() {
            let i = (value.max(0.0) as usize).min(c.choices.len() - 1);
            return c.choices[i].1 as f32;
        }
        value as f32
    }
}

impl NodeKind for Lv2Kind {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        electrical_of(&self.spec, params)
    }
    fn measured(&self) -> bool {
        true
    }
    /// Only a plugin with a latency port is built to ask it (once per set
    /// of params and rate: the analysis asks on every edit).
    fn latency(&self, params: &Params, env: &mut BuildEnv) -> usize {
        if self.info.latency_port.is_none() {
            return 0;
        }
        let key = format!("{}{:?}", env.sample_rate, params.values());
        let mut known = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = known.get(&key) {
            return *l;
        }
        let l = ohmpatch_engine::latency_of_built(self, params, env);
        if known.len() >= 64 {
            known.clear();
        }
        known.insert(key, l);
        l
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let p = Lv2Proc::new(&self.info, params, env.sample_rate)?;
        env.publish(p.control_outputs());
        env.add_service(Box::new(super::run::Workers));
        Ok(Box::new(p))
    }
    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        super::measure::analyze(self, params, ctx, inputs)
    }
}
