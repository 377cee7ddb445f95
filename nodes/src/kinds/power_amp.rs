//! `power_amp`: a power amplifier, line level in, speaker level out. The
//! processor produces the open-circuit output voltage; the node declares
//! `z_out_ohm`, and the engine divides that voltage against the load's Z(f)
//! (a speaker's resonance and voice-coil rise), which is where the damping
//! factor shows: a solid-state amp (0.05 Ω) stays flat, a tube amp (several
//! ohms) gives a bass bump at fs and a treble rise.
//!
//! - Gain: `gain_db` (32 dB: +8 dBu in gives 77.5 V, the Yamaha P7000S's
//!   750 W into 8 Ω).
//! - Clipping: the rated power into the rated load sets the clip voltage
//!   Vc = sqrt(2·P·R) peak. Solid state is linear to 0.95·Vc and then bends
//!   smoothly (tanh) into a ceiling of 1.1·Vc; the tube push-pull model
//!   compresses gradually from well below Vc, a little unevenly between the
//!   halves (some 2nd harmonic besides the 3rd), with transformer coupling
//!   (no DC, a 5 Hz high-pass). The nonlinearity runs 4× oversampled
//!   (linear-phase half-band filters, flat to 0.43·fs), which costs
//!   [`Oversampler4::LATENCY`] = 53 samples of latency.
//! - Noise: residual output noise V_rated/10^(SNR/20) over 20 Hz–20 kHz,
//!   unweighted (100 W/8 Ω at 100 dB: 283 µV), with V_rated = sqrt(P·R) rms.
//! - Sag: the supply droops with the low-passed output current (taken into
//!   the rated load, since the processor cannot see the actual one; attack
//!   15 ms, release 150 ms), lowering the clip voltage by up to 35 % × `sag`.

use super::physdsp::{Biquad, Oversampler4, finite, white_total_factor};
use crate::desc::*;
use crate::measure::sine_rms_through;
use ohmpatch_engine::analysis::{AnalysisContext, Finding, Level, StageAnalysis, Subject};
use ohmpatch_engine::dsp::{Rng, Smoother, db_to_gain};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};

pub const MODELS: &[&str] = &["solid_state", "tube_push_pull"];

/// Solid state: linear up to this fraction of Vc…
const SS_KNEE: f64 = 0.95;
/// …then a tanh bend into this ceiling (× Vc).
const SS_CEILING: f64 = 1.10;
/// Tube: saturation steepness and the imbalance between the halves.
const TUBE_DRIVE: f64 = 0.9;
const TUBE_IMBALANCE: f64 = 0.08;
/// The deepest supply droop at `sag` = 1 and full continuous output.
const SAG_DEPTH: f64 = 0.35;
const SAG_ATTACK_MS: f64 = 15.0;
const SAG_RELEASE_MS: f64 = 150.0;

/// Clip voltage, peak: sqrt(2·P·R).
pub fn clip_volts(power_w: f64, rated_load_ohm: f64) -> f64 {
    (2.0 * power_w * rated_load_ohm).sqrt()
}

/// Residual output noise, volts rms over 20 Hz–20 kHz: V_rated/10^(SNR/20).
pub fn noise_volts(power_w: f64, rated_load_ohm: f64, snr_db: f64) -> f64 {
    (power_w * rated_load_ohm).sqrt() / db_to_gain(snr_db)
}

/// Solid-state transfer curve for a clip voltage `vc`.
#[inline]
fn solid_state(x: f64, vc: f64) -> f64 {
    let a = SS_KNEE * vc;
    let ax = x.abs();
    if ax <= a {
        x
    } else {
        let w = (SS_CEILING - SS_KNEE) * vc;
        (a + w * ((ax - a) / w).tanh()).copysign(x)
    }
}

/// Tube push-pull curve: unity small-signal slope, asymmetric saturation.
#[inline]
fn tube(x: f64, vc: f64) -> f64 {
    let t0 = (TUBE_DRIVE * TUBE_IMBALANCE).tanh();
    let u = x / vc;
    let y = ((TUBE_DRIVE * (u + TUBE_IMBALANCE)).tanh() - t0) / (TUBE_DRIVE * (1.0 - t0 * t0));
    y * vc
}

pub struct PowerAmp {
    spec: KindSpec,
}

