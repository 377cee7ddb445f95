//! The bundled sounds in `assets/`: each file's peak and rms are what
//! `assets/README.md` says, its `file_in` setting plays it at the level the
//! README promises, the impulse responses pass 1 kHz at 0 dB, and the folder
//! stays small. Also the offline render that `assets/make/cab_ir.py` falls
//! back on where the app is not built.

use ohmpatch_nodes::wav::read_wav;
use ohmpatch_tests::*;
use std::path::Path;

/// One row of the README's table of files.
struct Row {
    file: String,
    peak_dbfs: f64,
    rms_dbfs: f64,
    /// The `file_in` param and value, e.g. ("level_dbu", 3.0); none for IRs.
    setting: Option<(String, f64)>,
    /// The level it plays at, in the setting's unit.
    plays_at: Option<f64>,
}

/// A number as the README writes it: `−` (U+2212) or `-`, optional `+`.
fn number(s: &str) -> f64 {
    let t = s.trim().replace('\u{2212}', "-").replace('+', "");
    let t = t.split_whitespace().next().unwrap_or("");
    t.parse()
        .unwrap_or_else(|_| panic!("README: {s:?} is not a number"))
}

/// The rows of the table whose first cell is a file name in backquotes.
fn readme_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("assets/README.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert!(cells.len() >= 6, "README row {l:?} has too few cells");
            let setting = cells[4].trim_matches('`');
            let setting = (setting != "—").then(|| {
                let (name, value) = setting.split_once(' ').expect("`param value`");
                (name.to_string(), number(value))
            });
            Row {
                file: cells[0].trim_matches('`').to_string(),
                peak_dbfs: number(cells[2]),
                rms_dbfs: number(cells[3]),
                plays_at: (cells[5] != "—").then(|| number(cells[5])),
                setting,
            }
        })
        .collect()
}

fn mono_48k(file: &str) -> Vec<f32> {
    let audio = read_wav(&root().join("assets").join(file)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audio.sample_rate, 48_000, "{file}: rate");
    assert_eq!(audio.channels.len(), 1, "{file}: not mono");
    audio.channels.into_iter().next().unwrap()
}

#[test]
fn every_asset_has_the_level_the_readme_gives() {
    let rows = readme_rows();
    assert!(rows.len() >= 6, "only {} files in the README", rows.len());
    for r in &rows {
        let x = mono_48k(&r.file);
        let seconds = x.len() as f64 / 48_000.0;
        assert!((0.05..=10.0).contains(&seconds), "{}: {seconds} s", r.file);
        let peak = 20.0 * f64::from(x.iter().fold(0.0f32, |m, s| m.max(s.abs()))).log10();
        let rms = dbfs_rms(&x);
        assert!(
            (peak - r.peak_dbfs).abs() < 0.06,
            "{}: peak {peak:.2} dBFS, README {}",
            r.file,
            r.peak_dbfs
        );
        assert!(
            (rms - r.rms_dbfs).abs() < 0.06,
            "{}: rms {rms:.2} dBFS, README {}",
            r.file,
            r.rms_dbfs
        );
        // CONTRACT: a 0 dBFS sine plays at the setting, so the file plays
        // at the setting plus its rms in dBFS (AES17).
        if let (Some((param, value)), Some(at)) = (&r.setting, r.plays_at) {
            assert!(
                param == "level_dbu" || param == "level_db_spl",
                "{}: {param}",
                r.file
            );
            assert!(
                (value + rms - at).abs() < 0.1,
                "{}: {param} {value} plays it at {:.2}, README says {at}",
                r.file,
                value + rms
            );
        }
    }
}

