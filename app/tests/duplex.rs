//! Playing through ohmpatch on a real JACK server (the dummy driver): a real
//! client's sine goes into `ohmpatch play`, through a +6 dB gain, and is
//! recorded by `jack_capture` next to the source; ports are named after the
//! nodes, keep a stable alias, connect to the system ports on request and
//! keep their connections when the patch changes.

use ohmpatch_engine::backend::{BackendKind, StreamOptions};
use ohmpatch_engine::supervisor::Supervisor;
use ohmpatch_tests::jack::{Kid, Server};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// One test at a time: each starts its own server, and one of them points
/// this process's JACK environment at its server.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const GAIN_PATCH: &str = r#"(
    version: 1,
    nodes: {
        "in": (kind: "audio_in", params: {"channel": 1.0}),
        "g": (kind: "gain", params: {"gain_db": 6.0}),
        "main": (kind: "output", params: {"channel": 1.0}),
    },
    wires: [("in.out", "g.in"), ("g.out", "main.in")],
)"#;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ohmpatch")
}

/// Start `ohmpatch play` on the server and collect what it prints.
fn play(
    server: &Server,
    patch: &std::path::Path,
    extra: &[&str],
) -> (Kid, std::sync::mpsc::Receiver<String>) {
    let mut child = server
        .command(bin())
        .arg("play")
        .arg(patch)
        .args(["--backend", "jack", "--seconds", "30"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Kid(child), rx)
}

/// The channels of a WAV as floats, without their first `skip` seconds.
fn channels(path: &std::path::Path, skip: f64) -> Vec<Vec<f64>> {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let ch = spec.channels as usize;
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| f64::from(s.unwrap())).collect(),
        hound::SampleFormat::Int => {
            let full = f64::from(1u32 << (spec.bits_per_sample - 1));
            r.samples::<i32>()
                .map(|s| f64::from(s.unwrap()) / full)
                .collect()
        }
    };
    let start = (skip * f64::from(spec.sample_rate)) as usize * ch;
    let body = &samples[start.min(samples.len())..];
    (0..ch)
        .map(|c| body.iter().skip(c).step_by(ch).copied().collect())
        .collect()
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// The lag of `b` behind `a` (samples) and the gain from `a` to `b` in
/// dB over the samples both recorded. Without real-time scheduling a
/// client is sometimes late and a period goes missing from the recording
/// of one port or the other; those zeros are left out, not averaged in.
fn aligned_gain_db(a: &[f64], b: &[f64]) -> (usize, f64) {
    // A stretch where both hold signal, to find the lag on.
    let (w, most) = (512, 1024);
    let start = (0..a.len().saturating_sub(w + most))
        .step_by(128)
        .find(|&s| {
            // A sine passes through zero, but not three samples running.
            let whole = |x: &[f64]| x.windows(3).all(|z| z.iter().any(|v| *v != 0.0));
            whole(&a[s..s + w + most]) && whole(&b[s..s + w + most])
        })
        .expect("no stretch of 32 ms without a dropout in the recording");
    let lag = (0..most)
        .min_by(|&k, &l| {
            let e = |k: usize| -> f64 {
                (0..w)
                    .map(|n| (b[start + k + n] - 2.0 * a[start + n]).abs())
                    .sum()
            };
            e(k).total_cmp(&e(l))
        })
        .unwrap();
    let (mut ea, mut eb) = (0.0, 0.0);
    for (x, y) in a.iter().zip(&b[lag..]) {
        if x.abs() > 0.02 && *y != 0.0 {
            ea += x * x;
            eb += y * y;
        }
    }
    (lag, 10.0 * (eb / ea).log10())
}

