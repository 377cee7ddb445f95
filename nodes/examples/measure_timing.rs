//! How long the bench takes on the demo chain (BENCHMARKS.md, "Measure"):
//! `cargo run --release -p ohmpatch-nodes --example measure_timing`.

use ohmpatch_nodes::bench::{Options, Parts, Setup, measure};
use ohmpatch_patch::Endpoint;
use std::time::Instant;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs");
    let patch = ohmpatch_patch::load_file(&dir.join("demo.ohm.ron")).expect("demo patch");
    let setup = Setup {
        patch,
        sample_rate: 48_000.0,
        patch_dir: Some(dir),
    };
    let all = Parts::default();
    let bench = Parts {
        impedance: false,
        thd_freq: false,
        ..all
    };
    for (name, parts) in [
        ("response + THD against level + noise", bench),
        ("everything", all),
    ] {
        let o = Options {
            from: Endpoint::new("pre", "out"),
            to: Endpoint::new("room_pre", "out"),
            level_db: None,
            parts,
        };
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            measure(&setup, &o).expect("measure");
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("demo pre.out -> room_pre.out, {name}: {best:.3} s (best of 3)");
    }
}
