//! Both callbacks of a duplex stream run without allocating, on the real
//! backends: the JACK client (capture and playback in one process callback,
//! fed by `jack_simple_client`) and ALSA's capture and playback streams (on
//! its `null` device). The engine's `rt-alloc-check` feature guards the
//! callbacks: any allocation there aborts this test binary. `scripts/test.sh`
//! also runs this file in a release build.

use assert_no_alloc::AllocDisabler;
use ohmpatch_engine::Engine;
use ohmpatch_engine::backend::{BackendKind, Stream, StreamOptions, choose_device};
use ohmpatch_tests::jack::Server;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[global_allocator]
static ALLOC: AllocDisabler = AllocDisabler;

const PATCH: &str = r#"(version: 1, nodes: {
    "in": (kind: "audio_in", params: {"channel": 1.0}),
    "in2": (kind: "audio_in", params: {"channel": 2.0, "domain": "mic", "full_scale_dbu": 0.0}),
    "pre": (kind: "preamp", params: {"gain_db": 20.0}),
    "g": (kind: "gain", params: {"gain_db": 6.0}),
    "out": (kind: "output", params: {"channel": 1.0}),
}, wires: [("in.out", "g.in"), ("in2.out", "pre.in"), ("pre.out", "g.in"), ("g.out", "out.in")])"#;

fn engine_for(rate: u32) -> Engine {
    let mut e = Server::engine(rate);
    e.set_patch(&ohmpatch_patch::load_str(PATCH, "duplex").unwrap())
        .unwrap();
    e
}

#[test]
fn jack_and_alsa_duplex_callbacks_do_not_allocate() {
    // JACK: one client, capture and playback.
    let server = Server::start("ohmnoalloc", 128);
    // SAFETY: the only test in this binary.
    unsafe { server.use_it() };
    let choice = Server::device(2);
    let mut e = engine_for(choice.sample_rate);
    let stats = e.stats().clone();
    let stream = Stream::start(choice, e.take_core().unwrap(), stats.clone()).unwrap();
    let _sine = server.sine_into(&["ohmpatch:in_1"]);
    server.connect("jack_simple_client:output2", "ohmpatch:in_2");
    std::thread::sleep(Duration::from_millis(200));
    stats.take_input_peak(0);
    let before = stats.callbacks.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    let ran = stats.callbacks.load(Ordering::Relaxed) - before;
    assert!(ran > 100, "only {ran} JACK callbacks");
    let peak = stats.take_input_peak(0);
    assert!(peak > 0.1, "the input did not reach the callback ({peak})");
    assert!(stats.take_output_peak() > 0.1, "nothing came out");
    e.return_core(stream.stop().expect("the core comes back"));
    drop(server);

    // ALSA: playback on `null`, capture from `null`, through the ring.
    let choice = choose_device(&StreamOptions {
        backend: BackendKind::Alsa,
        device: Some("null".into()),
        input_device: Some("null".into()),
        inputs: 2,
        sample_rate: Some(48_000),
        buffer: Some(256),
        ..StreamOptions::default()
    });
    assert_eq!(
        choice.backend,
        BackendKind::Alsa,
        "{:?}",
        choice.fallback_reason
    );
    assert!(choice.input_name.is_some(), "ALSA's null device captures");
    let before = stats.callbacks.load(Ordering::Relaxed);
    let stream = Stream::start(choice, e.take_core().unwrap(), stats.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(stream.has_input(), "the capture stream did not start");
    let ran = stats.callbacks.load(Ordering::Relaxed) - before;
    assert!(ran > 10, "only {ran} ALSA callbacks");
    e.return_core(stream.stop().expect("the core comes back"));
}
