//! Values that flow from the audio thread back to the control thread without
//! locks: per-port meters and engine statistics, as relaxed atomics.

use crate::node::MAX_PORTS;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

#[inline]
fn load_f32(a: &AtomicU32) -> f32 {
    f32::from_bits(a.load(Ordering::Relaxed))
}

#[inline]
fn store_f32(a: &AtomicU32, v: f32) {
    a.store(v.to_bits(), Ordering::Relaxed);
}

/// Peak and RMS of every output port, indexed by `slot * MAX_PORTS + port`.
///
/// A port is measured only while somebody reads its meter: reading marks it
/// watched for about a second (`WATCH_EPOCHS` quarter seconds of audio),
/// and the audio thread meters watched ports only. Measuring a port reads
/// its whole block again, which for a cheap node costs as much as the node;
/// `play` and `render` read no port meters and so pay nothing for them,
/// the editor pays for the wires it shows. Every port's first sample is still
/// checked for a non-finite value, watched or not (`Stats::faulty_slot`).
pub struct Meters {
    peak: Vec<AtomicU32>,
    rms: Vec<AtomicU32>,
    /// The epoch in which each meter was last read.
    seen: Vec<AtomicU32>,
    /// Quarter seconds of audio rendered, as the audio thread last said.
    epoch: AtomicU32,
    /// Meter every port, read or not.
    all: AtomicBool,
    /// A meter started being watched (or `all` changed) since the audio
    /// thread last looked.
    changed: AtomicBool,
}

/// How many epochs (quarter seconds of audio) a read keeps a meter watched.
const WATCH_EPOCHS: u32 = 4;

/// `seen` of a meter never read: far from every epoch the engine reaches.
const NEVER: u32 = u32::MAX / 2;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeterReading {
    /// Largest |sample| since the last `take_peak`, in the wire's unit.
    pub peak: f32,
    /// RMS with a 300 ms time constant, in the wire's unit.
    pub rms: f32,
}

impl Meters {
    pub fn new(slots: usize) -> Meters {
        let n = slots * MAX_PORTS;
        Meters {
            peak: (0..n).map(|_| AtomicU32::new(0)).collect(),
            rms: (0..n).map(|_| AtomicU32::new(0)).collect(),
            seen: (0..n).map(|_| AtomicU32::new(NEVER)).collect(),
            epoch: AtomicU32::new(0),
            all: AtomicBool::new(false),
            changed: AtomicBool::new(false),
        }
    }

    /// Meter every port whether or not it is read (tools and tests that
    /// read meters after the fact), or go back to metering read ones only.
    pub fn watch_all(&self, on: bool) {
        self.all.store(on, Ordering::Relaxed);
        self.changed.store(true, Ordering::Relaxed);
    }

    pub fn watching_all(&self) -> bool {
        self.all.load(Ordering::Relaxed)
    }

