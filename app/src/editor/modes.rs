//! The non-interactive modes: `ohmpatch screenshot` (capture the window
//! once it is drawn, then exit) and the frame-time measurement
//! (`OHMPATCH_FRAME_STATS`).

use super::Editor;
use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `ohmpatch screenshot`: the file, and the capture's result once written.
pub(super) struct Shot {
    out: PathBuf,
    requested: bool,
    started: Instant,
    result: Arc<Mutex<Option<Result<(), String>>>>,
}

impl Shot {
    pub(super) fn new(out: PathBuf) -> Shot {
        Shot {
            out,
            requested: false,
            started: Instant::now(),
            result: Arc::new(Mutex::new(None)),
        }
    }
}

/// Frame times to collect (`OHMPATCH_FRAME_STATS=N`), printed and then quit.
pub(super) struct FrameStats {
    want: usize,
    skip: usize,
    frames: Vec<f64>,
    ui: Vec<f64>,
    last: Option<Instant>,
}

impl FrameStats {
    pub(super) fn from_env() -> Option<FrameStats> {
        std::env::var("OHMPATCH_FRAME_STATS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .map(|want| FrameStats {
                want,
                skip: 30,
                frames: Vec::new(),
                ui: Vec::new(),
                last: None,
            })
    }
}

/// Takes the screenshots: the one a script asks for, and `ohmpatch
/// screenshot`'s once the view is fitted and 20 frames are drawn.
pub(super) fn screenshot_system(
    mut commands: Commands,
    mut ed: NonSendMut<Editor>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some(out) = ed.run.pending_shot.take() {
        commands
            .spawn(Screenshot::primary_window())
            .observe(move |cap: On<ScreenshotCaptured>| {
                if let Err(e) = save_png(&cap.image, &out) {
                    eprintln!("{e}");
                }
            });
    }
    let frame = ed.run.frame;
    let fitted = ed.canvas.fit_in == 0;
    let Some(shot) = ed.run.shot.as_mut() else {
        return;
    };
    if !shot.requested && frame >= 20 && fitted {
        shot.requested = true;
        let out = shot.out.clone();
        let result = shot.result.clone();
        commands
            .spawn(Screenshot::primary_window())
            .observe(move |cap: On<ScreenshotCaptured>| {
                let r = save_png(&cap.image, &out);
                *result.lock().expect("lock") = Some(r);
            });
    }
    let done = shot.result.lock().expect("lock").take();
    match done {
        Some(Ok(())) => {
            ed.live.shutdown();
            exit.write(AppExit::Success);
        }
        Some(Err(e)) => {
            eprintln!("{e}");
            ed.live.shutdown();
            exit.write(AppExit::from_code(crate::cli::EXIT_INVALID));
        }
        None => {
            if shot.started.elapsed() > Duration::from_secs(90) {
                eprintln!("the window was not drawn within 90 s; no screenshot written");
                ed.live.shutdown();
                exit.write(AppExit::from_code(crate::cli::EXIT_INVALID));
            }
        }
    }
}

fn save_png(image: &Image, out: &Path) -> Result<(), String> {
    let dynamic = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| format!("cannot read the window's pixels: {e:?}"))?;
    let rgb = dynamic.to_rgb8();
    let (w, h) = (rgb.width(), rgb.height());
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(rgb.as_raw())
            .map_err(|e| e.to_string())?;
    }
    let tmp = out.with_extension("png.part");
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, out))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

pub(super) fn frame_stats(ed: &mut Editor, t0: Instant) {
    let Some(s) = ed.run.stats.as_mut() else {
        return;
    };
    let now = Instant::now();
    if let Some(last) = s.last
        && s.skip == 0
    {
        s.frames.push((now - last).as_secs_f64() * 1000.0);
        s.ui.push((now - t0).as_secs_f64() * 1000.0);
    }
    if s.skip > 0 {
        s.skip -= 1;
    }
    s.last = Some(now);
    if s.frames.len() >= s.want {
        let summary = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            format!(
                "mean {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                mean,
                p(0.5),
                p(0.95),
                p(1.0)
            )
        };
        println!(
            "{} nodes, {} wires, {} frames: frame time {}; editor UI (CPU) {}; DSP load {:.0} %",
            ed.doc.patch.nodes.len(),
            ed.doc.patch.wires.len(),
            s.frames.len(),
            summary(&mut s.frames),
            summary(&mut s.ui),
            ed.live.load * 100.0
        );
        ed.run.stats = None;
        ed.live.shutdown();
        ed.run.quitting = true;
    }
}
