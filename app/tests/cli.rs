//! The command line from outside, as a user or a script sees it: exit codes,
//! bytes of files, levels, and real-time playback on a real JACK server.

use ohmpatch_tests::root;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ohmpatch")
}

fn graph(name: &str) -> PathBuf {
    root().join("graphs").join(name)
}

/// This file's test folders: `ohmpatch-cli-TAG-PID`.
fn tmpdir(tag: &str) -> PathBuf {
    ohmpatch_tests::tmpdir(&format!("cli-{tag}"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_wav(p: &Path) -> (Vec<Vec<f32>>, u32) {
    let mut r = hound::WavReader::open(p).unwrap();
    let spec = r.spec();
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(spec.bits_per_sample, 32);
    let n = usize::from(spec.channels);
    let mut ch = vec![Vec::new(); n];
    for (i, s) in r.samples::<f32>().enumerate() {
        ch[i % n].push(s.unwrap());
    }
    (ch, spec.sample_rate)
}

#[test]
fn render_gives_the_same_bytes_twice_and_the_predicted_level() {
    let d = tmpdir("render");
    let a = d.join("a.wav");
    let b = d.join("b.wav");
    for out in [&a, &b] {
        let o = run(&[
            "render",
            graph("sine-unity.ohm.ron").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seconds",
            "2",
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (ch, sr) = read_wav(&a);
    assert_eq!(sr, 48_000);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].len(), 96_000);
    // +4 dBu sine, 0 dBFS = +18 dBu: rms −14 dB re the full-scale sine's rms.
    let x = &ch[0][4800..91200]; // whole periods of 1 kHz
    let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let level_dbfs_rms = 20.0 * (rms * 2f64.sqrt()).log10();
    assert!(
        (level_dbfs_rms + 14.0).abs() < 0.01,
        "level {level_dbfs_rms:.4} dB"
    );
}

#[test]
fn render_options_change_the_file() {
    let d = tmpdir("opts");
    let out = d.join("o.wav");
    let o = run(&[
        "render",
        graph("sine-unity.ohm.ron").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "0.5",
        "--sample-rate",
        "44100",
        "--block",
        "64",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (ch, sr) = read_wav(&out);
    assert_eq!(sr, 44_100);
    assert_eq!(ch[0].len(), 22_050);
}

#[test]
fn exit_codes_follow_the_contract() {
    let d = tmpdir("codes");
    // Unreadable: missing file, garbage.
    assert_eq!(
        run(&["check", d.join("missing.ohm.ron").to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    let garbage = d.join("garbage.ohm.ron");
    std::fs::write(&garbage, b"\x00\x01 not a patch {{{").unwrap();
    let o = run(&["check", garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Invalid: unknown kind, with a suggestion and a line number.
    let bad = d.join("bad.ohm.ron");
    std::fs::write(
        &bad,
        "(\n    version: 1,\n    nodes: {\n        \"p\": (kind: \"preamo\"),\n    },\n)\n",
    )
    .unwrap();
    let o = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("bad.ohm.ron:4:"), "{t}");
    assert!(t.contains("preamp"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    // Invalid: a loop without a delay, naming its nodes.
    let looped = d.join("loop.ohm.ron");
    std::fs::write(
        &looped,
        r#"(version: 1, nodes: {"a": (kind: "gain"), "b": (kind: "gain")}, wires: [("a.out", "b.in"), ("b.out", "a.in")])"#,
    )
    .unwrap();
    let o = run(&["check", looped.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("\"a\", \"b\""), "{}", text(&o));
    // Valid.
    let o = run(&["check", graph("feedback-echo.ohm.ron").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // JSON is JSON.
    let o = run(&[
        "check",
        "--json",
        graph("sine-unity.ohm.ron").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["order"][0], "tone");
}

#[test]
fn nodes_lists_the_catalogue_with_units() {
    let o = run(&["nodes", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    for k in [
        "tone", "gain", "mixer", "split", "delay", "output", "audio_in", "file_in", "recorder",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let out = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "output")
        .unwrap();
    let fs = out["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "full_scale_dbu")
        .unwrap();
    assert_eq!(fs["default"], 18.0);
    assert_eq!(fs["unit"], "dBu");
    let o = run(&["nodes"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("full_scale_dbu"));
}

#[test]
fn render_input_feeds_an_audio_in_from_a_file() {
    let d = tmpdir("input");
    let src = input_wav(&d, 48_000);
    let patch = d.join("p.ohm.ron");
    std::fs::write(
        &patch,
        r#"(version: 1, nodes: {"mic": (kind: "audio_in"), "out": (kind: "output")}, wires: [("mic.out", "out.in")])"#,
    )
    .unwrap();
    let out = d.join("o.wav");
    let o = run(&[
        "render",
        patch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "1",
        "--input",
        &format!("mic={}", src.display()),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (ch, _) = read_wav(&out);
    let peak = ch[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        (20.0 * f64::from(peak).log10() + 6.02).abs() < 0.05,
        "peak {peak}"
    );
    // A wrong id is refused in words.
    let o = run(&[
        "render",
        patch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--input",
        "nope=x.wav",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no node \"nope\""), "{}", text(&o));
}

#[test]
fn play_on_the_null_backend_runs_in_real_time() {
    let t0 = Instant::now();
    let o = run(&[
        "play",
        graph("sine-unity.ohm.ron").to_str().unwrap(),
        "--backend",
        "null",
        "--seconds",
        "1.5",
    ]);
    let el = t0.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("on null"), "{t}");
    assert!((1.4..6.0).contains(&el), "took {el} s");
    assert!(t.contains("-14.0 dBFS"), "{t}");
}

/// A private JACK server on the dummy driver, real-time paced.
struct Jack {
    name: String,
    child: Child,
}

impl Jack {
    fn start(tag: &str) -> Jack {
        let name = format!("ohmtest-{tag}-{}", std::process::id());
        let child = Command::new("jackd")
            .args(["-n", &name, "-d", "dummy", "-r", "48000", "-p", "128"])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd must be installed (scripts/setup.sh installs jackd2)");
        let j = Jack { name, child };
        let t0 = Instant::now();
        loop {
            let ok = Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &j.name)
                .env("JACK_NO_START_SERVER", "1")
                .output()
                .map(|o| {
                    o.status.success()
                        && String::from_utf8_lossy(&o.stdout).contains("system:playback_1")
                })
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "jackd did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        j
    }

    fn play(&self, args: &[&str]) -> Child {
        Command::new(bin())
            .args(args)
            .env("JACK_DEFAULT_SERVER", &self.name)
            .env("JACK_NO_START_SERVER", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Drop for Jack {
    fn drop(&mut self) {
        ohmpatch_tests::stop_jackd(&mut self.child);
    }
}

fn callbacks(t: &str) -> u64 {
    let i = t.rfind(" callbacks").expect("a callbacks count");
    t[..i]
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn play_on_jack_for_ten_seconds_reports_its_callbacks() {
    let jack = Jack::start("play");
    let child = jack.play(&[
        "play",
        graph("sine-unity.ohm.ron").to_str().unwrap(),
        "--backend",
        "jack",
        "--seconds",
        "10",
    ]);
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("on jack"), "{t}");
    // 48 kHz / 128 frames = 375 callbacks a second.
    let n = callbacks(&t);
    assert!((3000..=4000).contains(&n), "{n} callbacks in 10 s\n{t}");
}

#[test]
fn killing_the_jack_server_mid_play_is_survived_and_reported() {
    let mut jack = Jack::start("kill");
    let child = jack.play(&[
        "play",
        graph("sine-unity.ohm.ron").to_str().unwrap(),
        "--backend",
        "jack",
        "--seconds",
        "4",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    ohmpatch_tests::stop_jackd(&mut jack.child);
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("device lost"), "{t}");
    assert!(t.contains("on null"), "{t}");
}

/// A −6 dBFS 1 kHz sine file of `frames` at 48 kHz, for `--input`.
fn input_wav(d: &Path, frames: u32) -> PathBuf {
    let src = d.join("in.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&src, spec).unwrap();
    for i in 0..frames {
        w.write_sample(
            (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 48_000.0).sin()) as f32,
        )
        .unwrap();
    }
    w.finalize().unwrap();
    src
}

#[test]
fn render_input_keeps_the_patch_s_own_paths_confined() {
    let d = tmpdir("input-confined");
    let src = input_wav(&d, 4_800);
    // A shared patch whose recorder would write outside its folder.
    let outside = d.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim.wav");
    let patch_dir = d.join("shared");
    std::fs::create_dir_all(&patch_dir).unwrap();
    let patch = patch_dir.join("p.ohm.ron");
    std::fs::write(
        &patch,
        format!(
            r#"(version: 1, nodes: {{"mic": (kind: "audio_in"), "rec": (kind: "recorder", params: {{"path": "{}"}}), "out": (kind: "output")}}, wires: [("mic.out", "out.in"), ("mic.out", "rec.in")])"#,
            victim.display()
        ),
    )
    .unwrap();
    let out = d.join("o.wav");
    let o = run(&[
        "render",
        patch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "0.2",
        "--input",
        &format!("mic={}", src.display()),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is absolute"), "{}", text(&o));
    assert!(
        !victim.exists(),
        "the recorder wrote outside the patch's folder"
    );
    // The same patch with the recorder writing beside it renders the input.
    std::fs::write(
        &patch,
        r#"(version: 1, nodes: {"mic": (kind: "audio_in"), "rec": (kind: "recorder", params: {"path": "take.wav"}), "out": (kind: "output")}, wires: [("mic.out", "out.in"), ("mic.out", "rec.in")])"#,
    )
    .unwrap();
    let o = run(&[
        "render",
        patch.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "0.2",
        "--input",
        &format!("mic={}", src.display()),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(patch_dir.join("take.wav").exists());
}

#[test]
fn check_refuses_the_paths_that_render_refuses_in_the_same_words() {
    let d = tmpdir("check-paths");
    for (value, words) in [
        ("/etc/passwd", "is absolute"),
        ("../x.wav", "leaves the patch's folder"),
    ] {
        let patch = d.join("p.ohm.ron");
        std::fs::write(
            &patch,
            format!(
                r#"(version: 1, nodes: {{"f": (kind: "file_in", params: {{"path": "{value}"}}), "out": (kind: "output")}}, wires: [("f.out", "out.in")])"#
            ),
        )
        .unwrap();
        let check = run(&["check", patch.to_str().unwrap()]);
        let out = d.join("o.wav");
        let render = run(&[
            "render",
            patch.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seconds",
            "0.1",
        ]);
        assert_eq!(check.status.code(), Some(1), "{value}: {}", text(&check));
        assert_eq!(render.status.code(), Some(1), "{value}: {}", text(&render));
        let line = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .find(|l| l.contains(words))
                .map(str::to_string)
        };
        assert!(line(&check).is_some(), "{value}: {}", text(&check));
        assert_eq!(line(&check), line(&render), "{value}");
        let json = run(&["check", "--json", patch.to_str().unwrap()]);
        assert_eq!(json.status.code(), Some(1), "{value}");
    }
}
