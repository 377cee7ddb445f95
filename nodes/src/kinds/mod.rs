//! One module per node kind.

use ohmpatch_engine::Registry;

pub mod audio_in;
pub mod cab_ir;
pub mod delay;
pub mod file_in;
pub mod gain;
pub mod mic;
pub mod mixer;
pub mod noise;
pub mod output;
pub mod power_amp;
pub mod preamp;
pub mod probes;
pub mod recorder;
pub mod speaker;
pub mod split;
pub mod tone;

pub fn register_all(r: &mut Registry) {
    r.register(Box::new(tone::Tone::new()));
    r.register(Box::new(gain::Gain::new()));
    r.register(Box::new(mixer::Mixer::new()));
    r.register(Box::new(split::Split::new()));
    r.register(Box::new(delay::Delay::new()));
    r.register(Box::new(output::Output::new()));
    r.register(Box::new(audio_in::AudioIn::new()));
    r.register(Box::new(file_in::FileIn::new()));
    r.register(Box::new(recorder::Recorder::new()));
    r.register(Box::new(mic::Mic::new()));
    r.register(Box::new(speaker::Speaker::new()));
    r.register(Box::new(power_amp::PowerAmp::new()));
    r.register(Box::new(noise::Noise::new()));
    r.register(Box::new(preamp::Preamp::new()));
    r.register(Box::new(cab_ir::CabIr::new()));
    r.register(Box::new(probes::Meter::new()));
    r.register(Box::new(probes::Scope::new()));
    r.register(Box::new(probes::Spectrum::new()));
    r.register(Box::new(crate::lv2::Missing::new()));
}
