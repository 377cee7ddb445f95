//! The runtime: plans swap without allocating on the audio thread, state
//! survives recompiles, and edits fade instead of clicking.

mod common;
use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use common::*;
use ohmpatch_engine::dsp::Rng;
use ohmpatch_engine::{Engine, EngineConfig, MAX_BLOCK, render_offline};
use ohmpatch_patch::{Node, Patch, Wire};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

fn engine() -> Engine {
    Engine::new(registry(), EngineConfig::default())
}

/// One random edit of the kinds the editor makes.
fn random_edit(p: &Patch, rng: &mut Rng, counter: &mut u64) -> Patch {
    let mut p = p.clone();
    let ids: Vec<String> = p.nodes.keys().cloned().collect();
    let pick = |rng: &mut Rng, v: &[String]| {
        v[(rng.uniform() * v.len() as f64) as usize % v.len()].clone()
    };
    match (rng.uniform() * 5.0) as u32 {
        0 if p.nodes.len() < 40 => {
            *counter += 1;
            let kinds = ["src", "pass", "lp", "sum", "delay", "fan", "gate", "bias"];
            let k = kinds[(rng.uniform() * kinds.len() as f64) as usize % kinds.len()];
            p.nodes
                .insert(format!("n{counter}"), Node::new(k, (0.0, 0.0)));
        }
        1 if ids.len() > 3 => {
            let id = pick(rng, &ids);
            if id != "o" {
                p.nodes.remove(&id);
                p.wires.retain(|w| w.from.node != id && w.to.node != id);
            }
        }
        2 if !p.wires.is_empty() => {
            let i = (rng.uniform() * p.wires.len() as f64) as usize % p.wires.len();
            p.wires.remove(i);
        }
        3 => {
            let id = pick(rng, &ids);
            let kind = p.nodes[&id].kind.clone();
            let n = p.nodes.get_mut(&id).unwrap();
            match kind.as_str() {
                "src" => {
                    n.params
                        .insert("freq".into(), (100.0 + rng.uniform() * 2000.0).into());
                }
                "pass" => {
                    n.params
                        .insert("gain".into(), (rng.uniform() * 2.0 - 1.0).into());
                }
                "gate" => {
                    let on = if rng.uniform() < 0.5 { 0.0 } else { 1.0 };
                    n.params.insert("on".into(), on.into());
                }
                _ => {}
            }
        }
        _ => {
            let a = pick(rng, &ids);
            let b = pick(rng, &ids);
            let outs = match p.nodes[&a].kind.as_str() {
                "out" => return p,
                "fan" => "o1",
                _ => "out",
            };
            let ins = match p.nodes[&b].kind.as_str() {
                "src" => return p,
                "sum" => "a",
                _ => "in",
            };
            let w = Wire::parse(&format!("{a}.{outs}"), &format!("{b}.{ins}")).unwrap();
            if !p.wires.contains(&w) {
                p.wires.push(w);
            }
        }
    }
    p
}

