//! ohmpatch's engine benchmarks (divan). `scripts/bench.sh` runs them and
//! turns the medians into the tables of BENCHMARKS.md.
//!
//! Every block benchmark times one 128-frame block at 48 kHz.
//! - `host_overhead`: a chain of N gain nodes through the engine, the same
//!   processors called one after another without the engine, and the same
//!   arithmetic in one hand-written loop.
//! - `peers`: the same chains in ohmpatch, fundsp's `Net` and firewheel.
//! - `patches`: the example patches in `graphs/`, rendered offline.
//! - `compile`: plan compile time, and a whole `set_patch`, by node count.

use divan::{Bencher, black_box};
use ohmpatch_bench::*;
use ohmpatch_engine::{EngineConfig, ProcessContext};
use std::time::Duration;

fn main() {
    divan::Divan::from_args()
        .min_time(Duration::from_millis(200))
        .max_time(Duration::from_millis(1500))
        .main();
}

fn ctx() -> ProcessContext {
    ProcessContext {
        sample_rate: SAMPLE_RATE,
        frames: BLOCK,
        time: 0,
    }
}

fn config(meter_every: u32) -> EngineConfig {
    EngineConfig {
        sample_rate: SAMPLE_RATE,
        meter_every,
        ..EngineConfig::default()
    }
}

mod host_overhead {
    use super::*;

    const N: [usize; 4] = [1, 10, 100, 1000];

    fn run_engine(b: Bencher, n: usize, meter_every: u32, watch_all: bool) {
        let mut engine = engine_for(&gain_chain_patch(n), config(meter_every));
        engine.meters().watch_all(watch_all);
        let mut core = running_core(&mut engine);
        b.bench_local(|| core.run_block(BLOCK, &[], 0));
        black_box(core.device_out(0, BLOCK)[0]);
    }

    /// The engine as `ohmpatch play` and `render` run it
    /// (`EngineConfig::default()`, no port meter read, so none measured;
    /// every port's first sample still checked for faults).
    #[divan::bench(args = N)]
    fn engine(b: Bencher, n: usize) {
        run_engine(b, n, EngineConfig::default().meter_every, false);
    }

    /// The engine with every port's meter read, as in the editor with every
    /// wire on screen: each port metered on every block.
    #[divan::bench(args = N)]
    fn engine_watched(b: Bencher, n: usize) {
        run_engine(b, n, EngineConfig::default().meter_every, true);
    }

    /// Every port watched, each metered every 4th block (a quarter of
    /// them each block): what a lighter metering setting would cost.
    #[divan::bench(args = N)]
    fn engine_watched4(b: Bencher, n: usize) {
        run_engine(b, n, 4, true);
    }

    /// The gain chain fed by silence (a `file_in` with no file): every node
    /// is skipped and its output block zeroed.
    #[divan::bench(args = N)]
    fn engine_silent(b: Bencher, n: usize) {
        let mut engine = engine_for(&silent_chain_patch(n), config(1));
        let mut core = running_core(&mut engine);
        b.bench_local(|| core.run_block(BLOCK, &[], 0));
        assert!(core.device_out(0, BLOCK).iter().all(|v| *v == 0.0));
    }

    /// The same processors, called in order on two ping-pong buffers: what
    /// is left without the engine (one dynamic call per node per block).
    #[divan::bench(args = N)]
    fn direct(b: Bencher, n: usize) {
        let patch = gain_chain_patch(n);
        let mut ids: Vec<String> = vec!["src".into()];
        ids.extend((0..n).map(|k| format!("g{k:05}")));
        ids.push("out".into());
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut procs = build_processors(&ids, &patch);
        let (src, rest) = procs.split_first_mut().expect("source");
        let (sink, gains) = rest.split_last_mut().expect("sink");
        let mut bufs = [Aligned::ZERO; 2];
        let mut o = Aligned::ZERO;
        let cx = ctx();
        b.bench_local(|| {
            src.process(&cx, &[], &mut [&mut bufs[0].0]);
            let mut cur = 0;
            for g in gains.iter_mut() {
                let (l, r) = bufs.split_at_mut(1);
                let (i, o) = if cur == 0 {
                    (&l[0].0, &mut r[0].0)
                } else {
                    (&r[0].0, &mut l[0].0)
                };
                g.process(&cx, &[i], &mut [o]);
                cur ^= 1;
            }
            sink.process(&cx, &[&bufs[cur].0], &mut [&mut o.0]);
        });
        black_box(o.0[0]);
    }

