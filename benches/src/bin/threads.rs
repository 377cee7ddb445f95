//! `ohmpatch-threads`: time per block on one thread and with worker
//! threads, for patches with two and four independent heavy chains (a DI
//! guitar into a tube preamp oversampled 8 times, a power amp into a
//! speaker miked at 5 cm, and beside it the preamp through a cabinet IR),
//! the demo, a chain of 100 gains, and four cheap branches where one
//! thread is faster.
//!
//! Each patch runs on a fresh engine, 128-frame blocks back to back as an
//! offline render asks for them, after a warm-up; every block's duration
//! is kept. Five rounds a setting, taken in turn; the median round counts. "auto"
//! is the default threshold (`EngineConfig::parallel_min_us`), "forced"
//! hands any plan with independent tasks to the workers.
//!
//! ```text
//! ohmpatch-threads [--blocks N] [--threads N]
//! ```

use ohmpatch_engine::{DEFAULT_PARALLEL_MIN_US, Engine, EngineConfig};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

const FRAMES: usize = 128;
/// Rounds per setting.
const ROUNDS: usize = 5;

/// The round with the median mean.
fn median(mut rounds: Vec<Timing>) -> Timing {
    rounds.sort_by(|a, b| a.mean_us.total_cmp(&b.mean_us));
    rounds.swap_remove(rounds.len() / 2)
}

fn node(kind: &str, params: &[(&str, Value)]) -> Node {
    let mut n = Node::new(kind, (0.0, 0.0));
    for (k, v) in params {
        n.params.insert((*k).into(), v.clone());
    }
    n
}

fn num(v: f64) -> Value {
    Value::Number(v)
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

fn wire(p: &mut Patch, from: &str, to: &str) {
    p.wires.push(Wire::parse(from, to).expect("wire"));
}

/// `rigs` independent rigs; each pair into a mixer and an output of its own.
fn rigs(rigs: usize) -> Patch {
    let mut p = Patch::default();
    for r in 0..rigs {
        let x = format!("r{r}_");
        let id = |s: &str| format!("{x}{s}");
        p.nodes.insert(
            id("guitar"),
            node(
                "file_in",
                &[
                    ("path", text("assets/di-guitar.wav")),
                    ("domain", text("instrument")),
                    ("level_dbu", num(0.0)),
                    ("loop", Value::Bool(true)),
                    ("z_out_ohm", num(10_000.0)),
                ],
            ),
        );
        p.nodes.insert(
            id("pre"),
            node(
                "preamp",
                &[
                    ("model", text("tube_12ax7")),
                    ("gain_db", num(20.0)),
                    ("oversample", num(8.0)),
                    ("z_in_ohm", num(1e6)),
                ],
            ),
        );
        p.nodes.insert(
            id("amp"),
            node(
                "power_amp",
                &[
                    ("model", text("tube_push_pull")),
                    ("gain_db", num(14.0)),
                    ("power_w", num(30.0)),
                    ("z_out_ohm", num(4.0)),
                ],
            ),
        );
        p.nodes.insert(
            id("cab"),
            node("speaker", &[("preset", text("guitar_12in"))]),
        );
        p.nodes
            .insert(id("mic"), node("mic", &[("distance_m", num(0.05))]));
        p.nodes
            .insert(id("mpre"), node("preamp", &[("gain_db", num(20.0))]));
        p.nodes.insert(
            id("ir"),
            node(
                "cab_ir",
                &[
                    ("path", text("assets/ir/guitar-12in-sm57-5cm.wav")),
                    ("domain", text("line")),
                    ("gain_db", num(-20.0)),
                ],
            ),
        );
        for (a, b) in [
            ("guitar.out", "pre.in"),
            ("pre.out", "amp.in"),
            ("pre.out", "ir.in"),
            ("amp.out", "cab.in"),
            ("cab.out", "mic.in"),
            ("mic.out", "mpre.in"),
        ] {
            wire(&mut p, &id(a), &id(b));
        }
        let m = r / 2;
        let mix = format!("mix{m}");
        if r % 2 == 0 {
            p.nodes
                .insert(mix.clone(), node("mixer", &[("gain_db", num(-12.0))]));
            let out = format!("out{m}");
            p.nodes.insert(
                out.clone(),
                node("output", &[("channel", num(m as f64 + 1.0))]),
            );
            wire(&mut p, &format!("{mix}.out"), &format!("{out}.in"));
        }
        let k = 2 * (r % 2) + 1;
        wire(&mut p, &id("mpre.out"), &format!("{mix}.in{k}"));
        wire(&mut p, &id("ir.out"), &format!("{mix}.in{}", k + 1));
    }
    p
}

/// A tone split four ways, each branch `len` gains, mixed again: branches
/// too cheap to be worth a worker.
fn cheap_branches(len: usize) -> Patch {
    let mut p = Patch::default();
    p.nodes.insert("tone".into(), node("tone", &[]));
    p.nodes.insert("split".into(), node("split", &[]));
    p.nodes
        .insert("mix".into(), node("mixer", &[("gain_db", num(-12.0))]));
    p.nodes.insert("out".into(), node("output", &[]));
    wire(&mut p, "tone.out", "split.in");
    wire(&mut p, "mix.out", "out.in");
    for b in 1..=4 {
        let mut last = format!("split.out{b}");
        for i in 0..len {
            let id = format!("b{b}_g{i}");
            p.nodes
                .insert(id.clone(), node("gain", &[("gain_db", num(0.0))]));
            wire(&mut p, &last, &format!("{id}.in"));
            last = format!("{id}.out");
        }
        wire(&mut p, &last, &format!("mix.in{b}"));
    }
    p
}

/// A tone through 100 gain stages: nothing to share out.
fn gains(n: usize) -> Patch {
    let mut p = Patch::default();
    p.nodes.insert("tone".into(), node("tone", &[]));
    let mut last = "tone".to_string();
    for i in 0..n {
        let id = format!("g{i}");
        p.nodes
            .insert(id.clone(), node("gain", &[("gain_db", num(0.0))]));
        wire(&mut p, &format!("{last}.out"), &format!("{id}.in"));
        last = id;
    }
    p.nodes.insert("out".into(), node("output", &[]));
    wire(&mut p, &format!("{last}.out"), "out.in");
    p
}

struct Timing {
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    parallel: bool,
}

fn time(patch: &Patch, dir: &Path, threads: usize, min_us: f64, blocks: usize) -> Timing {
    let mut engine = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.to_path_buf()),
            threads,
            parallel_min_us: min_us,
            ..EngineConfig::default()
        },
    );
    engine.set_patch(patch).unwrap_or_else(|e| panic!("{e}"));
    let mut core = engine.take_core().expect("core");
    let mut out = vec![0.0f32; FRAMES * 2];
    // A second to warm up: plans installed, fades done, nodes timed.
    for _ in 0..400 {
        core.process_interleaved(&mut out, 2, &[], 0);
    }
    let mut ns = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let t0 = Instant::now();
        core.process_interleaved(&mut out, 2, &[], 0);
        ns.push(t0.elapsed().as_nanos() as f64 / 1e3);
    }
    let parallel = engine.stats().parallel.load(Ordering::Relaxed);
    engine.return_core(core);
    let _ = engine.shutdown();
    let mean_us = ns.iter().sum::<f64>() / ns.len() as f64;
    ns.sort_by(f64::total_cmp);
    let at = |q: f64| ns[((ns.len() - 1) as f64 * q) as usize];
    Timing {
        mean_us,
        p50_us: at(0.5),
        p99_us: at(0.99),
        parallel,
    }
}

