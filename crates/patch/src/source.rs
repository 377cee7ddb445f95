//! Where things are in a patch file's text.
//!
//! serde hands us values without positions, so to point a user at the right
//! line:column we re-read the text with a small, forgiving tokenizer that knows
//! just enough of RON (strings, raw strings, chars, comments, brackets) and
//! the patch layout (which bracket holds the nodes, a node's params, the
//! wires). It never fails: on text it does not understand it simply finds less.

use crate::error::Location;

/// One node entry as written: its key, and the places inside it.
#[derive(Clone, Debug)]
pub(crate) struct NodeSpan {
    pub id: String,
    pub key: Location,
    pub kind: Option<Location>,
    pub params: Vec<(String, Location)>,
}

/// One element of the `wires` list: where it starts and its strings.
#[derive(Clone, Debug)]
pub(crate) struct WireSpan {
    pub start: Location,
    pub strings: Vec<(String, Location)>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SourceMap {
    /// Node entries in file order, duplicates included.
    pub nodes: Vec<NodeSpan>,
    /// Elements of the `wires` list in file order.
    pub wires: Vec<WireSpan>,
    /// Top-level field names and where they are.
    pub fields: Vec<(String, Location)>,
    /// The text of the number after the top-level `version:`.
    pub version: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Str(String),
    Ident(String),
    Num(String),
    Open(char),
    Close,
    Comma,
    Colon,
    Other,
}

/// A cursor over the text that counts lines and columns (1-based, in chars).
struct Cursor<'a> {
    rest: std::str::Chars<'a>,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.rest.clone().next()
    }
    fn peek2(&self) -> Option<char> {
        let mut it = self.rest.clone();
        it.next();
        it.next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }
    fn loc(&self) -> Location {
        Location::new(self.line, self.column)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Read a `"…"` string whose opening quote was consumed, decoding escapes.
fn read_string(cur: &mut Cursor<'_>) -> String {
    let mut s = String::new();
    while let Some(c) = cur.bump() {
        match c {
            '"' => break,
            '\\' => match cur.bump() {
                Some('n') => s.push('\n'),
                Some('r') => s.push('\r'),
                Some('t') => s.push('\t'),
                Some('0') => s.push('\0'),
                Some('x') => {
                    let hex: String = (0..2).filter_map(|_| cur.bump()).collect();
                    if let Ok(b) = u8::from_str_radix(&hex, 16) {
                        s.push(char::from(b));
                    }
                }
                Some('u') => {
                    if cur.peek() == Some('{') {
                        cur.bump();
                        let mut hex = String::new();
                        while let Some(c) = cur.bump() {
                            if c == '}' || hex.len() > 8 {
                                break;
                            }
                            hex.push(c);
                        }
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            s.push(c);
                        }
                    }
                }
                Some(other) => s.push(other),
                None => break,
            },
            other => s.push(other),
        }
    }
    s
}

/// Read a raw string `r#"…"#` whose `r` was consumed; `None` if it is not one
/// (then the hashes were a raw identifier's, which we treat as an identifier).
fn read_raw_string(cur: &mut Cursor<'_>) -> Option<String> {
    let mut hashes = 0usize;
    while cur.peek() == Some('#') {
        cur.bump();
        hashes += 1;
    }
    if cur.peek() != Some('"') {
        return None;
    }
    cur.bump();
    let mut s = String::new();
    'outer: while let Some(c) = cur.bump() {
        if c == '"' {
            let mut it = cur.rest.clone();
            if (0..hashes).all(|_| it.next() == Some('#')) {
                for _ in 0..hashes {
                    cur.bump();
                }
                break 'outer;
            }
        }
        s.push(c);
    }
    Some(s)
}

