//! Latency compensation: where paths of different latency meet, the engine
//! delays the earlier ones, so a dry path and one through an oversampled
//! power amp sum in step, as a DAW's plugin delay compensation does.

use ohmpatch_tests::*;

/// A click through a power amp (into a resistor, read through a gain), and
/// with `dry` the click straight as well, summed by a mixer.
fn patch(dry: bool) -> ohmpatch_patch::Patch {
    let dry_wire = if dry { r#", ("f.out", "m.in2")"# } else { "" };
    let text = format!(
        r#"(version: 1, nodes: {{
        "f": (kind: "file_in", params: {{"path": "click.wav"}}),
        "amp": (kind: "power_amp", params: {{"gain_db": 0.0, "snr_db": 140.0}}),
        "r": (kind: "speaker", params: {{"preset": "resistor_8"}}),
        "g": (kind: "gain", params: {{"domain": "speaker"}}),
        "m": (kind: "mixer"),
        "o": (kind: "output", params: {{"limiter": false}}),
    }}, wires: [("f.out", "amp.in"), ("amp.out", "r.in"), ("amp.out", "g.in"), ("g.out", "m.in1"){dry_wire}, ("m.out", "o.in")])"#
    );
    ohmpatch_patch::load_str(&text, "pdc.ohm.ron").unwrap()
}

fn peaks(x: &[f32]) -> Vec<usize> {
    let top = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    x.iter()
        .enumerate()
        .filter(|(_, v)| v.abs() > top * 0.5)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn a_dry_path_and_an_oversampled_one_meet_in_step() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-pdc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut click = vec![0.0f32; 9_600];
    click[4_800] = 0.1;
    ohmpatch_nodes::wav::write_f32_wav(&dir.join("click.wav"), &[click], 48_000).unwrap();
    let wet = render(&patch(false), &dir, 0.2, 0);
    let both = render(&patch(true), &dir, 0.2, 0);
    let _ = std::fs::remove_dir_all(&dir);
    // The amp path alone: one click, its latency late.
    let at = peaks(&wet[0]);
    assert!(!at.is_empty() && at[0] > 4_800, "{at:?}");
    // With the dry path summed in, the two clicks land on the same sample:
    // one click, the dry 0.1 added to the amp's, no comb.
    let sum = peaks(&both[0]);
    assert_eq!(
        sum, at,
        "the paths meet at {sum:?}, the amp's alone at {at:?}"
    );
    let (a, b) = (wet[0][at[0]], both[0][at[0]]);
    assert!((b - a - 0.1).abs() < 1e-3, "{a} alone, {b} summed");
}
