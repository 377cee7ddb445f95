//! LV2 plugins on the audio thread: they run, and their controls change,
//! without an allocation (the guard is armed in release builds too); a
//! control change reaches the plugin at the next block. Figures: SWH's
//! "Simple amplifier" multiplies by 10^(gain/20) (its source, `DB_CO`).
//! Needs Debian's `swh-lv2` and `guitarix-lv2` (scripts/setup.sh).

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use ohmpatch_engine::{Engine, EngineConfig};
use ohmpatch_patch::{Patch, Value};
use std::sync::Arc;

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

const SWH_AMP: &str = "http://plugin.org.uk/swh-plugins/amp";
const GX_DS1: &str = "http://guitarix.sourceforge.net/plugins/gx_bossds1_#_bossds1_";

fn patch() -> Patch {
    for uri in [SWH_AMP, GX_DS1] {
        assert!(
            ohmpatch_nodes::lv2::catalog().get(uri).is_some(),
            "LV2 plugin {uri} is not installed: run scripts/setup.sh (swh-lv2, guitarix-lv2)"
        );
    }
    let text = format!(
        r#"(version: 1, nodes: {{
        "t": (kind: "tone", params: {{"freq_hz": 1000.0, "level_dbu": -10.0}}),
        "amp": (kind: "lv2", params: {{"uri": "{SWH_AMP}", "gain": 0.0}}),
        "ds1": (kind: "lv2", params: {{"uri": "{GX_DS1}"}}),
        "o": (kind: "output", params: {{"limiter": false}}),
        "o2": (kind: "output", params: {{"channel": 2.0, "limiter": false}}),
    }}, wires: [("t.out", "amp.input"), ("amp.output", "o.in"), ("t.out", "ds1.in"), ("ds1.out", "o2.in")])"#
    );
    ohmpatch_patch::load_str(&text, "rt.ohm.ron").unwrap()
}

fn set(p: &Patch, gain: f64, drive: f64) -> Patch {
    let mut p = p.clone();
    let n = p.nodes.get_mut("amp").unwrap();
    n.params.insert("gain".into(), Value::Number(gain));
    let n = p.nodes.get_mut("ds1").unwrap();
    n.params.insert("DRIVE".into(), Value::Number(drive));
    p
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn plugins_run_and_change_controls_without_allocating_and_at_the_next_block() {
    let base = patch();
    let mut e = Engine::new(
        Arc::new(ohmpatch_nodes::registry_with_plugins()),
        EngineConfig::default(),
    );
    e.set_patch(&base).unwrap();
    let mut core = e.take_core().unwrap();
    // A 1 kHz period is 48 samples; a 96-frame block holds two, so every
    // block's peak is the tone's peak.
    let block = 96;
    let mut peaks = Vec::new();
    for step in 0..400 {
        if step % 40 == 20 {
            let on = (step / 40) % 2 == 0;
            e.set_patch(&set(
                &base,
                if on { -20.0 } else { 0.0 },
                if on { 0.9 } else { 0.1 },
            ))
            .unwrap();
        }
        assert_no_alloc(|| core.run_block(block, &[], 0));
        peaks.push((
            step,
            peak(core.device_out(0, block)),
            peak(core.device_out(1, block)),
        ));
        e.maintain();
    }
    e.return_core(core);
    assert!(e.shutdown().is_empty());
    // −10 dBu peaks at −28 dBFS (+18 dBu full scale) at 0 dB; −20 dB
    // takes it to −48 dBFS, from the block after the change on.
    let db = |x: f32| 20.0 * f64::from(x).log10();
    for &(step, p, _) in &peaks[10..] {
        let phase = step % 80;
        let quiet = (21..60).contains(&phase);
        let want = if quiet { -48.0 } else { -28.0 };
        let settled = !matches!(phase, 20 | 60);
        if settled {
            assert!(
                (db(p) - want).abs() < 0.05,
                "block {step}: {:.2} dBFS, want {want}",
                db(p)
            );
        }
    }
    assert!(
        peaks
            .iter()
            .skip(10)
            .all(|&(_, _, d)| d > 0.0 && d.is_finite()),
        "the pedal plays"
    );
}
