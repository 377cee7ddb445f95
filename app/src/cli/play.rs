//! `ohmpatch play`: real-time playback on the audio thread, with a live
//! status line, falling back (requested → default → null) when a device
//! fails or goes away.

use super::*;
use ohmpatch_engine::backend::{BackendKind, Stream, StreamEvent, StreamOptions, choose_device};
use ohmpatch_engine::{ChannelMap, EngineConfig};
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
}

/// Move the engine from `stream` to `choice`; if that device fails, to null.
fn switch(
    stream: Stream,
    engine: &mut ohmpatch_engine::Engine,
    choice: ohmpatch_engine::backend::DeviceChoice,
    opts: &StreamOptions,
) -> Result<Stream, String> {
    let stats = engine.stats().clone();
    match stream.stop() {
        Some(c) => engine.return_core(c),
        None => {
            for e in engine.rebuild_core() {
                eprintln!("warning: {e}");
            }
        }
    }
    let core = engine.take_core().expect("core is back");
    match Stream::start(choice.clone(), core, stats.clone()) {
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!(
                "note: {} ({}): {e}; using the null device",
                choice.backend.name(),
                choice.device_name
            );
            for e in engine.rebuild_core() {
                eprintln!("warning: {e}");
            }
            let null = choose_device(&StreamOptions {
                backend: BackendKind::Null,
                sample_rate: Some(choice.sample_rate),
                ..opts.clone()
            });
            Stream::start(null, engine.take_core().expect("rebuilt"), stats)
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
    let opts = StreamOptions {
        backend,
        device: a.device.clone(),
        buffer: a.buffer,
        sample_rate: a.sample_rate,
        channels: 2,
    };
    let choice = choose_device(&opts);
    if let Some(r) = &choice.fallback_reason {
        eprintln!(
            "note: {r}; using {} ({})",
            choice.backend.name(),
            choice.device_name
        );
    }
    let config = EngineConfig {
        sample_rate: f64::from(choice.sample_rate),
        patch_dir: Some(patch_dir(&a.patch)),
        channel_map: ChannelMap::Param,
        ..EngineConfig::default()
    };
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
    let core = engine.take_core().expect("fresh engine has its core");
    let mut stream = match Stream::start(choice.clone(), core, stats.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "note: {} ({}): {e}; falling back to null",
                choice.backend.name(),
                choice.device_name
            );
            for e in engine.rebuild_core() {
                eprintln!("warning: {e}");
            }
            let null = choose_device(&StreamOptions {
                backend: BackendKind::Null,
                ..opts.clone()
            });
            let core = engine.take_core().expect("rebuilt");
            match Stream::start(null, core, stats.clone()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cannot start even the null device: {e}");
                    return EXIT_INVALID;
                }
            }
        }
    };
    println!(
        "playing {} on {} ({}), {} Hz{}",
        a.patch.display(),
        stream.choice.backend.name(),
        stream.choice.device_name,
        stream.choice.sample_rate,
        stream
            .choice
            .buffer
            .map(|b| format!(", {b} frames"))
            .unwrap_or_default()
    );
    let t0 = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(1);
    let mut lost = 0;
    let mut max_load: f64 = 0.0;
    let mut reported_fault = None;
    let mut lost_from: Option<ohmpatch_engine::backend::DeviceChoice> = None;
    let mut last_retry = Instant::now();
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
        let mut dead = None;
        while let Ok(ev) = stream.events.try_recv() {
            match ev {
                StreamEvent::Lost(why) => dead = Some(why),
                StreamEvent::Error(why) => {
                    eprintln!("\nnote: {} reports: {why}", stream.choice.backend.name())
                }
                StreamEvent::Xrun => {}
            }
        }
        if let Some(why) = dead {
            lost += 1;
            eprintln!(
                "\n{} device lost ({why}); falling back to the null device so the patch keeps running",
                stream.choice.backend.name()
            );
            let prev = stream.choice.clone();
            let null = choose_device(&StreamOptions {
                backend: BackendKind::Null,
                buffer: prev.buffer,
                sample_rate: Some(prev.sample_rate),
                ..opts.clone()
            });
            if prev.backend != BackendKind::Null {
                lost_from = Some(prev);
                last_retry = Instant::now();
            }
            stream = match switch(stream, &mut engine, null, &opts) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cannot start the null device: {e}");
                    return EXIT_INVALID;
                }
            };
        }
        // After a loss, look for the device again every two seconds.
        if let Some(prev) = lost_from.clone()
            && last_retry.elapsed() >= Duration::from_secs(2)
        {
            last_retry = Instant::now();
            let again = choose_device(&StreamOptions {
                backend: prev.backend,
                sample_rate: Some(prev.sample_rate),
                ..opts.clone()
            });
            if again.backend == prev.backend && again.sample_rate == prev.sample_rate {
                stream = match switch(stream, &mut engine, again, &opts) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("cannot start the null device: {e}");
                        return EXIT_INVALID;
                    }
                };
                if stream.choice.backend == prev.backend {
                    lost_from = None;
                    eprintln!("\n{} is back; playing on it again", prev.backend.name());
                }
            }
        }
        if let Some(node) = engine.faulty_node()
            && reported_fault.as_deref() != Some(node.as_str())
        {
            eprintln!(
                "\nwarning: node \"{node}\" produces non-finite samples; they are silenced at the output"
            );
            reported_fault = Some(node);
        }
        max_load = max_load.max(stats.load());
        if last_print.elapsed() >= Duration::from_millis(250) {
            last_print = Instant::now();
            let line = format!(
                "{:>6.1} s  {}  load {:>5.1} %  xruns {}  callbacks {}  out peak {} dBFS",
                t0.elapsed().as_secs_f64(),
                stream.choice.backend.name(),
                stats.load() * 100.0,
                stats.xruns.load(Ordering::Relaxed),
                stats.callbacks.load(Ordering::Relaxed),
                dbfs(f64::from(stats.take_output_peak())),
            );
            if tty {
                print!("\r{line}   ");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let backend_name = stream.choice.backend.name();
    if let Some(c) = stream.stop() {
        engine.return_core(c);
    }
    for e in engine.shutdown() {
        eprintln!("warning: {e}");
    }
    println!(
        "\nplayed {:.1} s on {backend_name}: {} callbacks, {} xruns, max load {:.1} %{}",
        t0.elapsed().as_secs_f64(),
        stats.callbacks.load(Ordering::Relaxed),
        stats.xruns.load(Ordering::Relaxed),
        max_load * 100.0,
        if lost > 0 {
            format!(", device lost {lost}×")
        } else {
            String::new()
        }
    );
    EXIT_OK
}
