//! `ohmpatch measure`: a bench on one path of a patch (response, phase and
//! group delay; THD and THD+N against frequency and level, with the clip
//! points; noise and SNR; the impedance of the load), measured on an
//! offline private copy (`ohmpatch_nodes::bench`) with `check`'s
//! prediction beside each figure. Text, `--json`, `--csv DIR`, `--png FILE`.

pub mod plot;

use super::*;
use ohmpatch_nodes::bench::{self, Options, Parts, Report, Setup};
use ohmpatch_patch::Endpoint;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    pub patch: PathBuf,
    /// The output port driven with the test signals, NODE.PORT.
    #[arg(long)]
    pub from: String,
    /// The output port recorded, NODE.PORT.
    #[arg(long)]
    pub to: String,
    /// Nominal level at --from in its unit (dBu, dB SPL, dBFS); default: the
    /// level `check` predicts there.
    #[arg(long, allow_hyphen_values = true)]
    pub level: Option<f64>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write response.csv, thd_freq.csv, thd_level.csv, noise.csv and
    /// impedance.csv into this folder.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Draw the plots into this PNG file.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Sample rate of the render, Hz.
    #[arg(long, default_value_t = 48_000)]
    pub sample_rate: u32,
}

fn endpoint(s: &str, what: &str) -> Result<Endpoint, u8> {
    Endpoint::parse(s).ok_or_else(|| {
        eprintln!("{what} takes NODE.PORT; got \"{s}\"");
        EXIT_INVALID
    })
}

pub fn run(a: Args) -> u8 {
    match go(&a) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

fn go(a: &Args) -> Result<(), u8> {
    let patch = load(&a.patch)?;
    let registry = ohmpatch_nodes::registry();
    validate(&a.patch, &patch, &registry)?;
    let from = endpoint(&a.from, "--from")?;
    let to = endpoint(&a.to, "--to")?;
    if !(8_000..=192_000).contains(&a.sample_rate) {
        eprintln!("--sample-rate must be between 8000 and 192000 Hz");
        return Err(EXIT_INVALID);
    }
    let setup = Setup {
        patch,
        sample_rate: f64::from(a.sample_rate),
        patch_dir: Some(patch_dir(&a.patch)),
    };
    let opts = Options {
        from,
        to,
        level_db: a.level,
        parts: Parts::default(),
    };
    let report = bench::measure(&setup, &opts).map_err(|e| {
        eprintln!("{}: {e}", a.patch.display());
        EXIT_INVALID
    })?;
    if let Some(dir) = &a.csv {
        write_csv(dir, &report).map_err(|e| {
            eprintln!("{}: {e}", dir.display());
            EXIT_UNREADABLE
        })?;
    }
    if let Some(file) = &a.png {
        plot::write_png(file, &report).map_err(|e| {
            eprintln!("{}: {e}", file.display());
            EXIT_UNREADABLE
        })?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&report)).expect("json")
        );
    } else {
        print_text(&report);
    }
    Ok(())
}

fn round(x: f64, places: i32) -> Value {
    if x.is_finite() {
        let k = 10f64.powi(places);
        json!((x * k).round() / k)
    } else {
        Value::Null
    }
}

