//! Silent stretches are skipped: a node whose inputs are all silent and
//! which says it is quiet (`Processor::is_quiet`) is not run, and its
//! outputs are silence. The test kind `bias` adds 1.0 to its input but
//! claims to be quiet, so its output tells whether it ran.

mod common;
use common::*;
use ohmpatch_engine::{Engine, EngineConfig, MAX_BLOCK};
use ohmpatch_patch::{Patch, Value};

fn mean_of_last_block(e: &mut Engine, p: &Patch, blocks: usize) -> f32 {
    e.set_patch(p).unwrap();
    let out = ohmpatch_engine::render_offline(e, blocks * MAX_BLOCK, MAX_BLOCK);
    let last = &out[0][out[0].len() - MAX_BLOCK..];
    last.iter().sum::<f32>() / MAX_BLOCK as f32
}

/// Set the patch and run eight blocks on its core, which is handed back.
fn playing(e: &mut Engine, p: &Patch) -> ohmpatch_engine::Core {
    e.set_patch(p).unwrap();
    let mut core = e.take_core().unwrap();
    for _ in 0..8 {
        core.run_block(MAX_BLOCK, &[], 0);
    }
    core
}

fn gate_patch(on: bool, chain: &str, wires: &str) -> Patch {
    let mut p = patch(chain, wires);
    p.nodes
        .get_mut("g")
        .unwrap()
        .params
        .insert("on".into(), Value::Number(if on { 1.0 } else { 0.0 }));
    p
}

#[test]
fn a_quiet_node_fed_silence_is_skipped_and_runs_again_when_sound_returns() {
    let mut e = Engine::new(registry(), EngineConfig::default());
    let off = gate_patch(false, "g:gate b:bias o:out", "g.out>b.in b.out>o.in");
    assert_eq!(
        mean_of_last_block(&mut e, &off, 8),
        0.0,
        "bias ran on silence"
    );
    // The gate opens (a parameter message, same plan): bias runs again.
    let on = gate_patch(true, "g:gate b:bias o:out", "g.out>b.in b.out>o.in");
    // (A block holds 2.67 periods of the 1 kHz sine, so its mean is 1.0
    // give or take 0.12.)
    let m = mean_of_last_block(&mut e, &on, 4);
    assert!(
        (m - 1.0).abs() < 0.2,
        "bias should add 1.0 to the sine: mean {m}"
    );
}

#[test]
fn an_unconnected_input_counts_as_silence() {
    let mut e = Engine::new(registry(), EngineConfig::default());
    let p = patch("b:bias o:out", "b.out>o.in");
    assert_eq!(mean_of_last_block(&mut e, &p, 8), 0.0);
}

#[test]
fn a_node_fed_by_one_that_cannot_be_quiet_always_runs() {
    let mut e = Engine::new(registry(), EngineConfig::default());
    // `src` never says it is quiet. And `pass` cannot be quiet either, so
    // the gate's silence does not reach `bias` as known silence.
    let p = patch("s:src b:bias o:out", "s.out>b.in b.out>o.in");
    let m = mean_of_last_block(&mut e, &p, 8);
    assert!((m - 1.0).abs() < 0.2, "mean {m}");
    let mut e = Engine::new(registry(), EngineConfig::default());
    let p = gate_patch(
        false,
        "g:gate x:pass b:bias o:out",
        "g.out>x.in x.out>b.in b.out>o.in",
    );
    assert_eq!(mean_of_last_block(&mut e, &p, 8), 1.0);
}

#[test]
fn a_fading_edit_runs_every_node_until_the_fade_is_over() {
    let mut e = Engine::new(registry(), EngineConfig::default());
    let p = gate_patch(false, "g:gate b:bias o:out", "g.out>b.in b.out>o.in");
    let mut core = playing(&mut e, &p);
    assert!(core.device_out(0, MAX_BLOCK).iter().all(|v| *v == 0.0));
    // A new wire fades in: nothing is skipped while it does.
    let mut q = p.clone();
    q.nodes
        .insert("c".into(), ohmpatch_patch::Node::new("bias", (0.0, 0.0)));
    q.wires
        .push(ohmpatch_patch::Wire::parse("c.out", "o.in").unwrap());
    e.set_patch(&q).unwrap();
    core.run_block(MAX_BLOCK, &[], 0);
    let first = core.device_out(0, MAX_BLOCK)[MAX_BLOCK - 1];
    assert!(first > 0.5, "bias ran during the fade: {first}");
    for _ in 0..8 {
        core.run_block(MAX_BLOCK, &[], 0);
    }
    assert!(
        core.device_out(0, MAX_BLOCK).iter().all(|v| *v == 0.0),
        "quiet again once settled"
    );
}

#[test]
fn a_skipped_node_s_stale_block_is_never_heard() {
    // The gate plays, then stops and is skipped without zeroing its block
    // (its only reader, `qpass`, knows to read silence instead). `qpass`
    // runs every block and passes on exactly what it is handed.
    let mut e = Engine::new(registry(), EngineConfig::default());
    let on = gate_patch(true, "g:gate q:qpass o:out", "g.out>q.in q.out>o.in");
    let mut core = playing(&mut e, &on);
    assert!(core.device_out(0, MAX_BLOCK).iter().any(|v| v.abs() > 0.5));
    let off = gate_patch(false, "g:gate q:qpass o:out", "g.out>q.in q.out>o.in");
    e.set_patch(&off).unwrap();
    for _ in 0..8 {
        core.run_block(MAX_BLOCK, &[], 0);
        assert!(
            core.device_out(0, MAX_BLOCK).iter().all(|v| *v == 0.0),
            "the gate's last block was heard again"
        );
    }
    // And back on: the sine returns.
    e.set_patch(&on).unwrap();
    core.run_block(MAX_BLOCK, &[], 0);
    assert!(core.device_out(0, MAX_BLOCK).iter().any(|v| v.abs() > 0.5));
}
