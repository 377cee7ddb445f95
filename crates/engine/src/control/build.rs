//! A schedule becomes a plan.

use super::Engine;
use super::config::ChannelMap;
use super::fade::{Names, NodeKey};
use crate::compile::{InputSrc, SchedNode, Schedule, StepKind};
use crate::impedance::LoadingState;
use crate::meters::Meters;
use crate::node::MAX_PORTS;
use crate::runtime::{NONE, Plan, PlanBuilder, RtStepKind};
use std::collections::HashMap;

impl Engine {
    /// The device channel a device node's params name (0 when it names none).
    fn channel_of(&self, n: &SchedNode) -> u32 {
        self.registry
            .get(&n.kind)
            .and_then(|k| k.device_channel(&n.params))
            .unwrap_or(0)
    }

    /// Latency compensation, samples, for each wire of `s`: where paths
    /// meet (a node's inputs), every wire is delayed up to the latest
    /// arrival, so a dry path and one through an oversampled stage sum in
    /// step. Latencies are what the built processors report. A loop is cut
    /// at its delay, which is not compensated.
    fn compensation(&self, s: &Schedule, names: &Names) -> Vec<usize> {
        let index: HashMap<&str, usize> = s
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let ends: Vec<Option<(usize, usize)>> = s
            .wires
            .iter()
            .map(|w| {
                let (a, b) = (
                    index.get(w.wire.from.node.as_str())?,
                    index.get(w.wire.to.node.as_str())?,
                );
                // Forward wires only: a wire into a loop's delay runs back.
                (a < b && !s.nodes[*b].split).then_some((*a, *b))
            })
            .collect();
        let mut into: Vec<Vec<usize>> = vec![Vec::new(); s.nodes.len()];
        for (wi, e) in ends.iter().enumerate() {
            if let Some((_, b)) = e {
                into[*b].push(wi);
            }
        }
        let mut arrive = vec![0usize; s.nodes.len()];
        let mut leave = vec![0usize; s.nodes.len()];
        for (i, n) in s.nodes.iter().enumerate() {
            arrive[i] = into[i]
                .iter()
                .filter_map(|&wi| ends[wi].map(|(a, _)| leave[a]))
                .max()
                .unwrap_or(0);
            leave[i] = arrive[i] + names.latency(&n.id);
        }
        ends.iter()
            .map(|e| e.map_or(0, |(a, b)| arrive[b] - leave[a]))
            .collect()
    }

    /// The plan for `s` (the patch's schedule, or the union's while
    /// something fades), carrying running state over from the last plan
    /// by slot and taking the processors waiting to be installed.
    pub(super) fn build_plan(&mut self, s: &Schedule) -> Box<Plan> {
        self.generation += 1;
        let first = self.generation == 1;
        let installs = std::mem::take(&mut self.pending_installs);
        let removes = std::mem::take(&mut self.pending_removes);
        let names = self.names();
        let mut plan = PlanBuilder::new(
            self.generation,
            (self.config.fade_ms * self.config.sample_rate / 1000.0).max(1.0) as f32,
            s.buffer_count.max(1),
        );

        let compensation = self.compensation(s, &names);
        let mut keys = Vec::with_capacity(s.wires.len());
        let mut edge_keys = HashMap::with_capacity(s.wires.len());
        for (i, w) in s.wires.iter().enumerate() {
            let target = if w.fading_out { 0.0 } else { 1.0 };
            let key = (
                names.slot(&w.wire.from.node).unwrap_or(u32::MAX),
                w.wire.from.port.clone(),
                names.slot(&w.wire.to.node).unwrap_or(u32::MAX),
                w.wire.to.port.clone(),
            );
            let inherit = self.edge_keys.get(&key).copied().unwrap_or(NONE);
            let gain = if first { target } else { 0.0 };
            plan.edge(gain, target, inherit);
            keys.push(key.clone());
            edge_keys.insert(key, i as u32);
        }
        let mut delay_keys = HashMap::new();
        let mut lines = 0u32;
        let mut loading_keys = HashMap::new();
        for step in &s.steps {
            let node = &s.nodes[step.node];
            let slot = names.slot(&node.id).unwrap_or(u32::MAX);
            for inp in &step.inputs {
                match inp {
                    InputSrc::Zero => plan.zero_input(),
                    InputSrc::Device { buffer } => plan.device_input(*buffer),
                    InputSrc::Sum { scratch, wires } => plan.sum_input(
                        *scratch,
                        wires.iter().map(|&wi| {
                            let w = wi as usize;
                            let delay = compensation[w];
                            let mut inherit = NONE;
                            if delay > 0 {
                                let key = &keys[w];
                                inherit = self.delay_keys.get(key).copied().unwrap_or(NONE);
                                delay_keys.insert(key.clone(), lines);
                                lines += 1;
                            }
                            (s.wires[w].src_buffer, wi, delay, inherit)
                        }),
                    ),
                }
            }
            for o in &step.outputs {
                let key = (slot, o.port.unwrap_or(usize::MAX));
                let inherit = self.loading_keys.get(&key).copied().unwrap_or(NONE);
                let meter = match o.port {
                    Some(p) if p < MAX_PORTS && slot != u32::MAX => Meters::index(slot, p) as u32,
                    _ => NONE,
                };
                let li = plan.output(o.buffer, LoadingState::new(&o.loading), inherit, meter);
                loading_keys.insert(key, li);
            }
            plan.step(
                slot,
                match step.kind {
                    StepKind::Process => RtStepKind::Process,
                    StepKind::FeedbackRead => RtStepKind::FeedbackRead,
                    StepKind::FeedbackWrite => RtStepKind::FeedbackWrite,
                },
            );
        }
        // Fading outputs keep sounding on their channel until gone.
        for (b, ch) in self.device_channels(s, &names) {
            plan.device_out(b, ch);
        }
        for &(n, b) in &s.device_ins {
            plan.device_in(b, self.channel_of(&s.nodes[n]));
        }
        drop(names);
        self.edge_keys = edge_keys;
        self.delay_keys = delay_keys;
        self.loading_keys = loading_keys;
        plan.finish(installs, removes)
    }

    /// (buffer, device channel) of each device output of `s`.
    fn device_channels(&self, s: &Schedule, names: &Names) -> Vec<(u32, u32)> {
        match self.config.channel_map {
            ChannelMap::Param => s
                .device_outs
                .iter()
                .map(|&(n, b)| (b, self.channel_of(&s.nodes[n])))
                .collect(),
            ChannelMap::IdOrder => {
                // One channel per live output, in order; a fading copy of
                // an output shares the channel of its live twin.
                let keys: Vec<Option<NodeKey>> = s
                    .device_outs
                    .iter()
                    .map(|&(n, _)| names.key(&s.nodes[n].id))
                    .collect();
                let live_outs: Vec<&str> = keys
                    .iter()
                    .flatten()
                    .filter(|k| matches!(k, NodeKey::Live(_)))
                    .map(NodeKey::id)
                    .collect();
                s.device_outs
                    .iter()
                    .zip(&keys)
                    .enumerate()
                    .map(|(i, (&(_, b), key))| {
                        let ch = key
                            .as_ref()
                            .and_then(|k| live_outs.iter().position(|l| *l == k.id()))
                            .unwrap_or(live_outs.len() + i);
                        (b, ch as u32)
                    })
                    .collect()
            }
        }
    }
}
