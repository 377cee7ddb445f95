//! `meter`, `scope` and `spectrum`: probes that pass their input through
//! untouched (out = in, sample for sample; only NaN and infinities are
//! replaced by silence) and publish what they see for the
//! editor through lock-free structures (atomics and fixed rings written
//! without allocation). Readers on the control thread call the probe's
//! methods (`MeterProbe::reading`, `ScopeProbe::snapshot`,
//! `SpectrumProbe::spectrum_db`); FFTs run there, never in `process`.
//!
//! A probe's input presents `z_in_ohm` (100 kΩ) like a scope probe; its `out`
//! is an ideal (0 Ω) buffer. To watch a wire without changing its loading,
//! tap it: wire the source to both the probe and its real destination and
//! leave the probe's `out` unconnected; the source then sees the parallel of
//! both loads, as on a bench.
//!
//! `weighting` (none | a) applies to what is measured or captured (IEC 61672
//! A-weighting), never to the pass-through.

use crate::desc::*;
use crate::measure::{AWeighting, spectrum_db, thd};
use ohmpatch_engine::dsp::{DBU_REF_V, Oversampler, SPL_REF_PA};
use ohmpatch_engine::{
    BuildEnv, Display, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec, ParamSpec, PortSpec};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const WEIGHTING: ParamId<Choice> = ParamId::new(0, "weighting");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(1, "z_in_ohm");
pub const DOMAIN: ParamId<Choice> = ParamId::new(2, "domain");

const WEIGHTINGS: &[&str] = &["none", "a"];

fn probe_ports(what: &'static str) -> Vec<PortSpec> {
    vec![
        input("in", Domain::Line, what),
        output(
            "out",
            Domain::Line,
            "The input, unchanged (ideal buffer); may be left unconnected.",
        ),
    ]
}

fn probe_params() -> Vec<ParamSpec> {
    vec![
        choice(
            WEIGHTING,
            WEIGHTINGS,
            "none",
            "Weighting of what is measured (a: IEC 61672 A-weighting); the pass-through is never weighted.",
        ).live(),
        log_number(
            Z_IN_OHM,
            1.0,
            1e7,
            100_000.0,
            "Ω",
            "Input impedance (a probe barely loads the wire).",
        ),
        domain_param(DOMAIN, "line"),
    ]
}

fn probe_electrical(params: &Params) -> Vec<PortElectrical> {
    let d = params.domain(DOMAIN);
    let z_in = if d.is_electrical() {
        Impedance::Ohms(params.num(Z_IN_OHM))
    } else {
        Impedance::None
    };
    vec![port(d, z_in), port(d, Impedance::None)]
}

/// The level unit of a domain.
pub fn unit_of(domain: Domain) -> &'static str {
    match domain {
        Domain::Acoustic => "dB SPL",
        Domain::Digital => "dBFS",
        _ => "dBu",
    }
}

/// Sine-equivalent level in dB of an rms value in the domain's unit: dBu re
/// 0.7746 V, dB SPL re 20 µPa, dBFS with a full-scale sine at 0 dBFS.
pub fn level_db(rms: f64, domain: Domain) -> f64 {
    let r = match domain {
        Domain::Acoustic => SPL_REF_PA,
        Domain::Digital => std::f64::consts::FRAC_1_SQRT_2,
        _ => DBU_REF_V,
    };
    if rms > 0.0 {
        20.0 * (rms / r).log10()
    } else {
        f64::NEG_INFINITY
    }
}

#[inline]
fn load(a: &AtomicU32) -> f32 {
    f32::from_bits(a.load(Ordering::Relaxed))
}

/// A fixed ring of recent samples, written by the audio thread without locks
/// or allocation and read (racily, which is fine for display) by the editor.
pub struct Ring {
    buf: Box<[AtomicU32]>,
    /// Samples written since the start; the newest is at (written − 1) mod len.
    written: AtomicU64,
}

