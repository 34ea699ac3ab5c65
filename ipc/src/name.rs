//! Names of services and realms: short, checked ASCII strings that fit in a few message words.
//!
//! On the wire a name is one word with its length in bytes, then the bytes packed eight to a
//! word, little-endian (byte `i` is bits `8*(i%8)..` of word `i/8`), the unused bytes of the
//! last word zero.

use core::fmt;

use crate::error::{Field, Malformed};
use crate::wire::{Message, Reader};

/// The longest name, in bytes.
pub const MAX_NAME_BYTES: usize = 32;

/// Bytes per message word.
const WORD_BYTES: usize = 8;

/// A service or realm name: 1 to [`MAX_NAME_BYTES`] bytes of ASCII letters, digits, `-`, `_`
/// and `.`.
///
/// Names are ordered byte by byte, as their text is (a name never holds a zero byte, so the
/// zero padding sorts a prefix first): the broker keeps its tables sorted by name and finds a
/// name by binary search.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    /// The name's bytes; every byte past `length` is zero, so derived equality is exact.
    bytes: [u8; MAX_NAME_BYTES],
    length: u8,
}

/// Why bytes are not a valid [`Name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameError {
    Empty,
    TooLong { length: u64 },
    InvalidByte { index: u8, byte: u8 },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "the name is empty"),
            Self::TooLong { length } => {
                write!(f, "the name is {length} bytes, more than {MAX_NAME_BYTES}")
            }
            Self::InvalidByte { index, byte } => write!(
                f,
                "byte {index} of the name is {byte:#04x}, not an ASCII letter, digit, '-', '_' or '.'"
            ),
        }
    }
}

/// Whether `byte` may appear in a name.
const fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')
}

impl Name {
    /// Checks and copies `text` into a name.
    pub fn new(text: &str) -> Result<Self, NameError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Checks and copies `bytes` into a name.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NameError> {
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong { length: bytes.len() as u64 });
        }
        let mut name = Self { bytes: [0; MAX_NAME_BYTES], length: 0 };
        for (index, (&byte, slot)) in bytes.iter().zip(name.bytes.iter_mut()).enumerate() {
            if !is_name_byte(byte) {
                return Err(NameError::InvalidByte { index: index as u8, byte });
            }
            *slot = byte;
        }
        name.length = bytes.len() as u8;
        Ok(name)
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.length)).unwrap_or(&[])
    }

    /// The name as text (always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// How many words the name takes on the wire, length word included.
    pub const fn wire_words(&self) -> usize {
        1 + (self.length as usize).div_ceil(WORD_BYTES)
    }

    /// Appends the name's words to `message`.
    pub(crate) fn write(&self, message: &mut Message) {
        message.push(u64::from(self.length));
        for chunk in self.as_bytes().chunks(WORD_BYTES) {
            let mut word_bytes = [0u8; WORD_BYTES];
            for (slot, &byte) in word_bytes.iter_mut().zip(chunk) {
                *slot = byte;
            }
            message.push(u64::from_le_bytes(word_bytes));
        }
    }

    /// Reads a name from `reader`; `field` says which name it is, for the error.
    pub(crate) fn read(reader: &mut Reader<'_>, field: Field) -> Result<Self, Malformed> {
        let length = reader.word()?;
        if length == 0 {
            return Err(Malformed::BadName { field, error: NameError::Empty });
        }
        if length > MAX_NAME_BYTES as u64 {
            return Err(Malformed::BadName { field, error: NameError::TooLong { length } });
        }
        let length = length as usize;
        let words = reader.take(length.div_ceil(WORD_BYTES))?;
        let mut bytes = [0u8; MAX_NAME_BYTES];
        for (chunk, word) in bytes.chunks_mut(WORD_BYTES).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let (used, padding) = bytes.split_at_checked(length).unwrap_or((&bytes, &[]));
        if padding.iter().any(|&byte| byte != 0) {
            return Err(Malformed::NamePadding { field });
        }
        Self::from_bytes(used).map_err(|error| Malformed::BadName { field, error })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        let name = Name::new("Kv-store_2.v1").unwrap();
        assert_eq!(name.as_str(), "Kv-store_2.v1");
        assert_eq!(name.wire_words(), 3);
    }

    #[test]
    fn rejects_empty_long_and_odd_bytes() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new(&"a".repeat(33)), Err(NameError::TooLong { length: 33 }));
        assert!(Name::new(&"a".repeat(32)).is_ok());
        assert_eq!(Name::new("kv store"), Err(NameError::InvalidByte { index: 2, byte: b' ' }));
        assert_eq!(
            Name::from_bytes(&[b'a', 0xff]),
            Err(NameError::InvalidByte { index: 1, byte: 0xff })
        );
    }

    #[test]
    fn orders_as_text() {
        let mut names = ["kv-store", "kv", "a", "kv.2", "Z", "kvs"].map(|t| Name::new(t).unwrap());
        names.sort();
        assert_eq!(
            names.map(|n| n.as_str().to_owned()),
            ["Z", "a", "kv", "kv-store", "kv.2", "kvs"]
        );
    }

    #[test]
    fn packs_bytes_little_endian() {
        let mut message = Message::new(0);
        Name::new("abcdefghi").unwrap().write(&mut message);
        assert_eq!(message.words(), &[9, u64::from_le_bytes(*b"abcdefgh"), u64::from(b'i')]);
    }

    #[test]
    fn reading_reports_each_fault() {
        let read = |words: &[u64]| Name::read(&mut Reader::new(words), Field::ServiceName);
        assert_eq!(
            read(&[3, u64::from_le_bytes(*b"kv\0\0\0\0\0\x01")]),
            Err(Malformed::NamePadding { field: Field::ServiceName })
        );
        assert_eq!(read(&[9, 0]), Err(Malformed::Truncated { needed: 3, actual: 2 }));
        assert_eq!(
            read(&[2, u64::from_le_bytes(*b"k\0\0\0\0\0\0\0")]),
            Err(Malformed::BadName {
                field: Field::ServiceName,
                error: NameError::InvalidByte { index: 1, byte: 0 }
            })
        );
        assert_eq!(
            read(&[u64::MAX]),
            Err(Malformed::BadName {
                field: Field::ServiceName,
                error: NameError::TooLong { length: u64::MAX }
            })
        );
    }
}