/// The report in the shape other tools read (README, "measure").
pub fn to_json(r: &Report) -> Value {
    let clip = |c: &Option<bench::Clip>| match c {
        Some(c) => json!({"level": round(c.level, 2), "unit": r.from_unit,
            "out_level": round(c.out_level, 2), "out_unit": r.to_unit}),
        None => Value::Null,
    };
    let harm = |h: &[f64; 4]| h.iter().map(|v| round(*v, 2)).collect::<Vec<_>>();
    json!({
        "from": r.from,
        "to": r.to,
        "sample_rate": r.sample_rate,
        "nominal": {"level": round(r.nominal, 2), "unit": r.from_unit},
        "delay_ms": round(r.delay_ms, 4),
        "response": r.response.iter().map(|p| json!({
            "hz": round(p.hz, 2), "db": round(p.db, 3), "phase_deg": round(p.phase_deg, 2),
            "group_delay_ms": round(p.group_delay_ms, 4)})).collect::<Vec<_>>(),
        "thd_vs_freq": r.thd_vs_freq.iter().map(|p| json!({
            "hz": round(p.hz, 2), "thd_pct": round(p.thd_pct, 5), "thdn_pct": round(p.thdn_pct, 5),
            "harmonics_dbc": harm(&p.harmonics_dbc)})).collect::<Vec<_>>(),
        "thd_vs_level": r.thd_vs_level.iter().map(|p| json!({
            "level": round(p.level, 2), "unit": r.from_unit, "thd_pct": round(p.thd_pct, 5),
            "thdn_pct": round(p.thdn_pct, 5), "out_level": round(p.out_level, 2),
            "out_unit": r.to_unit, "harmonics_dbc": harm(&p.harmonics_dbc)})).collect::<Vec<_>>(),
        "clip_1pct": clip(&r.clip_1pct),
        "clip_10pct": clip(&r.clip_10pct),
        "noise": match &r.noise {
            Some(n) => json!({
                "total": round(n.total, 2), "a_weighted": round(n.a_weighted, 2),
                "unit": r.to_unit, "snr_db": round(n.snr_db, 2),
                "spectrum": n.spectrum.iter().map(|(f, l)| json!({"hz": round(*f, 1), "level": round(*l, 2)})).collect::<Vec<_>>(),
                "predicted_total": round(n.predicted, 2)}),
            None => Value::Null,
        },
        "impedance": r.impedance.iter().map(|p| json!({
            "hz": round(p.hz, 2), "ohm": round(p.ohm, 4), "phase_deg": round(p.phase_deg, 2)})).collect::<Vec<_>>(),
        "impedance_peak": r.impedance_peak.map(|(f, z)| json!({"hz": round(f, 2), "ohm": round(z, 4)})),
        "predicted": {
            "response": r.predicted.response.iter().map(|(f, d)| json!({"hz": round(*f, 2), "db": round(*d, 3)})).collect::<Vec<_>>(),
            "clip_level": r.predicted.clip_level.map(|l| round(l, 2)),
            "impedance": r.predicted.impedance.iter().map(|(f, z, p)| json!({"hz": round(*f, 2), "ohm": round(*z, 4), "phase_deg": round(*p, 2)})).collect::<Vec<_>>(),
        },
    })
}

fn write_csv(dir: &std::path::Path, r: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut s = String::from("hz,db,phase_deg,group_delay_ms\n");
    for p in &r.response {
        s += &format!("{},{},{},{}\n", p.hz, p.db, p.phase_deg, p.group_delay_ms);
    }
    std::fs::write(dir.join("response.csv"), s)?;
    let mut s = String::from("hz,thd_pct,thdn_pct,h2_dbc,h3_dbc,h4_dbc,h5_dbc\n");
    for p in &r.thd_vs_freq {
        let h = p.harmonics_dbc;
        s += &format!(
            "{},{},{},{},{},{},{}\n",
            p.hz, p.thd_pct, p.thdn_pct, h[0], h[1], h[2], h[3]
        );
    }
    std::fs::write(dir.join("thd_freq.csv"), s)?;
    let mut s = format!(
        "level_{u},out_level_{o},thd_pct,thdn_pct,h2_dbc,h3_dbc,h4_dbc,h5_dbc\n",
        u = r.from_unit.replace(' ', "_"),
        o = r.to_unit.replace(' ', "_")
    );
    for p in &r.thd_vs_level {
        let h = p.harmonics_dbc;
        s += &format!(
            "{},{},{},{},{},{},{},{}\n",
            p.level, p.out_level, p.thd_pct, p.thdn_pct, h[0], h[1], h[2], h[3]
        );
    }
    std::fs::write(dir.join("thd_level.csv"), s)?;
    if let Some(n) = &r.noise {
        let mut s = format!("hz,level_{}\n", r.to_unit.replace(' ', "_"));
        for (f, l) in &n.spectrum {
            s += &format!("{f},{l}\n");
        }
        std::fs::write(dir.join("noise.csv"), s)?;
    }
    let mut s = String::from("hz,ohm,phase_deg\n");
    for p in &r.impedance {
        s += &format!("{},{},{}\n", p.hz, p.ohm, p.phase_deg);
    }
    std::fs::write(dir.join("impedance.csv"), s)
}

