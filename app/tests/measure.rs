//! `ohmpatch measure` from outside: the JSON shape other tools read, the
//! CSV and PNG files, the figures against `check` on the demo, and the
//! contract's exit codes for bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ohmpatch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn measure_writes_the_documented_json_csv_and_png() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-measure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let demo = root().join("graphs/demo.ohm.ron");
    let png = dir.join("m.png");
    let o = run(&[
        "measure",
        demo.to_str().unwrap(),
        "--from",
        "pre.out",
        "--to",
        "amp.out",
        "--json",
        "--csv",
        dir.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["from"], "pre.out");
    assert_eq!(v["to"], "amp.out");
    assert_eq!(v["sample_rate"], 48_000.0);
    let resp = v["response"].as_array().unwrap();
    assert_eq!(resp.len(), 240, "1/24 octave from 20 Hz to 20 kHz");
    for k in ["hz", "db", "phase_deg", "group_delay_ms"] {
        assert!(resp[0][k].is_number(), "response.{k}");
    }
    // The power amp's 20 dB (check: −5.5 dBu in, +14.5 dBu out) at 1 kHz.
    let at_1k = resp
        .iter()
        .find(|p| (p["hz"].as_f64().unwrap() - 1000.0).abs() < 30.0)
        .unwrap();
    assert!(
        (at_1k["db"].as_f64().unwrap() - 20.0).abs() < 0.2,
        "{at_1k}"
    );
    let f = &v["thd_vs_freq"][0];
    assert!(f["hz"].is_number() && f["thd_pct"].is_number() && f["thdn_pct"].is_number());
    let l = &v["thd_vs_level"][0];
    assert_eq!(l["unit"], "dBu");
    assert!(l["level"].is_number() && l["thd_pct"].is_number());
    // The amp clips a few dB above where check puts its headroom (+11.9 dB
    // over −5.5 dBu): THD reaches 1 % between +4 and +10 dBu.
    let c = v["clip_1pct"]["level"].as_f64().expect("clip_1pct");
    assert!((4.0..10.0).contains(&c), "clip at {c}");
    let n = &v["noise"];
    assert_eq!(n["unit"], "dBu");
    // check: −66.5 dBu on amp.out, SNR 81.0 dB.
    assert!((n["total"].as_f64().unwrap() + 66.5).abs() < 0.5, "{n}");
    assert!(n["a_weighted"].is_number() && n["spectrum"].is_array());
    assert!((n["snr_db"].as_f64().unwrap() - 81.0).abs() < 0.5, "{n}");
    let z = v["impedance"].as_array().unwrap();
    assert_eq!(z.len(), 240);
    assert!(z[0]["ohm"].is_number() && z[0]["phase_deg"].is_number());
    // The 12-inch preset resonates at 78 Hz.
    let peak = v["impedance_peak"]["hz"].as_f64().unwrap();
    assert!((peak / 78.0 - 1.0).abs() < 0.02, "peak at {peak}");
    for f in ["response", "thd_freq", "thd_level", "noise", "impedance"] {
        let t = std::fs::read_to_string(dir.join(format!("{f}.csv"))).unwrap();
        assert!(t.lines().count() > 10, "{f}.csv");
    }
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn measure_refuses_bad_ports_and_files_in_words() {
    let demo = root().join("graphs/demo.ohm.ron");
    let d = demo.to_str().unwrap();
    for (args, code, words) in [
        (
            vec!["--from", "nope.out", "--to", "amp.out"],
            1,
            "no node \"nope\"",
        ),
        (
            vec!["--from", "pre.in", "--to", "amp.out"],
            1,
            "no output port \"in\"",
        ),
        (
            vec!["--from", "amp.out", "--to", "pre.out"],
            1,
            "not reached",
        ),
        (vec!["--from", "pre", "--to", "amp.out"], 1, "NODE.PORT"),
    ] {
        let mut a = vec!["measure", d];
        a.extend(args);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{a:?}: {err}");
        assert!(err.contains(words), "{a:?}: {err}");
    }
    let o = run(&[
        "measure",
        "/no/such.ohm.ron",
        "--from",
        "a.out",
        "--to",
        "b.out",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
