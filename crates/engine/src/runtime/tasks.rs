//! A plan as a graph of tasks for several threads: each task a chain of
//! steps between joins, run in order by one thread; a task starts once the
//! tasks it reads from are done. Built on the control thread
//! (`Plan::partition`); its costs and the choice of one thread or several
//! are worked out on the audio thread from what the nodes were measured to
//! take (`Plan::weigh`).

use super::plan::{NONE, Plan};

/// A chain of steps `start..end` that one thread runs in order.
#[derive(Clone, Copy, Debug)]
pub(super) struct Task {
    pub(super) start: u32,
    pub(super) end: u32,
    /// How many tasks must finish before this one may start.
    pub(super) deps: u32,
    /// The tasks waiting on this one: `Plan::task_succ[start..start + len]`.
    pub(super) succ: (u32, u32),
}

/// How a plan's tasks are weighed against running them on one thread.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Weighing {
    /// The sum of every node's cost, ns a block.
    pub(super) total_ns: f32,
    /// The longest chain of dependent tasks, ns: no number of threads
    /// finishes a block sooner.
    pub(super) critical_ns: f32,
}

impl Weighing {
    /// What running on `threads` threads is expected to save a block, ns,
    /// before the cost of handing work out.
    pub(super) fn saving_ns(&self, threads: usize) -> f32 {
        let spread = self.total_ns / threads.max(1) as f32;
        self.total_ns - spread.max(self.critical_ns)
    }
}

impl Plan {
    /// Split the steps into tasks and put each task's steps next to each
    /// other. A step joins the task of the one step it depends on when it
    /// is that step's only dependant; otherwise (a join, a fork, a source)
    /// it starts a task. A step depends on another that writes a buffer it
    /// reads (the data), that reads or writes a buffer it writes (a reused
    /// block), or that uses the same processor (a feedback pair). Tasks
    /// keep the order of their first steps, so the new step order is still
    /// a valid schedule and one thread running it in order gets the same
    /// samples. Before `prepare`, on the control thread.
    pub(super) fn partition(&mut self) {
        let n = self.steps.len();
        let nbuf = self.buffers.len();
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut writer = vec![NONE; nbuf];
        let mut readers: Vec<Vec<u32>> = vec![Vec::new(); nbuf];
        let mut slot_user: std::collections::HashMap<u32, u32> = Default::default();
        for (i, s) in self.steps.iter().enumerate() {
            let i = i as u32;
            // A device input's block is written before any step: no step
            // is its writer, so reading it ties a step to nothing.
            let (reads, writes) = self.step_buffers(s);
            let p = &mut preds[i as usize];
            let mut need = |j: u32| {
                if j != NONE && j != i && !p.contains(&j) {
                    p.push(j);
                }
            };
            for &b in &reads {
                if let Some(&w) = writer.get(b as usize) {
                    need(w);
                }
            }
            for &b in &writes {
                if let Some(&w) = writer.get(b as usize) {
                    need(w);
                }
                for &r in readers.get(b as usize).into_iter().flatten() {
                    need(r);
                }
            }
            if let Some(&j) = slot_user.get(&s.slot) {
                need(j);
            }
            slot_user.insert(s.slot, i);
            for &b in &reads {
                if let Some(r) = readers.get_mut(b as usize) {
                    r.push(i);
                }
            }
            for &b in &writes {
                if let Some(w) = writer.get_mut(b as usize) {
                    *w = i;
                    readers[b as usize].clear();
                }
            }
        }
        // A reused block adds edges that others imply (a step that wrote
        // the block two steps back in a chain): drop them, so a chain stays
        // one task.
        for i in 0..n {
            if preds[i].len() < 2 {
                continue;
            }
            let all = &preds[i];
            let keep: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&q| !all.iter().any(|&p| p != q && reaches(&preds, p, q)))
                .collect();
            preds[i] = keep;
        }
        let mut dependants = vec![0u32; n];
        for p in &preds {
            for &j in p {
                dependants[j as usize] += 1;
            }
        }
        // Each step's task, numbered in the order tasks start.
        let mut task_of = vec![0u32; n];
        let mut members: Vec<Vec<u32>> = Vec::new();
        for i in 0..n {
            match preds[i].as_slice() {
                [p] if dependants[*p as usize] == 1 => {
                    let t = task_of[*p as usize];
                    task_of[i] = t;
                    members[t as usize].push(i as u32);
                }
                _ => {
                    task_of[i] = members.len() as u32;
                    members.push(vec![i as u32]);
                }
            }
        }
        // Steps in task order; tasks as ranges of it.
        let old = std::mem::take(&mut self.steps);
        let mut tasks = Vec::with_capacity(members.len());
        let mut succ: Vec<Vec<u32>> = vec![Vec::new(); members.len()];
        for (t, m) in members.iter().enumerate() {
            let start = self.steps.len() as u32;
            self.steps.extend(m.iter().map(|&i| old[i as usize]));
            let mut from: Vec<u32> = m
                .iter()
                .flat_map(|&i| preds[i as usize].iter().map(|&j| task_of[j as usize]))
                .filter(|&u| u != t as u32)
                .collect();
            from.sort_unstable();
            from.dedup();
            for &u in &from {
                succ[u as usize].push(t as u32);
            }
            tasks.push(Task {
                start,
                end: self.steps.len() as u32,
                deps: from.len() as u32,
                succ: (0, 0),
            });
        }
        for (t, s) in tasks.iter_mut().zip(&succ) {
            t.succ = (self.task_succ.len() as u32, s.len() as u32);
            self.task_succ.extend_from_slice(s);
        }
        self.task_order = (0..tasks.len() as u32).collect();
        self.task_cost = vec![0.0; tasks.len()];
        self.task_rank = vec![0.0; tasks.len()];
        self.tasks = tasks;
    }

    /// The tasks a thread looks at, `task_order` first to last.
    pub(super) fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Work out each task's cost from its nodes' (`node_cost`, ns by slot),
    /// rank the tasks by the longest path from their start to the end of
    /// the block, so threads take the critical chain first, and say what
    /// the plan costs on one thread and at best. On the audio thread: no
    /// allocation (the arrays were sized with the plan; the sort is in place).
    pub(super) fn weigh(&mut self, node_cost: &[f32]) -> Weighing {
        let mut total = 0.0;
        for (t, c) in self.tasks.iter().zip(self.task_cost.iter_mut()) {
            *c = self.steps[t.start as usize..t.end as usize]
                .iter()
                .map(|s| node_cost.get(s.slot as usize).copied().unwrap_or(0.0))
                .sum();
            total += *c;
        }
        // Tasks come in a valid order, so walking it backwards sees every
        // dependant before the tasks it waits on.
        let mut critical: f32 = 0.0;
        for t in (0..self.tasks.len()).rev() {
            let (s, len) = self.tasks[t].succ;
            let after = self.task_succ[s as usize..(s + len) as usize]
                .iter()
                .map(|&u| self.task_rank[u as usize])
                .fold(0.0f32, f32::max);
            self.task_rank[t] = self.task_cost[t] + after;
            critical = critical.max(self.task_rank[t]);
        }
        let rank = &self.task_rank;
        self.task_order
            .sort_unstable_by(|&a, &b| rank[b as usize].total_cmp(&rank[a as usize]));
        Weighing {
            total_ns: total,
            critical_ns: critical,
        }
    }
}

