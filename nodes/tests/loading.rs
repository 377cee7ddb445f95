//! Several speakers on one amp: the engine's loading against the circuit.
//!
//! Drivers wired in parallel on one `power_amp` (Z_out 8 Ω) are measured at
//! the amp's terminals with 31 third-octave sines at once, and the level at
//! each is compared with the voltage divider Z_L/(Z_L + Z_out) worked out
//! here from the Thiele–Small equivalent circuit (Re and Le in series with
//! Res ∥ Cmes ∥ Lces; Small, JAES 1972), loads combined as admittances:
//! nothing of the engine's rational arithmetic or filter design is reused.
//! The patch format wires loads in parallel only (a speaker has one
//! terminal pair, no pass-through), so series strings are not expressible;
//! mixed drivers in parallel stand in for them.

mod support;
use ohmpatch_engine::impedance::C64;
use ohmpatch_patch::Value;
use support::*;

const Z_OUT: f64 = 8.0;
const PROBE_OHM: f64 = 1e7;
/// Nominal third-octave centres, 20 Hz–20 kHz (IEC 61260).
const FREQS: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0,
    500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0,
    8000.0, 10_000.0, 12_500.0, 16_000.0, 20_000.0,
];

/// Thiele–Small values: Re Ω, Le mH, fs Hz, Qes, Qms.
type Ts = (f64, f64, f64, f64, f64);
/// The driver of issue 13: a 12" guitar speaker.
const GUITAR: Ts = (6.4, 0.5, 80.0, 0.6, 4.0);

fn spk_params(t: Ts) -> Vec<(&'static str, Value)> {
    vec![
        ("re_ohm", t.0.into()),
        ("le_mh", t.1.into()),
        ("fs_hz", t.2.into()),
        ("qes", t.3.into()),
        ("qms", t.4.into()),
    ]
}

/// Z(f) of the equivalent circuit.
fn z_ts(t: Ts, f: f64) -> C64 {
    let (re, le, fs, qes, qms) = (t.0, t.1 * 1e-3, t.2, t.3, t.4);
    let ws = 2.0 * std::f64::consts::PI * fs;
    let res = re * qms / qes;
    let cmes = qes / (ws * re);
    let lces = re / (ws * qes);
    let w = 2.0 * std::f64::consts::PI * f;
    let y_motional = C64::new(1.0 / res, w * cmes - 1.0 / (w * lces));
    C64::new(re, w * le).add(C64::new(1.0, 0.0).div(y_motional))
}

/// |Z_L/(Z_L + Z_out)| for these drivers in parallel with the voltmeter.
fn divider(drivers: &[Ts], f: f64) -> f64 {
    let one = C64::new(1.0, 0.0);
    let y = drivers
        .iter()
        .fold(C64::new(1.0 / PROBE_OHM, 0.0), |acc, t| {
            acc.add(one.div(z_ts(*t, f)))
        });
    let zl = one.div(y);
    zl.div(zl.add(C64::new(Z_OUT, 0.0))).abs()
}