/// The DFT of each impulse response at 1 kHz: 0 dB, as the README says and
/// as `check` assumes for a cab_ir at its `gain_db`.
#[test]
fn impulse_responses_pass_1_khz_at_0_db() {
    let mut seen = 0;
    for r in readme_rows().iter().filter(|r| r.file.starts_with("ir/")) {
        let h = mono_48k(&r.file);
        let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
        let (re, im) = h.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, s)| {
            let p = w * n as f64;
            (re + f64::from(*s) * p.cos(), im - f64::from(*s) * p.sin())
        });
        let db = 20.0 * re.hypot(im).log10();
        assert!(db.abs() < 0.05, "{}: {db:.3} dB at 1 kHz", r.file);
        seen += 1;
    }
    assert!(seen >= 2, "only {seen} impulse responses");
}

/// Played by a `file_in` at the README's setting into an output, each
/// electrical source comes out at the README's level (the output's 0 dBFS
/// sine is +18 dBu), measured over whole loops (1.5 s: six notes, one bar).
#[test]
fn the_sources_play_at_the_readmes_level() {
    let mut seen = 0;
    for r in readme_rows() {
        let (Some((param, value)), Some(at)) = (&r.setting, r.plays_at) else {
            continue;
        };
        if param != "level_dbu" {
            continue;
        }
        let text = format!(
            "(version: 1, nodes: {{\"src\": (kind: \"file_in\", pos: (0.0, 0.0), params: {{\"level_dbu\": {value:?}, \"loop\": true, \"path\": \"assets/{}\"}}), \"out\": (kind: \"output\", pos: (200.0, 0.0), params: {{\"limiter\": false}})}}, wires: [(\"src.out\", \"out.in\")])",
            r.file
        );
        let patch = ohmpatch_patch::load_str(&text, "asset").unwrap_or_else(|e| panic!("{e}"));
        // Anywhere: the name resolves into the bundled folder.
        let dir = std::env::temp_dir();
        let out = render(&patch, &dir, 3.0, 0);
        let got = dbfs_rms(&out[0][24_000..96_000]) + 18.0;
        assert!(
            (got - at).abs() < 0.1,
            "{}: {got:.2} dBu over 0.5-2.0 s, README {at}",
            r.file
        );
        seen += 1;
    }
    assert!(seen >= 2, "only {seen} sources played");
}

/// Every example that plays a bundled source does so at the README's setting.
#[test]
fn the_examples_use_the_readmes_settings() {
    let rows = readme_rows();
    let mut seen = 0;
    for path in examples() {
        for n in load(&path).nodes.values().filter(|n| n.kind == "file_in") {
            let Some(file) = n
                .params
                .get("path")
                .and_then(|v| v.as_str())
                .and_then(|p| p.strip_prefix("assets/"))
            else {
                continue;
            };
            let row = rows.iter().find(|r| r.file == file).unwrap();
            let (param, value) = row.setting.as_ref().unwrap();
            let got = n.params.get(param.as_str()).and_then(|v| v.as_f64());
            assert_eq!(got, Some(*value), "{}: {file} {param}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} bundled sources in the examples");
}

#[test]
fn the_assets_folder_stays_small() {
    fn size(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| size(&e.unwrap().path()))
                .sum()
        } else {
            p.metadata().unwrap().len()
        }
    }
    let bytes = size(&root().join("assets"));
    assert!(bytes < 2_000_000, "assets/ holds {bytes} bytes");
}

/// What `ohmpatch render PATCH --out OUT --seconds S` does, for the asset
/// scripts where the app is not built: `OHMPATCH_RENDER_PATCH`,
/// `OHMPATCH_RENDER_OUT`, `OHMPATCH_RENDER_SECONDS`.
#[test]
#[ignore = "run by assets/make/cab_ir.py"]
fn render_for_asset_scripts() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let path = std::path::PathBuf::from(var("OHMPATCH_RENDER_PATCH"));
    let seconds: f64 = var("OHMPATCH_RENDER_SECONDS").parse().unwrap();
    let patch = load(&path);
    let out = render(&patch, path.parent().unwrap(), seconds, 0);
    ohmpatch_nodes::wav::write_f32_wav(Path::new(&var("OHMPATCH_RENDER_OUT")), &out, 48_000)
        .unwrap();
}
