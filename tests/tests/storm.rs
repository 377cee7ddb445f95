//! Reliability on a real audio server: 10,000 random edits through the
//! editor's command path (History → Engine::set_patch) while the patch plays
//! on a JACK dummy server, duplex: `jack_simple_client` plays into its
//! input. The same edits go to a twin engine on the null device in slices
//! between the live ones, so the machine's own noise is measured beside
//! them. The audio callback runs under `assert_no_alloc` (the engine's
//! `rt-alloc-check` feature), and so do the worker threads that run its
//! branches: any allocation there aborts this test binary. Then the server
//! is killed and restarted while playing.

use assert_no_alloc::AllocDisabler;
use ohmpatch_engine::Engine;
use ohmpatch_engine::backend::{
    BackendKind, DeviceChoice, Stream, StreamEvent, StreamOptions, choose_device,
};
use ohmpatch_engine::dsp::Rng;
use ohmpatch_patch::{Edit, History, Node, Patch, Value, Wire};
use ohmpatch_tests::jack::Server;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

fn random_edit(p: &Patch, rng: &mut Rng, n: &mut u64) -> Edit {
    let ids: Vec<&String> = p.nodes.keys().collect();
    let pick = |rng: &mut Rng| ids[(rng.uniform() * ids.len() as f64) as usize % ids.len()].clone();
    let r = rng.uniform();
    if r < 0.15 && p.nodes.len() < 30 {
        *n += 1;
        let kinds = ["tone", "gain", "mixer", "delay", "split"];
        let kind = kinds[(rng.uniform() * kinds.len() as f64) as usize % kinds.len()];
        return Edit::AddNode {
            id: format!("k{n}"),
            node: Node::new(kind, (0.0, 0.0)),
        };
    }
    if r < 0.25 && p.nodes.len() > 4 {
        let id = pick(rng);
        if id != "out" && id != "src" {
            return Edit::RemoveNode { id };
        }
    }
    if r < 0.45 && !p.wires.is_empty() {
        let w = p.wires[(rng.uniform() * p.wires.len() as f64) as usize % p.wires.len()].clone();
        return Edit::Disconnect(w);
    }
    if r < 0.75 {
        let id = pick(rng);
        let node = &p.nodes[&id];
        let (name, value) = match node.kind.as_str() {
            "tone" => ("freq_hz", 50.0 + rng.uniform() * 5000.0),
            "gain" | "mixer" | "delay" => ("gain_db", -40.0 + rng.uniform() * 46.0),
            _ => ("domain", 0.0),
        };
        if name != "domain" {
            return Edit::SetParam {
                id,
                name: name.into(),
                value: Some(Value::Number(value)),
            };
        }
        return Edit::MoveNode {
            id,
            pos: (rng.uniform() as f32 * 500.0, 0.0),
        };
    }
    let a = pick(rng);
    let b = pick(rng);
    let from = match p.nodes[&a].kind.as_str() {
        "output" => "src.out".to_string(),
        "split" => format!("{a}.out1"),
        _ => format!("{a}.out"),
    };
    let to = match p.nodes[&b].kind.as_str() {
        "tone" => "out.in".to_string(),
        "mixer" => format!("{b}.in{}", 1 + (rng.uniform() * 4.0) as u32 % 4),
        _ => format!("{b}.in"),
    };
    Edit::Connect(Wire::parse(&from, &to).unwrap())
}

/// The editor's command path: a patch, its history, and the engine every
/// accepted edit goes to; random edits from a fixed seed.
struct Editor {
    engine: Engine,
    patch: Patch,
    history: History,
    rng: Rng,
    added: u64,
    applied: usize,
}

impl Editor {
    fn new(mut engine: Engine, patch: Patch) -> Editor {
        engine.set_patch(&patch).unwrap();
        Editor {
            engine,
            patch,
            history: History::new(),
            rng: Rng::new(2024),
            added: 0,
            applied: 0,
        }
    }

    /// Play on `device` (the engine's core goes to the stream).
    fn play_on(&mut self, device: DeviceChoice) -> Stream {
        let core = self.engine.take_core().unwrap();
        Stream::start(device, core, self.engine.stats().clone()).unwrap()
    }

