//! Where the audio goes and comes from: offline (as fast as possible), a
//! real-time paced null device, JACK (one client owning capture and
//! playback) and ALSA through cpal (an output stream, and a capture stream
//! when the patch has device inputs). All of them call the same
//! `Core::process_interleaved`.

mod alsa;
mod jack;
mod list;
mod null;
mod offline;

pub use self::jack::{CLIENT_NAME, MAX_JACK_PORTS};
pub use list::{DeviceInfo, list_devices};
pub use offline::{render_offline, render_offline_with};

use crate::meters::Stats;
use crate::runtime::Core;
use cpal::traits::{DeviceTrait, HostTrait};
use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;

/// Runs audio-thread work; with `rt-alloc-check`, any allocation inside aborts.
#[inline]
pub(crate) fn rt_guard<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(feature = "rt-alloc-check")]
    {
        assert_no_alloc::assert_no_alloc(f)
    }
    #[cfg(not(feature = "rt-alloc-check"))]
    {
        f()
    }
}

/// Lock the process's memory, what it has and what it will allocate
/// (`mlockall`), as real-time audio programs do: a page is then made
/// present when it is allocated, on the control thread, never faulted in
/// by the audio thread on first use, and never swapped out. Refused
/// without the privilege (`RLIMIT_MEMLOCK`); the reason in words.
pub fn lock_memory() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no pointers; affects only this process's mappings.
        let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().to_string())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err("not supported here".into())
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
    /// The output device (ALSA; JACK has one server).
    pub device: Option<String>,
    /// The capture device (ALSA; default: the host's default input).
    pub input_device: Option<String>,
    /// Requested buffer size in frames; the device may choose another.
    pub buffer: Option<u32>,
    /// Requested sample rate; JACK dictates its own.
    pub sample_rate: Option<u32>,
    /// Output channels (JACK output ports).
    pub channels: u16,
    /// Input channels (JACK input ports); 0 opens no capture.
    pub inputs: u16,
    /// JACK: connect our ports to the physical capture and playback ports.
    pub connect: bool,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            backend: BackendKind::Auto,
            device: None,
            input_device: None,
            buffer: None,
            sample_rate: None,
            channels: 2,
            inputs: 2,
            connect: false,
        }
    }
}

/// What a device will run at, learned before the engine is built.
#[derive(Clone, Debug)]
pub struct DeviceChoice {
    pub backend: BackendKind,
    pub device_name: String,
    /// The capture device, when there is one (JACK: the server).
    pub input_name: Option<String>,
    pub sample_rate: u32,
    pub buffer: Option<u32>,
    pub channels: u16,
    pub inputs: u16,
    pub connect: bool,
    /// Why the requested choice was not used, if it was not.
    pub fallback_reason: Option<String>,
    device: Option<cpal::Device>,
    input: Option<cpal::Device>,
    /// JACK: the client, opened when chosen, for the stream to use.
    jack: Option<jack::OpenClient>,
}

/// Something went wrong with the device while it ran.
#[derive(Clone, Debug)]
pub enum StreamEvent {
    Xrun,
    /// The device or server went away; the stream is dead.
    Lost(String),
    /// The capture device went away (or would not open); output goes on.
    InputLost(String),
    Error(String),
}

/// Room for a stream's events between two reads by the control thread.
const EVENT_ROOM: usize = 256;

/// Queue `ev` for the control thread. Xruns (counted in `Stats` anyway) may
/// fill only half the room: a burst of them must never crowd out `Lost`,
/// which the control thread has to see to fall back.
pub(crate) fn send_event(events: &crossbeam_channel::Sender<StreamEvent>, ev: StreamEvent) {
    if matches!(ev, StreamEvent::Xrun) && events.len() >= EVENT_ROOM / 2 {
        return;
    }
    let _ = events.try_send(ev);
}

/// How long sound takes to get in and out, in frames at the device rate:
/// capture (device input to the engine), playback (engine to the device
/// output) and the period. The patch's own latency comes on top.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoLatency {
    pub capture_frames: u32,
    pub playback_frames: u32,
    pub period_frames: u32,
}

impl IoLatency {
    /// Device input to device output through a patch that adds `patch`.
    pub fn round_trip(&self, patch: u32) -> u32 {
        self.capture_frames + patch + self.playback_frames
    }

