//! The engine's settled fast path (steps bound to their blocks and
//! processors, quiet nodes skipped) computes exactly what the general path
//! does, and worker threads exactly what one thread does: every example
//! patch, and chains that go silent, render the same samples to the bit
//! with `EngineConfig::fast_paths` on and off, on one thread and on three
//! (the plan's tasks always handed to the workers).

use ohmpatch_engine::{Engine, EngineConfig, render_offline};
use ohmpatch_patch::Patch;
use ohmpatch_tests::*;
use std::path::Path;
use std::sync::atomic::Ordering;

/// A rendered second, and whether its tasks ran on worker threads.
fn render_with(
    patch: &Patch,
    dir: &Path,
    fast_paths: bool,
    threads: usize,
    block: usize,
) -> (Vec<Vec<f32>>, bool) {
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.to_path_buf()),
            fast_paths,
            threads,
            // Whenever the plan has independent tasks, however cheap.
            parallel_min_us: -1.0,
            ..EngineConfig::default()
        },
    );
    e.set_patch(patch).unwrap_or_else(|err| panic!("{err}"));
    let out = render_offline(&mut e, 48_000, block);
    let parallel = e.stats().parallel.load(Ordering::Relaxed);
    let _ = e.shutdown();
    (out, parallel)
}

fn assert_bits(name: &str, a: &[Vec<f32>], b: &[Vec<f32>]) {
    assert!(!a.is_empty(), "{name}: no output");
    assert_eq!(a.len(), b.len(), "{name}: channels");
    for (ch, (a, b)) in a.iter().zip(b).enumerate() {
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

/// Renders the patch every way and checks they agree; says whether the
/// threaded renders ran tasks on the workers.
fn assert_same(name: &str, patch: &Patch, dir: &Path) -> bool {
    // 1024-frame device buffers: whole blocks, so the fast path runs.
    let (general, _) = render_with(patch, dir, false, 1, 1024);
    let (fast, _) = render_with(patch, dir, true, 1, 1024);
    assert_bits(&format!("{name}, fast path"), &fast, &general);
    let (threads, p1) = render_with(patch, dir, true, 3, 1024);
    assert_bits(&format!("{name}, 3 threads"), &threads, &general);
    let (both, p2) = render_with(patch, dir, false, 3, 1024);
    assert_bits(&format!("{name}, 3 threads, general path"), &both, &general);
    p1 && p2
}

#[test]
fn every_example_renders_the_same_on_both_paths() {
    let examples = examples();
    assert!(!examples.is_empty());
    let mut parallel = Vec::new();
    for path in examples {
        let patch = load(&path);
        let dir = path.parent().unwrap();
        let name = path.display().to_string();
        if assert_same(&name, &patch, dir) {
            parallel.push(name);
        }
    }
    // Examples with independent branches did run them on the workers.
    for want in ["two-rigs", "mic-preamp-vs-power-amp"] {
        assert!(
            parallel.iter().any(|n| n.contains(want)),
            "{want} ran on one thread; on workers: {parallel:?}"
        );
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
            "g3": (kind: "gain", params: {"gain_db": -3.0}),
            "o": (kind: "output"),
        }, wires: [("f.out", "g1.in"), ("g1.out", "g2.in"), ("g2.out", "o.in"),
                   ("f.out", "g3.in"), ("g3.out", "o.in")])"#,
        "silent.ohm.ron",
    )
    .unwrap();
    // Two branches from the file, so the threaded renders skip quiet nodes
    // on the workers too.
    assert!(
        assert_same("falls silent", &patch, &dir),
        "ran on one thread"
    );
    let (out, _) = render_with(&patch, &dir, true, 1, 1024);
    assert!(
        out[0][..14_000].iter().any(|v| v.abs() > 0.01),
        "the file is heard"
    );
    assert!(out[0][20_000..].iter().all(|v| *v == 0.0), "then silence");
    let _ = std::fs::remove_dir_all(&dir);
}
