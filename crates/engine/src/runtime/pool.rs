//! Worker threads that help the audio thread run one block's tasks.
//!
//! The audio thread publishes a block (`Pool::start`): the job, each task's
//! count of unfinished predecessors and the order to look at them in, then
//! a new epoch. Every thread, the audio thread too, claims ready tasks and
//! runs them; finishing one counts down its dependants. The audio thread
//! returns once all are done. Nothing here locks or allocates: a claim is
//! a compare-and-swap of the task's last epoch, so a worker that wakes late
//! can never claim a task of a block that is over (its epoch would go back)
//! and so never touches a plan that may have been freed. Workers spin a
//! little between blocks, then sleep on a futex the audio thread wakes.

use super::denormal::FlushDenormals;
use super::meter::MeterPass;
use super::steps::{Job, run_steps};
use super::tasks::Task;
use crate::meters::{MAX_THREADS, Stats};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

/// The most tasks a plan may have to run on several threads; a plan with
/// more runs on one (a patch of thousands of independent branches is not
/// what the pool is for).
pub(crate) const MAX_TASKS: usize = 4096;

/// Bits of `Shared::state` below the epoch, holding the task count.
const COUNT_BITS: u32 = 16;
const _: () = assert!(MAX_TASKS < 1 << COUNT_BITS);

/// Rounds a worker spins on a finished block before it sleeps, about 7 µs
/// here: enough to catch the next block of an offline render, which follows
/// at once. A device's next block is a period away, so spinning longer
/// would only keep a core (and, in a virtual machine, a virtual CPU the
/// host may take away for spinning) from the rest of the system.
const SPIN_ROUNDS: u32 = 256;

/// What a worker's real-time request came to (`Stats::worker_rt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerPriority {
    /// The audio thread does not run at real-time priority, so neither do
    /// the workers (offline rendering, or a system that refused it).
    NotAsked,
    /// The workers run at the audio thread's policy and priority.
    Granted { policy: i32, priority: i32 },
    /// The system refused it (`errno`); the workers run at normal priority.
    Refused { errno: i32 },
}

impl WorkerPriority {
    pub(crate) fn encode(self) -> u64 {
        match self {
            WorkerPriority::NotAsked => 0,
            WorkerPriority::Granted { policy, priority } => {
                1 | (policy as u64 & 0xff) << 8 | (priority as u64 & 0xff) << 16
            }
            WorkerPriority::Refused { errno } => 2 | (errno as u64 & 0xffff) << 8,
        }
    }

    pub fn decode(v: u64) -> WorkerPriority {
        match v & 0xff {
            1 => WorkerPriority::Granted {
                policy: ((v >> 8) & 0xff) as i32,
                priority: ((v >> 16) & 0xff) as i32,
            },
            2 => WorkerPriority::Refused {
                errno: ((v >> 8) & 0xffff) as i32,
            },
            _ => WorkerPriority::NotAsked,
        }
    }

    /// In words, for `play` and the status bar.
    pub fn describe(self) -> String {
        match self {
            WorkerPriority::NotAsked => "normal priority".into(),
            WorkerPriority::Granted { policy, priority } => {
                let p = if policy == libc::SCHED_RR {
                    "RR"
                } else {
                    "FIFO"
                };
                format!("real-time {p} {priority}")
            }
            WorkerPriority::Refused { errno } => format!(
                "real-time priority refused ({}); normal priority",
                std::io::Error::from_raw_os_error(errno)
            ),
        }
    }
}

/// What the audio thread and the workers share.
pub(crate) struct Shared {
    /// Epoch of the block being run, shifted past the count of its tasks.
    state: AtomicU64,
    /// The low bits of the epoch, for workers to sleep on.
    wake: AtomicU32,
    /// Workers asleep or about to be.
    parked: AtomicU32,
    quit: AtomicBool,
    /// The job of the block (the audio thread's `Core` keeps it boxed).
    job: AtomicPtr<Job>,
    /// Per task: predecessors not yet finished this block.
    pending: Box<[AtomicU32]>,
    /// Per task: the last epoch it was claimed in.
    claim: Box<[AtomicU64]>,
    /// The order threads look at tasks in (critical chain first).
    order: Box<[AtomicU32]>,
    /// Tasks finished this block.
    done: AtomicU32,
    /// A core is running a block on the pool. Only one core runs at a time,
    /// but should an old one still be called while its replacement runs, it
    /// finds the pool taken and runs its block alone.
    taken: AtomicBool,
    /// The policy and priority the audio thread runs at (-1: not known).
    want_policy: AtomicI32,
    want_priority: AtomicI32,
    stats: Arc<Stats>,
}

