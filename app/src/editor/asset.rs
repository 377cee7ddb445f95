//! Patch files as Bevy assets: the open patch's folder is an asset source
//! with a file watcher, so saving the file from a text editor reloads it in
//! the window (as one undoable step when there are no unsaved changes).

use bevy::asset::io::{AssetSourceBuilder, Reader};
use bevy::asset::{AssetLoader, LoadContext};
use bevy::prelude::*;
use std::path::{Path, PathBuf};

/// The text of a `.ohm.ron` file; parsing and validation happen in the
/// editor, which reports errors in words.
#[derive(Asset, TypePath, Debug)]
pub struct PatchFile {
    pub text: String,
}

#[derive(Default, TypePath)]
pub struct PatchFileLoader;

impl AssetLoader for PatchFileLoader {
    type Asset = PatchFile;
    type Settings = ();
    type Error = std::io::Error;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        _load_context: &mut LoadContext<'_>,
    ) -> Result<PatchFile, std::io::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        Ok(PatchFile {
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    fn extensions(&self) -> &[&str] {
        &["ohm.ron"]
    }
}

/// The watched patch file: its handle and its path on disk.
#[derive(Resource)]
pub struct Watched {
    pub path: PathBuf,
    pub asset_path: String,
    pub handle: Option<Handle<PatchFile>>,
}

/// Register the `patch://` source at the patch's folder; call before the
/// asset plugin is added.
pub fn register_source(app: &mut App, patch: &Path) -> Option<Watched> {
    let abs = std::fs::canonicalize(patch).ok()?;
    let dir = abs.parent()?.to_path_buf();
    let name = abs.file_name()?.to_string_lossy().into_owned();
    app.register_asset_source(
        "patch",
        AssetSourceBuilder::platform_default(&dir.to_string_lossy(), None),
    );
    Some(Watched {
        path: abs,
        asset_path: format!("patch://{name}"),
        handle: None,
    })
}

pub fn start_watching(server: Res<AssetServer>, watched: Option<ResMut<Watched>>) {
    if let Some(mut w) = watched {
        let path = w.asset_path.clone();
        w.handle = Some(server.load::<PatchFile>(path));
    }
}

/// The file changed on disk: let the editor decide what to do.
pub fn on_modified(
    mut events: MessageReader<AssetEvent<PatchFile>>,
    watched: Option<Res<Watched>>,
    files: Res<Assets<PatchFile>>,
    mut ed: NonSendMut<super::Editor>,
) {
    let Some(w) = watched else {
        events.clear();
        return;
    };
    let Some(h) = &w.handle else {
        return;
    };
    for e in events.read() {
        if let AssetEvent::Modified { id } = e
            && *id == h.id()
            && ed
                .doc
                .path
                .as_deref()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .as_deref()
                == Some(w.path.as_path())
        {
            let text = files.get(*id).map(|f| f.text.clone());
            ed.disk_changed(text);
        }
    }
}
