//! Reading and writing `.ohm.ron` patch files (CONTRACT §2).
//!
//! Loading goes: text → a lenient *raw* form that can hold every format
//! version ([`RawPatch`]) → [`migrate`] to the current version → checks that
//! need no node catalogue (ids, wire strings, duplicates, sizes) → [`Patch`].
//! Checks against the catalogue live in [`crate::validate`].
//!
//! Saving writes a hand-formatted canonical text ([`to_ron_string`]), one node
//! and one wire per line in a stable order, so a one-knob change is a one-line
//! diff, and writes it atomically ([`save_atomic`]); both live in `save.rs`.

use crate::doc::{CURRENT_VERSION, Endpoint, Node, Patch, Value, Wire};
use crate::error::{Diagnostic, LoadError, Location};
use crate::source::SourceMap;
use crate::validate::{MAX_NODES, MAX_WIRES};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

pub use crate::save::{SaveStage, save_atomic, save_atomic_with, save_text_atomic, to_ron_string};

/// The largest patch file `load_file` reads. A patch at the node and wire
/// limits is a few megabytes; anything far larger is not a patch.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------
// The raw form and migration
// ---------------------------------------------------------------------------

/// A patch file as parsed, before migration and checks. It is lenient enough
/// to hold what every format version wrote, so [`migrate`] can rewrite older
/// shapes into the current one.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RawPatch {
    pub name: String,
    pub description: String,
    /// In file order, duplicates kept (a map would silently drop them).
    pub nodes: Vec<(String, RawNode)>,
    pub wires: Vec<RawWire>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawNode {
    pub kind: String,
    pub pos: (f32, f32),
    /// In file order, duplicates kept.
    pub params: Vec<(String, RawValue)>,
}

/// A param value as written: a [`Value`], or something no param can hold
/// (a list, a map, `()`…), kept as a description for the error message.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Value(Value),
    Unsupported(String),
}

/// One element of the `wires` list.
#[derive(Clone, Debug, PartialEq)]
pub enum RawWire {
    /// `("a.out", "b.in")`, the form of version 1.
    Pair(String, String),
    /// `(from: "a.out", to: "b.in")`, the form of version 0.
    Fields { from: String, to: String },
    /// Anything else, described for the error message.
    Malformed(String),
}

/// Upgrade a raw patch written in format `version` to [`CURRENT_VERSION`],
/// one version step at a time.
///
/// Format history:
/// - **0** (pre-release): wires were structs, `(from: "a.out", to: "b.in")`.
/// - **1**: wires are pairs, `("a.out", "b.in")`; the struct form is refused.
///
/// A version newer than this build is refused: guessing at a newer format
/// could silently lose what the newer build wrote.
pub fn migrate(version: u32, mut raw: RawPatch) -> Result<RawPatch, String> {
    if version > CURRENT_VERSION {
        return Err(newer_version_message(u64::from(version)));
    }
    let mut v = version;
    while v < CURRENT_VERSION {
        raw = match v {
            0 => v0_to_v1(raw),
            // Unreachable while every older version has a step above.
            _ => return Err(format!("format version {v} cannot be upgraded")),
        };
        v += 1;
    }
    Ok(raw)
}

/// Version 0 → 1: wires written as structs become pairs.
fn v0_to_v1(mut raw: RawPatch) -> RawPatch {
    for wire in &mut raw.wires {
        if let RawWire::Fields { from, to } = wire {
            *wire = RawWire::Pair(std::mem::take(from), std::mem::take(to));
        }
    }
    raw
}

fn newer_version_message(version: u64) -> String {
    format!(
        "this patch is format version {version}; this build of ohmpatch reads version \
         {CURRENT_VERSION} and older (a newer ohmpatch wrote it)"
    )
}

// ---------------------------------------------------------------------------
// serde glue for the raw form
// ---------------------------------------------------------------------------

/// The root struct as serde sees it. Named `Patch` so `Patch(…)` is accepted
/// as well as a bare `(…)`.
#[derive(Deserialize)]
#[serde(rename = "Patch", deny_unknown_fields)]
struct RawFile {
    version: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    nodes: NodeList,
    #[serde(default)]
    wires: WireList,
}

#[derive(Deserialize)]
#[serde(rename = "Node", deny_unknown_fields)]
struct RawNodeFile {
    kind: String,
    #[serde(default)]
    pos: (f32, f32),
    #[serde(default)]
    params: ParamList,
}

#[derive(Default)]
struct NodeList(Vec<(String, RawNode)>);

#[derive(Default)]
struct ParamList(Vec<(String, RawValue)>);

#[derive(Default)]
struct WireList(Vec<RawWire>);

