//! Loading and saving patch files: canonical round trips, every load error
//! class, robustness on broken input, migration and version refusal.

mod common;

use ohmpatch_patch::io::MAX_FILE_BYTES;
use ohmpatch_patch::{
    CURRENT_VERSION, Endpoint, LoadError, Location, Node, Patch, Value, Wire, load_file, load_str,
    to_ron_string,
};

/// The example of CONTRACT §2, as written there.
const CONTRACT_EXAMPLE: &str = r#"(
    version: 1,
    name: "SM57 on a 1x12, through a mic preamp",
    description: "optional free text",
    nodes: {
        "guitar": (kind: "file_in", pos: (40.0, 120.0), params: {"path": "di-guitar.wav", "level_dbu": -10.0}),
        "pre":    (kind: "preamp", pos: (260.0, 120.0), params: {"model": "tube_12ax7", "gain_db": 30.0}),
        "amp":    (kind: "power_amp", pos: (480.0, 120.0), params: {"power_w": 30.0, "z_out_ohm": 4.0}),
        "cab":    (kind: "speaker", pos: (700.0, 120.0), params: {"preset": "guitar_12in"}),
        "mic":    (kind: "mic", pos: (920.0, 120.0), params: {"distance_m": 0.05}),
        "mpre":   (kind: "preamp", pos: (1140.0, 120.0), params: {"gain_db": 40.0}),
        "out":    (kind: "output", pos: (1360.0, 120.0), params: {}),
    },
    wires: [
        ("guitar.out", "pre.in"), ("pre.out", "amp.in"), ("amp.out", "cab.in"),
        ("cab.out", "mic.in"), ("mic.out", "mpre.in"), ("mpre.out", "out.in"),
    ],
)
"#;

/// The canonical text of the CONTRACT example: ids and params sorted, one
/// node and one wire per line.
const CONTRACT_CANONICAL: &str = r#"(
    version: 1,
    name: "SM57 on a 1x12, through a mic preamp",
    description: "optional free text",
    nodes: {
        "amp": (kind: "power_amp", pos: (480.0, 120.0), params: {"power_w": 30.0, "z_out_ohm": 4.0}),
        "cab": (kind: "speaker", pos: (700.0, 120.0), params: {"preset": "guitar_12in"}),
        "guitar": (kind: "file_in", pos: (40.0, 120.0), params: {"level_dbu": -10.0, "path": "di-guitar.wav"}),
        "mic": (kind: "mic", pos: (920.0, 120.0), params: {"distance_m": 0.05}),
        "mpre": (kind: "preamp", pos: (1140.0, 120.0), params: {"gain_db": 40.0}),
        "out": (kind: "output", pos: (1360.0, 120.0), params: {}),
        "pre": (kind: "preamp", pos: (260.0, 120.0), params: {"gain_db": 30.0, "model": "tube_12ax7"}),
    },
    wires: [
        ("guitar.out", "pre.in"),
        ("pre.out", "amp.in"),
        ("amp.out", "cab.in"),
        ("cab.out", "mic.in"),
        ("mic.out", "mpre.in"),
        ("mpre.out", "out.in"),
    ],
)
"#;

/// A canonical text with the awkward cases: escapes, unicode, exponents,
/// negative zero, booleans, empty params.
const TRICKY_CANONICAL: &str = r#"(
    version: 1,
    name: "a \"quoted\" name with a \\ backslash",
    description: "line one\nline two\ttabbed \u{1b}[0m Ω é 日本 🎸",
    nodes: {
        "a-1": (kind: "tone", pos: (-0.5, 1e-7), params: {"freq_hz": 0.1, "huge": 1e20, "on": true, "tiny": -1e-7, "zero": -0.0}),
        "b_2": (kind: "gain", pos: (0.0, 3.4028235e38), params: {}),
        "c": (kind: "output", pos: (1.0, 2.0), params: {"name": "", "path": "sub/ü.wav"}),
    },
    wires: [
        ("b_2.out", "c.in"),
        ("a-1.out", "b_2.in"),
        ("a-1.out", "c.in"),
    ],
)
"#;

const EMPTY_CANONICAL: &str = "(\n    version: 1,\n    name: \"\",\n    description: \"\",\n    nodes: {},\n    wires: [],\n)\n";

fn load(text: &str) -> Patch {
    match load_str(text, "<test>") {
        Ok(p) => p,
        Err(e) => panic!("load failed:\n{e}"),
    }
}

fn load_err(text: &str) -> LoadError {
    match load_str(text, "t.ohm.ron") {
        Ok(p) => panic!("expected an error, loaded {p:?}"),
        Err(e) => e,
    }
}

