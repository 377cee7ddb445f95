//! Writing a bundle.

use super::{BundleError, FORMAT, MANIFEST_NAME, Manifest, ManifestFile, PATCH_NAME, hex};
use crate::{Catalogue, ParamKind, Patch};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What [`pack`] put in, and what it could not.
#[derive(Clone, Debug, Default)]
pub struct PackReport {
    pub manifest: Option<Manifest>,
    /// File params naming nothing on disk (a recorder's take not made yet,
    /// or a missing file): `(node id, param, path)`. Not packed.
    pub missing: Vec<(String, String, String)>,
}

/// Pack `patch` (read from `patch_dir`) and the files its path params name
/// into the bundle `out`, written atomically. `plugins` are the LV2 URIs the
/// patch needs, `version` the writer's version. A file param refused by the
/// path rules refuses the bundle; one naming nothing is reported and left out.
pub fn pack(
    patch: &Patch,
    catalogue: &dyn Catalogue,
    patch_dir: &Path,
    plugins: Vec<String>,
    version: &str,
    out: &Path,
) -> Result<PackReport, BundleError> {
    let mut report = PackReport::default();
    // (name in the bundle, where it is now)
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (id, node) in &patch.nodes {
        let Some(spec) = catalogue.kind(&node.kind) else {
            continue;
        };
        for p in &spec.params {
            if !matches!(p.kind, ParamKind::Path { .. }) {
                continue;
            }
            let Some(value) = node.params.get(p.name.as_ref()).and_then(|v| v.as_str()) else {
                continue;
            };
            if value.trim().is_empty() {
                continue;
            }
            let from = crate::resolve_param_path(patch_dir, value, false)
                .map_err(|e| BundleError::refused(out, format!("node \"{id}\": {e}")))?;
            // Its name in the bundle: the value normalised (`a/../b.wav` is
            // `b.wav`), so it resolves the same way beside the extracted
            // patch. The path rules above refused one that climbs out.
            let name = crate::paths::normalise(value)
                .map_err(|e| BundleError::refused(out, format!("node \"{id}\": {e}")))?
                .join("/");
            if !from.is_file() {
                report
                    .missing
                    .push((id.clone(), p.name.to_string(), value.to_string()));
                continue;
            }
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, from));
            }
        }
    }
    files.sort();
    let text = crate::to_ron_string(patch);
    let mut manifest = Manifest {
        format: FORMAT,
        ohmpatch: version.to_string(),
        files: vec![entry(PATCH_NAME, text.as_bytes())],
        plugins,
    };
    manifest.plugins.sort();
    manifest.plugins.dedup();
    let mut bodies: Vec<(String, Vec<u8>)> = vec![(PATCH_NAME.into(), text.into_bytes())];
    for (name, from) in files {
        let bytes = std::fs::read(&from).map_err(|e| BundleError::io(&from, e))?;
        manifest.files.push(entry(&name, &bytes));
        bodies.push((name, bytes));
    }
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    write_zip(out, &json, &bodies)?;
    report.manifest = Some(manifest);
    Ok(report)
}

fn entry(path: &str, bytes: &[u8]) -> ManifestFile {
    ManifestFile {
        path: path.to_string(),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    }
}

/// Write the zip beside `out` and rename it into place.
fn write_zip(out: &Path, manifest: &str, bodies: &[(String, Vec<u8>)]) -> Result<(), BundleError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = out.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        zip.start_file(MANIFEST_NAME, opts)
            .map_err(|e| e.to_string())?;
        zip.write_all(manifest.as_bytes())
            .map_err(|e| e.to_string())?;
        for (name, bytes) in bodies {
            zip.start_file(name.as_str(), opts)
                .map_err(|e| e.to_string())?;
            zip.write_all(bytes).map_err(|e| e.to_string())?;
        }
        let w = zip.finish().map_err(|e| e.to_string())?;
        let file = w.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, out).map_err(|e| e.to_string())
    })();
    if let Err(why) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(BundleError::Io {
            path: out.display().to_string(),
            why,
        });
    }
    Ok(())
}
