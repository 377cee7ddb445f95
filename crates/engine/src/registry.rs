//! The set of node kinds an engine knows, shared by validation, the compiler
//! and the user interfaces.

use crate::node::{NodeKind, Params};
use ohmpatch_patch::{Catalogue, KindSpec, Node, Value};
use std::collections::HashMap;

pub struct Registry {
    kinds: Vec<Box<dyn NodeKind>>,
    /// Members of families (`NodeKind::family_param`), by kind name and
    /// the value of the family's param.
    members: HashMap<String, HashMap<String, Box<dyn NodeKind>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            kinds: Vec::new(),
            members: HashMap::new(),
        }
    }

    /// Add a member to a family registered before it (`lv2`: one member per
    /// installed plugin, keyed by its URI). Its spec is checked like any
    /// kind's and must carry the family's name and its param.
    pub fn register_member(&mut self, key: &str, kind: Box<dyn NodeKind>) -> Result<(), String> {
        let spec = kind.spec();
        spec.check()?;
        let name = spec.kind.to_string();
        let Some(param) = self.get(&name).and_then(|f| f.family_param()) else {
            return Err(format!("{name} is not a family of kinds"));
        };
        if spec.param(param).is_none() {
            return Err(format!("{name} {key}: it has no param {param}"));
        }
        self.members
            .entry(name)
            .or_default()
            .insert(key.to_string(), kind);
        Ok(())
    }

    /// The kind that applies to a node of `kind` whose family param (if its
    /// kind has one) reads `key`: the member, or the family's placeholder.
    pub fn resolve(&self, kind: &str, key: Option<&str>) -> Option<&dyn NodeKind> {
        let base = self.get(kind)?;
        if base.family_param().is_none() {
            return Some(base);
        }
        let member = key.and_then(|k| self.members.get(kind)?.get(k));
        Some(member.map_or(base, |m| m.as_ref()))
    }

    /// The kind that applies to a patch node.
    pub fn of(&self, node: &Node) -> Option<&dyn NodeKind> {
        let base = self.get(&node.kind)?;
        let key = base
            .family_param()
            .and_then(|p| node.params.get(p))
            .and_then(Value::as_str);
        self.resolve(&node.kind, key)
    }

    /// The nodes that use each device channel, as `(inputs, outputs)`:
    /// entry `c` names channel `c + 1`'s users joined by `+`, in the order
    /// given (empty: none). From `(id, kind, params)` of each node.
    pub fn device_users<'a>(
        &self,
        nodes: impl IntoIterator<Item = (&'a str, &'a str, &'a Params)>,
    ) -> (Vec<String>, Vec<String>) {
        let mut ins: Vec<String> = Vec::new();
        let mut outs: Vec<String> = Vec::new();
        for (id, kind, params) in nodes {
            let Some(kind) = self.of_params(kind, params) else {
                continue;
            };
            let list = match kind.role() {
                crate::node::Role::DeviceIn => &mut ins,
                crate::node::Role::DeviceOut => &mut outs,
                _ => continue,
            };
            let Some(c) = kind.device_channel(params) else {
                continue;
            };
            let c = c as usize;
            if list.len() <= c {
                list.resize(c + 1, String::new());
            }
            if !list[c].is_empty() {
                list[c].push('+');
            }
            list[c].push_str(id);
        }
        (ins, outs)
    }

    /// The kind that applies to a node already resolved (`Params`).
    pub fn of_params(&self, kind: &str, params: &Params) -> Option<&dyn NodeKind> {
        let base = self.get(kind)?;
        let key = base.family_param().and_then(|p| params.text_named(p));
        self.resolve(kind, key)
    }

    /// The members of a family, in no particular order.
    pub fn members(&self, kind: &str) -> impl Iterator<Item = (&str, &dyn NodeKind)> {
        self.members
            .get(kind)
            .into_iter()
            .flatten()
            .map(|(key, m)| (key.as_str(), m.as_ref()))
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

    fn kind_of(&self, node: &Node) -> Option<&KindSpec> {
        self.of(node).map(|k| k.spec())
    }

    fn missing(&self, node: &Node) -> Option<String> {
        let kind = self.of(node)?;
        let param = kind.family_param()?;
        let key = node.params.get(param).and_then(Value::as_str).unwrap_or("");
        Some(format!(
            "{} {param} {key:?} is not available here; the node is kept as written and plays silence",
            node.kind
        ))
    }
}
