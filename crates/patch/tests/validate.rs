//! Validation against a node catalogue: one test per kind of mistake, each
//! checking the exact words and where they point.

mod common;

use ohmpatch_patch::{Diagnostic, Location, Node, Patch, Value, Wire, load_str, validate};

fn check(text: &str) -> Vec<Diagnostic> {
    let patch = load_str(text, "t.ohm.ron").unwrap_or_else(|e| panic!("{e}"));
    validate(&patch, &common::catalogue(), "t.ohm.ron", Some(text))
}

fn messages(text: &str) -> Vec<String> {
    check(text).iter().map(|d| d.to_string()).collect()
}

/// A patch text with `nodes` lines and `wires` lines in canonical layout.
fn patch(nodes: &[&str], wires: &[&str]) -> String {
    let mut s = String::from("(\n    version: 1,\n    nodes: {\n");
    for n in nodes {
        s.push_str("        ");
        s.push_str(n);
        s.push_str(",\n");
    }
    s.push_str("    },\n    wires: [\n");
    for w in wires {
        s.push_str("        ");
        s.push_str(w);
        s.push_str(",\n");
    }
    s.push_str("    ],\n)\n");
    s
}

const TONE: &str = r#""t": (kind: "tone", params: {"freq_hz": 440})"#;
const PRE: &str = r#""pre": (kind: "preamp", params: {"model": "tube_12ax7", "gain_db": 30})"#;
const OUT: &str = r#""out": (kind: "output")"#;

#[test]
fn a_good_patch_has_no_diagnostics() {
    let text = patch(
        &[
            TONE,
            PRE,
            OUT,
            r#""g": (kind: "gain", params: {"gain_db": -60})"#,
        ],
        &[
            r#"("t.out", "pre.in")"#,
            r#"("pre.out", "g.in")"#,
            r#"("g.out", "out.in")"#,
        ],
    );
    assert_eq!(messages(&text), Vec::<String>::new());
}

