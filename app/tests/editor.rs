//! The graphical editor, driven for real under a private Xvfb display: a
//! screenshot of every example patch is checked on its pixels, and a
//! session adds a node, wires it, turns a knob, undoes, redoes and saves,
//! with real key presses (xdotool) for the shortcuts.

use ohmpatch_patch::{Domain, Value};
use ohmpatch_tests::root;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "editor/pixels.rs"]
mod pixels;
use pixels::{Expect, Png, check_pixels, expectations, read_png};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ohmpatch")
}

/// This file's test folders: `ohmpatch-editor-TAG-PID`.
fn tmpdir(tag: &str) -> PathBuf {
    ohmpatch_tests::tmpdir(&format!("editor-{tag}"))
}

/// A private X server for one test; killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        if Command::new("Xvfb").arg("-help").output().is_err() {
            eprintln!("Xvfb is not installed; scripts/setup.sh installs it");
            return None;
        }
        let base = 100 + (std::process::id() % 500);
        for n in base..base + 200 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let Ok(child) = Command::new("Xvfb")
                .arg(format!(":{n}"))
                .args(["-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                continue;
            };
            let mut x = Xvfb {
                child,
                display: format!(":{n}"),
            };
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Some(x);
                }
                if let Ok(Some(_)) = x.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = x.child.kill();
        }
        None
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One editor at a time: each renders in software, and the timing of the
/// keyboard tests should not depend on how busy the other tests keep the CPU.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Display {
    x: Xvfb,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl std::ops::Deref for Display {
    type Target = Xvfb;
    fn deref(&self) -> &Xvfb {
        &self.x
    }
}

fn xvfb() -> Display {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Display {
        x: Xvfb::start().expect("could not start Xvfb for the editor tests"),
        _turn: turn,
    }
}

