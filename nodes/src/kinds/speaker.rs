//! `speaker`: a loudspeaker driver from its Thiele–Small parameters. Its
//! input presents the driver's electrical impedance
//! Z(s) = Re + s·Le + [1/Res + s·Cmes + 1/(s·Lces)]⁻¹ (Small, JAES 1972) to
//! the amplifier, so the engine's loading gives the voltage actually across
//! the voice coil; the node turns that voltage into the pressure at 1 m.
//!
//! Acoustic response: for a voltage v across the terminals, the cone
//! velocity is u = i·Z_mot/Bl with i = v/Z, and the far-field pressure is
//! proportional to the cone acceleration s·u, so p ∝ s·Z_mot(s)/Z(s)·v: a
//! second-order high-pass at fs with Qts, rolling off above Re/(2π·Le) as the
//! voice-coil inductance chokes the current. Because the engine already
//! applied the amplifier's output impedance to v, a tube amp's bass bump and
//! the changed Qts follow from the physics without anything special here.
//! Presets add the cone's own behaviour: the guitar 12" has breakup peaks
//! around 2.3 and 3.8 kHz and falls steeply above ~5 kHz.
//!
//! Level: SPL at 1 m = sensitivity + 20·log10(V/2.83 V) at 1 kHz, i.e. the
//! sensitivity is rated per 2.83 V (1 W into 8 Ω nominal), and the response
//! is normalised to 0 dB at 1 kHz, so 2.83 V at 1 kHz gives the rated SPL.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::poly::{poly_add, poly_mul};
use ohmpatch_engine::dsp::{Biquad, Smoother, Sos, finite, spl_to_pa};
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor,
};
use ohmpatch_patch::{Domain, KindSpec};
use std::f64::consts::PI;

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Choice, Num};

// The params, in spec order.
pub const PRESET: ParamId<Choice> = ParamId::new(0, "preset");
pub const RE_OHM: ParamId<Num> = ParamId::new(1, "re_ohm");
pub const LE_MH: ParamId<Num> = ParamId::new(2, "le_mh");
pub const FS_HZ: ParamId<Num> = ParamId::new(3, "fs_hz");
pub const QES: ParamId<Num> = ParamId::new(4, "qes");
pub const QMS: ParamId<Num> = ParamId::new(5, "qms");
pub const SENSITIVITY_DB_SPL: ParamId<Num> = ParamId::new(6, "sensitivity_db_spl");

pub const PRESETS: &[&str] = &["resistor_8", "guitar_12in", "hifi_woofer"];

/// The voltage the sensitivity is rated at: 1 W into 8 Ω nominal.
pub const RATED_VOLTS: f64 = 2.828_427_124_746_190_3;

/// Thiele–Small values of a driver (`le_h` in henries).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Driver {
    /// Only a resistor: no motional impedance, flat response.
    pub resistor: bool,
    pub re_ohm: f64,
    pub le_h: f64,
    pub fs_hz: f64,
    pub qes: f64,
    pub qms: f64,
    pub sensitivity_db_spl: f64,
}

impl Driver {
    pub fn preset(index: usize) -> Driver {
        match index {
            // An 8 Ω resistor that somehow sings: a flat, resistive test load.
            0 => Driver {
                resistor: true,
                re_ohm: 8.0,
                le_h: 0.0,
                fs_hz: 0.0,
                qes: 0.0,
                qms: 0.0,
                sensitivity_db_spl: 90.0,
            },
            // A 12" guitar speaker of the Celestion kind (placeholder values:
            // research notes give Re ≈ 6.4 Ω, fs 75–100 Hz).
            1 => Driver {
                resistor: false,
                re_ohm: 6.4,
                le_h: 0.5e-3,
                fs_hz: 78.0,
                qes: 0.6,
                qms: 4.0,
                sensitivity_db_spl: 100.0,
            },
            // An 8" hi-fi woofer in a sealed enclosure's ballpark.
            _ => Driver {
                resistor: false,
                re_ohm: 5.8,
                le_h: 0.6e-3,
                fs_hz: 35.0,
                qes: 0.38,
                qms: 3.5,
                sensitivity_db_spl: 88.0,
            },
        }
    }