fn main() {
    let mut blocks = 4000;
    let mut threads = 2;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--blocks" => blocks = it.next().and_then(|s| s.parse().ok()).unwrap_or(blocks),
            "--threads" => threads = it.next().and_then(|s| s.parse().ok()).unwrap_or(threads),
            _ => {
                println!("ohmpatch-threads [--blocks N] [--threads N]");
                return;
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let demo = ohmpatch_patch::load_file(&root.join("graphs/demo.ohm.ron")).expect("demo");
    let cases: Vec<(&str, Patch)> = vec![
        ("two heavy chains", rigs(2)),
        ("four heavy chains", rigs(4)),
        ("demo", demo),
        ("100 gains", gains(100)),
        ("4 branches of 25 gains", cheap_branches(25)),
    ];
    println!(
        "{} blocks of {FRAMES} frames at 48 kHz (period {:.0} µs); {threads} threads vs 1",
        blocks,
        FRAMES as f64 / 48e3 * 1e6
    );
    println!();
    println!(
        "| patch | 1 thread mean / p50 / p99 µs | {threads} threads, auto: mean / p50 / p99 µs | on workers | speed-up (mean) | {threads} threads, forced: mean µs | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, patch) in &cases {
        // Rounds taken in turn, so a slow spell of the machine falls on all
        // three settings alike; each figure is the median round.
        let mut one = Vec::new();
        let mut auto = Vec::new();
        let mut forced = Vec::new();
        let per = (blocks / ROUNDS).max(100);
        for _ in 0..ROUNDS {
            one.push(time(patch, &root, 1, 0.0, per));
            auto.push(time(patch, &root, threads, DEFAULT_PARALLEL_MIN_US, per));
            forced.push(time(patch, &root, threads, -1.0, per));
        }
        let (one, auto, forced) = (median(one), median(auto), median(forced));
        println!(
            "| {name} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {} | {:.2}× | {:.1} | {:.2}× |",
            one.mean_us,
            one.p50_us,
            one.p99_us,
            auto.mean_us,
            auto.p50_us,
            auto.p99_us,
            if auto.parallel { "yes" } else { "no" },
            one.mean_us / auto.mean_us,
            forced.mean_us,
            one.mean_us / forced.mean_us,
        );
    }
}
