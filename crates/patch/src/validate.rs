//! Checking a patch against the node catalogue: kinds, ports, wire
//! directions, params and their ranges (CONTRACT §2). Every message says what
//! is wrong and what would be right (the nearest kind names, the node's
//! ports, the allowed range), because a shared patch is often opened by
//! someone who did not write it.

use crate::doc::{Patch, Value, Wire};
use crate::error::{Diagnostic, Location};
use crate::source::SourceMap;
use crate::spec::{Catalogue, Direction, KindSpec, ParamKind};
use std::collections::HashMap;

/// The most nodes a patch may have: a shared patch is untrusted input.
pub const MAX_NODES: usize = 10_000;
/// The most wires a patch may have.
pub const MAX_WIRES: usize = 100_000;

/// Check `patch` against `catalogue`; an empty list means it is valid.
///
/// `origin` names the patch in messages; `source`, when given, is the text it
/// was loaded from and is used to point each message at a line and column.
pub fn validate(
    patch: &Patch,
    catalogue: &dyn Catalogue,
    origin: &str,
    source: Option<&str>,
) -> Vec<Diagnostic> {
    let map = source.map(SourceMap::build).unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |loc: Option<Location>, msg: String| {
        out.push(Diagnostic::new(origin, loc, msg));
    };

    if patch.nodes.len() > MAX_NODES {
        push(
            map.field("nodes"),
            format!(
                "the patch has {} nodes; at most {MAX_NODES} are allowed",
                patch.nodes.len()
            ),
        );
        return out;
    }
    if patch.wires.len() > MAX_WIRES {
        push(
            map.field("wires"),
            format!(
                "the patch has {} wires; at most {MAX_WIRES} are allowed",
                patch.wires.len()
            ),
        );
        return out;
    }

    for (id, node) in &patch.nodes {
        let span = map.node(id);
        let key_loc = span.map(|s| s.key);
        if !Patch::is_valid_id(id) {
            push(
                key_loc,
                format!(
                    "node id {id:?} is not allowed; ids use letters, digits, \"_\" and \"-\" \
                     (at most 64)"
                ),
            );
        }
        if !(node.pos.0.is_finite() && node.pos.1.is_finite()) {
            push(
                key_loc,
                format!("node {id:?} has a position that is not a finite number"),
            );
        }
        let Some(spec) = catalogue.kind_of(node) else {
            let names = catalogue.kind_names();
            let near = nearest(&node.kind, names.iter().copied());
            let hint = if !near.is_empty() {
                format!(" (did you mean {}?)", or_list(&near))
            } else if names.is_empty() {
                " (no node kinds are known)".to_string()
            } else {
                let mut sorted = names.clone();
                sorted.sort_unstable();
                format!("; the known kinds are: {}", sorted.join(", "))
            };
            push(
                span.and_then(|s| s.kind).or(key_loc),
                format!("unknown node kind {:?} for node {id:?}{hint}", node.kind),
            );
            continue;
        };
        // A placeholder keeps what it does not know (CONTRACT: a missing plugin).
        if catalogue.missing(node).is_some() {
            continue;
        }
        for (name, value) in &node.params {
            let loc = map.param(id, name).or(key_loc);
            match spec.param(name) {
                None => {
                    let near = nearest(name, spec.params.iter().map(|p| p.name.as_ref()));
                    let hint = if near.is_empty() {
                        String::new()
                    } else {
                        format!(" (did you mean {}?)", or_list(&near))
                    };
                    let list = if spec.params.is_empty() {
                        "it has no params".to_string()
                    } else {
                        let names: Vec<_> = spec.params.iter().map(|p| p.name.as_ref()).collect();
                        format!("its params are: {}", names.join(", "))
                    };
                    push(
                        loc,
                        format!(
                            "node {id:?} ({}) has no param {name:?}{hint}; {list}",
                            node.kind
                        ),
                    );
                }
                Some(p) => {
                    if let Some(msg) = check_value(&p.kind, value) {
                        push(
                            loc,
                            format!("node {id:?} param {name:?} = {} {msg}", show(value)),
                        );
                    }
                }
            }
        }
    }

    // How often each (from, to) pair has been seen, to find duplicates and to
    // locate the nth occurrence in the source.
    let mut seen: HashMap<&Wire, usize> = HashMap::new();
    for wire in &patch.wires {
        let (from, to) = (wire.from.to_string(), wire.to.to_string());
        let nth = seen.entry(wire).or_insert(0);
        let span = map.wire(&from, &to, *nth);
        *nth += 1;
        let start = span.map(|s| s.start);
        let end_loc = |k: usize| {
            span.and_then(|s| s.strings.get(k))
                .map(|(_, l)| *l)
                .or(start)
        };
        let label = format!("wire {from:?} -> {to:?}");
        if *nth > 1 {
            push(start, format!("{label} is listed more than once"));
            continue;
        }
        for (k, end, want) in [
            (0, &wire.from, Direction::Out),
            (1, &wire.to, Direction::In),
        ] {
            let Some(node) = patch.nodes.get(&end.node) else {
                let near = nearest(&end.node, patch.nodes.keys().map(String::as_str));
                let hint = if near.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", or_list(&near))
                };
                push(
                    end_loc(k),
                    format!("{label}: there is no node {:?}{hint}", end.node),
                );
                continue;
            };
            // An unknown kind was reported with the node; its ports are unknown.
            let Some(spec) = catalogue.kind_of(node) else {
                continue;
            };
            if catalogue.missing(node).is_some() {
                continue;
            }
            match spec.port(&end.port) {
                None => push(end_loc(k), no_port(&end.node, spec, &end.port)),
                Some(port) if port.direction != want => {
                    let what = match port.direction {
                        Direction::In => "an input",
                        Direction::Out => "an output",
                    };
                    push(
                        end_loc(k),
                        format!(
                            "{label}: \"{end}\" is {what}; a wire goes from an output to an input"
                        ),
                    );
                }
                Some(_) => {}
            }
        }
    }
    out
}