/// Param values of one node.
type Params = Vec<(&'static str, Value)>;

/// Each set of drivers on its own amp, all amps fed the same 31 tones, with a
/// voltmeter across each amp's terminals; an amp with no driver is the
/// reference. Returns, per set, the level at each frequency relative to
/// the reference, in dB.
fn measure(sets: &[Vec<Ts>]) -> Vec<Vec<f64>> {
    let mut nodes: Vec<(String, &str, Params)> = Vec::new();
    let mut wires: Vec<(String, String)> = Vec::new();
    for (i, f) in FREQS.iter().enumerate() {
        nodes.push((
            format!("t{i:02}"),
            "tone",
            vec![("freq_hz", (*f).into()), ("level_dbu", (-20.0).into())],
        ));
    }
    let all: Vec<&[Ts]> = std::iter::once(&[][..])
        .chain(sets.iter().map(|s| s.as_slice()))
        .collect();
    for (k, set) in all.iter().enumerate() {
        let amp = format!("amp{k:02}");
        nodes.push((
            amp.clone(),
            "power_amp",
            vec![
                ("gain_db", 20.0.into()),
                ("power_w", 400.0.into()),
                ("z_out_ohm", Z_OUT.into()),
                ("snr_db", 140.0.into()),
            ],
        ));
        for i in 0..FREQS.len() {
            wires.push((format!("t{i:02}.out"), format!("{amp}.in")));
        }
        for (j, t) in set.iter().enumerate() {
            let s = format!("s{k:02}_{j}");
            nodes.push((s.clone(), "speaker", spk_params(*t)));
            wires.push((format!("{amp}.out"), format!("{s}.in")));
        }
        nodes.push((format!("v{k:02}"), "output", voltmeter()));
        wires.push((format!("{amp}.out"), format!("v{k:02}.in")));
    }
    let node_refs: Vec<(&str, &str, Params)> = nodes
        .iter()
        .map(|(id, kind, p)| (id.as_str(), *kind, p.clone()))
        .collect();
    let wire_refs: Vec<(&str, &str)> = wires
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = patch(&node_refs, &wire_refs);
    // 0.25 s to settle, then 2 s: every tone a whole number of periods.
    let (settle, window) = (12_000, 96_000);
    let out = render(&p, settle + window);
    let levels: Vec<Vec<f64>> = out
        .iter()
        .map(|ch| {
            let v = volts(&ch[settle..]);
            FREQS.iter().map(|f| tone_level(&v, SR, *f)).collect()
        })
        .collect();
    levels[1..]
        .iter()
        .map(|l| l.iter().zip(&levels[0]).map(|(x, r)| db(x / r)).collect())
        .collect()
}

fn assert_follows_the_circuit(sets: &[Vec<Ts>]) {
    let measured = measure(sets);
    for (set, m) in sets.iter().zip(&measured) {
        let worst = FREQS
            .iter()
            .zip(m)
            .map(|(f, got)| (got - db(divider(set, *f) / divider(&[], *f))).abs())
            .fold(0.0, f64::max);
        eprintln!("{} drivers: worst {worst:.3} dB", set.len());
        for (f, got) in FREQS.iter().zip(m) {
            let want = db(divider(set, *f) / divider(&[], *f));
            assert!(
                (got - want).abs() <= 0.25,
                "{} drivers, {f} Hz: {got:.2} dB, the circuit gives {want:.2} dB",
                set.len()
            );
        }
    }
}

#[test]
fn one_to_eight_equal_speakers_in_parallel_load_the_amp_as_the_circuit_does() {
    let sets: Vec<Vec<Ts>> = (1..=8).map(|n| vec![GUITAR; n]).collect();
    assert_follows_the_circuit(&sets);
}

#[test]
fn mixed_speakers_in_parallel_load_the_amp_as_the_circuit_does() {
    let woofer: Ts = (5.8, 0.6, 35.0, 0.38, 3.5);
    let small: Ts = (3.2, 0.2, 120.0, 0.45, 6.0);
    let eight: Vec<Ts> = (0..8)
        .map(|k| {
            let k = k as f64;
            (
                4.0 + 0.7 * k,
                0.3 + 0.1 * k,
                40.0 + 23.0 * k,
                0.35 + 0.05 * k,
                3.0 + 0.4 * k,
            )
        })
        .collect();
    assert_follows_the_circuit(&[
        vec![GUITAR, GUITAR, woofer, small],
        vec![GUITAR, woofer],
        eight,
    ]);
}

#[test]
fn check_predicts_the_loading_of_a_4x12_cab() {
    // Issue 13: four guitar speakers on one amp, 8 Ω out: −15.04 dB at 1 kHz.
    let want = db(divider(&[GUITAR; 4], 1000.0) / divider(&[], 1000.0));
    assert!((want + 15.04).abs() < 0.01, "{want}");
    let mut nodes = vec![
        ("amp", "power_amp", vec![("z_out_ohm", Z_OUT.into())]),
        ("v", "output", voltmeter()),
    ];
    let mut wires = vec![("amp.out", "v.in")];
    let ids = ["s0", "s1", "s2", "s3"];
    let ins = ["s0.in", "s1.in", "s2.in", "s3.in"];
    for (id, inp) in ids.iter().zip(ins) {
        nodes.push((id, "speaker", spk_params(GUITAR)));
        wires.push(("amp.out", inp));
    }
    let a = analysis_of(&patch(&nodes, &wires));
    let got = wire_report(&a, "amp.out").loading_db;
    assert!(
        (got - want).abs() < 0.05,
        "check says {got:.2} dB, the circuit {want:.2} dB"
    );
}
