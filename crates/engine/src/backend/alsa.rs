//! ALSA through cpal: an output stream that runs the engine and, when the
//! patch has device inputs, a capture stream that feeds it through a
//! lock-free ring. The two run on their own clocks, so the ring is kept
//! between one and three output periods full: what arrives with no room, or
//! is missing when the output needs it, is counted as an input xrun. A lost
//! capture device leaves the output playing on silence; the capture stream
//! is opened again later and its new ring handed to the output callback.

use super::{DeviceChoice, IoLatency, StreamEvent, rt_guard};
use crate::meters::Stats;
use crate::node::MAX_BLOCK;
use crate::runtime::Core;
use cpal::traits::{DeviceTrait, StreamTrait};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Ring room, in frames: far more than any period, so only a stalled
/// output fills it.
const RING_FRAMES: usize = 16_384;

pub(super) struct AlsaStream {
    stream: cpal::Stream,
    give_back: Arc<AtomicBool>,
    back: Receiver<Box<Core>>,
    input: Option<cpal::Stream>,
    /// New rings for the output callback, and old ones coming back to be
    /// dropped here rather than on the audio thread.
    rings: Sender<rtrb::Consumer<f32>>,
    retired: Receiver<rtrb::Consumer<f32>>,
    events: Sender<StreamEvent>,
    stats: Arc<Stats>,
    choice: DeviceChoice,
    /// Frames in the ring when the output last read it, and the last
    /// callback sizes, for the latency report.
    ring_fill: Arc<AtomicU32>,
    in_period: Arc<AtomicU32>,
    out_period: Arc<AtomicU32>,
}

