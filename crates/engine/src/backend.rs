//! Where the audio goes: offline (as fast as possible), a real-time paced
//! null device, and real devices through cpal (JACK, ALSA). All of them call
//! the same `Core::process_interleaved`.

use crate::control::Engine;
use crate::meters::Stats;
use crate::node::MAX_BLOCK;
use crate::runtime::Core;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Render `frames` offline, in blocks of `block` frames (≤ MAX_BLOCK is
/// used per engine block). Returns one channel per device output in the
/// engine's channel order. Deterministic: no clocks, no threads.
pub fn render_offline(engine: &mut Engine, frames: usize, block: usize) -> Vec<Vec<f32>> {
    render_offline_with(engine, frames, block, &[])
}

/// `render_offline` with device inputs: `inputs[c]` is what device input
/// channel `c` receives (full-scale floats, as a device delivers them;
/// silence after its end), so device-input nodes play it exactly as they
/// would play a live input.
pub fn render_offline_with(
    engine: &mut Engine,
    frames: usize,
    block: usize,
    inputs: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let block = block.clamp(1, 65_536);
    let Some(mut core) = engine.take_core() else {
        return Vec::new();
    };
    let in_channels = inputs.len();
    let mut interleaved = vec![0.0f32; MAX_BLOCK * in_channels];
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut done = 0;
    let mut scratch = Vec::new();
    while done < frames {
        let n = (frames - done).min(block);
        // One device-sized block, split like a device callback would be.
        let mut off = 0;
        while off < n {
            let m = (n - off).min(MAX_BLOCK);
            let at = done + off;
            for (c, x) in inputs.iter().enumerate() {
                for f in 0..m {
                    interleaved[f * in_channels + c] = x.get(at + f).copied().unwrap_or(0.0);
                }
            }
            core.run_block(m, &interleaved[..m * in_channels], in_channels);
            let outs = core.device_out_count();
            for i in 0..outs {
                let ch = core.device_out_channel(i).unwrap_or(i);
                if channels.len() <= ch {
                    channels.resize_with(ch + 1, || Vec::with_capacity(frames));
                }
                scratch.clear();
                scratch.extend(
                    core.device_out(i, m)
                        .iter()
                        .map(|s| if s.is_finite() { *s } else { 0.0 }),
                );
                let c = &mut channels[ch];
                // Several outputs on one channel sum, as on a device.
                if c.len() < done + off + m {
                    c.resize(done + off, 0.0);
                    c.extend_from_slice(&scratch);
                } else {
                    for (d, s) in c[done + off..done + off + m].iter_mut().zip(&scratch) {
                        *d += s;
                    }
                }
            }
            off += m;
            engine.maintain();
        }
        done += n;
    }
    for c in channels.iter_mut() {
        c.resize(frames, 0.0);
    }
    engine.return_core(core);
    channels
}

/// Runs audio-thread work; with `rt-alloc-check`, any allocation inside aborts.
#[inline]
fn rt_guard<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(feature = "rt-alloc-check")]
    {
        assert_no_alloc::assert_no_alloc(f)
    }
    #[cfg(not(feature = "rt-alloc-check"))]
    {
        f()
    }
}

/// Which audio backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Auto,
    Jack,
    Alsa,
    Null,
}

impl BackendKind {
    pub fn parse(s: &str) -> Option<BackendKind> {
        match s {
            "auto" => Some(BackendKind::Auto),
            "jack" => Some(BackendKind::Jack),
            "alsa" => Some(BackendKind::Alsa),
            "null" => Some(BackendKind::Null),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Jack => "jack",
            BackendKind::Alsa => "alsa",
            BackendKind::Null => "null",
        }
    }
}

#[derive(Clone, Debug)]
pub struct StreamOptions {
    pub backend: BackendKind,
    pub device: Option<String>,
    /// Requested buffer size in frames; the device may choose another.
    pub buffer: Option<u32>,
    /// Requested sample rate; JACK dictates its own.
    pub sample_rate: Option<u32>,
    pub channels: u16,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            backend: BackendKind::Auto,
            device: None,
            buffer: None,
            sample_rate: None,
            channels: 2,
        }
    }
}

