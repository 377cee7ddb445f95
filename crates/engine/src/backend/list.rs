//! What `ohmpatch devices` lists: each host's devices with what they can
//! play and capture.

use super::jack::server_facts;
use super::{device_name, host_for};
use cpal::traits::{DeviceTrait, HostTrait};

/// One device of one host.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DeviceInfo {
    pub host: String,
    pub name: String,
    pub id: String,
    /// The host's default output device.
    pub default: bool,
    /// The host's default input device.
    pub default_input: bool,
    /// Most playback channels (absent: the device cannot play).
    pub channels: Option<u16>,
    /// Most capture channels (absent: the device cannot capture).
    pub input_channels: Option<u16>,
    pub sample_rates: Vec<(u32, u32)>,
    pub buffer_sizes: Option<(u32, u32)>,
    pub error: Option<String>,
}

pub fn list_devices() -> Vec<DeviceInfo> {
    let mut out = vec![jack_entry()];
    out.extend(alsa_entries());
    out.push(DeviceInfo {
        host: "null".into(),
        name: "null".into(),
        id: "null".into(),
        channels: Some(64),
        sample_rates: vec![(8_000, 384_000)],
        buffer_sizes: Some((16, 8192)),
        ..DeviceInfo::default()
    });
    out
}

/// JACK is one device: the server, with its physical ports.
fn jack_entry() -> DeviceInfo {
    match server_facts() {
        Some(f) => DeviceInfo {
            host: "jack".into(),
            name: "JACK server".into(),
            id: "jack".into(),
            default: true,
            default_input: true,
            channels: Some(f.playback as u16),
            input_channels: Some(f.capture as u16),
            sample_rates: vec![(f.sample_rate, f.sample_rate)],
            buffer_sizes: Some((f.buffer, f.buffer)),
            ..DeviceInfo::default()
        },
        None => DeviceInfo {
            host: "jack".into(),
            name: "(no JACK server running)".into(),
            error: Some("start jackd to use JACK".into()),
            ..DeviceInfo::default()
        },
    }
}

fn alsa_entries() -> Vec<DeviceInfo> {
    let host = match host_for() {
        Ok(h) => h,
        Err(e) => {
            return vec![DeviceInfo {
                host: "alsa".into(),
                name: "(unavailable)".into(),
                error: Some(e),
                ..DeviceInfo::default()
            }];
        }
    };
    let id_of = |d: Option<cpal::Device>| d.and_then(|d| d.id().ok()).map(|i| i.to_string());
    let default_out = id_of(host.default_output_device());
    let default_in = id_of(host.default_input_device());
    let mut out = Vec::new();
    let Ok(devs) = host.devices() else {
        return out;
    };
    for d in devs {
        let id = d.id().map(|i| i.to_string()).unwrap_or_default();
        let mut info = DeviceInfo {
            host: "alsa".into(),
            name: device_name(&d),
            default: default_out.as_deref() == Some(id.as_str()),
            default_input: default_in.as_deref() == Some(id.as_str()),
            id,
            ..DeviceInfo::default()
        };
        let mut seen = |c: &cpal::SupportedStreamConfigRange| {
            let r = (c.min_sample_rate(), c.max_sample_rate());
            if !info.sample_rates.contains(&r) {
                info.sample_rates.push(r);
            }
            if let cpal::SupportedBufferSize::Range { min, max } = c.buffer_size() {
                info.buffer_sizes = Some((*min, *max));
            }
            c.channels()
        };
        let mut errors = Vec::new();
        let mut outs = None;
        match d.supported_output_configs() {
            Ok(cfgs) => {
                for c in cfgs {
                    outs = Some(outs.unwrap_or(0).max(seen(&c)));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        let mut ins = None;
        if let Ok(cfgs) = d.supported_input_configs() {
            for c in cfgs {
                ins = Some(ins.unwrap_or(0).max(seen(&c)));
            }
        }
        info.channels = outs;
        info.input_channels = ins;
        if outs.is_none() && ins.is_none() && !errors.is_empty() {
            info.error = Some(errors.join("; "));
        }
        out.push(info);
    }
    out
}
