//! The host side (feature `host`): reads `system.toml` into a [`CheckedConfig`] (the model
//! that passed the rule engine), reporting every broken rule with its file, line and column.
//!
//! Four passes: TOML syntax (with spans), [`drafts`] (each table and field on its own: the
//! rules that only exist on text), [`validate`] (names resolved: what cannot exist in a
//! model), [`build`] into the bounded model with a side table of where each item is written,
//! and then the rule engine ([`crate::rules`]), the same one the memory manager runs at boot,
//! whose findings the side table turns into file, line and column.

mod build;
mod diagnostics;
mod drafts;
mod fields;
mod memory_size;
mod validate;

use core::ops::ControlFlow;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use toml::de::DeTable;

pub use diagnostics::{ConfigError, Rule};

use crate::rules::{self, CheckedConfig};
use diagnostics::Diagnostics;

/// Parses and checks a system description read as bytes from a file: the same as [`parse`]
/// once the bytes are UTF-8 text. Bytes that are not UTF-8 (TOML is UTF-8) are refused with
/// [`Rule::NotText`], at the line and column where the first byte that is not UTF-8 stands.
pub fn parse_bytes(
    file_name: &str,
    bytes: &[u8],
    programs: &[&str],
) -> Result<CheckedConfig, Vec<ConfigError>> {
    let error = match core::str::from_utf8(bytes) {
        Ok(text) => return parse(file_name, text, programs),
        Err(error) => error,
    };
    let (valid, rest) = bytes.split_at(error.valid_up_to());
    // `valid` is UTF-8 by construction: where the bad byte stands is counted in it.
    let text = core::str::from_utf8(valid).unwrap_or_default();
    let mut diag = Diagnostics::new(file_name, text);
    let first = rest.first().copied().unwrap_or_default();
    let message = match error.error_len() {
        Some(_) => format!(
            "the file is not UTF-8 text: byte {first:#04x} here is not UTF-8; a system \
             description is TOML, which is UTF-8: save it as UTF-8"
        ),
        None => String::from(
            "the file is not UTF-8 text: it ends in the middle of a character; a system \
             description is TOML, which is UTF-8: save it as UTF-8",
        ),
    };
    diag.report(&(text.len()..text.len()), Rule::NotText, message);
    Err(diag.into_errors())
}

/// Parses and checks a system description: the [`CheckedConfig`] that the memory manager's
/// boot check would also accept (the same rule engine ran), which is what the broker and the
/// policy take, or every error.
///
/// `file_name` is only used in the errors; `programs` are the program names the build has,
/// which `program` fields must name. On failure, returns every error found, in file order
/// (a TOML syntax error stops the checks that would follow it).
pub fn parse(
    file_name: &str,
    text: &str,
    programs: &[&str],
) -> Result<CheckedConfig, Vec<ConfigError>> {
    let mut diag = Diagnostics::new(file_name, text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            let message = format!("invalid TOML: {}", error.message());
            diag.report(&span, Rule::TomlSyntax, message);
        }
        return Err(diag.into_errors());
    }
    let drafts = drafts::read_document(document.get_ref(), programs, &mut diag);
    let resolved = validate::validate(&drafts, &mut diag);
    if diag.has_errors() {
        return Err(diag.into_errors());
    }
    let Some((config, table)) = build::build(&drafts, &resolved) else {
        return Err(diag.into_errors());
    };
    let mut findings = Vec::new();
    rules::check(&config, &mut |finding| {
        findings.push(finding);
        ControlFlow::Continue(())
    });
    if findings.is_empty() {
        return Ok(CheckedConfig::engine_passed(config));
    }
    for finding in &findings {
        let lines = build::HostLines { table: &table, diag: &diag };
        let message = finding.sentence(&config, &lines).to_string();
        let span = table.span(finding.at).unwrap_or(0..0);
        diag.report(&span, finding.rule(), message);
    }
    Err(diag.into_errors())
}
