//! JACK, as one client that owns both directions. cpal's JACK host opens a
//! client per stream, so capture and playback would meet a period apart and
//! be named after a process id; here one process callback reads the capture
//! ports, runs the engine and writes the playback ports in the same cycle,
//! which makes the round trip through ohmpatch the server's own (what
//! `jack_thru` measures). Ports are registered once per stream and keep their
//! connections when the patch changes; their names follow the nodes that use
//! them, and a fixed alias (`ohmpatch:in_1`) always finds them.

use super::{DeviceChoice, IoLatency, StreamEvent, rt_guard};
use crate::meters::Stats;
use crate::node::MAX_BLOCK;
use crate::runtime::Core;
use crossbeam_channel::Sender;
use jack::{
    AsyncClient, AudioIn, AudioOut, Client, ClientOptions, Control, LatencyType, Port, PortFlags,
    ProcessScope, Unowned,
};
use std::sync::Arc;
use std::time::Instant;

/// The client name ohmpatch asks the server for (it adds `-01`… if taken).
pub const CLIENT_NAME: &str = "ohmpatch";

/// Most ports per direction (the channel params go to 64).
pub const MAX_JACK_PORTS: u16 = 64;

/// The server's sample rate, buffer size and physical ports, asked with a
/// short-lived client; `None` when no server runs. Only for listing: a
/// stream opens its client once, with [`open_client`], and keeps it (a
/// client closed just before another opens in the same process left the
/// second one sometimes never run by jackd).
pub(super) fn server_facts() -> Option<ServerFacts> {
    let (client, _) = Client::new("ohmpatch-probe", ClientOptions::NO_START_SERVER).ok()?;
    Some(facts_of(&client))
}

fn facts_of(client: &Client) -> ServerFacts {
    let physical = |flags| {
        client
            .ports(None, Some(jack::jack_sys::FLOAT_MONO_AUDIO), flags)
            .len()
    };
    ServerFacts {
        sample_rate: client.sample_rate(),
        buffer: client.buffer_size(),
        capture: physical(PortFlags::IS_PHYSICAL | PortFlags::IS_OUTPUT),
        playback: physical(PortFlags::IS_PHYSICAL | PortFlags::IS_INPUT),
    }
}

/// The client a stream will use, opened when the device is chosen (its
/// rate decides the engine's) and handed to [`JackStream::start`].
#[derive(Clone)]
pub struct OpenClient(Arc<std::sync::Mutex<Option<Client>>>);

impl std::fmt::Debug for OpenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenClient")
    }
}

/// Open ohmpatch's client on the running server; `None` when none runs.
pub(super) fn open_client() -> Option<(OpenClient, ServerFacts)> {
    let (client, _) = Client::new(CLIENT_NAME, ClientOptions::NO_START_SERVER).ok()?;
    let facts = facts_of(&client);
    Some((
        OpenClient(Arc::new(std::sync::Mutex::new(Some(client)))),
        facts,
    ))
}

pub(super) struct ServerFacts {
    pub sample_rate: u32,
    pub buffer: u32,
    /// Physical capture ports (the server's outputs).
    pub capture: usize,
    /// Physical playback ports (the server's inputs).
    pub playback: usize,
}

/// The audio-thread half: the engine, its ports and interleaving scratch.
struct Process {
    core: Option<Box<Core>>,
    ins: Vec<Port<AudioIn>>,
    outs: Vec<Port<AudioOut>>,
    in_buf: Vec<f32>,
    out_buf: Vec<f32>,
    stats: Arc<Stats>,
    rate: f64,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let t0 = Instant::now();
        let n = ps.n_frames() as usize;
        let (nin, nout) = (self.ins.len(), self.outs.len());
        let Process {
            core,
            ins,
            outs,
            in_buf,
            out_buf,
            stats,
            ..
        } = self;
        rt_guard(|| {
            for (c, p) in ins.iter().enumerate() {
                stats.record_input(c, p.as_slice(ps));
            }
            let Some(core) = core.as_mut() else {
                for p in outs.iter_mut() {
                    p.as_mut_slice(ps).fill(0.0);
                }
                return;
            };
            let mut done = 0;
            while done < n {
                let m = (n - done).min(MAX_BLOCK);
                for (c, p) in ins.iter().enumerate() {
                    for (f, s) in p.as_slice(ps)[done..done + m].iter().enumerate() {
                        in_buf[f * nin + c] = *s;
                    }
                }
                core.process_interleaved(&mut out_buf[..m * nout], nout, &in_buf[..m * nin], nin);
                for (c, p) in outs.iter_mut().enumerate() {
                    for (f, d) in p.as_mut_slice(ps)[done..done + m].iter_mut().enumerate() {
                        *d = out_buf[f * nout + c];
                    }
                }
                done += m;
            }
        });
        let period = (n as f64 / self.rate * 1e9) as u64;
        self.stats
            .record_callback(t0.elapsed().as_nanos() as u64, period);
        Control::Continue
    }
}

