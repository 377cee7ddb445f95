//! A power amp below its rated load runs out of current: it delivers at most
//! its rated peak current, sqrt(2·P/R), so into half its rated load it clips
//! at half the voltage, in the render as `check` says.

use ohmpatch_engine::analysis::analyze;
use ohmpatch_engine::compile;
use ohmpatch_tests::*;
use std::collections::HashSet;

/// A 50 W / 8 Ω amp driven 6 dB past its clip into `n` 8 Ω resistors, with
/// a tap (100 kΩ, full scale +40 dBu) reading the voltage on its output.
fn bench(n: usize, level_dbu: f64) -> ohmpatch_patch::Patch {
    let mut nodes = format!(
        r#""t": (kind: "tone", params: {{"level_dbu": {level_dbu}}}),
        "amp": (kind: "power_amp", params: {{"power_w": 50.0, "rated_load_ohm": 8.0, "z_out_ohm": 0.05}}),
        "tap": (kind: "output", params: {{"full_scale_dbu": 40.0, "limiter": false}}),"#
    );
    let mut wires = vec![
        r#"("t.out", "amp.in")"#.to_string(),
        r#"("amp.out", "tap.in")"#.to_string(),
    ];
    for i in 0..n {
        nodes.push_str(&format!(
            r#""r{i}": (kind: "speaker", params: {{"preset": "resistor_8"}}),"#
        ));
        wires.push(format!(r#"("amp.out", "r{i}.in")"#));
    }
    let text = format!(
        "(version: 1, nodes: {{{nodes}}}, wires: [{}])",
        wires.join(", ")
    );
    ohmpatch_patch::load_str(&text, "limit.ohm.ron").unwrap()
}

/// Peak volts at the tap: full scale is +40 dBu, a sine of 77.46 V rms.
fn peak_volts(p: &ohmpatch_patch::Patch) -> f64 {
    let out = render(p, &std::env::temp_dir(), 0.5, 0);
    let peak = out[0][12_000..].iter().fold(0f32, |m, v| m.max(v.abs()));
    f64::from(peak) * 77.46 * std::f64::consts::SQRT_2
}

#[test]
fn into_half_its_rated_load_the_amp_clips_at_its_rated_current() {
    // +8 dBu with 32 dB of gain asks for 77.5 V rms, far past the 28.3 V
    // peak clip of 50 W into 8 Ω.
    let (one, two) = (bench(1, 8.0), bench(2, 8.0));
    let i_rated = (2.0 * 50.0 / 8.0f64).sqrt(); // 3.54 A peak
    let i_one = peak_volts(&one) / 8.0;
    let i_two = peak_volts(&two) / 4.0;
    // Into its rated load it reaches its rated current (the soft ceiling
    // lets it overshoot by at most 10 %); into half of it, the same current.
    assert!(
        i_one > i_rated * 0.98 && i_one < i_rated * 1.12,
        "into 8 Ω: {i_one:.2} A peak"
    );
    assert!(
        (i_two / i_one - 1.0).abs() < 0.02,
        "into 4 Ω: {i_two:.2} A peak against {i_one:.2} A into 8 Ω"
    );

    // check says where it clips: into 8 Ω at 20 V rms, into 4 Ω at 10 V.
    let registry = ohmpatch_nodes::registry();
    let clips = |p: &ohmpatch_patch::Patch| {
        let s = compile(p, &registry, 48_000.0, &HashSet::new()).unwrap();
        analyze(&s, &registry, 48_000.0, 1000.0)
            .warnings
            .iter()
            .any(|w| w.message.contains("clips at the nominal level"))
    };
    // −8 dBu asks 12.3 V rms: under 8 Ω's 20 V, over 4 Ω's 10 V.
    assert!(!clips(&bench(1, -8.0)), "into 8 Ω at −8 dBu");
    assert!(clips(&bench(2, -8.0)), "into 4 Ω at −8 dBu");
    // And the render agrees: the 8 Ω output is the clean sine (less the
    // 0.05 Ω divider), the 4 Ω one is held under its ceiling, 1.1 × 14.1 V.
    let v8 = peak_volts(&bench(1, -8.0));
    let v4 = peak_volts(&bench(2, -8.0));
    let clean = 0.3084 * 10f64.powf(32.0 / 20.0) * std::f64::consts::SQRT_2;
    assert!(
        (v8 / clean - 1.0).abs() < 0.02,
        "8 Ω: {v8:.2} V against {clean:.2} V"
    );
    assert!(
        v4 < 1.1 * 14.14 * 1.01,
        "4 Ω: {v4:.2} V, not limited (clean {clean:.2} V)"
    );
}
