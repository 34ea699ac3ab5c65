//! The wire encoding of [`Name`] (the name of a realm or service, defined with its rule in
//! the `vocabulary` crate and re-exported here).
//!
//! On the wire a name is one word with its length in bytes, then the bytes packed eight to a
//! word, little-endian (byte `i` is bits `8*(i%8)..` of word `i/8`), the unused bytes of the
//! last word zero.

pub use vocabulary::limits::MAX_NAME_BYTES;
pub use vocabulary::{Name, NameError};

use crate::error::{Field, Malformed};
use crate::wire::{Message, Reader, WORD_BYTES};

/// A [`Name`] on the wire: the protocol's encoding of the vocabulary's name. Decoding checks
/// the bytes with [`Name::from_bytes`], the one rule.
pub(crate) trait WireName: Sized {
    /// Appends the name's words to `message`.
    fn write(&self, message: &mut Message);
    /// Reads a name from `reader`; `field` says which name it is, for the error.
    fn read(reader: &mut Reader<'_>, field: Field) -> Result<Self, Malformed>;
}

impl WireName for Name {
    /// How many words the name takes on the wire, length word included.
    /// Appends the name's words to `message`.
    fn write(&self, message: &mut Message) {
        message.push(self.len() as u64);
        for chunk in self.as_bytes().chunks(WORD_BYTES) {
            let mut word_bytes = [0u8; WORD_BYTES];
            for (slot, &byte) in word_bytes.iter_mut().zip(chunk) {
                *slot = byte;
            }
            message.push(u64::from_le_bytes(word_bytes));
        }
    }

    /// Reads a name from `reader`; `field` says which name it is, for the error.
    fn read(reader: &mut Reader<'_>, field: Field) -> Result<Self, Malformed> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_takes_its_length_word_and_its_bytes_rounded_up_to_words() {
        let words = |text: &str| {
            let mut message = Message::new(0);
            Name::new(text).unwrap().write(&mut message);
            message.words().len()
        };
        assert_eq!(words("kv-store-2-v1"), 3);
        assert_eq!(words("a"), 2);
        assert_eq!(words(&"a".repeat(32)), 5);
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
            read(&[2, u64::from_le_bytes(*b"Kv\0\0\0\0\0\0")]),
            Err(Malformed::BadName {
                field: Field::ServiceName,
                error: NameError::InvalidByte { index: 0, byte: b'K' }
            })
        );
        assert_eq!(
            read(&[0]),
            Err(Malformed::BadName { field: Field::ServiceName, error: NameError::Empty })
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
