//! Patch → schedule: a petgraph graph of the nodes, sorted topologically,
//! with buffers reused once their last reader has run, fan-in summed,
//! fan-out sharing one buffer, and the electrical loading of every output.

use crate::impedance::{Impedance, Loading};
use crate::node::{NodeKind, Params, PortElectrical, Role};
use crate::registry::Registry;
use ohmpatch_patch::{Direction, Domain, Patch, Wire};
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Buffer 0 is always silent; unconnected inputs read it.
pub const ZERO_BUFFER: u32 = 0;

#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub message: String,
    /// The nodes the error is about (a cycle's members, say).
    pub nodes: Vec<String>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

/// One node of the schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedNode {
    pub id: String,
    pub kind: String,
    pub role: Role,
    pub params: Params,
    pub ports: Vec<PortElectrical>,
    /// A feedback breaker that closes a loop: read early, written at the end.
    pub split: bool,
    /// For each port, in spec order: the parallel load an output drives
    /// (`Impedance::None` when open, and for inputs).
    pub loads: Vec<Impedance>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Process,
    FeedbackRead,
    FeedbackWrite,
}

/// Where an input port's samples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InputSrc {
    Zero,
    /// Sum of wires into a scratch buffer; a single settled wire is read in place.
    Sum {
        scratch: u32,
        wires: Vec<u32>,
    },
    /// The device's input channel (`audio_in`).
    Device {
        buffer: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputDst {
    pub buffer: u32,
    /// Port index within the node's ports; `None` for a hidden device output.
    pub port: Option<usize>,
    pub loading: Loading,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub node: usize,
    pub kind: StepKind,
    pub inputs: Vec<InputSrc>,
    pub outputs: Vec<OutputDst>,
}

/// A wire as compiled: which buffer it reads and whether it is fading out.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedWire {
    pub wire: Wire,
    pub src_buffer: u32,
    pub fading_out: bool,
    pub from_domain: Domain,
    pub to_domain: Domain,
    pub source_z: Impedance,
    pub load_z: Impedance,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Nodes in the order they are first run.
    pub nodes: Vec<SchedNode>,
    pub steps: Vec<Step>,
    pub wires: Vec<SchedWire>,
    pub buffer_count: usize,
    /// (node index, buffer) of each device output, in node id order.
    pub device_outs: Vec<(usize, u32)>,
    pub device_ins: Vec<(usize, u32)>,
}

impl Schedule {
    pub fn order(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    /// Whether two schedules make the same plan (same steps, buffers, wires
    /// and loadings), so a param-only edit need not send a new one.
    pub fn same_plan(&self, other: &Schedule) -> bool {
        self.steps == other.steps
            && self.wires == other.wires
            && self.buffer_count == other.buffer_count
            && self.device_outs == other.device_outs
            && self.device_ins == other.device_ins
            && self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|(a, b)| a.id == b.id)
    }

    pub fn node(&self, id: &str) -> Option<&SchedNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Path latency through the schedule, given each node's own (`own`,
    /// by node index): for each node, the samples of delay on the longest
    /// path from a source through it, its own included (`leave`); for each
    /// wire, the delay that brings it in step with the latest arrival at
    /// the node it feeds (`align`). Only forward wires count: a loop is cut
    /// at its delay, and a wire into that delay is not aligned.
    pub fn latencies(&self, own: impl Fn(usize) -> usize) -> Latencies {
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let ends: Vec<Option<(usize, usize)>> = self
            .wires
            .iter()
            .map(|w| {
                let a = *index.get(w.wire.from.node.as_str())?;
                let b = *index.get(w.wire.to.node.as_str())?;
                (a < b && !self.nodes[b].split).then_some((a, b))
            })
            .collect();
        let mut into: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (a, b) in ends.iter().flatten() {
            into[*b].push(*a);
        }
        let mut leave = vec![0usize; self.nodes.len()];
        let mut arrive = vec![0usize; self.nodes.len()];
        for i in 0..self.nodes.len() {
            arrive[i] = into[i].iter().map(|&a| leave[a]).max().unwrap_or(0);
            leave[i] = arrive[i] + own(i);
        }
        let align = ends
            .iter()
            .map(|e| e.map_or(0, |(a, b)| arrive[b] - leave[a]))
            .collect();
        Latencies { leave, align }
    }
}

/// What `Schedule::latencies` works out.
pub struct Latencies {
    /// Per node: samples of delay from the sources through it.
    pub leave: Vec<usize>,
    /// Per wire: the compensating delay that puts it in step.
    pub align: Vec<usize>,
}

