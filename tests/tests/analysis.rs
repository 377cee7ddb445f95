//! The electrical analysis agrees with what the engine renders.

use ohmpatch_engine::analysis::{Analysis, analyze, test_frequency};
use ohmpatch_engine::compile;
use ohmpatch_patch::{Node, Patch, Value, Wire};
use ohmpatch_tests::*;
use std::collections::HashSet;

fn tone_into_output(z_out: f64, z_in: f64) -> Patch {
    let mut p = Patch::default();
    let mut t = Node::new("tone", (0.0, 0.0));
    t.params.insert("level_dbu".into(), 0.0.into());
    t.params.insert("z_out_ohm".into(), z_out.into());
    let mut o = Node::new("output", (0.0, 0.0));
    o.params.insert("z_in_ohm".into(), z_in.into());
    p.nodes.insert("t".into(), t);
    p.nodes.insert("o".into(), o);
    p.wires.push(Wire::parse("t.out", "o.in").unwrap());
    p
}

#[test]
fn changing_only_an_impedance_changes_the_level_by_the_divider_ratio() {
    let dir = root();
    let reference = dbfs_rms(&render(&tone_into_output(0.0, 10_000.0), &dir, 0.5, 0)[0][4800..]);
    for (zs, zl) in [
        (600.0, 600.0),
        (150.0, 1200.0),
        (1000.0, 10_000.0),
        (50.0, 100_000.0),
    ] {
        let got = dbfs_rms(&render(&tone_into_output(zs, zl), &dir, 0.5, 0)[0][4800..]);
        let expect: f64 = 20.0 * (zl / (zs + zl)).log10();
        assert!(
            (got - reference - expect).abs() < 0.05,
            "{zs} Ω into {zl} Ω: {:.3} dB, expected {expect:.3}",
            got - reference
        );
    }
}

/// The analysis of a patch at its own test frequency.
fn analysis_of(patch: &Patch) -> Analysis {
    let registry = ohmpatch_nodes::registry();
    let schedule = compile(patch, &registry, 48_000.0, &HashSet::new()).unwrap();
    analyze(
        &schedule,
        &registry,
        48_000.0,
        test_frequency(patch, &registry),
    )
}

/// A loop's level depends on the phase of what returns; the analysis leaves
/// feedback out, so loops are not compared with renders.
fn has_loop(patch: &Patch) -> bool {
    let registry = ohmpatch_nodes::registry();
    let schedule = compile(patch, &registry, 48_000.0, &HashSet::new()).unwrap();
    schedule
        .steps
        .iter()
        .any(|s| s.kind != ohmpatch_engine::compile::StepKind::Process)
}

/// Render channel of each output node: `render` writes them in id order.
fn channel_of(patch: &Patch, id: &str) -> usize {
    patch
        .nodes
        .iter()
        .filter(|(_, n)| n.kind == "output")
        .position(|(k, _)| k == id)
        .unwrap()
}

/// The analysed outputs whose chain clips at the nominal level: there the
/// render is limited and the linear prediction does not hold (by design).
fn clipped(report: &Analysis) -> bool {
    report.warnings.iter().any(|w| {
        w.message.contains("clips at the nominal level") || w.message.contains("output clips")
    })
}

fn db_power_sum(a: f64, b: f64) -> f64 {
    10.0 * (10f64.powf(a / 10.0) + 10f64.powf(b / 10.0)).log10()
}

/// The examples that show a stage clipping at the nominal level.
const CLIPS_ON_PURPOSE: &[&str] = &["amp-load-too-low.ohm.ron"];

