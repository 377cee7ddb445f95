//! Memory from an untrusted patch is bounded in total: every node says what
//! its processor will take (`NodeKind::memory_bytes`), buffers are sized by
//! need, and a patch over the budget is refused in words, naming its
//! largest consumers, before anything is allocated.

use ohmpatch_engine::{Engine, EngineConfig, EngineError, render_offline};
use ohmpatch_patch::{Node, Patch, Value};

fn delays(count: usize, time_ms: f64) -> Patch {
    let mut p = Patch::default();
    for i in 0..count {
        let mut d = Node::new("delay", (0.0, 0.0));
        d.params.insert("time_ms".into(), Value::Number(time_ms));
        p.nodes.insert(format!("d{i:05}"), d);
    }
    p
}

#[test]
fn ten_thousand_long_delays_are_refused_in_words_before_any_is_built() {
    // 10,000 delays of 10 s would take 19 GB at 48 kHz.
    let mut e = Engine::new(ohmpatch_nodes::shared_registry(), EngineConfig::default());
    let err = e.set_patch(&delays(10_000, 10_000.0)).unwrap_err();
    let EngineError::OverBudget {
        total,
        budget,
        largest,
    } = &err
    else {
        panic!("{err}");
    };
    assert!(
        *total > 19_000_000_000 && *total < 20_000_000_000,
        "{total}"
    );
    assert_eq!(*budget, ohmpatch_engine::DEFAULT_MEMORY_BUDGET);
    assert_eq!(largest.len(), 3);
    let text = err.to_string();
    assert!(
        text.contains("more than the 2147 MB allowed") && text.contains("\"d00000\" 1.9 MB"),
        "{text}"
    );
    // The same patch with short delays takes what they need and plays.
    e.set_patch(&delays(10_000, 5.0)).unwrap();
    let _ = render_offline(&mut e, 256, 128);
    let _ = e.shutdown();
}

#[test]
fn a_delay_turned_past_its_line_is_built_anew_and_delays_by_the_new_time() {
    // A click at 0.3 s through a delay first set to 10 ms, then, while
    // playing, to 1 s: far past the line it was built with.
    let dir = std::env::temp_dir().join(format!("ohmpatch-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut click = vec![0.0f32; 48_000];
    click[14_400] = 1.0;
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("click.wav"), &[click], 48_000).unwrap();
    let text = |ms: f64| {
        format!(
            r#"(version: 1, nodes: {{"f": (kind: "file_in", params: {{"path": "click.wav", "level_dbu": 18.0}}),
                "d": (kind: "delay", params: {{"time_ms": {ms}}}),
                "o": (kind: "output", params: {{"limiter": false}})}},
                wires: [("f.out", "d.in"), ("d.out", "o.in")])"#
        )
    };
    let patch = |ms| ohmpatch_patch::load_str(&text(ms), "click.ohm.ron").unwrap();
    let mut e = Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            patch_dir: Some(dir.clone()),
            ..EngineConfig::default()
        },
    );
    e.set_patch(&patch(10.0)).unwrap();
    let mut out = render_offline(&mut e, 4_800, 128);
    e.set_patch(&patch(1000.0)).unwrap();
    let rest = render_offline(&mut e, 96_000, 128);
    out[0].extend_from_slice(&rest[0]);
    let _ = e.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    // The file plays on (its node is unchanged); its click at 0.3 s, after
    // the change, comes out 1 s later through the rebuilt delay.
    let (at, peak) =
        out[0].iter().enumerate().fold(
            (0, 0f32),
            |(i, m), (j, v)| if v.abs() > m { (j, v.abs()) } else { (i, m) },
        );
    assert!(peak > 0.5, "the click is heard ({peak})");
    let expected = 14_400 + 48_000;
    assert!(
        at.abs_diff(expected) <= 2,
        "the click at {at}, expected {expected}"
    );
}