impl AlsaStream {
    pub fn start(
        choice: &DeviceChoice,
        core: Core,
        stats: Arc<Stats>,
        events: Sender<StreamEvent>,
    ) -> Result<AlsaStream, String> {
        let Some(device) = choice.device.clone() else {
            return Err("no device was opened".into());
        };
        let channels = choice.channels.max(1);
        let config = cpal::StreamConfig {
            channels,
            sample_rate: choice.sample_rate,
            buffer_size: match choice.buffer {
                Some(b) => cpal::BufferSize::Fixed(b),
                None => cpal::BufferSize::Default,
            },
        };
        let nin = choice.inputs as usize;
        let give_back = Arc::new(AtomicBool::new(false));
        let (back_tx, back_rx) = bounded::<Box<Core>>(1);
        let (ring_tx, ring_rx) = bounded::<rtrb::Consumer<f32>>(1);
        let (retired_tx, retired_rx) = bounded::<rtrb::Consumer<f32>>(4);
        let ring_fill = Arc::new(AtomicU32::new(0));
        let out_period = Arc::new(AtomicU32::new(0));
        // The core is shared with the callback only through this slot: the
        // callback owns it and sends it back when asked.
        let mut slot: Option<Box<Core>> = Some(Box::new(core));
        let mut ring: Option<rtrb::Consumer<f32>> = None;
        let mut in_buf = vec![0.0f32; MAX_BLOCK * nin.max(1)];
        let gb = give_back.clone();
        let st = stats.clone();
        let fill = ring_fill.clone();
        let op = out_period.clone();
        let rate = f64::from(choice.sample_rate);
        let ch = channels as usize;
        let data_cb = move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
            let t0 = Instant::now();
            if gb.load(Ordering::Relaxed) {
                if let Some(c) = slot.take() {
                    let _ = back_tx.try_send(c);
                }
                data.fill(0.0);
                return;
            }
            let frames = data.len() / ch;
            op.store(frames as u32, Ordering::Relaxed);
            rt_guard(|| {
                if let Ok(fresh) = ring_rx.try_recv()
                    && let Some(old) = ring.replace(fresh)
                    && let Err(crossbeam_channel::TrySendError::Full(old)) =
                        retired_tx.try_send(old)
                {
                    // Never free on this thread.
                    std::mem::forget(old);
                }
                let Some(core) = slot.as_mut() else {
                    data.fill(0.0);
                    return;
                };
                if let Some(r) = ring.as_mut() {
                    keep_ring_short(r, nin, frames, &st);
                    fill.store((r.slots() / nin.max(1)) as u32, Ordering::Relaxed);
                }
                let mut done = 0;
                while done < frames {
                    let m = (frames - done).min(MAX_BLOCK);
                    let input = &mut in_buf[..m * nin];
                    match ring.as_mut() {
                        Some(r) if !r.is_abandoned() || !r.is_empty() => {
                            let (got, rest) = r.pop_partial_slice(input);
                            if !rest.is_empty() {
                                if !got.is_empty() {
                                    st.input_xruns.fetch_add(1, Ordering::Relaxed);
                                }
                                rest.fill(0.0);
                            }
                        }
                        _ => input.fill(0.0),
                    }
                    core.process_interleaved(
                        &mut data[done * ch..(done + m) * ch],
                        ch,
                        &in_buf[..m * nin],
                        nin,
                    );
                    done += m;
                }
            });
            let period = (frames as f64 / rate * 1e9) as u64;
            st.record_callback(t0.elapsed().as_nanos() as u64, period);
        };
        let stream = device
            .build_output_stream::<f32, _, _>(
                config,
                data_cb,
                error_handler(stats.clone(), events.clone(), false),
                Some(Duration::from_secs(3)),
            )
            .map_err(|e| format!("cannot open the device: {e}"))?;
        stream
            .play()
            .map_err(|e| format!("cannot start the device: {e}"))?;
        let mut s = AlsaStream {
            stream,
            give_back,
            back: back_rx,
            input: None,
            rings: ring_tx,
            retired: retired_rx,
            events,
            stats,
            choice: choice.clone(),
            ring_fill,
            in_period: Arc::new(AtomicU32::new(0)),
            out_period,
        };
        if nin > 0
            && let Err(e) = s.open_input()
        {
            super::send_event(&s.events, StreamEvent::InputLost(e));
        }
        Ok(s)
    }

    /// Open the capture stream and hand its ring to the output callback.
    pub fn open_input(&mut self) -> Result<(), String> {
        let nin = self.choice.inputs as usize;
        let Some(device) = self.choice.input.clone() else {
            return Err("no input device was found".into());
        };
        while self.retired.try_recv().is_ok() {}
        let dev_ch = device
            .default_input_config()
            .map(|c| c.channels())
            .map_err(|e| format!("cannot read the input device's configuration: {e}"))?
            .max(1);
        let config = cpal::StreamConfig {
            channels: dev_ch,
            sample_rate: self.choice.sample_rate,
            buffer_size: match self.choice.buffer {
                Some(b) => cpal::BufferSize::Fixed(b),
                None => cpal::BufferSize::Default,
            },
        };
        let (mut tx, rx) = rtrb::RingBuffer::<f32>::new(RING_FRAMES * nin);
        let st = self.stats.clone();
        let ip = self.in_period.clone();
        let dch = dev_ch as usize;
        let data_cb = move |data: &[f32], _: &cpal::InputCallbackInfo| {
            rt_guard(|| {
                let frames = data.len() / dch;
                ip.store(frames as u32, Ordering::Relaxed);
                let Ok(mut chunk) = tx.write_chunk_uninit(frames * nin) else {
                    st.input_xruns.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let (a, b) = chunk.as_mut_slices();
                for (i, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                    let (f, c) = (i / nin, i % nin);
                    let s = if c < dch { data[f * dch + c] } else { 0.0 };
                    slot.write(s);
                }
                // SAFETY: every slot of the chunk was written just above.
                unsafe { chunk.commit_all() };
                for c in 0..nin.min(dch) {
                    let mut peak = 0.0f32;
                    for f in 0..frames {
                        peak = peak.max(data[f * dch + c].abs());
                    }
                    st.record_input(c, std::slice::from_ref(&peak));
                }
            })
        };
        let input = device
            .build_input_stream::<f32, _, _>(
                config,
                data_cb,
                error_handler(self.stats.clone(), self.events.clone(), true),
                Some(Duration::from_secs(3)),
            )
            .map_err(|e| format!("cannot open the input device: {e}"))?;
        input
            .play()
            .map_err(|e| format!("cannot start the input device: {e}"))?;
        self.rings
            .try_send(rx)
            .map_err(|_| "the output has not taken the last input yet".to_string())?;
        self.input = Some(input);
        Ok(())
    }

    /// The capture stream died: stop it; `audio_in` plays silence until
    /// `open_input` succeeds again.
    pub fn drop_input(&mut self) {
        self.input = None;
    }

    pub fn has_input(&self) -> bool {
        self.input.is_some()
    }

    pub fn latency(&self) -> IoLatency {
        let has_in = self.input.is_some();
        IoLatency {
            capture_frames: if has_in {
                self.in_period.load(Ordering::Relaxed) + self.ring_fill.load(Ordering::Relaxed)
            } else {
                0
            },
            playback_frames: self.out_period.load(Ordering::Relaxed),
            period_frames: self.out_period.load(Ordering::Relaxed),
        }
    }

    pub fn stop(self) -> Option<Core> {
        drop(self.input);
        self.give_back.store(true, Ordering::Relaxed);
        let core = self.back.recv_timeout(Duration::from_millis(500)).ok();
        let _ = self.stream.pause();
        drop(self.stream);
        core.map(|b| *b)
    }
}

/// Keep the ring between one and three output periods full: a capture
/// clock running fast would otherwise add latency without bound.
fn keep_ring_short(r: &mut rtrb::Consumer<f32>, nin: usize, frames: usize, st: &Stats) {
    let nin = nin.max(1);
    let held = r.slots() / nin;
    if held > 3 * frames {
        let drop_frames = held - frames;
        if let Ok(c) = r.read_chunk(drop_frames * nin) {
            c.commit_all();
        }
        st.input_xruns.fetch_add(1, Ordering::Relaxed);
    }
}

fn error_handler(
    stats: Arc<Stats>,
    events: Sender<StreamEvent>,
    input: bool,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e: cpal::Error| {
        let ev = match e.kind() {
            cpal::ErrorKind::Xrun => {
                let counter = if input {
                    &stats.input_xruns
                } else {
                    &stats.xruns
                };
                counter.fetch_add(1, Ordering::Relaxed);
                StreamEvent::Xrun
            }
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::HostUnavailable
            | cpal::ErrorKind::StreamInvalidated => {
                if input {
                    StreamEvent::InputLost(e.to_string())
                } else {
                    StreamEvent::Lost(e.to_string())
                }
            }
            _ => StreamEvent::Error(e.to_string()),
        };
        super::send_event(&events, ev);
    }
}
