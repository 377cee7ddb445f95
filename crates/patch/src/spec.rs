//! Descriptions of node kinds, as data. The patch crate validates against these
//! without knowing any DSP; the engine and node catalogue fill them in.

use serde::Serialize;

/// What a port carries. Samples are pascals on `Acoustic`, volts on the
/// electrical domains and full-scale floats on `Digital` (CONTRACT §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    Acoustic,
    Mic,
    Instrument,
    Line,
    Speaker,
    Digital,
}

impl Domain {
    pub const ALL: [Domain; 6] = [
        Domain::Acoustic,
        Domain::Mic,
        Domain::Instrument,
        Domain::Line,
        Domain::Speaker,
        Domain::Digital,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Domain::Acoustic => "acoustic",
            Domain::Mic => "mic",
            Domain::Instrument => "instrument",
            Domain::Line => "line",
            Domain::Speaker => "speaker",
            Domain::Digital => "digital",
        }
    }

    pub fn from_name(s: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.name() == s)
    }

    /// True for the domains whose samples are volts.
    pub fn is_electrical(self) -> bool {
        !matches!(self, Domain::Acoustic | Domain::Digital)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

#[derive(Clone, Debug, Serialize)]
pub struct PortSpec {
    pub name: &'static str,
    pub direction: Direction,
    /// The port's default domain; some kinds change it with a `domain` param.
    pub domain: Domain,
    pub help: &'static str,
}

/// How a knob maps its travel to the value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Taper {
    Linear,
    Log,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    Number {
        min: f64,
        max: f64,
        default: f64,
        unit: &'static str,
        taper: Taper,
        /// Whole numbers only (channel, seed, oversampling factor).
        integer: bool,
    },
    Choice {
        choices: &'static [&'static str],
        default: &'static str,
    },
    Bool {
        default: bool,
    },
    /// A file path, relative to the patch's folder; empty means none.
    Path {
        default: &'static str,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub help: &'static str,
}

impl ParamSpec {
    pub fn default_value(&self) -> crate::Value {
        match &self.kind {
            ParamKind::Number { default, .. } => crate::Value::Number(*default),
            ParamKind::Choice { default, .. } => crate::Value::Str((*default).to_string()),
            ParamKind::Bool { default } => crate::Value::Bool(*default),
            ParamKind::Path { default } => crate::Value::Str((*default).to_string()),
        }
    }
}

/// One node kind as the patch document and the user see it.
#[derive(Clone, Debug, Serialize)]
pub struct KindSpec {
    pub kind: &'static str,
    pub help: &'static str,
    pub ports: Vec<PortSpec>,
    pub params: Vec<ParamSpec>,
}

impl KindSpec {
    pub fn port(&self, name: &str) -> Option<&PortSpec> {
        self.ports.iter().find(|p| p.name == name)
    }

    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn inputs(&self) -> impl Iterator<Item = &PortSpec> {
        self.ports.iter().filter(|p| p.direction == Direction::In)
    }

    pub fn outputs(&self) -> impl Iterator<Item = &PortSpec> {
        self.ports.iter().filter(|p| p.direction == Direction::Out)
    }
}

/// The table of known kinds that a patch is checked against.
pub trait Catalogue {
    fn kind(&self, name: &str) -> Option<&KindSpec>;
    /// All kind names, for "did you mean" suggestions and palettes.
    fn kind_names(&self) -> Vec<&'static str>;
}

/// A catalogue held as a plain list, handy in tests and for the engine.
impl Catalogue for [KindSpec] {
    fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.iter().find(|k| k.kind == name)
    }
    fn kind_names(&self) -> Vec<&'static str> {
        self.iter().map(|k| k.kind).collect()
    }
}

impl Catalogue for Vec<KindSpec> {
    fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.as_slice().kind(name)
    }
    fn kind_names(&self) -> Vec<&'static str> {
        self.as_slice().kind_names()
    }
}
