//! A worker held off its core mid-task makes the block wait for it. On a
//! device the audio thread then runs blocks alone for a second (the plan
//! fits on one thread); an offline render, which has no deadline, keeps
//! its workers.

mod common;
use common::*;
use ohmpatch_engine::{Engine, EngineConfig, render_offline};
use std::sync::atomic::Ordering;

const RATE: f64 = 48_000.0;
const FRAMES: usize = 128;

/// Two branches: a short one through the hiccup, and a long one the audio
/// thread takes first (the critical chain), so a worker that is awake gets
/// the hiccup's task.
fn engine() -> Engine {
    let mut e = Engine::new(
        registry(),
        EngineConfig {
            sample_rate: RATE,
            threads: 2,
            parallel_min_us: -1.0,
            ..EngineConfig::default()
        },
    );
    let mut nodes = String::from("s1:src h:hiccup o1:out s2:src o2:out");
    let mut wires = String::from("s1.out>h.in h.out>o1.in s2.out>f0.in");
    for i in 0..30 {
        nodes += &format!(" f{i}:lp");
        if i > 0 {
            wires += &format!(" f{}.out>f{i}.in", i - 1);
        }
    }
    wires += " f29.out>o2.in";
    let p = patch(&nodes, &wires);
    e.set_patch(&p).unwrap();
    e
}

#[test]
fn on_a_device_a_stalled_worker_leaves_the_blocks_to_the_audio_thread_for_a_second() {
    let mut e = engine();
    let stats = e.stats().clone();
    let mut core = e.take_core().unwrap();
    let mut out = vec![0.0f32; FRAMES * 2];
    let mut blocks = 0;
    while stats.worker_stalls.load(Ordering::Relaxed) == 0 && blocks < 20_000 {
        core.process_interleaved(&mut out, 2, &[], 0);
        blocks += 1;
    }
    assert_eq!(
        stats.worker_stalls.load(Ordering::Relaxed),
        1,
        "no stall seen in {blocks} blocks"
    );
    // Let the worker finish adding up the stalled task.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let worker_busy = || stats.busy_ns[1].load(Ordering::Relaxed);
    let before = worker_busy();
    // A second is 375 blocks of 128 frames: the first 370 are the audio
    // thread's alone.
    for _ in 0..370 {
        core.process_interleaved(&mut out, 2, &[], 0);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        worker_busy(),
        before,
        "a worker ran tasks within a second of its stall"
    );
    // Then the workers help again (a worker claims a task when it is
    // awake before the audio thread gets to it).
    for _ in 0..20_000 {
        core.process_interleaved(&mut out, 2, &[], 0);
        if worker_busy() > before {
            break;
        }
    }
    assert!(
        worker_busy() > before,
        "the workers did not come back after a second ({} stalls)",
        stats.worker_stalls.load(Ordering::Relaxed)
    );
}

#[test]
fn an_offline_render_keeps_its_workers_after_a_stall() {
    let mut e = engine();
    let stats = e.stats().clone();
    let mut blocks = 0;
    while stats.worker_stalls.load(Ordering::Relaxed) == 0 && blocks < 20_000 {
        render_offline(&mut e, FRAMES, FRAMES);
        blocks += 1;
    }
    assert_eq!(
        stats.worker_stalls.load(Ordering::Relaxed),
        1,
        "no stall seen in {blocks} blocks"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before = stats.busy_ns[1].load(Ordering::Relaxed);
    // Within the second a device would have run alone.
    render_offline(&mut e, FRAMES * 370, FRAMES);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        stats.busy_ns[1].load(Ordering::Relaxed) > before,
        "the worker sat out an offline render after a stall"
    );
}
