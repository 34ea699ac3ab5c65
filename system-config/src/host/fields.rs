//! Typed reading of one TOML table: unknown keys, missing keys and wrong types, with spans.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostics::{Diagnostics, Located, Rule, Span};

/// Whether a key must be present.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Required,
    Optional,
}

/// One `[[realm]]`, `[[service]]` or `[[grant]]` table, being read.
pub(crate) struct Fields<'t, 'i> {
    table: &'t DeTable<'i>,
    /// The table's header (`[[realm]]`), where table-wide errors point.
    pub header: Span,
    /// How messages name the table: `[[realm]]` until its name is known, then `realm "kv"`.
    subject: String,
}

impl<'t, 'i> Fields<'t, 'i> {
    /// Starts reading `table` of kind `kind` (`realm`...), whose header is at `header`.
    pub fn new(table: &'t DeTable<'i>, kind: &str, header: Span) -> Self {
        Fields { table, header, subject: format!("[[{kind}]]") }
    }

    /// Reports every key that is not in `known`.
    pub fn check_known(&self, known: &[&str], diag: &mut Diagnostics) {
        for (key, _) in self.table.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                diag.report(
                    &key.span(),
                    Rule::UnknownField,
                    format!(
                        "unknown field `{}` in {}; the fields are: {}",
                        key.get_ref(),
                        self.subject,
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// From now on, messages name the table `subject` (`realm "kv"`).
    pub fn set_subject(&mut self, subject: String) {
        self.subject = subject;
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The raw value of `key`; reports a missing required key.
    pub fn value(
        &self,
        key: &str,
        need: Need,
        diag: &mut Diagnostics,
    ) -> Option<&'t Spanned<DeValue<'i>>> {
        let found = self
            .table
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == key)
            .map(|(_, value)| value);
        if found.is_none() && need == Need::Required {
            diag.report(
                &self.header,
                Rule::MissingField,
                format!("{} is missing the required field `{key}`", self.subject),
            );
        }
        found
    }

    pub fn string(&self, key: &str, need: Need, diag: &mut Diagnostics) -> Option<Located<String>> {
        let value = self.value(key, need, diag)?;
        as_string(value, &self.describe(key), diag)
    }

    /// An integer, saturated to the `i128` range (callers check their own range).
    pub fn integer(&self, key: &str, need: Need, diag: &mut Diagnostics) -> Option<Located<i128>> {
        let value = self.value(key, need, diag)?;
        match value.get_ref() {
            DeValue::Integer(integer) => Some(Located {
                value: parse_integer(integer.as_str(), integer.radix()),
                span: value.span(),
            }),
            other => {
                report_wrong_type(diag, &value.span(), &self.describe(key), "an integer", other);
                None
            }
        }
    }

    pub fn boolean(&self, key: &str, need: Need, diag: &mut Diagnostics) -> Option<Located<bool>> {
        let value = self.value(key, need, diag)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(Located { value: *flag, span: value.span() }),
            other => {
                report_wrong_type(diag, &value.span(), &self.describe(key), "true or false", other);
                None
            }
        }
    }

    /// An array of strings; elements of another type are reported and left out.
    pub fn string_array(
        &self,
        key: &str,
        need: Need,
        diag: &mut Diagnostics,
    ) -> Option<Located<Vec<Located<String>>>> {
        let value = self.value(key, need, diag)?;
        let DeValue::Array(elements) = value.get_ref() else {
            let what = self.describe(key);
            report_wrong_type(diag, &value.span(), &what, "an array of strings", value.get_ref());
            return None;
        };
        let what = format!("each entry of {}", self.describe(key));
        let strings =
            elements.iter().filter_map(|element| as_string(element, &what, diag)).collect();
        Some(Located { value: strings, span: value.span() })
    }

    /// `field `priority` of realm "kv"`, for messages.
    fn describe(&self, key: &str) -> String {
        format!("field `{key}` of {}", self.subject)
    }
}

fn as_string(
    value: &Spanned<DeValue>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<Located<String>> {
    match value.get_ref() {
        DeValue::String(text) => Some(Located { value: text.to_string(), span: value.span() }),
        other => {
            report_wrong_type(diag, &value.span(), what, "a string", other);
            None
        }
    }
}

/// Reports that `what` is not `expected` (`"an integer"`) but `found`.
pub(crate) fn report_wrong_type(
    diag: &mut Diagnostics,
    span: &Span,
    what: &str,
    expected: &str,
    found: &DeValue,
) {
    diag.report(
        span,
        Rule::WrongType,
        format!("{what} must be {expected}, not {}", type_name(found)),
    );
}

/// `a string`, `an integer`... for messages.
pub(crate) fn type_name(value: &DeValue) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A TOML integer (digits without sign prefix or underscores, in `radix`), saturated to
/// `i128` so that a huge value still fails every range check.
pub(crate) fn parse_integer(digits: &str, radix: u32) -> i128 {
    i128::from_str_radix(digits, radix).unwrap_or(if digits.starts_with('-') {
        i128::MIN
    } else {
        i128::MAX
    })
}