/// The worker threads of one engine. Dropping it stops and joins them.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// A pool of `workers` threads, counting their busy time in `stats`
    /// (thread 0 is the audio thread, the workers 1 on).
    pub(crate) fn new(workers: usize, stats: Arc<Stats>) -> Pool {
        let workers = workers.min(MAX_THREADS - 1);
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            wake: AtomicU32::new(0),
            parked: AtomicU32::new(0),
            quit: AtomicBool::new(false),
            job: AtomicPtr::new(std::ptr::null_mut()),
            pending: (0..MAX_TASKS).map(|_| AtomicU32::new(0)).collect(),
            claim: (0..MAX_TASKS).map(|_| AtomicU64::new(0)).collect(),
            order: (0..MAX_TASKS).map(|_| AtomicU32::new(0)).collect(),
            done: AtomicU32::new(0),
            taken: AtomicBool::new(false),
            want_policy: AtomicI32::new(-1),
            want_priority: AtomicI32::new(-1),
            stats,
        });
        shared
            .stats
            .threads
            .store(1 + workers as u32, Ordering::Relaxed);
        let handles = (0..workers)
            .filter_map(|i| {
                let sh = shared.clone();
                std::thread::Builder::new()
                    .name(format!("ohmpatch-dsp-{}", i + 1))
                    .spawn(move || worker(&sh, i + 1))
                    .ok()
            })
            .collect();
        Pool {
            shared,
            workers: handles,
        }
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.quit.store(true, Ordering::SeqCst);
        self.shared.wake.fetch_add(1, Ordering::SeqCst);
        futex_wake(&self.shared.wake);
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

impl Shared {
    /// Threads that take part in a block: the audio thread and the workers.
    pub(crate) fn threads(&self) -> usize {
        self.stats.threads.load(Ordering::Relaxed) as usize
    }

    /// Tell the workers the audio thread's scheduling, once it is known:
    /// they take the same when they next wake.
    pub(crate) fn tell_priority(&self) {
        if self.want_policy.load(Ordering::Relaxed) >= 0 {
            return;
        }
        let (policy, priority) = current_priority();
        self.want_priority.store(priority, Ordering::Relaxed);
        self.want_policy.store(policy, Ordering::Release);
    }

