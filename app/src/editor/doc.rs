//! The open document: the patch, its undo history, its file, and the
//! clipboard text format (a patch fragment in the same RON as a file).

use ohmpatch_engine::Registry;
use ohmpatch_patch::{Edit, Endpoint, History, LoadError, Patch, Wire};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub struct Doc {
    pub patch: Patch,
    pub history: History,
    /// The file Save writes (none for a new patch or one from a bundle).
    pub path: Option<PathBuf>,
    /// The bundle this document was opened from, if it was.
    pub bundle: Option<Bundled>,
    /// Bumped on every change the engine must hear (not on moves).
    pub audio_rev: u64,
    /// Bumped on every change at all.
    pub rev: u64,
}

/// Where a document opened from a bundle came from and where its files are.
#[derive(Clone, Debug)]
pub struct Bundled {
    /// The `.ohmz` file.
    pub source: PathBuf,
    /// The read-only cache folder it was extracted to.
    pub dir: PathBuf,
    /// The files it holds besides the patch (relative paths).
    pub files: Vec<String>,
}

impl Doc {
    pub fn new(patch: Patch, path: Option<PathBuf>) -> Doc {
        Doc {
            patch,
            history: History::new(),
            path,
            bundle: None,
            audio_rev: 1,
            rev: 1,
        }
    }

    /// Load and validate a patch file, or a bundle (extracted into the
    /// cache; Save then asks for a new file); the message says what is
    /// wrong in words.
    pub fn open(path: &Path, registry: &Registry) -> Result<Doc, String> {
        if ohmpatch_patch::bundle::is_bundle(path) {
            let opened = ohmpatch_patch::bundle::open(path).map_err(|e| e.to_string())?;
            let patch = load_checked(&opened.patch, registry)?;
            let mut doc = Doc::new(patch, None);
            doc.bundle = Some(Bundled {
                source: path.to_path_buf(),
                dir: opened.dir,
                files: opened
                    .manifest
                    .files
                    .iter()
                    .map(|f| f.path.clone())
                    .filter(|f| f != ohmpatch_patch::bundle::PATCH_NAME)
                    .collect(),
            });
            return Ok(doc);
        }
        let patch = load_checked(path, registry)?;
        Ok(Doc::new(patch, Some(path.to_path_buf())))
    }

