//! The Bevy app: the window, plugins and systems, the start-up document,
//! and the one UI system that draws a frame and applies its actions.

use super::dialogs::{self, Dialog};
use super::doc::{self, Doc};
use super::live::Live;
use super::{
    Action, Disk, Editor, Run, View, asset, canvas, disk, files, inspector, measure, menus, modes,
    palette, script, shortcuts,
};
use bevy::app::AppExit;
use bevy::prelude::*;
use bevy::window::{
    FileDragAndDrop, PresentMode, PrimaryWindow, WindowCloseRequested, WindowResolution,
};
use bevy::winit::{UpdateMode, WinitSettings};
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use canvas::Canvas;
use ohmpatch_engine::Registry;
use ohmpatch_engine::backend::{BackendKind, StreamOptions};
use ohmpatch_patch::{Edit, Patch};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The patch shown when none is given and `graphs/demo.ohm.ron` is not at
/// hand: the same chain, built into the binary.
const DEMO: &str = include_str!("../../../graphs/demo.ohm.ron");

pub struct Options {
    pub patch: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub script: Option<PathBuf>,
}

/// Load the patch to start with. `Err` carries an exit code for the
/// screenshot command (the editor shows the error instead).
fn initial_doc(
    path: Option<&Path>,
    registry: &Registry,
) -> Result<(Doc, Option<String>), (u8, String)> {
    match path {
        None => {
            let demo = Path::new("graphs/demo.ohm.ron");
            if demo.exists()
                && let Ok(d) = Doc::open(demo, registry)
            {
                return Ok((d, None));
            }
            let patch = ohmpatch_patch::load_str(DEMO, "demo.ohm.ron")
                .map_err(|e| (crate::cli::EXIT_INVALID, e.to_string()))?;
            Ok((Doc::new(patch, None), None))
        }
        Some(p) if !p.exists() => Err((
            crate::cli::EXIT_UNREADABLE,
            format!("{}: no such file", p.display()),
        )),
        Some(p) if ohmpatch_patch::bundle::is_bundle(p) => Doc::open(p, registry)
            .map(|d| (d, None))
            .map_err(|e| (crate::cli::EXIT_INVALID, e)),
        Some(p) => {
            let patch = ohmpatch_patch::load_file(p).map_err(|e| {
                let code = match e {
                    ohmpatch_patch::LoadError::Unreadable { .. } => crate::cli::EXIT_UNREADABLE,
                    ohmpatch_patch::LoadError::Invalid(_) => crate::cli::EXIT_INVALID,
                };
                (code, e.to_string())
            })?;
            doc::check(&patch, p, registry).map_err(|e| (crate::cli::EXIT_INVALID, e))?;
            Ok((Doc::new(patch, Some(p.to_path_buf())), None))
        }
    }
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// `ohmpatch edit [PATCH]`.
pub fn run(opts: Options) -> u8 {
    let registry = std::sync::Arc::new(ohmpatch_nodes::registry_with_plugins());
    let mut startup_error = None;
    let (doc, _) = match initial_doc(opts.patch.as_deref(), &registry) {
        Ok(d) => d,
        Err((code, e)) => {
            if opts.screenshot.is_some() {
                eprintln!("{e}");
                return code;
            }
            match &opts.patch {
                // A new file: start empty, save creates it.
                Some(p) if !p.exists() => (Doc::new(Patch::default(), Some(p.clone())), None),
                _ => {
                    eprintln!("{e}");
                    startup_error = Some(format!("could not open the patch:\n{e}"));
                    (Doc::new(Patch::default(), None), None)
                }
            }
        }
    };
    if !has_display() {
        eprintln!(
            "the editor needs a display (X11 or Wayland) and none is set (DISPLAY is empty); \
             run it in a desktop session or under xvfb-run. The command line works without one: \
             ohmpatch check | render | play"
        );
        return crate::cli::EXIT_INVALID;
    }
    let script = match &opts.script {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| format!("{}: {e}", p.display()))
            .and_then(|t| script::parse(&t))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return crate::cli::EXIT_INVALID;
            }
        },
        None => Vec::new(),
    };
    let headless_run = opts.screenshot.is_some() || opts.script.is_some();
    let stream_opts = StreamOptions {
        backend: if headless_run {
            BackendKind::Null
        } else {
            std::env::var("OHMPATCH_BACKEND")
                .ok()
                .and_then(|b| BackendKind::parse(&b))
                .unwrap_or(BackendKind::Auto)
        },
        ..StreamOptions::default()
    };
    let live = Live::new(
        registry.clone(),
        stream_opts,
        doc.path.as_deref().map(crate::cli::patch_dir),
    );
    let mut ed = Editor {
        registry: registry.clone(),
        disk: Disk {
            recovered: false,
            last_autosave: Instant::now(),
            autosaved_rev: 0,
            stamp: doc.path.as_deref().and_then(disk::mtime),
            last_check: Instant::now(),
            watched: None,
        },
        doc,
        canvas: Canvas::default(),
        live,
        view: View {
            inspector: Default::default(),
            focused: None,
            query: String::new(),
            palette: None,
            dialog: None,
            messages: Vec::new(),
            gesture: 0,
            clipboard: None,
            title: String::new(),
            queued: Vec::new(),
        },
        bench: Default::default(),
        run: Run {
            frame: 0,
            script,
            script_wait: 5,
            shot: opts.screenshot.map(modes::Shot::new),
            stats: modes::FrameStats::from_env(),
            quitting: false,
            pending_shot: None,
        },
    };
    ed.live.set_patch(&ed.doc.patch);
    ed.canvas.sync(&ed.doc.patch, &ed.registry);
    ed.canvas.synced_rev = ed.doc.rev;
    if let Some(e) = startup_error {
        ed.error(e);
    }
    for n in std::mem::take(&mut ed.live.notes) {
        ed.info(n);
    }
    if !headless_run && let Some((file, origin)) = files::pending_recovery() {
        ed.view.dialog = Some(Dialog::Recover { file, origin });
    }
    if let Some(p) = &ed.doc.path
        && p.exists()
        && !headless_run
    {
        files::add_recent(p);
    }
    let continuous = ed.run.stats.is_some() || ed.run.shot.is_some();
    let title = ed.title();

    let mut app = App::new();
    let watched = match (&ed.doc.path, &ed.run.shot) {
        (Some(p), None) if p.exists() => asset::register_source(&mut app, p),
        _ => None,
    };
    ed.disk.watched = watched.as_ref().map(|w| w.path.clone());
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(1600, 1000),
                    present_mode: PresentMode::AutoNoVsync,
                    ..default()
                }),
                close_when_requested: false,
                ..default()
            })
            .set(AssetPlugin {
                watch_for_changes_override: Some(watched.is_some()),
                ..default()
            })
            .set(bevy::log::LogPlugin {
                filter: "warn,wgpu=error,naga=error,bevy_render=error,bevy_asset=error".into(),
                level: bevy::log::Level::WARN,
                ..default()
            }),
    )
    .add_plugins(EguiPlugin::default())
    .init_asset::<asset::PatchFile>()
    .init_asset_loader::<asset::PatchFileLoader>()
    .insert_resource(ClearColor(Color::srgb(0.08, 0.08, 0.1)))
    .insert_resource(if continuous {
        WinitSettings::continuous()
    } else {
        WinitSettings {
            focused_mode: UpdateMode::reactive(Duration::from_millis(40)),
            unfocused_mode: UpdateMode::reactive_low_power(Duration::from_millis(100)),
        }
    })
    .insert_non_send(ed)
    .add_systems(Startup, (setup, asset::start_watching))
    .add_systems(Update, asset::on_modified)
    .add_systems(EguiPrimaryContextPass, ui_system)
    .add_systems(Update, (window_events, modes::screenshot_system));
    if let Some(w) = watched {
        app.insert_resource(w);
    }
    let exit = app.run();
    match exit {
        AppExit::Success => crate::cli::EXIT_OK,
        AppExit::Error(c) => c.get(),
    }
}

