//! The edit history: every edit undoes to exactly the previous patch and
//! redoes to exactly the edited one; gestures merge; errors change nothing.

use ohmpatch_patch::{Edit, History, Node, Patch, Value, Wire};

fn w(from: &str, to: &str) -> Wire {
    Wire::parse(from, to).unwrap()
}

/// Nodes a (tone), b (gain), c (gain), d (output); wires chosen so that
/// removing b takes wires from the middle of the list.
fn base() -> Patch {
    let mut p = Patch {
        name: "base".into(),
        description: "desc".into(),
        ..Patch::default()
    };
    p.nodes.insert("a".into(), Node::new("tone", (0.0, 0.0)));
    let mut b = Node::new("gain", (100.0, 0.0));
    b.params.insert("gain_db".into(), Value::Number(3.0));
    p.nodes.insert("b".into(), b);
    p.nodes
        .insert("c".into(), Node::new("gain", (100.0, 100.0)));
    p.nodes
        .insert("d".into(), Node::new("output", (200.0, 0.0)));
    p.wires = vec![
        w("a.out", "b.in"),
        w("a.out", "c.in"),
        w("b.out", "d.in"),
        w("c.out", "d.in"),
    ];
    p
}

/// Apply `edit`, check it changed the patch, then undo → exactly before,
/// redo → exactly after, undo again → before. Returns the edited patch.
fn round_trip(edit: Edit) -> Patch {
    let mut p = base();
    let before = p.clone();
    let mut h = History::new();
    h.apply(&mut p, edit).unwrap();
    let after = p.clone();
    assert_ne!(after, before, "the edit changed nothing");
    assert!(h.can_undo() && !h.can_redo());
    assert!(h.undo(&mut p));
    assert_eq!(p, before);
    assert!(!h.can_undo() && h.can_redo());
    assert!(h.redo(&mut p));
    assert_eq!(p, after);
    assert!(h.undo(&mut p));
    assert_eq!(p, before);
    assert!(!h.undo(&mut p));
    assert_eq!(p, before);
    after
}

#[test]
fn add_node() {
    let after = round_trip(Edit::AddNode {
        id: "e".into(),
        node: Node::new("mic", (1.0, 2.0)),
    });
    assert_eq!(after.nodes["e"], Node::new("mic", (1.0, 2.0)));
}

#[test]
fn remove_node_takes_its_wires_and_undo_puts_them_back_in_place() {
    let after = round_trip(Edit::RemoveNode { id: "b".into() });
    assert!(!after.nodes.contains_key("b"));
    assert_eq!(after.wires, vec![w("a.out", "c.in"), w("c.out", "d.in")]);
}

#[test]
fn move_node() {
    let after = round_trip(Edit::MoveNode {
        id: "c".into(),
        pos: (5.0, -7.5),
    });
    assert_eq!(after.nodes["c"].pos, (5.0, -7.5));
}

#[test]
fn connect_and_disconnect() {
    let after = round_trip(Edit::Connect(w("b.out", "c.in")));
    assert_eq!(after.wires.last(), Some(&w("b.out", "c.in")));
    let after = round_trip(Edit::Disconnect(w("a.out", "c.in")));
    assert_eq!(
        after.wires,
        vec![w("a.out", "b.in"), w("b.out", "d.in"), w("c.out", "d.in")]
    );
}

#[test]
fn set_param_new_changed_and_back_to_default() {
    let after = round_trip(Edit::SetParam {
        id: "c".into(),
        name: "gain_db".into(),
        value: Some(Value::Number(-6.0)),
    });
    assert_eq!(after.nodes["c"].params["gain_db"], Value::Number(-6.0));
    let after = round_trip(Edit::SetParam {
        id: "b".into(),
        name: "gain_db".into(),
        value: Some(Value::Number(4.0)),
    });
    assert_eq!(after.nodes["b"].params["gain_db"], Value::Number(4.0));
    let after = round_trip(Edit::SetParam {
        id: "b".into(),
        name: "gain_db".into(),
        value: None,
    });
    assert!(after.nodes["b"].params.is_empty());
}