/// Run the binary on `display`, killing it after `limit`.
fn run_limited(display: &str, config: &Path, args: &[&str], limit: Duration) -> (i32, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env("DISPLAY", display)
        .env("OHMPATCH_CONFIG_DIR", config)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (status.code().unwrap_or(-1), text);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ohmpatch {args:?} did not finish within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn example_patches() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("graphs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".ohm.ron"))
        .collect();
    v.sort();
    v
}

#[test]
fn screenshot_of_every_example_shows_its_nodes_and_wires() {
    let x = xvfb();
    let dir = tmpdir("shots");
    let patches = example_patches();
    assert!(!patches.is_empty());
    let mut failures = Vec::new();
    for p in &patches {
        let name = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".ohm.ron", "");
        let out = dir.join(format!("{name}.png"));
        let (code, text) = run_limited(
            &x.display,
            &dir,
            &[
                "screenshot",
                p.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            Duration::from_secs(120),
        );
        assert_eq!(code, 0, "screenshot of {} failed:\n{text}", p.display());
        let img = read_png(&out);
        assert!(img.w >= 800 && img.h >= 600, "{}x{}", img.w, img.h);
        let patch = ohmpatch_patch::load_file(p).unwrap();
        let e = expectations(&patch);
        if let Err(why) = check_pixels(&img, &e) {
            failures.push(format!("{}: {why}", p.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_pixel_checks_fail_on_an_empty_patch_and_a_blank_frame() {
    let x = xvfb();
    let dir = tmpdir("empty");
    let empty = dir.join("empty.ohm.ron");
    std::fs::write(
        &empty,
        "(version: 1, name: \"empty\", nodes: {}, wires: [])",
    )
    .unwrap();
    let out = dir.join("empty.png");
    let (code, text) = run_limited(
        &x.display,
        &dir,
        &[
            "screenshot",
            empty.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(code, 0, "{text}");
    let img = read_png(&out);
    // The empty canvas has no title bar, so expecting one node must fail.
    let one = Expect {
        nodes: 1,
        wire_domains: BTreeSet::new(),
    };
    assert!(check_pixels(&img, &one).is_err());
    let wired = Expect {
        nodes: 0,
        wire_domains: [Domain::Line].into_iter().collect(),
    };
    assert!(check_pixels(&img, &wired).is_err());
    let blank = Png {
        w: img.w,
        h: img.h,
        rgb: vec![[20, 20, 26]; img.w * img.h],
    };
    assert!(check_pixels(&blank, &wired).is_err());
}

#[test]
fn screenshot_of_a_bad_patch_says_why_and_exits_nonzero() {
    let dir = tmpdir("bad");
    let bad = dir.join("bad.ohm.ron");
    std::fs::write(
        &bad,
        "(version: 1, nodes: {\"a\": (kind: \"nope\")}, wires: [])",
    )
    .unwrap();
    let out = dir.join("bad.png");
    // No display is needed to refuse a bad patch.
    let o = Command::new(bin())
        .args([
            "screenshot",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nope"), "{err}");
    assert!(!out.exists());
    let o = Command::new(bin())
        .args([
            "screenshot",
            dir.join("missing.ohm.ron").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

fn wait_for(p: &Path, limit: Duration) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(t0.elapsed() < limit, "{} did not appear", p.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_changed(p: &Path, before: &str, limit: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let now = std::fs::read_to_string(p).unwrap_or_default();
        if now != before && !now.is_empty() {
            return now;
        }
        assert!(t0.elapsed() < limit, "{} was not saved again", p.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn xdotool(display: &str, args: &[&str]) {
    let ok = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .status()
        .unwrap()
        .success();
    assert!(ok, "xdotool {args:?} failed");
}

/// Press a shortcut as a person does: modifiers held across frames.
fn press(display: &str, mods: &[&str], key: &str) {
    for m in mods {
        xdotool(display, &["keydown", m]);
    }
    std::thread::sleep(Duration::from_millis(300));
    xdotool(display, &["key", key]);
    std::thread::sleep(Duration::from_millis(300));
    for m in mods.iter().rev() {
        xdotool(display, &["keyup", m]);
    }
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn add_connect_set_undo_redo_save_through_the_editor() {
    let x = xvfb();
    let dir = tmpdir("session");
    let patch = dir.join("session.ohm.ron");
    std::fs::copy(root().join("graphs/sine-unity.ohm.ron"), &patch).unwrap();
    let saved = dir.join("saved.ohm.ron");
    let ready = dir.join("ready");
    let done = dir.join("done");
    let script = dir.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "add hum noise 40 320\n\
             add trim gain 300 320\n\
             connect hum.out trim.in\n\
             set trim gain_db -12\n\
             set hum color pink\n\
             undo\n\
             redo\n\
             set trim gain_db -6\n\
             undo\n\
             save {saved}\n\
             ready {ready}\n\
             wait-file {done}\n\
             quit\n",
            saved = saved.display(),
            ready = ready.display(),
            done = done.display()
        ),
    )
    .unwrap();
    let mut child = edit_with_script(&x, &dir, &patch, &script);
    let limit = Duration::from_secs(120);
    let result = std::panic::catch_unwind(|| {
        wait_for(&ready, limit);
        let text = std::fs::read_to_string(&saved).unwrap();
        let p = ohmpatch_patch::load_file(&saved).unwrap();
        let ids: Vec<&str> = p.nodes.keys().map(String::as_str).collect();
        assert_eq!(ids, ["gain", "hum", "out", "tone", "trim"]);
        assert_eq!(p.nodes["hum"].kind, "noise");
        assert_eq!(p.nodes["hum"].pos, (40.0, 320.0));
        assert_eq!(p.nodes["trim"].kind, "gain");
        assert_eq!(
            p.nodes["hum"].params.get("color"),
            Some(&Value::Str("pink".into()))
        );
        // -12 was undone and redone; -6 was undone again.
        assert_eq!(
            p.nodes["trim"].params.get("gain_db"),
            Some(&Value::Number(-12.0))
        );
        let wires: Vec<String> = p
            .wires
            .iter()
            .map(|w| format!("{}>{}", w.from, w.to))
            .collect();
        assert_eq!(
            wires,
            ["tone.out>gain.in", "gain.out>out.in", "hum.out>trim.in"]
        );

        // Now the keyboard: Ctrl+Z twice (colour, then -12), Ctrl+S; then
        // Ctrl+Shift+Z once, Ctrl+S.
        xdotool(&x.display, &["mousemove", "600", "500"]);
        xdotool(
            &x.display,
            &[
                "search",
                "--sync",
                "--name",
                "ohmpatch",
                "windowfocus",
                "--sync",
            ],
        );
        let before = std::fs::read_to_string(&patch).unwrap();
        press(&x.display, &["ctrl"], "z");
        press(&x.display, &["ctrl"], "z");
        press(&x.display, &["ctrl"], "s");
        let after = wait_changed(&saved, &text, limit);
        let p = ohmpatch_patch::load_str(&after, "saved").unwrap();
        assert_eq!(p.nodes["trim"].params.get("gain_db"), None, "{after}");
        assert_eq!(p.nodes["hum"].params.get("color"), None, "{after}");
        assert_eq!(before, std::fs::read_to_string(&patch).unwrap());

        press(&x.display, &["ctrl", "shift"], "z");
        press(&x.display, &["ctrl"], "s");
        let again = wait_changed(&saved, &after, limit);
        let p = ohmpatch_patch::load_str(&again, "saved").unwrap();
        assert_eq!(
            p.nodes["trim"].params.get("gain_db"),
            Some(&Value::Number(-12.0)),
            "{again}"
        );
        assert_eq!(p.nodes["hum"].params.get("color"), None);

        // The palette from the keyboard: Space over the canvas, type, Enter.
        xdotool(&x.display, &["mousemove", "300", "700"]);
        press(&x.display, &[], "space");
        xdotool(&x.display, &["type", "--delay", "100", "meter"]);
        std::thread::sleep(Duration::from_millis(300));
        press(&x.display, &[], "Return");
        press(&x.display, &["ctrl"], "s");
        let third = wait_changed(&saved, &again, limit);
        let p = ohmpatch_patch::load_str(&third, "saved").unwrap();
        assert_eq!(p.nodes["meter"].kind, "meter", "{third}");
        assert_eq!(p.nodes.len(), 6);
        // Undo the add, then Delete is a no-op without a selection; save.
        press(&x.display, &["ctrl"], "z");
        press(&x.display, &["ctrl"], "s");
        let fourth = wait_changed(&saved, &third, limit);
        let p = ohmpatch_patch::load_str(&fourth, "saved").unwrap();
        assert!(!p.nodes.contains_key("meter"), "{fourth}");
    });
    std::fs::write(&done, b"").unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Err(e) = result {
        eprintln!("editor output:\n{log}");
        std::panic::resume_unwind(e);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "the editor did not quit cleanly:\n{log}"
    );
}

#[test]
fn unsaved_changes_are_kept_in_a_recovery_file_when_the_editor_dies() {
    let x = xvfb();
    let dir = tmpdir("recovery");
    let patch = dir.join("p.ohm.ron");
    std::fs::copy(root().join("graphs/sine-unity.ohm.ron"), &patch).unwrap();
    let ready = dir.join("ready");
    let script = dir.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "set gain gain_db -9\nwait 150\nready {}\nwait-file {}\n",
            ready.display(),
            dir.join("never").display()
        ),
    )
    .unwrap();
    let mut child = edit_with_script(&x, &dir, &patch, &script);
    let t0 = Instant::now();
    let recovery = dir.join("recovery.ohm.ron");
    while !(ready.exists() && recovery.exists()) && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A crash: no chance to clean up.
    let _ = child.kill();
    let _ = child.wait();
    let p = ohmpatch_patch::load_file(&recovery).expect("a recovery file");
    assert_eq!(
        p.nodes["gain"].params.get("gain_db"),
        Some(&Value::Number(-9.0))
    );
    let origin = std::fs::read_to_string(dir.join("recovery.origin")).unwrap();
    assert!(origin.ends_with("p.ohm.ron"), "{origin}");
    // The file itself was not touched.
    assert_eq!(
        std::fs::read_to_string(&patch).unwrap(),
        std::fs::read_to_string(root().join("graphs/sine-unity.ohm.ron")).unwrap()
    );
}

#[test]
fn editing_the_open_file_in_a_text_editor_reloads_it_as_one_undo_step() {
    let x = xvfb();
    let dir = tmpdir("reload");
    let patch = dir.join("p.ohm.ron");
    let original = std::fs::read_to_string(root().join("graphs/sine-unity.ohm.ron")).unwrap();
    std::fs::write(&patch, &original).unwrap();
    let ready = dir.join("ready");
    let (s1, s2) = (dir.join("s1.ohm.ron"), dir.join("s2.ohm.ron"));
    let script = dir.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "wait 20\nready {}\nwait-param gain gain_db -20\nsave {}\nundo\nsave {}\nquit\n",
            ready.display(),
            s1.display(),
            s2.display()
        ),
    )
    .unwrap();
    let mut child = edit_with_script(&x, &dir, &patch, &script);
    let limit = Duration::from_secs(120);
    wait_for(&ready, limit);
    // A text editor changes one knob.
    let edited = original.replace("\"gain_db\": 0.0", "\"gain_db\": -20.0");
    assert_ne!(edited, original);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(&patch, &edited).unwrap();
    wait_quit(&mut child, limit);
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let p1 = ohmpatch_patch::load_file(&s1).unwrap();
    assert_eq!(
        p1.nodes["gain"].params.get("gain_db"),
        Some(&Value::Number(-20.0)),
        "{log}"
    );
    let p2 = ohmpatch_patch::load_file(&s2).unwrap();
    assert_eq!(
        p2.nodes["gain"].params.get("gain_db"),
        Some(&Value::Number(0.0)),
        "{log}"
    );
}

/// The editor on `patch` under the test's display, fed `script`; config and
/// recovery files in `dir`; its output kept for the test to read.
fn edit_with_script(x: &Display, dir: &Path, patch: &Path, script: &Path) -> Child {
    Command::new(bin())
        .args([
            "edit",
            patch.to_str().unwrap(),
            "--script",
            script.to_str().unwrap(),
        ])
        .env("DISPLAY", &x.display)
        .env("OHMPATCH_CONFIG_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for the editor to quit by itself (its script ends in `quit`).
fn wait_quit(child: &mut Child, limit: Duration) {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the editor did not quit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A save that fails (a folder that does not exist, a path that is a folder)
/// says why and loses nothing: the document stays open with its changes, and
/// the next save to a good place writes them.
#[test]
fn a_failed_save_says_why_and_keeps_the_document_open() {
    let x = xvfb();
    let dir = tmpdir("savefail");
    let patch = dir.join("p.ohm.ron");
    std::fs::copy(root().join("graphs/sine-unity.ohm.ron"), &patch).unwrap();
    let missing = dir.join("no-such-folder").join("x.ohm.ron");
    let a_folder = dir.join("folder.ohm.ron");
    std::fs::create_dir_all(&a_folder).unwrap();
    let good = dir.join("good.ohm.ron");
    let script = dir.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "set gain gain_db -9\n\
             save {missing}\n\
             save {a_folder}\n\
             set tone freq_hz 440\n\
             save {good}\n\
             quit\n",
            missing = missing.display(),
            a_folder = a_folder.display(),
            good = good.display()
        ),
    )
    .unwrap();
    let mut child = edit_with_script(&x, &dir, &patch, &script);
    let limit = Duration::from_secs(120);
    wait_quit(&mut child, limit);
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    // Each failure is said in words, naming the file.
    assert!(
        log.contains(&format!("could not save {}", missing.display())),
        "{log}"
    );
    assert!(
        log.contains(&format!("could not save {}", a_folder.display())),
        "{log}"
    );
    assert!(!missing.exists());
    assert!(a_folder.is_dir());
    // Both edits, the one before the failures and the one after, were kept.
    let p = ohmpatch_patch::load_file(&good).unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(
        p.nodes["gain"].params.get("gain_db"),
        Some(&Value::Number(-9.0))
    );
    assert_eq!(
        p.nodes["tone"].params.get("freq_hz"),
        Some(&Value::Number(440.0))
    );
    // The original file was never touched, and no temp file was left behind.
    assert_eq!(
        std::fs::read_to_string(&patch).unwrap(),
        std::fs::read_to_string(root().join("graphs/sine-unity.ohm.ron")).unwrap()
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".ohm.ron") && !n.starts_with("recovery"))
        .collect();
    names.sort();
    assert_eq!(names, ["folder.ohm.ron", "good.ohm.ron", "p.ohm.ron"]);
}

/// A bundle opens in the editor from its read-only cache folder; Save writes
/// a new patch and takes the bundle's files along beside it, saving as
/// `.ohmz` writes a new bundle, and the cache is never written.
#[test]
fn a_bundle_opens_in_the_editor_and_saves_elsewhere_with_its_files() {
    let x = xvfb();
    let dir = tmpdir("bundle");
    let cache = dir.join("cache");
    let bundle = dir.join("drums.ohmz");
    let o = Command::new(bin())
        .args([
            "pack",
            root().join("graphs/drums-cab-ir.ohm.ron").to_str().unwrap(),
        ])
        .args(["--out", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = dir.join("mine").join("drums.ohm.ron");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    let again = dir.join("again.ohmz");
    let script = dir.join("script.txt");
    std::fs::write(
        &script,
        format!(
            "set cab gain_db -3\nsave {}\nsave {}\nquit\n",
            saved.display(),
            again.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args([
            "edit",
            bundle.to_str().unwrap(),
            "--script",
            script.to_str().unwrap(),
        ])
        .env("DISPLAY", &x.display)
        .env("OHMPATCH_CONFIG_DIR", &dir)
        .env("OHMPATCH_CACHE", &cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_quit(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let p = ohmpatch_patch::load_file(&saved).unwrap_or_else(|e| panic!("{e}\n{log}"));
    assert_eq!(
        p.nodes["cab"].params.get("gain_db"),
        Some(&Value::Number(-3.0)),
        "{log}"
    );
    // The sounds came along, writable, so the saved patch plays where it is.
    let mine = walk(saved.parent().unwrap());
    assert!(
        mine.iter().any(|f| f.ends_with("drum-loop.wav")),
        "{mine:?}\n{log}"
    );
    assert!(
        mine.iter()
            .any(|f| f.contains("ir/") && f.ends_with(".wav")),
        "{mine:?}"
    );
    let o = Command::new(bin())
        .args(["check", saved.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("no such file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Saving as .ohmz wrote a bundle of the edited patch.
    assert!(again.is_file(), "{log}");
    let o = Command::new(bin())
        .args(["check", again.to_str().unwrap()])
        .env("OHMPATCH_CACHE", &cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The cache holds the two bundles as packed: the edit reached neither
    // the first bundle's patch there nor any new file.
    let cached = walk(&cache);
    let patches: Vec<&String> = cached
        .iter()
        .filter(|f| f.ends_with("patch.ohm.ron"))
        .collect();
    assert_eq!(patches.len(), 2, "{cached:?}");
    let unedited = patches
        .iter()
        .filter(|f| {
            let p = ohmpatch_patch::load_file(Path::new(f.as_str())).unwrap();
            p.nodes["cab"].params.get("gain_db") != Some(&Value::Number(-3.0))
        })
        .count();
    assert_eq!(unedited, 1, "the first bundle's copy was changed");
    let allowed = ["manifest.json", "patch.ohm.ron", ".wav"];
    assert!(
        cached
            .iter()
            .all(|f| allowed.iter().any(|a| f.ends_with(a))),
        "{cached:?}"
    );
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&cache)
        .status();
}

fn walk(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
