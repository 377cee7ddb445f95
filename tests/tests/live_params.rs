//! A param change on a running engine is never lost: for every kind and
//! every param, changing it while the patch plays gives, once the change
//! has faded and settled, what a fresh engine built with the new value
//! gives. A live param reaches the processor (`set_param`); any other
//! rebuilds the node. A change that reached neither would leave the running
//! engine on the old value, and the two renders would differ.
//!
//! Each kind is placed in a small bench: every input driven by a sine from
//! a source with 600 Ω of output impedance (so a change of input impedance
//! is heard) and listened to by a witness `output` on the same wire; every
//! output read by an `output`. The change must give the fresh engine's
//! samples (within −80 dB of the signal), either in step with it (a live
//! change, or a rebuilt node fed from outside) or one change-time later (a
//! rebuilt source starts its phase or noise sequence where it is built).
//! Where a chain makes noise of its own, samples can agree only to within
//! that noise: the fresh engine run with another seed says how much. A tone
//! whose frequency glides keeps a phase of its own: there the spectrum
//! (third-octave bands within 0.5 dB) and the level must agree.

use ohmpatch_engine::{Engine, EngineConfig, NodeKind, Params, render_offline};
use ohmpatch_nodes::wav::write_f32_wav;
use ohmpatch_patch::{Direction, Domain, Endpoint, Node, ParamKind, Patch, Taper, Value, Wire};
use std::path::Path;

const SR: f64 = 48_000.0;
/// Played before the change, then after it; the last `TAIL` is compared.
const BEFORE: usize = 9_600;
const AFTER: usize = 48_000;
const TAIL: usize = 24_000;

fn level_param(domain: Domain) -> (&'static str, f64) {
    match domain {
        Domain::Mic => ("level_dbu", -45.0),
        Domain::Instrument => ("level_dbu", -20.0),
        Domain::Line => ("level_dbu", -10.0),
        Domain::Speaker => ("level_dbu", 6.0),
        Domain::Acoustic => ("level_db_spl", 94.0),
        Domain::Digital => ("level_dbfs", -12.0),
    }
}

/// The bench around one node of `kind`, with `params` set on it.
fn bench(kind: &dyn NodeKind, params: &[(String, Value)]) -> Patch {
    let spec = kind.spec();
    let mut p = Patch::default();
    let mut nut = Node::new(spec.kind.as_ref(), (0.0, 0.0));
    for (k, v) in params {
        nut.params.insert(k.clone(), v.clone());
    }
    let resolved = Params::resolve(spec, &nut.params);
    let ports = kind.electrical(&resolved);
    let mut outs = 0;
    let wire = |from: &str, fp: &str, to: &str, tp: &str| Wire {
        from: Endpoint::new(from, fp),
        to: Endpoint::new(to, tp),
    };
    for (i, port) in spec.ports.iter().enumerate() {
        let domain = ports[i].domain;
        match port.direction {
            Direction::In => {
                let src = format!("src{i}");
                let mut tone = Node::new("tone", (0.0, 0.0));
                let (level, value) = level_param(domain);
                tone.params
                    .insert("domain".into(), Value::Str(domain.name().into()));
                tone.params.insert(level.into(), Value::Number(value));
                // Inputs differ in frequency so that a swapped pair is heard.
                tone.params
                    .insert("freq_hz".into(), Value::Number(440.0 * (1.0 + i as f64)));
                tone.params.insert("z_out_ohm".into(), Value::Number(600.0));
                p.nodes.insert(src.clone(), tone);
                p.wires.push(wire(&src, "out", "nut", &port.name));
                let witness = format!("w{i}");
                p.nodes
                    .insert(witness.clone(), Node::new("output", (0.0, 0.0)));
                p.wires.push(wire(&src, "out", &witness, "in"));
            }
            Direction::Out => {
                let o = format!("o{outs}");
                outs += 1;
                p.nodes.insert(o.clone(), Node::new("output", (0.0, 0.0)));
                p.wires.push(wire("nut", &port.name, &o, "in"));
            }
        }
    }
    p.nodes.insert("nut".into(), nut);
    p
}

fn engine(dir: &Path, seed: u64) -> Engine {
    Engine::new(
        ohmpatch_nodes::shared_registry(),
        EngineConfig {
            sample_rate: SR,
            seed,
            patch_dir: Some(dir.to_path_buf()),
            ..EngineConfig::default()
        },
    )
}

/// The `TAIL` samples of each channel that end at `end`.
fn tails(out: &[Vec<f32>], end: usize) -> Vec<Vec<f32>> {
    out.iter().map(|c| c[end - TAIL..end].to_vec()).collect()
}

