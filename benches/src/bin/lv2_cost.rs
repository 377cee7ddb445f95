//! `ohmpatch-lv2-cost`: what one LV2 plugin costs per 128-frame block at
//! 48 kHz, run as the engine runs it (`lv2` processor, volts in and out),
//! with its default controls on a guitar-level sine.
//!
//! ```text
//! ohmpatch-lv2-cost [URI…]     # default: Guitarix's Boss DS1 and GxAmplifier-X
//! ```

use ohmpatch_engine::{BuildEnv, MAX_BLOCK, ProcessContext};
use std::time::Instant;

const BLOCKS: usize = 20_000;

fn main() {
    let mut uris: Vec<String> = std::env::args().skip(1).collect();
    if uris.is_empty() {
        uris = vec![
            "http://guitarix.sourceforge.net/plugins/gx_bossds1_#_bossds1_".into(),
            "http://guitarix.sourceforge.net/plugins/gx_amp#GUITARIX".into(),
        ];
    }
    let registry = ohmpatch_nodes::registry_with_plugins();
    let sr = 48_000.0;
    for uri in &uris {
        let Some(kind) = registry
            .resolve("lv2", Some(uri))
            .filter(|k| k.family_param().is_none())
        else {
            eprintln!("{uri}: not installed or cannot be hosted");
            std::process::exit(1);
        };
        let params = ohmpatch_engine::Params::resolve(kind.spec(), &Default::default());
        let mut env = BuildEnv::new(sr, None, 0, "bench");
        let mut p = kind.build(&params, &mut env).expect("builds");
        let n_in = kind.spec().inputs().count();
        let n_out = kind.spec().outputs().count();
        let mut input = [0f32; MAX_BLOCK];
        let mut outs = vec![[0f32; MAX_BLOCK]; n_out];
        let mut times = Vec::with_capacity(BLOCKS);
        for b in 0..BLOCKS + 1_000 {
            for (i, x) in input.iter_mut().enumerate() {
                let t = (b * MAX_BLOCK + i) as f64 / sr;
                // 0.25 V peak, a guitar after a preamp's first stage.
                *x = (0.25 * (std::f64::consts::TAU * 110.0 * t).sin()) as f32;
            }
            let ins: Vec<&[f32]> = (0..n_in).map(|_| &input[..]).collect();
            let mut refs: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[..]).collect();
            let ctx = ProcessContext {
                sample_rate: sr,
                frames: MAX_BLOCK,
                time: (b * MAX_BLOCK) as u64,
            };
            let t0 = Instant::now();
            p.process(&ctx, &ins, &mut refs);
            let ns = t0.elapsed().as_nanos() as f64;
            if b >= 1_000 {
                times.push(ns);
            }
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let q = |f: f64| times[((times.len() - 1) as f64 * f) as usize];
        let period_us = MAX_BLOCK as f64 / sr * 1e6;
        println!(
            "{uri}: mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs per {MAX_BLOCK}-frame block ({:.2} % of the {period_us:.0} µs period)",
            mean / 1e3,
            q(0.5) / 1e3,
            q(0.99) / 1e3,
            100.0 * mean / 1e3 / period_us
        );
    }
}