    /// One hand-written loop: the noise, N multiplies in place, and the
    /// output node's own conversion (its processor, so the sink's arithmetic
    /// is the engine's to the bit).
    #[divan::bench(args = N)]
    fn hand_inplace(b: Bencher, n: usize) {
        let patch = gain_chain_patch(n);
        let mut sink = build_processors(&["out"], &patch).pop().expect("sink");
        let gains: Vec<f32> = (0..n).map(chain_gain).collect();
        let mut noise = WhiteNoise::new(1, NOISE_LEVEL);
        let mut a = Aligned::ZERO;
        let mut o = Aligned::ZERO;
        let cx = ctx();
        b.bench_local(|| {
            for x in a.0.iter_mut() {
                *x = noise.tick();
            }
            for &g in black_box(&gains[..]) {
                for x in a.0.iter_mut() {
                    *x *= g;
                }
            }
            sink.process(&cx, &[&a.0], &mut [&mut o.0]);
        });
        black_box(o.0[0]);
    }

    /// The same, each multiply from one buffer into the other (as the
    /// engine's gain stages do). The tables take the faster of the two.
    #[divan::bench(args = N)]
    fn hand_pingpong(b: Bencher, n: usize) {
        let patch = gain_chain_patch(n);
        let mut sink = build_processors(&["out"], &patch).pop().expect("sink");
        let gains: Vec<f32> = (0..n).map(chain_gain).collect();
        let mut noise = WhiteNoise::new(1, NOISE_LEVEL);
        let mut bufs = [Aligned::ZERO; 2];
        let mut o = Aligned::ZERO;
        let cx = ctx();
        b.bench_local(|| {
            for x in bufs[0].0.iter_mut() {
                *x = noise.tick();
            }
            let mut cur = 0;
            for &g in black_box(&gains[..]) {
                let (l, r) = bufs.split_at_mut(1);
                let (i, o) = if cur == 0 {
                    (&l[0].0, &mut r[0].0)
                } else {
                    (&r[0].0, &mut l[0].0)
                };
                for (o, x) in o.iter_mut().zip(i.iter()) {
                    *o = *x * g;
                }
                cur ^= 1;
            }
            sink.process(&cx, &[&bufs[cur].0], &mut [&mut o.0]);
        });
        black_box(o.0[0]);
    }
}

mod peers {
    use super::*;
    use firewheel::channel_config::{ChannelConfig, ChannelCount, NonZeroChannelCount};
    use firewheel::node::{
        AudioNode as FwNode, AudioNodeInfo, AudioNodeProcessor, ConstructProcessorContext,
        EmptyConfig, NodeError, ProcBuffers, ProcExtra, ProcInfo, ProcessStatus, StreamStatus,
    };
    use firewheel::nodes::volume::{VolumeNode, VolumeNodeConfig};
    use firewheel::{ActivateInfo, FirewheelConfig, FirewheelContext};
    use fundsp::prelude32 as fd;
    use fundsp::prelude32::AudioUnit;
    use std::num::NonZeroU32;

    const N: [usize; 3] = [10, 100, 1000];

    // ---- ohmpatch ---------------------------------------------------------

    fn ohmpatch_block(b: Bencher, patch: ohmpatch_patch::Patch) {
        let mut engine = engine_for(&patch, EngineConfig::default());
        let mut core = running_core(&mut engine);
        b.bench_local(|| core.run_block(BLOCK, &[], 0));
        black_box(core.device_out(0, BLOCK)[0]);
    }