    /// Take the pool for one block (`run`, then `release`); false when
    /// another core has it.
    pub(super) fn take(&self) -> bool {
        self.taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(super) fn release(&self) {
        self.taken.store(false, Ordering::Release);
    }

    /// Run one block's tasks on this thread and the workers; return when
    /// all are done. Only between `take` and `release`.
    ///
    /// # Safety
    /// `job` stays where it is and describes the installed plan, whose
    /// tasks are `tasks` and `succ`, for the whole call; nothing else runs
    /// the plan meanwhile.
    pub(super) unsafe fn run(&self, job: *mut Job, tasks: &[Task], order: &[u32]) {
        let n = tasks.len().min(MAX_TASKS);
        // Epochs only grow, whichever core runs on this pool: a claim of an
        // older epoch can never be mistaken for one of this block.
        let epoch = (self.state.load(Ordering::Relaxed) >> COUNT_BITS) + 1;
        for (t, task) in tasks.iter().enumerate().take(n) {
            self.pending[t].store(task.deps, Ordering::Relaxed);
        }
        for (k, &t) in order.iter().enumerate().take(n) {
            self.order[k].store(t, Ordering::Relaxed);
        }
        self.done.store(0, Ordering::Relaxed);
        self.job.store(job, Ordering::Relaxed);
        self.state
            .store(epoch << COUNT_BITS | n as u64, Ordering::Release);
        self.wake.store(epoch as u32, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) > 0 {
            futex_wake(&self.wake);
        }
        let mut busy = 0;
        // SAFETY: the caller's contract.
        let mut countdown = unsafe { (*job).meter_phase };
        // SAFETY: the caller's contract.
        unsafe { self.help(epoch, n, &mut busy, &mut countdown) };
        while (self.done.load(Ordering::Acquire) as usize) < n {
            std::hint::spin_loop();
        }
    }

    /// Claim and run ready tasks of block `epoch` until none is left
    /// unclaimed (or the block is over). Adds the time spent running them
    /// to `busy`.
    ///
    /// # Safety
    /// Only after reading `epoch` and `n` from `state`.
    unsafe fn help(&self, epoch: u64, n: usize, busy: &mut u64, countdown: &mut u32) {
        'scan: loop {
            let mut open = false;
            for k in 0..n {
                let t = self.order[k].load(Ordering::Relaxed) as usize;
                if t >= n {
                    continue;
                }
                let c = self.claim[t].load(Ordering::Acquire);
                if c >= epoch {
                    continue;
                }
                open = true;
                if self.pending[t].load(Ordering::Acquire) != 0 {
                    continue;
                }
                if self.claim[t]
                    .compare_exchange(c, epoch, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                // Claimed in this epoch while unclaimed before: the block is
                // not over (it ends only when every task has run), so the
                // job and its plan are alive until this task is done.
                let t0 = Instant::now();
                // SAFETY: as above; the task's predecessors are done.
                unsafe { self.run_task(t, countdown) };
                *busy += t0.elapsed().as_nanos() as u64;
                continue 'scan;
            }
            if !open || self.state.load(Ordering::Acquire) >> COUNT_BITS != epoch {
                return;
            }
            std::hint::spin_loop();
        }
    }

    /// # Safety
    /// Task `t` of the running block was claimed by this thread.
    unsafe fn run_task(&self, t: usize, countdown: &mut u32) {
        // SAFETY: the block is running, so the job describes its plan.
        let job = unsafe { &*self.job.load(Ordering::Acquire) };
        // SAFETY: read-only during the block.
        let (tasks, succ) = unsafe { (job.tasks.slice(), job.task_succ.slice()) };
        let task = tasks[t];
        let mut meter = MeterPass::of_job(job, &self.stats, *countdown);
        // SAFETY: the task's steps are this thread's until it is done;
        // what they read was written by tasks finished before (`pending`).
        unsafe { run_steps(job, task.start as usize, task.end as usize, &mut meter) };
        *countdown = meter.countdown;
        let (s, len) = task.succ;
        for &u in &succ[s as usize..(s + len) as usize] {
            if let Some(p) = self.pending.get(u as usize) {
                p.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.done.fetch_add(1, Ordering::AcqRel);
    }
}

/// A worker: wait for a block, help run it, again.
fn worker(sh: &Shared, index: usize) {
    let mut seen = sh.state.load(Ordering::Acquire) >> COUNT_BITS;
    let mut applied = -1;
    let mut spins = 0;
    loop {
        if sh.quit.load(Ordering::Acquire) {
            return;
        }
        let s = sh.state.load(Ordering::Acquire);
        let epoch = s >> COUNT_BITS;
        if epoch == seen {
            spins += 1;
            if spins < SPIN_ROUNDS {
                std::hint::spin_loop();
                continue;
            }
            sh.parked.fetch_add(1, Ordering::SeqCst);
            futex_wait(&sh.wake, seen as u32);
            sh.parked.fetch_sub(1, Ordering::SeqCst);
            spins = 0;
            continue;
        }
        seen = epoch;
        spins = 0;
        let policy = sh.want_policy.load(Ordering::Acquire);
        if policy >= 0 && policy != applied {
            applied = policy;
            let got = take_priority(policy, sh.want_priority.load(Ordering::Relaxed));
            sh.stats.worker_rt.store(got.encode(), Ordering::Relaxed);
        }
        let n = (s & ((1 << COUNT_BITS) - 1)) as usize;
        let mut busy = 0;
        let mut countdown = 0;
        crate::backend::rt_guard(|| {
            let _ftz = FlushDenormals::enable();
            // SAFETY: `epoch` and `n` were read from `state` together.
            unsafe { sh.help(epoch, n, &mut busy, &mut countdown) };
        });
        if let Some(b) = sh.stats.busy_ns.get(index) {
            b.store(b.load(Ordering::Relaxed) + busy, Ordering::Relaxed);
        }
    }
}

/// This thread's scheduling policy and priority (policy `SCHED_OTHER`
/// when it is not real-time).
fn current_priority() -> (i32, i32) {
    let mut policy = 0;
    // SAFETY: plain C structs filled by the call.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: `pthread_self` is always valid for the calling thread.
    let r = unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
    if r != 0 {
        return (libc::SCHED_OTHER, 0);
    }
    (policy, param.sched_priority)
}

/// Take `policy` at `priority` for this thread, if real-time.
fn take_priority(policy: i32, priority: i32) -> WorkerPriority {
    if policy != libc::SCHED_FIFO && policy != libc::SCHED_RR {
        return WorkerPriority::NotAsked;
    }
    // SAFETY: plain C struct.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = priority;
    // SAFETY: `pthread_self` is valid; `param` lives across the call.
    let r = unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) };
    if r == 0 {
        WorkerPriority::Granted { policy, priority }
    } else {
        WorkerPriority::Refused { errno: r }
    }
}

/// Sleep while `word` holds `value` (or until woken).
#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, value: u32) {
    // SAFETY: FUTEX_WAIT reads the word through the pointer and sleeps; a
    // changed value returns at once.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            value,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wake everyone sleeping on `word`. Never blocks.
#[cfg(target_os = "linux")]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only reads the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

/// Elsewhere: yield instead of sleeping.
#[cfg(not(target_os = "linux"))]
fn futex_wait(word: &AtomicU32, value: u32) {
    if word.load(Ordering::SeqCst) == value {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

#[cfg(not(target_os = "linux"))]
fn futex_wake(_: &AtomicU32) {}
