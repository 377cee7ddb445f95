//! `output`: the converter to the audio device. Volts become full scale
//! (`full_scale_dbu`, EBU R68 +18 dBu by default), then a safety limiter and
//! a NaN guard make sure a mistake never reaches ears or speakers.

use crate::desc::*;
use ohmpatch_engine::analysis::{AnalysisContext, Level, StageAnalysis};
use ohmpatch_engine::dsp::dbu_to_v;
use ohmpatch_engine::{
    BuildEnv, Impedance, NodeKind, Params, PortElectrical, ProcessContext, Processor, Role,
};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::{Flag, Num};

// The params, in spec order.
pub const CHANNEL: ParamId<Num> = ParamId::new(0, "channel");
pub const FULL_SCALE_DBU: ParamId<Num> = ParamId::new(1, "full_scale_dbu");
pub const LIMITER: ParamId<Flag> = ParamId::new(2, "limiter");
pub const CEILING_DBFS: ParamId<Num> = ParamId::new(3, "ceiling_dbfs");
pub const Z_IN_OHM: ParamId<Num> = ParamId::new(4, "z_in_ohm");

pub struct Output {
    spec: KindSpec,
}

/// Volts at the peak of a sine whose rms is `full_scale_dbu`: the value that maps to 1.0.
pub fn full_scale_peak_v(full_scale_dbu: f64) -> f64 {
    dbu_to_v(full_scale_dbu) * std::f64::consts::SQRT_2
}

impl Output {
    pub fn new() -> Output {
        Output {
            spec: KindSpec {
                kind: "output".into(),
                help: "Sends its input to a device channel (and to `render`'s WAV): volts to full scale, with a safety limiter.".into(),
                ports: vec![input("in", Domain::Line, "Line-level volts to convert.")],
                params: vec![
                    integer(
                        CHANNEL,
                        1.0,
                        64.0,
                        1.0,
                        "Device channel, from 1 (render writes one channel per output node, in id order).",
                    ),
                    full_scale_dbu(FULL_SCALE_DBU, "The level of a sine that peaks at 0 dBFS (EBU R68: +18 dBu).").live(),
                    flag(
                        LIMITER,
                        true,
                        "Safety limiter: nothing above the ceiling reaches the device.",
                    ).live(),
                    number(
                        CEILING_DBFS,
                        -40.0,
                        0.0,
                        0.0,
                        "dBFS",
                        "The limiter's ceiling.",
                    ).live(),
                    log_number(
                        Z_IN_OHM,
                        1.0,
                        1e7,
                        100_000.0,
                        "Ω",
                        "Input impedance (a converter input barely loads the wire).",
                    ),
                ],
            },
        }
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

impl NodeKind for Output {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    fn device_channel(&self, params: &Params) -> Option<u32> {
        Some((params.num(CHANNEL).max(1.0) as u32) - 1)
    }

    fn analyze(&self, params: &Params, _ctx: &AnalysisContext, inputs: &[Level]) -> StageAnalysis {
        // The device output in full scale; it clips (or limits) at the ceiling.
        let scale = 1.0 / full_scale_peak_v(params.num(FULL_SCALE_DBU));
        let mut l = Level::sum(inputs).scaled(scale);
        l.clip = 10f64.powf(params.num(CEILING_DBFS) / 20.0) * std::f64::consts::FRAC_1_SQRT_2;
        StageAnalysis {
            outputs: vec![l],
            warnings: Vec::new(),
        }
    }
    fn role(&self) -> Role {
        Role::DeviceOut
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        vec![port(Domain::Line, Impedance::Ohms(params.num(Z_IN_OHM)))]
    }
    fn build(&self, params: &Params, env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(OutputProc {
            scale: (1.0 / full_scale_peak_v(params.num(FULL_SCALE_DBU))) as f32,
            limiter: Limiter::new(
                params.flag(LIMITER),
                params.num(CEILING_DBFS),
                env.sample_rate,
            ),
        }))
    }
}

/// A brick-wall peak limiter: instant attack (so nothing overshoots the
/// ceiling) and an exponential release. Transparent at or below the ceiling.
pub struct Limiter {
    pub enabled: bool,
    ceiling: f32,
    /// How far below unity the gain is (1 − gain). Kept as the state, not
    /// the gain: it decays geometrically to exactly zero, where `1 − (1 −
    /// gain)·r` in f32 stalls about 0.0006 dB short of unity.
    reduction: f32,
    release: f32,
}

impl Limiter {
    pub fn new(enabled: bool, ceiling_dbfs: f64, sample_rate: f64) -> Limiter {
        Limiter {
            enabled,
            ceiling: 10f64.powf(ceiling_dbfs / 20.0) as f32,
            reduction: 0.0,
            release: (-1.0 / (0.050 * sample_rate)).exp() as f32,
        }
    }

    pub fn set_ceiling_dbfs(&mut self, db: f64) {
        self.ceiling = 10f64.powf(db / 20.0) as f32;
    }

    /// Not pulling the level down: off, or fully released.
    pub fn at_rest(&self) -> bool {
        !self.enabled || self.reduction == 0.0
    }

    #[inline]
    pub fn tick(&mut self, x: f32) -> f32 {
        if !self.enabled {
            return x;
        }
        self.reduction *= self.release;
        // Below a millionth (−0.0000087 dB) it is released.
        if self.reduction < 1e-6 {
            self.reduction = 0.0;
        }
        let mut gain = 1.0 - self.reduction;
        let a = x.abs();
        if a * gain > self.ceiling {
            gain = self.ceiling / a;
            self.reduction = 1.0 - gain;
        }
        let y = x * gain;
        // Rounding must not let a sample past the ceiling.
        y.clamp(-self.ceiling, self.ceiling)
    }
}

struct OutputProc {
    /// 1 / full-scale volts, in f32: the product is within an ulp of the
    /// f64 one (−140 dB) and four of them fit a vector register.
    scale: f32,
    limiter: Limiter,
}

impl Processor for OutputProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(inp), Some(out)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let scale = self.scale;
        let convert = |x: f32| {
            let v = x * scale;
            if v.is_finite() { v } else { 0.0 }
        };
        if self.limiter.enabled {
            for (o, x) in out.iter_mut().zip(inp.iter()) {
                *o = self.limiter.tick(convert(*x));
            }
        } else {
            // No limiter: a loop with no state, which vectorises.
            for (o, x) in out.iter_mut().zip(inp.iter()) {
                *o = convert(*x);
            }
        }
    }

    fn set_param(&mut self, index: usize, value: f64) {
        match index {
            i if i == FULL_SCALE_DBU.index() => {
                self.scale = (1.0 / full_scale_peak_v(value)) as f32
            }
            i if i == LIMITER.index() => self.limiter.enabled = value != 0.0,
            i if i == CEILING_DBFS.index() => self.limiter.set_ceiling_dbfs(value),
            _ => {}
        }
    }

    fn may_be_quiet(&self) -> bool {
        true
    }

    /// Silence converts to silence; a limiter still releasing keeps
    /// running so its gain comes back as it would have.
    fn is_quiet(&self) -> bool {
        self.limiter.at_rest()
    }
}
