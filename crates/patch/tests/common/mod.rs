//! Helpers shared by the integration tests: a small node catalogue and a
//! temporary folder that cleans up after itself.
#![allow(dead_code)]

use ohmpatch_patch::{Direction, Domain, KindSpec, ParamKind, ParamSpec, PortSpec, Taper};
use std::path::{Path, PathBuf};

fn port(name: &'static str, direction: Direction, domain: Domain) -> PortSpec {
    PortSpec {
        name: name.into(),
        direction,
        domain,
        help: "".into(),
    }
}

fn number(name: &'static str, min: f64, max: f64, default: f64, unit: &'static str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind: ParamKind::Number {
            min,
            max,
            default,
            unit: unit.into(),
            taper: Taper::Linear,
            integer: false,
        },
        help: "".into(),
        live: false,
        declared_index: None,
    }
}

/// tone (out), gain (in, out; gain_db), preamp (in, out; model, gain_db),
/// output (in; channel, limiter), file_in (out; path).
pub fn catalogue() -> Vec<KindSpec> {
    vec![
        KindSpec {
            kind: "tone".into(),
            help: "".into(),
            ports: vec![port("out", Direction::Out, Domain::Line)],
            params: vec![number("freq_hz", 1.0, 24000.0, 1000.0, "Hz")],
        },
        KindSpec {
            kind: "gain".into(),
            help: "".into(),
            ports: vec![
                port("in", Direction::In, Domain::Line),
                port("out", Direction::Out, Domain::Line),
            ],
            params: vec![number("gain_db", -60.0, 40.0, 0.0, "dB")],
        },
        KindSpec {
            kind: "preamp".into(),
            help: "".into(),
            ports: vec![
                port("in", Direction::In, Domain::Mic),
                port("out", Direction::Out, Domain::Line),
            ],
            params: vec![
                ParamSpec {
                    name: "model".into(),
                    kind: ParamKind::Choice {
                        choices: vec!["clean".into(), "tube_12ax7".into()],
                        default: "clean".into(),
                    },
                    help: "".into(),
                    live: false,
                    declared_index: None,
                },
                number("gain_db", 0.0, 70.0, 30.0, "dB"),
            ],
        },
        KindSpec {
            kind: "output".into(),
            help: "".into(),
            ports: vec![port("in", Direction::In, Domain::Line)],
            params: vec![
                ParamSpec {
                    name: "channel".into(),
                    kind: ParamKind::Number {
                        min: 0.0,
                        max: 63.0,
                        default: 0.0,
                        unit: "".into(),
                        taper: Taper::Linear,
                        integer: true,
                    },
                    help: "".into(),
                    live: false,
                    declared_index: None,
                },
                ParamSpec {
                    name: "limiter".into(),
                    kind: ParamKind::Bool { default: true },
                    help: "".into(),
                    live: false,
                    declared_index: None,
                },
            ],
        },
        KindSpec {
            kind: "file_in".into(),
            help: "".into(),
            ports: vec![port("out", Direction::Out, Domain::Line)],
            params: vec![ParamSpec {
                name: "path".into(),
                kind: ParamKind::Path { default: "".into() },
                help: "".into(),
                live: false,
                declared_index: None,
            }],
        },
    ]
}

/// A fresh folder under the system temp folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ohmpatch-patch-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// File names in the folder, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
