//! One module per node kind.

use ohmpatch_engine::Registry;

pub mod audio_in;
pub mod delay;
pub mod file_in;
pub mod gain;
pub mod mixer;
pub mod output;
pub mod recorder;
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
}
