//! Files the editor keeps for itself: recent patches and the recovery copy
//! written while a patch has unsaved changes.

use std::path::{Path, PathBuf};

/// `$OHMPATCH_CONFIG_DIR`, else `$XDG_CONFIG_HOME/ohmpatch`, else
/// `~/.config/ohmpatch`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OHMPATCH_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(d).join("ohmpatch"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config").join("ohmpatch"))
}

const MAX_RECENT: usize = 10;

pub fn recent() -> Vec<PathBuf> {
    let Some(dir) = config_dir() else {
        return Vec::new();
    };
    std::fs::read_to_string(dir.join("recent.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .take(MAX_RECENT)
        .collect()
}

pub fn add_recent(path: &Path) {
    let Some(dir) = config_dir() else { return };
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut list = recent();
    list.retain(|p| p != &abs);
    list.insert(0, abs);
    list.truncate(MAX_RECENT);
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    let _ = std::fs::create_dir_all(&dir);
    let _ = ohmpatch_patch::save_text_atomic(&dir.join("recent.txt"), &text);
}

/// The recovery copy: the patch text, and the file it belongs to.
pub fn recovery_paths() -> Option<(PathBuf, PathBuf)> {
    let dir = config_dir()?;
    Some((dir.join("recovery.ohm.ron"), dir.join("recovery.origin")))
}

pub fn write_recovery(text: &str, origin: Option<&Path>) -> Result<(), String> {
    let (file, meta) = recovery_paths().ok_or("no folder for the recovery file")?;
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    ohmpatch_patch::save_text_atomic(&file, text).map_err(|e| e.to_string())?;
    let origin = origin.map(|p| p.display().to_string()).unwrap_or_default();
    ohmpatch_patch::save_text_atomic(&meta, &origin).map_err(|e| e.to_string())
}

pub fn clear_recovery() {
    if let Some((file, meta)) = recovery_paths() {
        let _ = std::fs::remove_file(file);
        let _ = std::fs::remove_file(meta);
    }
}

/// A recovery copy left by a session that did not end cleanly.
pub fn pending_recovery() -> Option<(PathBuf, Option<PathBuf>)> {
    let (file, meta) = recovery_paths()?;
    if !file.exists() {
        return None;
    }
    let origin = std::fs::read_to_string(meta)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| PathBuf::from(s.trim()));
    Some((file, origin))
}

/// `.ohm.ron` files in a folder, for the open dialog.
pub fn patches_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.to_string_lossy().ends_with(".ohm.ron")
                        || ohmpatch_patch::bundle::is_bundle(p)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The example patches (`graphs/` beside the bundled sounds, else in the
/// current folder), each with its name and description for the menu.
pub fn examples() -> Vec<(PathBuf, String, String)> {
    let dir = ohmpatch_patch::bundled_assets_dir()
        .and_then(|a| a.parent().map(|p| p.join("graphs")))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("graphs"));
    patches_in(&dir)
        .into_iter()
        .filter(|p| !ohmpatch_patch::bundle::is_bundle(p))
        .filter_map(|p| {
            let patch = ohmpatch_patch::load_file(&p).ok()?;
            let file = p.file_name()?.to_string_lossy().replace(".ohm.ron", "");
            let name = if patch.name.is_empty() {
                file
            } else {
                patch.name.clone()
            };
            Some((p, name, patch.description))
        })
        .collect()
}