#[test]
fn no_allocation_on_the_audio_thread_during_1000_random_edits() {
    let mut e = engine();
    let mut p = patch("s:src f:lp o:out", "s.out>f.in f.out>o.in");
    e.set_patch(&p).unwrap();
    let mut core = e.take_core().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let blocks = Arc::new(AtomicU64::new(0));
    let (stop2, blocks2) = (stop.clone(), blocks.clone());
    let audio = std::thread::spawn(move || {
        let mut out = vec![0.0f32; MAX_BLOCK * 2];
        let mut peak = 0.0f32;
        while !stop2.load(Ordering::Relaxed) {
            // Panics (in debug builds) on any allocation or free in here.
            assert_no_alloc(|| {
                core.process_interleaved(&mut out, 2, &[], 0);
                for s in &out {
                    peak = peak.max(s.abs());
                }
            });
            blocks2.fetch_add(1, Ordering::Relaxed);
            std::thread::yield_now();
        }
        (core, peak)
    });
    let mut rng = Rng::new(42);
    let mut counter = 0;
    let mut applied = 0;
    for _ in 0..1000 {
        let next = random_edit(&p, &mut rng, &mut counter);
        if e.set_patch(&next).is_ok() {
            p = next;
            applied += 1;
        }
        e.maintain();
        // Let the audio thread run a little between edits.
        let b = blocks.load(Ordering::Relaxed);
        while blocks.load(Ordering::Relaxed) < b + 2 {
            std::thread::yield_now();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (core, peak) = audio.join().expect("the audio thread did not allocate");
    e.return_core(core);
    e.maintain();
    assert!(applied > 500, "only {applied} edits applied");
    assert!(peak.is_finite());
}

#[test]
fn a_recompile_keeps_a_running_filters_state() {
    // s → f(lowpass) → o, then add an unrelated node and wire elsewhere.
    let mut e = engine();
    let p = patch("s:src f:lp o:out", "s.out>f.in f.out>o.in");
    e.set_patch(&p).unwrap();
    let mut core = e.take_core().unwrap();
    let mut y = Vec::new();
    for i in 0..400 {
        if i == 200 {
            let mut q = p.clone();
            q.nodes.insert("x".into(), Node::new("src", (0.0, 0.0)));
            q.nodes.insert("g".into(), Node::new("pass", (0.0, 0.0)));
            q.wires.push(Wire::parse("x.out", "g.in").unwrap());
            e.set_patch(&q).unwrap();
        }
        core.run_block(MAX_BLOCK, &[], 0);
        y.extend_from_slice(core.device_out(0, MAX_BLOCK));
        e.maintain();
    }
    // The same render without the edit.
    let mut e2 = engine();
    e2.set_patch(&p).unwrap();
    let mut core2 = e2.take_core().unwrap();
    let mut z = Vec::new();
    for _ in 0..400 {
        core2.run_block(MAX_BLOCK, &[], 0);
        z.extend_from_slice(core2.device_out(0, MAX_BLOCK));
    }
    assert_eq!(
        y, z,
        "the unchanged path must be bit-identical across the recompile"
    );
}

#[test]
fn a_new_wire_fades_in_instead_of_stepping() {
    let mut e = Engine::new(
        registry(),
        EngineConfig {
            fade_ms: 5.0,
            ..Default::default()
        },
    );
    let p = patch("s:src o:out", "");
    e.set_patch(&p).unwrap();
    let mut core = e.take_core().unwrap();
    core.run_block(MAX_BLOCK, &[], 0);
    let mut q = p.clone();
    q.wires.push(Wire::parse("s.out", "o.in").unwrap());
    e.set_patch(&q).unwrap();
    let mut y = Vec::new();
    for _ in 0..10 {
        core.run_block(MAX_BLOCK, &[], 0);
        y.extend_from_slice(core.device_out(0, MAX_BLOCK));
    }
    // 5 ms at 48 kHz = 240 samples of ramp: the first samples are small.
    let early = y[..24].iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let late = y[600..].iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(early < 0.1 * late, "early {early} late {late}");
    // No sample-to-sample jump bigger than the sine's own slope allows.
    let max_step = y
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    let sine_slope = 2.0 * std::f32::consts::PI * 1000.0 / 48000.0;
    assert!(max_step <= sine_slope * 1.05, "step {max_step}");
}

#[test]
fn a_removed_wire_fades_out_then_goes() {
    let mut e = engine();
    let p = patch("s:src o:out", "s.out>o.in");
    e.set_patch(&p).unwrap();
    let mut core = e.take_core().unwrap();
    for _ in 0..4 {
        core.run_block(MAX_BLOCK, &[], 0);
    }
    let q = patch("s:src o:out", "");
    e.set_patch(&q).unwrap();
    let mut y = Vec::new();
    for _ in 0..20 {
        core.run_block(MAX_BLOCK, &[], 0);
        y.extend_from_slice(core.device_out(0, MAX_BLOCK));
        e.maintain();
    }
    let max_step = y
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    let sine_slope = 2.0 * std::f32::consts::PI * 1000.0 / 48000.0;
    assert!(max_step <= sine_slope * 1.05, "step {max_step}");
    assert!(
        y[y.len() - MAX_BLOCK..].iter().all(|v| *v == 0.0),
        "silent after the fade"
    );
    e.return_core(core);
    assert!(e.is_settled());
}

#[test]
fn a_param_change_reaches_the_running_processor_without_a_rebuild() {
    let mut e = engine();
    let mut p = patch("s:src f:lp o:out", "s.out>f.in f.out>o.in");
    e.set_patch(&p).unwrap();
    let mut core = e.take_core().unwrap();
    for _ in 0..10 {
        core.run_block(MAX_BLOCK, &[], 0);
    }
    p.nodes
        .get_mut("s")
        .unwrap()
        .params
        .insert("freq".into(), 100.0.into());
    e.set_patch(&p).unwrap();
    let gen_before = e.stats().generation.load(Ordering::Relaxed);
    core.run_block(MAX_BLOCK, &[], 0);
    // Same schedule: no new plan, the change went as a message.
    assert_eq!(e.stats().generation.load(Ordering::Relaxed), gen_before);
    let y: Vec<f32> = (0..200)
        .flat_map(|_| {
            core.run_block(MAX_BLOCK, &[], 0);
            core.device_out(0, MAX_BLOCK).to_vec()
        })
        .collect();
    // 100 Hz through the one-pole (fc ≈ 77 Hz) is much louder than 1 kHz was.
    let rms = ohmpatch_engine::dsp::rms(&y[12000..]);
    assert!(rms > 0.3, "{rms}");
}

#[test]
fn the_allocation_guard_is_armed() {
    // Proves the guard above can fail: allocate inside it in a child process.
    if std::env::var_os("OHMPATCH_ALLOC_PROBE").is_some() {
        assert_no_alloc(|| {
            let v = vec![1u8; 64];
            std::hint::black_box(v);
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "the_allocation_guard_is_armed",
            "--exact",
            "--test-threads=1",
        ])
        .env("OHMPATCH_ALLOC_PROBE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "allocating under assert_no_alloc must abort"
    );
}

#[test]
fn offline_render_is_deterministic() {
    let p = patch("s:src f:lp o:out", "s.out>f.in f.out>o.in");
    let run = || {
        let mut e = engine();
        e.set_patch(&p).unwrap();
        render_offline(&mut e, 48000, 256)
    };
    let a = run();
    let b = run();
    assert_eq!(a.len(), 1);
    assert_eq!(a, b);
}

#[test]
fn invalid_edits_leave_the_running_patch_alone() {
    let mut e = engine();
    let p = patch("s:src o:out", "s.out>o.in");
    e.set_patch(&p).unwrap();
    let bad = patch(
        "s:src a:sum b:pass o:out",
        "s.out>a.a a.out>b.in b.out>a.b b.out>o.in",
    );
    let err = e.set_patch(&bad).unwrap_err();
    assert!(err.to_string().contains("delay"), "{err}");
    assert_eq!(e.patch(), &p);
    let unknown = patch("s:nope", "");
    assert!(e.set_patch(&unknown).is_err());
    assert_eq!(e.patch(), &p);
}