impl PowerAmp {
    pub fn new() -> PowerAmp {
        PowerAmp {
            spec: KindSpec {
                kind: "power_amp",
                help: "Power amplifier: gain, clipping at its rated power, residual noise, output impedance (damping factor) against the speaker's Z(f), supply sag. 4× oversampled (53 samples of latency).",
                ports: vec![
                    input("in", Domain::Line, "Line-level volts."),
                    output(
                        "out",
                        Domain::Speaker,
                        "Open-circuit volts behind z_out_ohm; the engine applies the load.",
                    ),
                ],
                params: vec![
                    choice(
                        "model",
                        MODELS,
                        "solid_state",
                        "solid_state (linear to 95 % of clip, then a hard-ish knee) or tube_push_pull (gradual, slightly asymmetric saturation; transformer coupled).",
                    ),
                    number(
                        "gain_db",
                        0.0,
                        60.0,
                        32.0,
                        "dB",
                        "Voltage gain (32 dB: +8 dBu in → 77.5 V out).",
                    ),
                    log_number(
                        "power_w",
                        0.1,
                        5000.0,
                        100.0,
                        "W",
                        "Rated power into the rated load; sets the clip voltage sqrt(2·P·R) peak.",
                    ),
                    number(
                        "rated_load_ohm",
                        1.0,
                        32.0,
                        8.0,
                        "Ω",
                        "The load the power is rated into.",
                    ),
                    number(
                        "z_out_ohm",
                        0.0,
                        100.0,
                        0.05,
                        "Ω",
                        "Output impedance. Default 0.05 Ω, a solid-state amp (damping factor 160 into 8 Ω); tube amps are 1–30 Ω: set it. 0 is ideal.",
                    ),
                    number(
                        "snr_db",
                        40.0,
                        140.0,
                        100.0,
                        "dB",
                        "Rated output over residual noise, 20 Hz–20 kHz unweighted.",
                    ),
                    number(
                        "sag",
                        0.0,
                        1.0,
                        0.0,
                        "",
                        "Power-supply sag: 0 stiff, 1 a tube rectifier's droop (up to 35 % less headroom while loud).",
                    ),
                    log_number("z_in_ohm", 1000.0, 1e6, 20_000.0, "Ω", "Input impedance."),
                ],
            },
        }
    }
}

impl Default for PowerAmp {
    fn default() -> Self {
        PowerAmp::new()
    }
}

/// How far below its rating a load may dip before `check` warns. IEC 60268-5
/// lets a speaker's minimum fall to 80 % of its rated impedance; typical 8 Ω
/// drivers sit at 5.5–6.5 Ω (Re), which any amp rated 8 Ω is built for.
const MIN_LOAD_RATIO: f64 = 0.65;

