//! A plan: everything the audio thread needs to run one patch, as flat
//! arrays built on the control thread (`PlanBuilder`) and prepared for the
//! settled path before it is sent.

use super::tasks::Task;
use crate::impedance::LoadingState;
use crate::meters::Meters;
use crate::node::{MAX_BLOCK, MAX_PORTS, Processor};
use std::ptr::NonNull;

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RtStepKind {
    Process,
    FeedbackRead,
    FeedbackWrite,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct RtStep {
    pub slot: u32,
    pub kind: RtStepKind,
    pub in_start: u32,
    pub in_len: u32,
    pub out_start: u32,
    pub out_len: u32,
}

impl RtStep {
    pub(super) fn new(
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
pub(super) struct Bound {
    /// The processor in the step's slot; set on the audio thread when the
    /// plan is installed (`Core::bind`), the only time slots change.
    pub(super) proc_: Option<NonNull<dyn Processor>>,
    /// Start of each input's block (the shared silence when unconnected).
    pub(super) ins: [*const f32; 2],
    /// Start of each output's block (a spare block for an unused slot).
    pub(super) outs: [*mut f32; 2],
    /// The step's slot, copied so the settled path reads this line alone.
    pub(super) slot: u32,
    pub(super) n_in: u8,
    pub(super) n_out: u8,
    /// The step can take the settled path (`Plan::prepare`): at most two
    /// ports a side, every input unconnected, a device input or one wire at
    /// unity, every output unloaded. Once no wire or loading is ramping its
    /// blocks are known in advance and nothing needs mixing or scaling.
    pub(super) direct: bool,
    /// Bit k: output k is metered (someone reads its meter). Refreshed on
    /// the audio thread when a meter starts being read and at each epoch.
    pub(super) watch: u8,
    /// The processor may be quiet and so may everything it reads from
    /// (`Core::bind`): only such a step is ever skipped on silence.
    pub(super) may_quiet: bool,
    /// When skipped, its blocks must still be zeroed: something reads them
    /// that is not itself skip-aware (a node that is never quiet, the
    /// device, a mix of several wires). Otherwise readers are told to read
    /// silence instead, and the block is left as it was (`Core::bind`).
    pub(super) must_fill: bool,
}

/// What the settled path needs of a step only now and then (metering,
/// silence), kept off its `Bound` line so that stays one cache line.
#[derive(Clone, Copy)]
pub(super) struct BoundInfo {
    /// The step's first output in `Plan::outputs`.
    pub(super) out_start: u32,
    /// The step whose output each input reads, as an index into
    /// `Plan::silent` (one past the steps for an unconnected input, two
    /// past for a device input).
    pub(super) from: [u32; 2],
    /// The device reads this step's output after the block.
    pub(super) feeds_device: bool,
    /// The steps that read this step's outputs: `Plan::readers[start..start + len]`.
    pub(super) readers: (u32, u32),
}

// SAFETY: the pointers lead into the plan's own buffers (a heap block that
// moves with the plan and is never resized), the static silence, and the
// boxed processors of the core the plan is installed in; they are set and
// followed on the audio thread only, while that core owns the plan.
unsafe impl Send for Bound {}

// One cache line a step.
const _: () = assert!(std::mem::size_of::<Bound>() == 64);

impl Bound {
    pub(super) const EMPTY: Bound = Bound {
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
pub(super) struct Block(pub [f32; MAX_BLOCK]);

impl Block {
    pub(super) const ZERO: Block = Block([0.0; MAX_BLOCK]);
}

#[derive(Clone, Copy, Debug)]
pub(super) enum RtInput {
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
pub(super) struct RtWire {
    pub src: u32,
    pub edge: u32,
    /// Its latency compensation (`Plan::delays`), `NONE` when in step.
    pub delay: u32,
}

/// A wire's latency compensation: a ring holding the last samples of its
/// source, as many as it delays, so paths of different latency meet in step.
#[derive(Clone)]
pub(super) struct DelayLine {
    pub ring: Vec<f32>,
    pub pos: usize,
    /// This block's delayed samples.
    pub out: Block,
}

impl DelayLine {
    fn new(delay: usize) -> DelayLine {
        DelayLine {
            ring: vec![0.0; delay.max(1)],
            pos: 0,
            out: Block::ZERO,
        }
    }

    /// Push this block of the source and return it as many samples late as
    /// the ring is long.
    pub fn run(&mut self, src: &[f32]) -> &[f32] {
        let out: &mut [f32] = &mut self.out.0;
        for (o, x) in out.iter_mut().zip(src) {
            *o = self.ring[self.pos];
            self.ring[self.pos] = *x;
            self.pos += 1;
            if self.pos == self.ring.len() {
                self.pos = 0;
            }
        }
        &self.out.0[..src.len()]
    }

    /// Take over the running contents of the line this one replaces, when
    /// it delays as much (no allocation: both rings exist already).
    pub fn inherit(&mut self, old: &DelayLine) {
        if old.ring.len() == self.ring.len() {
            self.ring.copy_from_slice(&old.ring);
            self.pos = old.pos;
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct RtOutput {
    pub buffer: u32,
    pub loading: u32,
    pub meter: u32,
}

/// A wire's gain, ramped when a wire appears or goes so edits do not click.
#[derive(Clone, Copy, Debug)]
pub(super) struct EdgeGain {
    pub gain: f32,
    pub target: f32,
    pub step: f32,
}

impl EdgeGain {
    #[inline]
    pub(super) fn settled_unity(&self) -> bool {
        self.gain == 1.0 && self.target == 1.0
    }
}

/// Everything the audio thread needs to run one patch, built on the control
/// thread.
pub struct Plan {
    pub(super) generation: u64,
    pub(super) steps: Vec<RtStep>,
    pub(super) inputs: Vec<RtInput>,
    pub(super) wires: Vec<RtWire>,
    pub(super) outputs: Vec<RtOutput>,
    pub(super) buffers: Vec<Block>,
    pub(super) edges: Vec<EdgeGain>,
    pub(super) edge_inherit: Vec<u32>,
    pub(super) loadings: Vec<LoadingState>,
    pub(super) loading_inherit: Vec<u32>,
    /// Latency compensation lines, and which of the last plan's each
    /// carries on from.
    pub(super) delays: Vec<DelayLine>,
    pub(super) delay_inherit: Vec<u32>,
    /// (buffer, device channel) per device output.
    pub(super) device_outs: Vec<(u32, u32)>,
    /// (buffer, device channel) per device input.
    pub(super) device_ins: Vec<(u32, u32)>,
    pub(super) installs: Installs,
    pub(super) removes: Vec<u32>,
    /// Processors taken out of the slots; capacity reserved on the control thread.
    pub(super) trash: Vec<Box<dyn Processor>>,
    /// Frames over which new and removed wires fade.
    pub(super) fade_frames: f32,
    /// Meter indices to clear when this plan starts (slots reused).
    pub(super) clear_meters: Vec<u32>,
    /// Per step, how the settled path runs it.
    pub(super) bound: Vec<Bound>,
    /// Per step, the rest of it.
    pub(super) info: Vec<BoundInfo>,
    /// No wire and no loading is ramping: steps marked `direct` may take
    /// the settled path. False when a plan arrives, until its fades end.
    pub(super) settled: bool,
    /// Per step: it was skipped this block because it was quiet on silent
    /// input, so its outputs are silent. Two more entries at the end:
    /// always silent (an unconnected input) and never (a device input).
    pub(super) silent: Vec<bool>,
    /// Some step may be skipped on silence (`Core::bind`).
    pub(super) any_quiet: bool,
    /// The readers of every step's outputs, back to back (`Bound::readers`).
    pub(super) readers: Vec<u32>,
    /// The steps as tasks for several threads (`Plan::partition`); empty
    /// for an engine without worker threads.
    pub(super) tasks: Vec<Task>,
    /// The tasks waiting on each task, back to back (`Task::succ`).
    pub(super) task_succ: Vec<u32>,
    /// The order threads look for ready tasks in, and each task's cost and
    /// rank (ns), worked out on the audio thread (`Plan::weigh`).
    pub(super) task_order: Vec<u32>,
    pub(super) task_cost: Vec<f32>,
    pub(super) task_rank: Vec<f32>,
    /// This plan's tasks run on the worker threads too: they save more
    /// than handing them out costs (`Core::run_block`).
    pub(super) parallel: bool,
}

impl Plan {
    pub(super) fn empty() -> Plan {
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
            delays: Vec::new(),
            delay_inherit: Vec::new(),
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
            tasks: Vec::new(),
            task_succ: Vec::new(),
            task_order: Vec::new(),
            task_cost: Vec::new(),
            task_rank: Vec::new(),
            parallel: false,
        }
    }

    /// Work out which steps can take the settled path and where their
    /// buffers are. Called on the control thread once the plan is built.
    fn prepare(&mut self) {
        // Two blocks nobody reads: the settled path points a step's unused
        // output slots at them, so it can build both slices without a branch.
        let spare = self.buffers.len() as u32;
        self.buffers.extend([Block::ZERO; 2]);
        // A large zeroed allocation is mapped lazily: its pages would be
        // faulted in by the audio thread on first write, a stall of a few
        // µs each. Touch them here instead.
        prefault(&mut self.buffers);
        for d in &mut self.delays {
            prefault(&mut d.ring);
        }
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
                        direct &= self.edges[w.edge as usize].target == 1.0 && w.delay == NONE;
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
    pub(super) fn fades_done(&self) -> bool {
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

/// Processors to move into their slots when a plan is installed.
pub(crate) type Installs = Vec<(u32, Box<dyn Processor>)>;

/// Builds a plan on the control thread in schedule order: for each step its
/// inputs and outputs, then the step itself, which takes those added since
/// the step before. Wire gains (`edge`) are numbered in the order added.
pub(crate) struct PlanBuilder {
    plan: Plan,
    in_mark: u32,
    out_mark: u32,
}

impl PlanBuilder {
    /// A plan of `buffers` blocks whose new and removed wires fade over
    /// `fade_frames`.
    pub(crate) fn new(generation: u64, fade_frames: f32, buffers: usize) -> PlanBuilder {
        let mut plan = Plan::empty();
        plan.generation = generation;
        plan.fade_frames = fade_frames;
        plan.buffers = vec![Block::ZERO; buffers];
        PlanBuilder {
            plan,
            in_mark: 0,
            out_mark: 0,
        }
    }

    /// A wire's gain, starting at `gain` and heading for `target`; it takes
    /// over the running gain of edge `inherit` of the plan it replaces
    /// (`NONE`: a new wire).
    pub(crate) fn edge(&mut self, gain: f32, target: f32, inherit: u32) {
        self.plan.edges.push(EdgeGain {
            gain,
            target,
            step: 0.0,
        });
        self.plan.edge_inherit.push(inherit);
    }

    /// An input with nothing connected.
    pub(crate) fn zero_input(&mut self) {
        self.plan.inputs.push(RtInput::Zero);
    }

    /// An input that reads device input samples from `buffer`.
    pub(crate) fn device_input(&mut self, buffer: u32) {
        self.plan.inputs.push(RtInput::Device { buffer });
    }

    /// An input that sums wires into `scratch`, each (source buffer, edge,
    /// samples of latency compensation, the line of the last plan it
    /// carries on from).
    pub(crate) fn sum_input(
        &mut self,
        scratch: u32,
        wires: impl IntoIterator<Item = (u32, u32, usize, u32)>,
    ) {
        let start = self.plan.wires.len() as u32;
        for (src, edge, delay, inherit) in wires {
            let delay = if delay == 0 {
                NONE
            } else {
                self.plan.delays.push(DelayLine::new(delay));
                self.plan.delay_inherit.push(inherit);
                self.plan.delays.len() as u32 - 1
            };
            self.plan.wires.push(RtWire { src, edge, delay });
        }
        let len = self.plan.wires.len() as u32 - start;
        self.plan.inputs.push(RtInput::Sum {
            scratch,
            start,
            len,
        });
    }

    /// An output into `buffer` with its loading (carrying on from loading
    /// `inherit` of the plan it replaces) and meter (`NONE`: none); returns
    /// the loading's index.
    pub(crate) fn output(
        &mut self,
        buffer: u32,
        loading: LoadingState,
        inherit: u32,
        meter: u32,
    ) -> u32 {
        let li = self.plan.loadings.len() as u32;
        self.plan.loadings.push(loading);
        self.plan.loading_inherit.push(inherit);
        self.plan.outputs.push(RtOutput {
            buffer,
            loading: li,
            meter,
        });
        li
    }

    /// The step of the processor in `slot`, over the inputs and outputs
    /// added since the last step.
    pub(crate) fn step(&mut self, slot: u32, kind: RtStepKind) {
        let (ins, outs) = (
            self.plan.inputs.len() as u32,
            self.plan.outputs.len() as u32,
        );
        self.plan.steps.push(RtStep::new(
            slot,
            kind,
            (self.in_mark, ins - self.in_mark),
            (self.out_mark, outs - self.out_mark),
        ));
        (self.in_mark, self.out_mark) = (ins, outs);
    }

    #[cfg(test)]
    pub(super) fn plan_for_tests(self) -> Plan {
        self.plan
    }

    /// The device output channel `channel` plays `buffer`.
    pub(crate) fn device_out(&mut self, buffer: u32, channel: u32) {
        self.plan.device_outs.push((buffer, channel));
    }

    /// `buffer` receives device input channel `channel`.
    pub(crate) fn device_in(&mut self, buffer: u32, channel: u32) {
        self.plan.device_ins.push((buffer, channel));
    }

    /// The finished plan, which moves `installs` into their slots and
    /// empties the `removes` slots, prepared for the settled path, and
    /// split into tasks when `tasks` (an engine with worker threads).
    pub(crate) fn finish(self, installs: Installs, removes: Vec<u32>, tasks: bool) -> Box<Plan> {
        let mut plan = self.plan;
        for (slot, _) in &installs {
            for p in 0..MAX_PORTS {
                plan.clear_meters.push(Meters::index(*slot, p) as u32);
            }
        }
        // Room for every processor the plan takes out, so the audio thread
        // never grows the vector.
        plan.trash = Vec::with_capacity(installs.len() + removes.len());
        plan.installs = installs;
        plan.removes = removes;
        debug_assert_eq!(plan.aliasing(), None, "the plan breaks the aliasing rule");
        if tasks {
            plan.partition();
        }
        plan.prepare();
        Box::new(plan)
    }
}

impl Plan {
    /// The rule the audio thread's slices rest on (`runtime::core`): within
    /// a step, a buffer it writes (an output, a sum's scratch) is written
    /// through that one port and read by no other; a buffer it only reads
    /// (a source feeding several inputs, a device input) may be read by
    /// any number of them, as shared slices. The first step that breaks
    /// it, in words; checked on every plan in debug builds.
    pub(crate) fn aliasing(&self) -> Option<String> {
        for (si, s) in self.steps.iter().enumerate() {
            let (read, written) = self.step_buffers(s);
            for (k, b) in written.iter().enumerate() {
                if written[..k].contains(b) || read.contains(b) {
                    return Some(format!("step {si} writes buffer {b} through two ports"));
                }
            }
        }
        None
    }
}

impl Plan {
    /// The blocks step `s` reads (sources, device inputs) and writes (its
    /// sums' scratches, its outputs), in port order.
    pub(super) fn step_buffers(&self, s: &RtStep) -> (Vec<u32>, Vec<u32>) {
        let mut written: Vec<u32> = Vec::new();
        let mut read: Vec<u32> = Vec::new();
        let ins = &self.inputs[s.in_start as usize..(s.in_start + s.in_len) as usize];
        for inp in ins {
            match *inp {
                RtInput::Zero => {}
                RtInput::Device { buffer } => read.push(buffer),
                RtInput::Sum {
                    scratch,
                    start,
                    len,
                } => {
                    written.push(scratch);
                    let ws = &self.wires[start as usize..(start + len) as usize];
                    read.extend(ws.iter().map(|w| w.src));
                }
            }
        }
        let outs = &self.outputs[s.out_start as usize..(s.out_start + s.out_len) as usize];
        written.extend(outs.iter().map(|o| o.buffer));
        (read, written)
    }

    /// The processors of a plan that was never sent, to go with the next.
    pub(crate) fn into_unsent(self) -> (Installs, Vec<u32>) {
        (self.installs, self.removes)
    }
}

/// Write one element of every page of `v`, so none is left to fault in
/// later.
fn prefault<T: Copy>(v: &mut [T]) {
    let step = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for i in (0..v.len()).step_by(step) {
        let p: *mut T = &mut v[i];
        // SAFETY: `p` points at an element of `v`; writing its own value
        // back changes nothing but cannot be left out by the compiler.
        unsafe { std::ptr::write_volatile(p, std::ptr::read_volatile(p)) };
    }
}

/// The shared silence: an unconnected input reads it.
pub(super) static ZEROS: [f32; MAX_BLOCK] = [0.0; MAX_BLOCK];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impedance::Loading;

    /// A mixer-like step: two inputs summing `sources` into scratches 3
    /// and 4, writing `out`.
    fn plan_of(sources: [u32; 2], out: u32) -> Plan {
        let mut b = PlanBuilder::new(1, 1.0, 8);
        b.edge(1.0, 1.0, NONE);
        b.edge(1.0, 1.0, NONE);
        b.sum_input(3, [(sources[0], 0, 0, NONE)]);
        b.sum_input(4, [(sources[1], 1, 0, NONE)]);
        b.output(out, LoadingState::new(&Loading::Unity), NONE, NONE);
        b.step(0, RtStepKind::Process);
        b.plan
    }

    #[test]
    fn two_inputs_may_read_one_source_but_no_port_writes_what_another_uses() {
        // One fan-out block read by both inputs: shared, allowed.
        assert_eq!(plan_of([1, 1], 2).aliasing(), None);
        // The output is the block an input reads: refused.
        assert!(plan_of([1, 2], 2).aliasing().is_some());
        // The output is an input's scratch: refused.
        assert!(plan_of([1, 1], 3).aliasing().is_some());
    }
}