#[test]
fn rename_node_rewrites_wires() {
    let after = round_trip(Edit::RenameNode {
        from: "b".into(),
        to: "boost".into(),
    });
    assert!(!after.nodes.contains_key("b"));
    assert_eq!(after.nodes["boost"].params["gain_db"], Value::Number(3.0));
    assert_eq!(
        after.wires,
        vec![
            w("a.out", "boost.in"),
            w("a.out", "c.in"),
            w("boost.out", "d.in"),
            w("c.out", "d.in")
        ]
    );
}

#[test]
fn set_name_and_description() {
    assert_eq!(round_trip(Edit::SetName("new".into())).name, "new");
    assert_eq!(
        round_trip(Edit::SetDescription("more".into())).description,
        "more"
    );
}

#[test]
fn paste() {
    let after = round_trip(Edit::Paste {
        nodes: vec![
            ("b2".into(), Node::new("gain", (300.0, 0.0))),
            ("c2".into(), Node::new("gain", (300.0, 100.0))),
        ],
        wires: vec![w("b2.out", "c2.in"), w("a.out", "b2.in")],
    });
    assert_eq!(after.nodes.len(), 6);
    assert_eq!(
        &after.wires[4..],
        &[w("b2.out", "c2.in"), w("a.out", "b2.in")]
    );
}

#[test]
fn failing_edits_change_nothing() {
    let bad = [
        Edit::AddNode {
            id: "a".into(),
            node: Node::new("x", (0.0, 0.0)),
        },
        Edit::AddNode {
            id: "not valid".into(),
            node: Node::new("x", (0.0, 0.0)),
        },
        Edit::RemoveNode { id: "zz".into() },
        Edit::MoveNode {
            id: "zz".into(),
            pos: (1.0, 1.0),
        },
        Edit::Connect(w("a.out", "b.in")),
        Edit::Connect(w("zz.out", "b.in")),
        Edit::Connect(w("a.out", "zz.in")),
        Edit::Disconnect(w("d.out", "a.in")),
        Edit::SetParam {
            id: "zz".into(),
            name: "p".into(),
            value: None,
        },
        Edit::RenameNode {
            from: "a".into(),
            to: "b".into(),
        },
        Edit::RenameNode {
            from: "zz".into(),
            to: "y".into(),
        },
        Edit::RenameNode {
            from: "a".into(),
            to: "a.b".into(),
        },
        Edit::Paste {
            nodes: vec![("a".into(), Node::new("x", (0.0, 0.0)))],
            wires: vec![],
        },
        Edit::Paste {
            nodes: vec![
                ("n".into(), Node::new("x", (0.0, 0.0))),
                ("n".into(), Node::new("x", (0.0, 0.0))),
            ],
            wires: vec![],
        },
        Edit::Paste {
            nodes: vec![("n".into(), Node::new("x", (0.0, 0.0)))],
            wires: vec![w("n.out", "zz.in")],
        },
        Edit::Paste {
            nodes: vec![("n".into(), Node::new("x", (0.0, 0.0)))],
            wires: vec![w("a.out", "b.in")],
        },
    ];
    for edit in bad {
        let mut p = base();
        let mut h = History::new();
        let rev = h.revision();
        let e = h.apply(&mut p, edit.clone());
        assert!(e.is_err(), "{edit:?} applied");
        assert!(!e.unwrap_err().is_empty());
        assert_eq!(p, base(), "{edit:?} changed the patch");
        assert!(!h.can_undo());
        assert_eq!(h.revision(), rev);
        assert!(!h.is_dirty());
    }
}

