//! The null device: no sound, paced by the clock like a real one, so the
//! engine runs in real time where there is no sound card.

use super::{DeviceChoice, rt_guard};
use crate::meters::Stats;
use crate::runtime::Core;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The null device's period: the requested buffer, else 256 frames.
pub(super) fn period(choice: &DeviceChoice) -> u32 {
    choice.buffer.unwrap_or(256).clamp(16, 8192)
}

pub(super) struct NullStream {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Box<Core>>>,
}

impl NullStream {
    pub fn stop(mut self) -> Option<Core> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).map(|b| *b)
    }
}

pub(super) fn start_null(choice: &DeviceChoice, core: Core, stats: Arc<Stats>) -> NullStream {
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let frames = period(choice) as usize;
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
    NullStream {
        stop,
        handle: Some(handle),
    }
}
