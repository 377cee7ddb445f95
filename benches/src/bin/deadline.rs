//! `ohmpatch-deadline`: play a patch on a running JACK server for a while,
//! applying edits the way the editor does, and report how long each of our
//! callbacks took against the buffer period.
//!
//! It plays through the backend `ohmpatch play` uses (one JACK client named
//! `ohmpatch`, capture and playback); each callback's duration goes into a
//! histogram of atomics set up before the stream starts, so the audio thread
//! only increments counters. With `--inputs N` it opens N capture ports
//! (`ohmpatch:in_1`…) for a script to feed.
//!
//! ```text
//! ohmpatch-deadline [--patch FILE] [--seconds S] [--no-edits] [--no-labels] [--inputs N]
//!                   [--threads N] [--parallel-min-us US] [--out FILE]
//! ```
//!
//! `scripts/bench-deadline.sh` starts the JACK dummy server, runs this and
//! `jack_simple_client` under it and counts the xruns JACK blames on each.

use ohmpatch_engine::backend::{BackendKind, Stream, StreamOptions, choose_device};
use ohmpatch_engine::meters::Histogram;
use ohmpatch_engine::{ChannelMap, Engine, EngineConfig};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct Args {
    patch: PathBuf,
    seconds: f64,
    edits: bool,
    inputs: u16,
    /// Leave the ports' names as registered (`in_1`), without renaming.
    labels: bool,
    out: Option<PathBuf>,
    /// `EngineConfig::threads` and `parallel_min_us`.
    threads: usize,
    parallel_min_us: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        patch: PathBuf::from("graphs/demo.ohm.ron"),
        seconds: 60.0,
        edits: true,
        inputs: 0,
        labels: true,
        out: None,
        threads: 1,
        parallel_min_us: ohmpatch_engine::DEFAULT_PARALLEL_MIN_US,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--patch" => a.patch = it.next().ok_or("--patch needs a file")?.into(),
            "--seconds" => {
                a.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or("--seconds needs a positive number")?
            }
            "--no-edits" => a.edits = false,
            "--no-labels" => a.labels = false,
            "--inputs" => {
                a.inputs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &u16| *n <= 64)
                    .ok_or("--inputs needs a number of ports, 0 to 64")?
            }
            "--out" => a.out = Some(it.next().ok_or("--out needs a file")?.into()),
            "--threads" => {
                a.threads = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &usize| (1..=16).contains(n))
                    .ok_or("--threads needs a number from 1 to 16")?
            }
            "--parallel-min-us" => {
                a.parallel_min_us = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|x: &f64| x.is_finite())
                    .ok_or("--parallel-min-us needs a number")?
            }
            "-h" | "--help" => {
                println!(
                    "ohmpatch-deadline [--patch FILE] [--seconds S] [--no-edits] [--no-labels] [--inputs N] [--threads N] [--parallel-min-us US] [--out FILE]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// The editor's edits, in turn: a knob dragged on the first preamp (or the
/// first node with `gain_db`), and every half second a gain stage inserted
/// before the first output, or taken out again.
struct Editor {
    base: Patch,
    knob: Option<String>,
    /// Each LV2 plugin's first numeric control, with its range, turned
    /// with the knob: live control changes reaching the plugins.
    plugin_knobs: Vec<(String, String, f64, f64)>,
    tap: Option<Wire>,
    inserted: bool,
    edits: u64,
    topology_edits: u64,
    edit_ns_max: u64,
}

impl Editor {
    fn new(base: Patch, registry: &ohmpatch_engine::Registry) -> Editor {
        let plugin_knobs = base
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == "lv2")
            .filter_map(|(id, n)| {
                let spec = registry.of(n)?.spec();
                spec.params
                    .iter()
                    .skip(ohmpatch_nodes::lv2::kind::FIRST_CONTROL)
                    .find_map(|p| match p.kind {
                        ohmpatch_patch::ParamKind::Number { min, max, .. } => {
                            Some((id.clone(), p.name.to_string(), min, max))
                        }
                        _ => None,
                    })
            })
            .collect();
        let knob = base
            .nodes
            .iter()
            .find(|(_, n)| n.kind == "preamp")
            .or_else(|| {
                base.nodes
                    .iter()
                    .find(|(_, n)| n.params.contains_key("gain_db"))
            })
            .map(|(id, _)| id.clone());
        let tap = base
            .wires
            .iter()
            .find(|w| {
                base.nodes
                    .get(&w.to.node)
                    .is_some_and(|n| n.kind == "output")
            })
            .cloned();
        Editor {
            base,
            knob,
            plugin_knobs,
            tap,
            inserted: false,
            edits: 0,
            topology_edits: 0,
            edit_ns_max: 0,
        }
    }

    fn knob(&mut self, engine: &mut Engine, t: f64) {
        self.knob_plugins(engine, t);
        let Some(id) = self.knob.clone() else { return };
        let base = self.base.nodes[&id]
            .params
            .get("gain_db")
            .and_then(Value::as_f64)
            .unwrap_or(20.0);
        // ±6 dB, a 2-second sweep, as a hand on a knob.
        let v = base + 6.0 * (t * std::f64::consts::PI).sin();
        let t0 = Instant::now();
        if engine.set_param(&id, "gain_db", Value::Number(v)).is_ok() {
            self.edits += 1;
        }
        self.edit_ns_max = self.edit_ns_max.max(t0.elapsed().as_nanos() as u64);
    }

    fn knob_plugins(&mut self, engine: &mut Engine, t: f64) {
        for (id, name, min, max) in self.plugin_knobs.clone() {
            // Across the middle half of the control's range.
            let v = min + (max - min) * (0.5 + 0.25 * (t * std::f64::consts::PI).sin());
            let t0 = Instant::now();
            if engine.set_param(&id, &name, Value::Number(v)).is_ok() {
                self.edits += 1;
            }
            self.edit_ns_max = self.edit_ns_max.max(t0.elapsed().as_nanos() as u64);
        }
    }

    fn toggle(&mut self, engine: &mut Engine) {
        let Some(tap) = self.tap.clone() else { return };
        self.inserted = !self.inserted;
        let mut p = engine.patch().clone();
        if self.inserted {
            p.nodes.insert("bench_trim".into(), {
                let mut n = Node::new("gain", (0.0, 0.0));
                n.params.insert("gain_db".into(), Value::Number(-1.0));
                n
            });
            p.wires.retain(|w| *w != tap);
            p.wires.push(
                Wire::parse(
                    &format!("{}.{}", tap.from.node, tap.from.port),
                    "bench_trim.in",
                )
                .expect("wire"),
            );
            p.wires.push(
                Wire::parse(
                    "bench_trim.out",
                    &format!("{}.{}", tap.to.node, tap.to.port),
                )
                .expect("wire"),
            );
        } else {
            p.nodes.remove("bench_trim");
            p.wires
                .retain(|w| w.from.node != "bench_trim" && w.to.node != "bench_trim");
            p.wires.push(tap);
        }
        let t0 = Instant::now();
        if engine.set_patch(&p).is_ok() {
            self.edits += 1;
            self.topology_edits += 1;
        }
        self.edit_ns_max = self.edit_ns_max.max(t0.elapsed().as_nanos() as u64);
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let patch = match ohmpatch_patch::load_file(&args.patch) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // As `play` does, before the nodes are built.
    if let Err(e) = ohmpatch_engine::backend::lock_memory() {
        eprintln!("note: memory not locked ({e})");
    }
    let choice = choose_device(&StreamOptions {
        backend: BackendKind::Jack,
        inputs: args.inputs,
        ..StreamOptions::default()
    });
    if choice.backend != BackendKind::Jack {
        eprintln!(
            "JACK is not available: {}",
            choice.fallback_reason.unwrap_or_default()
        );
        std::process::exit(1);
    }
    let rate = choice.sample_rate;
    let config = EngineConfig {
        sample_rate: f64::from(rate),
        patch_dir: args.patch.parent().map(|p| p.to_path_buf()),
        channel_map: ChannelMap::Param,
        threads: args.threads,
        parallel_min_us: args.parallel_min_us,
        ..EngineConfig::default()
    };
    // Installed LV2 plugins too, so a patch may use them.
    let registry = std::sync::Arc::new(ohmpatch_nodes::registry_with_plugins());
    let mut engine = Engine::new(registry.clone(), config);
    if let Err(e) = engine.set_patch(&patch) {
        eprintln!("{}: {e}", args.patch.display());
        std::process::exit(1);
    }
    let stats = engine.stats().clone();
    let _ = stats.durations.set(Box::new(Histogram::new()));
    let core = engine.take_core().expect("fresh engine has its core");
    let mut stream = match Stream::start(choice, core, stats.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the JACK client: {e}");
            std::process::exit(1);
        }
    };
    let hist = stats.durations.get().expect("set above");
    // Ports named after the nodes, as `play` names them.
    if args.labels {
        let (ins, outs) = engine.device_users();
        stream.label_ports(&ins, &outs);
    }

    let mut editor = Editor::new(patch, &registry);
    let mut thread_load = ohmpatch_engine::ThreadLoad::default();
    let t0 = Instant::now();
    let mut next_knob = 0.0;
    let mut next_toggle = 0.5;
    while t0.elapsed().as_secs_f64() < args.seconds {
        let t = t0.elapsed().as_secs_f64();
        if args.edits && t >= next_knob {
            editor.knob(&mut engine, t);
            next_knob += 0.02;
        }
        if args.edits && t >= next_toggle {
            editor.toggle(&mut engine);
            next_toggle += 0.5;
        }
        engine.maintain();
        std::thread::sleep(Duration::from_millis(5));
    }
    let loads = thread_load.sample(&stats, f64::from(rate));
    let loads: Vec<String> = loads.iter().map(|l| format!("{:.3}", l)).collect();
    let parallel = stats.parallel.load(Ordering::Relaxed);
    let workers =
        ohmpatch_engine::WorkerPriority::decode(stats.worker_rt.load(Ordering::Relaxed)).describe();
    let period = stats.period_ns.load(Ordering::Relaxed).max(1);
    let period_us = period as f64 / 1000.0;
    let frames = stream.latency().period_frames;
    if let Some(core) = stream.stop() {
        engine.return_core(core);
    }

    let count = hist.count.load(Ordering::Relaxed);
    let max_us = hist.max_ns.load(Ordering::Relaxed) as f64 / 1000.0;
    let q = |x: f64| hist.quantile_us(x);
    let report = format!(
        "{{\"patch\": \"{}\", \"seconds\": {}, \"edits\": {}, \"topology_edits\": {}, \
         \"edit_max_ms\": {:.3}, \"sample_rate\": {rate}, \"frames\": {frames}, \
         \"period_us\": {period_us:.1}, \"callbacks\": {count}, \
         \"p50_us\": {:.0}, \"p99_us\": {:.0}, \"p999_us\": {:.0}, \"max_us\": {max_us:.1}, \
         \"p99_frac\": {:.4}, \"p999_frac\": {:.4}, \"max_frac\": {:.4}, \
         \"over_half_period\": {}, \"over_period\": {}, \"jack_xrun_callbacks\": {}, \
         \"threads\": {}, \"parallel\": {parallel}, \"thread_loads\": [{}], \"workers\": \"{workers}\"}}",
        args.patch.display(),
        args.seconds,
        editor.edits,
        editor.topology_edits,
        editor.edit_ns_max as f64 / 1e6,
        q(0.5),
        q(0.99),
        q(0.999),
        q(0.99) / period_us,
        q(0.999) / period_us,
        max_us / period_us,
        hist.over(period / 2),
        hist.over(period),
        stats.xruns.load(Ordering::Relaxed),
        args.threads,
        loads.join(", "),
    );
    println!("{report}");
    if let Some(out) = args.out {
        let ok = std::fs::File::create(&out).and_then(|mut f| writeln!(f, "{report}"));
        if let Err(e) = ok {
            eprintln!("{}: {e}", out.display());
            std::process::exit(2);
        }
    }
}