/// Whether step `to` is an ancestor of step `from` (`preds` are the
/// edges), looked for among at most a few dozen steps: an edge kept because
/// the search gave up only costs parallelism, never correctness.
fn reaches(preds: &[Vec<u32>], from: u32, to: u32) -> bool {
    let mut stack = [0u32; 64];
    let mut top = 1;
    stack[0] = from;
    let mut visited = 0;
    while top > 0 && visited < 64 {
        top -= 1;
        let s = stack[top];
        visited += 1;
        for &p in &preds[s as usize] {
            if p == to {
                return true;
            }
            // Ancestors come earlier in the order: none before `to` leads to it.
            if p > to && top < stack.len() {
                stack[top] = p;
                top += 1;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::impedance::{Loading, LoadingState};
    use crate::runtime::RtStepKind;
    use crate::runtime::plan::{NONE, PlanBuilder};

    /// Two chains of three steps that meet in a mix, the steps interleaved
    /// as a topological sort may leave them: a0 b0 a1 b1 a2 b2 mix.
    #[test]
    fn two_chains_and_their_join_make_three_tasks() {
        let mut b = PlanBuilder::new(1, 1.0, 16);
        let unity = || LoadingState::new(&Loading::Unity);
        let mut edge = 0;
        let mut link = |b: &mut PlanBuilder, from: u32, scratch: u32| {
            b.edge(1.0, 1.0, NONE);
            b.sum_input(scratch, [(from, edge, 0, NONE)]);
            edge += 1;
        };
        // a0 -> 1, b0 -> 2 (sources)
        b.output(1, unity(), NONE, NONE);
        b.step(0, RtStepKind::Process);
        b.output(2, unity(), NONE, NONE);
        b.step(1, RtStepKind::Process);
        // a1: 1 -> 3, b1: 2 -> 4, a2: 3 -> 5, b2: 4 -> 6
        for (slot, from, to, scratch) in [(2, 1, 3, 9), (3, 2, 4, 10), (4, 3, 5, 11), (5, 4, 6, 12)]
        {
            link(&mut b, from, scratch);
            b.output(to, unity(), NONE, NONE);
            b.step(slot, RtStepKind::Process);
        }
        // mix: 5 + 6 -> 7
        link(&mut b, 5, 13);
        link(&mut b, 6, 14);
        b.output(7, unity(), NONE, NONE);
        b.step(6, RtStepKind::Process);
        let mut plan = b.plan_for_tests();
        plan.partition();
        let slots: Vec<u32> = plan.steps.iter().map(|s| s.slot).collect();
        assert_eq!(slots, [0, 2, 4, 1, 3, 5, 6], "each chain's steps together");
        let ranges: Vec<(u32, u32, u32)> = plan
            .tasks
            .iter()
            .map(|t| (t.start, t.end, t.deps))
            .collect();
        assert_eq!(ranges, [(0, 3, 0), (3, 6, 0), (6, 7, 2)]);
        // The chains are worth two threads; the join waits for both.
        let cost = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 1.0];
        let w = plan.weigh(&cost);
        assert_eq!((w.total_ns, w.critical_ns), (61.0, 31.0));
        assert_eq!(w.saving_ns(2), 30.0);
    }

    /// A chain on one thread's compile reuses two blocks back and forth:
    /// the edges that reuse adds do not split it.
    #[test]
    fn a_chain_that_reuses_its_blocks_is_one_task() {
        let mut b = PlanBuilder::new(1, 1.0, 8);
        let unity = || LoadingState::new(&Loading::Unity);
        b.output(1, unity(), NONE, NONE);
        b.step(0, RtStepKind::Process);
        for i in 0..6u32 {
            let (from, to) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
            b.edge(1.0, 1.0, NONE);
            b.sum_input(3, [(from, i, 0, NONE)]);
            b.output(to, unity(), NONE, NONE);
            b.step(i + 1, RtStepKind::Process);
        }
        let mut plan = b.plan_for_tests();
        plan.partition();
        assert_eq!(plan.tasks.len(), 1, "{:?}", plan.tasks);
    }
}
