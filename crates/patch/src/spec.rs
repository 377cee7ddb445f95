//! Descriptions of node kinds, as data. The patch crate validates against these
//! without knowing any DSP; the engine and node catalogue fill them in.

use serde::Serialize;
use std::borrow::Cow;

/// A name or text in a descriptor: borrowed for the kinds built into the
/// program, owned for kinds described at run time (a plugin's ports and
/// params are only known once it is found).
pub type Name = Cow<'static, str>;

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
    pub name: Name,
    pub direction: Direction,
    /// The port's default domain; some kinds change it with a `domain` param.
    pub domain: Domain,
    pub help: Name,
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
        unit: Name,
        taper: Taper,
        /// Whole numbers only (channel, seed, oversampling factor).
        integer: bool,
    },
    Choice {
        choices: Vec<Name>,
        default: Name,
    },
    Bool {
        default: bool,
    },
    /// A file path, relative to the patch's folder; empty means none.
    Path {
        default: Name,
    },
    /// Text that names something outside the patch (a plugin's URI): kept
    /// as written, never resolved as a file.
    Text {
        default: Name,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    pub name: Name,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub help: Name,
    /// Whether a change may reach the running processor (`set_param`). A
    /// change of any other param builds the node anew, with a crossfade, so
    /// no change is ever lost between the two.
    pub live: bool,
    /// The index a kind's typed id for this param claims; checked against
    /// the param's place when the kind is registered.
    #[serde(skip)]
    pub declared_index: Option<usize>,
}

impl ParamSpec {
    /// Mark the param as changeable on a running processor.
    pub fn live(mut self) -> ParamSpec {
        self.live = true;
        self
    }

    pub fn default_value(&self) -> crate::Value {
        match &self.kind {
            ParamKind::Number { default, .. } => crate::Value::Number(*default),
            ParamKind::Choice { default, .. } => crate::Value::Str(default.to_string()),
            ParamKind::Bool { default } => crate::Value::Bool(*default),
            ParamKind::Path { default } | ParamKind::Text { default } => {
                crate::Value::Str(default.to_string())
            }
        }
    }
}

/// One node kind as the patch document and the user see it.
#[derive(Clone, Debug, Serialize)]
pub struct KindSpec {
    pub kind: Name,
    pub help: Name,
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

    /// The descriptor's own consistency: a name, unique port and param
    /// names, every typed id at the index it claims, and defaults inside
    /// their ranges. A kind that fails is a bug in the kind (or a plugin
    /// that describes itself badly), found when it is registered.
    pub fn check(&self) -> Result<(), String> {
        let k = &self.kind;
        if k.is_empty() {
            return Err("a kind has no name".into());
        }
        for (i, p) in self.ports.iter().enumerate() {
            if self.ports[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("{k}: port {} is declared twice", p.name));
            }
        }
        for (i, p) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("{k}: param {} is declared twice", p.name));
            }
            if let Some(d) = p.declared_index
                && d != i
            {
                return Err(format!(
                    "{k}: param {} is declared at index {d} but is number {i} of the spec",
                    p.name
                ));
            }
            match &p.kind {
                ParamKind::Number {
                    min, max, default, ..
                } if !(min <= default && default <= max) => {
                    return Err(format!(
                        "{k}: param {}'s default is outside its range",
                        p.name
                    ));
                }
                ParamKind::Choice { choices, default } if !choices.contains(default) => {
                    return Err(format!("{k}: param {}'s default is not a choice", p.name));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The table of known kinds that a patch is checked against.
pub trait Catalogue {
    fn kind(&self, name: &str) -> Option<&KindSpec>;
    /// All kind names, for "did you mean" suggestions and palettes.
    fn kind_names(&self) -> Vec<&str>;

    /// The description that applies to this node. Most kinds have one; a
    /// family of kinds under one name (`lv2`, one per plugin) picks it by a
    /// param's value.
    fn kind_of(&self, node: &crate::Node) -> Option<&KindSpec> {
        self.kind(&node.kind)
    }

    /// A node of a family whose member is not available here (a plugin that
    /// is not installed): what is missing, in words. Such a node is kept as
    /// it is written (its params and wires are not checked, so nothing is
    /// lost) and plays silence.
    fn missing(&self, node: &crate::Node) -> Option<String> {
        let _ = node;
        None
    }
}

/// A catalogue held as a plain list, handy in tests and for the engine.
impl Catalogue for [KindSpec] {
    fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.iter().find(|k| k.kind == name)
    }
    fn kind_names(&self) -> Vec<&str> {
        self.iter().map(|k| k.kind.as_ref()).collect()
    }
}

impl Catalogue for Vec<KindSpec> {
    fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.as_slice().kind(name)
    }
    fn kind_names(&self) -> Vec<&str> {
        self.as_slice().kind_names()
    }
}
