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

    /// Add a kind described at run time (a plugin, a kind built from data):
    /// its descriptor is checked first (`KindSpec::check`) and refused in
    /// words when it does not hold together. A later kind with the same name
    /// replaces the earlier one.
    pub fn try_register(&mut self, kind: Box<dyn NodeKind>) -> Result<(), String> {
        kind.spec().check()?;
        let name = kind.spec().kind.clone();
        self.kinds.retain(|k| k.spec().kind != name);
        self.kinds.push(kind);
        Ok(())
    }

    /// Add a kind built into the program; a descriptor that does not hold
    /// together (a typed param id at the wrong index, a name twice) is a bug
    /// in that kind and stops the program at once, so every test finds it.
    pub fn register(&mut self, kind: Box<dyn NodeKind>) {
        if let Err(e) = self.try_register(kind) {
            panic!("node kind descriptor: {e}");
        }
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

    fn kind_names(&self) -> Vec<&str> {
        self.kinds.iter().map(|k| k.spec().kind.as_ref()).collect()
    }
}