impl NodeKind for PowerAmp {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn rated_load_ohm(&self, params: &Params) -> Option<f64> {
        Some(params.num("rated_load_ohm"))
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![
            port(Domain::Line, Impedance::Ohms(params.num("z_in_ohm"))),
            port(Domain::Speaker, ohms(params.num("z_out_ohm"))),
        ]
    }

    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let (p, r) = (params.num("power_w"), params.num("rated_load_ohm"));
        let inp = Level::sum(inputs);
        let g = db_to_gain(params.num("gain_db"));
        // Open-circuit sine rms at the onset of clipping; sag takes its share
        // when the output is that loud (rectified-sine average 2/π of peak).
        let sag = 1.0 - SAG_DEPTH * params.num("sag") * std::f64::consts::FRAC_2_PI;
        let clip = clip_volts(p, r) * sag * std::f64::consts::FRAC_1_SQRT_2;
        // The test sine through the amp's own curve (at its unsagged rail).
        let vc = clip_volts(p, r);
        let asked = inp.signal * g;
        let signal = if params.choice("model") == 1 {
            sine_rms_through(|x| tube(x, vc), asked)
        } else {
            sine_rms_through(|x| solid_state(x, vc), asked)
        };
        let out = Level {
            signal,
            noise: (inp.noise * g)
                .hypot(noise_volts(p, r, params.num("snr_db")) * ctx.noise_in_band(0.0)),
            clip,
        };
        let mut warnings = Vec::new();
        // The lowest impedance the load presents across the audio band.
        // (`output_loads` is indexed by port, so take the one load there is.)
        if let Some(load) = ctx.output_loads.iter().find(|l| **l != Impedance::None) {
            let min = (0..=300)
                .map(|i| load.magnitude(20.0 * 1000f64.powf(i as f64 / 300.0)))
                .fold(f64::INFINITY, f64::min);
            if min < MIN_LOAD_RATIO * r {
                warnings.push(Finding {
                    at: Subject::node("power_amp"),
                    message: format!(
                        "the load dips to {min:.1} Ω, below the {r:.0} Ω this amp is rated into: it draws more current than the amp is built for and clips (or overheats) early"
                    ),
                    fix: "use a load of at least the rated impedance, or set rated_load_ohm to an amp rated for it".into(),
                });
            }
        }
        if asked > clip {
            let asked_w = asked * asked / r;
            warnings.push(Finding {
                at: Subject::node("power_amp"),
                message: format!(
                    "the amp clips at the nominal level: it is asked for {asked:.1} V rms ({asked_w:.0} W into {r:.0} Ω) but gives {clip:.1} V ({p:.0} W)"
                ),
                fix: "lower gain_db or the level before it, or use a more powerful amp".into(),
            });
        }
        StageAnalysis {
            outputs: vec![out],
            warnings,
        }
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let sr = env.sample_rate;
        let (p, r) = (params.num("power_w"), params.num("rated_load_ohm"));
        Ok(Box::new(PowerAmpProc {
            model: params.choice("model"),
            gain: Smoother::new(db_to_gain(params.num("gain_db")), 5.0, sr),
            power: p,
            rated_load: r,
            snr_db: params.num("snr_db"),
            vc: Smoother::new(clip_volts(p, r), 5.0, sr),
            noise: Smoother::new(
                noise_volts(p, r, params.num("snr_db")) * white_total_factor(sr),
                5.0,
                sr,
            ),
            sag: Smoother::new(params.num("sag"), 5.0, sr),
            env: 0.0,
            attack: 1.0 - (-1.0 / (SAG_ATTACK_MS * 1e-3 * sr)).exp(),
            release: 1.0 - (-1.0 / (SAG_RELEASE_MS * 1e-3 * sr)).exp(),
            os: Oversampler4::new(),
            dc: Biquad::highpass(5.0, std::f64::consts::FRAC_1_SQRT_2, sr),
            rng: Rng::new(env.node_seed() ^ 0x7077_725f_616d_7021),
            noise_factor: white_total_factor(sr),
        }))
    }
}

struct PowerAmpProc {
    model: usize,
    gain: Smoother,
    power: f64,
    rated_load: f64,
    snr_db: f64,
    /// Nominal clip voltage, peak (before sag).
    vc: Smoother,
    /// Noise generator's total rms (band level × the bandwidth factor).
    noise: Smoother,
    sag: Smoother,
    /// Low-passed output current, as a fraction of the clip current.
    env: f64,
    attack: f64,
    release: f64,
    os: Oversampler4,
    /// Output transformer coupling of the tube model.
    dc: Biquad,
    rng: Rng,
    noise_factor: f64,
}

impl PowerAmpProc {
    fn retarget(&mut self) {
        self.vc.set(clip_volts(self.power, self.rated_load));
        self.noise
            .set(noise_volts(self.power, self.rated_load, self.snr_db) * self.noise_factor);
    }
}

impl Processor for PowerAmpProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let inp: &[f32] = inputs.first().copied().unwrap_or(&[]);
        let tube_model = self.model == 1;
        for (i, o) in out.iter_mut().enumerate() {
            let x = inp.get(i).copied().map_or(0.0, finite) * self.gain.next();
            let vc_nominal = self.vc.next();
            let sag = self.sag.next();
            let vc = vc_nominal * (1.0 - SAG_DEPTH * sag * self.env.min(1.0));
            let mut y = if tube_model {
                self.os.process(x, |v| tube(v, vc))
            } else {
                self.os.process(x, |v| solid_state(v, vc))
            };
            if tube_model {
                y = self.dc.tick(y);
            }
            if sag > 0.0 {
                let level = y.abs() / vc_nominal;
                let k = if level > self.env {
                    self.attack
                } else {
                    self.release
                };
                self.env += k * (level - self.env);
            }
            y += self.noise.next() * self.rng.gaussian();
            *o = y as f32;
        }
        if !self.env.is_finite() {
            self.env = 0.0;
        }
        self.dc.sanitize();
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            0 => self.model = value as usize,
            1 => self.gain.set(db_to_gain(value)),
            2 => {
                self.power = value.max(1e-3);
                self.retarget();
            }
            3 => {
                self.rated_load = value.max(0.1);
                self.retarget();
            }
            5 => {
                self.snr_db = value;
                self.retarget();
            }
            6 => self.sag.set(value.clamp(0.0, 1.0)),
            _ => {}
        }
    }

    fn latency(&self) -> usize {
        Oversampler4::LATENCY
    }
}