#[test]
fn a_jack_clients_sine_comes_out_six_db_louder_through_a_gain() {
    let _one = serial();
    let server = Server::start("ohmduplex", 128);
    let dir = ohmpatch_tests::tmpdir("duplex");
    let patch = dir.join("gain.ohm.ron");
    std::fs::write(&patch, GAIN_PATCH).unwrap();
    let (_play, lines) = play(&server, &patch, &[]);
    // Named after ohmpatch and the node that uses the channel.
    server.wait_port("ohmpatch:in_1-in");
    server.wait_port("ohmpatch:out_1-main");
    let _sine = server.sine_into(&[]);
    // By the stable alias, as a session script would.
    server.connect("jack_simple_client:output1", "ohmpatch:in_1");
    std::thread::sleep(Duration::from_millis(300));
    let wav = dir.join("capture.wav");
    let st = server
        .command("jack_capture")
        .args([
            "-c",
            "2",
            "-d",
            "2",
            "-p",
            "jack_simple_client:output1",
            "-p",
            "ohmpatch:out_1",
        ])
        .arg(&wav)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("jack_capture must be installed (scripts/setup.sh installs jack-capture)");
    assert!(st.success(), "jack_capture failed");
    let ch = channels(&wav, 0.25);
    assert!(rms(&ch[0]) > 0.01, "the source is silent");
    let (lag, gain_db) = aligned_gain_db(&ch[0], &ch[1]);
    println!(
        "source {:.2} dBFS rms, through ohmpatch {:.2} dBFS rms; {gain_db:+.4} dB, {lag} samples later",
        20.0 * rms(&ch[0]).log10(),
        20.0 * rms(&ch[1]).log10()
    );
    assert!(
        (gain_db - 6.0).abs() <= 0.1,
        "through a +6 dB gain the sine came out {gain_db:+.3} dB"
    );
    // In and out in the same cycle: nothing added to what JACK adds.
    assert_eq!(lag, 0, "the output came {lag} samples after its input");
    // `play` says the client, its ports and the latency.
    let t0 = Instant::now();
    let mut said = Vec::new();
    while t0.elapsed() < Duration::from_secs(5) {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(100)) {
            said.push(l);
        }
        if said.iter().any(|l| l.starts_with("latency in→out")) {
            break;
        }
    }
    let said = said.join("\n");
    assert!(said.contains("jack client \"ohmpatch\""), "{said}");
    assert!(said.contains("ohmpatch:in_1-in"), "{said}");
    assert!(said.contains("latency in→out"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_joins_the_system_ports() {
    let _one = serial();
    let server = Server::start("ohmconnect", 128);
    let dir = ohmpatch_tests::tmpdir("connect");
    let patch = dir.join("gain.ohm.ron");
    std::fs::write(&patch, GAIN_PATCH).unwrap();
    let (_play, _lines) = play(&server, &patch, &["--connect"]);
    server.wait_port("ohmpatch:out_1-main");
    let t0 = Instant::now();
    while !(server.connected("system:capture_1", "ohmpatch:in_1-in")
        && server.connected("ohmpatch:out_1-main", "system:playback_1")
        && server.connected("ohmpatch:out_2", "system:playback_2"))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "not connected to the system ports:\n{}",
            server.lsp(&["-c"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ports_are_renamed_with_the_patch_and_keep_their_connections() {
    let _one = serial();
    let server = Server::start("ohmrename", 128);
    // SAFETY: the tests here run one at a time (`serial`), and only this
    // one reads JACK's environment in this process.
    unsafe { server.use_it() };
    let mut patch = ohmpatch_patch::load_str(GAIN_PATCH, "rename").unwrap();
    let mut sup = Supervisor::new(StreamOptions {
        backend: BackendKind::Jack,
        ..StreamOptions::default()
    });
    let choice = sup.choose();
    assert_eq!(
        choice.backend,
        BackendKind::Jack,
        "{:?}",
        choice.fallback_reason
    );
    let mut engine = Server::engine(choice.sample_rate);
    engine.set_patch(&patch).unwrap();
    sup.start(&mut engine, choice).unwrap();
    server.wait_port("ohmpatch:in_1-in");
    let _sine = server.sine_into(&["ohmpatch:in_1"]);
    // Rename the input node, and move the output to channel 2.
    let node = patch.nodes.remove("in").unwrap();
    patch.nodes.insert("guitar".into(), node);
    for w in patch.wires.iter_mut() {
        if w.from.node == "in" {
            w.from.node = "guitar".into();
        }
    }
    patch
        .nodes
        .get_mut("main")
        .unwrap()
        .params
        .insert("channel".into(), ohmpatch_patch::Value::Number(2.0));
    engine.set_patch(&patch).unwrap();
    sup.label_ports(&engine);
    server.wait_port("ohmpatch:in_1-guitar");
    server.wait_port("ohmpatch:out_1");
    server.wait_port("ohmpatch:out_2-main");
    assert!(
        server.connected("jack_simple_client:output1", "ohmpatch:in_1-guitar"),
        "the connection was lost with the rename:\n{}",
        server.lsp(&["-c"])
    );
    sup.stop(&mut engine);
}
