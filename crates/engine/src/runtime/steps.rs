//! Running steps of the installed plan: the loop every thread that works on
//! a block runs, over the whole plan (one thread) or over one task's steps
//! (`pool`). It reaches the plan through a `Job` of raw parts, so several
//! threads can run disjoint steps of one plan at once.

use super::meter::MeterPass;
use super::plan::Bound;
use super::plan::{
    Block, BoundInfo, DelayLine, EdgeGain, NONE, Plan, RtInput, RtOutput, RtStep, RtStepKind,
    RtWire, ZEROS,
};
use super::settled::{run_plain, skip_quiet};
use super::tasks::Task;
use crate::impedance::LoadingState;
use crate::meters::Meters;
use crate::node::{MAX_PORTS, ProcessContext, Processor};
use std::time::Instant;

/// A plan's array that the steps of one block change, each entry by one
/// step only (a wire's gain and delay line, an output's loading, a step's
/// silence, a slot's processor): threads running different steps touch
/// different entries.
#[derive(Clone, Copy)]
pub(super) struct Cells<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> Cells<T> {
    pub(super) const EMPTY: Cells<T> = Cells {
        ptr: std::ptr::null_mut(),
        len: 0,
    };

    pub(super) fn of(v: &mut [T]) -> Cells<T> {
        Cells {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// Entry `i`, if there is one.
    ///
    /// # Safety
    /// The array outlives the block, and no other thread uses entry `i`
    /// while the reference lives (it belongs to a step this thread runs,
    /// or to one that finished before this step's task could start).
    #[inline(always)]
    pub(super) unsafe fn get<'a>(&self, i: usize) -> Option<&'a mut T> {
        if i < self.len {
            // SAFETY: in bounds; exclusive by the function's contract.
            Some(unsafe { &mut *self.ptr.add(i) })
        } else {
            None
        }
    }
}

/// A plan's array that no step changes during a block.
#[derive(Clone, Copy)]
pub(super) struct Shared<T> {
    ptr: *const T,
    len: usize,
}

impl<T> Shared<T> {
    pub(super) const EMPTY: Shared<T> = Shared {
        ptr: std::ptr::null(),
        len: 0,
    };

    fn of(v: &[T]) -> Shared<T> {
        Shared {
            ptr: v.as_ptr(),
            len: v.len(),
        }
    }

    /// # Safety
    /// The array outlives the block and nothing writes it meanwhile.
    #[inline(always)]
    pub(super) unsafe fn slice<'a>(&self) -> &'a [T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: see the function's contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// One block's work on the installed plan, as raw parts: written by the
/// audio thread before the block's steps run and read by whichever threads
/// run them.
pub(super) struct Job {
    pub(super) steps: Shared<RtStep>,
    pub(super) inputs: Shared<RtInput>,
    pub(super) wires: Shared<RtWire>,
    pub(super) outputs: Shared<RtOutput>,
    pub(super) bound: Shared<Bound>,
    pub(super) info: Shared<BoundInfo>,
    pub(super) buffers: *mut Block,
    pub(super) edges: Cells<EdgeGain>,
    pub(super) delays: Cells<DelayLine>,
    pub(super) loadings: Cells<LoadingState>,
    pub(super) silent: Cells<bool>,
    pub(super) slots: Cells<Option<Box<dyn Processor>>>,
    /// Per slot: how long its node took for one block, ns, smoothed.
    pub(super) node_cost: Cells<f32>,
    pub(super) ctx: ProcessContext,
    /// Steps marked direct may take the settled path.
    pub(super) settled: bool,
    /// Some step may be skipped on silence.
    pub(super) quiet: bool,
    /// Time every step (`node_cost`).
    pub(super) profile: bool,
    /// The tasks of the plan and the tasks waiting on each (`Plan::partition`).
    pub(super) tasks: Shared<Task>,
    pub(super) task_succ: Shared<u32>,
    /// This block checks unwatched ports for faults (`MeterPass`).
    pub(super) check: bool,
    pub(super) meter_every: u32,
    pub(super) meter_coeff: f32,
    /// Where the watched ports' countdown starts this block.
    pub(super) meter_phase: u32,
    /// Per meter: its running mean square (each a port of one step).
    pub(super) rms: Cells<f32>,
    pub(super) meters: *const Meters,
}

// SAFETY: the pointers lead into the plan installed in the core that owns
// the job, into that core's slots and meters; they are set by the audio
// thread before a block and followed only while that block runs (by the
// threads it hands tasks to), never after.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    pub(super) fn new() -> Job {
        Job {
            steps: Shared::EMPTY,
            inputs: Shared::EMPTY,
            wires: Shared::EMPTY,
            outputs: Shared::EMPTY,
            bound: Shared::EMPTY,
            info: Shared::EMPTY,
            buffers: std::ptr::null_mut(),
            edges: Cells::EMPTY,
            delays: Cells::EMPTY,
            loadings: Cells::EMPTY,
            silent: Cells::EMPTY,
            slots: Cells::EMPTY,
            node_cost: Cells::EMPTY,
            ctx: ProcessContext {
                sample_rate: 48_000.0,
                frames: 0,
                time: 0,
            },
            settled: false,
            quiet: false,
            profile: false,
            tasks: Shared::EMPTY,
            task_succ: Shared::EMPTY,
            check: false,
            meter_every: 1,
            meter_coeff: 0.0,
            meter_phase: 0,
            rms: Cells::EMPTY,
            meters: std::ptr::null(),
        }
    }

    /// Point the job at `plan` and `slots` for this block.
    pub(super) fn set(
        &mut self,
        plan: &mut Plan,
        slots: &mut [Option<Box<dyn Processor>>],
        node_cost: &mut [f32],
        rms: &mut [f32],
        meters: &Meters,
    ) {
        self.steps = Shared::of(&plan.steps);
        self.inputs = Shared::of(&plan.inputs);
        self.wires = Shared::of(&plan.wires);
        self.outputs = Shared::of(&plan.outputs);
        self.bound = Shared::of(&plan.bound);
        self.info = Shared::of(&plan.info);
        self.buffers = plan.buffers.as_mut_ptr();
        self.edges = Cells::of(&mut plan.edges);
        self.delays = Cells::of(&mut plan.delays);
        self.loadings = Cells::of(&mut plan.loadings);
        self.silent = Cells::of(&mut plan.silent);
        self.slots = Cells::of(slots);
        self.node_cost = Cells::of(node_cost);
        self.tasks = Shared::of(&plan.tasks);
        self.task_succ = Shared::of(&plan.task_succ);
        self.rms = Cells::of(rms);
        self.meters = meters;
    }
}

/// A block of the flat buffer store that a step writes: an output or a
/// sum's scratch.
///
/// SAFETY contract (`Plan::aliasing`, asserted on every plan in debug
/// builds): within a step, a written buffer is handed out through this once
/// and never also read, every index is below the buffer count, and no
/// step running at the same time on another thread uses it (`tasks`).
#[inline]
pub(super) unsafe fn buf_mut<'a>(base: *mut Block, index: u32, frames: usize) -> &'a mut [f32] {
    // SAFETY: see the function's contract.
    unsafe { std::slice::from_raw_parts_mut(base.add(index as usize).cast::<f32>(), frames) }
}

/// A block of the buffer store that a step only reads (a source, a device
/// input): a shared slice, so several inputs reading one fan-out block make
/// no two exclusive borrows of it.
///
/// SAFETY contract: as `buf_mut`; no written buffer of the step is read.
#[inline]
unsafe fn buf_ref<'a>(base: *const Block, index: u32, frames: usize) -> &'a [f32] {
    // SAFETY: see the function's contract.
    unsafe { std::slice::from_raw_parts(base.add(index as usize).cast::<f32>(), frames) }
}

/// Run steps `start..end` of the job's plan in order.
///
/// # Safety
/// The job was set for the installed plan this block; the steps' inputs
/// were written (by earlier steps, finished) and no other thread runs
/// these steps or any step that shares a buffer, wire or slot with them
/// before they finish (`Plan::partition`).
pub(super) unsafe fn run_steps(job: &Job, start: usize, end: usize, meter: &mut MeterPass) {
    // Built twice: with the silence check, for plans that have a node that
    // may be skipped, and without, so a plan that has none (anything fed
    // by noise, a tone or a device) pays nothing.
    // SAFETY: the caller's contract.
    unsafe {
        if job.quiet {
            run::<true>(job, start, end, meter);
        } else {
            run::<false>(job, start, end, meter);
        }
    }
}

#[inline(always)]
unsafe fn run<const QUIET: bool>(job: &Job, start: usize, end: usize, meter: &mut MeterPass) {
    // SAFETY: the caller's contract.
    let bound = unsafe { job.bound.slice() };
    let settled = job.settled && job.ctx.frames == crate::node::MAX_BLOCK;
    let mut i = start;
    while i < end {
        if settled && !job.profile && bound[i].is_plain(QUIET) {
            let (next, fault) = run_plain(bound, i, end, QUIET, meter.check, &job.ctx);
            if let Some(slot) = fault {
                meter.fault(slot);
            }
            i = next;
            continue;
        }
        if job.profile {
            let t0 = Instant::now();
            // SAFETY: the caller's contract.
            unsafe { run_one::<QUIET>(job, i, settled, meter) };
            let ns = t0.elapsed().as_nanos() as f32;
            // SAFETY: the slot's cost belongs to its step, run here.
            if let Some(c) = unsafe { job.node_cost.get(bound[i].slot as usize) } {
                *c = if *c == 0.0 { ns } else { *c + 0.25 * (ns - *c) };
            }
        } else {
            // SAFETY: the caller's contract.
            unsafe { run_one::<QUIET>(job, i, settled, meter) };
        }
        i += 1;
    }
}

/// Run step `i`: on the settled path when it may, else the general one.
#[inline(always)]
unsafe fn run_one<const QUIET: bool>(job: &Job, i: usize, settled: bool, meter: &mut MeterPass) {
    // SAFETY: the caller's contract (`run_steps`) throughout.
    unsafe {
        let bd = &job.bound.slice()[i];
        if bd.direct && settled {
            run_settled::<QUIET>(job, i, bd, meter);
        } else {
            // Only the settled path skips nodes.
            if let Some(s) = job.silent.get(i) {
                *s = false;
            }
            let step = &job.steps.slice()[i];
            if step.in_len <= 2 && step.out_len <= 2 {
                run_general::<2>(job, step, bd.watch, meter);
            } else {
                run_general::<MAX_PORTS>(job, step, bd.watch, meter);
            }
        }
    }
}

/// The settled path for a step with a meter read or that may be skipped:
/// blocks and processor resolved in advance, nothing to mix, load or look up.
#[inline(always)]
unsafe fn run_settled<const QUIET: bool>(job: &Job, i: usize, bd: &Bound, meter: &mut MeterPass) {
    let zero: &[f32] = &ZEROS;
    let n_in = bd.n_in as usize;
    let n_out = bd.n_out as usize;
    // SAFETY: this path runs whole blocks of the installed plan and holds
    // no other reference to them (`run_steps`).
    let (mut ins, mut outs) = unsafe { bd.blocks() };
    let Some(mut proc_) = bd.proc_ else {
        for o in outs.iter_mut().take(n_out) {
            o.fill(0.0);
        }
        return;
    };
    // SAFETY: `Core::bind` took this from a slot of this core when the plan
    // was installed; slots change only then, and only this step uses it.
    let proc_ = unsafe { proc_.as_mut() };
    // SAFETY: read-only during the block.
    let info = unsafe { &job.info.slice()[i] };
    if QUIET && bd.may_quiet {
        // Silent in and nothing left to do: skip the node. The steps read
        // from finished before this one started.
        // SAFETY: entries of finished steps, and this step's own.
        let (s0, s1, me) = unsafe {
            (
                job.silent.get(info.from[0] as usize).is_some_and(|s| *s),
                job.silent.get(info.from[1] as usize).is_some_and(|s| *s),
                job.silent.get(i),
            )
        };
        let quiet = s0 && s1 && proc_.is_quiet();
        if let Some(me) = me {
            *me = quiet;
        }
        if quiet {
            if bd.must_fill || bd.watch != 0 {
                // SAFETY: read-only during the block.
                let outputs = unsafe { job.outputs.slice() };
                skip_quiet(bd, info.out_start, &mut outs[..n_out], outputs, meter);
            }
            return;
        }
        // A skipped node left its block as it was: read silence in its place.
        if s0 {
            ins[0] = zero;
        }
        if s1 {
            ins[1] = zero;
        }
    }
    proc_.process(&job.ctx, &ins[..n_in], &mut outs[..n_out]);
    if bd.watch == 0 && !meter.check {
        return;
    }
    // SAFETY: read-only during the block.
    let outputs = unsafe { job.outputs.slice() };
    for (k, o) in outs.iter().enumerate().take(n_out) {
        let watched = bd.watch & (1 << k) != 0;
        let m = if watched {
            outputs[info.out_start as usize + k].meter
        } else {
            NONE
        };
        meter.port(o, watched, m, bd.slot);
    }
}

/// The general path, for a given size of the port arrays: most nodes have
/// one or two ports a side, and gathering their slices into 2-slot arrays
/// instead of `MAX_PORTS`-slot ones saves the stores that would clear the
/// unused slots, on every step of every block.
#[inline(always)]
unsafe fn run_general<const PORTS: usize>(
    job: &Job,
    step: &RtStep,
    watch: u8,
    meter: &mut MeterPass,
) {
    let frames = job.ctx.frames;
    let zero: &[f32] = &ZEROS[..frames];
    let base = job.buffers;
    // SAFETY: read-only during the block.
    let (inputs, wires, outputs) =
        unsafe { (job.inputs.slice(), job.wires.slice(), job.outputs.slice()) };
    let mut ins: [&[f32]; PORTS] = [zero; PORTS];
    let n_in = (step.in_len as usize).min(PORTS);
    for (k, slot) in ins.iter_mut().enumerate().take(n_in) {
        *slot = match inputs[step.in_start as usize + k] {
            RtInput::Zero => zero,
            // SAFETY: filled before the steps; not an output of this step.
            RtInput::Device { buffer } => unsafe { buf_ref(base, buffer, frames) },
            RtInput::Sum {
                scratch,
                start,
                len,
            } => {
                let ws = &wires[start as usize..(start + len) as usize];
                // SAFETY: a wire's gain and delay line belong to the step
                // that reads it.
                let unity = ws.len() == 1
                    && ws[0].delay == NONE
                    && unsafe { job.edges.get(ws[0].edge as usize) }
                        .is_some_and(|e| e.settled_unity());
                if unity {
                    // SAFETY: a source buffer written by an earlier step.
                    unsafe { buf_ref(base, ws[0].src, frames) }
                } else {
                    // SAFETY: the scratch buffer belongs to this input alone.
                    let acc = unsafe { buf_mut(base, scratch, frames) };
                    acc.fill(0.0);
                    for w in ws {
                        // SAFETY: source buffers differ from the scratch
                        // buffer; the wire's line and gain are this step's.
                        unsafe {
                            let mut src = buf_ref(base, w.src, frames);
                            if let Some(line) = job.delays.get(w.delay as usize) {
                                src = line.run(src);
                            }
                            if let Some(e) = job.edges.get(w.edge as usize) {
                                mix_ramped(acc, src, e);
                            }
                        }
                    }
                    acc
                }
            }
        };
    }
    let n_out = (step.out_len as usize).min(PORTS);
    let mut outs: [&mut [f32]; PORTS] = std::array::from_fn(|_| Default::default());
    for (k, o) in outs.iter_mut().enumerate().take(n_out) {
        let b = outputs[step.out_start as usize + k].buffer;
        // SAFETY: outputs of a step are distinct and never its inputs.
        *o = unsafe { buf_mut(base, b, frames) };
    }
    // SAFETY: the slot belongs to this step's node.
    let Some(Some(proc_)) = (unsafe { job.slots.get(step.slot as usize) }) else {
        for o in outs.iter_mut().take(n_out) {
            o.fill(0.0);
        }
        return;
    };
    let ctx = &job.ctx;
    match step.kind {
        RtStepKind::Process => proc_.process(ctx, &ins[..n_in], &mut outs[..n_out]),
        RtStepKind::FeedbackRead => proc_.feedback_read(ctx, &mut outs[..n_out]),
        RtStepKind::FeedbackWrite => {
            proc_.feedback_write(ctx, &ins[..n_in]);
            return;
        }
    }
    for (k, o) in outs.iter_mut().enumerate().take(n_out) {
        let spec = outputs[step.out_start as usize + k];
        // SAFETY: an output's loading belongs to its step.
        if let Some(l) = unsafe { job.loadings.get(spec.loading as usize) }
            && !l.is_unity()
        {
            l.apply(o);
        }
        meter.port(o, watch & (1 << k) != 0, spec.meter, step.slot);
    }
}

#[inline]
fn mix_ramped(acc: &mut [f32], src: &[f32], e: &mut EdgeGain) {
    if e.step == 0.0 {
        let g = e.gain;
        if g == 1.0 {
            for (a, s) in acc.iter_mut().zip(src) {
                *a += *s;
            }
        } else if g != 0.0 {
            for (a, s) in acc.iter_mut().zip(src) {
                *a += *s * g;
            }
        }
        return;
    }
    for (a, s) in acc.iter_mut().zip(src) {
        e.gain += e.step;
        if (e.step > 0.0 && e.gain >= e.target) || (e.step < 0.0 && e.gain <= e.target) {
            e.gain = e.target;
            e.step = 0.0;
        }
        *a += *s * e.gain;
    }
}