/// The bench changed while playing: `before`, then `after` set live; or
/// the refusal of the change, in words.
fn changed_live(dir: &Path, before: &Patch, after: &Patch) -> Result<Vec<Vec<f32>>, String> {
    let mut e = engine(dir, 0);
    e.set_patch(before).unwrap_or_else(|err| panic!("{err}"));
    let mut first = render_offline(&mut e, BEFORE, 128);
    e.set_patch(after).map_err(|err| err.to_string())?;
    let second = render_offline(&mut e, AFTER, 128);
    let _ = e.shutdown();
    for (a, b) in first.iter_mut().zip(second) {
        a.extend(b);
    }
    Ok(tails(&first, BEFORE + AFTER))
}

/// The bench built with the new value from the start, played as long; or
/// its refusal in words.
fn fresh(dir: &Path, after: &Patch, seed: u64) -> Result<Vec<Vec<f32>>, String> {
    let mut e = engine(dir, seed);
    e.set_patch(after).map_err(|err| err.to_string())?;
    let out = render_offline(&mut e, BEFORE + AFTER, 128);
    let _ = e.shutdown();
    Ok(out)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Power in third-octave bands from 20 Hz to 16 kHz (a Blackman–Harris
/// window, whose sidelobes leave the bands next to a tone alone).
fn bands(x: &[f32]) -> Vec<f64> {
    use rustfft::{FftPlanner, num_complex::Complex};
    let n = x.len();
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            let w =
                0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos() - 0.01168 * (3.0 * x).cos();
            Complex::new(f64::from(*v) * w, 0.0)
        })
        .collect();
    FftPlanner::new().plan_fft_forward(n).process(&mut buf);
    let hz = SR / n as f64;
    (0..30)
        .map(|b| {
            let centre = 20.0 * 2f64.powf(b as f64 / 3.0);
            let (lo, hi) = (centre / 2f64.powf(1.0 / 6.0), centre * 2f64.powf(1.0 / 6.0));
            buf[1..n / 2]
                .iter()
                .enumerate()
                .filter(|(k, _)| {
                    let f = (k + 1) as f64 * hz;
                    f >= lo && f < hi
                })
                .map(|(_, c)| c.norm_sqr())
                .sum()
        })
        .collect()
}

fn db(x: f64) -> f64 {
    10.0 * x.max(1e-30).log10()
}

fn rms_diff(a: &[f32], b: &[f32]) -> f64 {
    (a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64)
        .sqrt()
}

/// Why the spectra or levels of two renders differ, or None.
fn spectra_differ(live: &[Vec<f32>], fresh: &[Vec<f32>]) -> Option<String> {
    for (ch, (a, b)) in live.iter().zip(fresh).enumerate() {
        let (ra, rb) = (rms(a), rms(b));
        if (db(ra * ra) - db(rb * rb)).abs() > 0.2 && ra.max(rb) > 1e-7 {
            return Some(format!(
                "channel {ch}: level {:.2} dB against {:.2} dB",
                db(ra * ra),
                db(rb * rb)
            ));
        }
        let (ba, bb) = (bands(a), bands(b));
        let loudest = ba.iter().chain(&bb).cloned().fold(0.0, f64::max);
        for (i, (x, y)) in ba.iter().zip(&bb).enumerate() {
            // Bands within 50 dB of the loudest one.
            if x.max(*y) > loudest * 1e-5 && (db(*x) - db(*y)).abs() > 0.5 {
                return Some(format!(
                    "channel {ch}: band {i} at {:.1} dB against {:.1} dB",
                    db(*x),
                    db(*y)
                ));
            }
        }
    }
    None
}

/// Why the live render differs from the fresh one, or None when it agrees.
/// `fresh` and `other_seed` are whole fresh renders; `live` is its tail.
fn differ(live: &[Vec<f32>], fresh: &[Vec<f32>], other_seed: &[Vec<f32>]) -> Option<String> {
    if live.len() != fresh.len() {
        return Some(format!("{} channels against {}", live.len(), fresh.len()));
    }
    let end = BEFORE + AFTER;
    let in_step = tails(fresh, end);
    let later = tails(fresh, end - BEFORE);
    let noise = tails(other_seed, end);
    let mut why = None;
    for ch in 0..live.len() {
        let scale = rms(&in_step[ch]).max(rms(&live[ch])).max(1e-9);
        let d = rms_diff(&live[ch], &in_step[ch]).min(rms_diff(&live[ch], &later[ch]));
        // The chain's own noise: the same render with another seed.
        let own = rms_diff(&in_step[ch], &noise[ch]);
        if d <= scale * 1e-4 || (own > scale * 1e-4 && d <= 1.5 * own) {
            continue;
        }
        why = Some(format!(
            "channel {ch}: samples differ by {:.1} dB of the signal (the chain's own noise: {:.1} dB)",
            20.0 * (d / scale).log10(),
            20.0 * (own / scale).log10()
        ));
        break;
    }
    let why = why?;
    // A tone gliding to a new frequency keeps its own phase: then the
    // spectrum and level must agree, in step or one change-time later.
    match (spectra_differ(live, &in_step), spectra_differ(live, &later)) {
        (Some(a), Some(_)) => Some(format!("{why}; spectrum: {a}")),
        _ => None,
    }
}