#[test]
fn merged_gestures_undo_in_one_step() {
    let mut p = base();
    let before = p.clone();
    let mut h = History::new();
    // A knob drag: many small changes with one gesture id.
    for i in 0..50 {
        h.apply_merged(
            &mut p,
            Edit::SetParam {
                id: "b".into(),
                name: "gain_db".into(),
                value: Some(Value::Number(f64::from(i))),
            },
            7,
        )
        .unwrap();
    }
    let after_knob = p.clone();
    // A node drag: another gesture, its own step.
    for i in 0..20 {
        h.apply_merged(
            &mut p,
            Edit::MoveNode {
                id: "a".into(),
                pos: (i as f32, 2.0 * i as f32),
            },
            8,
        )
        .unwrap();
    }
    let after_drag = p.clone();
    assert_eq!(h.undo_label().as_deref(), Some("move node a"));
    assert!(h.undo(&mut p));
    assert_eq!(p, after_knob);
    assert_eq!(h.undo_label().as_deref(), Some("set b gain_db"));
    assert!(h.undo(&mut p));
    assert_eq!(p, before);
    assert!(!h.can_undo());
    assert!(h.redo(&mut p));
    assert_eq!(p, after_knob);
    assert!(h.redo(&mut p));
    assert_eq!(p, after_drag);
}

#[test]
fn a_gesture_broken_by_another_edit_does_not_merge() {
    let mut p = base();
    let mut h = History::new();
    let mv = |x: f32| Edit::MoveNode {
        id: "a".into(),
        pos: (x, 0.0),
    };
    h.apply_merged(&mut p, mv(1.0), 1).unwrap();
    h.apply(&mut p, Edit::SetName("x".into())).unwrap();
    h.apply_merged(&mut p, mv(2.0), 1).unwrap();
    let mid = {
        let mut m = p.clone();
        m.nodes.get_mut("a").unwrap().pos = (1.0, 0.0);
        m
    };
    assert!(h.undo(&mut p));
    assert_eq!(p, mid);
    // After an undo, the same gesture id starts a new step too.
    h.apply_merged(&mut p, mv(3.0), 1).unwrap();
    assert!(!h.can_redo());
    assert!(h.undo(&mut p));
    assert_eq!(p, mid);
}

#[test]
fn a_gesture_mixing_edits_undoes_in_one_step() {
    let mut p = base();
    let before = p.clone();
    let mut h = History::new();
    h.apply_merged(
        &mut p,
        Edit::MoveNode {
            id: "b".into(),
            pos: (1.0, 1.0),
        },
        3,
    )
    .unwrap();
    h.apply_merged(&mut p, Edit::RemoveNode { id: "c".into() }, 3)
        .unwrap();
    h.apply_merged(
        &mut p,
        Edit::MoveNode {
            id: "b".into(),
            pos: (2.0, 2.0),
        },
        3,
    )
    .unwrap();
    let after = p.clone();
    assert!(h.undo(&mut p));
    assert_eq!(p, before);
    assert!(!h.can_undo());
    assert!(h.redo(&mut p));
    assert_eq!(p, after);
}

#[test]
fn groups_are_one_step_and_fail_as_a_whole() {
    let mut p = base();
    let before = p.clone();
    let mut h = History::new();
    h.apply_group(
        &mut p,
        vec![
            Edit::Disconnect(w("a.out", "c.in")),
            Edit::RemoveNode { id: "b".into() },
            Edit::RemoveNode { id: "c".into() },
        ],
        "delete 2 nodes",
    )
    .unwrap();
    assert_eq!(p.nodes.len(), 2);
    assert!(p.wires.is_empty());
    let after = p.clone();
    assert_eq!(h.undo_label().as_deref(), Some("delete 2 nodes"));
    assert!(h.undo(&mut p));
    assert_eq!(p, before);
    assert_eq!(h.redo_label().as_deref(), Some("delete 2 nodes"));
    assert!(h.redo(&mut p));
    assert_eq!(p, after);

    let mut p = base();
    let mut h = History::new();
    let e = h.apply_group(
        &mut p,
        vec![
            Edit::RemoveNode { id: "b".into() },
            Edit::SetName("x".into()),
            Edit::RemoveNode { id: "b".into() },
        ],
        "bad",
    );
    assert!(e.is_err());
    assert_eq!(p, base());
    assert!(!h.can_undo());
}

#[test]
fn a_new_edit_clears_redo() {
    let mut p = base();
    let mut h = History::new();
    h.apply(&mut p, Edit::SetName("one".into())).unwrap();
    assert!(h.undo(&mut p));
    assert!(h.can_redo());
    h.apply(&mut p, Edit::SetName("two".into())).unwrap();
    assert!(!h.can_redo());
    assert!(!h.redo(&mut p));
    assert_eq!(p.name, "two");
}