    #[divan::bench(args = N)]
    fn gain_chain_ohmpatch(b: Bencher, n: usize) {
        ohmpatch_block(b, gain_chain_patch(n));
    }

    #[divan::bench]
    fn fx_chain_ohmpatch(b: Bencher) {
        let mut engine = engine_for(&fx_chain_patch(), EngineConfig::default());
        let mut core = running_core(&mut engine);
        // `running_core` ran blocks 0..8; the output node scales volts to
        // full scale (+18 dBu, its default).
        core.run_block(BLOCK, &[], 0);
        let scale = 1.0 / ohmpatch_nodes::kinds::output::full_scale_peak_v(18.0) as f32;
        let n = assert_fx_block(
            "ohmpatch",
            core.device_out(0, BLOCK),
            RUNNING_CORE_BLOCKS + 1,
            scale,
        );
        assert_eq!(
            n, RUNNING_CORE_BLOCKS,
            "the source runs from the first block"
        );
        b.bench_local(|| core.run_block(BLOCK, &[], 0));
        black_box(core.device_out(0, BLOCK)[0]);
    }

    // ---- fundsp Net -------------------------------------------------------

    #[derive(Clone)]
    struct FdNoise(WhiteNoise);
    impl fd::AudioNode for FdNoise {
        const ID: u64 = 0x6f68_6d70_0001;
        type Inputs = fd::U0;
        type Outputs = fd::U1;
        fn tick(&mut self, _: &fd::Frame<f32, fd::U0>) -> fd::Frame<f32, fd::U1> {
            [self.0.tick()].into()
        }
        fn process(&mut self, size: usize, _: &fd::BufferRef, output: &mut fd::BufferMut) {
            for o in output.channel_f32_mut(0)[..size].iter_mut() {
                *o = self.0.tick();
            }
        }
    }

    #[derive(Clone)]
    struct FdTanh;
    impl fd::AudioNode for FdTanh {
        const ID: u64 = 0x6f68_6d70_0002;
        type Inputs = fd::U1;
        type Outputs = fd::U1;
        fn tick(&mut self, i: &fd::Frame<f32, fd::U1>) -> fd::Frame<f32, fd::U1> {
            [i[0].tanh()].into()
        }
        fn process(&mut self, size: usize, input: &fd::BufferRef, output: &mut fd::BufferMut) {
            let i = input.channel_f32(0);
            for (o, x) in output.channel_f32_mut(0)[..size].iter_mut().zip(i) {
                *o = x.tanh();
            }
        }
    }

    #[derive(Clone)]
    struct FdLowpass(Lowpass);
    impl fd::AudioNode for FdLowpass {
        const ID: u64 = 0x6f68_6d70_0003;
        type Inputs = fd::U1;
        type Outputs = fd::U1;
        fn tick(&mut self, i: &fd::Frame<f32, fd::U1>) -> fd::Frame<f32, fd::U1> {
            [self.0.tick(i[0])].into()
        }
        fn process(&mut self, size: usize, input: &fd::BufferRef, output: &mut fd::BufferMut) {
            let i = input.channel_f32(0);
            for (o, x) in output.channel_f32_mut(0)[..size].iter_mut().zip(i) {
                *o = self.0.tick(*x);
            }
        }
    }

    fn fundsp_block(b: Bencher, mut net: fd::Net) {
        net.set_sample_rate(SAMPLE_RATE);
        net.allocate();
        let mut out = fd::BufferArray::<fd::U1>::new();
        let input = fd::BufferRef::empty();
        b.bench_local(|| {
            // fundsp's largest block is 64 frames.
            for _ in 0..BLOCK / fd::MAX_BUFFER_SIZE {
                net.process(fd::MAX_BUFFER_SIZE, &input, &mut out.buffer_mut());
            }
        });
        black_box(out.channel_f32(0)[0]);
    }

