//! What a well-formed name is: the one predicate that the parser and the rule engine apply.

use crate::model::MAX_NAME_LEN;

/// Whether `name` is a valid realm or service name: 1 to [`MAX_NAME_LEN`] characters, each
/// one of `a-z`, `0-9` or `-`.
pub fn is_valid_name(name: &str) -> bool {
    has_valid_length(name) && name.bytes().all(is_name_byte)
}

/// Whether `name` is a valid program name: like [`is_valid_name`], and `_` is allowed too
/// (Cargo binary names often have one).
pub fn is_valid_program_name(name: &str) -> bool {
    has_valid_length(name) && name.bytes().all(|byte| is_name_byte(byte) || byte == b'_')
}

fn has_valid_length(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
}
