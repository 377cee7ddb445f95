//! The audio-thread engine: takes plans and parameter changes at block
//! boundaries and runs the plan block by block. Nothing here allocates,
//! frees, locks or blocks once built: plans arrive whole over a bounded
//! channel and leave the same way.

use super::denormal::FlushDenormals;
use super::meter::{FAULT_CHECK_EVERY, MeterPass};
use super::plan::{Plan, ZEROS};
use super::pool::{MAX_TASKS, Shared as PoolShared};
use super::steps::{Job, buf_mut, run_steps};
use super::{FromCore, ToCore};
use crate::meters::{Meters, Stats};
use crate::node::{MAX_BLOCK, MAX_PORTS, ProcessContext, Processor};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// With worker threads, every node is timed on one block in this many
/// (0.7 s at 128 frames) and on the first blocks of a plan.
const PROFILE_EVERY: u64 = 256;
/// Blocks timed when a plan arrives.
const PROFILE_ON_INSTALL: u32 = 4;

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
    /// The block's work as the threads that run it see it; boxed so it
    /// stays put while the core moves.
    pub(super) job: Box<Job>,
    /// Per slot: how long its node takes a block, ns (measured now and then).
    pub(super) node_cost: Vec<f32>,
    /// Worker threads, when the engine has them.
    pub(super) pool: Option<Arc<PoolShared>>,
    /// Run a plan's tasks on the workers when that saves at least this
    /// much a block, ns (`EngineConfig::parallel_min_us`).
    pub(super) parallel_min_ns: f32,
    /// Blocks still to be timed since the plan arrived.
    pub(super) profile_left: u32,
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
    pub pool: Option<Arc<PoolShared>>,
    pub parallel_min_ns: f32,
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
            job: Box::new(Job::new()),
            node_cost: vec![0.0; s.slots],
            pool: s.pool,
            parallel_min_ns: s.parallel_min_ns,
            profile_left: 0,
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
        self.profile_left = PROFILE_ON_INSTALL;
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

        // Plans split into tasks (an engine with worker threads) have their
        // nodes timed now and then, to weigh one thread against several.
        let tasks = plan.task_count();
        let profile =
            tasks > 1 && (self.profile_left > 0 || self.block_count.is_multiple_of(PROFILE_EVERY));
        self.profile_left = self.profile_left.saturating_sub(1);
        let job = &mut *self.job;
        job.set(
            plan,
            &mut self.slots,
            &mut self.node_cost,
            &mut self.rms_state,
            &self.meters,
        );
        job.ctx = ctx;
        // The settled path hands out whole blocks; a shorter one, at the end
        // of an odd-sized device buffer, takes the general path.
        job.settled = self.fast_paths && plan.settled;
        job.quiet = plan.any_quiet;
        job.profile = profile;
        job.check = check;
        job.meter_every = meter_every;
        job.meter_coeff = self.meter_coeff.1;
        job.meter_phase = self.meter_phase.min(meter_every - 1);
        match &self.pool {
            Some(pool) if plan.parallel && pool.take() => {
                pool.tell_priority();
                // SAFETY: the job describes the installed plan, whose tasks
                // these are, and stays boxed in this core for the call.
                unsafe { pool.run(job, &plan.tasks, &plan.task_order) };
                pool.release();
            }
            _ => {
                let mut meter = MeterPass::of_job(job, &self.stats, job.meter_phase);
                // SAFETY: the job describes the installed plan and this
                // thread alone runs it.
                unsafe { run_steps(job, 0, plan.steps.len(), &mut meter) };
            }
        }
        if profile {
            let w = plan.weigh(&self.node_cost);
            let threads = self.pool.as_ref().map_or(1, |p| p.threads());
            let saving = w.saving_ns(threads);
            // Some hysteresis, so a plan near the threshold does not switch
            // back and forth as its timings wobble.
            let bar = if plan.parallel {
                self.parallel_min_ns * 0.5
            } else {
                self.parallel_min_ns
            };
            plan.parallel = self.pool.is_some() && tasks <= MAX_TASKS && saving > bar;
            self.stats.parallel.store(plan.parallel, Ordering::Relaxed);
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