#[test]
fn edits_that_change_nothing_record_nothing() {
    let mut p = base();
    let mut h = History::new();
    h.apply(
        &mut p,
        Edit::MoveNode {
            id: "a".into(),
            pos: (0.0, 0.0),
        },
    )
    .unwrap();
    h.apply(&mut p, Edit::SetName("base".into())).unwrap();
    h.apply(
        &mut p,
        Edit::RenameNode {
            from: "a".into(),
            to: "a".into(),
        },
    )
    .unwrap();
    h.apply_group(&mut p, vec![], "nothing").unwrap();
    assert!(!h.can_undo());
    assert!(!h.is_dirty());
}

#[test]
fn labels() {
    let cases = [
        (
            Edit::MoveNode {
                id: "amp".into(),
                pos: (1.0, 1.0),
            },
            "move node amp",
        ),
        (Edit::RemoveNode { id: "amp".into() }, "remove node amp"),
        (Edit::Connect(w("a.out", "b.in")), "connect a.out to b.in"),
        (
            Edit::SetParam {
                id: "b".into(),
                name: "gain_db".into(),
                value: None,
            },
            "reset b gain_db",
        ),
        (
            Edit::Paste {
                nodes: vec![],
                wires: vec![],
            },
            "paste 0 nodes",
        ),
    ];
    for (edit, label) in cases {
        assert_eq!(edit.label(), label);
    }
    let mut h = History::new();
    assert_eq!(h.undo_label(), None);
    let mut p = base();
    h.apply(&mut p, Edit::RemoveNode { id: "d".into() })
        .unwrap();
    assert_eq!(h.undo_label().as_deref(), Some("remove node d"));
    assert_eq!(h.redo_label(), None);
}

#[test]
fn revision_and_dirty_marker() {
    let mut p = base();
    let mut h = History::new();
    assert!(!h.is_dirty());
    let r0 = h.revision();
    h.apply(&mut p, Edit::SetName("1".into())).unwrap();
    let r1 = h.revision();
    assert_ne!(r1, r0);
    assert!(h.is_dirty());
    h.mark_saved();
    assert!(!h.is_dirty());
    assert!(h.undo(&mut p));
    assert_ne!(h.revision(), r1);
    assert!(h.is_dirty());
    let r2 = h.revision();
    assert!(h.redo(&mut p));
    assert_ne!(h.revision(), r2);
    assert!(!h.is_dirty(), "redo back to the saved state is clean");

    // Saving in the middle of a drag: undo returns exactly to the saved state.
    let mv = |x: f32| Edit::MoveNode {
        id: "a".into(),
        pos: (x, 0.0),
    };
    h.apply_merged(&mut p, mv(1.0), 9).unwrap();
    h.mark_saved();
    let saved = p.clone();
    h.apply_merged(&mut p, mv(2.0), 9).unwrap();
    assert!(h.is_dirty());
    assert!(h.undo(&mut p));
    assert_eq!(p, saved);
    assert!(!h.is_dirty());

    // A merged edit after saving makes it dirty even though the step is the same.
    let mut p = base();
    let mut h = History::new();
    h.apply_merged(&mut p, mv(1.0), 4).unwrap();
    h.mark_saved();
    h.apply_merged(&mut p, mv(2.0), 5).unwrap();
    assert!(h.is_dirty());

    // Clearing keeps the dirty state.
    h.clear();
    assert!(!h.can_undo() && !h.can_redo());
    assert!(h.is_dirty());
    h.mark_saved();
    assert!(!h.is_dirty());
}

#[test]
fn undo_refuses_when_the_patch_changed_behind_its_back() {
    let mut p = base();
    let mut h = History::new();
    h.apply(
        &mut p,
        Edit::AddNode {
            id: "e".into(),
            node: Node::new("x", (0.0, 0.0)),
        },
    )
    .unwrap();
    p.nodes.remove("e");
    let snapshot = p.clone();
    assert!(!h.undo(&mut p));
    assert_eq!(p, snapshot);
    assert!(h.can_undo());
}
