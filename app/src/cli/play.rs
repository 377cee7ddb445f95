//! `ohmpatch play`: real-time playback on the audio thread, with a live
//! status line, falling back (requested → default → null) when a device
//! fails or goes away.

use super::*;
use ohmpatch_engine::backend::{BackendKind, MAX_JACK_PORTS, Stream, StreamOptions};
use ohmpatch_engine::meters::INPUT_METERS;
use ohmpatch_engine::supervisor::{PlaybackEvent, Supervisor};
use ohmpatch_engine::{ChannelMap, EngineConfig, ThreadLoad, WorkerPriority};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    pub patch: PathBuf,
    /// auto picks JACK if a server runs, else ALSA's default, else null.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    #[arg(long)]
    pub device: Option<String>,
    /// Buffer size in frames (JACK uses the server's).
    #[arg(long)]
    pub buffer: Option<u32>,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<f64>,
    #[arg(long = "sample-rate")]
    pub sample_rate: Option<u32>,
    /// The capture device (ALSA; default: the default input).
    #[arg(long = "input-device")]
    pub input_device: Option<String>,
    /// Input channels to open (default: as many as the patch's `audio_in`
    /// channels reach; 0 opens no capture).
    #[arg(long)]
    pub inputs: Option<u16>,
    /// JACK: connect inputs to the physical capture ports and outputs to
    /// the physical playback ports.
    #[arg(long)]
    pub connect: bool,
    #[command(flatten)]
    pub threads: ThreadArgs,
}

/// Say what the supervisor did, in `play`'s words. `starting`: the first
/// start, before the status line.
fn report(events: Vec<PlaybackEvent>, starting: bool) {
    for ev in events {
        match ev {
            PlaybackEvent::Substituted { reason, choice } => eprintln!(
                "note: {reason}; using {} ({})",
                choice.backend.name(),
                choice.device_name
            ),
            PlaybackEvent::StartFailed { choice, error } => eprintln!(
                "note: {} ({}): {error}; {}",
                choice.backend.name(),
                choice.device_name,
                if starting {
                    "falling back to null"
                } else {
                    "using the null device"
                }
            ),
            PlaybackEvent::Lost { backend, why } => eprintln!(
                "\n{} device lost ({why}); falling back to the null device so the patch keeps running",
                backend.name()
            ),
            PlaybackEvent::Back(backend) => {
                eprintln!("\n{} is back; playing on it again", backend.name())
            }
            PlaybackEvent::DeviceError { backend, why } => {
                eprintln!("\nnote: {} reports: {why}", backend.name())
            }
            PlaybackEvent::Rebuild(e) => eprintln!("warning: {e}"),
            PlaybackEvent::InputLost(why) => eprintln!(
                "\n{}input lost ({why}); audio_in plays silence, the output goes on",
                if starting { "note: " } else { "" }
            ),
            PlaybackEvent::InputBack => eprintln!("\ninput is back"),
        }
    }
}

