//! Colours: one per port domain, used for pins, wires and the legend.

use bevy_egui::egui::Color32;
use ohmpatch_patch::Domain;

pub fn domain_color(d: Domain) -> Color32 {
    match d {
        Domain::Acoustic => Color32::from_rgb(0x3c, 0xb4, 0x4b), // green
        Domain::Mic => Color32::from_rgb(0x42, 0xa5, 0xf5),      // blue
        Domain::Instrument => Color32::from_rgb(0xab, 0x47, 0xbc), // purple
        Domain::Line => Color32::from_rgb(0xff, 0xc1, 0x07),     // amber
        Domain::Speaker => Color32::from_rgb(0xef, 0x53, 0x50),  // red
        Domain::Digital => Color32::from_rgb(0xb0, 0xbe, 0xc5),  // grey
    }
}

/// Node body, node title bar, canvas background.
pub const NODE_FILL: Color32 = Color32::from_rgb(0x24, 0x26, 0x30);
pub const NODE_HEADER: Color32 = Color32::from_rgb(0x34, 0x3a, 0x55);
/// The node shown in the inspector.
pub const FOCUS: Color32 = Color32::from_rgb(0x90, 0xca, 0xf9);
pub const CANVAS: Color32 = Color32::from_rgb(0x16, 0x17, 0x1c);

/// Wires whose ends do not suit each other.
pub const WARN: Color32 = Color32::from_rgb(0xff, 0x40, 0x81);
pub const ERROR: Color32 = Color32::from_rgb(0xff, 0x52, 0x52);
pub const OK: Color32 = Color32::from_rgb(0x66, 0xbb, 0x6a);

/// The level unit of a domain.
pub fn unit_of(d: Domain) -> &'static str {
    match d {
        Domain::Acoustic => "dB SPL",
        Domain::Digital => "dBFS",
        _ => "dBu",
    }
}

/// Level in dB of an rms value in the domain's unit (dBu re 0.7746 V, dB SPL
/// re 20 µPa, dBFS with a full-scale sine at 0 dBFS).
pub fn level_db(rms: f64, d: Domain) -> f64 {
    let r = match d {
        Domain::Acoustic => 20e-6,
        Domain::Digital => std::f64::consts::FRAC_1_SQRT_2,
        _ => 0.774_596_7,
    };
    if rms > 0.0 {
        20.0 * (rms / r).log10()
    } else {
        f64::NEG_INFINITY
    }
}

pub fn fmt_db(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.1}")
    } else if x > 0.0 {
        "∞".into()
    } else {
        "-inf".into()
    }
}