    /// Mark a meter as wanted without reading it: it is measured from the
    /// next block on, for about a second.
    pub fn watch(&self, index: usize) {
        if let Some(s) = self.seen.get(index) {
            let e = self.epoch.load(Ordering::Relaxed);
            // Skip the store when unchanged: no cache line bounced to the
            // audio thread on every read.
            if s.load(Ordering::Relaxed) != e {
                s.store(e, Ordering::Relaxed);
                self.changed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether a meter was read within the last `WATCH_EPOCHS` epochs.
    pub(crate) fn watched(&self, index: usize, epoch: u32) -> bool {
        self.seen
            .get(index)
            .is_some_and(|s| epoch.wrapping_sub(s.load(Ordering::Relaxed)) <= WATCH_EPOCHS)
    }

    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub(crate) fn next_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a meter started being watched since the last call. One
    /// load per block while nothing changes.
    pub(crate) fn take_changed(&self) -> bool {
        self.changed.load(Ordering::Relaxed) && self.changed.swap(false, Ordering::Relaxed)
    }

    pub fn index(slot: u32, port: usize) -> usize {
        slot as usize * MAX_PORTS + port
    }

    pub(crate) fn update(&self, index: usize, peak: f32, rms: f32) {
        if let (Some(p), Some(r)) = (self.peak.get(index), self.rms.get(index)) {
            // Non-negative floats order like their bit patterns. A plain
            // load first: the held peak is usually higher, and `fetch_max` is
            // a locked read-modify-write loop on every call on x86.
            let bits = peak.to_bits();
            if bits > p.load(Ordering::Relaxed) {
                p.fetch_max(bits, Ordering::Relaxed);
            }
            store_f32(r, rms);
        }
    }

    /// Read a meter, resetting its peak hold (and keeping it watched).
    pub fn take(&self, index: usize) -> MeterReading {
        self.watch(index);
        match (self.peak.get(index), self.rms.get(index)) {
            (Some(p), Some(r)) => MeterReading {
                peak: f32::from_bits(p.swap(0, Ordering::Relaxed)),
                rms: load_f32(r),
            },
            _ => MeterReading::default(),
        }
    }

    /// Read without resetting the peak (and keep it watched).
    pub fn read(&self, index: usize) -> MeterReading {
        self.watch(index);
        match (self.peak.get(index), self.rms.get(index)) {
            (Some(p), Some(r)) => MeterReading {
                peak: load_f32(p),
                rms: load_f32(r),
            },
            _ => MeterReading::default(),
        }
    }

    pub(crate) fn clear(&self, index: usize) {
        if let (Some(p), Some(r)) = (self.peak.get(index), self.rms.get(index)) {
            p.store(0, Ordering::Relaxed);
            r.store(0, Ordering::Relaxed);
        }
    }
}

/// Engine statistics written by the audio thread and its backend.
#[derive(Default)]
pub struct Stats {
    pub callbacks: AtomicU64,
    pub frames: AtomicU64,
    /// Duration of the last device callback, ns.
    pub last_callback_ns: AtomicU64,
    /// Longest callback since the last `take_max_callback_ns`.
    pub max_callback_ns: AtomicU64,
    /// The device buffer period of the last callback, ns.
    pub period_ns: AtomicU64,
    pub xruns: AtomicU64,
    /// Samples that were NaN or infinite at a device output and were replaced.
    pub nonfinite: AtomicU64,
    /// The slot of the last node whose output was not finite, plus one (0 = none).
    pub faulty_slot: AtomicU64,
    /// Generation of the plan now running and the frame it started at.
    pub generation: AtomicU64,
    pub generation_frame: AtomicU64,
    /// Device output peak since last read (f32 bits).
    pub output_peak: AtomicU32,
    /// Device input peaks per channel since last read (f32 bits, full scale),
    /// for the input level meters; channels past the last are not metered.
    pub input_peaks: [AtomicU32; INPUT_METERS],
    /// Input overruns and underruns: capture that arrived when there was no
    /// room for it, or was missing when the output needed it.
    pub input_xruns: AtomicU64,
    /// Every callback's duration, when a benchmark asks for it (set before
    /// the stream starts; the audio thread only increments counters).
    pub durations: std::sync::OnceLock<Box<Histogram>>,
    /// Threads that run blocks: the audio thread and the workers (0 or 1:
    /// the audio thread alone).
    pub threads: AtomicU32,
    /// Per thread (0: the audio thread, its device callbacks), ns spent
    /// running blocks so far (`ThreadLoad`).
    pub busy_ns: [AtomicU64; MAX_THREADS],
    /// The running plan's tasks go to the workers too (it was worth it).
    pub parallel: AtomicBool,
    /// What the workers' request for real-time priority came to
    /// (`WorkerPriority::decode`).
    pub worker_rt: AtomicU64,
}

/// The most threads that run one engine's blocks.
pub const MAX_THREADS: usize = 16;

/// Each thread's share of the time, between two looks at `Stats`.
#[derive(Default)]
pub struct ThreadLoad {
    busy: [u64; MAX_THREADS],
    frames: u64,
}

impl ThreadLoad {
    /// Per thread (0: the audio thread), the fraction of the audio time
    /// since the last call that it spent running blocks; empty without
    /// worker threads or before any audio ran.
    pub fn sample(&mut self, stats: &Stats, sample_rate: f64) -> Vec<f64> {
        let threads = (stats.threads.load(Ordering::Relaxed) as usize).min(MAX_THREADS);
        let frames = stats.frames.load(Ordering::Relaxed);
        let span_ns = (frames.saturating_sub(self.frames)) as f64 / sample_rate * 1e9;
        self.frames = frames;
        let mut out = Vec::with_capacity(threads);
        for (i, last) in self.busy.iter_mut().enumerate().take(threads) {
            let now = stats.busy_ns[i].load(Ordering::Relaxed);
            out.push(now.saturating_sub(*last) as f64 / span_ns.max(1.0));
            *last = now;
        }
        if threads < 2 || span_ns <= 0.0 {
            out.clear();
        }
        out
    }
}

/// Callback durations in 1 µs bins up to 20 ms; the last bin holds
/// everything longer.
pub struct Histogram {
    bins: Vec<AtomicU64>,
    pub max_ns: AtomicU64,
    pub count: AtomicU64,
}

impl Histogram {
    pub const BINS: usize = 20_000;

    pub fn new() -> Histogram {
        Histogram {
            bins: (0..Self::BINS).map(|_| AtomicU64::new(0)).collect(),
            max_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Audio thread: no allocation, no locks.
    #[inline]
    pub fn record(&self, ns: u64) {
        let bin = ((ns / 1000) as usize).min(Self::BINS - 1);
        self.bins[bin].fetch_add(1, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The upper edge of the bin holding quantile `q`, in µs.
    pub fn quantile_us(&self, q: f64) -> f64 {
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
        Self::BINS as f64
    }

    /// Callbacks that took `limit_ns` or longer.
    pub fn over(&self, limit_ns: u64) -> u64 {
        let first = (limit_ns / 1000) as usize;
        self.bins
            .iter()
            .skip(first)
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// How many device input channels have a level meter.
pub const INPUT_METERS: usize = 16;

impl Stats {
    /// DSP load of the last callback, 0..1 (and above when late).
    pub fn load(&self) -> f64 {
        let p = self.period_ns.load(Ordering::Relaxed);
        if p == 0 {
            return 0.0;
        }
        self.last_callback_ns.load(Ordering::Relaxed) as f64 / p as f64
    }

    pub fn take_max_callback_ns(&self) -> u64 {
        self.max_callback_ns.swap(0, Ordering::Relaxed)
    }

    pub fn take_output_peak(&self) -> f32 {
        f32::from_bits(self.output_peak.swap(0, Ordering::Relaxed))
    }

    /// Input channel `c`'s peak since the last call (full scale).
    pub fn take_input_peak(&self, c: usize) -> f32 {
        self.input_peaks
            .get(c)
            .map_or(0.0, |p| f32::from_bits(p.swap(0, Ordering::Relaxed)))
    }

    /// Fold one block of input channel `c` into its meter (audio thread).
    pub fn record_input(&self, c: usize, samples: &[f32]) {
        if let Some(p) = self.input_peaks.get(c) {
            let peak = samples
                .iter()
                .fold(0.0f32, |m, s| if s.abs() > m { s.abs() } else { m });
            p.fetch_max(peak.to_bits(), Ordering::Relaxed);
        }
    }

    /// Record one device callback's timing.
    pub fn record_callback(&self, elapsed_ns: u64, period_ns: u64) {
        self.last_callback_ns.store(elapsed_ns, Ordering::Relaxed);
        self.max_callback_ns
            .fetch_max(elapsed_ns, Ordering::Relaxed);
        self.period_ns.store(period_ns, Ordering::Relaxed);
        self.callbacks.fetch_add(1, Ordering::Relaxed);
        // The audio thread's share, for the per-thread load; this thread is
        // its only writer.
        let busy = &self.busy_ns[0];
        busy.store(busy.load(Ordering::Relaxed) + elapsed_ns, Ordering::Relaxed);
        if let Some(h) = self.durations.get() {
            h.record(elapsed_ns);
        }
    }
}