pub fn run(a: Args) -> u8 {
    let Some(backend) = BackendKind::parse(&a.backend) else {
        eprintln!(
            "--backend must be auto, jack, alsa or null; got \"{}\"",
            a.backend
        );
        return EXIT_INVALID;
    };
    if let Some(s) = a.seconds
        && !(s.is_finite() && s > 0.0)
    {
        eprintln!("--seconds must be a positive number; got {s}");
        return EXIT_INVALID;
    }
    if let Some(b) = a.buffer
        && !(16..=8192).contains(&b)
    {
        eprintln!("--buffer must be between 16 and 8192 frames; got {b}");
        return EXIT_INVALID;
    }
    let patch = match load(&a.patch) {
        Ok(p) => p,
        Err(c) => return c,
    };
    // Before the nodes are built, so their memory is present from the start.
    if let Err(e) = ohmpatch_engine::backend::lock_memory() {
        eprintln!("note: memory not locked ({e}); the audio thread may stall on a page fault");
    }
    if let Some(n) = a.inputs
        && n > MAX_JACK_PORTS
    {
        eprintln!("--inputs must be between 0 and {MAX_JACK_PORTS}; got {n}");
        return EXIT_INVALID;
    }
    let (ins_used, outs_used) = channels_used(&patch);
    let opts = StreamOptions {
        backend,
        device: a.device.clone(),
        input_device: a.input_device.clone(),
        buffer: a.buffer,
        sample_rate: a.sample_rate,
        channels: outs_used.clamp(2, MAX_JACK_PORTS),
        inputs: a.inputs.unwrap_or(ins_used.min(MAX_JACK_PORTS)),
        connect: a.connect,
    };
    let mut sup = Supervisor::new(opts);
    let choice = sup.choose();
    report(sup.take_events(), true);
    let mut config = EngineConfig {
        sample_rate: f64::from(choice.sample_rate),
        patch_dir: Some(patch_dir(&a.patch)),
        channel_map: ChannelMap::Param,
        ..EngineConfig::default()
    };
    if let Err(code) = a.threads.apply(&mut config) {
        return code;
    }
    let mut engine = match engine_for(&a.patch, &patch, config) {
        Ok(e) => e,
        Err(c) => return c,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let stats = engine.stats().clone();
    let started = sup.start(&mut engine, choice);
    report(sup.take_events(), true);
    if let Err(e) = started {
        eprintln!("cannot start even the null device: {e}");
        return EXIT_INVALID;
    }
    let backend_name = |sup: &Supervisor| sup.stream().map_or("none", |s| s.choice.backend.name());
    let playing = sup.stream().expect("started").choice.clone();
    println!(
        "playing {} on {} ({}), {} Hz{}",
        a.patch.display(),
        playing.backend.name(),
        playing.device_name,
        playing.sample_rate,
        playing
            .buffer
            .map(|b| format!(", {b} frames"))
            .unwrap_or_default()
    );
    if let Some(s) = sup.stream() {
        describe_ports(s);
    }
    let threads = engine.config().thread_count();
    if threads > 1 {
        println!(
            "threads: {threads} (the audio thread and {} worker{} for independent branches)",
            threads - 1,
            if threads == 2 { "" } else { "s" }
        );
    }
    let mut shown_priority = 0;
    let mut thread_load = ThreadLoad::default();
    let mut shown_latency = None;
    let t0 = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(1);
    let mut lost = 0;
    let mut max_load: f64 = 0.0;
    let mut reported_fault = None;
    let mut reported_slow = std::collections::BTreeSet::new();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(s) = a.seconds
            && t0.elapsed().as_secs_f64() >= s
        {
            break;
        }
        engine.maintain();
        for e in engine.take_service_errors() {
            eprintln!("\nwarning: {e}");
        }
        // A lost device moves to null and is looked for again every 2 s.
        let polled = sup.poll(&mut engine);
        let events = sup.take_events();
        lost += events
            .iter()
            .filter(|e| matches!(e, PlaybackEvent::Lost { .. }))
            .count();
        report(events, false);
        if let Err(e) = polled {
            eprintln!("cannot start the null device: {e}");
            return EXIT_INVALID;
        }
        if let Some(node) = engine.faulty_node()
            && reported_fault.as_deref() != Some(node.as_str())
        {
            eprintln!(
                "\nwarning: node \"{node}\" produces non-finite samples; they are silenced at the output"
            );
            reported_fault = Some(node);
        }
        // An LV2 plugin that ran slower than real time, named once.
        for id in patch.nodes.keys() {
            if let Some(p) = engine.probe::<ohmpatch_nodes::lv2::run::ControlOutputs>(id)
                && p.slow_runs() > 0
                && reported_slow.insert(id.clone())
            {
                eprintln!("\nwarning: plugin node \"{id}\" took longer than real time");
            }
        }
        max_load = max_load.max(stats.load());
        if last_print.elapsed() >= Duration::from_millis(250) {
            last_print = Instant::now();
            // Said again whenever it changes: JACK works it out from the
            // connections, which may be made after the start.
            if let Some(s) = sup.stream() {
                let now = (s.latency(), engine.device_latency(), s.has_input());
                if shown_latency != Some(now) {
                    shown_latency = Some(now);
                    println!(
                        "latency {}",
                        now.0.describe(now.1 as u32, s.choice.sample_rate, now.2)
                    );
                }
            }
            let mut line = format!(
                "{:>6.1} s  {}  load {:>5.1} %  xruns {}  callbacks {}  out peak {} dBFS",
                t0.elapsed().as_secs_f64(),
                backend_name(&sup),
                stats.load() * 100.0,
                stats.xruns.load(Ordering::Relaxed),
                stats.callbacks.load(Ordering::Relaxed),
                dbfs(f64::from(stats.take_output_peak())),
            );
            let loads = thread_load.sample(&stats, f64::from(playing.sample_rate));
            if !loads.is_empty() {
                let parallel = stats.parallel.load(Ordering::Relaxed);
                line.push_str(&format!("  threads {}", thread_loads(&loads, parallel)));
            }
            let rt = stats.worker_rt.load(Ordering::Relaxed);
            if rt != shown_priority {
                shown_priority = rt;
                let p = WorkerPriority::decode(rt);
                let say = format!("workers: {}", p.describe());
                match p {
                    WorkerPriority::Refused { .. } => eprintln!("\nwarning: {say}"),
                    _ => println!("\n{say}"),
                }
            }
            if let Some(s) = sup.stream().filter(|s| s.has_input()) {
                let peaks: Vec<String> = (0..s.choice.inputs as usize)
                    .take(INPUT_METERS)
                    .map(|c| dbfs(f64::from(stats.take_input_peak(c))))
                    .collect();
                line.push_str(&format!(
                    "  in peak {} dBFS  in xruns {}",
                    peaks.join("/"),
                    stats.input_xruns.load(Ordering::Relaxed)
                ));
            }
            if tty {
                print!("\r{line}   ");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let backend_name = backend_name(&sup);
    sup.stop(&mut engine);
    report(sup.take_events(), false);
    for e in engine.shutdown() {
        eprintln!("warning: {e}");
    }
    println!(
        "\nplayed {:.1} s on {backend_name}: {} callbacks, {} xruns, {} input xruns, max load {:.1} %{}",
        t0.elapsed().as_secs_f64(),
        stats.callbacks.load(Ordering::Relaxed),
        stats.xruns.load(Ordering::Relaxed),
        stats.input_xruns.load(Ordering::Relaxed),
        max_load * 100.0,
        if lost > 0 {
            format!(", device lost {lost}×")
        } else {
            String::new()
        }
    );
    EXIT_OK
}

/// How many device input and output channels the patch's nodes reach.
fn channels_used(patch: &ohmpatch_patch::Patch) -> (u16, u16) {
    let registry = ohmpatch_nodes::shared_registry();
    let resolved: Vec<(&str, &str, ohmpatch_engine::Params)> = patch
        .nodes
        .iter()
        .filter_map(|(id, node)| {
            let kind = registry.of(node)?;
            let params = ohmpatch_engine::Params::resolve(kind.spec(), &node.params);
            Some((id.as_str(), node.kind.as_str(), params))
        })
        .collect();
    let (ins, outs) = registry.device_users(resolved.iter().map(|(i, k, p)| (*i, *k, p)));
    let count = |v: Vec<String>| u16::try_from(v.len()).unwrap_or(u16::MAX);
    (count(ins), count(outs))
}

/// The client and port names on JACK, once playing.
fn describe_ports(s: &Stream) {
    if let Some((client, ins, outs)) = s.jack_ports() {
        println!("jack client \"{client}\"");
        if !ins.is_empty() {
            println!("  inputs:  {}", ins.join("  "));
        }
        println!("  outputs: {}", outs.join("  "));
    }
}
