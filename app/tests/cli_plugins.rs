//! `ohmpatch plugins`, and plugins through `check` and `render`, from
//! outside: the list is lilv's (the figures are the plugin's own TTL),
//! `LV2_PATH` is honoured, a plugin's printing never reaches stdout, and a
//! missing plugin is named on every command. Needs Debian's `swh-lv2` and
//! `guitarix-lv2` (scripts/setup.sh).

use ohmpatch_tests::root;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ohmpatch(args: &[&str], lv2_path: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ohmpatch"));
    c.args(args);
    if let Some(p) = lv2_path {
        c.env("LV2_PATH", p);
    }
    c.output().unwrap()
}

/// This file's test folders: `ohmpatch-plugins-TAG-PID`.
fn tmpdir(tag: &str) -> PathBuf {
    ohmpatch_tests::tmpdir(&format!("plugins-{tag}"))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn plugins_lists_what_lilv_finds_with_the_plugins_own_figures() {
    let o = ohmpatch(&["plugins", "--json"], None);
    assert!(o.status.success());
    let v = json(&o);
    let list = v["plugins"].as_array().unwrap();
    let amp = list
        .iter()
        .find(|p| p["uri"] == "http://plugin.org.uk/swh-plugins/amp")
        .expect("SWH's amp is not installed: run scripts/setup.sh (swh-lv2)");
    // amp-swh.lv2/plugin.ttl: "Simple amplifier", gain −70…+70 dB, default 0.
    assert_eq!(amp["name"], "Simple amplifier");
    assert_eq!(amp["audio_inputs"], serde_json::json!(["input"]));
    assert_eq!(amp["audio_outputs"], serde_json::json!(["output"]));
    let gain = &amp["controls"][0];
    assert_eq!(gain["symbol"], "gain");
    assert_eq!(
        (gain["min"].as_f64(), gain["max"].as_f64()),
        (Some(-70.0), Some(70.0))
    );
    assert_eq!(gain["default"].as_f64(), Some(0.0));
    assert!(
        list.iter()
            .any(|p| p["uri"].as_str().unwrap().contains("guitarix")),
        "Guitarix is not installed: run scripts/setup.sh (guitarix-lv2)"
    );
    // LV2_PATH names where to look: an empty folder holds none.
    let empty = tmpdir("empty");
    let v = json(&ohmpatch(&["plugins", "--json"], Some(&empty)));
    assert_eq!(v["plugins"].as_array().map(Vec::len), Some(0));
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn check_json_stays_json_with_printing_plugins_and_names_what_it_measured() {
    let patch = root().join("docs/patches/guitarix-chain.ohm.ron");
    let o = ohmpatch(&["check", "--json", patch.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(v["measured"], serde_json::json!(["ds1", "gx"]));
    // Guitarix prints when an instance is made; none of it on stderr either.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("mlock"), "{err}");
}

#[test]
fn a_missing_plugin_is_named_by_render_and_plays_silence() {
    let dir = tmpdir("missing");
    let patch = dir.join("m.ohm.ron");
    std::fs::write(
        &patch,
        r#"(version: 1, nodes: {
    "t": (kind: "tone"),
    "fx": (kind: "lv2", params: {"uri": "urn:example:gone", "wet": 0.5}),
    "o": (kind: "output"),
}, wires: [("t.out", "fx.in"), ("fx.out", "o.in")])"#,
    )
    .unwrap();
    let wav = dir.join("m.wav");
    let o = ohmpatch(
        &[
            "render",
            patch.to_str().unwrap(),
            "--out",
            wav.to_str().unwrap(),
            "--seconds",
            "0.2",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("urn:example:gone"));
    let mut r = hound::WavReader::open(&wav).unwrap();
    assert!(r.samples::<f32>().all(|s| s.unwrap() == 0.0));
    let _ = std::fs::remove_dir_all(&dir);
}
