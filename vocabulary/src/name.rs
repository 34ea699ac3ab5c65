//! Names: what a realm or a service is called ([`Name`]), and, apart from it, what program a
//! realm runs ([`ProgramName`]). Each has one rule, checked by one function.

use core::fmt;

use crate::limits::{MAX_NAME_BYTES, MAX_PROGRAM_NAME_BYTES};

/// The name of a realm or a service: 1 to [`MAX_NAME_BYTES`] (32) bytes, each a lowercase
/// ASCII letter `a-z`, a digit `0-9` or `-`.
///
/// The rule is that of `system.toml` (close to a DNS label, but a name may start or end with
/// `-`), for every name at every
/// layer: the description's parser, the protocol decoder, the realm runtime
/// (`register("...")`, `connect("...")`) and the broker all check with [`Name::new`] or
/// [`Name::from_bytes`], so a name a realm can register is always one a grant can name, and
/// no two spellings (`Kv` and `kv`) can mean one service or two. Lowercase only, so there is
/// no case folding to get wrong; no `.` or `_`, so a name never looks like a path or a
/// program; ASCII only, so a name's bytes are its characters.
///
/// A name is a plain value (33 bytes, `Copy`): no allocation, bounded. Names are ordered
/// byte by byte, as their text is (a name never holds a zero byte, so the zero padding sorts
/// a prefix first): the broker keeps its tables sorted by name and finds a name by binary
/// search.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    /// The name's bytes; every byte past `length` is zero, so derived equality is exact.
    bytes: [u8; MAX_NAME_BYTES],
    length: u8,
}

/// Why bytes are not a valid [`Name`] (or [`ProgramName`]): exactly which length or which
/// byte breaks the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameError {
    /// No bytes.
    Empty,
    /// `length` bytes, more than the longest name (a `u64`: the protocol's length word may
    /// say anything).
    TooLong { length: u64 },
    /// Byte number `index` (from 0) is `byte`, which the rule does not allow there.
    InvalidByte { index: u8, byte: u8 },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "the name is empty"),
            Self::TooLong { length } => {
                write!(f, "the name is {length} bytes, more than {MAX_NAME_BYTES}")
            }
            Self::InvalidByte { index, byte } => {
                write!(f, "byte {index} of the name is {byte:#04x}, which the rule does not allow")
            }
        }
    }
}

/// Whether `byte` may appear in a [`Name`]: `a-z`, `0-9`, `-`.
pub const fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
}

/// Whether `byte` may appear in a [`ProgramName`]: ASCII letters, digits, `-`, `_`.
pub const fn is_program_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_')
}

/// Checks `bytes` against a length limit and a byte rule; the one checking loop of both
/// kinds of name.
fn check(bytes: &[u8], max: usize, allowed: fn(u8) -> bool) -> Result<(), NameError> {
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    if bytes.len() > max {
        return Err(NameError::TooLong { length: bytes.len() as u64 });
    }
    match bytes.iter().enumerate().find(|&(_, &byte)| !allowed(byte)) {
        // The index is below `max` (at most 32), so it fits a byte.
        Some((index, &byte)) => Err(NameError::InvalidByte { index: index as u8, byte }),
        None => Ok(()),
    }
}

impl Name {
    /// Checks `text` against the rule and copies it into a name.
    ///
    /// # Errors
    /// [`NameError::Empty`], [`NameError::TooLong`] (more than [`MAX_NAME_BYTES`] bytes), or
    /// [`NameError::InvalidByte`] naming the first byte outside `a-z 0-9 -` (a multibyte
    /// UTF-8 character is refused at its first byte).
    pub fn new(text: &str) -> Result<Self, NameError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Checks `bytes` against the rule and copies them into a name; errors as [`Name::new`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NameError> {
        check(bytes, MAX_NAME_BYTES, is_name_byte)?;
        let mut name = Self { bytes: [0; MAX_NAME_BYTES], length: bytes.len() as u8 };
        for (slot, &byte) in name.bytes.iter_mut().zip(bytes) {
            *slot = byte;
        }
        Ok(name)
    }

    /// The name's bytes (1 to [`MAX_NAME_BYTES`]).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.length)).unwrap_or(&[])
    }