fn print_text(r: &Report) {
    println!(
        "{} → {} at {} Hz; nominal level {:.1} {}",
        r.from, r.to, r.sample_rate, r.nominal, r.from_unit
    );
    if !r.response.is_empty() {
        println!(
            "\nresponse (pure delay {:.3} ms taken out of the phase):",
            r.delay_ms
        );
        println!(
            "  {:>8} {:>9} {:>9} {:>9} {:>10}",
            "Hz", "dB", "model dB", "phase °", "delay ms"
        );
        for p in r.response.iter().step_by(8) {
            let model = r
                .predicted
                .response
                .iter()
                .find(|(f, _)| (f / p.hz - 1.0).abs() < 1e-6)
                .map_or("—".to_string(), |(_, d)| format!("{d:+.2}"));
            println!(
                "  {:>8.1} {:>+9.2} {:>9} {:>9.1} {:>10.3}",
                p.hz, p.db, model, p.phase_deg, p.group_delay_ms
            );
        }
    }
    if !r.thd_vs_freq.is_empty() {
        println!("\nTHD at the nominal level:");
        println!("  {:>8} {:>9} {:>9}   H2…H5 dBc", "Hz", "THD %", "THD+N %");
        for p in &r.thd_vs_freq {
            let h = p.harmonics_dbc;
            println!(
                "  {:>8.1} {:>9.4} {:>9.4}   {:.1} {:.1} {:.1} {:.1}",
                p.hz, p.thd_pct, p.thdn_pct, h[0], h[1], h[2], h[3]
            );
        }
    }
    if !r.thd_vs_level.is_empty() {
        println!("\nTHD against level at 1 kHz:");
        println!(
            "  {:>10} {:>10} {:>9} {:>9}",
            r.from_unit, r.to_unit, "THD %", "THD+N %"
        );
        for p in &r.thd_vs_level {
            println!(
                "  {:>+10.1} {:>+10.1} {:>9.4} {:>9.4}",
                p.level, p.out_level, p.thd_pct, p.thdn_pct
            );
        }
        for (name, c) in [("1 %", &r.clip_1pct), ("10 %", &r.clip_10pct)] {
            match c {
                Some(c) => println!(
                    "  THD reaches {name} at {:+.1} {} in ({:+.1} {} out)",
                    c.level, r.from_unit, c.out_level, r.to_unit
                ),
                None => println!("  THD stays below {name} over the levels tried"),
            }
        }
        if let Some(l) = r.predicted.clip_level {
            println!("  the model clips at {l:+.1} {}", r.from_unit);
        }
    }
    if let Some(n) = &r.noise {
        println!(
            "\nnoise at {}: {:.1} {u} (20 Hz–20 kHz), {:.1} {u} A-weighted; SNR {:.1} dB; model {:.1} {u}",
            r.to,
            n.total,
            n.a_weighted,
            n.snr_db,
            n.predicted,
            u = r.to_unit
        );
    }
    if let Some((f, z)) = r.impedance_peak {
        let min = r
            .impedance
            .iter()
            .map(|p| p.ohm)
            .fold(f64::INFINITY, f64::min);
        println!(
            "\nload on {}: |Z| peaks at {z:.2} Ω at {f:.1} Hz, least {min:.2} Ω",
            r.to
        );
    }
}
