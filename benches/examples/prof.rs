use ohmpatch_bench::*;
use ohmpatch_engine::EngineConfig;
fn main() {
    let skew: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(0);
    let pad = vec![1u8; skew];
    let mut engine = engine_for(&gain_chain_patch(100), EngineConfig::default());
    let mut core = running_core(&mut engine);
    let iters = 400_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for _ in 0..iters / 5 {
            core.run_block(BLOCK, &[], 0);
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (iters / 5) as f64);
    }
    println!("skew {skew}: {best:.1} ns/block {}", pad.len());
}
