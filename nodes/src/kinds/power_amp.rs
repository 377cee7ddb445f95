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
//!   (no DC, a 5 Hz high-pass). The nonlinearity runs 4× oversampled by
//!   the shared [`Oversampler`] (linear phase, flat to 20 kHz, everything
//!   above the base Nyquist ≥ 100 dB down so nothing folds back into the
//!   band), which costs its [`Oversampler::latency`], 85 samples.
//! - Current limit: the amp delivers at most its rated current, Vc/R peak.
//!   Into a load whose |Z_out + Z_L(f)| dips below the rated load somewhere
//!   in the band, it clips at that current: Vc' = Vc·min|Z_out + Z_L|/R.
//!   The processor is told its load when it is built (`load_dependent`: a
//!   new load rebuilds it), and `check` uses the same figure.
//! - Noise: residual output noise V_rated/10^(SNR/20) over 20 Hz–20 kHz,
//!   unweighted (100 W/8 Ω at 100 dB: 283 µV), with V_rated = sqrt(P·R) rms.
//! - Sag: the supply droops with the low-passed output current (taken into
//!   the rated load, since the processor cannot see the actual one; attack
//!   15 ms, release 150 ms), lowering the clip voltage by up to 35 % × `sag`.

use crate::desc::*;
use crate::measure::sine_rms_through;
use ohmpatch_engine::analysis::{AnalysisContext, Finding, Level, StageAnalysis, Subject};
use ohmpatch_engine::dsp::{
    Biquad, Oversampler, Rng, Smoother, db_to_gain, finite, white_total_factor,
};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const MODEL: ParamId<Choice> = ParamId::new(0, "model");
pub const GAIN_DB: ParamId<Num> = ParamId::new(1, "gain_db");
pub const POWER_W: ParamId<Num> = ParamId::new(2, "power_w");
pub const RATED_LOAD_OHM: ParamId<Num> = ParamId::new(3, "rated_load_ohm");
pub const Z_OUT_OHM: ParamId<Num> = ParamId::new(4, "z_out_ohm");
pub const SNR_DB: ParamId<Num> = ParamId::new(5, "snr_db");
pub const SAG: ParamId<Num> = ParamId::new(6, "sag");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(7, "z_in_ohm");

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

/// The lowest |Z_out + Z_L(f)| across the band: where the load draws the
/// most current. `None` for an open output.
pub fn least_impedance(z_out: f64, load: &Impedance) -> Option<f64> {
    if *load == Impedance::None {
        return None;
    }
    (0..=300)
        .filter_map(|i| {
            let f = 20.0 * 1000f64.powf(f64::from(i) / 300.0);
            load.at(f)
                .map(|z| ohmpatch_engine::impedance::C64::new(z.re + z_out, z.im).abs())
        })
        .reduce(f64::min)
}

