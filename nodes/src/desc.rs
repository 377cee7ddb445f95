//! Short constructors for descriptors, so each kind's module reads like its
//! data sheet.

use ohmpatch_engine::{Impedance, Params, PortElectrical};
use ohmpatch_patch::{Direction, Domain, ParamKind, ParamSpec, PortSpec, Taper};

pub fn input(name: &'static str, domain: Domain, help: &'static str) -> PortSpec {
    PortSpec {
        name,
        direction: Direction::In,
        domain,
        help,
    }
}

pub fn output(name: &'static str, domain: Domain, help: &'static str) -> PortSpec {
    PortSpec {
        name,
        direction: Direction::Out,
        domain,
        help,
    }
}

pub fn number(
    name: &'static str,
    min: f64,
    max: f64,
    default: f64,
    unit: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number {
            min,
            max,
            default,
            unit,
            taper: Taper::Linear,
            integer: false,
        },
        help,
    }
}

/// A number whose knob travels logarithmically (frequencies, impedances).
pub fn log_number(
    name: &'static str,
    min: f64,
    max: f64,
    default: f64,
    unit: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number {
            min,
            max,
            default,
            unit,
            taper: Taper::Log,
            integer: false,
        },
        help,
    }
}

pub fn integer(
    name: &'static str,
    min: f64,
    max: f64,
    default: f64,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number {
            min,
            max,
            default,
            unit: "",
            taper: Taper::Linear,
            integer: true,
        },
        help,
    }
}

pub fn choice(
    name: &'static str,
    choices: &'static [&'static str],
    default: &'static str,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Choice { choices, default },
        help,
    }
}

pub fn flag(name: &'static str, default: bool, help: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Bool { default },
        help,
    }
}

pub fn path(name: &'static str, help: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Path { default: "" },
        help,
    }
}

/// The `domain` param of sources and utilities.
pub fn domain_param(default: &'static str) -> ParamSpec {
    choice(
        "domain",
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

/// Ports for a pass-through utility: the domain param (if any) on every port, no loading.
pub fn transparent(spec: &ohmpatch_patch::KindSpec, params: &Params) -> Vec<PortElectrical> {
    spec.ports
        .iter()
        .map(|p| port(params.domain_or(p.domain), Impedance::None))
        .collect()
}
