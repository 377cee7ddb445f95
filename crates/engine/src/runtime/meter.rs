//! Metering on the audio thread: watched ports measured in turn, unwatched
//! ones checked for non-finite output now and then.

use super::plan::{NONE, Plan};
use super::steps::{Cells, Job};
use crate::meters::{Meters, Stats};
use std::sync::atomic::Ordering;

/// Unwatched ports are checked for non-finite output on one block in this
/// many (11 ms at 128 frames, 48 kHz).
pub(super) const FAULT_CHECK_EVERY: u64 = 4;

/// The metering of one block's output ports.
pub(super) struct MeterPass<'a> {
    /// This block checks unwatched ports for faults.
    pub(super) check: bool,
    pub(super) countdown: u32,
    pub(super) every: u32,
    pub(super) coeff: f32,
    /// Per meter, its running mean square: each belongs to one port of one
    /// step, so threads running different steps use different entries.
    pub(super) rms_state: Cells<f32>,
    pub(super) meters: &'a Meters,
    pub(super) stats: &'a Stats,
}

impl<'a> MeterPass<'a> {
    /// The metering of the steps a thread runs of `job`'s block, its
    /// countdown over watched ports starting at `countdown`.
    pub(super) fn of_job(job: &'a Job, stats: &'a Stats, countdown: u32) -> MeterPass<'a> {
        MeterPass {
            check: job.check,
            countdown,
            every: job.meter_every.max(1),
            coeff: job.meter_coeff,
            rms_state: job.rms,
            // SAFETY: set with the job from the core's meters, which outlive
            // the block.
            meters: unsafe { &*job.meters },
            stats,
        }
    }

    /// After a node wrote output `o`: meter it if watched (every `every`th
    /// watched port), and on fault-check blocks notice a node whose output
    /// went non-finite. An unwatched port only has its first sample
    /// checked, every `FAULT_CHECK_EVERY` blocks: a blown-up filter or
    /// runaway loop stays non-finite, so that finds it within a few blocks
    /// for the price of one compare.
    #[inline(always)]
    pub(super) fn port(&mut self, o: &[f32], watched: bool, meter: u32, slot: u32) {
        if watched && meter != NONE {
            if self.countdown == 0 {
                self.countdown = self.every - 1;
                self.measure(o, meter, slot);
                return;
            }
            self.countdown -= 1;
        }
        // The first sample, not the last: the node has just written the
        // block with vector stores, and a load from the start of the last
        // one is forwarded from the store buffer at once, where a load from
        // inside it waits for the store to land.
        if self.check && o.first().is_some_and(|v| !v.is_finite()) {
            self.fault(slot);
        }
    }

    #[inline(never)]
    fn measure(&mut self, o: &[f32], meter: u32, slot: u32) {
        let (peak, ms) = peak_and_ms(o);
        if !peak.is_finite() {
            self.fault(slot);
        }
        // SAFETY: this meter's port belongs to the step this thread runs.
        let Some(state) = (unsafe { self.rms_state.get(meter as usize) }) else {
            return;
        };
        if state.is_nan() {
            // Not measured until now (`Core::refresh_watch`): start from
            // this block, not from zero or from what it read a while ago.
            *state = ms;
        } else {
            *state += self.coeff * (ms - *state);
        }
        if !state.is_finite() {
            *state = 0.0;
        }
        self.meters.update(meter as usize, peak, state.sqrt());
    }

    #[cold]
    pub(super) fn fault(&self, slot: u32) {
        self.stats
            .faulty_slot
            .store(u64::from(slot) + 1, Ordering::Relaxed);
    }
}

/// Peak and mean square of one block. Eight independent lanes so the loop
/// vectorises (a single running sum is one long dependency chain, several
/// times slower than the gain stage it measures). Not finite in, infinite
/// peak out.
#[inline]
fn peak_and_ms(x: &[f32]) -> (f32, f32) {
    const LANES: usize = 8;
    let mut peak = [0.0f32; LANES];
    let mut sum = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            let a = c[j].abs();
            peak[j] = if a > peak[j] { a } else { peak[j] };
            sum[j] += c[j] * c[j];
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        let a = v.abs();
        peak[j] = if a > peak[j] { a } else { peak[j] };
        sum[j] += v * v;
    }
    let peak = peak.iter().fold(0.0f32, |m, &p| if p > m { p } else { m });
    let sum: f32 = sum.iter().sum();
    if !sum.is_finite() {
        return (f32::INFINITY, 0.0);
    }
    (peak, sum / x.len().max(1) as f32)
}

impl Plan {
    /// Recompute which output ports are metered: those whose meter was read
    /// lately (or all, when asked). A few loads per port, when a plan
    /// arrives, when a meter is first read in an epoch and once an epoch.
    pub(super) fn refresh_watch(&mut self, meters: &Meters, rms_state: &mut [f32]) {
        let plan = self;
        let epoch = meters.epoch();
        let all = meters.watching_all();
        for (i, step) in plan.steps.iter().enumerate() {
            let mut mask = 0u8;
            let n_out = (step.out_len as usize).min(u8::BITS as usize);
            for k in 0..n_out {
                let m = plan.outputs[step.out_start as usize + k].meter;
                if m != NONE && (all || meters.watched(m as usize, epoch)) {
                    mask |= 1 << k;
                }
            }
            let Some(b) = plan.bound.get_mut(i) else {
                continue;
            };
            // A port that stops being metered forgets its RMS, so when it
            // comes back into view it starts from what it carries then.
            let gone = b.watch & !mask;
            b.watch = mask;
            for k in 0..n_out {
                if gone & (1 << k) != 0 {
                    let m = plan.outputs[step.out_start as usize + k].meter;
                    if let Some(r) = rms_state.get_mut(m as usize) {
                        *r = f32::NAN;
                    }
                }
            }
        }
    }
}
