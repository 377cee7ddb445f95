//! The editor entry points (`ohmpatch`, `ohmpatch edit`, `ohmpatch screenshot`).

use std::path::PathBuf;

pub fn run(patch: Option<PathBuf>, script: Option<PathBuf>) -> u8 {
    crate::editor::run(crate::editor::Options {
        patch,
        screenshot: None,
        script,
    })
}

pub fn screenshot(patch: PathBuf, out: PathBuf) -> u8 {
    crate::editor::screenshot(patch, out)
}