/// What a device will run at, learned before the engine is built.
#[derive(Clone, Debug)]
pub struct DeviceChoice {
    pub backend: BackendKind,
    pub device_name: String,
    pub sample_rate: u32,
    pub buffer: Option<u32>,
    pub channels: u16,
    /// Why the requested choice was not used, if it was not.
    pub fallback_reason: Option<String>,
    device: Option<cpal::Device>,
}

/// Something went wrong with the device while it ran.
#[derive(Clone, Debug)]
pub enum StreamEvent {
    Xrun,
    /// The device or server went away; the stream is dead.
    Lost(String),
    Error(String),
}

fn host_for(kind: BackendKind) -> Result<cpal::Host, String> {
    let id = match kind {
        BackendKind::Jack => cpal::HostId::Jack,
        BackendKind::Alsa => cpal::HostId::Alsa,
        _ => return Err("not a device backend".into()),
    };
    cpal::host_from_id(id).map_err(|e| format!("{} is not available: {e}", kind.name()))
}

fn open_device(kind: BackendKind, opts: &StreamOptions) -> Result<DeviceChoice, String> {
    let host = host_for(kind)?;
    let device = match &opts.device {
        Some(name) => {
            let mut found = None;
            if let Ok(devs) = host.output_devices() {
                for d in devs {
                    let n = device_name(&d);
                    let id = d.id().map(|i| i.to_string()).unwrap_or_default();
                    if n == *name || id == *name || id.ends_with(name.as_str()) {
                        found = Some(d);
                        break;
                    }
                }
            }
            match found {
                Some(d) => d,
                None => return Err(format!("no {} output device named \"{name}\"", kind.name())),
            }
        }
        None => host.default_output_device().ok_or_else(|| {
            format!(
                "{} has no output device (is the server running?)",
                kind.name()
            )
        })?,
    };
    let cfg = device.default_output_config().map_err(|e| {
        format!(
            "{}: cannot read the device's configuration: {e}",
            kind.name()
        )
    })?;
    let mut rate = cfg.sample_rate();
    if kind != BackendKind::Jack
        && let Some(want) = opts.sample_rate
    {
        let ok = device
            .supported_output_configs()
            .map(|mut it| it.any(|r| r.min_sample_rate() <= want && want <= r.max_sample_rate()))
            .unwrap_or(false);
        if ok {
            rate = want;
        }
    }
    Ok(DeviceChoice {
        backend: kind,
        device_name: device_name(&device),
        sample_rate: rate,
        buffer: opts.buffer,
        channels: opts.channels.max(1),
        fallback_reason: None,
        device: Some(device),
    })
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .or_else(|_| d.id().map(|i| i.to_string()))
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether a JACK server is up, asked without starting one.
pub fn jack_running() -> bool {
    match host_for(BackendKind::Jack) {
        Ok(h) => h.default_output_device().is_some(),
        Err(_) => false,
    }
}

/// Choose a device: requested → default of that backend → null, with the
/// reason recorded. `auto` tries JACK if a server runs, then ALSA's default.
pub fn choose_device(opts: &StreamOptions) -> DeviceChoice {
    let null = |reason: Option<String>| DeviceChoice {
        backend: BackendKind::Null,
        device_name: "null (no sound, real-time paced)".into(),
        sample_rate: opts.sample_rate.unwrap_or(48_000),
        buffer: opts.buffer,
        channels: opts.channels.max(1),
        fallback_reason: reason,
        device: None,
    };
    let tries: Vec<BackendKind> = match opts.backend {
        BackendKind::Null => return null(None),
        BackendKind::Auto => vec![BackendKind::Jack, BackendKind::Alsa],
        k => vec![k],
    };
    let mut reasons = Vec::new();
    for kind in tries {
        if kind == BackendKind::Jack && !jack_running() {
            reasons.push("no JACK server is running".to_string());
            continue;
        }
        match open_device(kind, opts) {
            Ok(c) => {
                let mut c = c;
                if !reasons.is_empty() {
                    c.fallback_reason = Some(reasons.join("; "));
                }
                return c;
            }
            Err(e) => {
                reasons.push(e);
                if opts.device.is_some() {
                    // Requested device missing: try that backend's default.
                    let mut o = opts.clone();
                    o.device = None;
                    if let Ok(mut c) = open_device(kind, &o) {
                        c.fallback_reason = Some(reasons.join("; "));
                        return c;
                    }
                }
            }
        }
    }
    null(Some(reasons.join("; ")))
}

/// A running stream that owns the engine's audio-thread half.
pub struct Stream {
    pub choice: DeviceChoice,
    pub events: Receiver<StreamEvent>,
    inner: StreamInner,
    stats: Arc<Stats>,
}

enum StreamInner {
    Null {
        stop: Arc<AtomicBool>,
        handle: Option<JoinHandle<Box<Core>>>,
    },
    Device {
        stream: cpal::Stream,
        give_back: Arc<AtomicBool>,
        back: Receiver<Box<Core>>,
    },
}

impl Stream {
    /// Start `core` on `choice`. If the device fails to start the core is
    /// gone with it; the caller rebuilds one (`Engine::rebuild_core`) and
    /// falls back.
    pub fn start(choice: DeviceChoice, core: Core, stats: Arc<Stats>) -> Result<Stream, String> {
        let (ev_tx, ev_rx) = bounded::<StreamEvent>(256);
        match choice.backend {
            BackendKind::Null | BackendKind::Auto => Ok(Stream {
                inner: start_null(&choice, core, stats.clone()),
                choice,
                events: ev_rx,
                stats,
            }),
            BackendKind::Jack | BackendKind::Alsa => {
                let Some(device) = choice.device.clone() else {
                    return Err("no device was opened".into());
                };
                start_device(&choice, device, core, stats.clone(), ev_tx).map(|inner| Stream {
                    inner,
                    choice,
                    events: ev_rx,
                    stats,
                })
            }
        }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Stop and take the core back. `None` when the device died with it.
    pub fn stop(self) -> Option<Core> {
        match self.inner {
            StreamInner::Null { stop, mut handle } => {
                stop.store(true, Ordering::Relaxed);
                handle.take().and_then(|h| h.join().ok()).map(|b| *b)
            }
            StreamInner::Device {
                stream,
                give_back,
                back,
            } => {
                give_back.store(true, Ordering::Relaxed);
                let core = back.recv_timeout(Duration::from_millis(500)).ok();
                let _ = stream.pause();
                drop(stream);
                core.map(|b| *b)
            }
        }
    }
}

fn start_null(choice: &DeviceChoice, core: Core, stats: Arc<Stats>) -> StreamInner {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let frames = choice.buffer.unwrap_or(256).clamp(16, 8192) as usize;
    let channels = choice.channels.max(1) as usize;
    let rate = f64::from(choice.sample_rate);
    let handle = std::thread::Builder::new()
        .name("ohmpatch-audio-null".into())
        .spawn(move || {
            let mut core = Box::new(core);
            let mut out = vec![0.0f32; frames * channels];
            let period = Duration::from_secs_f64(frames as f64 / rate);
            let mut next = Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                rt_guard(|| core.process_interleaved(&mut out, channels, &[], 0));
                let el = t0.elapsed();
                stats.record_callback(el.as_nanos() as u64, period.as_nanos() as u64);
                next += period;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else if now - next > period * 4 {
                    // Fell far behind (the machine was busy): count it and resync.
                    stats.xruns.fetch_add(1, Ordering::Relaxed);
                    next = now;
                }
            }
            core
        })
        .expect("spawn audio thread");
    StreamInner::Null {
        stop,
        handle: Some(handle),
    }
}

fn start_device(
    choice: &DeviceChoice,
    device: cpal::Device,
    core: Core,
    stats: Arc<Stats>,
    events: Sender<StreamEvent>,
) -> Result<StreamInner, String> {
    let channels = choice.channels.max(1);
    let config = cpal::StreamConfig {
        channels,
        sample_rate: choice.sample_rate,
        buffer_size: match choice.buffer {
            Some(b) if choice.backend != BackendKind::Jack => cpal::BufferSize::Fixed(b),
            _ => cpal::BufferSize::Default,
        },
    };
    let give_back = Arc::new(AtomicBool::new(false));
    let (back_tx, back_rx) = bounded::<Box<Core>>(1);
    // The core is shared with the callback only through this slot: the
    // callback owns it and sends it back when asked.
    let mut slot: Option<Box<Core>> = Some(Box::new(core));
    let gb = give_back.clone();
    let st = stats.clone();
    let rate = f64::from(choice.sample_rate);
    let ch = channels as usize;
    let err_events = events.clone();
    let data_cb = move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
        let t0 = Instant::now();
        if gb.load(Ordering::Relaxed) {
            if let Some(c) = slot.take() {
                let _ = back_tx.try_send(c);
            }
            data.fill(0.0);
            return;
        }
        rt_guard(|| match slot.as_mut() {
            Some(core) => core.process_interleaved(data, ch, &[], 0),
            None => data.fill(0.0),
        });
        let frames = data.len() / ch.max(1);
        let period = (frames as f64 / rate * 1e9) as u64;
        st.record_callback(t0.elapsed().as_nanos() as u64, period);
    };
    let stats_err = stats.clone();
    let err_cb = move |e: cpal::Error| {
        let ev = match e.kind() {
            cpal::ErrorKind::Xrun => {
                stats_err.xruns.fetch_add(1, Ordering::Relaxed);
                StreamEvent::Xrun
            }
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::HostUnavailable
            | cpal::ErrorKind::StreamInvalidated => StreamEvent::Lost(e.to_string()),
            _ => StreamEvent::Error(e.to_string()),
        };
        let _ = err_events.try_send(ev);
    };
    let stream = device
        .build_output_stream::<f32, _, _>(config, data_cb, err_cb, Some(Duration::from_secs(3)))
        .map_err(|e| format!("cannot open the device: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start the device: {e}"))?;
    Ok(StreamInner::Device {
        stream,
        give_back,
        back: back_rx,
    })
}

