//! The set of node kinds an engine knows, shared by validation, the compiler
//! and the user interfaces.

use crate::node::NodeKind;
use ohmpatch_patch::{Catalogue, KindSpec};

pub struct Registry {
    kinds: Vec<Box<dyn NodeKind>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry { kinds: Vec::new() }
    }

    /// Add a kind; a later kind with the same name replaces the earlier one.
    pub fn register(&mut self, kind: Box<dyn NodeKind>) {
        let name = kind.spec().kind;
        self.kinds.retain(|k| k.spec().kind != name);
        self.kinds.push(kind);
    }

    pub fn get(&self, name: &str) -> Option<&dyn NodeKind> {
        self.kinds
            .iter()
            .find(|k| k.spec().kind == name)
            .map(|k| k.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn NodeKind> {
        self.kinds.iter().map(|k| k.as_ref())
    }

    pub fn specs(&self) -> Vec<&KindSpec> {
        self.kinds.iter().map(|k| k.spec()).collect()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Catalogue for Registry {
    fn kind(&self, name: &str) -> Option<&KindSpec> {
        self.get(name).map(|k| k.spec())
    }

    fn kind_names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.spec().kind).collect()
    }
}
