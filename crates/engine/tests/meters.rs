//! Port meters: a meter somebody reads measures its wire exactly; a meter
//! nobody reads is not measured at all (so `play` and `render` pay nothing
//! for them), and `watch_all` measures every port. Blocks shorter than
//! `MAX_BLOCK` give the same samples as full ones.

mod common;
use common::*;
use ohmpatch_engine::{Engine, EngineConfig, MAX_BLOCK, render_offline};
use ohmpatch_patch::Value;

/// A 1 kHz sine of peak 1.0 into a pass stage of gain 0.5, into the output.
fn engine() -> Engine {
    let mut p = patch("s:src p:pass o:out", "s.out>p.in p.out>o.in");
    p.nodes
        .get_mut("p")
        .unwrap()
        .params
        .insert("gain".into(), Value::Number(0.5));
    let mut e = Engine::new(registry(), EngineConfig::default());
    e.set_patch(&p).unwrap();
    e
}

fn db(x: f32) -> f64 {
    20.0 * f64::from(x).log10()
}

#[test]
fn a_read_meter_measures_its_wire() {
    let mut e = engine();
    // Read the meter between blocks, as the editor does between frames.
    let mut last = Default::default();
    for _ in 0..(2 * 48_000 / MAX_BLOCK) {
        render_offline(&mut e, MAX_BLOCK, MAX_BLOCK);
        last = e.meter("p", "out").unwrap();
    }
    // Peak 0.5, RMS 0.5/√2 (−9.03 dB) after 2 s of a 300 ms time constant.
    assert!((db(last.peak) - db(0.5)).abs() < 0.05, "peak {}", last.peak);
    let want = 0.5 / std::f32::consts::SQRT_2;
    assert!(
        (db(last.rms) - db(want)).abs() < 0.05,
        "rms {} want {want}",
        last.rms
    );
}

#[test]
fn an_unread_meter_is_not_measured_until_it_is_read() {
    let mut e = engine();
    render_offline(&mut e, 48_000, MAX_BLOCK);
    // Nobody read it: the first read finds nothing measured, and marks it.
    let first = e.meter("s", "out").unwrap();
    assert_eq!(first.peak, 0.0, "measured although nobody read it");
    assert_eq!(first.rms, 0.0);
    // Read from now on: it measures the full-scale sine.
    let mut last = first;
    for _ in 0..(48_000 / MAX_BLOCK) {
        render_offline(&mut e, MAX_BLOCK, MAX_BLOCK);
        last = e.meter("s", "out").unwrap();
    }
    assert!((db(last.peak)).abs() < 0.05, "peak {}", last.peak);
    assert!(
        (db(last.rms) - db(std::f32::consts::FRAC_1_SQRT_2)).abs() < 0.1,
        "rms {}",
        last.rms
    );
}

#[test]
fn watch_all_measures_every_port_without_reads() {
    let mut e = engine();
    e.meters().watch_all(true);
    render_offline(&mut e, 2 * 48_000, MAX_BLOCK);
    let s = e.meter("s", "out").unwrap();
    let p = e.meter("p", "out").unwrap();
    assert!(db(s.peak).abs() < 0.05, "source peak {}", s.peak);
    assert!((db(p.peak) - db(0.5)).abs() < 0.05, "pass peak {}", p.peak);
    assert!(
        (db(s.rms) - db(p.rms) - 6.02).abs() < 0.05,
        "{} vs {}",
        s.rms,
        p.rms
    );
}

#[test]
fn short_blocks_give_the_same_samples_as_full_ones() {
    let full = render_offline(&mut engine(), 4_800, MAX_BLOCK);
    for block in [1, 37, 100, 127] {
        let short = render_offline(&mut engine(), 4_800, block);
        assert_eq!(short, full, "block of {block} frames");
    }
    assert!(
        full[0].iter().any(|v| v.abs() > 0.4),
        "the sine reaches the output"
    );
}