fn unreadable(text: &str) -> String {
    match load_err(text) {
        e @ LoadError::Unreadable { .. } => {
            assert_eq!(e.exit_code(), 2);
            e.to_string()
        }
        e => panic!("expected unreadable, got {e}"),
    }
}

fn invalid(text: &str) -> Vec<ohmpatch_patch::Diagnostic> {
    match load_err(text) {
        LoadError::Invalid(d) => {
            assert!(!d.is_empty());
            d
        }
        e => panic!("expected invalid, got {e}"),
    }
}

#[test]
fn contract_example_canonicalises() {
    let p = load(CONTRACT_EXAMPLE);
    assert_eq!(p.nodes.len(), 7);
    assert_eq!(p.wires.len(), 6);
    assert_eq!(p.nodes["mic"].params["distance_m"], Value::Number(0.05));
    assert_eq!(p.nodes["pre"].params["model"], Value::from("tube_12ax7"));
    let saved = to_ron_string(&p);
    assert_eq!(saved, CONTRACT_CANONICAL);
    let again = load(&saved);
    assert_eq!(again, p);
    assert_eq!(to_ron_string(&again), saved);
}

#[test]
fn canonical_texts_round_trip_byte_for_byte() {
    for text in [CONTRACT_CANONICAL, TRICKY_CANONICAL, EMPTY_CANONICAL] {
        let p = load(text);
        assert_eq!(to_ron_string(&p), text);
    }
    let p = load(TRICKY_CANONICAL);
    assert_eq!(p.name, "a \"quoted\" name with a \\ backslash");
    assert_eq!(
        p.description,
        "line one\nline two\ttabbed \u{1b}[0m Ω é 日本 🎸"
    );
    assert_eq!(p.nodes["a-1"].params["tiny"], Value::Number(-1e-7));
    assert_eq!(p.nodes["a-1"].params["on"], Value::Bool(true));
    assert_eq!(p.nodes["a-1"].pos, (-0.5, 1e-7));
    assert_eq!(p.nodes["b_2"].pos.1, f32::MAX);
    // Wires keep the file's order, not a sorted one.
    assert_eq!(p.wires[0].from, Endpoint::new("b_2", "out"));
    assert_eq!(Patch::default(), load(EMPTY_CANONICAL));
}

#[test]
fn one_changed_knob_is_a_one_line_diff() {
    let mut p = load(CONTRACT_CANONICAL);
    p.nodes
        .get_mut("pre")
        .unwrap()
        .params
        .insert("gain_db".into(), Value::Number(31.5));
    let before: Vec<&str> = CONTRACT_CANONICAL.lines().collect();
    let text = to_ron_string(&p);
    let after: Vec<&str> = text.lines().collect();
    assert_eq!(before.len(), after.len());
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    assert_eq!(changed.len(), 1);
    assert!(after[changed[0]].contains("\"gain_db\": 31.5"));
}

#[test]
fn saved_patches_load_back_equal() {
    let mut p = Patch {
        name: "weird \u{0} \u{7f} \u{2028} \"'\\".into(),
        description: "\r\n".into(),
        ..Patch::default()
    };
    let numbers = [
        0.1 + 0.2,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -1e-7,
        123_456_789.123_456_79,
        1e15,
        1e16,
        1e17,
        -0.0,
        30.0,
        f64::EPSILON,
    ];
    for (i, n) in numbers.iter().enumerate() {
        let mut node = Node::new(
            "gain",
            (0.1 * i as f32, -1e-7 * i as f32 + f32::MIN_POSITIVE),
        );
        node.params.insert("n".into(), Value::Number(*n));
        node.params.insert("s".into(), Value::from("x\"y\\z\n"));
        node.params.insert("b".into(), Value::Bool(i % 2 == 0));
        p.nodes.insert(format!("n{i}"), node);
    }
    p.nodes
        .insert("max".into(), Node::new("gain", (f32::MAX, f32::MIN)));
    p.wires.push(Wire::parse("n1.out", "n0.in").unwrap());
    p.wires.push(Wire::parse("n0.out", "max.in").unwrap());
    let text = to_ron_string(&p);
    let back = load(&text);
    assert_eq!(back, p);
    assert_eq!(to_ron_string(&back), text);
}

