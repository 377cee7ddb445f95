//! The audio-thread side: a compiled plan, the processors it runs and the
//! loop that runs them. Nothing here allocates, frees, locks or blocks once
//! built: plans arrive whole over a bounded channel and leave the same way.

use crate::impedance::LoadingState;
use crate::meters::{Meters, Stats};
use crate::node::{MAX_BLOCK, MAX_PORTS, ProcessContext, Processor};
use crossbeam_channel::{Receiver, Sender};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RtStepKind {
    Process,
    FeedbackRead,
    FeedbackWrite,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RtStep {
    pub slot: u32,
    pub kind: RtStepKind,
    pub in_start: u32,
    pub in_len: u32,
    pub out_start: u32,
    pub out_len: u32,
}

impl RtStep {
    pub(crate) fn new(
        slot: u32,
        kind: RtStepKind,
        (in_start, in_len): (u32, u32),
        (out_start, out_len): (u32, u32),
    ) -> RtStep {
        RtStep {
            slot,
            kind,
            in_start,
            in_len,
            out_start,
            out_len,
        }
    }
}

/// A step as the settled path runs it: where its blocks are and which
/// processor runs, resolved once instead of looked up on every block. One
/// cache line a step, read in order.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Bound {
    /// The processor in the step's slot; set on the audio thread when the
    /// plan is installed (`Core::bind`), the only time slots change.
    proc_: Option<NonNull<dyn Processor>>,
    /// Start of each input's block (the shared silence when unconnected).
    ins: [*const f32; 2],
    /// Start of each output's block (a spare block for an unused slot).
    outs: [*mut f32; 2],
    /// The step's slot, copied so the settled path reads this line alone.
    slot: u32,
    n_in: u8,
    n_out: u8,
    /// The step can take the settled path (`Plan::prepare`): at most two
    /// ports a side, every input unconnected, a device input or one wire at
    /// unity, every output unloaded. Once no wire or loading is ramping its
    /// blocks are known in advance and nothing needs mixing or scaling.
    direct: bool,
    /// Bit k: output k is metered (someone reads its meter). Refreshed on
    /// the audio thread when a meter starts being read and at each epoch.
    watch: u8,
    /// The processor may be quiet and so may everything it reads from
    /// (`Core::bind`): only such a step is ever skipped on silence.
    may_quiet: bool,
    /// When skipped, its blocks must still be zeroed: something reads them
    /// that is not itself skip-aware (a node that is never quiet, the
    /// device, a mix of several wires). Otherwise readers are told to read
    /// silence instead, and the block is left as it was (`Core::bind`).
    must_fill: bool,
}

/// What the settled path needs of a step only now and then (metering,
/// silence), kept off its `Bound` line so that stays one cache line.
#[derive(Clone, Copy)]
pub(crate) struct BoundInfo {
    /// The step's first output in `Plan::outputs`.
    out_start: u32,
    /// The step whose output each input reads, as an index into
    /// `Plan::silent` (one past the steps for an unconnected input, two
    /// past for a device input).
    from: [u32; 2],
    /// The device reads this step's output after the block.
    feeds_device: bool,
    /// The steps that read this step's outputs: `Plan::readers[start..start + len]`.
    readers: (u32, u32),
}

// SAFETY: the pointers lead into the plan's own buffers (a heap block that
// moves with the plan and is never resized), the static silence, and the
// boxed processors of the core the plan is installed in; they are set and
// followed on the audio thread only, while that core owns the plan.
unsafe impl Send for Bound {}

// One cache line a step.
const _: () = assert!(std::mem::size_of::<Bound>() == 64);

impl Bound {
    const EMPTY: Bound = Bound {
        proc_: None,
        ins: [std::ptr::null(); 2],
        outs: [std::ptr::null_mut(); 2],
        slot: NONE,
        n_in: 0,
        n_out: 0,
        direct: false,
        watch: 0,
        may_quiet: false,
        must_fill: true,
    };
}

/// One block of samples, on a cache line of its own so a block's loads
/// never straddle two lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Block(pub [f32; MAX_BLOCK]);