/// The clip voltage, peak, with the current limit: the rated clip voltage,
/// or the rated current (Vc/R) into the least impedance the amp sees.
pub fn limited_clip(power_w: f64, rated_load_ohm: f64, least: Option<f64>) -> f64 {
    let vc = clip_volts(power_w, rated_load_ohm);
    match least {
        Some(z) if z < rated_load_ohm => vc * z / rated_load_ohm,
        _ => vc,
    }
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
                kind: "power_amp".into(),
                help: "Power amplifier: gain, clipping at its rated power, residual noise, output impedance (damping factor) against the speaker's Z(f), supply sag. 4× oversampled (85 samples of latency).".into(),
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
                        MODEL,
                        MODELS,
                        "solid_state",
                        "solid_state (linear to 95 % of clip, then a hard-ish knee) or tube_push_pull (gradual, slightly asymmetric saturation; transformer coupled).",
                    ).live(),
                    number(
                        GAIN_DB,
                        0.0,
                        60.0,
                        32.0,
                        "dB",
                        "Voltage gain (32 dB: +8 dBu in → 77.5 V out).",
                    ).live(),
                    log_number(
                        POWER_W,
                        0.1,
                        5000.0,
                        100.0,
                        "W",
                        "Rated power into the rated load; sets the clip voltage sqrt(2·P·R) peak.",
                    ).live(),
                    number(
                        RATED_LOAD_OHM,
                        1.0,
                        32.0,
                        8.0,
                        "Ω",
                        "The load the power is rated into.",
                    ).live(),
                    number(
                        Z_OUT_OHM,
                        0.0,
                        100.0,
                        0.05,
                        "Ω",
                        "Output impedance. Default 0.05 Ω, a solid-state amp (damping factor 160 into 8 Ω); tube amps are 1–30 Ω: set it. 0 is ideal.",
                    ),
                    number(
                        SNR_DB,
                        40.0,
                        140.0,
                        100.0,
                        "dB",
                        "Rated output over residual noise, 20 Hz–20 kHz unweighted.",
                    ).live(),
                    number(
                        SAG,
                        0.0,
                        1.0,
                        0.0,
                        "",
                        "Power-supply sag: 0 stiff, 1 a tube rectifier's droop (up to 35 % less headroom while loud).",
                    ).live(),
                    log_number(Z_IN_OHM, 1000.0, 1e6, 20_000.0, "Ω", "Input impedance."),
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

    /// Its filters delay the signal: the built processor says by how much.
    fn latency(&self, params: &Params, env: &mut BuildEnv) -> usize {
        ohmpatch_engine::latency_of_built(self, params, env)
    }

    fn load_dependent(&self) -> bool {
        true
    }

    fn rated_load_ohm(&self, params: &Params) -> Option<f64> {
        Some(params.num(RATED_LOAD_OHM))
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![
            port(Domain::Line, Impedance::Ohms(params.num(Z_IN_OHM))),
            port(Domain::Speaker, ohms(params.num(Z_OUT_OHM))),
        ]
    }

    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let (p, r) = (params.num(POWER_W), params.num(RATED_LOAD_OHM));
        let inp = Level::sum(inputs);
        let g = db_to_gain(params.num(GAIN_DB));
        // Open-circuit sine rms at the onset of clipping; sag takes its share
        // when the output is that loud (rectified-sine average 2/π of peak).
        let sag = 1.0 - SAG_DEPTH * params.num(SAG) * std::f64::consts::FRAC_2_PI;
        let load = ctx.output_loads.get(1).unwrap_or(&Impedance::None);
        let vc = limited_clip(p, r, least_impedance(params.num(Z_OUT_OHM), load));
        let clip = vc * sag * std::f64::consts::FRAC_1_SQRT_2;
        // The test sine through the amp's own curve (at its unsagged rail).
        let asked = inp.signal * g;
        let signal = if params.choice(MODEL) == 1 {
            sine_rms_through(|x| tube(x, vc), asked)
        } else {
            sine_rms_through(|x| solid_state(x, vc), asked)
        };
        let out = Level {
            signal,
            noise: (inp.noise * g)
                .hypot(noise_volts(p, r, params.num(SNR_DB)) * ctx.noise_in_band(0.0)),
            clip,
        };
        let mut warnings = Vec::new();
        // The lowest impedance the load itself presents across the band.
        if let Some(min) = least_impedance(0.0, load)
            && min < MIN_LOAD_RATIO * r
        {
            warnings.push(Finding {
                at: Subject::node("power_amp"),
                message: format!(
                    "the load dips to {min:.1} Ω, below the {r:.0} Ω this amp is rated into: it draws more current than the amp is built for and clips (or overheats) early"
                ),
                fix: "use a load of at least the rated impedance, or set rated_load_ohm to an amp rated for it".into(),
            });
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
        let (p, r) = (params.num(POWER_W), params.num(RATED_LOAD_OHM));
        let least = env
            .output_loads
            .get(1)
            .and_then(|load| least_impedance(params.num(Z_OUT_OHM), load));
        Ok(Box::new(PowerAmpProc {
            model: params.choice(MODEL),
            gain: Smoother::new(db_to_gain(params.num(GAIN_DB)), 5.0, sr),
            power: p,
            rated_load: r,
            snr_db: params.num(SNR_DB),
            vc: Smoother::new(limited_clip(p, r, least), 5.0, sr),
            least,
            noise: Smoother::new(
                noise_volts(p, r, params.num(SNR_DB)) * white_total_factor(sr),
                5.0,
                sr,
            ),
            sag: Smoother::new(params.num(SAG), 5.0, sr),
            env: 0.0,
            attack: 1.0 - (-1.0 / (SAG_ATTACK_MS * 1e-3 * sr)).exp(),
            release: 1.0 - (-1.0 / (SAG_RELEASE_MS * 1e-3 * sr)).exp(),
            os: Oversampler::new(4),
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
    /// Nominal clip voltage, peak (before sag), current limit included.
    vc: Smoother,
    /// The least |Z_out + Z_L| of the load it was built for.
    least: Option<f64>,
    /// Noise generator's total rms (band level × the bandwidth factor).
    noise: Smoother,
    sag: Smoother,
    /// Low-passed output current, as a fraction of the clip current.
    env: f64,
    attack: f64,
    release: f64,
    os: Oversampler,
    /// Output transformer coupling of the tube model.
    dc: Biquad,
    rng: Rng,
    noise_factor: f64,
}

impl PowerAmpProc {
    fn retarget(&mut self) {
        self.vc
            .set(limited_clip(self.power, self.rated_load, self.least));
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
            i if i == MODEL.index() => self.model = value as usize,
            i if i == GAIN_DB.index() => self.gain.set(db_to_gain(value)),
            i if i == POWER_W.index() => {
                self.power = value.max(1e-3);
                self.retarget();
            }
            i if i == RATED_LOAD_OHM.index() => {
                self.rated_load = value.max(0.1);
                self.retarget();
            }
            i if i == SNR_DB.index() => {
                self.snr_db = value;
                self.retarget();
            }
            i if i == SAG.index() => self.sag.set(value.clamp(0.0, 1.0)),
            _ => {}
        }
    }

    fn latency(&self) -> usize {
        self.os.latency()
    }
}
