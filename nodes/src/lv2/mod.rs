//! LV2 plugins as nodes: discovery (`discover`), the `lv2` kind built from a
//! plugin's description (`kind`), its processor (`run`) and `check`'s
//! measured view of it (`measure`).

pub mod discover;
pub mod kind;
pub mod measure;
pub mod quiet;
pub mod run;

pub use discover::{Catalog, Control, PluginInfo, catalog};
pub use kind::{KIND, Lv2Kind, Missing};

use ohmpatch_engine::Registry;

/// Add every installed plugin ohmpatch can host as a member of the `lv2`
/// family (registered by `kinds::register_all`). Plugins it cannot host are
/// left out; `ohmpatch plugins` says why.
pub fn register_installed(r: &mut Registry) {
    for info in &catalog().plugins {
        if let Ok(kind) = Lv2Kind::new(info.clone()) {
            // A description that does not hold together is left out too.
            let _ = r.register_member(&info.uri, Box::new(kind));
        }
    }
}
