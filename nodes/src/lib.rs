//! The ohmpatch node catalogue: one module per node kind, each with its
//! descriptor (ports with domain and impedance, params with unit, range,
//! default and help) and its processor.

pub mod bench;
pub mod desc;
pub mod kinds;
pub mod lv2;
pub mod measure;
pub mod wav;

use ohmpatch_engine::Registry;
use std::sync::Arc;

/// Every kind this build knows.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    kinds::register_all(&mut r);
    r
}

/// Every kind this build knows and every installed LV2 plugin it can host.
pub fn registry_with_plugins() -> Registry {
    let mut r = registry();
    lv2::register_installed(&mut r);
    r
}

/// The catalogue shared between threads.
pub fn shared_registry() -> Arc<Registry> {
    Arc::new(registry())
}
