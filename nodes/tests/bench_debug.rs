use ohmpatch_nodes::bench::*;
use ohmpatch_patch::Endpoint;

#[test]
fn debug() {
    let patch = ohmpatch_patch::load_file(std::path::Path::new("../graphs/demo.ohm.ron")).unwrap();
    let setup = Setup { patch, sample_rate: 48000.0, patch_dir: Some("../graphs".into()) };
    let o = Options { from: Endpoint::new("pre", "out"), to: Endpoint::new("room_pre", "out"), level_db: None,
        parts: Parts::default() };
    let t = std::time::Instant::now();
    let r = measure(&setup, &o).unwrap();
    eprintln!("took {:?}", t.elapsed());
    for p in r.response.iter().step_by(16) { eprintln!("{:?}", p); }
    for p in r.predicted.response.iter().step_by(2) { eprintln!("{:?}", p); }
    for p in r.thd_vs_level.iter().step_by(3) { eprintln!("{:?}", p); }
    eprintln!("{:?} {:?}", r.noise.as_ref().map(|n| (n.total, n.a_weighted, n.snr_db, n.predicted)), r.nominal);
    eprintln!("{:?} {:?} {:?} {:?}", r.clip_1pct, r.clip_10pct, r.predicted.clip_level, r.impedance_peak);
    for p in r.impedance.iter().step_by(24) { eprintln!("{:?}", p); }
}