/// Server notifications: xruns and the server going away.
struct Notes {
    stats: Arc<Stats>,
    events: Sender<StreamEvent>,
}

impl jack::NotificationHandler for Notes {
    unsafe fn shutdown(&mut self, _: jack::ClientStatus, reason: &str) {
        super::send_event(
            &self.events,
            StreamEvent::Lost(format!("the JACK server stopped: {reason}")),
        );
    }

    fn xrun(&mut self, _: &Client) -> Control {
        self.stats
            .xruns
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        super::send_event(&self.events, StreamEvent::Xrun);
        Control::Continue
    }
}

/// A running JACK client with its ports.
pub(super) struct JackStream {
    client: AsyncClient<Notes, Process>,
    /// Control-thread handles on our own ports, for names and latency.
    ins: Vec<Port<Unowned>>,
    outs: Vec<Port<Unowned>>,
    /// Short names now shown, to rename only what changed.
    shown: Vec<String>,
}

impl JackStream {
    pub fn start(
        choice: &DeviceChoice,
        core: Core,
        stats: Arc<Stats>,
        events: Sender<StreamEvent>,
    ) -> Result<JackStream, String> {
        // The client opened when the device was chosen, else a new one.
        let chosen = choice
            .jack
            .as_ref()
            .and_then(|c| c.0.lock().ok().and_then(|mut g| g.take()));
        let client = match chosen {
            Some(c) => c,
            None => {
                Client::new(CLIENT_NAME, ClientOptions::NO_START_SERVER)
                    .map_err(|e| format!("cannot open a JACK client: {e}"))?
                    .0
            }
        };
        let nin = choice.inputs.min(MAX_JACK_PORTS) as usize;
        let nout = choice.channels.clamp(1, MAX_JACK_PORTS) as usize;
        let mut ins = Vec::with_capacity(nin);
        let mut outs = Vec::with_capacity(nout);
        for c in 0..nin {
            let p = client
                .register_port(&stable_name("in", c), AudioIn::default())
                .map_err(|e| format!("cannot register a JACK input port: {e}"))?;
            ins.push(p);
        }
        for c in 0..nout {
            let p = client
                .register_port(&stable_name("out", c), AudioOut::default())
                .map_err(|e| format!("cannot register a JACK output port: {e}"))?;
            outs.push(p);
        }
        let name = client.name().to_string();
        let mut in_handles: Vec<Port<Unowned>> = ins.iter().map(|p| p.clone_unowned()).collect();
        let mut out_handles: Vec<Port<Unowned>> = outs.iter().map(|p| p.clone_unowned()).collect();
        // The stable alias: scripts and session files can always use it.
        for (c, p) in in_handles.iter_mut().enumerate() {
            let _ = p.set_alias(&format!("{name}:{}", stable_name("in", c)));
        }
        for (c, p) in out_handles.iter_mut().enumerate() {
            let _ = p.set_alias(&format!("{name}:{}", stable_name("out", c)));
        }
        let shown = (0..nin)
            .map(|c| stable_name("in", c))
            .chain((0..nout).map(|c| stable_name("out", c)))
            .collect();
        let process = Process {
            core: Some(Box::new(core)),
            ins,
            outs,
            in_buf: vec![0.0; MAX_BLOCK * nin.max(1)],
            out_buf: vec![0.0; MAX_BLOCK * nout],
            stats: stats.clone(),
            rate: f64::from(client.sample_rate()),
        };
        let client = client
            .activate_async(Notes { stats, events }, process)
            .map_err(|e| format!("cannot activate the JACK client: {e}"))?;
        let stream = JackStream {
            client,
            ins: in_handles,
            outs: out_handles,
            shown,
        };
        if choice.connect {
            stream.connect_physical();
        }
        Ok(stream)
    }

