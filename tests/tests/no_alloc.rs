//! The audio thread never allocates, in the build users run as well as in
//! tests: the guard (`assert_no_alloc` without its `disable_release`
//! feature) is armed in release builds too, and `scripts/test.sh` runs this
//! file with `--release`. The nodes that touch files, devices and shared
//! displays — `recorder`, `file_in`, `audio_in`, `split`, and the probes —
//! play under the guard while their values change (a probe's weighting, a
//! recorder's full scale, a file's level and looping, a split's fan-out),
//! on the audio thread alone and with worker threads.

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use ohmpatch_engine::{Engine, EngineConfig, MAX_BLOCK};
use ohmpatch_patch::{Patch, Value};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

const PATCH: &str = r#"(version: 1, nodes: {
    "in": (kind: "audio_in"),
    "f": (kind: "file_in", params: {"path": "f.wav", "loop": true}),
    "s": (kind: "split"),
    "m": (kind: "mixer"),
    "rec": (kind: "recorder", params: {"path": "take.wav"}),
    "meter": (kind: "meter"),
    "scope": (kind: "scope"),
    "spec": (kind: "spectrum"),
    "o": (kind: "output"),
}, wires: [
    ("in.out", "m.in1"), ("f.out", "m.in2"), ("m.out", "s.in"),
    ("s.out1", "rec.in"), ("s.out2", "meter.in"), ("s.out3", "scope.in"),
    ("s.out4", "spec.in"), ("s.out1", "o.in"),
])"#;

/// Value changes that travel to running processors as messages.
fn changed(p: &Patch, step: usize) -> Patch {
    let mut p = p.clone();
    let set = |p: &mut Patch, node: &str, name: &str, v: Value| {
        p.nodes.get_mut(node).unwrap().params.insert(name.into(), v);
    };
    let on = step.is_multiple_of(2);
    let w = Value::Str(if on { "a" } else { "none" }.into());
    set(&mut p, "meter", "weighting", w.clone());
    set(&mut p, "spec", "weighting", w);
    set(
        &mut p,
        "rec",
        "full_scale_dbu",
        Value::Number(if on { 12.0 } else { 18.0 }),
    );
    set(
        &mut p,
        "f",
        "level_dbu",
        Value::Number(if on { -6.0 } else { 0.0 }),
    );
    set(&mut p, "f", "loop", Value::Bool(on));
    set(
        &mut p,
        "m",
        "in1_db",
        Value::Number(if on { -3.0 } else { 0.0 }),
    );
    p
}

#[test]
fn file_device_and_display_nodes_play_and_change_without_allocating() {
    play_and_change(1);
}

/// The same on three threads, the plan's branches always handed to the
/// workers: they run their tasks under the same guard (`rt-alloc-check`),
/// so an allocation on a worker aborts this binary too.
#[test]
fn worker_threads_play_and_change_without_allocating() {
    let busy = play_and_change(3);
    assert!(busy > 0, "the workers ran no task");
}

/// Play the patch while its values change; the workers' busy time, ns.
fn play_and_change(threads: usize) -> u64 {
    let dir =
        std::env::temp_dir().join(format!("ohmpatch-noalloc-{}-{threads}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x: Vec<f32> = (0..4_800).map(|i| (i as f32 * 0.06).sin() * 0.5).collect();
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("f.wav"), &[x], 48_000).unwrap();
    let base = ohmpatch_patch::load_str(PATCH, "noalloc.ohm.ron").unwrap();
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.clone()),
            threads,
            parallel_min_us: -1.0,
            ..EngineConfig::default()
        },
    );
    e.set_patch(&base).unwrap();
    let mut core = e.take_core().unwrap();
    // Two device input channels, interleaved, as a duplex callback gets them.
    let input: Vec<f32> = (0..MAX_BLOCK * 2)
        .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.25)
        .collect();
    let mut heard = 0.0f32;
    for step in 0..400 {
        if step % 20 == 10 {
            // The control thread's side: messages only, no new plan needed.
            e.set_patch(&changed(&base, step / 20)).unwrap();
        }
        assert_no_alloc(|| core.run_block(MAX_BLOCK, &input, 2));
        heard = heard.max(
            core.device_out(0, MAX_BLOCK)
                .iter()
                .fold(0.0, |m, v| m.max(v.abs())),
        );
        e.maintain();
    }
    e.return_core(core);
    let busy: u64 = e.stats().busy_ns[1..]
        .iter()
        .map(|b| b.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let errors = e.shutdown();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(heard > 0.01, "the patch played ({heard})");
    assert!(dir.join("take.wav").exists(), "the recorder recorded");
    let _ = std::fs::remove_dir_all(&dir);
    busy
}

#[test]
fn the_guard_is_armed_in_this_build() {
    // Proves the test above can fail, in debug and release builds alike:
    // an allocation inside the guard aborts a child process.
    if std::env::var_os("OHMPATCH_ALLOC_PROBE").is_some() {
        assert_no_alloc(|| {
            std::hint::black_box(vec![1u8; 64]);
        });
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "the_guard_is_armed_in_this_build",
            "--exact",
            "--test-threads=1",
        ])
        .env("OHMPATCH_ALLOC_PROBE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "allocating under the guard must abort");
}
