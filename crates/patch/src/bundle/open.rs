//! Opening a bundle: checked whole before anything is written, extracted
//! into the cache, verified against the manifest, made read-only.

use super::{
    BundleError, FORMAT, MANIFEST_NAME, MAX_ENTRIES, MAX_MANIFEST_BYTES, MAX_TOTAL_BYTES, Manifest,
    PATCH_NAME, hex,
};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

/// A bundle extracted into the cache.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The read-only folder it was extracted to.
    pub dir: PathBuf,
    /// Its patch, inside `dir`.
    pub patch: PathBuf,
    pub manifest: Manifest,
}

/// Where bundles are extracted: `$OHMPATCH_CACHE/bundles`, else
/// `$XDG_CACHE_HOME/ohmpatch/bundles`, else `~/.cache/ohmpatch/bundles`,
/// else the system's temporary folder.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let root = env("OHMPATCH_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("ohmpatch")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("ohmpatch")))
        .unwrap_or_else(|| std::env::temp_dir().join("ohmpatch-cache"));
    root.join("bundles")
}

/// [`open_in`] the user's cache.
pub fn open(bundle: &Path) -> Result<Opened, BundleError> {
    open_in(bundle, &cache_dir())
}

/// Extract `bundle` into a folder of `cache` named after its SHA-256 (or
/// reuse that folder). Refused, with nothing written: a file that is not a
/// whole zip; more than [`MAX_ENTRIES`] entries; an entry whose name is
/// absolute or climbs out with `..`, a symbolic link, a device or other
/// special file; entries that say they unpack to more than
/// [`MAX_TOTAL_BYTES`]; no manifest, or one from a newer format. Refused
/// while extracting, and the partial folder removed: a listed file missing,
/// longer or shorter than listed (a zip bomb lying about its size is cut
/// off there) or with another SHA-256. Entries the manifest does not list
/// are not extracted.
pub fn open_in(bundle: &Path, cache: &Path) -> Result<Opened, BundleError> {
    let refused = |why: String| BundleError::refused(bundle, why);
    let meta = std::fs::metadata(bundle).map_err(|e| BundleError::io(bundle, e))?;
    if meta.len() > MAX_TOTAL_BYTES {
        return Err(refused(format!(
            "it is {} MiB; a bundle may hold at most {} MiB",
            meta.len() >> 20,
            MAX_TOTAL_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(bundle).map_err(|e| BundleError::io(bundle, e))?;
    let key = hex(&Sha256::digest(&bytes))[..32].to_string();
    let dir = cache.join(&key);
    if dir.join(MANIFEST_NAME).is_file() {
        let manifest = read_manifest(
            &mut std::fs::File::open(dir.join(MANIFEST_NAME))
                .map_err(|e| BundleError::io(&dir, e))?,
        )
        .map_err(refused)?;
        return Ok(Opened {
            patch: dir.join(PATCH_NAME),
            dir,
            manifest,
        });
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| BundleError::NotZip {
        path: bundle.display().to_string(),
        why: e.to_string(),
    })?;
    check_entries(&mut zip).map_err(refused)?;
    let manifest = {
        let mut f = zip
            .by_name(MANIFEST_NAME)
            .map_err(|_| refused(format!("it has no {MANIFEST_NAME}")))?;
        read_manifest(&mut f).map_err(refused)?
    };
    check_manifest(&manifest).map_err(refused)?;
    // Extract beside the final folder, then rename: a half-written folder
    // is never taken for a finished one.
    std::fs::create_dir_all(cache).map_err(|e| BundleError::io(cache, e))?;
    let tmp = cache.join(format!(".{key}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = extract(&mut zip, &manifest, &tmp).and_then(|()| {
        let mut f = std::fs::File::create(tmp.join(MANIFEST_NAME)).map_err(|e| e.to_string())?;
        f.write_all(
            serde_json::to_string_pretty(&manifest)
                .expect("a manifest serialises")
                .as_bytes(),
        )
        .map_err(|e| e.to_string())
    });
    if let Err(why) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(refused(why));
    }
    read_only(&tmp);
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process extracted the same bundle first: use its folder.
        make_writable(&tmp);
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join(MANIFEST_NAME).is_file() {
            return Err(BundleError::io(
                &dir,
                "cannot move the extracted bundle into place",
            ));
        }
    }
    Ok(Opened {
        patch: dir.join(PATCH_NAME),
        dir,
        manifest,
    })
}

/// The rules every entry must meet, checked before anything is written.
fn check_entries<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>) -> Result<(), String> {
    if zip.len() > MAX_ENTRIES {
        return Err(format!(
            "it holds {} entries; a bundle may hold at most {MAX_ENTRIES}",
            zip.len()
        ));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| format!("entry {i} cannot be read: {e}"))?;
        let name = f
            .name()
            .map_err(|e| format!("entry {i} has an unreadable name: {e}"))?
            .to_string();
        if f.is_symlink() {
            return Err(format!("entry \"{name}\" is a symbolic link"));
        }
        if let Some(mode) = f.unix_mode() {
            let kind = mode & 0o170_000;
            if kind != 0 && kind != 0o100_000 && kind != 0o040_000 {
                return Err(format!(
                    "entry \"{name}\" is a device or other special file"
                ));
            }
        }
        check_name(&name)?;
        total = total.saturating_add(f.size());
        if total > MAX_TOTAL_BYTES {
            return Err(format!(
                "its entries unpack to more than {} MiB (a zip bomb?)",
                MAX_TOTAL_BYTES >> 20
            ));
        }
    }
    Ok(())
}