    fn edits(&mut self, count: usize) {
        for i in 0..count {
            let edit = random_edit(&self.patch, &mut self.rng, &mut self.added);
            if self.history.apply(&mut self.patch, edit).is_err() {
                continue;
            }
            if self.engine.set_patch(&self.patch).is_err() {
                // A loop without a delay: the editor shows it and takes it back.
                self.history.undo(&mut self.patch);
                continue;
            }
            self.applied += 1;
            self.engine.maintain();
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[test]
fn ten_thousand_edits_while_playing_on_jack_then_a_server_restart() {
    let mut jack = Server::start("ohmstorm", 128);
    // SAFETY: this test binary holds this one test; nothing else reads the
    // environment concurrently.
    unsafe { jack.use_it() };

    let patch = ohmpatch_patch::load_str(
        r#"(version: 1, nodes: {
            "src": (kind: "tone", params: {"level_dbu": 4.0}),
            "in": (kind: "audio_in", params: {"channel": 1.0}),
            "g": (kind: "gain"),
            "out": (kind: "output", params: {"channel": 1.0}),
        }, wires: [("src.out", "g.in"), ("in.out", "g.in"), ("g.out", "out.in")])"#,
        "storm",
    )
    .unwrap();
    let choice = Server::device(2);
    // Worker threads on, every branched plan handed to them: the edits
    // reach plans split into tasks, and the workers run under the guard.
    let choice_rate = choice.sample_rate;
    let mut live = Editor::new(Server::engine_on(choice_rate, 2), patch.clone());
    let stats = live.engine.stats().clone();
    let stream = live.play_on(choice);
    // A real client plays into the input the whole time: duplex.
    let _sine = jack.sine_into(&["ohmpatch:in_1"]);
    std::thread::sleep(Duration::from_millis(300));

    // The same edits also go, in slices that alternate with the live ones,
    // to a twin engine on the null device: the control thread does the same
    // work, but no plan reaches JACK. Comparing the two kinds of slice
    // tells edits that make the audio thread late from this machine's own
    // noise, which comes in spells of seconds and grows with any busy
    // thread (a quiet machine is blamed now and then too).
    let twin_null = choose_device(&StreamOptions {
        backend: BackendKind::Null,
        sample_rate: Some(choice_rate),
        ..StreamOptions::default()
    });
    let mut twin = Editor::new(Server::engine_on(choice_rate, 2), patch);
    let twin_stream = twin.play_on(twin_null);

    let xruns_before = stats.xruns.load(Ordering::Relaxed);
    let (mut live_blamed, mut twin_blamed) = (0, 0);
    let (mut live_s, mut twin_s) = (0.0, 0.0);
    for slice in 0..20 {
        // ABBA order, so a drift in the machine's noise falls on both.
        for twin_first in [slice % 2 == 1, slice % 2 == 0] {
            let (editor, blamed, secs) = if twin_first {
                (&mut twin, &mut twin_blamed, &mut twin_s)
            } else {
                (&mut live, &mut live_blamed, &mut live_s)
            };
            let before = jack.blamed();
            let t0 = Instant::now();
            editor.edits(500);
            *secs += t0.elapsed().as_secs_f64();
            *blamed += jack.blamed() - before;
            live.engine.maintain();
            twin.engine.maintain();
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    live.engine.maintain();
    let xruns = stats.xruns.load(Ordering::Relaxed) - xruns_before;
    println!(
        "JACK blamed a client {live_blamed} times in {live_s:.1} s of edits to the playing engine, \
         {twin_blamed} in {twin_s:.1} s of the same edits to its twin on the null device"
    );
    // Edits that stall the callback (a lock, a wait, work that grows with
    // the patch) are blamed on a good part of the ~1,500 periods of the live
    // slices: a 3 ms stall on one install in 50, put in by hand, was blamed
    // 133 and 147 times against 2 and 5 for the twin. Noise lands on both
    // kinds of slice: in 12 runs here the pairs summed 72 live, 67 twin;
    // the widest were 42/26 and 10/1, in noisy spells.
    assert!(
        live_blamed <= 2 * twin_blamed + 20,
        "edits made the audio thread late: blamed {live_blamed} times during {live_s:.1} s of edits, \
         {twin_blamed} during the same edits to an engine that does not play on JACK"
    );
    let applied = live.applied;
    let mut engine = live.engine;
    let _ = twin_stream.stop();
    assert!(applied > 5_000, "only {applied} edits applied");
    assert_eq!(
        stats.nonfinite.load(Ordering::Relaxed),
        0,
        "non-finite samples reached the device"
    );
    let peak = stats.take_output_peak();
    assert!(peak <= 1.0, "peak {peak} above the ceiling");
    let callbacks = stats.callbacks.load(Ordering::Relaxed);
    assert!(callbacks > 100, "{callbacks} callbacks");
    let worker_ns = stats.busy_ns[1].load(Ordering::Relaxed);
    assert!(worker_ns > 0, "the worker ran no task");
    println!(
        "{applied} edits in {live_s:.1} s; {xruns} xruns reported by JACK during the storm; {callbacks} callbacks"
    );

    // Kill the server: the stream reports the loss.
    jack.stop();
    let t0 = Instant::now();
    let mut lost = false;
    while t0.elapsed() < Duration::from_secs(10) && !lost {
        while let Ok(ev) = stream.events.try_recv() {
            lost |= matches!(ev, StreamEvent::Lost(_));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(lost, "the lost server was not reported");
    match stream.stop() {
        Some(core) => engine.return_core(core),
        None => assert!(engine.rebuild_core().is_empty()),
    }
    // Fall back to null, keep running.
    let null = choose_device(&StreamOptions {
        backend: BackendKind::Null,
        sample_rate: Some(48_000),
        ..StreamOptions::default()
    });
    let stream = Stream::start(null, engine.take_core().unwrap(), stats.clone()).unwrap();
    let before = stats.callbacks.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        stats.callbacks.load(Ordering::Relaxed) > before,
        "null device not running"
    );
    // The server comes back: return to JACK.
    let name = jack.name.clone();
    drop(jack);
    let jack = Server::start_named(&name, 128);
    let core = stream.stop().expect("the null device hands its core back");
    engine.return_core(core);
    let choice = choose_device(&StreamOptions {
        backend: BackendKind::Jack,
        ..StreamOptions::default()
    });
    assert_eq!(choice.backend, BackendKind::Jack);
    let stream = Stream::start(choice, engine.take_core().unwrap(), stats.clone()).unwrap();
    let before = stats.callbacks.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        stats.callbacks.load(Ordering::Relaxed) > before + 50,
        "JACK did not resume"
    );
    if let Some(core) = stream.stop() {
        engine.return_core(core);
    }
    drop(jack);
}
