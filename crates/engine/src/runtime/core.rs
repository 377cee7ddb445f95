//! The audio-thread engine: takes plans and parameter changes at block
//! boundaries and runs the plan block by block. Nothing here allocates,
//! frees, locks or blocks once built: plans arrive whole over a bounded
//! channel and leave the same way.

use super::denormal::FlushDenormals;
use super::meter::{FAULT_CHECK_EVERY, MeterPass};
use super::plan::{Block, EdgeGain, NONE, Plan, RtInput, RtStepKind, ZEROS};
use super::settled::{run_plain, skip_quiet};
use super::{FromCore, ToCore};
use crate::meters::{Meters, Stats};
use crate::node::{MAX_BLOCK, MAX_PORTS, ProcessContext, Processor};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The audio-thread engine. Owned by a backend's callback; hand it back to
/// the control side (`Engine::return_core`) to keep node state across a
/// device change.
pub struct Core {
    pub(super) plan: Box<Plan>,
    pub(super) slots: Vec<Option<Box<dyn Processor>>>,
    pub(super) rx: Receiver<ToCore>,
    pub(super) tx: Sender<FromCore>,
    /// Boxed so a plan moves as a pointer and nothing is freed here.
    #[allow(clippy::vec_box)]
    pub(super) backlog: Vec<Box<Plan>>,
    pub(super) meters: Arc<Meters>,
    pub(super) stats: Arc<Stats>,
    pub(super) rms_state: Vec<f32>,
    pub(super) sample_rate: f64,
    pub(super) time: u64,
    pub(super) meter_every: u32,
    pub(super) block_count: u64,
    /// Frames per meter-watch epoch (`Meters::watched`), and frames left
    /// in this one.
    pub(super) watch_frames: u64,
    pub(super) epoch_left: u64,
    /// Which watched port is metered next (counts down from `meter_every`).
    pub(super) meter_phase: u32,
    /// The RMS meters' one-pole coefficient for a block of this many frames.
    pub(super) meter_coeff: (usize, f32),
    /// `EngineConfig::fast_paths`.
    pub(super) fast_paths: bool,
}