    fn fundsp_gain_chain(n: usize) -> fd::Net {
        let mut net = fd::Net::new(0, 1);
        net.chain(Box::new(fd::An(FdNoise(WhiteNoise::new(1, NOISE_LEVEL)))));
        for k in 0..n {
            net.chain(Box::new(fd::mul(chain_gain(k))));
        }
        net
    }

    #[divan::bench(args = N)]
    fn gain_chain_fundsp(b: Bencher, n: usize) {
        fundsp_block(b, fundsp_gain_chain(n));
    }

    #[divan::bench]
    fn fx_chain_fundsp(b: Bencher) {
        let mut net = fd::Net::new(0, 1);
        net.chain(Box::new(fd::An(FdNoise(WhiteNoise::new(1, NOISE_LEVEL)))));
        net.chain(Box::new(fd::mul(10f64.powf(FX_GAIN_DB / 20.0) as f32)));
        net.chain(Box::new(fd::An(FdTanh)));
        net.chain(Box::new(fd::An(FdLowpass(Lowpass::new(
            LOWPASS_HZ,
            std::f64::consts::FRAC_1_SQRT_2,
            SAMPLE_RATE,
        )))));
        net.set_sample_rate(SAMPLE_RATE);
        net.allocate();
        let mut out = fd::BufferArray::<fd::U1>::new();
        let mut got = Vec::new();
        for _ in 0..BLOCK / fd::MAX_BUFFER_SIZE {
            net.process(
                fd::MAX_BUFFER_SIZE,
                &fd::BufferRef::empty(),
                &mut out.buffer_mut(),
            );
            got.extend_from_slice(&out.channel_f32(0)[..fd::MAX_BUFFER_SIZE]);
        }
        assert_fx_block("fundsp", &got, 1, 1.0);
        fundsp_block(b, net);
    }

    // ---- firewheel ----------------------------------------------------------

    /// A mono firewheel node around one of the shared bench DSP kernels.
    #[derive(Clone, Copy)]
    enum FwKernel {
        Noise,
        Tanh,
        Lowpass,
    }

    struct FwProc {
        kernel: FwKernel,
        noise: WhiteNoise,
        lp: Lowpass,
    }

    impl FwNode for FwKernel {
        type Configuration = EmptyConfig;
        fn info(&self, _: &EmptyConfig) -> Result<AudioNodeInfo, NodeError> {
            let num_inputs = match self {
                FwKernel::Noise => ChannelCount::ZERO,
                _ => ChannelCount::MONO,
            };
            Ok(AudioNodeInfo::new().channel_config(ChannelConfig {
                num_inputs,
                num_outputs: ChannelCount::MONO,
            }))
        }
        fn construct_processor(
            &self,
            _: &EmptyConfig,
            _: ConstructProcessorContext,
        ) -> Result<impl AudioNodeProcessor, NodeError> {
            Ok(FwProc {
                kernel: *self,
                noise: WhiteNoise::new(1, NOISE_LEVEL),
                lp: Lowpass::new(LOWPASS_HZ, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE),
            })
        }
    }

    impl AudioNodeProcessor for FwProc {
        fn process(
            &mut self,
            info: &ProcInfo,
            buffers: ProcBuffers,
            _: &mut ProcExtra,
        ) -> ProcessStatus {
            let out = &mut buffers.outputs[0][..info.frames];
            match self.kernel {
                FwKernel::Noise => {
                    for o in out.iter_mut() {
                        *o = self.noise.tick();
                    }
                }
                FwKernel::Tanh => {
                    for (o, x) in out.iter_mut().zip(buffers.inputs[0]) {
                        *o = x.tanh();
                    }
                }
                FwKernel::Lowpass => {
                    for (o, x) in out.iter_mut().zip(buffers.inputs[0]) {
                        *o = self.lp.tick(*x);
                    }
                }
            }
            ProcessStatus::OutputsModified
        }
    }

