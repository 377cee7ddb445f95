//! Bundles from outside: every example packed and rendered from its bundle
//! gives the same bytes as the original; hostile bundles are refused in
//! words with exit 1, and nothing is written outside the cache.

use ohmpatch_tests::root;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ohmpatch")
}

/// This file's test folders: `ohmpatch-bundle-TAG-PID`.
fn tmpdir(tag: &str) -> PathBuf {
    ohmpatch_tests::tmpdir(&format!("bundle-{tag}"))
}

/// Run with the cache in `cache`.
fn run(cache: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("OHMPATCH_CACHE", cache)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every path under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(base).unwrap().display().to_string());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(base, &p, out);
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn every_example_renders_the_same_bytes_from_its_bundle() {
    let dir = tmpdir("roundtrip");
    let cache = dir.join("cache");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("graphs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".ohm.ron"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 10, "{examples:?}");
    for ex in &examples {
        let name = ex
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".ohm.ron", "");
        let bundle = dir.join(format!("{name}.ohmz"));
        let o = run(
            &cache,
            &[
                "pack",
                ex.to_str().unwrap(),
                "--out",
                bundle.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "pack {name}: {}", text(&o));
        let a = dir.join(format!("{name}-a.wav"));
        let b = dir.join(format!("{name}-b.wav"));
        let o = run(
            &cache,
            &[
                "render",
                ex.to_str().unwrap(),
                "--out",
                a.to_str().unwrap(),
                "--seconds",
                "1",
            ],
        );
        assert!(o.status.success(), "render {name}: {}", text(&o));
        let o = run(
            &cache,
            &[
                "render",
                bundle.to_str().unwrap(),
                "--out",
                b.to_str().unwrap(),
                "--seconds",
                "1",
            ],
        );
        assert!(o.status.success(), "render {name}.ohmz: {}", text(&o));
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{name}: the render from the bundle differs"
        );
    }
    // What a bundle holds: the patch, its files, a manifest with hashes.
    let drums = dir.join("drums-cab-ir.ohmz");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&drums).unwrap()).unwrap();
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("manifest.json").unwrap(), &mut manifest)
        .unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let files: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files[0], "patch.ohm.ron");
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("assets/") && f.ends_with(".wav")),
        "{files:?}"
    );
    assert!(files.iter().all(|f| !f.contains("..")));
    assert_eq!(m["files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["ohmpatch"].as_str().unwrap(), env!("CARGO_PKG_VERSION"));
    // The cache is read-only: a render cannot write beside the patch there.
    let extracted: Vec<PathBuf> = std::fs::read_dir(cache.join("bundles"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let patch = extracted[0].join("patch.ohm.ron");
    assert!(std::fs::metadata(&patch).unwrap().permissions().readonly());
    let _ = make_writable(&cache);
    let _ = std::fs::remove_dir_all(&dir);
}

fn make_writable(d: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(d)?.flatten() {
        let p = e.path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        if e.file_type()?.is_dir() {
            make_writable(&p)?;
        }
    }
    Ok(())
}

/// A zip of `entries`: (name, bytes), with `manifest` first if given.
fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

const PATCH: &str = r#"(version: 1, nodes: {
    "t": (kind: "tone", params: {"level_dbu": -10.0}),
    "o": (kind: "output"),
}, wires: [("t.out", "o.in")])"#;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest_for(files: &[(&str, &[u8])]) -> String {
    let list: Vec<String> = files
        .iter()
        .map(|(p, b)| {
            format!(
                r#"{{"path": "{p}", "size": {}, "sha256": "{}"}}"#,
                b.len(),
                sha256_hex(b)
            )
        })
        .collect();
    format!(
        r#"{{"format": 1, "ohmpatch": "test", "files": [{}], "plugins": []}}"#,
        list.join(", ")
    )
}