impl Ring {
    pub fn new(len: usize) -> Ring {
        Ring {
            buf: (0..len.max(1)).map(|_| AtomicU32::new(0)).collect(),
            written: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Samples written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Append a block (audio thread).
    #[inline]
    pub fn push_block(&self, x: impl Iterator<Item = f32>) {
        let len = self.buf.len() as u64;
        let mut w = self.written.load(Ordering::Relaxed);
        for v in x {
            self.buf[(w % len) as usize].store(v.to_bits(), Ordering::Relaxed);
            w += 1;
        }
        self.written.store(w, Ordering::Release);
    }

    /// The last `n` samples (fewer if fewer were written), oldest first.
    pub fn last(&self, n: usize, out: &mut Vec<f32>) {
        out.clear();
        let w = self.written();
        let len = self.buf.len() as u64;
        let n = (n as u64).min(len).min(w);
        out.extend((w - n..w).map(|i| load(&self.buf[(i % len) as usize])));
    }
}

// ---------------------------------------------------------------------------
// meter

pub struct Meter {
    spec: KindSpec,
}

impl Meter {
    pub fn new() -> Meter {
        Meter {
            spec: KindSpec {
                kind: "meter".into(),
                help: "Level meter: rms (300 ms window), peak and true peak (4× oversampled), in dBu, dB SPL or dBFS by domain; passes its input through.".into(),
                ports: probe_ports("The wire to measure."),
                params: probe_params(),
            },
        }
    }
}

impl Default for Meter {
    fn default() -> Self {
        Meter::new()
    }
}

/// A meter's reading. Linear values are in the wire's unit (volts, pascals or
/// full scale); the dB values are sine-equivalent levels in `unit` (a sine
/// reads the same rms, peak and true-peak level).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeterReading {
    pub rms: f64,
    pub peak: f64,
    pub true_peak: f64,
    pub unit: &'static str,
    pub rms_db: f64,
    pub peak_db: f64,
    pub true_peak_db: f64,
    /// The rms in dBV (electrical domains; for others the same formula on the raw value).
    pub rms_dbv: f64,
    pub weighted: bool,
}

/// What a meter publishes.
pub struct MeterProbe {
    pub domain: Domain,
    pub sample_rate: f64,
    rms: AtomicU64,
    peak: AtomicU32,
    true_peak: AtomicU32,
    weighted: AtomicBool,
    /// The last ~1.4 s of the (weighted) signal, for THD and the like.
    capture: Ring,
}

impl MeterProbe {
    fn new(domain: Domain, sample_rate: f64, weighted: bool) -> MeterProbe {
        MeterProbe {
            domain,
            sample_rate,
            rms: AtomicU64::new(0f64.to_bits()),
            peak: AtomicU32::new(0),
            true_peak: AtomicU32::new(0),
            weighted: AtomicBool::new(weighted),
            capture: Ring::new(65_536),
        }
    }

    /// The current reading; peaks are held until [`MeterProbe::take`].
    pub fn reading(&self) -> MeterReading {
        let rms = f64::from_bits(self.rms.load(Ordering::Relaxed));
        let peak = f64::from(load(&self.peak));
        let true_peak = f64::from(load(&self.true_peak)).max(peak);
        let s = std::f64::consts::FRAC_1_SQRT_2;
        MeterReading {
            rms,
            peak,
            true_peak,
            unit: unit_of(self.domain),
            rms_db: level_db(rms, self.domain),
            peak_db: level_db(peak * s, self.domain),
            true_peak_db: level_db(true_peak * s, self.domain),
            rms_dbv: 20.0 * rms.log10(),
            weighted: self.weighted.load(Ordering::Relaxed),
        }
    }

    /// The reading, resetting the peak holds.
    pub fn take(&self) -> MeterReading {
        let r = self.reading();
        self.peak.store(0, Ordering::Relaxed);
        self.true_peak.store(0, Ordering::Relaxed);
        r
    }