#[test]
fn lenient_reading_of_hand_written_files() {
    // Integers for numbers, a struct name on the root and on nodes, omitted
    // optional fields and comments are all fine.
    let p = load(
        r#"
        // a hand-written patch
        Patch(
            version: 1,
            nodes: {
                "a": Node(kind: "tone", pos: (40, -120), params: {"freq_hz": 440, "x": -3}),
                /* no pos, no params */
                "b": (kind: "output"),
            },
            wires: [("a.out", "b.in")],
        )"#,
    );
    assert_eq!(p.name, "");
    assert_eq!(p.nodes["a"].pos, (40.0, -120.0));
    assert_eq!(p.nodes["a"].params["freq_hz"], Value::Number(440.0));
    assert_eq!(p.nodes["a"].params["x"], Value::Number(-3.0));
    assert_eq!(p.nodes["b"], Node::new("output", (0.0, 0.0)));
    assert_eq!(p.wires.len(), 1);

    let p = load("(version: 1)");
    assert_eq!(p, Patch::default());
}

#[test]
fn non_finite_and_huge_numbers_load_without_panic() {
    let p = load(
        r#"(version: 1, nodes: {"a": (kind: "gain", pos: (NaN, inf), params: {
            "nan": NaN, "inf": inf, "ninf": -inf, "big": 1e999,
            "bigint": 999999999999999999999999999999999999999, "neg": -99999999999999999999999})})"#,
    );
    let params = &p.nodes["a"].params;
    assert!(params["nan"].as_f64().unwrap().is_nan());
    assert_eq!(params["inf"], Value::Number(f64::INFINITY));
    assert_eq!(params["ninf"], Value::Number(f64::NEG_INFINITY));
    assert_eq!(params["big"], Value::Number(f64::INFINITY));
    assert!(params["bigint"].as_f64().unwrap() > 1e38);
    assert!(params["neg"].as_f64().unwrap() < -1e22);
    assert!(p.nodes["a"].pos.0.is_nan());
    // Saving writes them in a form that loads again.
    let again = load(&to_ron_string(&p));
    assert_eq!(again.nodes["a"].params["inf"], Value::Number(f64::INFINITY));
    assert!(again.nodes["a"].params["nan"].as_f64().unwrap().is_nan());
}

#[test]
fn truncated_files_are_refused_never_panic() {
    for text in [CONTRACT_EXAMPLE, TRICKY_CANONICAL] {
        let end = text.rfind(')').unwrap();
        for cut in (0..end).filter(|&i| text.is_char_boundary(i)) {
            match load_str(&text[..cut], "cut.ohm.ron") {
                Err(LoadError::Unreadable { .. }) => {}
                other => panic!("cut at {cut} gave {other:?}"),
            }
        }
    }
}

#[test]
fn garbage_is_unreadable() {
    for text in [
        "garbage",
        "\0\0\0\u{1}",
        "}{",
        "[1, 2, 3]",
        "42",
        "\"just a string\"",
        "(version: 1,",
        "(version: \"one\")",
        "(version: -1)",
        "(version: 1.5)",
        "(version: 1, nodes: [])",
        "(version: 1, nodes: {\"a\": 5})",
        "(version: 1, nodes: {\"a\": (kind: 5)})",
        "(version: 1, wires: {})",
        "(version: 1) trailing",
        "(version: 1, version: 1)",
        "Foo(version: 1)",
        "(version: 1, nodes: {\"a\": (pos: (1, 2))})",
        "(version: 1, nodes: {\"a\": (kind: \"x\", pos: (1, 2, 3))})",
        "(version: 1, nodes: {\"a\": (kind: \"x\", pos: \"here\")})",
        "#![enable(nonsense)] (version: 1)",
        "(version: 1, name: \"unterminated)",
        "/* unclosed comment (version: 1)",
    ] {
        let msg = unreadable(text);
        assert!(msg.starts_with("t.ohm.ron:"), "{msg}");
    }
    // Pseudo-random bytes, made into text.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for len in [1usize, 7, 64, 1000, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        assert!(matches!(
            load_str(&text, "r"),
            Err(LoadError::Unreadable { .. })
        ));
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep = "(".repeat(200_000);
    unreadable(&deep);
    let list = format!(
        "(version: 1, nodes: {{\"a\": (kind: \"x\", params: {{\"p\": {}1{}}})}})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let msg = unreadable(&list);
    assert!(msg.contains("nested too deeply"), "{msg}");
}