fn skip_block_comment(cur: &mut Cursor<'_>) {
    // `/*` consumed; block comments nest in RON.
    let mut depth = 1usize;
    while let Some(c) = cur.bump() {
        match (c, cur.peek()) {
            ('*', Some('/')) => {
                cur.bump();
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            ('/', Some('*')) => {
                cur.bump();
                depth += 1;
            }
            _ => {}
        }
    }
}

fn lex(text: &str) -> Vec<(Tok, Location)> {
    let mut cur = Cursor {
        rest: text.chars(),
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    while let Some(c) = cur.peek() {
        let loc = cur.loc();
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        let tok = match c {
            '/' if cur.peek2() == Some('/') => {
                while let Some(c) = cur.bump() {
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            '/' if cur.peek2() == Some('*') => {
                cur.bump();
                cur.bump();
                skip_block_comment(&mut cur);
                continue;
            }
            '"' => {
                cur.bump();
                Tok::Str(read_string(&mut cur))
            }
            'r' if matches!(cur.peek2(), Some('"' | '#')) => {
                cur.bump();
                match read_raw_string(&mut cur) {
                    Some(s) => Tok::Str(s),
                    None => {
                        let mut id = String::new();
                        while let Some(c) = cur.peek().filter(|c| is_ident_char(*c)) {
                            id.push(c);
                            cur.bump();
                        }
                        Tok::Ident(id)
                    }
                }
            }
            'b' if cur.peek2() == Some('"') => {
                cur.bump();
                cur.bump();
                Tok::Str(read_string(&mut cur))
            }
            '\'' => {
                cur.bump();
                if cur.bump() == Some('\\') && cur.bump() == Some('u') {
                    while let Some(c) = cur.bump() {
                        if c == '}' {
                            break;
                        }
                    }
                }
                if cur.peek() == Some('\'') {
                    cur.bump();
                }
                Tok::Other
            }
            '(' | '[' | '{' => {
                cur.bump();
                Tok::Open(c)
            }
            ')' | ']' | '}' => {
                cur.bump();
                Tok::Close
            }
            ',' => {
                cur.bump();
                Tok::Comma
            }
            ':' => {
                cur.bump();
                Tok::Colon
            }
            c if is_ident_start(c) => {
                let mut id = String::new();
                while let Some(c) = cur.peek().filter(|c| is_ident_char(*c)) {
                    id.push(c);
                    cur.bump();
                }
                Tok::Ident(id)
            }
            c if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') => {
                let mut num = String::new();
                num.push(c);
                cur.bump();
                while let Some(c) = cur.peek() {
                    let after_exp = matches!(num.chars().last(), Some('e' | 'E'));
                    if is_ident_char(c) || c == '.' || (after_exp && matches!(c, '+' | '-')) {
                        num.push(c);
                        cur.bump();
                    } else {
                        break;
                    }
                }
                Tok::Num(num)
            }
            _ => {
                cur.bump();
                Tok::Other
            }
        };
        out.push((tok, loc));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Root,
    Nodes,
    Node(usize),
    Params(usize),
    Wires,
    Wire(usize),
    Other,
}

struct Frame {
    role: Role,
    /// The key (`name:` or `"name":`) most recently read at this level.
    key: Option<String>,
    /// Set while the next token starts a new element of a list.
    at_element_start: bool,
}

impl SourceMap {
    pub(crate) fn build(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut seen_root = false;
        let mut prev: Option<(String, Location)> = None;
        let mut current_wire: Option<usize> = None;

        for (tok, loc) in lex(text) {
            // A new element of the wires list starts at its first token.
            if let Some(top) = stack.last_mut()
                && top.role == Role::Wires
                && top.at_element_start
                && !matches!(tok, Tok::Comma | Tok::Close)
            {
                top.at_element_start = false;
                map.wires.push(WireSpan {
                    start: loc,
                    strings: Vec::new(),
                });
                current_wire = Some(map.wires.len() - 1);
            }
            let role = stack.last().map(|f| f.role);
            match &tok {
                Tok::Colon => {
                    if let (Some((key, key_loc)), Some(top)) = (prev.take(), stack.last_mut()) {
                        match top.role {
                            Role::Root => {
                                map.fields.push((key.clone(), key_loc));
                            }
                            Role::Nodes => map.nodes.push(NodeSpan {
                                id: key.clone(),
                                key: key_loc,
                                kind: None,
                                params: Vec::new(),
                            }),
                            Role::Params(i) => map.nodes[i].params.push((key.clone(), key_loc)),
                            _ => {}
                        }
                        top.key = Some(key);
                    }
                }
                Tok::Comma => {
                    if let Some(top) = stack.last_mut() {
                        top.key = None;
                        top.at_element_start = true;
                    }
                }
                Tok::Open(open) => {
                    let key = stack.last().and_then(|f| f.key.clone());
                    let new_role = match (role, *open, key.as_deref()) {
                        (None, '(', _) if !seen_root => {
                            seen_root = true;
                            Role::Root
                        }
                        (Some(Role::Root), '{', Some("nodes")) => Role::Nodes,
                        (Some(Role::Root), '[', Some("wires")) => Role::Wires,
                        (Some(Role::Nodes), '(', Some(_)) if !map.nodes.is_empty() => {
                            Role::Node(map.nodes.len() - 1)
                        }
                        (Some(Role::Node(i)), '{', Some("params")) => Role::Params(i),
                        (Some(Role::Wires), '(', _) => Role::Wire(current_wire.unwrap_or(0)),
                        _ => Role::Other,
                    };
                    stack.push(Frame {
                        role: new_role,
                        key: None,
                        at_element_start: true,
                    });
                }
                Tok::Close => {
                    stack.pop();
                }
                Tok::Str(s) => match role {
                    Some(Role::Node(i))
                        if stack.last().and_then(|f| f.key.as_deref()) == Some("kind") =>
                    {
                        map.nodes[i].kind.get_or_insert(loc);
                    }
                    Some(Role::Wire(i)) => {
                        if let Some(w) = map.wires.get_mut(i) {
                            w.strings.push((s.clone(), loc));
                        }
                    }
                    Some(Role::Wires) => {
                        if let Some(w) = current_wire.and_then(|i| map.wires.get_mut(i)) {
                            w.strings.push((s.clone(), loc));
                        }
                    }
                    _ => {}
                },
                Tok::Num(n) => {
                    if role == Some(Role::Root)
                        && stack.last().and_then(|f| f.key.as_deref()) == Some("version")
                        && map.version.is_none()
                    {
                        map.version = Some(n.clone());
                    }
                }
                Tok::Ident(_) | Tok::Other => {}
            }
            prev = match tok {
                Tok::Str(s) | Tok::Ident(s) => Some((s, loc)),
                _ => None,
            };
        }
        map
    }

    /// The `nth` (0-based) entry for node `id`.
    pub(crate) fn node_nth(&self, id: &str, nth: usize) -> Option<&NodeSpan> {
        self.nodes.iter().filter(|n| n.id == id).nth(nth)
    }

    /// The last entry for node `id`: the one a map keeps when ids repeat.
    pub(crate) fn node(&self, id: &str) -> Option<&NodeSpan> {
        self.nodes.iter().rev().find(|n| n.id == id)
    }

    pub(crate) fn param(&self, id: &str, name: &str) -> Option<Location> {
        let node = self.node(id)?;
        node.params
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, l)| *l)
    }

    /// The `nth` (0-based) wire written with exactly these two strings.
    pub(crate) fn wire(&self, from: &str, to: &str, nth: usize) -> Option<&WireSpan> {
        self.wires
            .iter()
            .filter(|w| w.strings.len() == 2 && w.strings[0].0 == from && w.strings[1].0 == to)
            .nth(nth)
    }

    pub(crate) fn field(&self, name: &str) -> Option<Location> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r##"// a comment with "nodes": {
(
    version: 1,
    name: "a \"quoted\" name: {",
    nodes: {
        "a": (kind: "tone", pos: (1.0, 2.0), params: {"freq_hz": 440.0}),
        /* "b": (kind: "x") */
        "b": Node(kind: r#"gain"#, params: {"gain_db": -3, "x": "y"}),
    },
    wires: [("a.out", "b.in"), (from: "b.out", to: "c.in"), "oops"],
)
"##;

    #[test]
    fn finds_nodes_params_and_wires() {
        let map = SourceMap::build(TEXT);
        assert_eq!(map.version.as_deref(), Some("1"));
        assert_eq!(map.field("nodes"), Some(Location::new(5, 5)));
        let ids: Vec<_> = map.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let a = map.node("a").unwrap();
        assert_eq!(a.key, Location::new(6, 9));
        assert_eq!(a.kind, Some(Location::new(6, 21)));
        assert_eq!(map.param("a", "freq_hz"), Some(Location::new(6, 55)));
        assert_eq!(map.param("b", "x"), Some(Location::new(8, 60)));
        assert_eq!(map.node("b").unwrap().kind, Some(Location::new(8, 25)));
        assert_eq!(map.wires.len(), 3);
        assert_eq!(map.wires[0].start, Location::new(10, 13));
        assert_eq!(map.wires[1].strings[1].0, "c.in");
        assert_eq!(map.wires[2].strings[0].0, "oops");
        let w = map.wire("a.out", "b.in", 0).unwrap();
        assert_eq!(w.strings[1].1, Location::new(10, 23));
        assert!(map.wire("a.out", "b.in", 1).is_none());
    }

    #[test]
    fn never_panics_on_garbage() {
        for text in [
            "",
            "(((",
            ")))]]}",
            "\"",
            "r#\"",
            "'",
            "/*",
            "(nodes: {\"a\": (",
            "(wires: [,,(\"a\"",
        ] {
            let _ = SourceMap::build(text);
        }
    }
}
