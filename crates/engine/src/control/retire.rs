//! Upkeep on the control thread: retired plans taken back (and freed
//! here, never on the audio thread), services run and finished, fades ended.

use super::Engine;
use crate::node::MAX_BLOCK;
use crate::runtime::FromCore;
use std::sync::atomic::Ordering;

impl Engine {
    pub(super) fn drain_returns(&mut self) {
        while let Ok(FromCore::Retired(plan)) = self.from_core.try_recv() {
            self.in_flight = self.in_flight.saturating_sub(1);
            drop(plan);
        }
    }

    /// Regular upkeep on the control thread: take back retired plans, run
    /// services, end fades whose time is up, send what waited. Call it every
    /// few milliseconds while playing and after every offline block.
    pub fn maintain(&mut self) {
        self.drain_returns();
        let applied = self.stats.generation.load(Ordering::Relaxed);
        let since = self.stats.generation_frame.load(Ordering::Relaxed);
        let now = self.stats.frames.load(Ordering::Relaxed);
        let fade_frames =
            (self.config.fade_ms * self.config.sample_rate / 1000.0) as u64 + MAX_BLOCK as u64;
        if (!self.fading.is_empty() || !self.fading_wires.is_empty())
            && applied >= self.fade_generation
            && now.saturating_sub(since) >= fade_frames
        {
            self.finish_fades();
            self.plan_dirty = true;
        }
        if self.plan_dirty {
            self.send_plan();
        }
        let mut errors = Vec::new();
        for inst in self.live.values_mut() {
            for s in inst.services.iter_mut() {
                if let Err(e) = s.run() {
                    errors.push(e);
                }
            }
        }
        for f in self.fading.iter_mut() {
            for s in f.inst.services.iter_mut() {
                if let Err(e) = s.run() {
                    errors.push(e);
                }
            }
        }
        let mut keep = Vec::new();
        for (gen_, mut services) in self.retiring.drain(..) {
            if applied >= gen_ {
                for s in services.iter_mut() {
                    if let Err(e) = s.finish() {
                        errors.push(e);
                    }
                }
            } else {
                keep.push((gen_, services));
            }
        }
        self.retiring = keep;
        self.service_errors.extend(errors);
    }

    /// Whether everything sent has been taken up by the audio thread and no
    /// fade is pending.
    pub fn is_settled(&self) -> bool {
        self.fading.is_empty()
            && self.fading_wires.is_empty()
            && !self.plan_dirty
            && self.stats.generation.load(Ordering::Relaxed) == self.generation
    }

    /// Finish every service (flush recorders). Call before exit.
    pub fn shutdown(&mut self) -> Vec<String> {
        self.drain_returns();
        let mut errors = std::mem::take(&mut self.service_errors);
        for inst in self.live.values_mut() {
            for s in inst.services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        for f in self.fading.iter_mut() {
            for s in f.inst.services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        for (_, services) in self.retiring.iter_mut() {
            for s in services.iter_mut() {
                if let Err(e) = s.finish() {
                    errors.push(e);
                }
            }
        }
        self.retiring.clear();
        errors
    }
}
