//! The ohmpatch patch document: nodes, wires and params, RON load and save,
//! validation against a node catalogue, path confinement and the edit history.
//!
//! This crate knows no audio and no GUI, so the editor, the engine and the
//! command line all share one definition of what a patch is.

pub mod bundle;
mod doc;
pub mod error;
pub mod history;
pub mod io;
pub mod paths;
mod save;
mod source;
pub mod spec;
pub mod validate;

pub use doc::{CURRENT_VERSION, Endpoint, Node, Patch, Value, Wire};
pub use error::{Diagnostic, LoadError, Location};
pub use history::{Edit, History};
pub use io::{
    SaveStage, load_file, load_str, save_atomic, save_atomic_with, save_text_atomic, to_ron_string,
};
pub use paths::{
    PathError, bundled_assets_dir, refused_paths, resolve_output_path, resolve_param_path,
    resolve_param_path_in,
};
pub use spec::{
    Catalogue, Direction, Domain, KindSpec, Name, ParamKind, ParamSpec, PortSpec, Taper,
};
pub use validate::{MAX_NODES, MAX_WIRES, validate};
