//! LV2 plugins as nodes, against figures that do not come from ohmpatch:
//! SWH's "Simple amplifier" is a gain of `gain` dB (its documentation), so
//! at +6 dB a −10 dBu tone leaves it at −4 dBu, −22 dBFS at the output's
//! +18 dBu full scale (CONTRACT §1); a Guitarix chain plays and every wire
//! has a level; a plugin that is not installed is kept as written.
//! Needs Debian's `swh-lv2` and `guitarix-lv2` (scripts/setup.sh).

use ohmpatch_engine::analysis::analyze;
use ohmpatch_engine::{Engine, EngineConfig, Registry, compile, render_offline};
use ohmpatch_patch::{load_str, to_ron_string, validate};
use std::collections::HashSet;
use std::sync::Arc;

const SWH_AMP: &str = "http://plugin.org.uk/swh-plugins/amp";
const GX_DS1: &str = "http://guitarix.sourceforge.net/plugins/gx_bossds1_#_bossds1_";
const GX_AMP: &str = "http://guitarix.sourceforge.net/plugins/gx_amp#GUITARIX";

fn registry(needs: &[&str]) -> Registry {
    let r = ohmpatch_nodes::registry_with_plugins();
    let found = &ohmpatch_nodes::lv2::catalog().plugins;
    for uri in needs {
        assert!(
            found.iter().any(|p| p.uri == *uri),
            "LV2 plugin {uri} is not installed: run scripts/setup.sh (swh-lv2, guitarix-lv2)"
        );
    }
    r
}

fn render(r: Registry, text: &str, frames: usize) -> Vec<Vec<f32>> {
    let patch = load_str(text, "lv2.ohm.ron").unwrap();
    let diags = validate(&patch, &r, "lv2.ohm.ron", None);
    assert!(diags.is_empty(), "{diags:?}");
    let mut e = Engine::new(Arc::new(r), EngineConfig::default());
    e.set_patch(&patch).unwrap();
    let out = render_offline(&mut e, frames, 128);
    let _ = e.shutdown();
    out
}

fn peak_dbfs(x: &[f32]) -> f64 {
    20.0 * f64::from(x.iter().fold(0f32, |m, v| m.max(v.abs()))).log10()
}

#[test]
fn swh_amp_at_plus_6_db_renders_minus_22_dbfs() {
    let r = registry(&[SWH_AMP]);
    let text = format!(
        r#"(version: 1, nodes: {{
        "t": (kind: "tone", params: {{"freq_hz": 1000.0, "level_dbu": -10.0}}),
        "amp": (kind: "lv2", params: {{"uri": "{SWH_AMP}", "gain": 6.0}}),
        "o": (kind: "output"),
    }}, wires: [("t.out", "amp.input"), ("amp.output", "o.in")])"#
    );
    let out = render(r, &text, 24_000);
    let dbfs = peak_dbfs(&out[0][12_000..]);
    assert!((dbfs - -22.0).abs() <= 0.05, "peak {dbfs:.3} dBFS");
}

fn chain() -> String {
    format!(
        r#"(version: 1, nodes: {{
        "voice": (kind: "tone", params: {{"domain": "acoustic", "freq_hz": 220.0, "level_db_spl": 94.0}}),
        "mic": (kind: "mic", params: {{"distance_m": 0.05}}),
        "pre": (kind: "preamp", params: {{"gain_db": 30.0}}),
        "ds1": (kind: "lv2", params: {{"uri": "{GX_DS1}"}}),
        "gx": (kind: "lv2", params: {{"uri": "{GX_AMP}"}}),
        "amp": (kind: "power_amp", params: {{"gain_db": 26.0}}),
        "cab": (kind: "speaker"),
        "room": (kind: "mic", params: {{"distance_m": 1.0}}),
        "mpre": (kind: "preamp", params: {{"gain_db": 30.0}}),
        "o": (kind: "output"),
    }}, wires: [("voice.out", "mic.in"), ("mic.out", "pre.in"), ("pre.out", "ds1.in"),
        ("ds1.out", "gx.in"), ("gx.out", "amp.in"), ("amp.out", "cab.in"),
        ("cab.out", "room.in"), ("room.out", "mpre.in"), ("mpre.out", "o.in")])"#
    )
}

#[test]
fn a_guitarix_chain_plays_and_check_has_a_level_on_every_wire() {
    let r = registry(&[GX_DS1, GX_AMP]);
    let patch = load_str(&chain(), "chain.ohm.ron").unwrap();
    let schedule = compile(&patch, &r, 48_000.0, &HashSet::new()).unwrap();
    let report = analyze(&schedule, &r, 48_000.0, 220.0);
    assert_eq!(report.wires.len(), 9);
    for w in &report.wires {
        let s = w.levels.signal_rms;
        assert!(s.is_finite() && s > 0.0, "{} -> {}: {s}", w.from, w.to);
    }
    let out = render(r, &chain(), 48_000);
    let tail = &out[0][24_000..];
    assert!(tail.iter().all(|v| v.is_finite()));
    assert!(peak_dbfs(tail) > -60.0, "{:.1} dBFS", peak_dbfs(tail));
}