#[test]
fn unknown_kind_suggests_the_nearest() {
    let text = patch(&[r#""pre": (kind: "preamo")"#], &[]);
    assert_eq!(
        messages(&text),
        [
            "t.ohm.ron:4:23: unknown node kind \"preamo\" for node \"pre\" (did you mean \"preamp\"?)"
        ]
    );
    let text = patch(&[r#""x": (kind: "gainn")"#], &[]);
    assert_eq!(
        check(&text)[0].message,
        "unknown node kind \"gainn\" for node \"x\" (did you mean \"gain\"?)"
    );
}

#[test]
fn unknown_kind_without_near_names_lists_all() {
    let text = patch(&[r#""x": (kind: "zzzzzzzzzz")"#], &[]);
    assert_eq!(
        check(&text)[0].message,
        "unknown node kind \"zzzzzzzzzz\" for node \"x\"; the known kinds are: file_in, gain, \
         output, preamp, tone"
    );
}

#[test]
fn unknown_port_names_the_ports() {
    let text = patch(&[TONE, PRE], &[r#"("t.out", "pre.inp")"#]);
    assert_eq!(
        messages(&text),
        ["t.ohm.ron:8:19: node \"pre\" (preamp) has no port \"inp\"; its ports are: in, out"]
    );
}

#[test]
fn wire_to_a_missing_node() {
    let text = patch(&[PRE], &[r#"("x.out", "pre.in")"#]);
    assert_eq!(
        messages(&text),
        ["t.ohm.ron:7:10: wire \"x.out\" -> \"pre.in\": there is no node \"x\""]
    );
    let text = patch(&[PRE, OUT], &[r#"("pre.out", "ouy.in")"#]);
    assert_eq!(
        check(&text)[0].message,
        "wire \"pre.out\" -> \"ouy.in\": there is no node \"ouy\" (did you mean \"out\"?)"
    );
}

#[test]
fn wire_direction_is_checked() {
    let text = patch(
        &[PRE, r#""amp": (kind: "gain")"#],
        &[r#"("pre.in", "amp.in")"#, r#"("pre.out", "amp.out")"#],
    );
    assert_eq!(
        messages(&text),
        [
            "t.ohm.ron:8:10: wire \"pre.in\" -> \"amp.in\": \"pre.in\" is an input; a wire goes \
             from an output to an input",
            "t.ohm.ron:9:21: wire \"pre.out\" -> \"amp.out\": \"amp.out\" is an output; a wire \
             goes from an output to an input",
        ]
    );
}

#[test]
fn a_wire_from_a_node_to_itself_is_allowed() {
    let text = patch(&[r#""g": (kind: "gain")"#], &[r#"("g.out", "g.in")"#]);
    assert!(check(&text).is_empty());
}

#[test]
fn duplicate_wires_are_reported_once_at_the_second() {
    let text = patch(
        &[TONE, OUT],
        &[r#"("t.out", "out.in")"#, r#"("t.out", "out.in")"#],
    );
    assert_eq!(
        messages(&text),
        ["t.ohm.ron:9:9: wire \"t.out\" -> \"out.in\" is listed more than once"]
    );
}

#[test]
fn unknown_param_names_the_params() {
    let text = patch(&[r#""pre": (kind: "preamp", params: {"gian_db": 3})"#], &[]);
    assert_eq!(
        messages(&text),
        [
            "t.ohm.ron:4:42: node \"pre\" (preamp) has no param \"gian_db\" (did you mean \
             \"gain_db\"?); its params are: model, gain_db"
        ]
    );
    let text = patch(&[r#""pre": (kind: "preamp", params: {"colour": 3})"#], &[]);
    assert_eq!(
        check(&text)[0].message,
        "node \"pre\" (preamp) has no param \"colour\"; its params are: model, gain_db"
    );
}

#[test]
fn out_of_range_names_range_and_unit() {
    let text = patch(
        &[r#""pre": (kind: "preamp", params: {"gain_db": 90})"#],
        &[],
    );
    assert_eq!(
        messages(&text),
        ["t.ohm.ron:4:42: node \"pre\" param \"gain_db\" = 90 is out of range 0 … 70 dB"]
    );
    let text = patch(&[r#""g": (kind: "gain", params: {"gain_db": -60.5})"#], &[]);
    assert_eq!(
        check(&text)[0].message,
        "node \"g\" param \"gain_db\" = -60.5 is out of range -60 … 40 dB"
    );
    let text = patch(&[r#""o": (kind: "output", params: {"channel": 64})"#], &[]);
    assert_eq!(
        check(&text)[0].message,
        "node \"o\" param \"channel\" = 64 is out of range 0 … 63"
    );
}

#[test]
fn wrong_value_types() {
    let text = patch(
        &[
            r#""pre": (kind: "preamp", params: {"gain_db": "loud", "model": 3})"#,
            r#""o": (kind: "output", params: {"limiter": 1, "channel": true})"#,
            r#""f": (kind: "file_in", params: {"path": false})"#,
        ],
        &[],
    );
    let got: Vec<String> = check(&text).into_iter().map(|d| d.message).collect();
    assert_eq!(
        got,
        [
            "node \"f\" param \"path\" = false should be a file path in quotes",
            "node \"o\" param \"channel\" = true should be a number",
            "node \"o\" param \"limiter\" = 1 should be true or false",
            "node \"pre\" param \"gain_db\" = \"loud\" should be a number (dB)",
            "node \"pre\" param \"model\" = 3 should be one of: clean, tube_12ax7",
        ]
    );
}

#[test]
fn choice_not_in_the_list() {
    let text = patch(
        &[r#""pre": (kind: "preamp", params: {"model": "valve"})"#],
        &[],
    );
    assert_eq!(
        messages(&text),
        [
            "t.ohm.ron:4:42: node \"pre\" param \"model\" = \"valve\" is not one of: clean, \
             tube_12ax7"
        ]
    );
    let text = patch(
        &[r#""pre": (kind: "preamp", params: {"model": "tube"})"#],
        &[],
    );
    assert_eq!(
        check(&text)[0].message,
        "node \"pre\" param \"model\" = \"tube\" is not one of: clean, tube_12ax7 (did you mean \
         \"tube_12ax7\"?)"
    );
    let text = patch(
        &[r#""pre": (kind: "preamp", params: {"model": "claen"})"#],
        &[],
    );
    assert_eq!(
        check(&text)[0].message,
        "node \"pre\" param \"model\" = \"claen\" is not one of: clean, tube_12ax7 (did you mean \
         \"clean\"?)"
    );
}

#[test]
fn non_finite_numbers() {
    let text = patch(
        &[
            r#""g": (kind: "gain", pos: (NaN, 0.0), params: {"gain_db": NaN})"#,
            r#""h": (kind: "gain", params: {"gain_db": -inf})"#,
        ],
        &[],
    );
    let got: Vec<String> = check(&text).into_iter().map(|d| d.message).collect();
    assert_eq!(
        got,
        [
            "node \"g\" has a position that is not a finite number",
            "node \"g\" param \"gain_db\" = NaN is not a finite number",
            "node \"h\" param \"gain_db\" = -inf is not a finite number",
        ]
    );
}

#[test]
fn integer_params_refuse_fractions() {
    let text = patch(&[r#""o": (kind: "output", params: {"channel": 1.5})"#], &[]);
    assert_eq!(
        messages(&text),
        ["t.ohm.ron:4:40: node \"o\" param \"channel\" = 1.5 must be a whole number"]
    );
    let text = patch(&[r#""o": (kind: "output", params: {"channel": 2})"#], &[]);
    assert!(check(&text).is_empty());
}

#[test]
fn without_source_there_is_no_location() {
    let mut p = Patch::default();
    p.nodes
        .insert("pre".into(), Node::new("preamo", (0.0, 0.0)));
    let d = validate(&p, &common::catalogue(), "<patch>", None);
    assert_eq!(
        d[0].to_string(),
        "<patch>: unknown node kind \"preamo\" for node \"pre\" (did you mean \"preamp\"?)"
    );
}

#[test]
fn programmatic_patches_are_checked_too() {
    let mut p = Patch::default();
    p.nodes
        .insert("bad id".into(), Node::new("gain", (0.0, 0.0)));
    let mut g = Node::new("gain", (f32::INFINITY, 0.0));
    g.params.insert("gain_db".into(), Value::Number(f64::NAN));
    p.nodes.insert("g".into(), g);
    p.wires.push(Wire::parse("g.out", "bad id.in").unwrap());
    let d: Vec<String> = validate(&p, &common::catalogue(), "<patch>", None)
        .into_iter()
        .map(|d| d.message)
        .collect();
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d[0].starts_with("node id \"bad id\" is not allowed"));
    assert_eq!(
        d[1],
        "node \"g\" has a position that is not a finite number"
    );
    assert_eq!(
        d[2],
        "node \"g\" param \"gain_db\" = NaN is not a finite number"
    );
}

#[test]
fn too_many_nodes_and_wires() {
    let mut p = Patch::default();
    for i in 0..=ohmpatch_patch::MAX_NODES {
        p.nodes
            .insert(format!("n{i}"), Node::new("gain", (0.0, 0.0)));
    }
    let d = validate(&p, &common::catalogue(), "<patch>", None);
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        "the patch has 10001 nodes; at most 10000 are allowed"
    );

    let mut p = Patch::default();
    let w = Wire::parse("a.out", "b.in").unwrap();
    p.wires = vec![w; ohmpatch_patch::MAX_WIRES + 1];
    let d = validate(&p, &common::catalogue(), "<patch>", None);
    assert_eq!(
        d[0].message,
        "the patch has 100001 wires; at most 100000 are allowed"
    );
}

#[test]
fn locations_point_at_the_offending_text() {
    let text = patch(&[TONE, r#""pre": (kind: "preamo")"#], &[]);
    let d = check(&text);
    assert_eq!(d[0].location, Some(Location::new(5, 23)));
}