/// `check` predicts for a sine at each source's nominal level. A file or a
/// device input carries program material, whose level after a shaped
/// response (a speaker, a mic) depends on its spectrum, so for the
/// comparison each is replaced by that sine: a tone at the test frequency,
/// 18 dB below the converter's full-scale setting (the level `check`
/// assumes), with the same domain and source impedance.
fn as_sines(patch: &Patch) -> Patch {
    let registry = ohmpatch_nodes::registry();
    let freq = test_frequency(patch, &registry);
    let mut p = patch.clone();
    for n in p.nodes.values_mut() {
        let (dbu, spl, dbu_default, spl_default) = match n.kind.as_str() {
            "file_in" => ("level_dbu", "level_db_spl", 18.0, 120.0),
            "audio_in" => ("full_scale_dbu", "full_scale_db_spl", 18.0, 120.0),
            _ => continue,
        };
        let get = |k: &str, d: f64| n.params.get(k).and_then(Value::as_f64).unwrap_or(d);
        let mut tone = node(
            "tone",
            &[
                ("freq_hz", num(freq)),
                ("level_dbu", num(get(dbu, dbu_default) - 18.0)),
                ("level_db_spl", num(get(spl, spl_default) - 18.0)),
                ("z_out_ohm", num(get("z_out_ohm", 0.0))),
            ],
        );
        if let Some(d) = n.params.get("domain") {
            tone.params.insert("domain".into(), d.clone());
        }
        tone.pos = n.pos;
        *n = tone;
    }
    p
}