    /// The preset with any non-zero param in its place.
    pub fn from_params(params: &Params) -> Driver {
        let mut d = Driver::preset(params.choice(PRESET));
        let set = |v: f64, slot: &mut f64, scale: f64| {
            if v > 0.0 {
                *slot = v * scale;
            }
        };
        set(params.num(RE_OHM), &mut d.re_ohm, 1.0);
        set(
            params.num(SENSITIVITY_DB_SPL),
            &mut d.sensitivity_db_spl,
            1.0,
        );
        if !d.resistor {
            set(params.num(LE_MH), &mut d.le_h, 1e-3);
            set(params.num(FS_HZ), &mut d.fs_hz, 1.0);
            set(params.num(QES), &mut d.qes, 1.0);
            set(params.num(QMS), &mut d.qms, 1.0);
        }
        d
    }

    /// The electrical impedance the amplifier sees.
    pub fn impedance(&self) -> Impedance {
        if self.resistor {
            Impedance::Ohms(self.re_ohm)
        } else {
            Impedance::thiele_small(self.re_ohm, self.le_h, self.fs_hz, self.qes, self.qms)
        }
    }

    /// Voltage-to-pressure response s·Z_mot/Z as num/den in ascending
    /// powers of s (unscaled); `None` for the resistor.
    pub fn acoustic_rational(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        if self.resistor {
            return None;
        }
        let w = 2.0 * PI * self.fs_hz;
        let res = self.re_ohm * self.qms / self.qes;
        let cmes = self.qes / (w * self.re_ohm);
        let lces = self.re_ohm / (w * self.qes);
        let mech_num = [0.0, lces * res];
        let mech_den = [res, lces, lces * cmes * res];
        let z_num = poly_add(&poly_mul(&[self.re_ohm, self.le_h], &mech_den), &mech_num);
        Some((vec![0.0, 0.0, lces * res], z_num))
    }
}

/// The cone's breakup and roll-off beyond the T/S model, per preset.
fn cone(index: usize, sr: f64) -> ([Biquad; 4], usize) {
    let mut eq = [Biquad::IDENTITY; 4];
    let n = match index {
        1 => {
            eq[0] = Biquad::peaking(2300.0, 1.2, 5.0, sr);
            eq[1] = Biquad::peaking(3800.0, 2.0, 7.0, sr);
            eq[2] = Biquad::lowpass(5200.0, 0.8, sr);
            eq[3] = Biquad::lowpass(5800.0, 1.4, sr);
            4
        }
        2 => {
            eq[0] = Biquad::lowpass(4000.0, 0.7, sr);
            1
        }
        _ => 0,
    };
    (eq, n)
}

pub struct Speaker {
    spec: KindSpec,
}

impl Speaker {
    pub fn new() -> Speaker {
        Speaker {
            spec: KindSpec {
                kind: "speaker".into(),
                help: "Loudspeaker driver from Thiele–Small parameters: presents Z(f) to the amplifier, outputs the pressure at 1 m. Numeric params left at 0 take the preset's value.".into(),
                ports: vec![
                    input(
                        "in",
                        Domain::Speaker,
                        "Voltage across the voice coil (the engine applies the amp's output impedance against Z(f)).",
                    ),
                    output("out", Domain::Acoustic, "Pressure at 1 m on axis, Pa."),
                ],
                params: vec![
                    choice(
                        PRESET,
                        PRESETS,
                        "guitar_12in",
                        "resistor_8 (an 8 Ω resistor, flat response, 90 dB), guitar_12in (Re 6.4 Ω, Le 0.5 mH, fs 78 Hz, Qes 0.6, Qms 4, 100 dB, breakup peaks, roll-off above 5 kHz) or hifi_woofer (Re 5.8 Ω, Le 0.6 mH, fs 35 Hz, Qes 0.38, Qms 3.5, 88 dB).",
                    ),
                    number(
                        RE_OHM,
                        0.0,
                        64.0,
                        0.0,
                        "Ω",
                        "Voice-coil DC resistance; 0 = the preset's.",
                    ),
                    number(
                        LE_MH,
                        0.0,
                        20.0,
                        0.0,
                        "mH",
                        "Voice-coil inductance; 0 = the preset's (resistor_8 ignores it).",
                    ),
                    number(
                        FS_HZ,
                        0.0,
                        500.0,
                        0.0,
                        "Hz",
                        "Free-air resonance; 0 = the preset's (resistor_8 ignores it).",
                    ),
                    number(
                        QES,
                        0.0,
                        5.0,
                        0.0,
                        "",
                        "Electrical Q at fs; 0 = the preset's (resistor_8 ignores it).",
                    ),
                    number(
                        QMS,
                        0.0,
                        30.0,
                        0.0,
                        "",
                        "Mechanical Q at fs; 0 = the preset's (resistor_8 ignores it).",
                    ),
                    number(
                        SENSITIVITY_DB_SPL,
                        0.0,
                        130.0,
                        0.0,
                        "dB SPL",
                        "SPL at 1 m for 2.83 V (1 W into 8 Ω nominal) at 1 kHz; 0 = the preset's.",
                    ).live(),
                ],
            },
        }
    }
}

