//! Param paths stay inside the patch's folder unless the user allows more.

mod common;

use ohmpatch_patch::{
    PathError, bundled_assets_dir, resolve_output_path, resolve_param_path, resolve_param_path_in,
};

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

/// A stand-in for ohmpatch's bundled folder, with one sound in it.
fn bundled() -> common::TempDir {
    let dir = common::TempDir::new("bundled");
    std::fs::create_dir(dir.path().join("ir")).unwrap();
    std::fs::write(dir.path().join("voice.wav"), "bundled").unwrap();
    std::fs::write(dir.path().join("ir/cab.wav"), "bundled").unwrap();
    dir
}

#[test]
fn assets_names_resolve_into_the_bundled_folder() {
    let assets = bundled();
    let a = assets.path();
    let dir = common::TempDir::new("patch");
    let d = dir.path();
    let r = |v: &str| resolve_param_path_in(d, v, false, Some(a));
    assert_eq!(r("assets/voice.wav"), Ok(a.join("voice.wav")));
    assert_eq!(r("assets/ir/cab.wav"), Ok(a.join("ir").join("cab.wav")));
    assert_eq!(r("./assets//voice.wav"), Ok(a.join("voice.wav")));
    assert_eq!(r("assets\\voice.wav"), Ok(a.join("voice.wav")));
    // Allowed outside or not, the examples play the same files.
    assert_eq!(
        resolve_param_path_in(d, "assets/voice.wav", true, Some(a)),
        Ok(a.join("voice.wav"))
    );
    // Not bundled: the file is looked for beside the patch, as before.
    assert_eq!(
        r("assets/missing.wav"),
        Ok(d.join("assets").join("missing.wav"))
    );
    // Only names under assets/ fall back.
    assert_eq!(r("voice.wav"), Ok(d.join("voice.wav")));
    assert_eq!(r("assets"), Ok(d.join("assets")));
    // A recorder never writes into the bundled folder.
    assert_eq!(
        resolve_output_path(d, "assets/voice.wav", false),
        Ok(d.join("assets").join("voice.wav"))
    );
}

#[test]
fn a_file_beside_the_patch_wins_over_the_bundled_one() {
    let assets = bundled();
    let dir = common::TempDir::new("patch");
    let d = dir.path();
    std::fs::create_dir(d.join("assets")).unwrap();
    std::fs::write(d.join("assets/voice.wav"), "mine").unwrap();
    assert_eq!(
        resolve_param_path_in(d, "assets/voice.wav", false, Some(assets.path())),
        Ok(d.join("assets").join("voice.wav"))
    );
}

#[test]
fn nothing_outside_the_bundled_folder_is_reached_through_it() {
    let assets = bundled();
    let a = assets.path();
    let dir = common::TempDir::new("patch");
    let d = dir.path();
    let r = |v: &str| resolve_param_path_in(d, v, false, Some(a));
    let esc = |v: &str| Err(PathError::Escapes(v.into()));
    assert_eq!(r("assets/../../etc/passwd"), esc("assets/../../etc/passwd"));
    assert_eq!(r("assets/../../../x.wav"), esc("assets/../../../x.wav"));
    // `assets/../x` is the patch's own `x`, as without the bundled folder.
    assert_eq!(r("assets/../x.wav"), Ok(d.join("x.wav")));
    assert_eq!(
        r("/assets/voice.wav"),
        Err(PathError::Absolute("/assets/voice.wav".into()))
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_bundled_folder_are_refused() {
    use std::os::unix::fs::symlink;
    let outside = common::TempDir::new("outside");
    std::fs::write(outside.path().join("secret.wav"), "").unwrap();
    let assets = bundled();
    let a = assets.path();
    symlink(outside.path().join("secret.wav"), a.join("link.wav")).unwrap();
    symlink(outside.path(), a.join("linkdir")).unwrap();
    symlink(a.join("voice.wav"), a.join("inside.wav")).unwrap();
    let dir = common::TempDir::new("patch");
    let d = dir.path();
    let r = |v: &str| resolve_param_path_in(d, v, false, Some(a));
    let esc = |v: &str| Err(PathError::Escapes(v.into()));
    assert_eq!(r("assets/link.wav"), esc("assets/link.wav"));
    assert_eq!(
        r("assets/linkdir/secret.wav"),
        esc("assets/linkdir/secret.wav")
    );
    assert_eq!(r("assets/inside.wav"), Ok(a.join("inside.wav")));
    // A symlink beside the patch named assets/ is judged as beside the patch.
    symlink(outside.path(), d.join("assets")).unwrap();
    assert_eq!(r("assets/secret.wav"), esc("assets/secret.wav"));
}

/// The bundled folder of this source tree is found, and the examples' files
/// resolve into it from a patch saved anywhere.
#[test]
fn the_source_trees_assets_are_found() {
    let found = bundled_assets_dir().expect("no bundled assets folder");
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .canonicalize()
        .unwrap();
    // $OHMPATCH_ASSETS may point elsewhere; otherwise it is this tree's.
    if std::env::var_os("OHMPATCH_ASSETS").is_none() {
        assert_eq!(found.canonicalize().unwrap(), tree);
    }
    let dir = common::TempDir::new("anywhere");
    let got = resolve_param_path(dir.path(), "assets/voice.wav", false).unwrap();
    assert_eq!(got, found.join("voice.wav"));
    assert!(got.is_file());
}