impl Block {
    pub(crate) const ZERO: Block = Block([0.0; MAX_BLOCK]);
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum RtInput {
    Zero,
    Device {
        buffer: u32,
    },
    /// Wires `start..start+len` of `Plan::wires`, summed into `scratch`.
    Sum {
        scratch: u32,
        start: u32,
        len: u32,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RtWire {
    pub src: u32,
    pub edge: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RtOutput {
    pub buffer: u32,
    pub loading: u32,
    pub meter: u32,
}

/// A wire's gain, ramped when a wire appears or goes so edits do not click.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdgeGain {
    pub gain: f32,
    pub target: f32,
    pub step: f32,
}

impl EdgeGain {
    #[inline]
    fn settled_unity(&self) -> bool {
        self.gain == 1.0 && self.target == 1.0
    }
}

/// Everything the audio thread needs to run one patch, built on the control
/// thread.
pub struct Plan {
    pub(crate) generation: u64,
    pub(crate) steps: Vec<RtStep>,
    pub(crate) inputs: Vec<RtInput>,
    pub(crate) wires: Vec<RtWire>,
    pub(crate) outputs: Vec<RtOutput>,
    pub(crate) buffers: Vec<Block>,
    pub(crate) edges: Vec<EdgeGain>,
    pub(crate) edge_inherit: Vec<u32>,
    pub(crate) loadings: Vec<LoadingState>,
    pub(crate) loading_inherit: Vec<u32>,
    /// (buffer, device channel) per device output.
    pub(crate) device_outs: Vec<(u32, u32)>,
    /// (buffer, device channel) per device input.
    pub(crate) device_ins: Vec<(u32, u32)>,
    pub(crate) installs: Vec<(u32, Box<dyn Processor>)>,
    pub(crate) removes: Vec<u32>,
    /// Processors taken out of the slots; capacity reserved on the control thread.
    pub(crate) trash: Vec<Box<dyn Processor>>,
    /// Frames over which new and removed wires fade.
    pub(crate) fade_frames: f32,
    /// Meter indices to clear when this plan starts (slots reused).
    pub(crate) clear_meters: Vec<u32>,
    /// Per step, how the settled path runs it.
    pub(crate) bound: Vec<Bound>,
    /// Per step, the rest of it.
    pub(crate) info: Vec<BoundInfo>,
    /// No wire and no loading is ramping: steps marked `direct` may take
    /// the settled path. False when a plan arrives, until its fades end.
    pub(crate) settled: bool,
    /// Per step: it was skipped this block because it was quiet on silent
    /// input, so its outputs are silent. Two more entries at the end:
    /// always silent (an unconnected input) and never (a device input).
    pub(crate) silent: Vec<bool>,
    /// Some step may be skipped on silence (`Core::bind`).
    pub(crate) any_quiet: bool,
    /// The readers of every step's outputs, back to back (`Bound::readers`).
    pub(crate) readers: Vec<u32>,
}

impl Plan {
    pub(crate) fn empty() -> Plan {
        Plan {
            generation: 0,
            steps: Vec::new(),
            inputs: Vec::new(),
            wires: Vec::new(),
            outputs: Vec::new(),
            buffers: vec![Block::ZERO],
            edges: Vec::new(),
            edge_inherit: Vec::new(),
            loadings: Vec::new(),
            loading_inherit: Vec::new(),
            device_outs: Vec::new(),
            device_ins: Vec::new(),
            installs: Vec::new(),
            removes: Vec::new(),
            trash: Vec::new(),
            fade_frames: 240.0,
            clear_meters: Vec::new(),
            bound: Vec::new(),
            info: Vec::new(),
            settled: false,
            silent: vec![true, false],
            any_quiet: false,
            readers: Vec::new(),
        }
    }

    /// Work out which steps can take the settled path and where their
    /// buffers are. Called on the control thread once the plan is built.
    pub(crate) fn prepare(&mut self) {
        // Two blocks nobody reads: the settled path points a step's unused
        // output slots at them, so it can build both slices without a branch.
        let spare = self.buffers.len() as u32;
        self.buffers.extend([Block::ZERO; 2]);
        let base = self.buffers.as_mut_ptr();
        let nbuf = self.buffers.len();
        let at = |b: u32| -> *mut f32 {
            assert!((b as usize) < nbuf, "buffer {b} of {nbuf}");
            // SAFETY: in bounds, checked above.
            unsafe { base.add(b as usize).cast::<f32>() }
        };
        self.bound = vec![Bound::EMPTY; self.steps.len()];
        self.info = vec![
            BoundInfo {
                out_start: 0,
                from: [0; 2],
                feeds_device: false,
                readers: (0, 0),
            };
            self.steps.len()
        ];
        let silent = self.steps.len() as u32;
        let loud = silent + 1;
        self.silent = vec![false; self.steps.len() + 2];
        self.silent[silent as usize] = true;
        // Which step last wrote each buffer, as the steps run in order.
        let mut writer = vec![loud; nbuf];
        let mut readers: Vec<Vec<u32>> = vec![Vec::new(); self.steps.len()];
        for (i, step) in self.steps.iter().enumerate() {
            for k in 0..step.in_len as usize {
                if let RtInput::Sum { start, len, .. } = self.inputs[step.in_start as usize + k] {
                    for w in &self.wires[start as usize..(start + len) as usize] {
                        let p = writer.get(w.src as usize).copied().unwrap_or(loud);
                        if let Some(r) = readers.get_mut(p as usize)
                            && r.last() != Some(&(i as u32))
                        {
                            r.push(i as u32);
                        }
                    }
                }
            }
            let mut direct =
                step.kind == RtStepKind::Process && step.in_len <= 2 && step.out_len <= 2;
            let mut ins = [ZEROS.as_ptr(); 2];
            let mut from = [silent; 2];
            for (k, slot) in ins.iter_mut().enumerate().take(step.in_len.min(2) as usize) {
                match self.inputs[step.in_start as usize + k] {
                    RtInput::Zero => {}
                    RtInput::Device { buffer } => {
                        *slot = at(buffer);
                        from[k] = loud;
                    }
                    RtInput::Sum { start, len: 1, .. } => {
                        let w = self.wires[start as usize];
                        direct &= self.edges[w.edge as usize].target == 1.0;
                        *slot = at(w.src);
                        from[k] = writer.get(w.src as usize).copied().unwrap_or(loud);
                    }
                    RtInput::Sum { .. } => direct = false,
                }
            }
            let mut outs = [at(spare), at(spare + 1)];
            for (k, slot) in outs
                .iter_mut()
                .enumerate()
                .take(step.out_len.min(2) as usize)
            {
                let o = self.outputs[step.out_start as usize + k];
                direct &= self
                    .loadings
                    .get(o.loading as usize)
                    .is_none_or(LoadingState::settles_to_unity);
                *slot = at(o.buffer);
            }
            for k in 0..step.out_len as usize {
                if let Some(w) =
                    writer.get_mut(self.outputs[step.out_start as usize + k].buffer as usize)
                {
                    *w = i as u32;
                }
            }
            self.bound[i] = Bound {
                proc_: None,
                ins,
                outs,
                slot: step.slot,
                n_in: step.in_len.min(2) as u8,
                n_out: step.out_len.min(2) as u8,
                direct,
                watch: 0,
                may_quiet: false,
                must_fill: true,
            };
            self.info[i].out_start = step.out_start;
            self.info[i].from = from;
        }
        for (b, r) in self.info.iter_mut().zip(&readers) {
            b.readers = (self.readers.len() as u32, r.len() as u32);
            self.readers.extend_from_slice(r);
        }
        for &(buffer, _) in &self.device_outs {
            if let Some(b) = writer
                .get(buffer as usize)
                .and_then(|&p| self.info.get_mut(p as usize))
            {
                b.feeds_device = true;
            }
        }
    }

    /// Whether every wire gain and loading has reached its target.
    fn fades_done(&self) -> bool {
        self.edges
            .iter()
            .all(|e| e.step == 0.0 && e.gain == e.target)
            && self.loadings.iter().all(LoadingState::is_settled)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn device_out_count(&self) -> usize {
        self.device_outs.len()
    }
}

pub(crate) enum ToCore {
    Plan(Box<Plan>),
    Param { slot: u32, index: u32, value: f64 },
}

pub(crate) enum FromCore {
    /// A plan that was replaced, holding the processors it removed.
    Retired(Box<Plan>),
}

/// The audio-thread engine. Owned by a backend's callback; hand it back to
/// the control side (`Engine::return_core`) to keep node state across a
/// device change.
pub struct Core {
    pub(crate) plan: Box<Plan>,
    pub(crate) slots: Vec<Option<Box<dyn Processor>>>,
    pub(crate) rx: Receiver<ToCore>,
    pub(crate) tx: Sender<FromCore>,
    /// Boxed so a plan moves as a pointer and nothing is freed here.
    #[allow(clippy::vec_box)]
    pub(crate) backlog: Vec<Box<Plan>>,
    pub(crate) meters: Arc<Meters>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) rms_state: Vec<f32>,
    pub(crate) sample_rate: f64,
    pub(crate) time: u64,
    pub(crate) meter_every: u32,
    pub(crate) block_count: u64,
    /// Frames per meter-watch epoch (`Meters::watched`), and frames left
    /// in this one.
    pub(crate) watch_frames: u64,
    pub(crate) epoch_left: u64,
    /// Which watched port is metered next (counts down from `meter_every`).
    pub(crate) meter_phase: u32,
    /// The RMS meters' one-pole coefficient for a block of this many frames.
    pub(crate) meter_coeff: (usize, f32),
    /// `EngineConfig::fast_paths`.
    pub(crate) fast_paths: bool,
}

/// Slices of one flat buffer store, handed out by index.
///
/// SAFETY contract: the compiler never gives a step an output buffer that is
/// also one of its inputs, and every index is below the buffer count, so the
/// shared and mutable slices made from the same base pointer never overlap.
#[inline]
unsafe fn buf<'a>(base: *mut Block, index: u32, frames: usize) -> &'a mut [f32] {
    // SAFETY: see the function's contract.
    unsafe { std::slice::from_raw_parts_mut(base.add(index as usize).cast::<f32>(), frames) }
}

/// Unwatched ports are checked for non-finite output on one block in this
/// many (11 ms at 128 frames, 48 kHz).
const FAULT_CHECK_EVERY: u64 = 4;

/// The metering of one block's output ports.
struct MeterPass<'a> {
    /// This block checks unwatched ports for faults.
    check: bool,
    countdown: u32,
    every: u32,
    coeff: f32,
    rms_state: &'a mut [f32],
    meters: &'a Meters,
    stats: &'a Stats,
}

impl MeterPass<'_> {
    /// After a node wrote output `o`: meter it if watched (every `every`th
    /// watched port), and on fault-check blocks notice a node whose output
    /// went non-finite. An unwatched port only has its first sample
    /// checked, every `FAULT_CHECK_EVERY` blocks: a blown-up filter or
    /// runaway loop stays non-finite, so that finds it within a few blocks
    /// for the price of one compare.
    #[inline(always)]
    fn port(&mut self, o: &[f32], watched: bool, meter: u32, slot: u32) {
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
        let Some(state) = self.rms_state.get_mut(meter as usize) else {
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
    fn fault(&self, slot: u32) {
        self.stats
            .faulty_slot
            .store(u64::from(slot) + 1, Ordering::Relaxed);
    }
}

impl Core {
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
        // Move new processors in; old ones go to the trash, whose capacity the
        // control thread reserved.
        for (slot, p) in plan.installs.drain(..) {
            if let Some(cell) = self.slots.get_mut(slot as usize) {
                if let Some(old) = cell.replace(p) {
                    push_within_capacity(&mut plan.trash, old);
                }
            } else {
                push_within_capacity(&mut plan.trash, p);
            }
        }
        for i in 0..plan.removes.len() {
            let slot = plan.removes[i] as usize;
            if let Some(old) = self.slots.get_mut(slot).and_then(Option::take) {
                push_within_capacity(&mut plan.trash, old);
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
            let dst = unsafe { buf(base, b, frames) };
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
                        RtInput::Device { buffer } => unsafe { buf(base, buffer, frames) },
                        RtInput::Sum {
                            scratch,
                            start,
                            len,
                        } => {
                            let ws = &plan.wires[start as usize..(start + len) as usize];
                            if len == 1 && plan.edges[ws[0].edge as usize].settled_unity() {
                                // SAFETY: a source buffer written by an earlier step.
                                unsafe { buf(base, ws[0].src, frames) }
                            } else {
                                // SAFETY: the scratch buffer belongs to this input alone.
                                let acc = unsafe { buf(base, scratch, frames) };
                                acc.fill(0.0);
                                for w in ws {
                                    // SAFETY: source buffers differ from the scratch buffer.
                                    let src = unsafe { buf(base, w.src, frames) };
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
                    *o = unsafe { buf(base, b, frames) };
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

    /// Point the plan's steps at the processors in their slots. Called on
    /// the audio thread when a plan is installed, after its processors
    /// moved in: the only time slots change.
    fn bind(&mut self) {
        let plan = &mut *self.plan;
        let n = plan.steps.len();
        plan.any_quiet = false;
        for i in 0..n {
            let step = &plan.steps[i];
            let proc_ = self
                .slots
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

    /// Recompute which output ports are metered: those whose meter was read
    /// lately (or all, when asked). A few loads per port, when a plan
    /// arrives, when a meter is first read in an epoch and once an epoch.
    fn refresh_watch(&mut self) {
        let plan = &mut *self.plan;
        let epoch = self.meters.epoch();
        let all = self.meters.watching_all();
        for (i, step) in plan.steps.iter().enumerate() {
            let mut mask = 0u8;
            let n_out = (step.out_len as usize).min(u8::BITS as usize);
            for k in 0..n_out {
                let m = plan.outputs[step.out_start as usize + k].meter;
                if m != NONE && (all || self.meters.watched(m as usize, epoch)) {
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
                    if let Some(r) = self.rms_state.get_mut(m as usize) {
                        *r = f32::NAN;
                    }
                }
            }
        }
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

static ZEROS: [f32; MAX_BLOCK] = [0.0; MAX_BLOCK];

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
    unsafe fn blocks<'a>(&self) -> ([&'a [f32]; 2], [&'a mut [f32]; 2]) {
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
    fn is_plain(&self, quiet: bool) -> bool {
        self.direct && self.watch == 0 && !(quiet && self.may_quiet)
    }
}

/// Run consecutive plain steps from `start` (`Bound::is_plain`), settled
/// and whole-block, and return where they end, with the slot of a node
/// whose output went non-finite if `check` looked. The hot loop for a
/// chain of cheap nodes, in a function of its own so it keeps its state
/// in registers.
#[inline(never)]
fn run_plain(
    bound: &[Bound],
    start: usize,
    quiet: bool,
    check: bool,
    ctx: &ProcessContext,
) -> (usize, Option<u32>) {
    let mut fault = None;
    let mut i = start;
    while let Some(bd) = bound.get(i) {
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
fn skip_quiet(
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

/// Denormal (subnormal) floats flushed to zero while a block runs: a
/// decaying filter tail or feedback loop would otherwise slow to a crawl on
/// x86 once its state falls below 1e-38. The previous mode comes back when
/// the guard drops, so the audio thread's caller sees no change.
struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
    #[cfg(target_arch = "aarch64")]
    saved: u64,
}

impl FlushDenormals {
    #[inline]
    fn enable() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            let mut saved: u32 = 0;
            // SAFETY: reads and writes MXCSR only; FTZ (bit 15) and DAZ
            // (bit 6) change how subnormals round, nothing else.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut saved, options(nostack, preserves_flags));
                let on = saved | (1 << 15) | (1 << 6);
                std::arch::asm!("ldmxcsr [{}]", in(reg) &on, options(nostack, readonly, preserves_flags));
            }
            FlushDenormals { saved }
        }
        #[cfg(target_arch = "aarch64")]
        {
            let saved: u64;
            // SAFETY: reads and writes FPCR only; FZ (bit 24) flushes subnormals.
            unsafe {
                std::arch::asm!("mrs {}, fpcr", out(reg) saved, options(nomem, nostack, preserves_flags));
                std::arch::asm!("msr fpcr, {}", in(reg) saved | (1 << 24), options(nomem, nostack, preserves_flags));
            }
            FlushDenormals { saved }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        FlushDenormals {}
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the MXCSR value read in `enable`.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &self.saved, options(nostack, readonly, preserves_flags));
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: restores the FPCR value read in `enable`.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) self.saved, options(nomem, nostack, preserves_flags));
        }
    }
}
