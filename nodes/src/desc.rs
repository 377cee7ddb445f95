//! Short constructors for descriptors, so each kind's module reads like its
//! data sheet.

use ohmpatch_engine::param::{Choice, File, Flag, Num};
use ohmpatch_engine::{Impedance, ParamId, Params, PortElectrical};
use ohmpatch_patch::{Direction, Domain, ParamKind, ParamSpec, PortSpec, Taper};

pub fn input(name: &'static str, domain: Domain, help: &'static str) -> PortSpec {
    PortSpec {
        name: name.into(),
        direction: Direction::In,
        domain,
        help: help.into(),
    }
}

pub fn output(name: &'static str, domain: Domain, help: &'static str) -> PortSpec {
    PortSpec {
        name: name.into(),
        direction: Direction::Out,
        domain,
        help: help.into(),
    }
}

/// A param spec from its typed id: the name and the index it claims come
/// from the id, so the two cannot drift apart.
fn spec_of<T>(id: ParamId<T>, kind: ParamKind, help: &'static str) -> ParamSpec {
    ParamSpec {
        name: id.name().into(),
        kind,
        help: help.into(),
        live: false,
        declared_index: Some(id.index()),
    }
}

pub fn number(
    id: ParamId<Num>,
    min: f64,
    max: f64,
    default: f64,
    unit: &'static str,
    help: &'static str,
) -> ParamSpec {
    spec_of(
        id,
        ParamKind::Number {
            min,
            max,
            default,
            unit: unit.into(),
            taper: Taper::Linear,
            integer: false,
        },
        help,
    )
}

/// A converter's full scale: the level in dBu of a sine that peaks at 1.0
/// (EBU R68's +18 dBu by default), shared by everything that turns volts
/// into full-scale floats or back (`audio_in`, `output`, `recorder`, `lv2`).
pub fn full_scale_dbu(id: ParamId<Num>, help: &'static str) -> ParamSpec {
    number(id, -20.0, 40.0, 18.0, "dBu", help)
}

/// A number whose knob travels logarithmically (frequencies, impedances).
pub fn log_number(
    id: ParamId<Num>,
    min: f64,
    max: f64,
    default: f64,
    unit: &'static str,
    help: &'static str,
) -> ParamSpec {
    spec_of(
        id,
        ParamKind::Number {
            min,
            max,
            default,
            unit: unit.into(),
            taper: Taper::Log,
            integer: false,
        },
        help,
    )
}

pub fn integer(
    id: ParamId<Num>,
    min: f64,
    max: f64,
    default: f64,
    help: &'static str,
) -> ParamSpec {
    spec_of(
        id,
        ParamKind::Number {
            min,
            max,
            default,
            unit: "".into(),
            taper: Taper::Linear,
            integer: true,
        },
        help,
    )
}

pub fn choice(
    id: ParamId<Choice>,
    choices: &'static [&'static str],
    default: &'static str,
    help: &'static str,
) -> ParamSpec {
    let kind = ParamKind::Choice {
        choices: choices.iter().map(|c| (*c).into()).collect(),
        default: default.into(),
    };
    spec_of(id, kind, help)
}

pub fn flag(id: ParamId<Flag>, default: bool, help: &'static str) -> ParamSpec {
    spec_of(id, ParamKind::Bool { default }, help)
}

pub fn path(id: ParamId<File>, help: &'static str) -> ParamSpec {
    spec_of(id, ParamKind::Path { default: "".into() }, help)
}

/// The `domain` param of sources and utilities.
pub fn domain_param(id: ParamId<Choice>, default: &'static str) -> ParamSpec {
    choice(
        id,
        ohmpatch_engine::node::DOMAIN_CHOICES,
        default,
        "What the output carries: volts at mic/instrument/line/speaker level, pascals (acoustic) or full-scale (digital).",
    )
}

/// An ohms value where 0 means an ideal source (no loading).
pub fn ohms(z: f64) -> Impedance {
    if z > 0.0 {
        Impedance::Ohms(z)
    } else {
        Impedance::None
    }
}

pub fn port(domain: Domain, impedance: Impedance) -> PortElectrical {
    PortElectrical { domain, impedance }
}

/// Ports for a pass-through utility: the domain param on every port, no loading.
pub fn transparent(
    spec: &ohmpatch_patch::KindSpec,
    params: &Params,
    domain: ParamId<Choice>,
) -> Vec<PortElectrical> {
    let d = params.domain(domain);
    spec.ports
        .iter()
        .map(|_| port(d, Impedance::None))
        .collect()
}
