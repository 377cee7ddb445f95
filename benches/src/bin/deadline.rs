//! `ohmpatch-deadline`: play a patch on a running JACK server for a while,
//! applying edits the way the editor does, and report how long each of our
//! callbacks took against the buffer period.
//!
//! The callback is ours (cpal's JACK host, like `ohmpatch play`), so each
//! call's duration goes into a histogram of atomics allocated before the
//! stream starts: the audio thread only increments counters.
//!
//! ```text
//! ohmpatch-deadline [--patch FILE] [--seconds S] [--no-edits] [--out FILE]
//! ```
//!
//! `scripts/bench-deadline.sh` starts the JACK dummy server, runs this and
//! `jack_simple_client` under it and counts the xruns JACK blames on each.

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use ohmpatch_engine::{ChannelMap, Engine, EngineConfig};
use ohmpatch_patch::{Node, Patch, Value, Wire};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Histogram bins of 1 µs up to 20 ms; the last bin holds everything longer.
const BINS: usize = 20_000;

struct Histogram {
    bins: Vec<AtomicU64>,
    max_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            bins: (0..BINS).map(|_| AtomicU64::new(0)).collect(),
            max_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Audio thread: no allocation, no locks.
    #[inline]
    fn record(&self, ns: u64) {
        let bin = ((ns / 1000) as usize).min(BINS - 1);
        self.bins[bin].fetch_add(1, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The upper edge of the bin holding quantile `q`, in µs.
    fn quantile_us(&self, q: f64) -> f64 {
        let n = self.count.load(Ordering::Relaxed);
        if n == 0 {
            return 0.0;
        }
        let want = ((n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.bins.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= want {
                return (i + 1) as f64;
            }
        }
        BINS as f64
    }

    fn over(&self, limit_ns: u64) -> u64 {
        let first = (limit_ns / 1000) as usize;
        self.bins
            .iter()
            .skip(first)
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }
}

struct Args {
    patch: PathBuf,
    seconds: f64,
    edits: bool,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        patch: PathBuf::from("graphs/demo.ohm.ron"),
        seconds: 60.0,
        edits: true,
        out: None,
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
            "--out" => a.out = Some(it.next().ok_or("--out needs a file")?.into()),
            "-h" | "--help" => {
                println!(
                    "ohmpatch-deadline [--patch FILE] [--seconds S] [--no-edits] [--out FILE]"
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
    let host = match cpal::host_from_id(cpal::HostId::Jack) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("JACK is not available: {e}");
            std::process::exit(1);
        }
    };
    let Some(device) = host.default_output_device() else {
        eprintln!("no JACK server is running");
        std::process::exit(1);
    };
    let cfg = match device.default_output_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot read JACK's configuration: {e}");
            std::process::exit(1);
        }
    };
    let rate = cfg.sample_rate();
    let channels: u16 = 2;
    let config = EngineConfig {
        sample_rate: f64::from(rate),
        patch_dir: args.patch.parent().map(|p| p.to_path_buf()),
        channel_map: ChannelMap::Param,
        ..EngineConfig::default()
    };
    // Installed LV2 plugins too, so a patch may use them.
    let registry = Arc::new(ohmpatch_nodes::registry_with_plugins());
    let mut engine = Engine::new(registry.clone(), config);
    if let Err(e) = engine.set_patch(&patch) {
        eprintln!("{}: {e}", args.patch.display());
        std::process::exit(1);
    }
    let mut core = engine.take_core().expect("fresh engine has its core");
    let hist = Arc::new(Histogram::new());
    let period_ns = Arc::new(AtomicU64::new(0));
    let frames_seen = Arc::new(AtomicU64::new(0));
    let xruns = Arc::new(AtomicU64::new(0));
    let (h, p, f) = (hist.clone(), period_ns.clone(), frames_seen.clone());
    let ch = usize::from(channels);
    let data_cb = move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
        let t0 = Instant::now();
        core.process_interleaved(data, ch, &[], 0);
        let ns = t0.elapsed().as_nanos() as u64;
        let frames = (data.len() / ch) as u64;
        h.record(ns);
        p.store(frames * 1_000_000_000 / u64::from(rate), Ordering::Relaxed);
        f.store(frames, Ordering::Relaxed);
    };
    let x = xruns.clone();
    let err_cb = move |e: cpal::Error| {
        if matches!(e.kind(), cpal::ErrorKind::Xrun) {
            x.fetch_add(1, Ordering::Relaxed);
        }
    };
    let stream = match device.build_output_stream::<f32, _, _>(
        cpal::StreamConfig {
            channels,
            sample_rate: rate,
            buffer_size: cpal::BufferSize::Default,
        },
        data_cb,
        err_cb,
        Some(Duration::from_secs(3)),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the JACK stream: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = stream.play() {
        eprintln!("cannot start the JACK stream: {e}");
        std::process::exit(1);
    }

    let mut editor = Editor::new(patch, &registry);
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
    drop(stream);

    let period = period_ns.load(Ordering::Relaxed).max(1);
    let period_us = period as f64 / 1000.0;
    let frames = frames_seen.load(Ordering::Relaxed);
    let count = hist.count.load(Ordering::Relaxed);
    let max_us = hist.max_ns.load(Ordering::Relaxed) as f64 / 1000.0;
    let q = |x: f64| hist.quantile_us(x);
    let report = format!(
        "{{\"patch\": \"{}\", \"seconds\": {}, \"edits\": {}, \"topology_edits\": {}, \
         \"edit_max_ms\": {:.3}, \"sample_rate\": {rate}, \"frames\": {frames}, \
         \"period_us\": {period_us:.1}, \"callbacks\": {count}, \
         \"p50_us\": {:.0}, \"p99_us\": {:.0}, \"p999_us\": {:.0}, \"max_us\": {max_us:.1}, \
         \"p99_frac\": {:.4}, \"p999_frac\": {:.4}, \"max_frac\": {:.4}, \
         \"over_half_period\": {}, \"over_period\": {}, \"jack_xrun_callbacks\": {}}}",
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
        xruns.load(Ordering::Relaxed),
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