#[test]
fn predicted_output_levels_match_offline_renders() {
    let mut checked = 0;
    for path in examples() {
        let patch = load(&path);
        if has_loop(&patch) {
            continue;
        }
        let report = analysis_of(&patch);
        // A stage driven into its curve is predicted through that curve, so
        // even an example that clips on purpose (an amp at its current limit)
        // must render at the predicted level; only these may clip.
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !clipped(&report) || CLIPS_ON_PURPOSE.contains(&name.as_ref()),
            "{}: an example clips",
            path.display()
        );
        let out = render(&as_sines(&patch), path.parent().unwrap(), 2.0, 1);
        for o in &report.outputs {
            let predicted = db_power_sum(o.levels.signal_db, o.levels.noise_db);
            let measured = dbfs_rms(&out[channel_of(&patch, &o.node)][24_000..]);
            assert!(
                (predicted - measured).abs() < 0.5,
                "{}: output {} predicted {predicted:.2} dBFS, rendered {measured:.2} dBFS",
                path.display(),
                o.node
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} outputs compared");
}

/// Whether a `cab_ir` feeds output `node`. `check` takes a `cab_ir` as its
/// gain, flat, without reading the response file, so the noise after one
/// is off by the response's band-power gain (1.9 dB for
/// guitar-12in-sm57-5cm.wav): a known gap of the model (README, "What
/// `check` tells you"), left out here rather than hidden by a wider
/// tolerance for every output.
fn after_cab_ir(patch: &Patch, node: &str) -> bool {
    patch.wires.iter().any(|w| {
        w.to.node == node
            && patch
                .nodes
                .get(&w.from.node)
                .is_some_and(|n| n.kind == "cab_ir")
    })
}

/// With every source silenced (its wires cut), what the output carries is the
/// chain's own noise: it must match the predicted noise floor, measured like
/// the analysis states it (20 Hz–20 kHz, unweighted).
#[test]
fn predicted_noise_floors_match_offline_renders() {
    let mut checked = 0;
    for path in examples() {
        let patch = load(&path);
        if has_loop(&patch) {
            continue;
        }
        let report = analysis_of(&patch);
        let mut quiet = patch.clone();
        let sources: Vec<String> = quiet
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n.kind.as_str(), "tone" | "file_in" | "audio_in"))
            .map(|(k, _)| k.clone())
            .collect();
        quiet.wires.retain(|w| !sources.contains(&w.from.node));
        let out = render(&quiet, path.parent().unwrap(), 2.0, 3);
        for o in &report.outputs {
            if !o.levels.noise_db.is_finite() || after_cab_ir(&patch, &o.node) {
                continue;
            }
            let x = &out[channel_of(&patch, &o.node)][24_000..];
            // AES17 dBFS (a full-scale sine is 0 dBFS), like the report.
            let measured = 20.0
                * (ohmpatch_nodes::measure::band_rms(x, 48_000.0, 20.0, 20_000.0)
                    * std::f64::consts::SQRT_2)
                    .log10();
            let predicted = o.levels.noise_db;
            assert!(
                (predicted - measured).abs() < 0.5,
                "{}: output {} noise predicted {predicted:.2} dBFS, rendered {measured:.2} dBFS",
                path.display(),
                o.node
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} noise floors compared");
}

fn node(kind: &str, params: &[(&str, Value)]) -> Node {
    let mut n = Node::new(kind, (0.0, 0.0));
    for (k, v) in params {
        n.params.insert(k.to_string(), v.clone());
    }
    n
}

/// A chain of `(id, node)` wired `out → in` in order.
fn chain(nodes: Vec<(&str, Node)>) -> Patch {
    let mut p = Patch::default();
    for w in nodes.windows(2) {
        p.wires
            .push(Wire::parse(&format!("{}.out", w[0].0), &format!("{}.in", w[1].0)).unwrap());
    }
    for (id, n) in nodes {
        p.nodes.insert(id.to_string(), n);
    }
    p
}

fn num(x: f64) -> Value {
    x.into()
}

fn text(x: &str) -> Value {
    Value::Str(x.to_string())
}

fn voice() -> Node {
    node(
        "tone",
        &[("domain", text("acoustic")), ("level_db_spl", num(94.0))],
    )
}

/// The warnings of a patch, as "at: message (fix)" lines.
fn warnings(p: &Patch) -> Vec<String> {
    analysis_of(p)
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect()
}

fn assert_one_warning(p: &Patch, at: &str, words: &[&str]) {
    let w = warnings(p);
    let hits: Vec<&String> = w
        .iter()
        .filter(|l| l.starts_with(at) && words.iter().all(|x| l.contains(x)))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one warning at {at} with {words:?}, got {w:#?}"
    );
}

#[test]
fn a_well_staged_chain_and_the_fixes_produce_no_warning() {
    let demo = load(&root().join("graphs/demo.ohm.ron"));
    assert_eq!(warnings(&demo), Vec::<String>::new());
    // In each side-by-side example the fixed chain (ids ending in _b, except
    // where the bad one is _b) is clean; so each file warns only on its bad side.
    for (file, bad) in [
        ("mic-preamp-vs-power-amp", "_b"),
        ("instrument-into-mic-input", "_a"),
        ("preamp-into-speaker", "_a"),
        ("amp-load-too-low", "_a"),
    ] {
        let p = load(&root().join(format!("graphs/{file}.ohm.ron")));
        let w = warnings(&p);
        assert!(!w.is_empty(), "{file}: no warning");
        for l in &w {
            let at = l.split(':').next().unwrap();
            assert!(
                at.split(" -> ")
                    .any(|e| e.split('.').next().unwrap().ends_with(bad)),
                "{file}: warning on the fixed side: {l}"
            );
        }
    }
}

#[test]
fn mic_into_a_power_amp_says_add_a_preamp() {
    let p = chain(vec![
        ("v", voice()),
        ("m", node("mic", &[("distance_m", num(0.3))])),
        ("a", node("power_amp", &[])),
        ("s", node("speaker", &[])),
    ]);
    assert_one_warning(
        &p,
        "m.out -> a.in",
        &["mic level", "power amp", "add a mic preamp"],
    );
}

#[test]
fn mic_into_a_line_input_says_add_a_preamp() {
    let p = chain(vec![
        ("v", voice()),
        ("m", node("mic", &[])),
        ("o", node("output", &[])),
    ]);
    assert_one_warning(
        &p,
        "m.out -> o.in",
        &["mic level", "line input", "add a preamp"],
    );
}

#[test]
fn instrument_into_a_power_amp_says_add_a_preamp() {
    let p = chain(vec![
        (
            "g",
            node(
                "tone",
                &[("domain", text("instrument")), ("level_dbu", num(-10.0))],
            ),
        ),
        ("a", node("power_amp", &[])),
        ("s", node("speaker", &[])),
    ]);
    assert_one_warning(&p, "g.out -> a.in", &["instrument level", "add a preamp"]);
}

#[test]
fn a_preamp_into_a_speaker_says_add_a_power_amp() {
    let p = chain(vec![
        (
            "t",
            node(
                "tone",
                &[("domain", text("mic")), ("level_dbu", num(-40.0))],
            ),
        ),
        ("p", node("preamp", &[])),
        ("s", node("speaker", &[])),
    ]);
    assert_one_warning(
        &p,
        "p.out -> s.in",
        &["cannot deliver the current", "add a power amp"],
    );
}

#[test]
fn speaker_level_into_a_line_input_says_it_overloads() {
    let p = chain(vec![
        ("t", node("tone", &[("level_dbu", num(4.0))])),
        ("a", node("power_amp", &[])),
        ("o", node("output", &[("full_scale_dbu", num(40.0))])),
    ]);
    assert_one_warning(&p, "a.out -> o.in", &["speaker level", "overload", "pad"]);
}

#[test]
fn a_load_below_the_amps_rating_is_reported() {
    let mut p = chain(vec![
        ("t", node("tone", &[("level_dbu", num(-10.0))])),
        ("a", node("power_amp", &[])),
        ("s1", node("speaker", &[])),
    ]);
    p.nodes.insert("s2".into(), node("speaker", &[]));
    p.wires.push(Wire::parse("a.out", "s2.in").unwrap());
    assert_one_warning(&p, "a", &["below the 8 Ω", "rated"]);
    // One speaker alone is what the amp is rated for.
    p.nodes.remove("s2");
    p.wires.retain(|w| w.to.node != "s2");
    assert_eq!(warnings(&p), Vec::<String>::new());
}

#[test]
fn a_source_impedance_close_to_the_load_is_reported_with_its_loss() {
    let p = chain(vec![
        (
            "g",
            node(
                "tone",
                &[
                    ("domain", text("instrument")),
                    ("level_dbu", num(-10.0)),
                    ("z_out_ohm", num(10_000.0)),
                ],
            ),
        ),
        ("p", node("preamp", &[("gain_db", num(20.0))])),
        ("o", node("output", &[])),
    ]);
    assert_one_warning(&p, "g.out -> p.in", &["-19.4 dB lost", "ten times"]);
}

#[test]
fn a_stage_clipping_at_the_nominal_level_is_reported_once_where_it_clips() {
    let p = chain(vec![
        (
            "t",
            node(
                "tone",
                &[("domain", text("mic")), ("level_dbu", num(-20.0))],
            ),
        ),
        ("p", node("preamp", &[("gain_db", num(60.0))])),
        ("g", node("gain", &[("gain_db", num(-30.0))])),
        ("o", node("output", &[])),
    ]);
    let w = warnings(&p);
    let clips: Vec<&String> = w.iter().filter(|l| l.contains("clips")).collect();
    assert_eq!(clips.len(), 1, "{w:#?}");
    assert!(clips[0].starts_with("p.out -> g.in"), "{w:#?}");
}

#[test]
fn an_output_past_full_scale_is_reported() {
    let p = chain(vec![
        ("t", node("tone", &[("level_dbu", num(22.0))])),
        ("o", node("output", &[])),
    ]);
    assert_one_warning(&p, "o", &["output clips", "+4.0 dBFS"]);
}

#[test]
fn a_feedback_loop_with_gain_is_reported_and_a_decaying_one_is_not() {
    let looped = |delay_gain_db: f64| {
        let mut p = chain(vec![
            ("t", node("tone", &[("level_dbu", num(0.0))])),
            ("m", node("mixer", &[])),
            ("o", node("output", &[])),
        ]);
        p.wires.retain(|w| w.from.node != "m");
        p.nodes.insert(
            "d".into(),
            node(
                "delay",
                &[("time_ms", num(5.0)), ("gain_db", num(delay_gain_db))],
            ),
        );
        for (a, b) in [("m.out", "o.in"), ("m.out", "d.in"), ("d.out", "m.in2")] {
            p.wires.push(Wire::parse(a, b).unwrap());
        }
        p.wires
            .retain(|w| !(w.from.node == "t" && w.to.port == "in"));
        p.wires.push(Wire::parse("t.out", "m.in1").unwrap());
        p
    };
    assert_one_warning(&looped(12.0), "d", &["+12.0 dB", "builds up"]);
    assert_eq!(warnings(&looped(-6.0)), Vec::<String>::new());
    let echo = load(&root().join("graphs/feedback-echo.ohm.ron"));
    assert_eq!(warnings(&echo), Vec::<String>::new());
}

#[test]
fn the_gain_staging_strip_follows_the_main_chain_from_source_to_output() {
    let demo = load(&root().join("graphs/demo.ohm.ron"));
    let r = analysis_of(&demo);
    assert_eq!(r.staging.len(), 1);
    let strip = &r.staging[0];
    assert_eq!(strip.output, "out");
    let path: Vec<String> = strip
        .wires
        .iter()
        .map(|&i| r.wires[i].from.to_string())
        .collect();
    assert_eq!(
        path,
        [
            "voice.out",
            "mic.out",
            "pre.out",
            "amp.out",
            "cab.out",
            "room_mic.out",
            "room_pre.out"
        ]
    );
    // Two chains, two strips, each with its own source and output.
    let side = load(&root().join("graphs/mic-preamp-vs-power-amp.ohm.ron"));
    let r = analysis_of(&side);
    let ends: Vec<(String, String)> = r
        .staging
        .iter()
        .map(|s| {
            (
                r.wires[s.wires[0]].from.to_string(),
                r.wires[*s.wires.last().unwrap()].to.to_string(),
            )
        })
        .collect();
    assert!(
        ends.contains(&("voice.out".into(), "out_a.in".into())),
        "{ends:?}"
    );
    assert!(
        ends.contains(&("voice.out".into(), "out_b.in".into())),
        "{ends:?}"
    );
}

/// `check` reports each output's path latency: the samples of delay the
/// processors on its longest path report, measured here as where a click
/// through the same chain comes out of a render.
#[test]
fn path_latency_in_check_is_where_a_click_comes_out() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut click = vec![0.0f32; 9_600];
    click[4_800] = 0.1;
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("click.wav"), &[click], 48_000).unwrap();
    // A power amp (its 4x oversampler) into a resistor, read through a
    // gain into an output; and the dry click beside it.
    let text = r#"(version: 1, nodes: {
        "f": (kind: "file_in", params: {"path": "click.wav"}),
        "amp": (kind: "power_amp", params: {"gain_db": 0.0, "snr_db": 140.0}),
        "r": (kind: "speaker", params: {"preset": "resistor_8"}),
        "pad": (kind: "gain", params: {"gain_db": 0.0, "domain": "speaker"}),
        "o1": (kind: "output", params: {"limiter": false}),
        "o2": (kind: "output", params: {"limiter": false}),
    }, wires: [("f.out", "amp.in"), ("amp.out", "pad.in"), ("pad.out", "o1.in"), ("f.out", "o2.in")])"#;
    let patch = ohmpatch_patch::load_str(text, "lat.ohm.ron").unwrap();
    let report = analysis_of(&patch);
    let lat = |id: &str| {
        report
            .outputs
            .iter()
            .find(|o| o.node == id)
            .unwrap()
            .latency_samples
    };
    assert_eq!(lat("o2"), 0);
    assert!(lat("o1") > 0, "the power amp's oversampler delays");
    let out = render(&patch, &dir, 0.2, 0);
    let _ = std::fs::remove_dir_all(&dir);
    let peak_at = |c: &[f32]| {
        c.iter()
            .enumerate()
            .fold(
                (0, 0f32),
                |(i, m), (j, v)| if v.abs() > m { (j, v.abs()) } else { (i, m) },
            )
            .0
    };
    let (wet, dry) = (peak_at(&out[0]), peak_at(&out[1]));
    assert_eq!(dry, 4_800);
    assert!(
        wet.abs_diff(4_800 + lat("o1")) <= 1,
        "the click comes out at {wet}, check says {} samples after 4800",
        lat("o1")
    );
}
