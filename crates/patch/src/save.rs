//! Writing `.ohm.ron` patch files: the canonical text (one node and one wire
//! per line, stable order, so a one-knob change is a one-line diff) and the
//! atomic save that never leaves a half-written file.

use crate::doc::{CURRENT_VERSION, Patch, Value};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

// ---------------------------------------------------------------------------
// The canonical text
// ---------------------------------------------------------------------------

/// The canonical text of a patch: the layout of CONTRACT §2, one node and one
/// wire per line, nodes and params in id order, wires in the patch's order,
/// always the current `version`. Loading it and saving again gives the same
/// bytes.
pub fn to_ron_string(patch: &Patch) -> String {
    let mut s = String::new();
    s.push_str("(\n");
    let _ = writeln!(s, "    version: {CURRENT_VERSION},");
    let _ = writeln!(s, "    name: {},", quote(&patch.name));
    let _ = writeln!(s, "    description: {},", quote(&patch.description));
    if patch.nodes.is_empty() {
        s.push_str("    nodes: {},\n");
    } else {
        s.push_str("    nodes: {\n");
        for (id, node) in &patch.nodes {
            let _ = write!(
                s,
                "        {}: (kind: {}, pos: ({}, {}), params: {{",
                quote(id),
                quote(&node.kind),
                number32(node.pos.0),
                number32(node.pos.1)
            );
            for (i, (name, value)) in node.params.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{}: {}", quote(name), value_text(value));
            }
            s.push_str("}),\n");
        }
        s.push_str("    },\n");
    }
    if patch.wires.is_empty() {
        s.push_str("    wires: [],\n");
    } else {
        s.push_str("    wires: [\n");
        for w in &patch.wires {
            let _ = writeln!(
                s,
                "        ({}, {}),",
                quote(&w.from.to_string()),
                quote(&w.to.to_string())
            );
        }
        s.push_str("    ],\n");
    }
    s.push_str(")\n");
    s
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number64(*n),
        Value::Str(s) => quote(s),
    }
}

/// `{:?}` of a float is the shortest text that reads back to the same value,
/// always with a `.` or an exponent, and `NaN`/`inf`/`-inf` which ron reads.
fn number64(n: f64) -> String {
    format!("{n:?}")
}

fn number32(n: f32) -> String {
    format!("{n:?}")
}

/// A RON string literal: quotes, backslashes and control characters escaped,
/// everything else (unicode included) kept as is.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Atomic saving
// ---------------------------------------------------------------------------

/// Points in [`save_atomic_with`] where a hook runs; a hook that fails there
/// makes the save fail as a real error at that point would (for tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveStage {
    /// The text is in the temporary file but not yet flushed to disk.
    Written,
    /// The temporary file is flushed and synced; next comes the rename.
    Synced,
}

/// Save `patch` in canonical form so that a crash leaves either the old file
/// or the new one, never half of one.
pub fn save_atomic(path: &Path, patch: &Patch) -> std::io::Result<()> {
    save_text_atomic(path, &to_ron_string(patch))
}

/// Write `text` to `path` atomically (see [`save_atomic_with`]).
pub fn save_text_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    save_atomic_with(path, text, &mut |_| Ok(()))
}

/// Write `text` to a temporary file beside `path`, flush and sync it, then
/// rename it over `path` and sync the folder. On any error the temporary file
/// is removed and `path` is left as it was. `hook` runs at each [`SaveStage`]
/// between writing and renaming.
pub fn save_atomic_with(
    path: &Path,
    text: &str,
    hook: &mut dyn FnMut(SaveStage) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp_name = format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        hook(SaveStage::Written)?;
        file.flush()?;
        // Keep the old file's permissions (best effort: a fresh file is fine).
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = file.set_permissions(meta.permissions());
        }
        file.sync_all()?;
        drop(file);
        hook(SaveStage::Synced)?;
        std::fs::rename(&tmp, path)
    })();

    match result {
        Ok(()) => {
            sync_dir(dir);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Make the rename durable. Not every platform or filesystem can open or sync
/// a folder, and the file itself is already safe, so errors are ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes() {
        assert_eq!(
            quote("a\"b\\c\nd\te\u{1b}é"),
            "\"a\\\"b\\\\c\\nd\\te\\u{1b}é\""
        );
    }
}
