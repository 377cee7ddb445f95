//! The audio-thread side: a compiled plan, the processors it runs and the
//! loop that runs them. Nothing here allocates, frees, locks or blocks once
//! built: plans arrive whole over a bounded channel and leave the same way.

use crate::impedance::LoadingState;
use crate::meters::{Meters, Stats};
use crate::node::{MAX_BLOCK, MAX_PORTS, ProcessContext, Processor};
use crossbeam_channel::{Receiver, Sender};
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
    pub(crate) buffers: Vec<f32>,
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
}

impl Plan {
    pub(crate) fn empty() -> Plan {
        Plan {
            generation: 0,
            steps: Vec::new(),
            inputs: Vec::new(),
            wires: Vec::new(),
            outputs: Vec::new(),
            buffers: vec![0.0; MAX_BLOCK],
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
        }
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
}

/// Slices of one flat buffer store, handed out by index.
///
/// SAFETY contract: the compiler never gives a step an output buffer that is
/// also one of its inputs, and every index is below the buffer count, so the
/// shared and mutable slices made from the same base pointer never overlap.
#[inline]
unsafe fn buf<'a>(base: *mut f32, index: u32, frames: usize) -> &'a mut [f32] {
    // SAFETY: see the function's contract.
    unsafe { std::slice::from_raw_parts_mut(base.add(index as usize * MAX_BLOCK), frames) }
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
                *r = 0.0;
            }
        }
        // Running state carries over from the plan being replaced.
        let fade = plan.fade_frames.max(1.0);
        for i in 0..plan.edges.len() {
            let from = plan.edge_inherit[i];
            if let Some(old) = self.plan.edges.get(from as usize) {
                let e = &mut plan.edges[i];
                e.gain = old.gain;
                e.step = (e.target - e.gain) / fade;
            } else if from == NONE {
                let e = &mut plan.edges[i];
                e.step = (e.target - e.gain) / fade;
            }
        }
        for i in 0..plan.loadings.len() {
            let from = plan.loading_inherit[i];
            if let Some(old) = self.plan.loadings.get(from as usize) {
                plan.loadings[i].inherit(old, f64::from(fade));
            }
        }
        let mut old = std::mem::replace(&mut self.plan, plan);
        std::mem::swap(&mut old.trash, &mut self.plan.trash);
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
        let ctx = ProcessContext {
            sample_rate: self.sample_rate,
            frames,
            time: self.time,
        };
        // Each metered port is measured once every `meter_every` blocks, and
        // the ports take turns (port j on the blocks where j ≡ block (mod
        // meter_every)), so the metering cost is spread evenly over blocks
        // instead of landing on one block in `meter_every`.
        let meter_every = u64::from(self.meter_every.max(1));
        let mut meter_countdown = self.block_count % meter_every;
        let meter_coeff = 1.0
            - (-(frames as f64 * f64::from(self.meter_every.max(1))) / (0.3 * self.sample_rate))
                .exp() as f32;
        let plan = &mut *self.plan;
        let base = plan.buffers.as_mut_ptr();
        let nbuf = plan.buffers.len() / MAX_BLOCK;

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
        // The body of one step, for a given size of the port arrays: most
        // nodes have one or two ports a side, and gathering their slices
        // into 2-slot arrays instead of `MAX_PORTS`-slot ones saves the
        // stores that would clear the unused slots, on every step of every
        // block.
        macro_rules! run_step {
            ($step:expr, $ports:expr) => {{
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
                for (k, o) in outs.iter_mut().enumerate().take(n_out) {
                    let spec = plan.outputs[step.out_start as usize + k];
                    if let Some(l) = plan.loadings.get_mut(spec.loading as usize)
                        && !l.is_unity()
                    {
                        l.apply(o);
                    }
                    if spec.meter == NONE {
                        continue;
                    }
                    if meter_countdown > 0 {
                        meter_countdown -= 1;
                        continue;
                    }
                    meter_countdown = meter_every - 1;
                    let (peak, ms) = peak_and_ms(o);
                    if !peak.is_finite() {
                        self.stats
                            .faulty_slot
                            .store(u64::from(step.slot) + 1, Ordering::Relaxed);
                    }
                    let state = &mut self.rms_state[spec.meter as usize];
                    *state += meter_coeff * (ms - *state);
                    if !state.is_finite() {
                        *state = 0.0;
                    }
                    self.meters.update(spec.meter as usize, peak, state.sqrt());
                }
            }};
        }
        for step in &plan.steps {
            if step.in_len <= 2 && step.out_len <= 2 {
                run_step!(step, 2);
            } else {
                run_step!(step, MAX_PORTS);
            }
        }
        self.time += frames as u64;
        self.block_count += 1;
        self.stats
            .frames
            .fetch_add(frames as u64, Ordering::Relaxed);
    }

    /// The samples of device output `i` from the last block.
    pub fn device_out(&self, i: usize, frames: usize) -> &[f32] {
        match self.plan.device_outs.get(i) {
            Some(&(b, _)) => {
                let start = b as usize * MAX_BLOCK;
                &self.plan.buffers[start..start + frames.min(MAX_BLOCK)]
            }
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
                let start = b as usize * MAX_BLOCK;
                let src = &self.plan.buffers[start..start + frames];
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
