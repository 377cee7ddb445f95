//! The compiler on small drawn graphs: order, buffer reuse, sums, fan-out,
//! cycles.

mod common;
use common::*;
use ohmpatch_engine::compile::{InputSrc, StepKind};
use ohmpatch_engine::{Loading, compile};
use std::collections::HashSet;

fn pos(order: &[&str], id: &str) -> usize {
    order.iter().position(|x| *x == id).unwrap()
}

#[test]
fn chain_runs_in_signal_order() {
    //  c → b → a → o   (ids chosen so id order is the reverse of signal order)
    let p = patch(
        "c:src b:pass a:pass o:out",
        "c.out>b.in b.out>a.in a.out>o.in",
    );
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    assert_eq!(s.order(), vec!["c", "b", "a", "o"]);
}

#[test]
fn buffers_are_reused_after_their_last_reader() {
    // s → p1 → p2 → p3 → p4 → o : a chain needs two buffers ping-ponging (+ scratch for sums).
    let p = patch(
        "s:src p1:pass p2:pass p3:pass p4:pass o:out",
        "s.out>p1.in p1.out>p2.in p2.out>p3.in p3.out>p4.in p4.out>o.in",
    );
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    // Zero buffer + a handful, not one per wire and scratch.
    assert!(
        s.buffer_count <= 6,
        "{} buffers for a chain",
        s.buffer_count
    );
    let outs: Vec<u32> = s
        .steps
        .iter()
        .flat_map(|st| st.outputs.iter().map(|o| o.buffer))
        .collect();
    let distinct: HashSet<u32> = outs.iter().copied().collect();
    assert!(
        distinct.len() < outs.len(),
        "some output buffer is reused: {outs:?}"
    );
}

#[test]
fn fan_in_is_summed_and_fan_out_shares_one_buffer() {
    //   a ─┬─→ x ─┐
    //      └─→ y ─┴→ m(sum of x, y into `a` port) → o
    let p = patch(
        "a:src x:pass y:pass m:pass o:out",
        "a.out>x.in a.out>y.in x.out>m.in y.out>m.in m.out>o.in",
    );
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    let step = |id: &str| s.steps.iter().find(|st| s.nodes[st.node].id == id).unwrap();
    let a_out = step("a").outputs[0].buffer;
    // x and y read the very same buffer.
    for id in ["x", "y"] {
        match &step(id).inputs[0] {
            InputSrc::Sum { wires, .. } => {
                assert_eq!(wires.len(), 1);
                assert_eq!(s.wires[wires[0] as usize].src_buffer, a_out);
            }
            other => panic!("{other:?}"),
        }
    }
    match &step("m").inputs[0] {
        InputSrc::Sum { wires, .. } => assert_eq!(wires.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cycle_without_delay_is_an_error_naming_its_nodes() {
    //  s → a → b → c → a   (a, b, c loop)
    let p = patch(
        "s:src a:sum b:pass c:pass o:out",
        "s.out>a.a a.out>b.in b.out>c.in c.out>a.b c.out>o.in",
    );
    let e = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap_err();
    assert_eq!(e.nodes, vec!["a", "b", "c"]);
    assert!(e.message.contains("\"a\", \"b\", \"c\""), "{}", e.message);
    assert!(e.message.contains("delay"), "{}", e.message);
}

#[test]
fn a_cycle_through_a_delay_is_allowed_and_the_delay_is_split() {
    //  s → a → d(delay) → a
    let p = patch(
        "s:src a:sum d:delay o:out",
        "s.out>a.a a.out>d.in d.out>a.b a.out>o.in",
    );
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    let kinds: Vec<(&str, StepKind)> = s
        .steps
        .iter()
        .map(|st| (s.nodes[st.node].id.as_str(), st.kind))
        .collect();
    let read = kinds
        .iter()
        .position(|k| *k == ("d", StepKind::FeedbackRead))
        .unwrap();
    let write = kinds
        .iter()
        .position(|k| *k == ("d", StepKind::FeedbackWrite))
        .unwrap();
    let a = kinds.iter().position(|k| k.0 == "a").unwrap();
    assert!(read < a && a < write, "{kinds:?}");
    assert_eq!(write, kinds.len() - 1);
}

#[test]
fn a_delay_outside_any_loop_runs_in_place() {
    let p = patch("s:src d:delay o:out", "s.out>d.in d.out>o.in");
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    assert!(s.steps.iter().all(|st| st.kind == StepKind::Process));
    let order = s.order();
    assert!(pos(&order, "s") < pos(&order, "d"));
}

#[test]
fn a_second_loop_without_delay_in_the_same_component_is_still_an_error() {
    // d closes a→d→a, but a→b→a has no delay.
    let p = patch(
        "a:sum d:delay b:pass",
        "a.out>d.in d.out>a.a a.out>b.in b.out>a.b",
    );
    let e = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap_err();
    assert_eq!(e.nodes, vec!["a", "b"]);
}

#[test]
fn loading_is_the_divider_of_source_and_parallel_loads() {
    let mut p = patch("s:src x:pass y:pass", "s.out>x.in s.out>y.in");
    p.nodes
        .get_mut("s")
        .unwrap()
        .params
        .insert("z_out".into(), 150.0.into());
    p.nodes
        .get_mut("x")
        .unwrap()
        .params
        .insert("z_in".into(), 2400.0.into());
    p.nodes
        .get_mut("y")
        .unwrap()
        .params
        .insert("z_in".into(), 2400.0.into());
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    let src = s
        .steps
        .iter()
        .find(|st| s.nodes[st.node].id == "s")
        .unwrap();
    // 150 Ω into 2.4 kΩ ∥ 2.4 kΩ = 1.2 kΩ: −1.02 dB.
    match src.outputs[0].loading {
        Loading::Gain(g) => assert!((20.0 * g.log10() + 1.023).abs() < 0.005, "{g}"),
        ref l => panic!("{l:?}"),
    }
}

#[test]
fn outputs_never_alias_inputs_of_the_same_step() {
    let p = patch(
        "a:src b:pass c:sum d:fan e:pass o:out",
        "a.out>b.in a.out>c.a b.out>c.b c.out>d.in d.o1>e.in d.o2>o.in e.out>o.in",
    );
    let s = compile(&p, &registry(), 48000.0, &HashSet::new()).unwrap();
    for st in &s.steps {
        let ins: HashSet<u32> = st
            .inputs
            .iter()
            .flat_map(|i| match i {
                InputSrc::Sum { scratch, wires } => {
                    let mut v: Vec<u32> = wires
                        .iter()
                        .map(|w| s.wires[*w as usize].src_buffer)
                        .collect();
                    v.push(*scratch);
                    v
                }
                InputSrc::Device { buffer } => vec![*buffer],
                InputSrc::Zero => vec![],
            })
            .collect();
        for o in &st.outputs {
            assert!(
                !ins.contains(&o.buffer),
                "step {} writes a buffer it reads",
                s.nodes[st.node].id
            );
        }
    }
}