#[test]
fn a_missing_plugin_loads_warns_plays_silence_and_saves_unchanged() {
    let r = registry(&[]);
    let loaded = load_str(
        r#"(version: 1, nodes: {
        "t": (kind: "tone", params: {"level_dbu": 0.0}),
        "fx": (kind: "lv2", pos: (200.0, 0.0), params: {"uri": "urn:ohmpatch:test:not-installed", "drive": 7.5, "mode": "hot", "full_scale_dbu": 20.0}),
        "o": (kind: "output"),
    }, wires: [("t.out", "fx.in_l"), ("fx.out_l", "o.in")])"#,
        "m.ohm.ron",
    )
    .unwrap();
    // Saved as the file format writes it, then loaded and saved again.
    let text = to_ron_string(&loaded);
    let patch = load_str(&text, "m.ohm.ron").unwrap();
    assert!(validate(&patch, &r, "m.ohm.ron", None).is_empty());
    assert_eq!(to_ron_string(&patch), text, "saves byte-identical");
    let schedule = compile(&patch, &r, 48_000.0, &HashSet::new()).unwrap();
    let report = analyze(&schedule, &r, 48_000.0, 1000.0);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("urn:ohmpatch:test:not-installed")),
        "{:?}",
        report.warnings
    );
    let out = render(r, &text, 9600);
    assert!(out[0].iter().all(|v| *v == 0.0));
}

const SWH_LIMITER: &str = "http://plugin.org.uk/swh-plugins/fastLookaheadLimiter";

/// A square's edges through SWH's lookahead limiter (its source delays by
/// `(int)(0.005 * fs)`, 240 samples at 48 kHz, and reports that on its
/// latency port), and with `dry` the square straight as well, summed.
fn lookahead(dry: bool) -> String {
    let dry_wire = if dry { r#", ("c.out", "m.in2")"# } else { "" };
    format!(
        r#"(version: 1, nodes: {{
        "c": (kind: "tone", params: {{"waveform": "square", "freq_hz": 5.0, "level_dbu": -20.0}}),
        "lim": (kind: "lv2", params: {{"uri": "{SWH_LIMITER}", "limit": 0.0}}),
        "m": (kind: "mixer"),
        "o": (kind: "output", params: {{"limiter": false}}),
    }}, wires: [("c.out", "lim.in_1"), ("lim.out_1", "m.in1"){dry_wire}, ("m.out", "o.in")])"#
    )
}

/// The first sample after `from` where the signal steps by more than half
/// its largest step.
fn first_edge(x: &[f32], from: usize) -> usize {
    let d: Vec<f32> = x.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let top = d[from..].iter().fold(0f32, |m, v| m.max(*v));
    from + d[from..].iter().position(|v| *v > top * 0.5).unwrap()
}

#[test]
fn a_plugins_reported_latency_is_compensated() {
    let wet = render(registry(&[SWH_LIMITER]), &lookahead(false), 24_000);
    let both = render(registry(&[SWH_LIMITER]), &lookahead(true), 24_000);
    // The square's edges: at 5 Hz, every 4,800 samples from 0.
    let late = first_edge(&wet[0], 1_000);
    assert!(
        (4_800 + 236..4_800 + 244).contains(&late),
        "wet edge at {late}"
    );
    // With compensation the dry edge is delayed to meet it: one edge, twice
    // as tall, where the wet one was.
    assert_eq!(first_edge(&both[0], 1_000), late);
}

#[test]
fn check_measures_a_nonlinear_plugin_as_a_render_does() {
    // GxAmplifier-X driven hard by a +10 dBu sine: what `check` reports at
    // the output (its own instance, run off the audio thread) against the
    // rms of an offline render, as tests/tests/analysis.rs holds the models.
    let r = registry(&[GX_AMP]);
    let text = format!(
        r#"(version: 1, nodes: {{
        "t": (kind: "tone", params: {{"freq_hz": 110.0, "level_dbu": 9.8}}),
        "gx": (kind: "lv2", params: {{"uri": "{GX_AMP}"}}),
        "o": (kind: "output", params: {{"full_scale_dbu": 40.0, "limiter": false}}),
    }}, wires: [("t.out", "gx.in"), ("gx.out", "o.in")])"#
    );
    let patch = load_str(&text, "gx.ohm.ron").unwrap();
    let schedule = compile(&patch, &r, 48_000.0, &HashSet::new()).unwrap();
    let report = analyze(&schedule, &r, 48_000.0, 110.0);
    assert_eq!(report.measured, vec!["gx".to_string()]);
    let predicted = report.outputs[0].levels.signal_db;
    let out = render(r, &text, 144_000);
    // Its cabinet's impulse response is loaded by background work (LV2
    // worker), done after each block offline: a render is the same every time.
    assert!(
        out == render(registry(&[GX_AMP]), &text, 144_000),
        "renders differ"
    );
    let tail = &out[0][96_000..];
    let mean = tail.iter().map(|v| f64::from(*v)).sum::<f64>() / tail.len() as f64;
    let rms = (tail
        .iter()
        .map(|v| (f64::from(*v) - mean).powi(2))
        .sum::<f64>()
        / tail.len() as f64)
        .sqrt();
    // dBFS of a sine's rms, as `check` states it (CONTRACT §1).
    let rendered = 20.0 * (rms * std::f64::consts::SQRT_2).log10();
    assert!(
        (predicted - rendered).abs() < 0.5,
        "check {predicted:.2} dBFS, render {rendered:.2} dBFS"
    );
}
