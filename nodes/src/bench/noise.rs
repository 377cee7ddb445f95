//! Noise: ports recorded with no signal anywhere (the rig silences the
//! signal sources; every stage's own noise plays), after the patch settles.

use super::rig::{Rig, Setup};
use super::{Noise, points_3, predict, to_db};
use crate::measure::{Window, a_weighting_db, power_spectrum};
use ohmpatch_patch::{Domain, Endpoint};

/// The noise on each of `ports` (output ports, each with its domain), from
/// one render: total and A-weighted over 20 Hz–20 kHz, 1/3-octave bands and
/// `check`'s figure. `snr_db` is left for the caller (NaN here).
pub fn floors(setup: &Setup, ports: &[(Endpoint, Domain)]) -> Result<Vec<Noise>, String> {
    let sr = setup.sample_rate;
    let registry = crate::registry();
    let mut rig = Rig::new(setup, &registry, None)?;
    let taps: Vec<usize> = ports.iter().map(|(e, d)| rig.tap(e, *d)).collect();
    let predicted = predict::noise(&rig, sr, ports);
    let settle = (0.5 * sr) as usize;
    let n = 1 << 16;
    let rec = rig.render(settle + n)?;
    Ok(ports
        .iter()
        .zip(&taps)
        .zip(predicted)
        .map(|(((_, domain), &tap), model)| read(&rec[tap][settle..], sr, *domain, model))
        .collect())
}

fn read(x: &[f32], sr: f64, domain: Domain, model: f64) -> Noise {
    let (ps, df) = power_spectrum(x, sr, Window::Hann);
    let mut total = 0.0;
    let mut a = 0.0;
    let mut bands = vec![0.0; 31];
    for (k, p) in ps.iter().enumerate() {
        let f = k as f64 * df;
        if !(20.0..=20_000.0).contains(&f) {
            continue;
        }
        total += p;
        a += p * 10f64.powf(a_weighting_db(f) / 10.0);
        // The 1/3-octave band (base 2, centre 1 kHz = band 17).
        let b = ((f / 1000.0).log2() * 3.0 + 17.0).round().max(0.0) as usize;
        if let Some(v) = bands.get_mut(b.min(30)) {
            *v += p;
        }
    }
    Noise {
        total: to_db(total.sqrt(), domain),
        a_weighted: to_db(a.sqrt(), domain),
        snr_db: f64::NAN,
        spectrum: points_3()
            .iter()
            .zip(&bands)
            .map(|(f, p)| (*f, to_db(p.sqrt(), domain)))
            .collect(),
        predicted: to_db(model, domain),
    }
}