#[test]
fn empty_file_is_unreadable() {
    for text in ["", "   \n\t", "\u{feff}"] {
        let msg = unreadable(text);
        assert!(msg.contains("the file is empty"), "{msg}");
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    let msg =
        unreadable("(\n    version: 1,\n    nodes: {\n        \"a\" (kind: \"x\"),\n    },\n)");
    assert!(msg.starts_with("t.ohm.ron:4:"), "{msg}");
}

#[test]
fn unknown_fields_are_named() {
    let msg = unreadable("(\n    version: 1,\n    colour: \"red\",\n)");
    assert!(msg.starts_with("t.ohm.ron:3:"), "{msg}");
    assert!(
        msg.contains("unknown field \"colour\" in the patch"),
        "{msg}"
    );
    assert!(
        msg.contains("version, name, description, nodes, wires"),
        "{msg}"
    );
    let msg = unreadable("(version: 1, nodes: {\"a\": (kind: \"x\", colour: 1)})");
    assert!(msg.contains("unknown field \"colour\" in a node"), "{msg}");
}

#[test]
fn missing_version_is_unreadable() {
    let msg = unreadable("(name: \"x\")");
    assert!(msg.contains("no \"version\" field"), "{msg}");
}

#[test]
fn newer_version_is_refused_with_the_version_this_build_reads() {
    for text in [
        "(version: 3, nodes: {}, groups: [(\"a\", \"b\")])",
        "(version: 3, some_new_syntax: <<>>)",
        "Patch(\n  version: 3,\n)",
        "(version: 4294967296)",
    ] {
        let msg = unreadable(text);
        assert!(
            msg.contains("this build of ohmpatch reads version 1 and older"),
            "{msg}"
        );
    }
    let msg = unreadable("(version: 3)");
    assert!(
        msg.contains(
            "this patch is format version 3; this build of ohmpatch reads version 1 and older"
        ),
        "{msg}"
    );
}

#[test]
fn version_0_is_migrated() {
    let v0 = r#"(
    version: 0,
    name: "old",
    nodes: {
        "a": (kind: "tone", pos: (1.0, 2.0)),
        "b": (kind: "output"),
    },
    wires: [
        (from: "a.out", to: "b.in"),
        Wire(from: "b.out", to: "a.in"),
    ],
)"#;
    let p = load(v0);
    assert_eq!(p.version, CURRENT_VERSION);
    assert_eq!(
        p.wires,
        vec![
            Wire::parse("a.out", "b.in").unwrap(),
            Wire::parse("b.out", "a.in").unwrap()
        ]
    );
    let saved = to_ron_string(&p);
    assert!(saved.contains("    version: 1,\n"));
    assert!(saved.contains("        (\"a.out\", \"b.in\"),\n"));
    assert_eq!(load(&saved), p);
}

#[test]
fn version_1_refuses_the_version_0_wire_form() {
    let d = invalid(
        "(\n    version: 1,\n    wires: [\n        (from: \"a.out\", to: \"b.in\"),\n    ],\n)",
    );
    assert_eq!(d[0].location, Some(Location::new(4, 9)));
    assert!(
        d[0].message.contains("the form of format version 0"),
        "{}",
        d[0]
    );
}

#[test]
fn duplicate_node_ids_are_found() {
    let d = invalid(
        "(\n    version: 1,\n    nodes: {\n        \"a\": (kind: \"tone\"),\n        \"b\": (kind: \"tone\"),\n        \"a\": (kind: \"gain\"),\n    },\n)",
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "duplicate node id \"a\"");
    assert_eq!(d[0].location, Some(Location::new(6, 9)));
    assert_eq!(d[0].to_string(), "t.ohm.ron:6:9: duplicate node id \"a\"");
}

#[test]
fn bad_ids_and_wire_strings_are_located() {
    let d = invalid(
        "(\n    version: 1,\n    nodes: {\n        \"a b\": (kind: \"tone\"),\n        \"ok\": (kind: \"x\", params: {\"p\": [1, 2], \"q\": 1, \"q\": 2}),\n    },\n    wires: [\n        (\"ok.out\", \"nodot\"),\n        (\"ok.out\", \".in\"),\n        \"oops\",\n    ],\n)",
    );
    let msgs: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    let expect = [
        "t.ohm.ron:4:9: node id \"a b\" is not allowed",
        "t.ohm.ron:5:36: node \"ok\" param \"p\" is a list or tuple; a param value is a number, a string, true or false",
        "t.ohm.ron:5:57: node \"ok\" has param \"q\" twice",
        "t.ohm.ron:8:20: wire 1: \"nodot\" is not a port; a wire end is written \"node.port\"",
        "t.ohm.ron:9:20: wire 2: \".in\" is not a port",
        "t.ohm.ron:10:9: wire 3 is the string \"oops\"; a wire is written (\"a.out\", \"b.in\")",
    ];
    assert_eq!(msgs.len(), expect.len(), "{msgs:#?}");
    for (m, e) in msgs.iter().zip(expect) {
        assert!(m.starts_with(e), "{m}\n  does not start with\n{e}");
    }
}

