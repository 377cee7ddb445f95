//! What the audio thread does when a worker is held off its core in the
//! middle of a task: the block waits for it, and a block that waits long is
//! late. After such a stall the audio thread runs the blocks alone for a
//! while, when they fit on one thread, so that a core taken away now and
//! then costs one late block rather than one every so often.

/// Waiting this share of a block's time for a worker's task is a stall:
/// the worker was held off its core (by another real-time thread, or by
/// the host of a virtual machine). A task's own imbalance is far less.
pub(super) const STALL_SHARE: f64 = 0.25;
/// After a stall the audio thread runs blocks alone for this long, if they
/// fit, doubling on each stall up to `SOLO_MAX_S` and back to the start
/// after `SOLO_FORGET_S` without one: a core that is taken away now and
/// then costs one late block, not one a period.
const SOLO_FIRST_S: f64 = 1.0;
const SOLO_MAX_S: f64 = 32.0;
const SOLO_FORGET_S: f64 = 60.0;
/// Blocks whose whole cost is below this share of the block's time fit on
/// one thread with room to spare.
pub(super) const SOLO_FITS_SHARE: f32 = 0.5;

/// The audio thread's answer to stalled workers (`STALL_SHARE`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Solo {
    until: u64,
    next_frames: u64,
    last_stall: Option<u64>,
    /// The whole plan fits on one thread (`SOLO_FITS_SHARE`), as last timed.
    pub(super) fits: bool,
    /// Blocks go to a device, against its deadline. An offline render has
    /// none: there the workers always help, stalled or not.
    pub(super) deadline: bool,
}

impl Solo {
    pub(super) fn active(&self, now: u64) -> bool {
        now < self.until
    }

    /// A stall at frame `now`: run alone for a while when the plan fits.
    pub(super) fn stalled(&mut self, now: u64, rate: f64) {
        let first = (SOLO_FIRST_S * rate) as u64;
        let forget = (SOLO_FORGET_S * rate) as u64;
        if self
            .last_stall
            .is_none_or(|t| now.saturating_sub(t) > forget)
        {
            self.next_frames = first;
        }
        self.last_stall = Some(now);
        if self.fits && self.deadline {
            self.until = now + self.next_frames;
            self.next_frames = (self.next_frames * 2).min((SOLO_MAX_S * rate) as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 48_000.0;

    #[test]
    fn a_stall_runs_blocks_alone_for_a_second_then_two_then_four() {
        let mut s = Solo {
            fits: true,
            deadline: true,
            ..Solo::default()
        };
        assert!(!s.active(0));
        s.stalled(1000, RATE);
        assert!(s.active(1000 + 47_999) && !s.active(1000 + 48_000));
        s.stalled(100_000, RATE);
        assert!(s.active(100_000 + 95_999) && !s.active(100_000 + 96_000));
        s.stalled(300_000, RATE);
        assert!(s.active(300_000 + 191_999) && !s.active(300_000 + 192_000));
    }

    #[test]
    fn the_stretch_stops_growing_at_32_s_and_starts_over_after_a_quiet_minute() {
        let mut s = Solo {
            fits: true,
            deadline: true,
            ..Solo::default()
        };
        let mut t = 0;
        for _ in 0..10 {
            s.stalled(t, RATE);
            t += 1;
        }
        assert!(s.active(t - 1 + 32 * 48_000 - 1) && !s.active(t - 1 + 32 * 48_000));
        let later = t + 61 * 48_000 + 32 * 48_000;
        s.stalled(later, RATE);
        assert!(s.active(later + 47_999) && !s.active(later + 48_000));
    }

    #[test]
    fn a_plan_too_heavy_for_one_thread_stays_on_the_workers() {
        let mut s = Solo {
            deadline: true,
            ..Solo::default()
        };
        s.stalled(0, RATE);
        assert!(!s.active(0) && !s.active(1));
    }

    #[test]
    fn an_offline_render_keeps_its_workers() {
        let mut s = Solo {
            fits: true,
            ..Solo::default()
        };
        s.stalled(0, RATE);
        assert!(!s.active(0) && !s.active(1));
    }
}
