//! `split`: one input copied to four outputs. Any output may also fan out by
//! itself; `split` exists so a patch can show the branch point. Electrically
//! a junction (`NodeKind::junction`): the loads on its outputs appear in
//! parallel at its input, so a split in front of speakers hides no load.

use crate::desc::*;
use ohmpatch_engine::{BuildEnv, NodeKind, Params, PortElectrical, ProcessContext, Processor};
use ohmpatch_patch::{Domain, KindSpec};

use ohmpatch_engine::ParamId;
use ohmpatch_engine::param::Choice;

// The params, in spec order.
pub const DOMAIN: ParamId<Choice> = ParamId::new(0, "domain");

pub struct Split {
    spec: KindSpec,
}

impl Split {
    pub fn new() -> Split {
        Split {
            spec: KindSpec {
                kind: "split".into(),
                help: "A junction: copies its input to four outputs, and the loads on its outputs appear in parallel at its input, as on a wire.".into(),
                ports: vec![
                    input("in", Domain::Line, "Signal in."),
                    output("out1", Domain::Line, "Copy 1."),
                    output("out2", Domain::Line, "Copy 2."),
                    output("out3", Domain::Line, "Copy 3."),
                    output("out4", Domain::Line, "Copy 4."),
                ],
                params: vec![domain_param(DOMAIN, "line")],
            },
        }
    }
}

impl Default for Split {
    fn default() -> Self {
        Split::new()
    }
}

impl NodeKind for Split {
    fn spec(&self) -> &KindSpec {
        &self.spec
    }

    /// A junction: the loads on its outputs appear in parallel at its input.
    fn junction(&self, _params: &Params) -> Option<f64> {
        Some(1.0)
    }

    fn follows_wire(&self) -> bool {
        true
    }
    fn electrical(&self, params: &Params) -> Vec<PortElectrical> {
        transparent(&self.spec, params, DOMAIN)
    }
    fn build(&self, _params: &Params, _env: &mut BuildEnv) -> Result<Box<dyn Processor>, String> {
        Ok(Box::new(SplitProc))
    }
}

struct SplitProc;

impl Processor for SplitProc {
    fn process(&mut self, _ctx: &ProcessContext, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(inp) = inputs.first() else { return };
        for o in outputs.iter_mut() {
            o.copy_from_slice(&inp[..o.len()]);
        }
    }
}