    /// The name as text (always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The length in bytes (1 to [`MAX_NAME_BYTES`]).
    pub const fn len(&self) -> usize {
        self.length as usize
    }

    /// Always `false`: a name has at least one byte (for clippy's `len_without_is_empty`).
    pub const fn is_empty(&self) -> bool {
        self.length == 0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.as_str())
    }
}

/// The program a realm runs (`program = "kv-store"` in `system.toml`): the name of a Cargo
/// package of the build, 1 to [`MAX_PROGRAM_NAME_BYTES`] bytes of ASCII letters, digits, `-`
/// and `_` (Cargo's own alphabet for package names). Not a [`Name`]: it names a binary of the
/// build, never a realm or a service, and it never crosses the broker protocol.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProgramName {
    /// The bytes; every byte past `length` is zero.
    bytes: [u8; MAX_PROGRAM_NAME_BYTES],
    length: u8,
}

impl ProgramName {
    /// Checks `text` against the rule and copies it.
    ///
    /// # Errors
    /// [`NameError::Empty`], [`NameError::TooLong`] (more than [`MAX_PROGRAM_NAME_BYTES`]
    /// bytes), or [`NameError::InvalidByte`] naming the first byte outside the alphabet.
    pub fn new(text: &str) -> Result<Self, NameError> {
        let bytes = text.as_bytes();
        check(bytes, MAX_PROGRAM_NAME_BYTES, is_program_name_byte)?;
        let mut name = Self { bytes: [0; MAX_PROGRAM_NAME_BYTES], length: bytes.len() as u8 };
        for (slot, &byte) in name.bytes.iter_mut().zip(bytes) {
            *slot = byte;
        }
        Ok(name)
    }

    /// The program name as text (always ASCII).
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.length)).unwrap_or(&[]);
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl fmt::Display for ProgramName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ProgramName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramName({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        let name = Name::new("kv-store-2").unwrap();
        assert_eq!(name.as_str(), "kv-store-2");
        assert_eq!(name.len(), 10);
        assert!(!name.is_empty());
        assert!(Name::new(&"a".repeat(32)).is_ok());
        assert!(Name::new("0123456789-abcdefghijklmnopqrstu").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_bytes() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new(&"a".repeat(33)), Err(NameError::TooLong { length: 33 }));
        assert_eq!(Name::new("kv store"), Err(NameError::InvalidByte { index: 2, byte: b' ' }));
        assert_eq!(
            Name::from_bytes(&[b'a', 0xff]),
            Err(NameError::InvalidByte { index: 1, byte: 0xff })
        );
        assert_eq!(Name::new("Kv"), Err(NameError::InvalidByte { index: 0, byte: b'K' }));
        assert_eq!(Name::new("kv.2"), Err(NameError::InvalidByte { index: 2, byte: b'.' }));
        assert_eq!(Name::new("kv_2"), Err(NameError::InvalidByte { index: 2, byte: b'_' }));
        assert_eq!(Name::new("ké"), Err(NameError::InvalidByte { index: 1, byte: 0xc3 }));
        assert_eq!(Name::new("k\n"), Err(NameError::InvalidByte { index: 1, byte: b'\n' }));
    }

    #[test]
    fn orders_as_text() {
        let mut names = ["kv-store", "kv", "a", "kv-2", "z", "kvs"].map(|t| Name::new(t).unwrap());
        names.sort();
        assert_eq!(
            names.map(|n| n.as_str().to_owned()),
            ["a", "kv", "kv-2", "kv-store", "kvs", "z"]
        );
    }

    #[test]
    fn program_names_are_cargo_package_names() {
        assert_eq!(ProgramName::new("kv_store-2B").unwrap().as_str(), "kv_store-2B");
        assert_eq!(ProgramName::new(""), Err(NameError::Empty));
        assert_eq!(ProgramName::new(&"p".repeat(33)), Err(NameError::TooLong { length: 33 }));
        assert_eq!(ProgramName::new("a b"), Err(NameError::InvalidByte { index: 1, byte: b' ' }));
        assert_eq!(ProgramName::new("a.b"), Err(NameError::InvalidByte { index: 1, byte: b'.' }));
    }
}
