//! Atomic saving: a failure between writing and renaming leaves the old file
//! byte for byte and no temporary file behind.

mod common;

use ohmpatch_patch::io::{SaveStage, save_atomic_with};
use ohmpatch_patch::{Node, Patch, load_file, save_atomic, save_text_atomic, to_ron_string};

fn patch() -> Patch {
    let mut p = Patch {
        name: "saved".into(),
        ..Patch::default()
    };
    p.nodes.insert("t".into(), Node::new("tone", (1.0, 2.0)));
    p
}

#[test]
fn save_writes_the_canonical_text_and_leaves_nothing_else() {
    let dir = common::TempDir::new("save");
    let path = dir.path().join("p.ohm.ron");
    save_atomic(&path, &patch()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        to_ron_string(&patch())
    );
    assert_eq!(load_file(&path).unwrap(), patch());
    // Overwrite.
    let mut q = patch();
    q.name = "again".into();
    save_atomic(&path, &q).unwrap();
    assert_eq!(load_file(&path).unwrap(), q);
    assert_eq!(dir.names(), ["p.ohm.ron"]);
}

#[test]
fn a_failure_before_the_rename_keeps_the_old_file() {
    for stage in [SaveStage::Written, SaveStage::Synced] {
        let dir = common::TempDir::new("fail");
        let path = dir.path().join("p.ohm.ron");
        let old = b"(version: 1, name: \"old\")\n";
        std::fs::write(&path, old).unwrap();
        let mut stages = Vec::new();
        let err = save_atomic_with(&path, "(version: 1, name: \"new\")\n", &mut |s| {
            stages.push(s);
            if s == stage {
                // The temporary file exists beside the target at this point.
                let names = dir.names();
                assert_eq!(names.len(), 2, "{names:?}");
                assert!(
                    names.iter().any(|n| n.starts_with(".p.ohm.ron.tmp-")),
                    "{names:?}"
                );
                Err(std::io::Error::other("disk full (injected)"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full (injected)");
        assert_eq!(stages.last(), Some(&stage));
        assert_eq!(std::fs::read(&path).unwrap(), old);
        assert_eq!(dir.names(), ["p.ohm.ron"], "a temporary file was left");
    }
}

#[test]
fn hooks_see_both_stages_in_order() {
    let dir = common::TempDir::new("stages");
    let path = dir.path().join("p.ohm.ron");
    let mut stages = Vec::new();
    save_atomic_with(&path, "x", &mut |s| {
        stages.push(s);
        Ok(())
    })
    .unwrap();
    assert_eq!(stages, [SaveStage::Written, SaveStage::Synced]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
}

#[test]
fn saving_into_a_missing_folder_fails_cleanly() {
    let dir = common::TempDir::new("missing");
    let path = dir.path().join("no").join("p.ohm.ron");
    assert!(save_text_atomic(&path, "x").is_err());
    assert!(dir.names().is_empty());
    assert!(save_text_atomic(std::path::Path::new("/"), "x").is_err());
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_files_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::TempDir::new("perm");
    let path = dir.path().join("p.ohm.ron");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    save_text_atomic(&path, "new").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}