/// Values to change a param to, away from its default.
fn new_values(kind: &ParamKind) -> Vec<Value> {
    match kind {
        ParamKind::Number {
            min,
            max,
            default,
            taper,
            integer,
            ..
        } => {
            let at = |t: f64| match taper {
                Taper::Log if *min > 0.0 => (min.ln() + t * (max.ln() - min.ln())).exp(),
                _ => min + t * (max - min),
            };
            if *integer {
                // Channels, seeds, factors: the next whole number.
                let v = if default + 1.0 <= *max {
                    default + 1.0
                } else {
                    default - 1.0
                };
                return vec![Value::Number(v)];
            }
            let mut v = at(0.3);
            if (v - default).abs() < 1e-9 {
                v = at(0.6);
            }
            vec![Value::Number(v)]
        }
        ParamKind::Choice { choices, default } => choices
            .iter()
            .filter(|c| *c != default)
            .map(|c| Value::Str(c.to_string()))
            .collect(),
        ParamKind::Bool { default } => vec![Value::Bool(!default)],
        // A file param always rebuilds; the bench has one file to offer.
        ParamKind::Path { .. } => Vec::new(),
        // Text names what the node is (a plugin): another is another kind.
        ParamKind::Text { .. } => Vec::new(),
    }
}

#[test]
fn every_param_change_on_a_running_engine_matches_a_fresh_engine() {
    let dir = std::env::temp_dir().join(format!("ohmpatch-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A file for the kinds that play or convolve one: a decaying 1 kHz burst.
    let x: Vec<f32> = (0..4_800)
        .map(|i| {
            let t = i as f64 / SR;
            ((2.0 * std::f64::consts::PI * 1000.0 * t).sin() * (-t * 200.0).exp()) as f32 * 0.5
        })
        .collect();
    write_f32_wav(&dir.join("f.wav"), &[x], 48_000).unwrap();

    let registry = ohmpatch_nodes::registry();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut heard = 0;
    let mut refused = 0;
    for kind in registry.iter() {
        let spec = kind.spec();
        let mut base: Vec<(String, Value)> = Vec::new();
        for p in &spec.params {
            // Kinds that play or convolve a file get one; a recorder (no
            // outputs) records nowhere.
            if matches!(p.kind, ParamKind::Path { .. }) && spec.outputs().count() > 0 {
                base.push((p.name.to_string(), Value::Str("f.wav".into())));
            }
        }
        for p in &spec.params {
            for v in new_values(&p.kind) {
                cases += 1;
                let mut changed = base.clone();
                changed.retain(|(k, _)| *k != p.name);
                changed.push((p.name.to_string(), v.clone()));
                let (before, after) = (bench(kind, &base), bench(kind, &changed));
                let what = format!("{}.{} = {v:?}", spec.kind, p.name);
                let (live, new) = (changed_live(&dir, &before, &after), fresh(&dir, &after, 0));
                let old = fresh(&dir, &before, 0).unwrap_or_else(|e| panic!("{what}: {e}"));
                match (live, new) {
                    (Ok(live), Ok(new)) => {
                        let other = fresh(&dir, &after, 1).unwrap_or_else(|e| panic!("{e}"));
                        if old != new {
                            heard += 1;
                        }
                        if let Some(why) = differ(&live, &new, &other) {
                            failures.push(format!("{what}: {why}"));
                        }
                    }
                    // A value that cannot be built is refused live as it
                    // is fresh, in the same words, and the old one plays on.
                    (Err(a), Err(b)) if a == b => refused += 1,
                    (live, new) => failures.push(format!(
                        "{what}: live {:?}, fresh {:?}",
                        live.err(),
                        new.err()
                    )),
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {cases} changes were lost:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The bench must hear most changes, or it proves nothing.
    eprintln!("{cases} changes: {heard} heard on the bench, {refused} refused as a fresh build is");
    assert!(cases > 80, "only {cases} cases");
    assert!(
        refused * 10 < cases,
        "{refused} of {cases} changes were refused"
    );
    assert!(
        heard * 10 > cases * 6,
        "only {heard} of {cases} changes were audible on the bench"
    );
}
