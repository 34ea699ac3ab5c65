//! The identity of a typed interface, as `register` declares it and `connect` checks it, and
//! its encoding in broker requests.
//!
//! On the wire an optional interface is one presence word, then, when it is 1, the interface:
//!
//! | words | meaning |
//! |-------|---------|
//! | 1 | presence: 0 = none (nothing follows), 1 = an interface follows; anything else is malformed ([`Field::Interface`]) |
//! | 2 to 5 | its name, as every name ([`Field::InterfaceName`] when it breaks the rule) |
//! | 1 | its fingerprint, any 64-bit value |
//!
//! So `None` takes 1 word and `Some` 3 to 6 ([`MAX_OPTIONAL_INTERFACE_WORDS`]).

use core::fmt;

use crate::error::{Field, Malformed};
use crate::name::{Name, WireName};
use crate::wire::{Message, Reader};

/// The most words an optional interface takes: presence, the longest name (a length word
/// and 4 words of bytes) and the fingerprint.
pub const MAX_OPTIONAL_INTERFACE_WORDS: usize = 1 + 5 + 1;

/// A typed interface's identity: its name (the one name rule) and a fingerprint derived from
/// its whole definition (operation names, numbers, argument and result types, idempotence),
/// computed when the interface is compiled (the `interface` crate). Two builds of the same
/// definition have the same fingerprint; any change to the definition changes it.
///
/// A service registered with an identity is connected to only by clients built against the
/// same identity: another name or another fingerprint is refused at connect with
/// `InterfaceMismatch`, before any call can send words the service would misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InterfaceId {
    pub name: Name,
    pub fingerprint: u64,
}

impl fmt::Display for InterfaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interface \"{}\" (fingerprint {:016x})", self.name, self.fingerprint)
    }
}

/// Appends an optional interface: the presence word, then the interface if there is one.
pub(crate) fn write_optional(interface: &Option<InterfaceId>, message: &mut Message) {
    match interface {
        None => message.push(0),
        Some(interface) => {
            message.push(1);
            interface.name.write(message);
            message.push(interface.fingerprint);
        }
    }
}

/// Reads what [`write_optional`] wrote.
pub(crate) fn read_optional(reader: &mut Reader<'_>) -> Result<Option<InterfaceId>, Malformed> {
    match reader.word()? {
        0 => Ok(None),
        1 => Ok(Some(InterfaceId {
            name: Name::read(reader, Field::InterfaceName)?,
            fingerprint: reader.word()?,
        })),
        value => Err(Malformed::UnknownCode { field: Field::Interface, value }),
    }
}

/// Appends an optional name: a presence word (0 or 1), then the name if there is one.
pub(crate) fn write_optional_name(name: &Option<Name>, message: &mut Message) {
    match name {
        None => message.push(0),
        Some(name) => {
            message.push(1);
            name.write(message);
        }
    }
}

/// Reads what [`write_optional_name`] wrote; `presence` names the presence word and `field`
/// the name, for the errors.
pub(crate) fn read_optional_name(
    reader: &mut Reader<'_>,
    presence: Field,
    field: Field,
) -> Result<Option<Name>, Malformed> {
    match reader.word()? {
        0 => Ok(None),
        1 => Ok(Some(Name::read(reader, field)?)),
        value => Err(Malformed::UnknownCode { field: presence, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_is_a_presence_word_its_name_and_its_fingerprint() {
        let mut message = Message::new(0);
        let kv = InterfaceId { name: Name::new("kv").unwrap(), fingerprint: 0xfeed };
        write_optional(&Some(kv), &mut message);
        write_optional(&None, &mut message);
        assert_eq!(message.words(), &[1, 2, u64::from_le_bytes(*b"kv\0\0\0\0\0\0"), 0xfeed, 0]);
        let mut reader = Reader::new(message.words());
        assert_eq!(read_optional(&mut reader), Ok(Some(kv)));
        assert_eq!(read_optional(&mut reader), Ok(None));
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn reading_says_which_field_was_wrong() {
        let read = |words: &[u64]| read_optional(&mut Reader::new(words));
        assert_eq!(read(&[2]), Err(Malformed::UnknownCode { field: Field::Interface, value: 2 }));
        assert_eq!(
            read(&[1, 0, 7]),
            Err(Malformed::BadName {
                field: Field::InterfaceName,
                error: vocabulary::NameError::Empty
            })
        );
        assert_eq!(
            read(&[1, 1, u64::from(b'a')]),
            Err(Malformed::Truncated { needed: 4, actual: 3 })
        );
        let name = |words: &[u64]| {
            read_optional_name(&mut Reader::new(words), Field::Share, Field::SharedService)
        };
        assert_eq!(name(&[9]), Err(Malformed::UnknownCode { field: Field::Share, value: 9 }));
        assert_eq!(
            name(&[1, 1, u64::from(b'A')]),
            Err(Malformed::BadName {
                field: Field::SharedService,
                error: vocabulary::NameError::InvalidByte { index: 0, byte: b'A' }
            })
        );
        assert_eq!(name(&[0]), Ok(None));
    }
}
