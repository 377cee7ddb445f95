//! Confining file paths in params to the patch's folder (CONTRACT §2).
//!
//! A shared patch is untrusted input: a `file_in` that reads `/etc/shadow` or
//! a `recorder` that writes `../../.bashrc` must be refused unless the user
//! allows it. The check is lexical first, so it also covers files that do not
//! exist yet (a recorder's output), and then follows symlinks for the part of
//! the path that does exist.
//!
//! One exception is trusted and read-only: `assets/NAME` that is not beside
//! the patch names ohmpatch's own sounds (see [`bundled_assets_dir`]), so the
//! examples play the bundled files from wherever a patch is saved.

use std::path::{Component, Path, PathBuf};

/// The folder a bundled-asset param path starts with.
const ASSETS: &str = "assets";

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

/// The path that param `value` names, relative to `patch_dir`, for reading.
///
/// Unless `allow_outside`, refuses absolute paths, `..` that climbs out of
/// the folder, and an existing path (or existing parent folder) that a
/// symlink leads outside it. `a/../b.wav` is fine and resolves to
/// `patch_dir/b.wav`: the result is normalised, so what is checked is what
/// is opened. Both `/` and `\` separate components, for patches from Windows.
///
/// `assets/NAME` with nothing of that name beside the patch resolves into
/// [`bundled_assets_dir`] when the file is there; a file beside the patch
/// wins, and nothing outside the bundled folder is ever reached through it.
pub fn resolve_param_path(
    patch_dir: &Path,
    value: &str,
    allow_outside: bool,
) -> Result<PathBuf, PathError> {
    resolve_param_path_in(
        patch_dir,
        value,
        allow_outside,
        bundled_assets_dir().as_deref(),
    )
}

/// [`resolve_param_path`] for a file to be written (a recorder's output):
/// the bundled folder is read-only, so it never resolves there.
pub fn resolve_output_path(
    patch_dir: &Path,
    value: &str,
    allow_outside: bool,
) -> Result<PathBuf, PathError> {
    resolve_param_path_in(patch_dir, value, allow_outside, None)
}

/// [`resolve_param_path`] with the bundled folder given (`None`: no
/// fallback), so that the rules can be tested against a folder of one's own.
pub fn resolve_param_path_in(
    patch_dir: &Path,
    value: &str,
    allow_outside: bool,
    assets: Option<&Path>,
) -> Result<PathBuf, PathError> {
    let beside = resolve_beside(patch_dir, value, allow_outside)?;
    // Something beside the patch (even a dangling symlink) wins.
    if std::fs::symlink_metadata(&beside).is_ok() {
        return Ok(beside);
    }
    let Some(dir) = assets else {
        return Ok(beside);
    };
    let Ok(parts) = normalise(value) else {
        return Ok(beside);
    };
    let [first, rest @ ..] = parts.as_slice() else {
        return Ok(beside);
    };
    if *first != ASSETS || rest.is_empty() {
        return Ok(beside);
    }
    let mut bundled = dir.to_path_buf();
    for p in rest {
        if Path::new(p)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Ok(beside);
        }
        bundled.push(p);
    }
    if std::fs::symlink_metadata(&bundled).is_err() {
        // Not bundled either: report the file as missing beside the patch.
        return Ok(beside);
    }
    // Trusted, but only inside itself: a symlink out of it is refused.
    match (bundled.canonicalize(), dir.canonicalize()) {
        (Ok(real), Ok(root)) if real.starts_with(&root) => Ok(bundled),
        _ => Err(PathError::Escapes(value.to_string())),
    }
}

/// ohmpatch's own read-only sounds: `$OHMPATCH_ASSETS`, else an `assets/`
/// folder beside the executable or one of its ancestors (an installed copy,
/// or the source tree above `target/`), else the source tree's `assets/`.
/// A folder found by looking around counts only when it holds `README.md`
/// and `make/`, so a stray `assets/` somewhere above is not taken for it.
pub fn bundled_assets_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OHMPATCH_ASSETS").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let ours = |d: &Path| d.join("README.md").is_file() && d.join("make").is_dir();
    let beside_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .map(|a| a.join(ASSETS))
            .find(|d| ours(d))
    });
    if beside_exe.is_some() {
        return beside_exe;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(ASSETS);
    ours(&src).then(|| src.canonicalize().unwrap_or(src))
}

/// `value`'s components with `.` dropped and `..` applied; `Escapes` when
/// `..` climbs above the start.
pub(crate) fn normalise(value: &str) -> Result<Vec<&str>, PathError> {
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
    Ok(parts)
}

/// The path beside the patch, with the refusal rules of [`resolve_param_path`].
fn resolve_beside(
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

    let parts = normalise(value)?;
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
        let Some(spec) = catalogue.kind_of(node) else {
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
