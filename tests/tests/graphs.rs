//! Every example patch loads, saves back byte for byte, checks, and renders
//! finite samples that never exceed the output limiter's ceiling.

use ohmpatch_tests::*;

#[test]
fn every_example_round_trips_byte_for_byte() {
    let all = examples();
    assert!(all.len() >= 2);
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        let patch = load(&path);
        assert_eq!(
            ohmpatch_patch::to_ron_string(&patch),
            text,
            "{} is not in canonical form",
            path.display()
        );
    }
}

#[test]
fn every_example_validates_and_renders_finite_and_limited() {
    let registry = ohmpatch_nodes::registry();
    for path in examples() {
        let patch = load(&path);
        let diags = ohmpatch_patch::validate(&patch, &registry, &path.display().to_string(), None);
        assert!(diags.is_empty(), "{}: {diags:?}", path.display());
        let out = render(&patch, path.parent().unwrap(), 3.0, 7);
        assert!(!out.is_empty(), "{} renders no channel", path.display());
        for (c, ch) in out.iter().enumerate() {
            assert!(
                ch.iter().all(|s| s.is_finite()),
                "{} ch {c}: non-finite",
                path.display()
            );
            let peak = ch.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!(
                peak <= 1.0,
                "{} ch {c}: peak {peak} above the ceiling",
                path.display()
            );
            assert!(peak > 1e-4, "{} ch {c}: silent", path.display());
        }
    }
}
