//! Load errors in words a user understands (CONTRACT §2): every message names
//! the file and, where known, the line and column, so a terminal or an editor
//! can jump straight to the problem.

use std::fmt;

/// A place in a patch file, 1-based, columns counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(line: usize, column: usize) -> Self {
        Location { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem found in a patch, e.g.
/// `graphs/x.ohm.ron:12:5: unknown node kind "preamo" (did you mean "preamp"?)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The file path, or `<patch>` for a patch that has no file.
    pub origin: String,
    pub location: Option<Location>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        origin: impl Into<String>,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            origin: origin.into(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(loc) => write!(f, "{}:{}: {}", self.origin, loc, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Why a patch could not be loaded.
///
/// The split follows the exit codes of `ohmpatch check` (CONTRACT §3): a file
/// that is not a patch at all is *unreadable* (2); a patch that reads but
/// makes no sense is *invalid* (1).
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    /// I/O failure, not RON, not shaped like a patch, or a newer format version.
    ///
    /// When the place is known, `message` starts with `line:column: ` (see
    /// [`LoadError::unreadable_at`]) and the error displays as
    /// `origin:line:column: …`, the same shape as a [`Diagnostic`].
    Unreadable { origin: String, message: String },
    /// Parsed, but semantically wrong; one diagnostic per problem.
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    /// The exit code of `ohmpatch check` for this error: 2 unreadable, 1 invalid.
    pub fn exit_code(&self) -> i32 {
        match self {
            LoadError::Unreadable { .. } => 2,
            LoadError::Invalid(_) => 1,
        }
    }

    pub fn unreadable(origin: impl Into<String>, message: impl Into<String>) -> Self {
        LoadError::Unreadable {
            origin: origin.into(),
            message: message.into(),
        }
    }

    /// An unreadable-file error whose message starts with `line:column: `.
    pub fn unreadable_at(
        origin: impl Into<String>,
        location: Option<Location>,
        message: impl fmt::Display,
    ) -> Self {
        let message = match location {
            Some(loc) => format!("{loc}: {message}"),
            None => message.to_string(),
        };
        LoadError::unreadable(origin, message)
    }

    /// The diagnostics of an invalid patch; empty for an unreadable one.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Unreadable { .. } => &[],
            LoadError::Invalid(d) => d,
        }
    }
}

/// Whether `message` starts with a `line:column: ` prefix.
fn starts_with_location(message: &str) -> bool {
    let Some((head, _)) = message.split_once(": ") else {
        return false;
    };
    let Some((line, col)) = head.split_once(':') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(line) && digits(col)
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Unreadable { origin, message } => {
                if starts_with_location(message) {
                    write!(f, "{origin}:{message}")
                } else {
                    write!(f, "{origin}: {message}")
                }
            }
            LoadError::Invalid(diags) => {
                if diags.is_empty() {
                    return f.write_str("invalid patch");
                }
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_display_with_and_without_location() {
        let d = Diagnostic::new(
            "graphs/x.ohm.ron",
            Some(Location::new(12, 5)),
            "unknown node kind \"preamo\" (did you mean \"preamp\"?)",
        );
        assert_eq!(
            d.to_string(),
            "graphs/x.ohm.ron:12:5: unknown node kind \"preamo\" (did you mean \"preamp\"?)"
        );
        let d = Diagnostic::new("<patch>", None, "too many nodes");
        assert_eq!(d.to_string(), "<patch>: too many nodes");
    }

    #[test]
    fn load_error_display_and_exit_codes() {
        let e = LoadError::unreadable_at("a.ohm.ron", Some(Location::new(3, 7)), "expected `)`");
        assert_eq!(e.to_string(), "a.ohm.ron:3:7: expected `)`");
        assert_eq!(e.exit_code(), 2);
        let e = LoadError::unreadable("a.ohm.ron", "the file does not exist");
        assert_eq!(e.to_string(), "a.ohm.ron: the file does not exist");
        let e = LoadError::Invalid(vec![
            Diagnostic::new("p", Some(Location::new(1, 2)), "one"),
            Diagnostic::new("p", None, "two"),
        ]);
        assert_eq!(e.to_string(), "p:1:2: one\np: two");
        assert_eq!(e.exit_code(), 1);
    }
}