    /// A mono `VolumeNode` of `db` decibels. (Its `from_linear` is a
    /// perceptual slider value, squared into an amplitude: 4.0 there is
    /// +24 dB, not +12.)
    fn mono_volume(cx: &mut FirewheelContext, db: f64) -> firewheel::node::NodeID {
        cx.add_node(
            VolumeNode::from_decibels(db as f32),
            Some(VolumeNodeConfig {
                channels: NonZeroChannelCount::MONO,
            }),
        )
        .expect("volume node")
    }

    /// Build a firewheel graph: the chain from `build`, its last node into
    /// the graph's mono output; then render one block, `BLOCK` frames.
    /// Blocks a firewheel graph runs before it is timed.
    const FIREWHEEL_WARMUP: usize = 64;

    fn firewheel_block(
        b: Bencher,
        build: impl FnOnce(&mut FirewheelContext) -> firewheel::node::NodeID,
        check: impl FnOnce(&[f32]),
    ) {
        let mut cx = FirewheelContext::new(FirewheelConfig {
            num_graph_outputs: ChannelCount::MONO,
            ..FirewheelConfig::default()
        });
        let last = build(&mut cx);
        let out = cx.graph_out_node_id();
        cx.connect(last, out, &[(0, 0)], false).expect("connect");
        let mut processor = cx
            .activate(ActivateInfo {
                sample_rate: NonZeroU32::new(SAMPLE_RATE as u32).expect("rate"),
                max_block_frames: NonZeroU32::new(BLOCK as u32).expect("block"),
                num_stream_in_channels: 0,
                num_stream_out_channels: 1,
                input_to_output_latency_seconds: 0.0,
            })
            .expect("activate");
        cx.update().expect("update");
        let mut buf = vec![0.0f32; BLOCK];
        let info = firewheel::backend::BackendProcessInfo {
            frames: BLOCK,
            process_timestamp: None,
            duration_since_stream_start: Duration::ZERO,
            input_stream_status: StreamStatus::empty(),
            output_stream_status: StreamStatus::empty(),
            dropped_frames: 0,
            process_to_playback_delay: None,
        };
        let empty: [f32; 0] = [];
        let run = |processor: &mut firewheel::processor::FirewheelProcessor, buf: &mut [f32]| {
            processor.process(
                &audioadapter_buffers::direct::InterleavedSlice::new(&empty, 0, 0)
                    .expect("empty input"),
                &mut audioadapter_buffers::direct::InterleavedSlice::new_mut(buf, 1, BLOCK)
                    .expect("output"),
                info.clone(),
            );
        };
        // Let the schedule arrive and the declickers settle.
        for _ in 0..FIREWHEEL_WARMUP {
            run(&mut processor, &mut buf);
            cx.update().expect("update");
        }
        assert!(buf.iter().any(|s| *s != 0.0), "firewheel chain is silent");
        check(&buf);
        b.bench_local(|| run(&mut processor, &mut buf));
        black_box(buf[0]);
    }

    #[divan::bench(args = N)]
    fn gain_chain_firewheel(b: Bencher, n: usize) {
        firewheel_block(
            b,
            |cx| {
                let mut prev = cx.add_node(FwKernel::Noise, None).expect("noise");
                for k in 0..n {
                    let g = mono_volume(cx, chain_gain_db(k));
                    cx.connect(prev, g, &[(0, 0)], false).expect("connect");
                    prev = g;
                }
                prev
            },
            |_| {},
        );
    }

    #[divan::bench]
    fn fx_chain_firewheel(b: Bencher) {
        firewheel_block(
            b,
            |cx| {
                let src = cx.add_node(FwKernel::Noise, None).expect("noise");
                let g = mono_volume(cx, FX_GAIN_DB);
                let t = cx.add_node(FwKernel::Tanh, None).expect("tanh");
                let lp = cx.add_node(FwKernel::Lowpass, None).expect("lowpass");
                cx.connect(src, g, &[(0, 0)], false).expect("connect");
                cx.connect(g, t, &[(0, 0)], false).expect("connect");
                cx.connect(t, lp, &[(0, 0)], false).expect("connect");
                lp
            },
            |out| {
                // The volume node ramps in over the first blocks; by the last
                // warm-up block the low-pass has long forgotten that.
                assert_fx_block("firewheel", out, FIREWHEEL_WARMUP, 1.0);
            },
        );
    }
}