fn no_port(id: &str, spec: &KindSpec, port: &str) -> String {
    let list = if spec.ports.is_empty() {
        "it has no ports".to_string()
    } else {
        let names: Vec<_> = spec.ports.iter().map(|p| p.name.as_ref()).collect();
        format!("its ports are: {}", names.join(", "))
    };
    format!("node {id:?} ({}) has no port {port:?}; {list}", spec.kind)
}

/// What is wrong with `value` for a param of this kind, completing the
/// sentence `node "x" param "y" = <value> …`; `None` when it is fine.
fn check_value(kind: &ParamKind, value: &Value) -> Option<String> {
    match kind {
        ParamKind::Number {
            min,
            max,
            unit,
            integer,
            ..
        } => {
            let with_unit = |s: String| {
                if unit.is_empty() {
                    s
                } else {
                    format!("{s} {unit}")
                }
            };
            let Value::Number(n) = value else {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" ({unit})")
                };
                return Some(format!("should be a number{unit}"));
            };
            if !n.is_finite() {
                return Some("is not a finite number".to_string());
            }
            if *integer && n.fract() != 0.0 {
                return Some("must be a whole number".to_string());
            }
            if n < min || n > max {
                return Some(format!(
                    "is out of range {} … {}",
                    num(*min),
                    with_unit(num(*max))
                ));
            }
            None
        }
        ParamKind::Choice { choices, .. } => match value {
            Value::Str(s) if choices.iter().any(|c| c == s) => None,
            Value::Str(s) => {
                let near = nearest(s, choices.iter().map(|c| c.as_ref()));
                let hint = if near.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", or_list(&near))
                };
                Some(format!("is not one of: {}{hint}", choices.join(", ")))
            }
            _ => Some(format!("should be one of: {}", choices.join(", "))),
        },
        ParamKind::Bool { .. } => match value {
            Value::Bool(_) => None,
            _ => Some("should be true or false".to_string()),
        },
        ParamKind::Path { .. } => match value {
            Value::Str(_) => None,
            _ => Some("should be a file path in quotes".to_string()),
        },
        ParamKind::Text { .. } => match value {
            Value::Str(_) => None,
            _ => Some("should be text in quotes".to_string()),
        },
    }
}

/// A value as the user wrote it, for messages.
fn show(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => num(*n),
        Value::Str(s) => format!("{s:?}"),
    }
}

/// A number for people: `90`, `0.05`, `-1e-7`, `NaN`; no trailing `.0`.
pub(crate) fn num(n: f64) -> String {
    if !n.is_finite() {
        return format!("{n:?}");
    }
    let a = n.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{n:e}")
    } else {
        format!("{n}")
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn or_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Up to three candidates close to `name` by edit distance, nearest first.
pub(crate) fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let limit = (lower.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let cl = c.to_lowercase();
            let d = edit_distance(&lower, &cl);
            let prefix = !lower.is_empty() && (cl.starts_with(&lower) || lower.starts_with(&cl));
            (d <= limit || prefix).then_some((d, c))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("preamo", "preamp"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_names() {
        let kinds = ["preamp", "power_amp", "mic", "gain", "output"];
        assert_eq!(nearest("preamo", kinds.into_iter()), ["preamp"]);
        assert_eq!(nearest("Gain", kinds.into_iter()), ["gain"]);
        assert!(nearest("zzzzzzzz", kinds.into_iter()).is_empty());
        assert_eq!(
            nearest("gain", ["gain_db", "pad_db"].into_iter()),
            ["gain_db"]
        );
    }

    #[test]
    fn human_numbers() {
        assert_eq!(num(90.0), "90");
        assert_eq!(num(-60.0), "-60");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(1e-7), "1e-7");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(or_list(&["a", "b", "c"]), "\"a\", \"b\" or \"c\"");
    }
}