/// Check a hostile bundle: exit 1, `words` in the message, and nothing but
/// the bundle itself and an empty cache in its folder, nothing escaped.
fn refused(tag: &str, make: impl FnOnce(&Path), words: &str) {
    let dir = tmpdir(tag);
    let cache = dir.join("cache");
    let bundle = dir.join("hostile.ohmz");
    make(&bundle);
    let before = listing(&dir);
    let o = run(&cache, &["check", bundle.to_str().unwrap()]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{tag}: {said}");
    assert!(
        said.contains(words),
        "{tag}: expected \"{words}\" in: {said}"
    );
    let after: Vec<String> = listing(&dir)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    // At most the cache's empty folders.
    for p in &after {
        let full = dir.join(p);
        assert!(
            full.is_dir()
                && std::fs::read_dir(&full)
                    .unwrap()
                    .all(|e| e.unwrap().path().is_dir()),
            "{tag}: {p} was written"
        );
    }
    assert!(
        !std::env::temp_dir().join("ohmpatch-evil.txt").exists(),
        "{tag}: a file escaped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_bundles_are_refused_in_words_and_write_nothing() {
    let p = PATCH.as_bytes();
    let evil = b"escaped".as_slice();
    refused(
        "zipslip",
        |b| {
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            zip_of(
                b,
                &[
                    ("manifest.json", m.as_bytes()),
                    ("patch.ohm.ron", p),
                    ("../../../../../../../../tmp/ohmpatch-evil.txt", evil),
                ],
            )
        },
        "leaves the bundle's folder",
    );
    refused(
        "absolute",
        |b| {
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            zip_of(
                b,
                &[
                    ("manifest.json", m.as_bytes()),
                    ("patch.ohm.ron", p),
                    ("/tmp/ohmpatch-evil.txt", evil),
                ],
            )
        },
        "leaves the bundle's folder",
    );
    refused(
        "symlink",
        |b| {
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            let mut z = zip::ZipWriter::new(std::fs::File::create(b).unwrap());
            let opts = zip::write::SimpleFileOptions::default();
            z.start_file("manifest.json", opts).unwrap();
            z.write_all(m.as_bytes()).unwrap();
            z.start_file("patch.ohm.ron", opts).unwrap();
            z.write_all(p).unwrap();
            z.add_symlink("sounds", "/etc", opts).unwrap();
            z.finish().unwrap();
        },
        "is a symbolic link",
    );
    refused(
        "bomb",
        |b| {
            // 1 GiB of zeros: about a megabyte packed.
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            let mut z = zip::ZipWriter::new(std::fs::File::create(b).unwrap());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            z.start_file("manifest.json", opts).unwrap();
            z.write_all(m.as_bytes()).unwrap();
            z.start_file("patch.ohm.ron", opts).unwrap();
            z.write_all(p).unwrap();
            z.start_file("zeros.wav", opts).unwrap();
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..1024 {
                z.write_all(&chunk).unwrap();
            }
            z.finish().unwrap();
        },
        "unpack to more than 512 MiB",
    );
    refused(
        "hash",
        |b| {
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            let changed = PATCH.replace("-10.0", "10.0");
            zip_of(
                b,
                &[
                    ("manifest.json", m.as_bytes()),
                    ("patch.ohm.ron", changed.as_bytes()),
                ],
            )
        },
        "manifest",
    );
    refused(
        "truncated",
        |b| {
            let m = manifest_for(&[("patch.ohm.ron", p)]);
            zip_of(b, &[("manifest.json", m.as_bytes()), ("patch.ohm.ron", p)]);
            let bytes = std::fs::read(b).unwrap();
            std::fs::write(b, &bytes[..bytes.len() / 2]).unwrap();
        },
        "not a readable bundle",
    );
    refused(
        "no-manifest",
        |b| zip_of(b, &[("patch.ohm.ron", p)]),
        "has no manifest.json",
    );
}

#[test]
fn a_good_bundle_opens_and_ignores_what_its_manifest_does_not_list() {
    let dir = tmpdir("good");
    let cache = dir.join("cache");
    let bundle = dir.join("good.ohmz");
    let p = PATCH.as_bytes();
    let m = manifest_for(&[("patch.ohm.ron", p)]);
    zip_of(
        &bundle,
        &[
            ("manifest.json", m.as_bytes()),
            ("patch.ohm.ron", p),
            ("extra/unlisted.txt", b"not in the manifest"),
        ],
    );
    let o = run(&cache, &["check", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let files = listing(&cache);
    assert!(
        files.iter().any(|f| f.ends_with("patch.ohm.ron")),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.contains("unlisted")), "{files:?}");
    // Opened again: the same folder, not a second copy.
    let o = run(&cache, &["check", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(listing(&cache), files);
    let _ = make_writable(&cache);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bundle_names_the_plugins_this_machine_lacks_and_plays_the_rest() {
    let dir = tmpdir("plugins");
    let cache = dir.join("cache");
    let patch = dir.join("p.ohm.ron");
    std::fs::write(
        &patch,
        r#"(version: 1, nodes: {
            "t": (kind: "tone", params: {"level_dbu": -10.0}),
            "fx": (kind: "lv2", params: {"uri": "urn:example:not-installed-anywhere"}),
            "o": (kind: "output"),
        }, wires: [("t.out", "fx.in"), ("t.out", "o.in")])"#,
    )
    .unwrap();
    let bundle = dir.join("p.ohmz");
    let o = run(
        &cache,
        &[
            "pack",
            patch.to_str().unwrap(),
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("urn:example:not-installed-anywhere"),
        "{}",
        text(&o)
    );
    let wav = dir.join("p.wav");
    let o = run(
        &cache,
        &[
            "render",
            bundle.to_str().unwrap(),
            "--out",
            wav.to_str().unwrap(),
            "--seconds",
            "0.5",
        ],
    );
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("lacks the LV2 plugins urn:example:not-installed-anywhere"),
        "{said}"
    );
    // The tone still plays: −10 dBu is −28 dBFS at the default full scale.
    let mut r = hound::WavReader::open(&wav).unwrap();
    let peak = r
        .samples::<f32>()
        .map(|s| s.unwrap().abs())
        .fold(0.0f32, f32::max);
    let db = 20.0 * f64::from(peak).log10();
    assert!((db + 28.0).abs() < 0.1, "{db} dBFS");
    let _ = make_writable(&cache);
    let _ = std::fs::remove_dir_all(&dir);
}