/// `ohmpatch screenshot PATCH --out OUT.png`.
pub fn screenshot(patch: PathBuf, out: PathBuf) -> u8 {
    run(Options {
        patch: Some(patch),
        screenshot: Some(out),
        script: None,
    })
}

fn setup(mut commands: Commands) {
    // No multisampling: egui draws anti-aliased shapes itself, and software
    // renderers (llvmpipe) pay for every sample.
    commands.spawn((Camera2d, Msaa::Off));
}

fn window_events(
    mut ed: NonSendMut<Editor>,
    mut close: MessageReader<WindowCloseRequested>,
    mut drops: MessageReader<FileDragAndDrop>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
    mut exit: MessageWriter<AppExit>,
) {
    // The window's close button and dropped files are actions like any
    // other; the UI system applies them this frame.
    for _ in close.read() {
        if ed.run.shot.is_none() {
            ed.view.queued.push(Action::Quit);
        }
    }
    for d in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            ed.view.queued.push(Action::Open(path_buf.clone()));
        }
    }
    let title = ed.title();
    if title != ed.view.title {
        ed.view.title = title.clone();
        if let Ok(mut w) = windows.single_mut() {
            w.title = title;
        }
    }
    if ed.run.quitting {
        ed.run.quitting = false;
        ed.live.shutdown();
        files::clear_recovery();
        exit.write(AppExit::Success);
    }
}

