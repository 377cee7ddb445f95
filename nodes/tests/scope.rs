//! `scope`: the published ring holds exactly the recent samples, in order,
//! and the trigger finds a rising zero crossing.

mod support;

use ohmpatch_engine::render_offline;
use ohmpatch_nodes::kinds::probes::ScopeProbe;
use support::*;

#[test]
fn the_ring_holds_the_last_samples_in_order() {
    let p = patch(
        &[
            (
                "gen",
                "tone",
                vec![("freq_hz", 440.0.into()), ("level_dbu", 0.0.into())],
            ),
            ("sc", "scope", vec![]),
            ("vm", "output", voltmeter()),
        ],
        &[("gen.out", "sc.in"), ("sc.out", "vm.in")],
    );
    let mut e = engine(&p);
    let frames = 30_000;
    let out = render_offline(&mut e, frames, 100);
    let probe = e
        .probe::<ScopeProbe>("sc")
        .expect("scope publishes its probe");
    assert_eq!(probe.written(), frames as u64);
    assert_eq!(probe.unit(), "V");
    let mut trace = Vec::new();
    probe.snapshot(&mut trace);
    assert_eq!(trace.len(), ScopeProbe::CAPACITY);
    // Same samples as the pass-through delivered to the voltmeter (to f32 rounding).
    let v = volts(&out[0]);
    let tail = &v[frames - ScopeProbe::CAPACITY..];
    let worst = trace
        .iter()
        .zip(tail)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "{worst}");
    let mut trig = Vec::new();
    probe.triggered(1000, &mut trig);
    assert_eq!(trig.len(), 1000);
    // Within one sample's step (0.063 V here) after the rising zero crossing.
    assert!(trig[0] >= 0.0 && trig[0] < 0.065, "{}", trig[0]);
    assert!(trig[1] > trig[0]);
}
