//! `ohmpatch`: the editor and the command line (CONTRACT §3).

mod cli;
mod editor;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ohmpatch",
    version,
    about = "A modular node-graph audio host whose wires are electrical.",
    long_about = "ohmpatch patches microphones, preamps, power amps, speakers, noise sources and \
                  files together; every wire carries volts or pascals, with impedance, level, \
                  noise floor and headroom."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the editor on PATCH (the demo patch when none is given).
    Edit {
        patch: Option<PathBuf>,
        /// Run editor commands from a file, one a frame (for tests).
        #[arg(long, hide = true)]
        script: Option<PathBuf>,
    },
    /// Render the patch's `output` nodes offline to a 32-bit float WAV file.
    Render(cli::render::Args),
    /// Play the patch in real time on an audio device.
    Play(cli::play::Args),
    /// Validate and compile a patch; print the processing order and every wire's levels.
    Check(cli::check::Args),
    /// Pack a patch and every file it reads into one bundle (.ohmz) to share.
    Pack(cli::bundle::PackArgs),
    /// Measure a path like an audio analyser: response, distortion, noise, impedance.
    Measure(cli::measure::Args),
    /// List the node catalogue.
    Nodes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the installed LV2 plugins (`LV2_PATH` is honoured).
    Plugins {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List audio hosts and devices.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Open the editor on PATCH, save the window as PNG once drawn, and exit.
    Screenshot {
        patch: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, usage errors with 2.
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let code = match cli.command {
        None => cli::editor::run(None, None),
        Some(Command::Edit { patch, script }) => cli::editor::run(patch, script),
        Some(Command::Render(a)) => on_patch(a, |a| &mut a.patch, cli::render::run),
        Some(Command::Play(a)) => on_patch(a, |a| &mut a.patch, cli::play::run),
        Some(Command::Check(a)) => on_patch(a, |a| &mut a.patch, cli::check::run),
        Some(Command::Measure(a)) => on_patch(a, |a| &mut a.patch, cli::measure::run),
        Some(Command::Pack(a)) => cli::bundle::pack(a),
        Some(Command::Nodes { json }) => cli::nodes::run(json),
        Some(Command::Plugins { json }) => cli::plugins::run(json),
        Some(Command::Devices { json }) => cli::devices::run(json),
        Some(Command::Screenshot { patch, out }) => cli::editor::screenshot(patch, out),
    };
    ExitCode::from(code)
}

/// Run a command on its patch argument, a bundle first opened (extracted
/// into the cache) so the command reads the patch inside it.
fn on_patch<A>(mut a: A, patch: fn(&mut A) -> &mut PathBuf, run: fn(A) -> u8) -> u8 {
    match cli::bundle::resolve(patch(&mut a)) {
        Ok(p) => {
            *patch(&mut a) = p;
            run(a)
        }
        Err(c) => c,
    }
}