mod patches {
    use super::*;
    use ohmpatch_engine::{Engine, render_offline};
    use std::path::PathBuf;

    /// Seconds of audio rendered per iteration.
    const SECONDS: f64 = 1.0;

    fn graphs_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../graphs"))
    }

    /// The example patches that load and build here, by file stem.
    fn names() -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(graphs_dir())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.strip_suffix(".ohm.ron"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.retain(|n| engine(n).is_some());
        v
    }

    fn engine(name: &str) -> Option<Engine> {
        let path = graphs_dir().join(format!("{name}.ohm.ron"));
        let patch = ohmpatch_patch::load_file(&path).ok()?;
        let mut engine = Engine::new(
            ohmpatch_nodes::shared_registry(),
            EngineConfig {
                sample_rate: SAMPLE_RATE,
                patch_dir: Some(graphs_dir()),
                ..EngineConfig::default()
            },
        );
        engine.set_patch(&patch).ok()?;
        Some(engine)
    }

    /// Render `SECONDS` of the patch offline, as `ohmpatch render` does
    /// (128-frame blocks, upkeep after each). Real-time factor = SECONDS / time.
    #[divan::bench(args = names())]
    fn render_1s(b: Bencher, name: &str) {
        let mut engine = engine(name).expect("listed patches build");
        let frames = (SECONDS * SAMPLE_RATE) as usize;
        render_offline(&mut engine, BLOCK * 8, BLOCK);
        b.bench_local(|| black_box(render_offline(&mut engine, frames, BLOCK)));
    }
}

mod compile {
    use super::*;
    use ohmpatch_engine::Engine;
    use std::collections::HashSet;

    const N: [usize; 4] = [10, 100, 1000, 10_000];

    /// `compile`: validate-free graph compile to a schedule.
    #[divan::bench(args = N)]
    fn schedule(b: Bencher, n: usize) {
        let patch = compile_patch(n);
        let registry = bench_registry();
        b.bench_local(|| {
            ohmpatch_engine::compile(&patch, &registry, SAMPLE_RATE, &HashSet::new())
                .expect("compiles")
        });
    }

    /// `Engine::set_patch` on a fresh engine: validate, compile, build every
    /// processor and the plan, send it.
    #[divan::bench(args = N)]
    fn set_patch(b: Bencher, n: usize) {
        let patch = compile_patch(n);
        let registry = bench_registry();
        b.with_inputs(|| Engine::new(registry.clone(), config(4)))
            .bench_local_values(|mut e| {
                e.set_patch(&patch).expect("sets");
                e
            });
    }

    /// `Engine::set_patch` with one wire moved in an already playing patch
    /// (the cost of an editor's topology edit).
    #[divan::bench(args = N)]
    fn edit(b: Bencher, n: usize) {
        let a = compile_patch(n);
        let mut c = a.clone();
        // Bypass the first gain of the first chain.
        let w = c
            .wires
            .iter()
            .position(|w| w.from.node == "src")
            .expect("a chain");
        c.wires[w] = ohmpatch_patch::Wire::parse("src.out", "bus.in").expect("wire");
        let mut e = Engine::new(bench_registry(), config(4));
        let mut core = e.take_core().expect("core");
        e.set_patch(&a).expect("sets");
        let mut flip = false;
        b.bench_local(|| {
            flip = !flip;
            e.set_patch(if flip { &c } else { &a }).expect("sets");
            // Let the audio side take the plan and hand the old one back.
            core.run_block(BLOCK, &[], 0);
            e.maintain();
        });
        e.return_core(core);
    }
}
