//! End-to-end helpers shared by the tests in `tests/tests`: load example
//! patches, render them offline, measure the result.

pub mod jack;

use ohmpatch_engine::{Engine, EngineConfig, render_offline_with};
use ohmpatch_patch::Patch;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh folder for one test, `ohmpatch-TAG-PID` in the system's temporary
/// folder (emptied first if a run before left it).
pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ohmpatch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every example patch in `graphs/`.
pub fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("graphs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".ohm.ron"))
        .collect();
    v.sort();
    v
}

pub fn load(path: &Path) -> Patch {
    ohmpatch_patch::load_file(path).unwrap_or_else(|e| panic!("{e}"))
}

/// What device inputs carry in an offline render: every channel an
/// `audio_in` reads gets the bundled DI guitar (`assets/di-guitar.wav`,
/// looped, -18 dBFS rms), so a live example renders what a guitar at the
/// level `check` assumes would give; none when the patch has no `audio_in`.
pub fn device_inputs(patch: &Patch, frames: usize) -> Vec<Vec<f32>> {
    let channels = patch
        .nodes
        .values()
        .filter(|n| n.kind == "audio_in")
        .map(|n| {
            n.params
                .get("channel")
                .and_then(|v| v.as_f64())
                .unwrap_or(1.0) as usize
        })
        .max()
        .unwrap_or(0);
    if channels == 0 {
        return Vec::new();
    }
    let guitar = ohmpatch_nodes::wav::read_wav(&root().join("assets/di-guitar.wav"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(guitar.sample_rate, 48_000);
    let g = &guitar.channels[0];
    let looped: Vec<f32> = (0..frames).map(|i| g[i % g.len()]).collect();
    vec![looped; channels]
}

/// Render `seconds` of a patch at 48 kHz; one channel per output node.
/// Device inputs carry [`device_inputs`].
pub fn render(patch: &Patch, dir: &Path, seconds: f64, seed: u64) -> Vec<Vec<f32>> {
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            sample_rate: 48_000.0,
            seed,
            patch_dir: Some(dir.to_path_buf()),
            ..EngineConfig::default()
        },
    );
    e.set_patch(patch).unwrap_or_else(|err| panic!("{err}"));
    let frames = (seconds * 48_000.0) as usize;
    let out = render_offline_with(&mut e, frames, 128, &device_inputs(patch, frames));
    let errors = e.shutdown();
    assert!(errors.is_empty(), "service errors: {errors:?}");
    out
}

pub fn rms(x: &[f32]) -> f64 {
    ohmpatch_engine::dsp::rms(x)
}

/// Rms in dBFS where a full-scale sine is 0 dBFS (AES17).
pub fn dbfs_rms(x: &[f32]) -> f64 {
    20.0 * (rms(x) * std::f64::consts::SQRT_2).log10()
}

/// Stop a `jackd` as a crash of the server would look to its clients, but
/// with SIGTERM, so that it leaves JACK's shared registry of servers (8 slots;
/// a SIGKILLed server keeps its slot until it is full and no server starts).
/// SIGKILL after 5 s if it does not go.
pub fn stop_jackd(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
