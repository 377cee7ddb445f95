//! Param paths stay inside the patch's folder unless the user allows more.

mod common;

use ohmpatch_patch::{PathError, resolve_param_path};

#[test]
fn relative_paths_resolve_inside() {
    let dir = common::TempDir::new("paths");
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("b.wav"), "").unwrap();
    assert_eq!(resolve_param_path(d, "b.wav", false), Ok(d.join("b.wav")));
    assert_eq!(
        resolve_param_path(d, "a/../b.wav", false),
        Ok(d.join("b.wav"))
    );
    assert_eq!(
        resolve_param_path(d, "sub/../sub/x.wav", false),
        Ok(d.join("sub/x.wav"))
    );
    // Files that do not exist yet (a recorder's output) are fine too.
    assert_eq!(
        resolve_param_path(d, "sub/new/rec.wav", false),
        Ok(d.join("sub/new/rec.wav"))
    );
}

#[test]
fn absolute_and_escaping_paths_are_refused() {
    let dir = common::TempDir::new("paths");
    let d = dir.path();
    assert_eq!(
        resolve_param_path(d, "/etc/passwd", false),
        Err(PathError::Absolute("/etc/passwd".into()))
    );
    assert_eq!(
        resolve_param_path(d, "../x.wav", false),
        Err(PathError::Escapes("../x.wav".into()))
    );
    assert_eq!(
        resolve_param_path(d, "sub/../../x.wav", false),
        Err(PathError::Escapes("sub/../../x.wav".into()))
    );
    assert_eq!(resolve_param_path(d, "", false), Err(PathError::Empty));
    assert_eq!(
        PathError::Escapes("../x.wav".into()).to_string(),
        "path \"../x.wav\" leaves the patch's folder; shared patches may only use files beside them"
    );
    // Allowed by the user.
    assert_eq!(
        resolve_param_path(d, "/etc/passwd", true),
        Ok(std::path::PathBuf::from("/etc/passwd"))
    );
    assert_eq!(
        resolve_param_path(d, "../x.wav", true),
        Ok(d.join("../x.wav"))
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_folder_are_refused() {
    use std::os::unix::fs::symlink;
    let outside = common::TempDir::new("outside");
    std::fs::write(outside.path().join("secret.wav"), "").unwrap();
    let dir = common::TempDir::new("patchdir");
    let d = dir.path();
    std::fs::write(d.join("real.wav"), "").unwrap();
    symlink(outside.path().join("secret.wav"), d.join("link.wav")).unwrap();
    symlink(outside.path(), d.join("linkdir")).unwrap();
    symlink(d.join("real.wav"), d.join("inside.wav")).unwrap();
    symlink(
        outside.path().join("nothing-yet.wav"),
        d.join("dangling.wav"),
    )
    .unwrap();

    let esc = |v: &str| Err(PathError::Escapes(v.into()));
    assert_eq!(resolve_param_path(d, "link.wav", false), esc("link.wav"));
    assert_eq!(
        resolve_param_path(d, "linkdir/secret.wav", false),
        esc("linkdir/secret.wav")
    );
    // A file to be written through a symlinked folder leaves it too.
    assert_eq!(
        resolve_param_path(d, "linkdir/new.wav", false),
        esc("linkdir/new.wav")
    );
    assert_eq!(
        resolve_param_path(d, "dangling.wav", false),
        esc("dangling.wav")
    );
    // A symlink that stays inside is fine.
    assert_eq!(
        resolve_param_path(d, "inside.wav", false),
        Ok(d.join("inside.wav"))
    );
    // The user may allow it.
    assert_eq!(
        resolve_param_path(d, "link.wav", true),
        Ok(d.join("link.wav"))
    );
}