/// A free list of buffers with reader counts.
struct Pool {
    free: BTreeSet<u32>,
    count: u32,
    readers: HashMap<u32, usize>,
    /// Hand a buffer out again once its readers are done.
    reuse: bool,
}

impl Pool {
    fn new(reuse: bool) -> Pool {
        Pool {
            free: BTreeSet::new(),
            count: 1, // buffer 0 is the zero buffer
            readers: HashMap::new(),
            reuse,
        }
    }
    fn take(&mut self, readers: usize) -> u32 {
        let b = match self.free.pop_first() {
            Some(b) => b,
            None => {
                self.count += 1;
                self.count - 1
            }
        };
        self.readers.insert(b, readers);
        b
    }
    fn read_done(&mut self, b: u32) {
        if b == ZERO_BUFFER {
            return;
        }
        if let Some(r) = self.readers.get_mut(&b) {
            *r = r.saturating_sub(1);
            if *r == 0 {
                self.readers.remove(&b);
                if self.reuse {
                    self.free.insert(b);
                }
            }
        }
    }
}

/// Compile `patch` against `registry`. `fading` lists wires that are on
/// their way out (still summed, with a falling gain). The patch is expected
/// to be validated; wires that do not resolve are skipped, never a panic.
pub fn compile(
    patch: &Patch,
    registry: &Registry,
    sample_rate: f64,
    fading: &HashSet<Wire>,
) -> Result<Schedule, CompileError> {
    compile_with(patch, registry, sample_rate, fading, true)
}