fn ui_system(mut contexts: EguiContexts, mut ed: NonSendMut<Editor>) -> Result {
    let t0 = Instant::now();
    let ctx = contexts.ctx_mut()?.clone();
    let ed = &mut *ed;
    ed.run.frame += 1;
    if ed.run.frame == 1 {
        let mut visuals = egui::Visuals::dark();
        visuals.window_corner_radius = 4.0.into();
        ctx.set_visuals(visuals);
    }
    let mut actions: Vec<Action> = std::mem::take(&mut ed.view.queued);

    script::next_step(ed, &mut actions);

    if ctx.input(|i| i.pointer.primary_pressed()) {
        ed.view.gesture += 1;
    }
    shortcuts::read(&ctx, ed, &mut actions);

    let mut root = egui::Ui::new(
        ctx.clone(),
        "ohmpatch-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    menus::menu_bar(&mut root, ed, &mut actions);
    menus::status_bar(&mut root, ed);
    egui::Panel::right("inspector")
        .default_size(340.0)
        .show(&mut root, |ui| {
            inspector::show(
                ui,
                &mut ed.view.inspector,
                &ed.doc.patch,
                &ed.registry,
                &ed.live,
                &ed.view.focused,
                ed.view.gesture,
                &mut actions,
            );
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::NONE)
        .show(&mut root, |ui| {
            menus::banner(ui, ed);
            ed.canvas.blocked = ed.view.dialog.is_some() || ed.run.shot.is_some();
            canvas::show(
                ui,
                &mut ed.canvas,
                &ed.doc.patch,
                &ed.registry,
                &ed.live,
                &mut ed.view.query,
                &mut ed.view.focused,
                &mut actions,
            );
        });
    // Nodes dragged on the canvas: one undo step per drag.
    let moves: Vec<Edit> = ed
        .canvas
        .index
        .iter()
        .filter_map(|(id, n)| {
            let pos = ed.canvas.snarl.get_node_info(*n)?.pos;
            let node = ed.doc.patch.nodes.get(id)?;
            ((pos.x, pos.y) != node.pos).then(|| Edit::MoveNode {
                id: id.clone(),
                pos: (pos.x, pos.y),
            })
        })
        .collect();
    let g = ed.view.gesture.wrapping_mul(1024).wrapping_add(1023);
    for m in moves {
        actions.push(Action::Merged(m, g));
    }
    palette::window(&ctx, ed, &mut actions);
    dialogs::show(&ctx, &mut ed.view, &ed.doc, &mut actions);
    measure::window(&ctx, &mut ed.bench, &ed.doc.patch, ed.doc.path.as_ref());

    for a in actions {
        ed.apply(a, &ctx);
    }
    if ed.canvas.synced_rev != ed.doc.rev {
        ed.canvas.sync(&ed.doc.patch, &ed.registry);
        ed.canvas.synced_rev = ed.doc.rev;
    }
    ed.live.tick(&ed.doc.patch, ed.doc.audio_rev);
    for n in std::mem::take(&mut ed.live.notes) {
        ed.info(n);
    }
    disk::housekeeping(ed);
    modes::frame_stats(ed, t0);
    if ed.run.shot.is_none() && ed.run.stats.is_none() {
        ctx.request_repaint_after(Duration::from_millis(50));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DEMO;

    #[test]
    fn the_built_in_demo_is_the_seed_chain_and_loads() {
        let registry = ohmpatch_nodes::registry_with_plugins();
        let p = ohmpatch_patch::load_str(DEMO, "demo").unwrap();
        assert!(ohmpatch_patch::validate(&p, &registry, "demo", Some(DEMO)).is_empty());
        let kinds: Vec<&str> = p.nodes.values().map(|n| n.kind.as_str()).collect();
        for k in ["mic", "preamp", "power_amp", "speaker", "output"] {
            assert!(kinds.contains(&k), "{k} missing from the demo");
        }
    }
}