impl Default for Speaker {
    fn default() -> Self {
        Speaker::new()
    }
}

impl NodeKind for Speaker {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![
            port(Domain::Speaker, Driver::from_params(params).impedance()),
            port(Domain::Acoustic, Impedance::None),
        ]
    }

    fn analyze(&self, params: &Params, ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        let g = match Response::design(params, ctx.sample_rate) {
            Ok(r) => {
                r.magnitude(ctx.freq, ctx.sample_rate) * pa_per_volt(r.driver.sensitivity_db_spl)
            }
            Err(_) => 0.0,
        };
        StageAnalysis {
            outputs: vec![Level::sum(inputs).scaled(g)],
            warnings: Vec::new(),
        }
    }

    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        let r = Response::design(params, env.sample_rate)?;
        Ok(Box::new(SpeakerProc {
            pa_per_volt: Smoother::new(
                pa_per_volt(r.driver.sensitivity_db_spl),
                10.0,
                env.sample_rate,
            ),
            preset_sensitivity: Driver::preset(params.choice(PRESET)).sensitivity_db_spl,
            ts: r.ts,
            eq: r.eq,
            eq_len: r.eq_len,
        }))
    }
}

/// The driver's voltage-to-pressure response as digital filters,
/// normalised to 0 dB at 1 kHz.
struct Response {
    driver: Driver,
    ts: Option<Sos>,
    eq: [Biquad; 4],
    eq_len: usize,
}

impl Response {
    fn design(params: &Params, sr: f64) -> Result<Response, String> {
        let preset = params.choice(PRESET);
        let driver = Driver::from_params(params);
        let ts = match driver.acoustic_rational() {
            Some((num, den)) => Some(
                Sos::design(&num, &den, sr).ok_or("the driver's response cannot be designed")?,
            ),
            None => None,
        };
        let (eq, eq_len) = cone(preset, sr);
        let mut r = Response {
            driver,
            ts,
            eq,
            eq_len,
        };
        let g = r.magnitude(1000.0, sr);
        if !(g.is_finite() && g > 0.0) {
            return Err("the driver's parameters give no output at 1 kHz".into());
        }
        match r.ts.as_mut() {
            Some(f) => f.scale(1.0 / g),
            None if r.eq_len > 0 => r.eq[0].b.iter_mut().for_each(|c| *c /= g),
            None => {}
        }
        Ok(r)
    }

    fn magnitude(&self, f: f64, sr: f64) -> f64 {
        self.ts.as_ref().map_or(1.0, |t| t.magnitude(f, sr))
            * self.eq[..self.eq_len]
                .iter()
                .map(|b| b.magnitude(f, sr))
                .product::<f64>()
    }
}

/// Pressure at 1 m per volt at 1 kHz for a sensitivity per 2.83 V.
fn pa_per_volt(sensitivity_db_spl: f64) -> f64 {
    spl_to_pa(sensitivity_db_spl) / RATED_VOLTS
}

struct SpeakerProc {
    ts: Option<Sos>,
    eq: [Biquad; 4],
    eq_len: usize,
    pa_per_volt: Smoother,
    preset_sensitivity: f64,
}

impl Processor for SpeakerProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(out) = outputs.first_mut() else {
            return;
        };
        let inp: &[f32] = inputs.first().copied().unwrap_or(&[]);
        for (i, o) in out.iter_mut().enumerate() {
            let mut y = inp.get(i).copied().map_or(0.0, finite);
            if let Some(f) = self.ts.as_mut() {
                y = f.tick(y);
            }
            for b in self.eq[..self.eq_len].iter_mut() {
                y = b.tick(y);
            }
            *o = (y * self.pa_per_volt.next()) as f32;
        }
        if let Some(f) = self.ts.as_mut() {
            f.sanitize();
        }
        for b in self.eq[..self.eq_len].iter_mut() {
            b.sanitize();
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        if index == SENSITIVITY_DB_SPL.index() {
            let s = if value > 0.0 {
                value
            } else {
                self.preset_sensitivity
            };
            self.pa_per_volt.set(pa_per_volt(s));
        }
    }
}
