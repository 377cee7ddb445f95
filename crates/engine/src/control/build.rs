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
            .of_params(&n.kind, &n.params)
            .and_then(|k| k.device_channel(&n.params))
            .unwrap_or(0)
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

        // Latency compensation: where paths meet, the earlier wires wait
        // for the latest, by what the built processors report.
        let compensation = s.latencies(|i| names.latency(&s.nodes[i].id)).align;
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
        plan.finish(installs, removes, self.has_workers())
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
