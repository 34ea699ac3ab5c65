//! The record of an interface in a realm program's ELF file (`ipc::abi::interface_section`):
//! one [`Entry`] per interface the program was built with, in the section
//! `.switchboard.interfaces`, for the build tool to compare with `system.toml`.

use ipc::MAX_NAME_BYTES;
use ipc::abi::interface_section::ENTRY_BYTES;

/// One entry: 48 bytes, little-endian (x86_64's own order).
///
/// ```text
/// bytes 0..8    the name's length in bytes (1..=32)
/// bytes 8..40   the name, zero-padded
/// bytes 40..48  the fingerprint
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Entry {
    pub name_length: u64,
    pub name: [u8; MAX_NAME_BYTES],
    pub fingerprint: u64,
}

const _: () = assert!(core::mem::size_of::<Entry>() == ENTRY_BYTES);

impl Entry {
    /// The entry of the interface `name` with `fingerprint`. The macro passes a name it has
    /// checked against the name rule; a longer one is cut to 32 bytes (it would not have
    /// compiled).
    pub const fn new(name: &str, fingerprint: u64) -> Entry {
        let bytes = name.as_bytes();
        let mut entry = Entry { name_length: 0, name: [0; MAX_NAME_BYTES], fingerprint };
        let mut index = 0;
        while index < bytes.len() && index < MAX_NAME_BYTES {
            entry.name[index] = bytes[index];
            index += 1;
        }
        entry.name_length = index as u64;
        entry
    }

    /// The entry's bytes, as they are in the section.
    pub fn to_bytes(&self) -> [u8; ENTRY_BYTES] {
        let mut bytes = [0; ENTRY_BYTES];
        bytes[..8].copy_from_slice(&self.name_length.to_le_bytes());
        bytes[8..40].copy_from_slice(&self.name);
        bytes[40..].copy_from_slice(&self.fingerprint.to_le_bytes());
        bytes
    }

    /// Reads an entry from the section's bytes: `None` unless the length is 1..=32 and the
    /// bytes past it are zero (the name itself is for the caller to check against the name
    /// rule).
    pub fn from_bytes(bytes: &[u8; ENTRY_BYTES]) -> Option<Entry> {
        let word = |range: core::ops::Range<usize>| {
            bytes.get(range).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
        };
        let name_length = word(0..8)?;
        let fingerprint = word(40..48)?;
        let mut name = [0; MAX_NAME_BYTES];
        name.copy_from_slice(&bytes[8..40]);
        let length =
            usize::try_from(name_length).ok().filter(|l| (1..=MAX_NAME_BYTES).contains(l))?;
        if name[length..].iter().any(|&byte| byte != 0) {
            return None;
        }
        Some(Entry { name_length, name, fingerprint })
    }

    /// The name's bytes.
    pub fn name_bytes(&self) -> &[u8] {
        let length = usize::try_from(self.name_length).unwrap_or(0).min(MAX_NAME_BYTES);
        &self.name[..length]
    }
}

/// Emits the record of an interface: a `#[used]` static in the section. For the generated
/// code (`#[interface]` calls it): an attribute a proc macro would write in the realm's own
/// crate would trip its `#![forbid(unsafe_code)]` (`link_section` is an unsafe attribute).
#[doc(hidden)]
#[macro_export]
macro_rules! __record {
    ($static:ident, $name:expr, $fingerprint:expr) => {
        #[used]
        #[unsafe(link_section = ".switchboard.interfaces")]
        #[allow(non_upper_case_globals)]
        static $static: $crate::section::Entry = $crate::section::Entry::new($name, $fingerprint);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_their_bytes() {
        let entry = Entry::new("kv", 0x0123_4567_89ab_cdef);
        let bytes = entry.to_bytes();
        assert_eq!(&bytes[..8], &2u64.to_le_bytes());
        assert_eq!(&bytes[8..11], b"kv\0");
        assert_eq!(&bytes[40..], &0x0123_4567_89ab_cdefu64.to_le_bytes());
        assert_eq!(Entry::from_bytes(&bytes), Some(entry));
        assert_eq!(entry.name_bytes(), b"kv");
        let mut bad = bytes;
        bad[20] = b'x';
        assert_eq!(Entry::from_bytes(&bad), None);
        bad = bytes;
        bad[0] = 33;
        assert_eq!(Entry::from_bytes(&bad), None);
    }
}