/// A block of the flat buffer store that a step writes: an output or a
/// sum's scratch.
///
/// SAFETY contract (`Plan::aliasing`, asserted on every plan in debug
/// builds): within a step, a written buffer is handed out through this once
/// and never also read, and every index is below the buffer count.
#[inline]
unsafe fn buf_mut<'a>(base: *mut Block, index: u32, frames: usize) -> &'a mut [f32] {
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

/// What a new core is made of, on the control thread.
pub(crate) struct CoreSetup {
    /// Processor slots (and meters, `MAX_PORTS` a slot).
    pub slots: usize,
    pub meters: Arc<Meters>,
    pub stats: Arc<Stats>,
    pub sample_rate: f64,
    /// Frames rendered so far: a core made again after a device was lost
    /// goes on counting where the old one stopped.
    pub time: u64,
    pub meter_every: u32,
    pub fast_paths: bool,
    /// Room for retired plans that cannot go back at once.
    pub backlog: usize,
}

/// A quarter second of frames: the unit in which the audio thread tells
/// whether a meter was read lately (`Meters::watched`).
fn watch_frames(sample_rate: f64) -> u64 {
    (sample_rate * 0.25).max(1.0) as u64
}

impl Core {
    /// A core with an empty plan, fed by `rx` and handing plans back on `tx`.
    pub(crate) fn new(rx: Receiver<ToCore>, tx: Sender<FromCore>, s: CoreSetup) -> Core {
        Core {
            plan: Box::new(Plan::empty()),
            slots: (0..s.slots).map(|_| None).collect(),
            rx,
            tx,
            backlog: Vec::with_capacity(s.backlog),
            meters: s.meters,
            stats: s.stats,
            rms_state: vec![f32::NAN; s.slots * MAX_PORTS],
            sample_rate: s.sample_rate,
            time: s.time,
            meter_every: s.meter_every.max(1),
            block_count: 0,
            watch_frames: watch_frames(s.sample_rate),
            epoch_left: 0,
            meter_phase: 0,
            meter_coeff: (0, 0.0),
            fast_paths: s.fast_paths,
        }
    }

    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Frames rendered since the engine started.
    pub fn time(&self) -> u64 {
        self.time
    }

    pub fn device_out_count(&self) -> usize {
        self.plan.device_outs.len()
    }

    /// Take queued plans and parameter changes. Called at block boundaries.
    fn receive(&mut self) {
        // Plans that could not go back last time go first.
        while let Some(p) = self.backlog.pop() {
            if let Err(e) = self.tx.try_send(FromCore::Retired(p)) {
                let FromCore::Retired(p) = e.into_inner();
                // `backlog` has spare capacity: we just popped from it.
                self.backlog.push(p);
                break;
            }
        }
        for _ in 0..1024 {
            match self.rx.try_recv() {
                Ok(ToCore::Param { slot, index, value }) => {
                    if let Some(Some(p)) = self.slots.get_mut(slot as usize) {
                        p.set_param(index as usize, value);
                    }
                }
                Ok(ToCore::Plan(plan)) => self.install(plan),
                Err(_) => break,
            }
        }
    }

    fn install(&mut self, mut plan: Box<Plan>) {
        // Empty the removed slots first, then move new processors in: a slot
        // freed by this plan may be handed to a new node in the same plan.
        // Old processors go to the trash, whose capacity the control thread
        // reserved.
        for i in 0..plan.removes.len() {
            let slot = plan.removes[i] as usize;
            if let Some(old) = self.slots.get_mut(slot).and_then(Option::take) {
                push_within_capacity(&mut plan.trash, old);
            }
        }
        for (slot, p) in plan.installs.drain(..) {
            if let Some(cell) = self.slots.get_mut(slot as usize) {
                if let Some(old) = cell.replace(p) {
                    push_within_capacity(&mut plan.trash, old);
                }
            } else {
                push_within_capacity(&mut plan.trash, p);
            }
        }
        for &m in &plan.clear_meters {
            self.meters.clear(m as usize);
            if let Some(r) = self.rms_state.get_mut(m as usize) {
                *r = f32::NAN;
            }
        }
        // Running state carries over from the plan being replaced.
        let fade = plan.fade_frames.max(1.0);
        for i in 0..plan.edges.len() {
            let from = plan.edge_inherit[i];
            let e = &mut plan.edges[i];
            if let Some(old) = self.plan.edges.get(from as usize) {
                e.gain = old.gain;
            }
            e.step = (e.target - e.gain) / fade;
        }
        for i in 0..plan.loadings.len() {
            let from = plan.loading_inherit[i];
            if let Some(old) = self.plan.loadings.get(from as usize) {
                plan.loadings[i].inherit(old, f64::from(fade));
            }
        }
        for i in 0..plan.delays.len() {
            let from = plan.delay_inherit[i];
            if let Some(old) = self.plan.delays.get(from as usize) {
                plan.delays[i].inherit(old);
            }
        }
        plan.settled = false;
        let mut old = std::mem::replace(&mut self.plan, plan);
        std::mem::swap(&mut old.trash, &mut self.plan.trash);
        self.bind();
        self.refresh_watch();
        self.stats
            .generation
            .store(self.plan.generation, Ordering::Relaxed);
        self.stats
            .generation_frame
            .store(self.time, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(FromCore::Retired(old)) {
            let FromCore::Retired(old) = e.into_inner();
            if self.backlog.len() < self.backlog.capacity() {
                self.backlog.push(old);
            } else {
                // Never free on this thread: leaking is the lesser harm, and
                // the control side keeps this from happening by bounding how
                // many plans are in flight.
                std::mem::forget(old);
            }
        }
    }

    /// Render one block of at most `MAX_BLOCK` frames into the plan's device
    /// output buffers. `input` is interleaved device input with `in_channels`.
    pub fn run_block(&mut self, frames: usize, input: &[f32], in_channels: usize) {
        let _ftz = FlushDenormals::enable();
        let frames = frames.min(MAX_BLOCK);
        self.receive();
        if self.meters.take_changed() {
            self.refresh_watch();
        }
        let ctx = ProcessContext {
            sample_rate: self.sample_rate,
            frames,
            time: self.time,
        };
        // A watched port is measured once every `meter_every` blocks, and
        // the ports take turns (a countdown over the watched ports), so the
        // metering cost is spread evenly over blocks instead of landing on
        // one block in `meter_every`.
        let meter_every = self.meter_every.max(1);
        let check = self.block_count.is_multiple_of(FAULT_CHECK_EVERY);
        if self.meter_coeff.0 != frames {
            let tau = 0.3 * self.sample_rate;
            let c = 1.0 - (-(frames as f64 * f64::from(meter_every)) / tau).exp();
            self.meter_coeff = (frames, c as f32);
        }
        self.meter_phase = if self.meter_phase == 0 {
            meter_every - 1
        } else {
            self.meter_phase - 1
        };
        let mut meter = MeterPass {
            check,
            countdown: self.meter_phase.min(meter_every - 1),
            every: meter_every,
            coeff: self.meter_coeff.1,
            rms_state: &mut self.rms_state,
            meters: &self.meters,
            stats: &self.stats,
        };
        let plan = &mut *self.plan;
        let base = plan.buffers.as_mut_ptr();
        let nbuf = plan.buffers.len();

        for &(b, ch) in &plan.device_ins {
            if b as usize >= nbuf {
                continue;
            }
            // SAFETY: b < buffer count; no other slice is live here.
            let dst = unsafe { buf_mut(base, b, frames) };
            if in_channels > 0 && (ch as usize) < in_channels {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = input
                        .get(i * in_channels + ch as usize)
                        .copied()
                        .unwrap_or(0.0);
                }
            } else {
                dst.fill(0.0);
            }
        }

        let zero: &[f32] = &ZEROS[..frames];
        // The settled path hands out whole blocks; a shorter one, at the
        // end of an odd-sized device buffer, takes the general path.
        let settled = self.fast_paths && plan.settled && frames == MAX_BLOCK;
        // The body of one step, for a given size of the port arrays: most
        // nodes have one or two ports a side, and gathering their slices
        // into 2-slot arrays instead of `MAX_PORTS`-slot ones saves the
        // stores that would clear the unused slots, on every step of every
        // block.
        macro_rules! run_step {
            ($watch:expr, $step:expr, $ports:expr) => {{
                let step = $step;
                let mut ins: [&[f32]; $ports] = [zero; $ports];
                let n_in = (step.in_len as usize).min($ports);
                for (k, slot) in ins.iter_mut().enumerate().take(n_in) {
                    *slot = match plan.inputs[step.in_start as usize + k] {
                        RtInput::Zero => zero,
                        // SAFETY: filled above; not an output of this step.
                        RtInput::Device { buffer } => unsafe { buf_ref(base, buffer, frames) },
                        RtInput::Sum {
                            scratch,
                            start,
                            len,
                        } => {
                            let ws = &plan.wires[start as usize..(start + len) as usize];
                            if len == 1
                                && ws[0].delay == NONE
                                && plan.edges[ws[0].edge as usize].settled_unity()
                            {
                                // SAFETY: a source buffer written by an earlier step.
                                unsafe { buf_ref(base, ws[0].src, frames) }
                            } else {
                                // SAFETY: the scratch buffer belongs to this input alone.
                                let acc = unsafe { buf_mut(base, scratch, frames) };
                                acc.fill(0.0);
                                for w in ws {
                                    // SAFETY: source buffers differ from the scratch buffer.
                                    let mut src = unsafe { buf_ref(base, w.src, frames) };
                                    if let Some(line) = plan.delays.get_mut(w.delay as usize) {
                                        src = line.run(src);
                                    }
                                    let e = &mut plan.edges[w.edge as usize];
                                    mix_ramped(acc, src, e);
                                }
                                acc
                            }
                        }
                    };
                }
                let n_out = (step.out_len as usize).min($ports);
                let mut outs: [&mut [f32]; $ports] = Default::default();
                for (k, o) in outs.iter_mut().enumerate().take(n_out) {
                    let b = plan.outputs[step.out_start as usize + k].buffer;
                    // SAFETY: outputs of a step are distinct and never its inputs.
                    *o = unsafe { buf_mut(base, b, frames) };
                }
                let Some(Some(proc_)) = self.slots.get_mut(step.slot as usize) else {
                    for o in outs.iter_mut().take(n_out) {
                        o.fill(0.0);
                    }
                    continue;
                };
                match step.kind {
                    RtStepKind::Process => proc_.process(&ctx, &ins[..n_in], &mut outs[..n_out]),
                    RtStepKind::FeedbackRead => proc_.feedback_read(&ctx, &mut outs[..n_out]),
                    RtStepKind::FeedbackWrite => {
                        proc_.feedback_write(&ctx, &ins[..n_in]);
                        continue;
                    }
                }
                let watch = $watch;
                for (k, o) in outs.iter_mut().enumerate().take(n_out) {
                    let spec = plan.outputs[step.out_start as usize + k];
                    if let Some(l) = plan.loadings.get_mut(spec.loading as usize)
                        && !l.is_unity()
                    {
                        l.apply(o);
                    }
                    meter.port(o, watch & (1 << k) != 0, spec.meter, step.slot);
                }
            }};
        }
        // The step loop, built twice: with the silence check, for plans that
        // have a node that may be skipped, and without, so a plan that has
        // none (anything fed by noise, a tone or a device) pays nothing.
        macro_rules! run_steps {
            ($quiet:expr) => {
                // Steps below `next` were run by `run_plain`.
                let mut next = 0;
                for i in 0..plan.steps.len() {
                    if i < next {
                        continue;
                    }
                    if settled && plan.bound[i].is_plain($quiet) {
                        let (end, fault) = run_plain(&plan.bound, i, $quiet, check, &ctx);
                        if let Some(slot) = fault {
                            meter.fault(slot);
                        }
                        next = end;
                        continue;
                    }
                    if plan.bound[i].direct && settled {
                        let bd = &plan.bound[i];
                        // The settled path for a step with a meter read or that
                        // may be skipped: blocks and processor resolved in advance,
                        // nothing to mix, load or look up.
                        let n_in = bd.n_in as usize;
                        let n_out = bd.n_out as usize;
                        // SAFETY: this path runs whole blocks of the installed plan
                        // and holds no other reference to them.
                        let (mut ins, mut outs) = unsafe { bd.blocks() };
                        let Some(mut proc_) = bd.proc_ else {
                            for o in outs.iter_mut().take(n_out) {
                                o.fill(0.0);
                            }
                            continue;
                        };
                        // SAFETY: `Core::bind` took this from a slot of this core
                        // when the plan was installed; slots change only then, and
                        // no other reference to the processor is alive here.
                        let proc_ = unsafe { proc_.as_mut() };
                        if $quiet && bd.may_quiet {
                            // Silent in and nothing left to do: skip the node.
                            let from = plan.info[i].from;
                            let s0 = plan.silent[from[0] as usize];
                            let s1 = plan.silent[from[1] as usize];
                            let quiet = s0 && s1 && proc_.is_quiet();
                            plan.silent[i] = quiet;
                            if quiet {
                                if bd.must_fill || bd.watch != 0 {
                                    skip_quiet(
                                        bd,
                                        plan.info[i].out_start,
                                        &mut outs[..n_out],
                                        &plan.outputs,
                                        &mut meter,
                                    );
                                }
                                continue;
                            }
                            // A skipped node left its block as it was: read
                            // silence in its place.
                            if s0 {
                                ins[0] = zero;
                            }
                            if s1 {
                                ins[1] = zero;
                            }
                        }
                        proc_.process(&ctx, &ins[..n_in], &mut outs[..n_out]);
                        if bd.watch == 0 && !check {
                            continue;
                        }
                        for (k, o) in outs.iter().enumerate().take(n_out) {
                            let watched = bd.watch & (1 << k) != 0;
                            let m = if watched {
                                plan.outputs[plan.info[i].out_start as usize + k].meter
                            } else {
                                NONE
                            };
                            meter.port(o, watched, m, bd.slot);
                        }
                    } else {
                        // Only the settled path skips nodes.
                        plan.silent[i] = false;
                        let watch = plan.bound[i].watch;
                        let step = &plan.steps[i];
                        if step.in_len <= 2 && step.out_len <= 2 {
                            run_step!(watch, step, 2);
                        } else {
                            run_step!(watch, step, MAX_PORTS);
                        }
                    }
                }
            };
        }
        if plan.any_quiet {
            run_steps!(true);
        } else {
            run_steps!(false);
        }
        if !plan.settled {
            plan.settled = plan.fades_done();
        }
        self.time += frames as u64;
        self.block_count += 1;
        // This thread is the counter's only writer: a plain store, not a
        // locked add on every block.
        self.stats.frames.store(self.time, Ordering::Relaxed);
        // A new epoch every `watch_frames`: meters not read for a while
        // stop being measured.
        self.epoch_left = self.epoch_left.saturating_sub(frames as u64);
        if self.epoch_left == 0 {
            self.epoch_left = self.watch_frames.max(1);
            self.meters.next_epoch();
            self.refresh_watch();
        }
    }

    /// See `Plan::bind`.
    fn bind(&mut self) {
        self.plan.bind(&mut self.slots);
    }

    /// See `Plan::refresh_watch`.
    fn refresh_watch(&mut self) {
        self.plan.refresh_watch(&self.meters, &mut self.rms_state);
    }

    /// The samples of device output `i` from the last block.
    pub fn device_out(&self, i: usize, frames: usize) -> &[f32] {
        match self.plan.device_outs.get(i) {
            Some(&(b, _)) => match self.plan.buffers.get(b as usize) {
                Some(block) => &block.0[..frames.min(MAX_BLOCK)],
                None => &ZEROS[..frames.min(MAX_BLOCK)],
            },
            None => &ZEROS[..frames.min(MAX_BLOCK)],
        }
    }

    /// The device channel device output `i` goes to.
    pub fn device_out_channel(&self, i: usize) -> Option<usize> {
        self.plan.device_outs.get(i).map(|d| d.1 as usize)
    }

    /// Fill an interleaved device buffer of any length, block by block.
    /// Non-finite samples are replaced by silence and counted.
    pub fn process_interleaved(
        &mut self,
        out: &mut [f32],
        channels: usize,
        input: &[f32],
        in_channels: usize,
    ) {
        let channels = channels.max(1);
        let total = out.len() / channels;
        let mut done = 0;
        let mut peak = 0.0f32;
        while done < total {
            let frames = (total - done).min(MAX_BLOCK);
            let in_slice = if in_channels > 0 {
                let s = (done * in_channels).min(input.len());
                let e = ((done + frames) * in_channels).min(input.len());
                &input[s..e]
            } else {
                &[][..]
            };
            self.run_block(frames, in_slice, in_channels);
            let chunk = &mut out[done * channels..(done + frames) * channels];
            chunk.fill(0.0);
            for i in 0..self.plan.device_outs.len() {
                let (b, ch) = self.plan.device_outs[i];
                let ch = ch as usize;
                if ch >= channels {
                    continue;
                }
                let Some(block) = self.plan.buffers.get(b as usize) else {
                    continue;
                };
                let src = &block.0[..frames];
                for (f, &s) in src.iter().enumerate() {
                    let v = if s.is_finite() {
                        s
                    } else {
                        self.stats.nonfinite.fetch_add(1, Ordering::Relaxed);
                        0.0
                    };
                    chunk[f * channels + ch] += v;
                    peak = peak.max(v.abs());
                }
            }
            done += frames;
        }
        self.stats
            .output_peak
            .fetch_max(peak.to_bits(), Ordering::Relaxed);
    }
}

fn push_within_capacity(v: &mut Vec<Box<dyn Processor>>, p: Box<dyn Processor>) {
    if v.len() < v.capacity() {
        v.push(p);
    } else {
        // The control side reserves room for every removal; if it ever did
        // not, leak rather than free on the audio thread.
        std::mem::forget(p);
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
