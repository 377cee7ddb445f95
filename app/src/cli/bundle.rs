//! Bundles on the command line: `ohmpatch pack`, and opening an `.ohmz`
//! wherever a patch is read (`check`, `render`, `play`, `measure`).

use super::{EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, load, patch_dir};
use ohmpatch_patch::bundle::{self, BundleError};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct PackArgs {
    pub patch: PathBuf,
    /// The bundle to write (`NAME.ohmz`).
    #[arg(long)]
    pub out: PathBuf,
}

/// The LV2 plugins a patch needs: the `uri` of each `lv2` node.
pub fn plugins_of(patch: &ohmpatch_patch::Patch) -> Vec<String> {
    let mut uris: Vec<String> = patch
        .nodes
        .values()
        .filter(|n| n.kind == "lv2")
        .filter_map(|n| n.params.get("uri").and_then(|v| v.as_str()))
        .map(str::to_string)
        .collect();
    uris.sort();
    uris.dedup();
    uris
}

pub fn pack(a: PackArgs) -> u8 {
    if !bundle::is_bundle(&a.out) {
        eprintln!(
            "--out must name a .{} file; got {}",
            bundle::EXTENSION,
            a.out.display()
        );
        return EXIT_INVALID;
    }
    let path = match resolve(&a.patch) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let patch = match load(&path) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let registry = ohmpatch_nodes::registry_with_plugins();
    if let Err(c) = super::validate(&path, &patch, &registry) {
        return c;
    }
    let report = match bundle::pack(
        &patch,
        &registry,
        &patch_dir(&path),
        plugins_of(&patch),
        env!("CARGO_PKG_VERSION"),
        &a.out,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_INVALID;
        }
    };
    for (node, param, value) in &report.missing {
        eprintln!("note: node \"{node}\": {param} \"{value}\" names no file here; not packed");
    }
    let m = report.manifest.expect("a packed bundle has a manifest");
    let bytes: u64 = m.files.iter().map(|f| f.size).sum();
    println!(
        "packed {} into {}: {} files, {} bytes{}",
        a.patch.display(),
        a.out.display(),
        m.files.len(),
        bytes,
        if m.plugins.is_empty() {
            String::new()
        } else {
            format!("; needs LV2 plugins: {}", m.plugins.join(", "))
        }
    );
    EXIT_OK
}

/// The patch file to read for `path`: itself, or the patch of the bundle
/// it names, extracted into the cache (saying what it holds and what this
/// machine lacks). Errors are printed; the exit code comes back.
pub fn resolve(path: &Path) -> Result<PathBuf, u8> {
    if !bundle::is_bundle(path) {
        return Ok(path.to_path_buf());
    }
    match bundle::open(path) {
        Ok(opened) => {
            let missing = missing_plugins(&opened.manifest.plugins);
            if !missing.is_empty() {
                eprintln!(
                    "{}: this machine lacks the LV2 plugins {}; their nodes stay silent, the rest plays",
                    path.display(),
                    missing.join(", ")
                );
            }
            Ok(opened.patch)
        }
        Err(e) => {
            eprintln!("{e}");
            Err(match e {
                BundleError::Io { .. } => EXIT_UNREADABLE,
                _ => EXIT_INVALID,
            })
        }
    }
}

/// The URIs of `plugins` that are not installed here (or cannot be hosted).
pub fn missing_plugins(plugins: &[String]) -> Vec<String> {
    if plugins.is_empty() {
        return Vec::new();
    }
    let registry = ohmpatch_nodes::registry_with_plugins();
    let installed: std::collections::HashSet<&str> =
        registry.members("lv2").map(|(uri, _)| uri).collect();
    plugins
        .iter()
        .filter(|uri| !installed.contains(uri.as_str()))
        .cloned()
        .collect()
}