    /// In words, for `play` and the status bar: with an input, device in
    /// to device out; without, the engine to device out.
    pub fn describe(&self, patch: u32, sample_rate: u32, with_input: bool) -> String {
        let ms = |f: u32| f64::from(f) / f64::from(sample_rate.max(1)) * 1e3;
        if with_input {
            let total = self.round_trip(patch);
            format!(
                "in→out {total} frames ({:.2} ms): capture {} + patch {patch} + playback {}",
                ms(total),
                self.capture_frames,
                self.playback_frames
            )
        } else {
            let total = patch + self.playback_frames;
            format!(
                "out {total} frames ({:.2} ms): patch {patch} + playback {}",
                ms(total),
                self.playback_frames
            )
        }
    }
}

fn host_for() -> Result<cpal::Host, String> {
    cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| format!("alsa is not available: {e}"))
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .or_else(|_| d.id().map(|i| i.to_string()))
        .unwrap_or_else(|_| "unknown".into())
}

/// An ALSA device by name or id, among those that can play (or capture).
fn find_alsa(host: &cpal::Host, name: &str, capture: bool) -> Option<cpal::Device> {
    let devs = if capture {
        host.input_devices().ok()?.collect::<Vec<_>>()
    } else {
        host.output_devices().ok()?.collect::<Vec<_>>()
    };
    devs.into_iter().find(|d| {
        let id = d.id().map(|i| i.to_string()).unwrap_or_default();
        device_name(d) == name || id == name || id.ends_with(name)
    })
}

fn open_jack(opts: &StreamOptions) -> Result<DeviceChoice, String> {
    let (client, f) = jack::open_client().ok_or("no JACK server is running")?;
    Ok(DeviceChoice {
        backend: BackendKind::Jack,
        device_name: "JACK server".into(),
        input_name: (opts.inputs > 0).then(|| "JACK server".into()),
        sample_rate: f.sample_rate,
        buffer: Some(f.buffer),
        channels: opts.channels.clamp(1, MAX_JACK_PORTS),
        inputs: opts.inputs.min(MAX_JACK_PORTS),
        connect: opts.connect,
        fallback_reason: None,
        device: None,
        input: None,
        jack: Some(client),
    })
}

fn open_alsa(opts: &StreamOptions) -> Result<DeviceChoice, String> {
    let host = host_for()?;
    let device = match &opts.device {
        Some(name) => find_alsa(&host, name, false)
            .ok_or_else(|| format!("no alsa output device named \"{name}\""))?,
        None => host
            .default_output_device()
            .ok_or("alsa has no output device")?,
    };
    let cfg = device
        .default_output_config()
        .map_err(|e| format!("alsa: cannot read the device's configuration: {e}"))?;
    let mut rate = cfg.sample_rate();
    if let Some(want) = opts.sample_rate {
        let ok = device
            .supported_output_configs()
            .map(|mut it| it.any(|r| r.min_sample_rate() <= want && want <= r.max_sample_rate()))
            .unwrap_or(false);
        if ok {
            rate = want;
        }
    }
    let input = if opts.inputs == 0 {
        None
    } else {
        match &opts.input_device {
            Some(name) => find_alsa(&host, name, true),
            None => host.default_input_device(),
        }
    };
    Ok(DeviceChoice {
        backend: BackendKind::Alsa,
        device_name: device_name(&device),
        input_name: input.as_ref().map(device_name),
        sample_rate: rate,
        buffer: opts.buffer,
        channels: opts.channels.max(1),
        inputs: opts.inputs,
        connect: false,
        fallback_reason: None,
        device: Some(device),
        input,
        jack: None,
    })
}

fn open_device(kind: BackendKind, opts: &StreamOptions) -> Result<DeviceChoice, String> {
    match kind {
        BackendKind::Jack => open_jack(opts),
        _ => open_alsa(opts),
    }
}