/// `compile`, reusing a buffer once its last reader has run only when
/// `reuse_buffers` (one thread runs the plan; see `Pool`).
pub fn compile_with(
    patch: &Patch,
    registry: &Registry,
    sample_rate: f64,
    fading: &HashSet<Wire>,
    reuse_buffers: bool,
) -> Result<Schedule, CompileError> {
    // Nodes, in id order, with their electrical ports.
    let mut ids: Vec<&String> = patch.nodes.keys().collect();
    ids.sort();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let mut info: Vec<SchedNode> = Vec::with_capacity(ids.len());
    // Each node's kind, looked up once (the registry is a list searched by name).
    let mut kinds: Vec<&dyn NodeKind> = Vec::with_capacity(ids.len());
    let mut index_of: HashMap<&str, NodeIndex> = HashMap::with_capacity(ids.len());
    for id in &ids {
        let node = &patch.nodes[*id];
        let Some(kind) = registry.of(node) else {
            return Err(CompileError {
                message: format!("node \"{id}\" has unknown kind \"{}\"", node.kind),
                nodes: vec![(*id).clone()],
            });
        };
        let params = Params::resolve(kind.spec(), &node.params);
        let ports = kind.electrical(&params);
        let ni = graph.add_node(info.len());
        index_of.insert(id.as_str(), ni);
        kinds.push(kind);
        info.push(SchedNode {
            id: (*id).clone(),
            kind: node.kind.clone(),
            role: kind.role(),
            params,
            ports,
            split: false,
            loads: Vec::new(),
        });
    }

    // Resolve wires to (src node, src port, dst node, dst port).
    struct W<'a> {
        wire: &'a Wire,
        src: usize,
        sport: usize,
        dst: usize,
        dport: usize,
    }
    let mut wires: Vec<W> = Vec::new();
    let mut seen = HashSet::new();
    for wire in &patch.wires {
        let (Some(&s), Some(&d)) = (
            index_of.get(wire.from.node.as_str()),
            index_of.get(wire.to.node.as_str()),
        ) else {
            continue;
        };
        let (s, d) = (graph[s], graph[d]);
        let (sk, dk) = (kinds[s].spec(), kinds[d].spec());
        let sport = sk
            .ports
            .iter()
            .position(|p| p.name == wire.from.port && p.direction == Direction::Out);
        let dport = dk
            .ports
            .iter()
            .position(|p| p.name == wire.to.port && p.direction == Direction::In);
        let (Some(sport), Some(dport)) = (sport, dport) else {
            continue;
        };
        if !seen.insert(wire.clone()) {
            continue;
        }
        wires.push(W {
            wire,
            src: s,
            sport,
            dst: d,
            dport,
        });
    }
    // One edge per connected pair (`update_edge` would scan the source's
    // edges for each wire: quadratic in a node's fan-out).
    let mut pairs = HashSet::with_capacity(wires.len());
    for w in &wires {
        if pairs.insert((w.src, w.dst)) {
            graph.add_edge(NodeIndex::new(w.src), NodeIndex::new(w.dst), ());
        }
    }

    // Cycles: each strongly connected component with a loop must hold a
    // feedback breaker, which is then split into a read and a write step.
    for scc in tarjan_scc(&graph) {
        let looped = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if !looped {
            continue;
        }
        let breakers: Vec<usize> = scc
            .iter()
            .map(|n| graph[*n])
            .filter(|&i| info[i].role == Role::FeedbackBreaker)
            .collect();
        if breakers.is_empty() {
            return Err(cycle_error(&scc, &graph, &info));
        }
        for b in breakers {
            info[b].split = true;
        }
    }
    let mut order_graph = graph.clone();
    order_graph.retain_edges(|g, e| {
        let (_, dst) = g.edge_endpoints(e).expect("edge exists");
        !info[g[dst]].split
    });
    let order = match toposort(&order_graph, None) {
        Ok(o) => o,
        Err(_) => {
            // A loop remains that no breaker cuts: name its members.
            let scc = tarjan_scc(&order_graph)
                .into_iter()
                .find(|c| c.len() > 1 || order_graph.contains_edge(c[0], c[0]))
                .unwrap_or_default();
            return Err(cycle_error(&scc, &order_graph, &info));
        }
    };
    let order: Vec<usize> = order.into_iter().map(|n| order_graph[n]).collect();

    // Readers of each (node, out port) and inputs of each (node, in port).
    let mut readers: HashMap<(usize, usize), usize> = HashMap::new();
    let mut into: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut from: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for (wi, w) in wires.iter().enumerate() {
        *readers.entry((w.src, w.sport)).or_default() += 1;
        into.entry((w.dst, w.dport)).or_default().push(wi);
        from.entry((w.src, w.sport)).or_default().push(wi);
    }

    // Steps in order: split breakers read in place of their node, and write last.
    let mut step_list: Vec<(usize, StepKind)> = order
        .iter()
        .map(|&n| {
            if info[n].split {
                (n, StepKind::FeedbackRead)
            } else {
                (n, StepKind::Process)
            }
        })
        .collect();
    for &n in &order {
        if info[n].split {
            step_list.push((n, StepKind::FeedbackWrite));
        }
    }

    // Each output port's load: the parallel of every input it drives. Worked
    // out from the last node back, so that a junction or transformer
    // (`NodeKind::junction`) can present the loads its outputs drive at its
    // input before the stage that drives it is reached: a chain of them
    // passes the loads all the way back.
    for &n in order.iter().rev() {
        let mut all = Vec::new();
        let mut loads = Vec::with_capacity(info[n].ports.len());
        for (pi, p) in kinds[n].spec().ports.iter().enumerate() {
            if p.direction != Direction::Out {
                loads.push(Impedance::None);
                continue;
            }
            let on: Vec<Impedance> = from
                .get(&(n, pi))
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|&wi| &wires[wi])
                .filter(|w| !fading.contains(w.wire))
                .map(|w| info[w.dst].ports[w.dport].impedance.clone())
                .collect();
            loads.push(Impedance::parallel(&on));
            all.extend(on);
        }
        info[n].loads = loads;
        let Some(ratio) = kinds[n].junction(&info[n].params) else {
            continue;
        };
        let presented = if ratio > 0.0 && ratio.is_finite() {
            scaled(&Impedance::parallel(&all), 1.0 / (ratio * ratio))
        } else {
            Impedance::None
        };
        for (pi, p) in kinds[n].spec().ports.iter().enumerate() {
            if p.direction == Direction::In {
                info[n].ports[pi].impedance = presented.clone();
            }
        }
    }

    let mut pool = Pool::new(reuse_buffers);
    let mut out_buffer: HashMap<(usize, usize), u32> = HashMap::new();
    let mut steps = Vec::with_capacity(step_list.len());
    let mut device_outs = Vec::new();
    let mut device_ins = Vec::new();
    let mut sched_wires: Vec<Option<SchedWire>> = vec![None; wires.len()];

    for (n, sk) in step_list {
        let kind = kinds[n].spec();
        let mut inputs = Vec::new();
        let mut scratches = Vec::new();
        let mut read = Vec::new();
        if sk != StepKind::FeedbackRead {
            for (pi, p) in kind.ports.iter().enumerate() {
                if p.direction != Direction::In {
                    continue;
                }
                let ws: &[usize] = into.get(&(n, pi)).map_or(&[], Vec::as_slice);
                if ws.is_empty() {
                    inputs.push(InputSrc::Zero);
                    continue;
                }
                let scratch = pool.take(1);
                scratches.push(scratch);
                let mut list = Vec::with_capacity(ws.len());
                for &wi in ws {
                    let w = &wires[wi];
                    let src_buffer = out_buffer[&(w.src, w.sport)];
                    read.push(src_buffer);
                    list.push(wi as u32);
                    let sp = &info[w.src].ports[w.sport];
                    let dp = &info[w.dst].ports[w.dport];
                    sched_wires[wi] = Some(SchedWire {
                        wire: w.wire.clone(),
                        src_buffer,
                        fading_out: fading.contains(w.wire),
                        from_domain: sp.domain,
                        to_domain: dp.domain,
                        source_z: sp.impedance.clone(),
                        load_z: dp.impedance.clone(),
                    });
                }
                inputs.push(InputSrc::Sum {
                    scratch,
                    wires: list,
                });
            }
            if info[n].role == Role::DeviceIn {
                // Every device input is written at the start of the block,
                // so each gets a buffer of its own (assigned below), never
                // one a step before it hands back to the pool.
                inputs.push(InputSrc::Device { buffer: u32::MAX });
                device_ins.push((n, u32::MAX));
            }
        }
        let mut outputs = Vec::new();
        if sk != StepKind::FeedbackWrite {
            for (pi, p) in kind.ports.iter().enumerate() {
                if p.direction != Direction::Out {
                    continue;
                }
                let r = readers.get(&(n, pi)).copied().unwrap_or(0);
                let b = pool.take(r.max(1));
                if r == 0 {
                    scratches.push(b);
                }
                out_buffer.insert((n, pi), b);
                let loading = Loading::between(
                    &info[n].ports[pi].impedance,
                    &info[n].loads[pi],
                    sample_rate,
                );
                outputs.push(OutputDst {
                    buffer: b,
                    port: Some(pi),
                    loading,
                });
            }
            if info[n].role == Role::DeviceOut {
                // Read by the backend after the last step: numbered past the
                // pool below so nothing reuses it within the block.
                outputs.push(OutputDst {
                    buffer: u32::MAX,
                    port: None,
                    loading: Loading::Unity,
                });
                device_outs.push((n, u32::MAX));
            }
        }
        // Release after the outputs are taken, so no output aliases an input.
        for b in read {
            pool.read_done(b);
        }
        for b in scratches {
            pool.read_done(b);
        }
        steps.push(Step {
            node: n,
            kind: sk,
            inputs,
            outputs,
        });
    }
    let mut next = pool.count;
    for s in steps.iter_mut() {
        for o in s.outputs.iter_mut().filter(|o| o.port.is_none()) {
            o.buffer = next;
            if let Some(d) = device_outs.iter_mut().find(|d| d.0 == s.node) {
                d.1 = next;
            }
            next += 1;
        }
    }
    for s in steps.iter_mut() {
        for i in s.inputs.iter_mut() {
            if let InputSrc::Device { buffer } = i {
                *buffer = next;
                if let Some(d) = device_ins.iter_mut().find(|d| d.0 == s.node) {
                    d.1 = next;
                }
                next += 1;
            }
        }
    }
    pool.count = next;
    device_outs.sort_by(|a, b| info[a.0].id.cmp(&info[b.0].id));

    // Re-express node indices in run order.
    let mut remap = vec![0usize; info.len()];
    let mut nodes = Vec::with_capacity(info.len());
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new;
    }
    let mut slots: Vec<Option<SchedNode>> = info.into_iter().map(Some).collect();
    for &old in &order {
        nodes.push(slots[old].take().expect("each node once"));
    }
    for s in steps.iter_mut() {
        s.node = remap[s.node];
    }
    for d in device_outs.iter_mut().chain(device_ins.iter_mut()) {
        d.0 = remap[d.0];
    }
    Ok(Schedule {
        nodes,
        steps,
        wires: sched_wires
            .into_iter()
            .map(|w| w.expect("every wire has a reader step"))
            .collect(),
        buffer_count: pool.count as usize,
        device_outs,
        device_ins,
    })
}

/// `z` times `k`: a load seen through an ideal transformer.
fn scaled(z: &Impedance, k: f64) -> Impedance {
    match z {
        Impedance::None => Impedance::None,
        Impedance::Ohms(r) => Impedance::Ohms(r * k),
        Impedance::Rational { num, den } => Impedance::Rational {
            num: num.iter().map(|c| c * k).collect(),
            den: den.clone(),
        },
    }
}

fn cycle_error(scc: &[NodeIndex], graph: &DiGraph<usize, ()>, info: &[SchedNode]) -> CompileError {
    let mut names: Vec<String> = scc.iter().map(|n| info[graph[*n]].id.clone()).collect();
    names.sort();
    CompileError {
        message: format!(
            "feedback loop without a delay through {}; put a `delay` node in the loop",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        nodes: names,
    }
}
