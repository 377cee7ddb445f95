//! The settled path: once no wire or loading ramps, a step with at most two
//! ports a side, single unity wires in and unloaded outputs runs from a
//! bound line of its own (`Bound`), and runs of such steps with no meter
//! read run in a small loop (`run_plain`). Nodes fed only silence that say
//! they are quiet are skipped.

use super::meter::MeterPass;
use super::plan::{Bound, Plan, RtOutput};
use crate::node::{MAX_BLOCK, ProcessContext, Processor};
use std::ptr::NonNull;

impl Bound {
    /// The step's input and output blocks, whole (an unconnected input is
    /// the static silence, an unused output slot a spare block of its own).
    ///
    /// # Safety
    /// Only while the plan that `Plan::prepare` built this line for is the
    /// installed one, and with no other reference to these blocks alive:
    /// the compiler never makes a step's input one of its outputs, and its
    /// outputs are distinct blocks.
    #[inline(always)]
    pub(super) unsafe fn blocks<'a>(&self) -> ([&'a [f32]; 2], [&'a mut [f32]; 2]) {
        // SAFETY: see the function's contract.
        unsafe {
            (
                [
                    std::slice::from_raw_parts(self.ins[0], MAX_BLOCK),
                    std::slice::from_raw_parts(self.ins[1], MAX_BLOCK),
                ],
                [
                    std::slice::from_raw_parts_mut(self.outs[0], MAX_BLOCK),
                    std::slice::from_raw_parts_mut(self.outs[1], MAX_BLOCK),
                ],
            )
        }
    }

    /// On the settled path with nothing else to do this block: no meter
    /// read, and not a node that may be skipped (when `quiet`: the plan
    /// has some).
    #[inline(always)]
    pub(super) fn is_plain(&self, quiet: bool) -> bool {
        self.direct && self.watch == 0 && !(quiet && self.may_quiet)
    }
}

/// Run consecutive plain steps from `start` up to `end` (`Bound::is_plain`),
/// settled and whole-block, and return where they stop, with the slot of a node
/// whose output went non-finite if `check` looked. The hot loop for a
/// chain of cheap nodes, in a function of its own so it keeps its state
/// in registers.
#[inline(never)]
pub(super) fn run_plain(
    bound: &[Bound],
    start: usize,
    end: usize,
    quiet: bool,
    check: bool,
    ctx: &ProcessContext,
) -> (usize, Option<u32>) {
    let mut fault = None;
    let mut i = start;
    while let Some(bd) = bound.get(i).filter(|_| i < end) {
        if !bd.is_plain(quiet) {
            break;
        }
        i += 1;
        // SAFETY: whole blocks of the installed plan, no other reference to
        // them held here.
        let (ins, mut outs) = unsafe { bd.blocks() };
        let Some(mut proc_) = bd.proc_ else {
            outs[0].fill(0.0);
            outs[1].fill(0.0);
            continue;
        };
        let (n_in, n_out) = (usize::from(bd.n_in).min(2), usize::from(bd.n_out).min(2));
        // SAFETY: `Core::bind` took this from a slot of this core when the
        // plan was installed; slots change only then.
        unsafe { proc_.as_mut() }.process(ctx, &ins[..n_in], &mut outs[..n_out]);
        // The spare block of an unused slot stays silent, so both can be
        // checked.
        if check && !(outs[0][0].is_finite() && outs[1][0].is_finite()) {
            fault = Some(bd.slot);
        }
    }
    (i, fault)
}

/// A step skipped on silence whose blocks someone reads as they are (or
/// whose meter is watched): they become silence. Out of line, so the
/// settled loop stays small.
#[cold]
#[inline(never)]
pub(super) fn skip_quiet(
    bd: &Bound,
    out_start: u32,
    outs: &mut [&mut [f32]],
    outputs: &[RtOutput],
    meter: &mut MeterPass,
) {
    for (k, o) in outs.iter_mut().enumerate() {
        // A whole block in fixed-size stores rather than a call to memset.
        match <&mut [f32; MAX_BLOCK]>::try_from(&mut **o) {
            Ok(block) => *block = [0.0; MAX_BLOCK],
            Err(_) => o.fill(0.0),
        }
        if bd.watch & (1 << k) != 0 {
            let m = outputs[out_start as usize + k].meter;
            meter.port(o, true, m, bd.slot);
        }
    }
}

impl Plan {
    /// Point the plan's steps at the processors in their slots. Called on
    /// the audio thread when a plan is installed, after its processors
    /// moved in: the only time slots change.
    pub(super) fn bind(&mut self, slots: &mut [Option<Box<dyn Processor>>]) {
        let plan = self;
        let n = plan.steps.len();
        plan.any_quiet = false;
        for i in 0..n {
            let step = &plan.steps[i];
            let proc_ = slots
                .get_mut(step.slot as usize)
                .and_then(|s| s.as_deref_mut());
            let may = proc_.as_ref().is_some_and(|p| p.may_be_quiet());
            let b = &plan.bound[i];
            // Producers come earlier in the order, so theirs is known; an
            // unconnected input may be quiet, a device input may not.
            let may_from = |f: u32| match (f as usize).cmp(&n) {
                std::cmp::Ordering::Less => plan.bound[f as usize].may_quiet,
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => false,
            };
            let from = plan.info[i].from;
            let may_quiet = may && b.direct && may_from(from[0]) && may_from(from[1]);
            let b = &mut plan.bound[i];
            b.proc_ = proc_.map(NonNull::from);
            b.may_quiet = may_quiet;
            plan.any_quiet |= may_quiet;
        }
        for i in 0..n {
            let b = &plan.info[i];
            let (start, len) = (b.readers.0 as usize, b.readers.1 as usize);
            let must_fill = b.feeds_device
                || plan.readers[start..start + len]
                    .iter()
                    .any(|&r| !plan.bound[r as usize].may_quiet);
            plan.bound[i].must_fill = must_fill;
        }
    }
}