/// Choose a device: requested → default of that backend → null, with the
/// reason recorded. `auto` tries JACK if a server runs, then ALSA's default.
pub fn choose_device(opts: &StreamOptions) -> DeviceChoice {
    let null = |reason: Option<String>| DeviceChoice {
        backend: BackendKind::Null,
        device_name: "null (no sound, real-time paced)".into(),
        input_name: None,
        sample_rate: opts.sample_rate.unwrap_or(48_000),
        buffer: opts.buffer,
        channels: opts.channels.max(1),
        inputs: 0,
        connect: false,
        fallback_reason: reason,
        device: None,
        input: None,
        jack: None,
    };
    let tries: Vec<BackendKind> = match opts.backend {
        BackendKind::Null => return null(None),
        BackendKind::Auto => vec![BackendKind::Jack, BackendKind::Alsa],
        k => vec![k],
    };
    let mut reasons = Vec::new();
    for kind in tries {
        match open_device(kind, opts) {
            Ok(mut c) => {
                if !reasons.is_empty() {
                    c.fallback_reason = Some(reasons.join("; "));
                }
                return c;
            }
            Err(e) => {
                reasons.push(e);
                if kind == BackendKind::Alsa && opts.device.is_some() {
                    // Requested device missing: try that backend's default.
                    let o = StreamOptions {
                        device: None,
                        ..opts.clone()
                    };
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
    Null(null::NullStream),
    Alsa(Box<alsa::AlsaStream>),
    Jack(Box<jack::JackStream>),
}

impl Stream {
    /// Start `core` on `choice`. If the device fails to start the core is
    /// gone with it; the caller rebuilds one (`Engine::rebuild_core`) and
    /// falls back.
    pub fn start(choice: DeviceChoice, core: Core, stats: Arc<Stats>) -> Result<Stream, String> {
        let (ev_tx, ev_rx) = bounded::<StreamEvent>(EVENT_ROOM);
        let inner = match choice.backend {
            BackendKind::Null | BackendKind::Auto => {
                StreamInner::Null(null::start_null(&choice, core, stats.clone()))
            }
            BackendKind::Jack => StreamInner::Jack(Box::new(jack::JackStream::start(
                &choice,
                core,
                stats.clone(),
                ev_tx,
            )?)),
            BackendKind::Alsa => StreamInner::Alsa(Box::new(alsa::AlsaStream::start(
                &choice,
                core,
                stats.clone(),
                ev_tx,
            )?)),
        };
        Ok(Stream {
            inner,
            choice,
            events: ev_rx,
            stats,
        })
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Input and output latency of the device as it runs now (the null
    /// device: its period out, nothing in).
    pub fn latency(&self) -> IoLatency {
        match &self.inner {
            StreamInner::Null(_) => {
                let p = null::period(&self.choice);
                IoLatency {
                    capture_frames: 0,
                    playback_frames: p,
                    period_frames: p,
                }
            }
            StreamInner::Alsa(a) => a.latency(),
            StreamInner::Jack(j) => j.latency(),
        }
    }

    /// Whether device inputs reach the engine now.
    pub fn has_input(&self) -> bool {
        match &self.inner {
            StreamInner::Null(_) => false,
            StreamInner::Alsa(a) => a.has_input(),
            StreamInner::Jack(_) => self.choice.inputs > 0,
        }
    }

    /// The capture device was lost: play on without it.
    pub fn drop_input(&mut self) {
        if let StreamInner::Alsa(a) = &mut self.inner {
            a.drop_input();
        }
    }

    /// Try to open the capture device again after it was lost.
    pub fn reopen_input(&mut self) -> Result<(), String> {
        match &mut self.inner {
            StreamInner::Alsa(a) => a.open_input(),
            _ => Ok(()),
        }
    }

    /// Name device ports after the nodes that use them (JACK), from
    /// `Engine::device_users`. Other backends have no port names.
    pub fn label_ports(&mut self, ins: &[String], outs: &[String]) {
        if let StreamInner::Jack(j) = &mut self.inner {
            j.label_ports(ins, outs);
        }
    }

    /// JACK: the client's name and full port names (inputs, outputs).
    pub fn jack_ports(&self) -> Option<(String, Vec<String>, Vec<String>)> {
        match &self.inner {
            StreamInner::Jack(j) => {
                let (i, o) = j.port_names();
                Some((j.client_name(), i, o))
            }
            _ => None,
        }
    }

    /// Stop and take the core back. `None` when the device died with it.
    pub fn stop(self) -> Option<Core> {
        match self.inner {
            StreamInner::Null(n) => n.stop(),
            StreamInner::Alsa(a) => a.stop(),
            StreamInner::Jack(j) => j.stop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_xruns_leaves_room_for_the_loss_of_the_device() {
        let (tx, rx) = bounded::<StreamEvent>(EVENT_ROOM);
        for _ in 0..10_000 {
            send_event(&tx, StreamEvent::Xrun);
        }
        send_event(&tx, StreamEvent::Lost("gone".into()));
        let events: Vec<StreamEvent> = rx.try_iter().collect();
        assert!(events.iter().any(|e| matches!(e, StreamEvent::Lost(_))));
        assert!(events.len() <= EVENT_ROOM);
    }
}