fn many_nodes(n: usize) -> String {
    let mut s = String::from("(version: 1, nodes: {\n");
    for i in 0..n {
        s.push_str(&format!("\"n{i}\": (kind: \"gain\"),\n"));
    }
    s.push_str("})");
    s
}

#[test]
fn size_limits() {
    assert_eq!(load(&many_nodes(10_000)).nodes.len(), 10_000);
    let d = invalid(&many_nodes(10_001));
    assert!(
        d[0].message.contains("10001 nodes; at most 10000"),
        "{}",
        d[0]
    );

    let mut s = String::from("(version: 1, wires: [\n");
    for _ in 0..100_001 {
        s.push_str("(\"a.out\", \"b.in\"),\n");
    }
    s.push_str("])");
    let d = invalid(&s);
    assert!(
        d[0].message.contains("100001 wires; at most 100000"),
        "{}",
        d[0]
    );
}

#[test]
fn load_file_reports_io_and_encoding_problems() {
    let dir = common::TempDir::new("load");
    let missing = dir.path().join("missing.ohm.ron");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the file: it does not exist",
            missing.display()
        )
    );

    let e = load_file(dir.path()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("cannot read the file"), "{e}");

    let bad = dir.path().join("bad.ohm.ron");
    std::fs::write(&bad, b"(\n    version: 1,\n    name: \"caf\xe9\",\n)").unwrap();
    let e = load_file(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:15: the file is not UTF-8 text (is it a patch file?)",
            bad.display()
        )
    );

    let big = dir.path().join("big.ohm.ron");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    let e = load_file(&big).unwrap_err();
    assert!(e.to_string().contains("too large to be a patch"), "{e}");

    let good = dir.path().join("good.ohm.ron");
    std::fs::write(&good, CONTRACT_EXAMPLE).unwrap();
    assert_eq!(load_file(&good).unwrap(), load(CONTRACT_EXAMPLE));

    let e = load_file(&dir.path().join("dup.ohm.ron")).unwrap_err();
    assert!(matches!(e, LoadError::Unreadable { .. }));
    std::fs::write(
        dir.path().join("dup.ohm.ron"),
        "(version: 1, nodes: {\"a\": (kind: \"x\"), \"a\": (kind: \"x\")})",
    )
    .unwrap();
    let e = load_file(&dir.path().join("dup.ohm.ron")).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1:", dir.path().join("dup.ohm.ron").display())),
        "{e}"
    );
}

#[test]
fn random_mutations_never_panic() {
    let catalogue = common::catalogue();
    let pieces = [
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "\"",
        "\\",
        "r#\"",
        "'",
        "/*",
        "//",
        "\n",
        "NaN",
        "-",
        "1e999",
        "..",
        "Some(",
        "Node",
        "#",
        "é",
        "\u{0}",
        "99999999999999999999999",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for _ in 0..3000 {
        let mut text = CONTRACT_EXAMPLE.to_string();
        for _ in 0..1 + next(4) {
            let mut at = next(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match next(3) {
                0 => text.insert_str(at, pieces[next(pieces.len())]),
                1 => {
                    let mut end = (at + 1 + next(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + 1).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, pieces[next(pieces.len())]);
                }
            }
        }
        if let Ok(p) = load_str(&text, "m") {
            let _ = ohmpatch_patch::validate(&p, &catalogue, "m", Some(&text));
            assert_eq!(
                load_str(&to_ron_string(&p), "m").map(|q| to_ron_string(&q)),
                Ok(to_ron_string(&p))
            );
        }
    }
}

#[test]
fn value_deserializes_integers_as_numbers() {
    // Other crates may deserialize a `Value` directly (from RON or JSON).
    assert_eq!(ron::from_str::<Value>("30"), Ok(Value::Number(30.0)));
    assert_eq!(ron::from_str::<Value>("-3"), Ok(Value::Number(-3.0)));
    assert_eq!(ron::from_str::<Value>("0.05"), Ok(Value::Number(0.05)));
    assert_eq!(ron::from_str::<Value>("true"), Ok(Value::Bool(true)));
    assert_eq!(
        serde_json::from_str::<Value>("30").unwrap(),
        Value::Number(30.0)
    );
    assert_eq!(
        serde_json::from_str::<Value>("\"x\"").unwrap(),
        Value::from("x")
    );
}