/// A name must stay inside the bundle's folder: relative, no `..`, no
/// drive letters or backslashes, no NUL.
fn check_name(name: &str) -> Result<(), String> {
    let leaves = || Err(format!("entry \"{name}\" leaves the bundle's folder"));
    if name.is_empty() || name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return leaves();
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return leaves();
    }
    if name.split('/').any(|p| p == "..") {
        return leaves();
    }
    Ok(())
}

fn read_manifest(r: &mut impl Read) -> Result<Manifest, String> {
    let mut text = String::new();
    r.take(MAX_MANIFEST_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("its {MANIFEST_NAME} cannot be read: {e}"))?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(format!("its {MANIFEST_NAME} is too large"));
    }
    serde_json::from_str(&text).map_err(|e| format!("its {MANIFEST_NAME} is not valid: {e}"))
}

fn check_manifest(m: &Manifest) -> Result<(), String> {
    if m.format > FORMAT {
        return Err(format!(
            "it was written by a newer ohmpatch ({}, format {}); this one reads format {FORMAT}",
            m.ohmpatch, m.format
        ));
    }
    if !m.files.iter().any(|f| f.path == PATCH_NAME) {
        return Err(format!("its manifest does not list {PATCH_NAME}"));
    }
    let mut total: u64 = 0;
    let mut seen = std::collections::HashSet::new();
    for f in &m.files {
        check_name(&f.path)?;
        if f.path == MANIFEST_NAME || !seen.insert(f.path.as_str()) {
            return Err(format!("its manifest lists \"{}\" twice", f.path));
        }
        total = total.saturating_add(f.size);
        if total > MAX_TOTAL_BYTES {
            return Err(format!(
                "its manifest lists more than {} MiB of files",
                MAX_TOTAL_BYTES >> 20
            ));
        }
    }
    Ok(())
}

/// Extract each listed file, hashing as it goes and reading no more than
/// one byte past its listed size.
fn extract<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    m: &Manifest,
    to: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for f in &m.files {
        let mut entry = zip
            .by_name(&f.path)
            .map_err(|_| format!("it lacks \"{}\", which its manifest lists", f.path))?;
        let path = to.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", f.path))?;
        let mut hasher = Sha256::new();
        let mut limited = (&mut entry).take(f.size + 1);
        let mut buf = vec![0u8; 64 * 1024];
        let mut n_total: u64 = 0;
        loop {
            let n = limited
                .read(&mut buf)
                .map_err(|e| format!("\"{}\" cannot be unpacked: {e}", f.path))?;
            if n == 0 {
                break;
            }
            n_total += n as u64;
            if n_total > f.size {
                return Err(format!(
                    "\"{}\" unpacks to more than the {} bytes its manifest lists",
                    f.path, f.size
                ));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| format!("{}: {e}", f.path))?;
        }
        if n_total != f.size {
            return Err(format!(
                "\"{}\" is {n_total} bytes, not the {} its manifest lists",
                f.path, f.size
            ));
        }
        if hex(&hasher.finalize()) != f.sha256 {
            return Err(format!(
                "\"{}\" does not match its manifest's SHA-256 (changed after packing?)",
                f.path
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_mode(path: &Path, mode: u32) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mut p = meta.permissions();
        p.set_readonly(mode & 0o200 == 0);
        let _ = std::fs::set_permissions(path, p);
    }
}

/// Files 0444 and folders 0555, deepest first.
fn read_only(dir: &Path) {
    walk(dir, &mut |p, is_dir| {
        set_mode(p, if is_dir { 0o555 } else { 0o444 })
    });
}

fn make_writable(dir: &Path) {
    set_mode(dir, 0o755);
    walk(dir, &mut |p, is_dir| {
        set_mode(p, if is_dir { 0o755 } else { 0o644 })
    });
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, bool)) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                set_mode(&p, 0o755);
                walk(&p, f);
            }
            f(&p, is_dir);
        }
    }
    f(dir, true);
}
