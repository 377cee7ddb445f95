//! The engine's settled fast path (steps bound to their blocks and
//! processors, quiet nodes skipped) computes exactly what the general path
//! does: every example patch, and chains that go silent, render the same
//! samples to the bit with `EngineConfig::fast_paths` on and off.

use ohmpatch_engine::{Engine, EngineConfig, render_offline};
use ohmpatch_patch::Patch;
use ohmpatch_tests::*;
use std::path::Path;

fn render_with(patch: &Patch, dir: &Path, fast_paths: bool, block: usize) -> Vec<Vec<f32>> {
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.to_path_buf()),
            fast_paths,
            ..EngineConfig::default()
        },
    );
    e.set_patch(patch).unwrap_or_else(|err| panic!("{err}"));
    let out = render_offline(&mut e, 48_000, block);
    let _ = e.shutdown();
    out
}

fn assert_same(name: &str, patch: &Patch, dir: &Path) {
    // 1024-frame device buffers: whole blocks, so the fast path runs.
    let fast = render_with(patch, dir, true, 1024);
    let general = render_with(patch, dir, false, 1024);
    assert!(!fast.is_empty(), "{name}: no output");
    assert_eq!(fast.len(), general.len(), "{name}: channels");
    for (ch, (a, b)) in fast.iter().zip(&general).enumerate() {
        let first = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        assert!(
            first.is_none(),
            "{name}: channel {ch} differs from sample {first:?}"
        );
    }
}

#[test]
fn every_example_renders_the_same_on_both_paths() {
    let examples = examples();
    assert!(!examples.is_empty());
    for path in examples {
        let patch = load(&path);
        let dir = path.parent().unwrap();
        assert_same(&path.display().to_string(), &patch, dir);
    }
}

#[test]
fn a_chain_that_falls_silent_renders_the_same_on_both_paths() {
    // A 0.3 s file that does not loop, through gains into the output: after
    // the file ends every node is skipped on the fast path.
    let dir = std::env::temp_dir().join(format!("ohmpatch-paths-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x: Vec<f32> = (0..14_400).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("short.wav"), &[x], 48_000).unwrap();
    let patch = ohmpatch_patch::load_str(
        r#"(version: 1, nodes: {
            "f": (kind: "file_in", params: {"path": "short.wav"}),
            "g1": (kind: "gain", params: {"gain_db": -6.0}),
            "g2": (kind: "gain", params: {"gain_db": 3.0}),
            "o": (kind: "output"),
        }, wires: [("f.out", "g1.in"), ("g1.out", "g2.in"), ("g2.out", "o.in")])"#,
        "silent.ohm.ron",
    )
    .unwrap();
    assert_same("falls silent", &patch, &dir);
    let out = render_with(&patch, &dir, true, 1024);
    assert!(
        out[0][..14_000].iter().any(|v| v.abs() > 0.01),
        "the file is heard"
    );
    assert!(out[0][20_000..].iter().all(|v| *v == 0.0), "then silence");
    let _ = std::fs::remove_dir_all(&dir);
}