/// Hosts and devices for `ohmpatch devices`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceInfo {
    pub host: String,
    pub name: String,
    pub id: String,
    pub default: bool,
    pub channels: Option<u16>,
    pub sample_rates: Vec<(u32, u32)>,
    pub buffer_sizes: Option<(u32, u32)>,
    pub error: Option<String>,
}

pub fn list_devices() -> Vec<DeviceInfo> {
    let mut out = Vec::new();
    for kind in [BackendKind::Jack, BackendKind::Alsa] {
        if kind == BackendKind::Jack && !jack_running() {
            out.push(DeviceInfo {
                host: "jack".into(),
                name: "(no JACK server running)".into(),
                id: String::new(),
                default: false,
                channels: None,
                sample_rates: vec![],
                buffer_sizes: None,
                error: Some("start jackd to use JACK".into()),
            });
            continue;
        }
        let host = match host_for(kind) {
            Ok(h) => h,
            Err(e) => {
                out.push(DeviceInfo {
                    host: kind.name().into(),
                    name: "(unavailable)".into(),
                    id: String::new(),
                    default: false,
                    channels: None,
                    sample_rates: vec![],
                    buffer_sizes: None,
                    error: Some(e),
                });
                continue;
            }
        };
        let default_id = host
            .default_output_device()
            .and_then(|d| d.id().ok())
            .map(|i| i.to_string());
        if let Ok(devs) = host.output_devices() {
            for d in devs {
                let id = d.id().map(|i| i.to_string()).unwrap_or_default();
                let mut info = DeviceInfo {
                    host: kind.name().into(),
                    name: device_name(&d),
                    default: default_id.as_deref() == Some(id.as_str()),
                    id,
                    channels: None,
                    sample_rates: vec![],
                    buffer_sizes: None,
                    error: None,
                };
                match d.supported_output_configs() {
                    Ok(cfgs) => {
                        for c in cfgs {
                            info.channels = Some(info.channels.unwrap_or(0).max(c.channels()));
                            let r = (c.min_sample_rate(), c.max_sample_rate());
                            if !info.sample_rates.contains(&r) {
                                info.sample_rates.push(r);
                            }
                            if let cpal::SupportedBufferSize::Range { min, max } = c.buffer_size() {
                                info.buffer_sizes = Some((*min, *max));
                            }
                        }
                    }
                    Err(e) => info.error = Some(e.to_string()),
                }
                out.push(info);
            }
        }
    }
    out.push(DeviceInfo {
        host: "null".into(),
        name: "null".into(),
        id: "null".into(),
        default: false,
        channels: Some(64),
        sample_rates: vec![(8_000, 384_000)],
        buffer_sizes: Some((16, 8192)),
        error: None,
    });
    out
}
