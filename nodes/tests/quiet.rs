//! Which nodes may be skipped on silence (`Processor::is_quiet`), and when:
//! a gain once it has stopped gliding, the output once its limiter has let
//! go, a file that has ended and does not loop. Everything with a source,
//! a tail or a side effect of its own is never skipped.

mod support;
use ohmpatch_patch::Value;
use support::*;

#[test]
fn a_gain_is_quiet_only_when_it_is_not_gliding() {
    let (_, mut g) = build("gain", &[("gain_db", Value::Number(-6.0))]);
    assert!(g.may_be_quiet());
    assert!(g.is_quiet());
    g.set_param(0, 6.0);
    assert!(
        !g.is_quiet(),
        "a gain moving to its new value must keep running"
    );
    drive(g.as_mut(), &vec![0.0; 48_000]);
    assert!(g.is_quiet(), "settled again after a second");
}

#[test]
fn the_output_is_quiet_only_when_its_limiter_has_let_go() {
    let (_, mut o) = build("output", &[]);
    assert!(o.may_be_quiet() && o.is_quiet());
    // +30 dBu into a +18 dBu full scale: the limiter pulls the level down.
    drive(
        o.as_mut(),
        &sine(1000.0, ohmpatch_engine::dsp::dbu_to_v(30.0), 4_800),
    );
    assert!(!o.is_quiet(), "a releasing limiter must keep running");
    drive(o.as_mut(), &vec![0.0; 96_000]);
    assert!(o.is_quiet(), "released after two seconds of silence");
}

#[test]
fn a_file_is_quiet_once_it_has_ended_and_only_if_it_does_not_loop() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("a.wav"), &[vec![0.5; 1_000]], 48_000).unwrap();
    let path = Value::Str("a.wav".into());
    let (_, mut once) = build_in("file_in", &[("path", path.clone())], Some(&dir)).unwrap();
    assert!(!once.is_quiet(), "still playing");
    drive(once.as_mut(), &vec![0.0; 1_000]);
    assert!(once.is_quiet(), "ended");
    let (_, mut looped) = build_in(
        "file_in",
        &[("path", path), ("loop", Value::Bool(true))],
        Some(&dir),
    )
    .unwrap();
    drive(looped.as_mut(), &vec![0.0; 5_000]);
    assert!(!looped.is_quiet(), "a loop never ends");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sources_and_nodes_with_a_tail_are_never_skipped() {
    for kind in [
        "tone",
        "noise",
        "mic",
        "preamp",
        "power_amp",
        "speaker",
        "cab_ir",
        "delay",
        "recorder",
        "meter",
        "scope",
        "spectrum",
        "audio_in",
        "mixer",
        "split",
    ] {
        let Ok((_, p)) = build_in(kind, &[], None) else {
            continue;
        };
        assert!(!p.may_be_quiet(), "{kind} says it may be skipped");
    }
}
