//! Errors found in a `system.toml`: the rule each one breaks, where it is, and how it prints.

use std::fmt;
use std::ops::Range;
use std::string::String;
use std::vec::Vec;

pub use crate::rules::Rule;

/// A byte range in the source text.
pub(crate) type Span = Range<usize>;

/// A value read from the source, with where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub value: T,
    pub span: Span,
}

/// One broken rule in a `system.toml`, at a 1-based line and column (in characters).
///
/// Displays as `system.toml:12:8: error[duplicate-realm]: realm "kv" is declared twice (first
/// at line 4)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// The message quotes what the file says (a name, a value), so its control characters are
    /// shown escaped (`\u{1b}`): a file cannot colour, move or clear the terminal it is
    /// checked on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error[{}]: ", self.file, self.line, self.column, self.rule)?;
        for character in self.message.chars() {
            if character.is_control() {
                write!(f, "{}", character.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, character)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects the errors of one file, turning byte offsets into lines and columns.
pub(crate) struct Diagnostics<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Diagnostics { file, text, errors: Vec::new() }
    }

    /// Records that the item at `span` breaks `rule`.
    pub fn report(&mut self, span: &Span, rule: Rule, message: impl Into<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(ConfigError {
            file: self.file.into(),
            line,
            column,
            rule,
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The 1-based line where `span` starts.
    pub fn line_of(&self, span: &Span) -> usize {
        self.position(span.start).0
    }

    /// The source text of `span` (empty if the span is not in the text).
    pub fn source(&self, span: &Span) -> &'a str {
        self.text.get(span.clone()).unwrap_or("")
    }

    /// All errors, in the order they appear in the file.
    pub fn into_errors(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|error| (error.line, error.column));
        self.errors
    }

    /// 1-based line and column (in characters) of the byte at `offset`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = self.prefix(offset);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The text before `offset`, moved back to a character boundary if it is not on one.
    fn prefix(&self, offset: usize) -> &'a str {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        &self.text[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_a_message_are_escaped() {
        let error = ConfigError {
            file: "system.toml".into(),
            line: 3,
            column: 8,
            rule: Rule::BadName,
            message: "realm name \"a\u{1b}[31mRED\0\" is not a name".into(),
        };
        assert_eq!(
            error.to_string(),
            "system.toml:3:8: error[bad-name]: realm name \"a\\u{1b}[31mRED\\u{0}\" is not a name"
        );
    }
}