impl<'de> Deserialize<'de> for NodeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodeList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of nodes, { \"id\": (kind: \"…\"), … }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeList, A::Error> {
                let mut out = Vec::new();
                while let Some(id) = map.next_key::<String>()? {
                    let n: RawNodeFile = map.next_value()?;
                    out.push((
                        id,
                        RawNode {
                            kind: n.kind,
                            pos: n.pos,
                            params: n.params.0,
                        },
                    ));
                }
                Ok(NodeList(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for ParamList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of params, { \"name\": value, … }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParamList, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value = match map.next_value::<Any>()? {
                        Any::Bool(b) => RawValue::Value(Value::Bool(b)),
                        Any::Num(n) => RawValue::Value(Value::Number(n)),
                        Any::Str(s) => RawValue::Value(Value::Str(s)),
                        other => RawValue::Unsupported(other.describe()),
                    };
                    out.push((name, value));
                }
                Ok(ParamList(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for WireList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of wires, [(\"a.out\", \"b.in\"), …]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireList, A::Error> {
                let mut out = Vec::new();
                while let Some(any) = seq.next_element::<Any>()? {
                    out.push(any.into_wire());
                }
                Ok(WireList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// Any RON value, order kept, numbers as `f64`. Used where the file may hold
/// a shape we want to report in words rather than fail on (param values,
/// wires of any version).
#[derive(Debug)]
enum Any {
    Bool(bool),
    Num(f64),
    Str(String),
    Seq(Vec<Any>),
    Map(Vec<(Any, Any)>),
    Other(&'static str),
}

impl Any {
    fn describe(&self) -> String {
        match self {
            Any::Bool(b) => b.to_string(),
            Any::Num(n) => format!("the number {n}"),
            Any::Str(s) => format!("the string {s:?}"),
            Any::Seq(_) => "a list or tuple".to_string(),
            Any::Map(_) => "a map or struct".to_string(),
            Any::Other(what) => (*what).to_string(),
        }
    }

    fn into_wire(self) -> RawWire {
        match self {
            Any::Seq(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                match (it.next(), it.next()) {
                    (Some(Any::Str(a)), Some(Any::Str(b))) => RawWire::Pair(a, b),
                    _ => RawWire::Malformed("a pair that is not two strings".to_string()),
                }
            }
            Any::Map(entries) if entries.len() == 2 => {
                let (mut from, mut to) = (None, None);
                for (k, v) in entries {
                    match (k, v) {
                        (Any::Str(k), Any::Str(v)) if k == "from" => from = Some(v),
                        (Any::Str(k), Any::Str(v)) if k == "to" => to = Some(v),
                        _ => {}
                    }
                }
                match (from, to) {
                    (Some(from), Some(to)) => RawWire::Fields { from, to },
                    _ => RawWire::Malformed("a map or struct".to_string()),
                }
            }
            other => RawWire::Malformed(other.describe()),
        }
    }
}

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Any;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Any, E> {
        Ok(Any::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Any, E> {
        Ok(Any::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Any, E> {
        Ok(Any::Num(v as f64))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Any, E> {
        Ok(Any::Num(v as f64))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Any, E> {
        Ok(Any::Num(v as f64))
    }
    fn visit_f32<E>(self, v: f32) -> Result<Any, E> {
        // ron hands out an f32 only when the written number is exactly one.
        Ok(Any::Num(f64::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Any, E> {
        Ok(Any::Num(v))
    }
    fn visit_char<E>(self, _: char) -> Result<Any, E> {
        Ok(Any::Other("a character"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Any, E> {
        Ok(Any::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Any, E> {
        Ok(Any::Str(v))
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Any, E> {
        Ok(Any::Other("a byte string"))
    }
    fn visit_unit<E>(self) -> Result<Any, E> {
        Ok(Any::Other("()"))
    }
    fn visit_none<E>(self) -> Result<Any, E> {
        Ok(Any::Other("None"))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Any, D::Error> {
        Any::deserialize(d)?;
        Ok(Any::Other("Some(…)"))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Any, D::Error> {
        Any::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Any, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Any>()? {
            items.push(item);
        }
        Ok(Any::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Any, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Any, Any>()? {
            entries.push((k, v));
        }
        Ok(Any::Map(entries))
    }
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Parse a patch from its text. `origin` names it in messages (a file path,
/// or `<patch>`). Never panics, whatever the text.
pub fn load_str(text: &str, origin: &str) -> Result<Patch, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(LoadError::unreadable(
            origin,
            "the file is empty; a patch starts with \"(version: 1,\"",
        ));
    }
    let map = SourceMap::build(text);

    // Refuse a newer format before parsing it: a newer build may have added
    // fields or syntax that would otherwise show up as confusing errors.
    if let Some(v) = map.version.as_deref().and_then(|v| v.parse::<u64>().ok())
        && v > u64::from(CURRENT_VERSION)
    {
        return Err(LoadError::unreadable_at(
            origin,
            map.field("version"),
            newer_version_message(v),
        ));
    }

    let file: RawFile = ron::Options::default()
        .from_str(text)
        .map_err(|e| ron_error(origin, &e))?;
    let raw = RawPatch {
        name: file.name,
        description: file.description,
        nodes: file.nodes.0,
        wires: file.wires.0,
    };
    let raw = migrate(file.version, raw)
        .map_err(|m| LoadError::unreadable_at(origin, map.field("version"), m))?;
    build(raw, origin, &map)
}

/// Read and parse a patch file; messages name the file by `path`.
pub fn load_file(path: &Path) -> Result<Patch, LoadError> {
    let origin = path.display().to_string();
    let bytes = read_limited(path).map_err(|e| LoadError::unreadable(&origin, io_words(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::unreadable(
            &origin,
            format!(
                "the file is larger than {} MiB, too large to be a patch",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let prefix = std::str::from_utf8(good).unwrap_or("");
            let loc = end_location(prefix);
            return Err(LoadError::unreadable_at(
                &origin,
                Some(loc),
                "the file is not UTF-8 text (is it a patch file?)",
            ));
        }
    };
    load_str(&text, &origin)
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// An I/O error in plain words.
fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "cannot read the file: it does not exist".to_string(),
        K::PermissionDenied => "cannot read the file: permission denied".to_string(),
        K::IsADirectory => "cannot read the file: it is a folder, not a patch file".to_string(),
        _ => format!("cannot read the file: {e}"),
    }
}

/// The location just past the end of `text`.
fn end_location(text: &str) -> Location {
    let line = text.matches('\n').count() + 1;
    let last = text.rsplit('\n').next().unwrap_or("");
    Location::new(line, last.chars().count() + 1)
}

/// A ron error as an unreadable-file error in plain words, with its place.
fn ron_error(origin: &str, e: &ron::error::SpannedError) -> LoadError {
    let pos = e.span.start;
    let loc = (pos.line > 0).then(|| Location::new(pos.line, pos.col.max(1)));
    LoadError::unreadable_at(origin, loc, ron_words(&e.code))
}

fn struct_words(outer: &Option<String>) -> &'static str {
    match outer.as_deref() {
        Some("Patch") => "the patch",
        Some("Node") => "a node",
        _ => "this struct",
    }
}

fn ron_words(code: &ron::Error) -> String {
    use ron::Error as E;
    match code {
        E::Eof => "the file ends too early (is it cut short?)".to_string(),
        E::NoSuchStructField {
            expected,
            found,
            outer,
        } => format!(
            "unknown field {found:?} in {}; the fields are: {}",
            struct_words(outer),
            expected.join(", ")
        ),
        E::MissingStructField { field, outer } => {
            let mut s = format!("{} has no {field:?} field", struct_words(outer));
            if *field == "version" {
                s.push_str(&format!(
                    " (a patch starts with \"(version: {CURRENT_VERSION},\")"
                ));
            }
            s
        }
        E::DuplicateStructField { field, outer } => {
            format!("field {field:?} is given twice in {}", struct_words(outer))
        }
        E::ExpectedDifferentStructName { expected, found } => {
            format!("expected \"(\" or \"{expected}(\", found \"{found}\"")
        }
        E::ExpectedNamedStructLike("Patch") => "a patch starts with \"(\"".to_string(),
        E::ExpectedNamedStructLike("Node") => {
            "a node is written (kind: \"…\", pos: (x, y), params: {…})".to_string()
        }
        E::TrailingCharacters => "unexpected text after the end of the patch".to_string(),
        E::ExceededRecursionLimit => "the brackets are nested too deeply".to_string(),
        E::InvalidValueForType { expected, found } => {
            format!("expected {expected}, found {found}")
        }
        E::Message(m) => m.clone(),
        other => {
            let s = other.to_string();
            let mut chars = s.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => s,
            }
        }
    }
}

/// Turn a migrated raw patch into a [`Patch`], reporting what needs no
/// catalogue to check: ids, duplicates, wire strings, sizes.
fn build(raw: RawPatch, origin: &str, map: &SourceMap) -> Result<Patch, LoadError> {
    let diag = |loc: Option<Location>, msg: String| Diagnostic::new(origin, loc, msg);
    if raw.nodes.len() > MAX_NODES {
        return Err(LoadError::Invalid(vec![diag(
            map.field("nodes"),
            format!(
                "the patch has {} nodes; at most {MAX_NODES} are allowed",
                raw.nodes.len()
            ),
        )]));
    }
    if raw.wires.len() > MAX_WIRES {
        return Err(LoadError::Invalid(vec![diag(
            map.field("wires"),
            format!(
                "the patch has {} wires; at most {MAX_WIRES} are allowed",
                raw.wires.len()
            ),
        )]));
    }

    let mut diags = Vec::new();
    let mut nodes = BTreeMap::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, raw_node) in &raw.nodes {
        let nth = seen.entry(id.as_str()).or_insert(0);
        let span = map.node_nth(id, *nth);
        *nth += 1;
        let loc = span.map(|s| s.key);
        if *nth > 1 {
            diags.push(diag(loc, format!("duplicate node id {id:?}")));
            continue;
        }
        if !Patch::is_valid_id(id) {
            diags.push(diag(
                loc,
                format!(
                    "node id {id:?} is not allowed; ids use letters, digits, \"_\" and \"-\" \
                     (at most 64)"
                ),
            ));
        }
        let mut params = BTreeMap::new();
        for (name, value) in &raw_node.params {
            let ploc = span
                .and_then(|s| s.params.iter().find(|(n, _)| n == name))
                .map(|(_, l)| *l)
                .or(loc);
            match value {
                RawValue::Value(v) => {
                    if params.insert(name.clone(), v.clone()).is_some() {
                        let second = span
                            .and_then(|s| s.params.iter().filter(|(n, _)| n == name).nth(1))
                            .map(|(_, l)| *l)
                            .or(ploc);
                        diags.push(diag(
                            second,
                            format!("node {id:?} has param {name:?} twice"),
                        ));
                    }
                }
                RawValue::Unsupported(what) => diags.push(diag(
                    ploc,
                    format!(
                        "node {id:?} param {name:?} is {what}; a param value is a number, \
                         a string, true or false"
                    ),
                )),
            }
        }
        nodes.insert(
            id.clone(),
            Node {
                kind: raw_node.kind.clone(),
                pos: raw_node.pos,
                params,
            },
        );
    }

    let mut wires = Vec::new();
    for (i, raw_wire) in raw.wires.iter().enumerate() {
        let span = map.wires.get(i);
        let n = i + 1;
        match raw_wire {
            RawWire::Pair(from, to) => {
                let mut ok = true;
                for (k, s) in [from, to].into_iter().enumerate() {
                    if Endpoint::parse(s).is_none() {
                        ok = false;
                        let loc =
                            span.and_then(|w| w.strings.get(k).map(|(_, l)| *l).or(Some(w.start)));
                        diags.push(diag(
                            loc,
                            format!(
                                "wire {n}: {s:?} is not a port; a wire end is written \
                                 \"node.port\""
                            ),
                        ));
                    }
                }
                if ok && let Some(w) = Wire::parse(from, to) {
                    wires.push(w);
                }
            }
            RawWire::Fields { .. } => diags.push(diag(
                span.map(|w| w.start),
                format!(
                    "wire {n} is written (from: …, to: …), the form of format version 0; \
                     version {CURRENT_VERSION} writes (\"a.out\", \"b.in\")"
                ),
            )),
            RawWire::Malformed(what) => diags.push(diag(
                span.map(|w| w.start),
                format!("wire {n} is {what}; a wire is written (\"a.out\", \"b.in\")"),
            )),
        }
    }

    if !diags.is_empty() {
        return Err(LoadError::Invalid(diags));
    }
    Ok(Patch {
        version: CURRENT_VERSION,
        name: raw.name,
        description: raw.description,
        nodes,
        wires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_refuses_newer() {
        let e = migrate(CURRENT_VERSION + 1, RawPatch::default()).unwrap_err();
        assert!(e.contains("reads version 1 and older"), "{e}");
    }

    #[test]
    fn migrate_v0_turns_struct_wires_into_pairs() {
        let raw = RawPatch {
            wires: vec![RawWire::Fields {
                from: "a.out".into(),
                to: "b.in".into(),
            }],
            ..RawPatch::default()
        };
        let raw = migrate(0, raw).unwrap();
        assert_eq!(
            raw.wires,
            vec![RawWire::Pair("a.out".into(), "b.in".into())]
        );
    }

    #[test]
    fn end_location_counts_lines_and_chars() {
        assert_eq!(end_location(""), Location::new(1, 1));
        assert_eq!(end_location("ab\ncé"), Location::new(2, 3));
    }
}
