//! The editor entry points. The graphical editor is not part of this build
//! yet; these say so plainly instead of failing silently.

use std::path::PathBuf;

pub fn run(patch: Option<PathBuf>) -> u8 {
    eprintln!(
        "The graphical editor is not in this build of ohmpatch yet.\n\
         Try: ohmpatch check {0}  |  ohmpatch render {0} --out out.wav  |  ohmpatch play {0}",
        patch
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "graphs/demo.ohm.ron".into())
    );
    super::EXIT_INVALID
}

pub fn screenshot(_patch: PathBuf, _out: PathBuf) -> u8 {
    eprintln!("screenshot needs the graphical editor, which is not in this build of ohmpatch yet");
    super::EXIT_INVALID
}