    /// Connect inputs to the physical capture ports and outputs to the
    /// physical playback ports, in order, as JACK programs usually offer.
    fn connect_physical(&self) {
        let c = self.client.as_client();
        let audio = Some(jack::jack_sys::FLOAT_MONO_AUDIO);
        let capture = c.ports(None, audio, PortFlags::IS_PHYSICAL | PortFlags::IS_OUTPUT);
        let playback = c.ports(None, audio, PortFlags::IS_PHYSICAL | PortFlags::IS_INPUT);
        for (p, src) in self.ins.iter().zip(&capture) {
            if let Ok(dst) = p.name() {
                let _ = c.connect_ports_by_name(src, &dst);
            }
        }
        for (p, dst) in self.outs.iter().zip(&playback) {
            if let Ok(src) = p.name() {
                let _ = c.connect_ports_by_name(&src, dst);
            }
        }
    }

    /// The client's name on the server (`ohmpatch`, or `ohmpatch-01`…).
    pub fn client_name(&self) -> String {
        self.client.as_client().name().to_string()
    }

    /// Name each port after the nodes that use its channel (`in_1-guitar`),
    /// or back to `in_1` when none does. Renaming keeps connections.
    pub fn label_ports(&mut self, ins: &[String], outs: &[String]) {
        let wanted: Vec<String> = (0..self.ins.len())
            .map(|c| labelled("in", c, ins.get(c)))
            .chain((0..self.outs.len()).map(|c| labelled("out", c, outs.get(c))))
            .collect();
        let client = self.client.as_client();
        let ports = self.ins.iter().chain(self.outs.iter());
        for ((port, want), shown) in ports.zip(&wanted).zip(self.shown.iter_mut()) {
            if want != shown && rename(client, port, want) {
                *shown = want.clone();
            }
        }
    }

    /// Full names of our ports now (`client:short`), inputs then outputs.
    pub fn port_names(&self) -> (Vec<String>, Vec<String>) {
        let names = |v: &[Port<Unowned>]| v.iter().filter_map(|p| p.name().ok()).collect();
        (names(&self.ins), names(&self.outs))
    }

    /// Capture and playback latency as the server reports them for our
    /// ports (from what they are connected to), and the period.
    pub fn latency(&self) -> IoLatency {
        let max_of = |v: &[Port<Unowned>], t| {
            v.iter()
                .map(|p| p.get_latency_range(t).1)
                .max()
                .unwrap_or(0)
        };
        IoLatency {
            capture_frames: max_of(&self.ins, LatencyType::Capture),
            playback_frames: max_of(&self.outs, LatencyType::Playback),
            period_frames: self.client.as_client().buffer_size(),
        }
    }

    /// Stop the client and take the engine back; `None` when the server
    /// died with it.
    pub fn stop(self) -> Option<Core> {
        match self.client.deactivate() {
            Ok((_, _, mut process)) => process.core.take().map(|b| *b),
            Err(_) => None,
        }
    }
}

fn stable_name(dir: &str, c: usize) -> String {
    format!("{dir}_{}", c + 1)
}

fn labelled(dir: &str, c: usize, users: Option<&String>) -> String {
    match users {
        Some(u) if !u.is_empty() => format!("{}-{}", stable_name(dir, c), u),
        _ => stable_name(dir, c),
    }
}

/// `jack_port_rename`, looked up in the loaded library (the wrapper only
/// offers the deprecated `jack_port_set_name`, which complains on stderr).
fn rename(client: &Client, port: &Port<Unowned>, short: &str) -> bool {
    type Rename = unsafe extern "C" fn(
        *mut jack::jack_sys::jack_client_t,
        *mut jack::jack_sys::jack_port_t,
        *const std::ffi::c_char,
    ) -> std::ffi::c_int;
    let Ok(name) = std::ffi::CString::new(short) else {
        return false;
    };
    let Ok(lib) = jack::jack_sys::library() else {
        return false;
    };
    // SAFETY: the symbol has this C signature in every libjack that has it;
    // the client and port pointers are live (we own both).
    unsafe {
        match lib.get::<Rename>(b"jack_port_rename\0") {
            Ok(f) => f(client.raw(), port.raw(), name.as_ptr()) == 0,
            Err(_) => false,
        }
    }
}
