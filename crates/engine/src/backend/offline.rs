//! Offline rendering: as fast as possible, deterministic, no clocks.

use crate::control::Engine;
use crate::node::MAX_BLOCK;

/// Render `frames` offline, in blocks of `block` frames (≤ MAX_BLOCK is
/// used per engine block). Returns one channel per device output in the
/// engine's channel order. Deterministic: no clocks, no threads.
pub fn render_offline(engine: &mut Engine, frames: usize, block: usize) -> Vec<Vec<f32>> {
    render_offline_with(engine, frames, block, &[])
}

/// `render_offline` with device inputs: `inputs[c]` is what device input
/// channel `c` receives (full-scale floats, as a device delivers them;
/// silence after its end), so device-input nodes play it exactly as they
/// would play a live input.
pub fn render_offline_with(
    engine: &mut Engine,
    frames: usize,
    block: usize,
    inputs: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let block = block.clamp(1, 65_536);
    let Some(mut core) = engine.take_core() else {
        return Vec::new();
    };
    let in_channels = inputs.len();
    let mut interleaved = vec![0.0f32; MAX_BLOCK * in_channels];
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut done = 0;
    let mut scratch = Vec::new();
    while done < frames {
        let n = (frames - done).min(block);
        // One device-sized block, split like a device callback would be.
        let mut off = 0;
        while off < n {
            let m = (n - off).min(MAX_BLOCK);
            let at = done + off;
            for (c, x) in inputs.iter().enumerate() {
                for f in 0..m {
                    interleaved[f * in_channels + c] = x.get(at + f).copied().unwrap_or(0.0);
                }
            }
            core.run_block(m, &interleaved[..m * in_channels], in_channels);
            let outs = core.device_out_count();
            for i in 0..outs {
                let ch = core.device_out_channel(i).unwrap_or(i);
                if channels.len() <= ch {
                    channels.resize_with(ch + 1, || Vec::with_capacity(frames));
                }
                scratch.clear();
                scratch.extend(
                    core.device_out(i, m)
                        .iter()
                        .map(|s| if s.is_finite() { *s } else { 0.0 }),
                );
                let c = &mut channels[ch];
                // Several outputs on one channel sum, as on a device.
                if c.len() < done + off + m {
                    c.resize(done + off, 0.0);
                    c.extend_from_slice(&scratch);
                } else {
                    for (d, s) in c[done + off..done + off + m].iter_mut().zip(&scratch) {
                        *d += s;
                    }
                }
            }
            off += m;
            engine.maintain();
        }
        done += n;
    }
    for c in channels.iter_mut() {
        c.resize(frames, 0.0);
    }
    engine.return_core(core);
    channels
}
