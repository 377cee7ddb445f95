//! Scripted input (`ohmpatch edit --script FILE`, hidden): one command a
//! line, run one a frame through the same actions the mouse and keyboard
//! produce. Tests use it; it is also handy to reproduce a bug.
//!
//! ```text
//! add ID KIND X Y [KEY]    connect A.out B.in       disconnect A.out B.in
//! set ID PARAM VALUE       reset ID PARAM           move ID X Y
//! delete ID                undo                     redo
//! save [PATH]              open PATH                new
//! copy ID...               paste                    duplicate ID...
//! wait FRAMES              ready FILE               wait-file FILE
//! screenshot FILE.png      focus ID                 wait-param ID PARAM VALUE
//! measure-from A.out       measure-to B.out         quit
//! ```

use super::{Action, Editor, NewNode, files};
use ohmpatch_patch::{Edit, Endpoint, Value, Wire};
use std::path::PathBuf;

pub enum Step {
    Act(Box<Action>),
    /// Create FILE (an empty file), to tell a test the script got here.
    Ready(PathBuf),
    Wait(u32),
    /// Save the window as PNG and go on.
    Shot(PathBuf),
    /// Wait until a node's param has this value (e.g. after a reload).
    WaitParam(String, String, Value),
    /// Wait until FILE exists (a test's cue).
    WaitFile(PathBuf),
    Quit,
}

pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("script line {}: cannot read \"{line}\"", n + 1);
        let num = |s: &str| s.parse::<f32>().map_err(|_| bad());
        let step = match w.as_slice() {
            ["add", id, kind, x, y] => act(Action::AddNamed {
                id: id.to_string(),
                node: NewNode {
                    kind: kind.to_string(),
                    pos: (num(x)?, num(y)?),
                    from: None,
                    to: None,
                    split: None,
                },
            }),
            // A family's member: `add fx lv2 100 100 http://…`.
            ["add", id, kind, x, y, key] => act(Action::AddNamed {
                id: id.to_string(),
                node: NewNode {
                    kind: format!("{kind} {key}"),
                    pos: (num(x)?, num(y)?),
                    from: None,
                    to: None,
                    split: None,
                },
            }),
            ["connect", a, b] => act(Action::Connect(Wire::parse(a, b).ok_or_else(bad)?)),
            ["measure-from", e] => act(Action::MeasureFrom(Endpoint::parse(e).ok_or_else(bad)?)),
            ["measure-to", e] => act(Action::MeasureTo(Endpoint::parse(e).ok_or_else(bad)?)),
            ["disconnect", a, b] => {
                act(Action::Disconnect(vec![Wire::parse(a, b).ok_or_else(bad)?]))
            }
            ["set", id, name, value] => {
                let v = if let Ok(x) = value.parse::<f64>() {
                    Value::Number(x)
                } else if let Ok(b) = value.parse::<bool>() {
                    Value::Bool(b)
                } else {
                    Value::Str(value.to_string())
                };
                act(Action::Edit(Edit::SetParam {
                    id: id.to_string(),
                    name: name.to_string(),
                    value: Some(v),
                }))
            }
            ["reset", id, name] => act(Action::Edit(Edit::SetParam {
                id: id.to_string(),
                name: name.to_string(),
                value: None,
            })),
            ["move", id, x, y] => act(Action::Edit(Edit::MoveNode {
                id: id.to_string(),
                pos: (num(x)?, num(y)?),
            })),
            ["delete", id] => act(Action::Delete(vec![id.to_string()])),
            ["undo"] => act(Action::Undo),
            ["redo"] => act(Action::Redo),
            ["save"] => act(Action::Save),
            ["save", path] => act(Action::SaveAs(PathBuf::from(path))),
            ["open", path] => act(Action::Open(PathBuf::from(path))),
            ["new"] => act(Action::New),
            ["copy", ids @ ..] => act(Action::Copy(ids.iter().map(|s| s.to_string()).collect())),
            ["paste"] => act(Action::Paste(None)),
            ["duplicate", ids @ ..] => act(Action::Duplicate(
                ids.iter().map(|s| s.to_string()).collect(),
            )),
            ["fit"] => act(Action::Fit),
            ["wait", frames] => Step::Wait(frames.parse().map_err(|_| bad())?),
            ["screenshot", path] => Step::Shot(PathBuf::from(path)),
            ["focus", id] => act(Action::Focus(id.to_string())),
            ["wait-param", id, name, value] => Step::WaitParam(
                id.to_string(),
                name.to_string(),
                value
                    .parse::<f64>()
                    .map(Value::Number)
                    .unwrap_or_else(|_| Value::Str(value.to_string())),
            ),
            ["wait-file", path] => Step::WaitFile(PathBuf::from(path)),
            ["ready", path] => Step::Ready(PathBuf::from(path)),
            ["quit"] => Step::Quit,
            _ => return Err(bad()),
        };
        out.push(step);
    }
    Ok(out)
}

fn act(a: Action) -> Step {
    Step::Act(Box::new(a))
}

/// Run the next step, one a frame (after a few frames to settle).
pub(super) fn next_step(ed: &mut Editor, actions: &mut Vec<Action>) {
    if ed.run.script_wait > 0 {
        ed.run.script_wait -= 1;
        return;
    }
    if ed.run.script.is_empty() {
        return;
    }
    let waiting = match &ed.run.script[0] {
        Step::WaitFile(p) => !p.exists(),
        Step::WaitParam(id, name, v) => {
            ed.doc.patch.nodes.get(id).and_then(|n| n.params.get(name)) != Some(v)
        }
        _ => false,
    };
    let step = if waiting {
        Step::Wait(0)
    } else {
        ed.run.script.remove(0)
    };
    match step {
        Step::WaitFile(_) | Step::WaitParam(..) => {}
        Step::Shot(p) => ed.run.pending_shot = Some(p),
        Step::Act(a) => actions.push(*a),
        Step::Wait(n) => ed.run.script_wait = n,
        Step::Ready(p) => {
            let _ = std::fs::write(p, b"");
        }
        Step::Quit => {
            ed.live.shutdown();
            files::clear_recovery();
            ed.run.quitting = true;
        }
    }
}
