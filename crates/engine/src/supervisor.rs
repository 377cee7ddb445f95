//! Keeps an engine playing whatever happens to its device: `play` and the
//! editor both start their stream through a [`Supervisor`], which falls back
//! to the null device when the chosen one fails, notices a lost device, looks
//! for it again every two seconds and returns to it when it is back. It only
//! reports what happened; the caller says it in its own words.

use crate::Engine;
use crate::backend::{
    BackendKind, DeviceChoice, Stream, StreamEvent, StreamOptions, choose_device,
};
use std::time::{Duration, Instant};

/// How often a lost device is looked for again.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Something the supervisor did or saw, in the order it happened.
#[derive(Clone, Debug)]
pub enum PlaybackEvent {
    /// The requested backend or device was not there; `choice` is used
    /// instead (`choose_device`'s reason).
    Substituted {
        reason: String,
        choice: DeviceChoice,
    },
    /// `choice` would not start; the null device plays instead.
    StartFailed { choice: DeviceChoice, error: String },
    /// The running device went away; the null device plays instead.
    Lost { backend: BackendKind, why: String },
    /// The lost device is back and plays again.
    Back(BackendKind),
    /// The capture device went away (or would not open); `audio_in`
    /// plays silence and the output goes on.
    InputLost(String),
    /// The capture device is back.
    InputBack,
    /// The running device reported a problem it survived.
    DeviceError { backend: BackendKind, why: String },
    /// The audio-thread half died with a device and was rebuilt; this went
    /// wrong while rebuilding it.
    Rebuild(String),
}

/// Owns the stream of one engine and keeps it on a working device.
pub struct Supervisor {
    opts: StreamOptions,
    stream: Option<Stream>,
    /// The device that was lost, looked for again every [`RETRY_EVERY`].
    lost_from: Option<DeviceChoice>,
    last_retry: Instant,
    /// The capture device is lost and looked for again every [`RETRY_EVERY`].
    input_lost: bool,
    events: Vec<PlaybackEvent>,
}

impl Supervisor {
    pub fn new(opts: StreamOptions) -> Supervisor {
        Supervisor {
            opts,
            stream: None,
            lost_from: None,
            last_retry: Instant::now(),
            input_lost: false,
            events: Vec::new(),
        }
    }

    pub fn opts(&self) -> &StreamOptions {
        &self.opts
    }

    /// The device to build the engine for (its sample rate), with the
    /// requested → default → null fallback of `choose_device`.
    pub fn choose(&mut self) -> DeviceChoice {
        let choice = choose_device(&self.opts);
        if let Some(r) = &choice.fallback_reason {
            self.events.push(PlaybackEvent::Substituted {
                reason: r.clone(),
                choice: choice.clone(),
            });
        }
        choice
    }

    /// Use these options from now on; the caller stops the old stream
    /// first and builds a new engine for [`Supervisor::choose`]'s device.
    pub fn set_opts(&mut self, opts: StreamOptions) {
        self.opts = opts;
        self.lost_from = None;
    }

    /// The running stream, if any.
    pub fn stream(&self) -> Option<&Stream> {
        self.stream.as_ref()
    }

    /// Name the device's ports after the nodes that use them (JACK); call
    /// after each patch change.
    pub fn label_ports(&mut self, engine: &Engine) {
        if let Some(s) = &mut self.stream {
            let (ins, outs) = engine.device_users();
            s.label_ports(&ins, &outs);
        }
    }

    /// What has happened since the last call.
    pub fn take_events(&mut self) -> Vec<PlaybackEvent> {
        std::mem::take(&mut self.events)
    }

    /// Start `engine`'s core on `choice`, or on the null device at the same
    /// rate when that fails. `Err` when not even the null device starts.
    pub fn start(&mut self, engine: &mut Engine, choice: DeviceChoice) -> Result<(), String> {
        self.stop(engine);
        let stats = engine.stats().clone();
        let Some(core) = engine.take_core() else {
            return Err("the engine has no audio-thread half to play".into());
        };
        self.input_lost = false;
        match Stream::start(choice.clone(), core, stats.clone()) {
            Ok(mut s) => {
                let (ins, outs) = engine.device_users();
                s.label_ports(&ins, &outs);
                self.stream = Some(s);
                Ok(())
            }
            Err(error) => {
                let rate = choice.sample_rate;
                let buffer = choice.buffer;
                self.events
                    .push(PlaybackEvent::StartFailed { choice, error });
                self.rebuild(engine);
                let null = self.null(rate, buffer);
                let core = engine.take_core().ok_or("the rebuilt engine has no core")?;
                self.stream = Some(Stream::start(null, core, stats)?);
                Ok(())
            }
        }
    }

