//! Each `audio_in` hears its own device channel, however many there are and
//! wherever they sit in the plan: a sine on channel 1 and silence on channel
//! 2 come out as a sine on the first output and silence on the second.

use ohmpatch_engine::{ChannelMap, Engine, EngineConfig, render_offline_with};

#[test]
fn two_device_inputs_hear_their_own_channels() {
    // Both chains are long enough that the first input's step is done (and
    // its buffers free) before the second's, in either order.
    let patch = ohmpatch_patch::load_str(
        r#"(version: 1, nodes: {
            "b": (kind: "audio_in", params: {"channel": 1.0}),
            "c": (kind: "audio_in", params: {"channel": 2.0}),
            "g1": (kind: "gain"), "g2": (kind: "gain"),
            "out1": (kind: "output", params: {"channel": 1.0}),
            "out2": (kind: "output", params: {"channel": 2.0}),
        }, wires: [("b.out", "g1.in"), ("g1.out", "out1.in"), ("c.out", "g2.in"), ("g2.out", "out2.in")])"#,
        "two-inputs",
    )
    .unwrap();
    for swap in [false, true] {
        let mut e = Engine::new(
            ohmpatch_nodes::shared_registry(),
            EngineConfig {
                channel_map: ChannelMap::Param,
                ..EngineConfig::default()
            },
        );
        e.set_patch(&patch).unwrap();
        let n = 4800;
        let sine: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48_000.0).sin() * 0.5)
            .collect();
        let silence = vec![0.0f32; n];
        let inputs = if swap {
            vec![silence.clone(), sine.clone()]
        } else {
            vec![sine.clone(), silence.clone()]
        };
        let out = render_offline_with(&mut e, n, 256, &inputs);
        let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let (loud, quiet) = if swap { (1, 0) } else { (0, 1) };
        assert!(
            (peak(&out[loud]) - 0.5).abs() < 0.01,
            "channel {} should carry the sine: peak {}",
            loud + 1,
            peak(&out[loud])
        );
        assert_eq!(
            peak(&out[quiet]),
            0.0,
            "channel {} should be silent",
            quiet + 1
        );
    }
}
