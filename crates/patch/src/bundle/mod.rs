//! Bundles (`.ohmz`): a patch and every file it reads, in one zip, to share.
//!
//! A bundle holds `patch.ohm.ron` at its root, the files its params name at
//! their relative paths, and `manifest.json`: each file's size and SHA-256,
//! the LV2 plugin URIs the patch needs and the ohmpatch version that wrote
//! it. Opening one extracts it into a private cache folder named after the
//! bundle's own hash, read-only, and every command then reads the patch
//! there like any other. A bundle comes from someone else, so opening it
//! trusts nothing: see [`open`] for what is refused.

mod open;
mod pack;

pub use open::{Opened, cache_dir, open, open_in};
pub use pack::{PackReport, pack};

use serde::{Deserialize, Serialize};

/// The file extension of a bundle.
pub const EXTENSION: &str = "ohmz";
/// The patch inside a bundle.
pub const PATCH_NAME: &str = "patch.ohm.ron";
/// The manifest inside a bundle.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;

/// Most entries a bundle may hold (a zip can list millions of tiny ones).
pub const MAX_ENTRIES: usize = 10_000;
/// Most bytes a bundle may unpack to, all files together.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;
/// Most bytes of the manifest.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What a bundle says it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The ohmpatch version that wrote it.
    pub ohmpatch: String,
    /// Every file, the patch first.
    pub files: Vec<ManifestFile>,
    /// LV2 plugin URIs the patch's nodes need.
    #[serde(default)]
    pub plugins: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// Why a bundle could not be written or opened, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {why}")]
    Io { path: String, why: String },
    #[error("{path}: not a readable bundle ({why}); it may be truncated or not a zip file")]
    NotZip { path: String, why: String },
    #[error("{path}: refused: {why}")]
    Refused { path: String, why: String },
}

impl BundleError {
    fn refused(path: &std::path::Path, why: impl Into<String>) -> BundleError {
        BundleError::Refused {
            path: path.display().to_string(),
            why: why.into(),
        }
    }

    fn io(path: &std::path::Path, e: impl std::fmt::Display) -> BundleError {
        BundleError::Io {
            path: path.display().to_string(),
            why: e.to_string(),
        }
    }
}

/// Whether `path` names a bundle (by its extension).
pub fn is_bundle(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(EXTENSION))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