    /// The folder the patch's file params are relative to.
    pub fn files_dir(&self) -> Option<PathBuf> {
        match (&self.path, &self.bundle) {
            (Some(p), _) => Some(crate::cli::patch_dir(p)),
            (None, Some(b)) => Some(b.dir.clone()),
            (None, None) => None,
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.history.is_dirty()
    }

    pub fn file_name(&self) -> String {
        match &self.path {
            Some(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            None => match &self.bundle {
                Some(b) => format!(
                    "{} (bundle)",
                    b.source
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                None => "untitled.ohm.ron".into(),
            },
        }
    }

    /// The window title: file, a dirty marker, the patch name.
    pub fn title(&self) -> String {
        let dirty = if self.is_dirty() { "* " } else { "" };
        let name = if self.patch.name.is_empty() {
            String::new()
        } else {
            format!(" — {}", self.patch.name)
        };
        format!("{dirty}{}{name} — ohmpatch", self.file_name())
    }

    fn touched(&mut self, audio: bool) {
        self.rev += 1;
        if audio {
            self.audio_rev += 1;
        }
    }

    pub fn apply(&mut self, edit: Edit) -> Result<(), String> {
        let audio = !matches!(edit, Edit::MoveNode { .. });
        self.history.apply(&mut self.patch, edit)?;
        self.touched(audio);
        Ok(())
    }

    pub fn apply_merged(&mut self, edit: Edit, gesture: u64) -> Result<(), String> {
        let audio = !matches!(edit, Edit::MoveNode { .. });
        self.history.apply_merged(&mut self.patch, edit, gesture)?;
        self.touched(audio);
        Ok(())
    }

    pub fn apply_group(&mut self, edits: Vec<Edit>, label: &str) -> Result<(), String> {
        if edits.is_empty() {
            return Ok(());
        }
        let audio = edits.iter().any(|e| !matches!(e, Edit::MoveNode { .. }));
        self.history.apply_group(&mut self.patch, edits, label)?;
        self.touched(audio);
        Ok(())
    }

    pub fn undo(&mut self) -> bool {
        let ok = self.history.undo(&mut self.patch);
        if ok {
            self.touched(true);
        }
        ok
    }

    pub fn redo(&mut self) -> bool {
        let ok = self.history.redo(&mut self.patch);
        if ok {
            self.touched(true);
        }
        ok
    }

    /// Save atomically to `path` and remember it as this document's file.
    /// A document from a bundle takes its files along: each is copied
    /// beside the new file unless one of that name is already there.
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        ohmpatch_patch::save_atomic(path, &self.patch)
            .map_err(|e| format!("could not save {}: {e}", path.display()))?;
        if let Some(b) = self.bundle.take() {
            let to = crate::cli::patch_dir(path);
            for f in &b.files {
                let dst = to.join(f);
                if dst.exists() {
                    continue;
                }
                let copied = dst
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::copy(b.dir.join(f), &dst).map(|_| ()));
                if let Err(e) = copied {
                    self.bundle = Some(b.clone());
                    return Err(format!(
                        "saved {}, but could not copy {f} beside it: {e}",
                        path.display()
                    ));
                }
                // The cache's copies are read-only; the user's are not.
                let _ = set_writable(&dst);
            }
        }
        self.path = Some(path.to_path_buf());
        self.history.mark_saved();
        self.rev += 1;
        Ok(())
    }
}

#[cfg(unix)]
fn set_writable(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_writable(p: &Path) -> std::io::Result<()> {
    let mut perm = std::fs::metadata(p)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(p, perm)
}

/// Load a patch file and check it against the catalogue.
pub fn load_checked(path: &Path, registry: &Registry) -> Result<Patch, String> {
    let patch = ohmpatch_patch::load_file(path).map_err(|e| match e {
        LoadError::Unreadable { .. } => format!("{e}"),
        LoadError::Invalid(_) => format!("{e}"),
    })?;
    check(&patch, path, registry)?;
    Ok(patch)
}

/// Validate a patch against the catalogue; all problems as one message.
pub fn check(patch: &Patch, path: &Path, registry: &Registry) -> Result<(), String> {
    let source = std::fs::read_to_string(path).ok();
    let origin = path.display().to_string();
    let diags = ohmpatch_patch::validate(patch, registry, &origin, source.as_deref());
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// The clipboard text for some nodes: a patch holding them and the wires
/// between them, so it can also be pasted into a text editor or saved.
pub fn copy_text(patch: &Patch, ids: &BTreeSet<String>) -> String {
    let mut frag = Patch {
        name: "ohmpatch clipboard".into(),
        ..Patch::default()
    };
    for id in ids {
        if let Some(n) = patch.nodes.get(id) {
            frag.nodes.insert(id.clone(), n.clone());
        }
    }
    frag.wires = patch
        .wires
        .iter()
        .filter(|w| ids.contains(&w.from.node) && ids.contains(&w.to.node))
        .cloned()
        .collect();
    ohmpatch_patch::to_ron_string(&frag)
}

/// Turn clipboard text into a paste edit: fresh ids, positions moved so
/// the fragment's top-left lands at `at` (or shifted by 40 px).
pub fn paste_edit(
    patch: &Patch,
    text: &str,
    at: Option<(f32, f32)>,
) -> Result<(Edit, Vec<String>), String> {
    let frag = ohmpatch_patch::load_str(text, "clipboard")
        .map_err(|e| format!("the clipboard does not hold ohmpatch nodes: {e}"))?;
    if frag.nodes.is_empty() {
        return Err("the clipboard holds no nodes".into());
    }
    let min_x = frag
        .nodes
        .values()
        .map(|n| n.pos.0)
        .fold(f32::INFINITY, f32::min);
    let min_y = frag
        .nodes
        .values()
        .map(|n| n.pos.1)
        .fold(f32::INFINITY, f32::min);
    let (dx, dy) = match at {
        Some((x, y)) => (x - min_x, y - min_y),
        None => (40.0, 40.0),
    };
    let mut taken = patch.clone();
    let mut rename = BTreeMap::new();
    let mut nodes = Vec::new();
    for (id, n) in &frag.nodes {
        // "amp2" pasted again becomes "amp3", not "amp22".
        let base = id.trim_end_matches(|c: char| c.is_ascii_digit());
        let new_id = taken.unique_id(if base.is_empty() { id } else { base });
        taken.nodes.insert(new_id.clone(), n.clone());
        rename.insert(id.clone(), new_id.clone());
        let mut node = n.clone();
        node.pos = (n.pos.0 + dx, n.pos.1 + dy);
        nodes.push((new_id, node));
    }
    let wires = frag
        .wires
        .iter()
        .filter_map(|w| {
            Some(Wire::new(
                Endpoint::new(rename.get(&w.from.node)?.clone(), w.from.port.clone()),
                Endpoint::new(rename.get(&w.to.node)?.clone(), w.to.port.clone()),
            ))
        })
        .collect();
    let ids = nodes.iter().map(|(id, _)| id.clone()).collect();
    Ok((Edit::Paste { nodes, wires }, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ohmpatch_patch::{Node, Value};

    fn patch() -> Patch {
        let mut p = Patch::default();
        p.nodes
            .insert("amp".into(), Node::new("gain", (10.0, 20.0)));
        p.nodes
            .insert("amp2".into(), Node::new("gain", (200.0, 20.0)));
        p.nodes
            .insert("out".into(), Node::new("output", (400.0, 20.0)));
        p.wires.push(Wire::parse("amp.out", "amp2.in").unwrap());
        p.wires.push(Wire::parse("amp2.out", "out.in").unwrap());
        p
    }

    #[test]
    fn copy_keeps_the_wires_inside_the_selection_and_paste_renames() {
        let p = patch();
        let ids: BTreeSet<String> = ["amp".to_string(), "amp2".to_string()].into();
        let text = copy_text(&p, &ids);
        // The clipboard is a patch file in its own right.
        let frag = ohmpatch_patch::load_str(&text, "clip").unwrap();
        assert_eq!(frag.nodes.len(), 2);
        assert_eq!(frag.wires.len(), 1);
        let (edit, new_ids) = paste_edit(&p, &text, Some((500.0, 300.0))).unwrap();
        assert_eq!(new_ids, ["amp3", "amp4"]);
        let Edit::Paste { nodes, wires } = edit else {
            panic!("not a paste")
        };
        assert_eq!(nodes[0].1.pos, (500.0, 300.0));
        assert_eq!(nodes[1].1.pos, (690.0, 300.0));
        assert_eq!(wires, [Wire::parse("amp3.out", "amp4.in").unwrap()]);
    }

    #[test]
    fn pasting_text_that_is_not_a_patch_says_so() {
        let e = paste_edit(&patch(), "hello", None).unwrap_err();
        assert!(e.contains("does not hold ohmpatch nodes"), "{e}");
        let e = paste_edit(&patch(), "(version: 1, nodes: {}, wires: [])", None).unwrap_err();
        assert!(e.contains("no nodes"), "{e}");
    }

    #[test]
    fn every_edit_undoes_and_the_dirty_marker_follows() {
        let mut d = Doc::new(patch(), None);
        assert!(!d.is_dirty());
        d.apply(Edit::SetParam {
            id: "amp".into(),
            name: "gain_db".into(),
            value: Some(Value::Number(-6.0)),
        })
        .unwrap();
        assert!(d.is_dirty());
        assert!(d.title().starts_with("* "));
        let audio = d.audio_rev;
        d.apply(Edit::MoveNode {
            id: "amp".into(),
            pos: (1.0, 2.0),
        })
        .unwrap();
        // A move is not something the engine hears.
        assert_eq!(d.audio_rev, audio);
        assert!(d.undo() && d.undo());
        assert_eq!(d.patch, patch());
        assert!(!d.is_dirty());
        assert!(d.redo());
        assert!(d.is_dirty());
    }
}
