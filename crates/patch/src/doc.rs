//! The patch document itself (CONTRACT §2).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file format version this build writes and reads.
pub const CURRENT_VERSION: u32 = 1;

/// A parameter value as written in a patch file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Str(String),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Number(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub kind: String,
    #[serde(default)]
    pub pos: (f32, f32),
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

impl Node {
    pub fn new(kind: impl Into<String>, pos: (f32, f32)) -> Self {
        Node {
            kind: kind.into(),
            pos,
            params: BTreeMap::new(),
        }
    }
}

/// One end of a wire: `node.port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub node: String,
    pub port: String,
}

impl Endpoint {
    pub fn new(node: impl Into<String>, port: impl Into<String>) -> Self {
        Endpoint {
            node: node.into(),
            port: port.into(),
        }
    }

    /// Parse `"node.port"`; the port is after the last dot.
    pub fn parse(s: &str) -> Option<Endpoint> {
        let (node, port) = s.rsplit_once('.')?;
        if node.is_empty() || port.is_empty() {
            return None;
        }
        Some(Endpoint::new(node, port))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.node, self.port)
    }
}

/// A wire from an output port to an input port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Wire {
    pub from: Endpoint,
    pub to: Endpoint,
}

impl Wire {
    pub fn new(from: Endpoint, to: Endpoint) -> Self {
        Wire { from, to }
    }

    /// `Wire::parse("a.out", "b.in")`.
    pub fn parse(from: &str, to: &str) -> Option<Wire> {
        Some(Wire::new(Endpoint::parse(from)?, Endpoint::parse(to)?))
    }
}

/// A patch: what a `.ohm.ron` file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    pub version: u32,
    pub name: String,
    pub description: String,
    /// Keyed by the user-visible id; a `BTreeMap` keeps the saved order stable.
    pub nodes: BTreeMap<String, Node>,
    pub wires: Vec<Wire>,
}

impl Default for Patch {
    fn default() -> Self {
        Patch {
            version: CURRENT_VERSION,
            name: String::new(),
            description: String::new(),
            nodes: BTreeMap::new(),
            wires: Vec::new(),
        }
    }
}

impl Patch {
    /// Whether `id` is a legal node id: letters, digits, `_`, `-`.
    pub fn is_valid_id(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    /// A fresh id based on `base` that no node uses yet (`gain`, `gain2`, …).
    pub fn unique_id(&self, base: &str) -> String {
        let base: String = base
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let base = if base.is_empty() {
            "node".to_string()
        } else {
            base
        };
        if !self.nodes.contains_key(&base) {
            return base;
        }
        (2..)
            .map(|i| format!("{base}{i}"))
            .find(|id| !self.nodes.contains_key(id))
            .expect("unbounded")
    }

    /// Wires that touch node `id`.
    pub fn wires_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Wire> + 'a {
        self.wires
            .iter()
            .filter(move |w| w.from.node == id || w.to.node == id)
    }
}