    /// Stop the stream and hand the core back to `engine` (rebuilt when it
    /// died with the device).
    pub fn stop(&mut self, engine: &mut Engine) {
        if let Some(s) = self.stream.take() {
            match s.stop() {
                Some(core) => engine.return_core(core),
                None => self.rebuild(engine),
            }
        }
    }

    /// Call often (every few ms to every frame): reads the device's events,
    /// moves to the null device when it is lost and back when it returns.
    /// `Err` when not even the null device starts.
    pub fn poll(&mut self, engine: &mut Engine) -> Result<(), String> {
        let mut dead = None;
        if let Some(s) = &mut self.stream {
            while let Ok(ev) = s.events.try_recv() {
                match ev {
                    StreamEvent::Lost(why) => dead = Some(why),
                    StreamEvent::InputLost(why) => {
                        s.drop_input();
                        if !self.input_lost {
                            self.input_lost = true;
                            self.last_retry = Instant::now();
                            self.events.push(PlaybackEvent::InputLost(why));
                        }
                    }
                    StreamEvent::Error(why) => self.events.push(PlaybackEvent::DeviceError {
                        backend: s.choice.backend,
                        why,
                    }),
                    StreamEvent::Xrun => {}
                }
            }
        }
        if let Some(why) = dead
            && let Some(prev) = self.stream.as_ref().map(|s| s.choice.clone())
        {
            self.events.push(PlaybackEvent::Lost {
                backend: prev.backend,
                why,
            });
            let null = self.null(prev.sample_rate, prev.buffer);
            if prev.backend != BackendKind::Null {
                self.lost_from = Some(prev);
                self.last_retry = Instant::now();
            }
            self.start(engine, null)?;
        }
        if self.input_lost
            && self.lost_from.is_none()
            && self.last_retry.elapsed() >= RETRY_EVERY
            && let Some(s) = &mut self.stream
        {
            self.last_retry = Instant::now();
            if s.reopen_input().is_ok() {
                self.input_lost = false;
                self.events.push(PlaybackEvent::InputBack);
            }
        }
        if let Some(prev) = self.lost_from.clone()
            && self.last_retry.elapsed() >= RETRY_EVERY
        {
            self.last_retry = Instant::now();
            let again = choose_device(&StreamOptions {
                backend: prev.backend,
                sample_rate: Some(prev.sample_rate),
                ..self.opts.clone()
            });
            // Only the same backend at the engine's rate will do.
            if again.backend == prev.backend && again.sample_rate == prev.sample_rate {
                self.start(engine, again)?;
                if self.stream.as_ref().map(|s| s.choice.backend) == Some(prev.backend) {
                    self.lost_from = None;
                    self.events.push(PlaybackEvent::Back(prev.backend));
                }
            }
        }
        Ok(())
    }

    fn null(&self, sample_rate: u32, buffer: Option<u32>) -> DeviceChoice {
        choose_device(&StreamOptions {
            backend: BackendKind::Null,
            sample_rate: Some(sample_rate),
            buffer,
            ..self.opts.clone()
        })
    }

    fn rebuild(&mut self, engine: &mut Engine) {
        for e in engine.rebuild_core() {
            self.events.push(PlaybackEvent::Rebuild(e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineConfig, Registry};
    use std::sync::Arc;

    #[test]
    fn the_null_device_starts_and_hands_its_core_back() {
        let mut engine = Engine::new(Arc::new(Registry::new()), EngineConfig::default());
        let mut sup = Supervisor::new(StreamOptions {
            backend: BackendKind::Null,
            sample_rate: Some(44_100),
            ..StreamOptions::default()
        });
        let choice = sup.choose();
        assert_eq!(choice.backend, BackendKind::Null);
        assert_eq!(choice.sample_rate, 44_100);
        sup.start(&mut engine, choice).unwrap();
        assert!(engine.take_core().is_none(), "the stream holds the core");
        sup.poll(&mut engine).unwrap();
        assert!(sup.take_events().is_empty());
        sup.stop(&mut engine);
        assert!(sup.stream().is_none());
        assert!(engine.take_core().is_some(), "the core came back");
    }

    #[test]
    fn a_missing_device_is_replaced_and_said_why() {
        let mut sup = Supervisor::new(StreamOptions {
            backend: BackendKind::Alsa,
            device: Some("no such device, surely".into()),
            ..StreamOptions::default()
        });
        let choice = sup.choose();
        let events = sup.take_events();
        assert!(
            matches!(&events[..], [PlaybackEvent::Substituted { reason, .. }] if reason.contains("no such device, surely") || reason.contains("alsa")),
            "{events:?}"
        );
        assert_ne!(choice.device_name, "no such device, surely");
    }
}
