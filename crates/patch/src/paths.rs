//! Confining file paths in params to the patch's folder (CONTRACT §2).
//!
//! A shared patch is untrusted input: a `file_in` that reads `/etc/shadow` or
//! a `recorder` that writes `../../.bashrc` must be refused unless the user
//! allows it. The check is lexical first, so it also covers files that do not
//! exist yet (a recorder's output), and then follows symlinks for the part of
//! the path that does exist.

use std::path::{Component, Path, PathBuf};

/// Why a param path was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path is absolute (`/x.wav`, `C:\x.wav`, `\\server\x.wav`).
    Absolute(String),
    /// The path leaves the patch's folder through `..` or a symlink.
    Escapes(String),
    /// The path is empty.
    Empty,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Absolute(p) => write!(
                f,
                "path {p:?} is absolute; shared patches may only use files beside them \
                 (write it relative to the patch's folder)"
            ),
            PathError::Escapes(p) => write!(
                f,
                "path {p:?} leaves the patch's folder; shared patches may only use files \
                 beside them"
            ),
            PathError::Empty => f.write_str("the path is empty"),
        }
    }
}

impl std::error::Error for PathError {}

/// Whether `value` is absolute on any platform a patch may come from: a
/// patch written on Windows is refused on Linux the same way.
fn looks_absolute(value: &str) -> bool {
    let b = value.as_bytes();
    Path::new(value).is_absolute()
        || Path::new(value).has_root()
        || value.starts_with('/')
        || value.starts_with('\\')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// The path that param `value` names, relative to `patch_dir`.
///
/// Unless `allow_outside`, refuses absolute paths, `..` that climbs out of
/// the folder, and an existing path (or existing parent folder) that a
/// symlink leads outside it. `a/../b.wav` is fine and resolves to
/// `patch_dir/b.wav`: the result is normalised, so what is checked is what
/// is opened. Both `/` and `\` separate components, for patches from Windows.
pub fn resolve_param_path(
    patch_dir: &Path,
    value: &str,
    allow_outside: bool,
) -> Result<PathBuf, PathError> {
    if value.trim().is_empty() {
        return Err(PathError::Empty);
    }
    if allow_outside {
        let p = Path::new(value);
        return Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            patch_dir.join(p)
        });
    }
    if looks_absolute(value) {
        return Err(PathError::Absolute(value.to_string()));
    }

    let mut parts: Vec<&str> = Vec::new();
    for part in value.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::Escapes(value.to_string()));
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        // "." or "a/..": the folder itself is not a file.
        return Err(PathError::Empty);
    }
    let mut resolved = patch_dir.to_path_buf();
    for p in &parts {
        // A component that is a prefix or root on this platform would make
        // the join replace `patch_dir`; `looks_absolute` should have caught
        // it, but refuse rather than trust that.
        if Path::new(p)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(PathError::Absolute(value.to_string()));
        }
        resolved.push(p);
    }

    check_symlinks(patch_dir, &resolved, value)?;
    Ok(resolved)
}

/// Every file param of `patch` that would be refused in `patch_dir`, as
/// `(node id, why)` in the words the engine uses when it builds the node.
/// `check` reports these as `render` and `play` refuse them, so a patch is
/// never called valid by one command and refused by another.
pub fn refused_paths(
    patch: &crate::Patch,
    catalogue: &dyn crate::Catalogue,
    patch_dir: &Path,
) -> Vec<(String, PathError)> {
    let mut out = Vec::new();
    for (id, node) in &patch.nodes {
        let Some(spec) = catalogue.kind(&node.kind) else {
            continue;
        };
        for p in &spec.params {
            if !matches!(p.kind, crate::ParamKind::Path { .. }) {
                continue;
            }
            let Some(value) = node.params.get(p.name.as_ref()).and_then(|v| v.as_str()) else {
                continue;
            };
            // An empty path means "no file", which every kind allows.
            if value.trim().is_empty() {
                continue;
            }
            if let Err(e) = resolve_param_path(patch_dir, value, false) {
                out.push((id.clone(), e));
            }
        }
    }
    out
}

/// Follow symlinks in the existing part of `resolved` and make sure it stays
/// inside `patch_dir`.
fn check_symlinks(patch_dir: &Path, resolved: &Path, value: &str) -> Result<(), PathError> {
    // `Path::parent` of a bare file name is "", meaning the current folder.
    let base = if patch_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        patch_dir
    };
    let Ok(dir) = base.canonicalize() else {
        // No folder, so nothing inside it exists to lead anywhere.
        return Ok(());
    };
    let escapes = || PathError::Escapes(value.to_string());
    // The deepest part of the path that exists (or is a dangling symlink).
    let mut probe = resolved;
    loop {
        if probe == patch_dir {
            return Ok(());
        }
        if let Ok(meta) = std::fs::symlink_metadata(probe) {
            return match probe.canonicalize() {
                Ok(real) if real.starts_with(&dir) => Ok(()),
                Ok(_) => Err(escapes()),
                // A dangling symlink: where it would write cannot be checked.
                Err(_) if meta.file_type().is_symlink() => Err(escapes()),
                Err(_) => Ok(()),
            };
        }
        match probe.parent() {
            Some(p) => probe = p,
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_cases() {
        let dir = Path::new("/nonexistent-ohmpatch-dir");
        let ok = |v: &str| resolve_param_path(dir, v, false);
        assert_eq!(ok("x.wav"), Ok(dir.join("x.wav")));
        assert_eq!(ok("a/../b.wav"), Ok(dir.join("b.wav")));
        assert_eq!(ok("./sub/x.wav"), Ok(dir.join("sub").join("x.wav")));
        assert_eq!(ok("../x.wav"), Err(PathError::Escapes("../x.wav".into())));
        assert_eq!(
            ok("a/../../x.wav"),
            Err(PathError::Escapes("a/../../x.wav".into()))
        );
        assert_eq!(ok("..\\x.wav"), Err(PathError::Escapes("..\\x.wav".into())));
        assert_eq!(
            ok("/etc/passwd"),
            Err(PathError::Absolute("/etc/passwd".into()))
        );
        assert_eq!(
            ok("C:\\x.wav"),
            Err(PathError::Absolute("C:\\x.wav".into()))
        );
        assert_eq!(
            ok("\\\\srv\\x.wav"),
            Err(PathError::Absolute("\\\\srv\\x.wav".into()))
        );
        assert_eq!(ok(""), Err(PathError::Empty));
        assert_eq!(ok("a/.."), Err(PathError::Empty));
        assert_eq!(
            resolve_param_path(dir, "/tmp/x.wav", true),
            Ok(PathBuf::from("/tmp/x.wav"))
        );
        assert_eq!(
            resolve_param_path(dir, "../x.wav", true),
            Ok(dir.join("../x.wav"))
        );
    }

    #[test]
    fn messages_are_plain_words() {
        assert_eq!(
            PathError::Escapes("../x.wav".into()).to_string(),
            "path \"../x.wav\" leaves the patch's folder; shared patches may only use files \
             beside them"
        );
        assert!(
            PathError::Absolute("/x".into())
                .to_string()
                .contains("absolute")
        );
    }
}