    /// The last `n` measured samples (weighted if the meter is), oldest first.
    pub fn snapshot(&self, n: usize, out: &mut Vec<f32>) {
        self.capture.last(n, out);
    }

    /// THD (ratio, harmonics 2–10) of the last second of signal at fundamental `f0`.
    pub fn thd(&self, f0: f64) -> f64 {
        let mut x = Vec::new();
        self.snapshot(self.sample_rate as usize, &mut x);
        thd(&x, self.sample_rate, f0, 10)
    }
}

impl NodeKind for Meter {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn display(&self) -> Option<Display> {
        Some(Display::Meter)
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        probe_electrical(params)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let weighted = params.choice(WEIGHTING) == 1;
        let probe = Arc::new(MeterProbe::new(params.domain(DOMAIN), sr, weighted));
        env.publish(probe.clone());
        let window = (0.3 * sr).round().max(1.0) as usize;
        Ok(Box::new(MeterProc {
            probe,
            weighting: weighted.then(|| AWeighting::new(sr)),
            sr,
            squares: vec![0.0; window],
            at: 0,
            sum: 0.0,
            filled: 0,
            os: Oversampler::new(4),
        }))
    }
}

struct MeterProc {
    probe: Arc<MeterProbe>,
    weighting: Option<AWeighting>,
    sr: f64,
    /// Squares of the last 300 ms, a ring, and their running sum.
    squares: Vec<f64>,
    at: usize,
    sum: f64,
    filled: usize,
    os: Oversampler,
}

impl Processor for MeterProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let inp = inputs.first().copied().unwrap_or(&[]);
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let mut peak = 0.0f32;
        let mut true_peak = 0.0f64;
        // What was measured, handed to the capture ring a block at a time.
        let mut measured = [0.0f32; ohmpatch_engine::MAX_BLOCK];
        let mut m = 0;
        for (i, o) in out.iter_mut().enumerate() {
            let raw = inp.get(i).copied().unwrap_or(0.0);
            // Exactly the input, except that NaN and infinities stop here.
            let raw = if raw.is_finite() { raw } else { 0.0 };
            *o = raw;
            let x = f64::from(raw);
            let x = match self.weighting.as_mut() {
                Some(w) => w.process(x),
                None => x,
            };
            // Sliding-window mean square, exact over the last 300 ms.
            let sq = x * x;
            self.sum += sq - self.squares[self.at];
            self.squares[self.at] = sq;
            self.at += 1;
            if self.at == self.squares.len() {
                self.at = 0;
                // Re-add from scratch once a window so rounding cannot creep.
                self.sum = self.squares.iter().sum();
            }
            self.filled = (self.filled + 1).min(self.squares.len());
            peak = peak.max(x.abs() as f32);
            let mut hi = [0.0f64; 8];
            self.os.upsample(x, &mut hi);
            for v in &hi[..4] {
                true_peak = true_peak.max(v.abs());
            }
            measured[m] = x as f32;
            m += 1;
            if m == measured.len() {
                self.probe.capture.push_block(measured.iter().copied());
                m = 0;
            }
        }
        let p = &self.probe;
        p.capture.push_block(measured[..m].iter().copied());
        let ms = (self.sum / self.filled.max(1) as f64).max(0.0);
        p.rms.store(ms.sqrt().to_bits(), Ordering::Relaxed);
        p.peak.fetch_max(peak.to_bits(), Ordering::Relaxed);
        p.true_peak
            .fetch_max((true_peak as f32).to_bits(), Ordering::Relaxed);
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if index == WEIGHTING.index() {
            let on = value >= 0.5;
            if on != self.weighting.is_some() {
                self.weighting = on.then(|| AWeighting::new(self.sr));
                self.probe.weighted.store(on, Ordering::Relaxed);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// scope and spectrum: capture rings

/// What a scope publishes: the last [`ScopeProbe::CAPACITY`] samples.
pub struct ScopeProbe {
    pub domain: Domain,
    pub sample_rate: f64,
    weighted: AtomicBool,
    ring: Ring,
}

impl ScopeProbe {
    /// About 0.34 s at 48 kHz.
    pub const CAPACITY: usize = 16_384;

    pub fn unit(&self) -> &'static str {
        match self.domain {
            Domain::Acoustic => "Pa",
            Domain::Digital => "FS",
            _ => "V",
        }
    }

    pub fn weighted(&self) -> bool {
        self.weighted.load(Ordering::Relaxed)
    }

    /// Samples captured since the node started.
    pub fn written(&self) -> u64 {
        self.ring.written()
    }

    /// The whole ring, oldest first (fewer samples right after a start).
    pub fn snapshot(&self, out: &mut Vec<f32>) {
        self.ring.last(Self::CAPACITY, out);
    }

    /// The last `n` samples, oldest first.
    pub fn snapshot_last(&self, n: usize, out: &mut Vec<f32>) {
        self.ring.last(n, out);
    }

    /// `len` samples starting at the latest rising zero crossing that still
    /// leaves `len` samples after it (a steady trace for periodic signals);
    /// the last `len` samples if there is none.
    pub fn triggered(&self, len: usize, out: &mut Vec<f32>) {
        let mut all = Vec::with_capacity(Self::CAPACITY);
        self.snapshot(&mut all);
        if all.len() <= len {
            out.clear();
            out.extend_from_slice(&all);
            return;
        }
        let last_start = all.len() - len;
        let start = (1..=last_start)
            .rev()
            .find(|&i| all[i - 1] < 0.0 && all[i] >= 0.0)
            .unwrap_or(last_start);
        out.clear();
        out.extend_from_slice(&all[start..start + len]);
    }
}

/// What a spectrum analyser publishes: a ring of recent samples; the FFT is
/// computed by the reader, on its own thread.
pub struct SpectrumProbe {
    pub domain: Domain,
    pub sample_rate: f64,
    weighted: AtomicBool,
    ring: Ring,
}

impl SpectrumProbe {
    /// Enough for a 32k-point FFT (0.68 s at 48 kHz, 1.5 Hz bins).
    pub const CAPACITY: usize = 32_768;

    pub fn weighted(&self) -> bool {
        self.weighted.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.ring.written()
    }

    /// The last `n` samples, oldest first.
    pub fn snapshot(&self, n: usize, out: &mut Vec<f32>) {
        self.ring.last(n, out);
    }

    /// Hann-windowed spectrum of the last `fft_len` samples (at most
    /// [`Self::CAPACITY`]) as (Hz, dB re 1 unit rms): a sine of rms A on a
    /// bin reads 20·log10(A). Add [`SpectrumProbe::offset_db`] for the
    /// domain's level unit.
    pub fn spectrum_db(&self, fft_len: usize) -> Vec<(f64, f64)> {
        let mut x = Vec::with_capacity(fft_len.min(Self::CAPACITY));
        self.snapshot(fft_len, &mut x);
        spectrum_db(&x, self.sample_rate)
    }

    /// dB to add to a `spectrum_db` value for dBu / dB SPL / dBFS.
    pub fn offset_db(&self) -> f64 {
        level_db(1.0, self.domain)
    }

    /// Octave-band levels of the last `n` samples (dB re 1 unit rms).
    pub fn octave_bands(&self, n: usize, centres: &[f64]) -> Vec<f64> {
        let mut x = Vec::new();
        self.snapshot(n, &mut x);
        crate::measure::octave_band_levels(&x, self.sample_rate, centres)
    }
}

/// The ring and flag a capture probe writes.
trait Captures: Send + Sync {
    fn ring(&self) -> &Ring;
    fn weighted_flag(&self) -> &AtomicBool;
}

impl Captures for ScopeProbe {
    fn ring(&self) -> &Ring {
        &self.ring
    }
    fn weighted_flag(&self) -> &AtomicBool {
        &self.weighted
    }
}

impl Captures for SpectrumProbe {
    fn ring(&self) -> &Ring {
        &self.ring
    }
    fn weighted_flag(&self) -> &AtomicBool {
        &self.weighted
    }
}

struct CaptureProc<P: Captures> {
    probe: Arc<P>,
    weighting: Option<AWeighting>,
    sr: f64,
}

impl<P: Captures> CaptureProc<P> {
    fn new(probe: Arc<P>, weighted: bool, sr: f64) -> CaptureProc<P> {
        CaptureProc {
            probe,
            weighting: weighted.then(|| AWeighting::new(sr)),
            sr,
        }
    }
}

impl<P: Captures> Processor for CaptureProc<P> {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let inp = inputs.first().copied().unwrap_or(&[]);
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let mut seen = [0.0f32; ohmpatch_engine::MAX_BLOCK];
        let mut m = 0;
        for (i, o) in out.iter_mut().enumerate() {
            let raw = inp.get(i).copied().unwrap_or(0.0);
            // Exactly the input, except that NaN and infinities stop here.
            let x = if raw.is_finite() { raw } else { 0.0 };
            *o = x;
            seen[m] = match self.weighting.as_mut() {
                Some(w) => w.process(f64::from(x)) as f32,
                None => x,
            };
            m += 1;
            if m == seen.len() {
                self.probe.ring().push_block(seen.iter().copied());
                m = 0;
            }
        }
        self.probe.ring().push_block(seen[..m].iter().copied());
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if index == WEIGHTING.index() {
            let on = value >= 0.5;
            if on != self.weighting.is_some() {
                self.weighting = on.then(|| AWeighting::new(self.sr));
                self.probe.weighted_flag().store(on, Ordering::Relaxed);
            }
        }
    }
}

pub struct Scope {
    spec: KindSpec,
}

impl Scope {
    pub fn new() -> Scope {
        Scope {
            spec: KindSpec {
                kind: "scope".into(),
                help: "Oscilloscope: keeps the last 16384 samples of the wire (volts, pascals or full scale) for the editor; passes its input through.".into(),
                ports: probe_ports("The wire to watch."),
                params: probe_params(),
            },
        }
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::new()
    }
}

impl NodeKind for Scope {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn display(&self) -> Option<Display> {
        Some(Display::Scope)
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        probe_electrical(params)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let weighted = params.choice(WEIGHTING) == 1;
        let probe = Arc::new(ScopeProbe {
            domain: params.domain(DOMAIN),
            sample_rate: env.sample_rate,
            weighted: AtomicBool::new(weighted),
            ring: Ring::new(ScopeProbe::CAPACITY),
        });
        env.publish(probe.clone());
        Ok(Box::new(CaptureProc::new(probe, weighted, env.sample_rate)))
    }
}

pub struct Spectrum {
    spec: KindSpec,
}

impl Spectrum {
    pub fn new() -> Spectrum {
        Spectrum {
            spec: KindSpec {
                kind: "spectrum".into(),
                help: "Spectrum analyser: keeps the last 32768 samples for an FFT the editor computes; passes its input through.".into(),
                ports: probe_ports("The wire to analyse."),
                params: probe_params(),
            },
        }
    }
}

impl Default for Spectrum {
    fn default() -> Self {
        Spectrum::new()
    }
}

impl NodeKind for Spectrum {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn follows_wire(&self) -> bool {
        true
    }

    fn display(&self) -> Option<Display> {
        Some(Display::Spectrum)
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        probe_electrical(params)
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let weighted = params.choice(WEIGHTING) == 1;
        let probe = Arc::new(SpectrumProbe {
            domain: params.domain(DOMAIN),
            sample_rate: env.sample_rate,
            weighted: AtomicBool::new(weighted),
            ring: Ring::new(SpectrumProbe::CAPACITY),
        });
        env.publish(probe.clone());
        Ok(Box::new(CaptureProc::new(probe, weighted, env.sample_rate)))
    }
}
