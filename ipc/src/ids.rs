//! Identifiers that cross the protocol: realms and connections.

use core::fmt;

/// A realm, by its index in the memory manager's realm table. The broker learns the caller's
/// from the badge the kernel delivered, never from a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RealmId(pub u8);

impl fmt::Display for RealmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "realm #{}", self.0)
    }
}

/// A connection: a slot in the broker's connection table and that slot's generation, which
/// grows each time the slot is reused, so an old id never names a newer connection.
///
/// On the wire (and in the low 24 bits of a connection badge) it is one word:
/// bits 23..8 generation (never 0), bits 7..0 index; every other bit zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    index: u8,
    generation: u16,
}

/// Where the generation sits in a connection word.
const GENERATION_SHIFT: u32 = 8;
/// The bits a connection word may use.
const CONNECTION_WORD_BITS: u64 = (1 << 24) - 1;

impl ConnectionId {
    /// A connection id; generation 0 is never issued, so it is refused.
    pub const fn new(index: u8, generation: u16) -> Option<Self> {
        if generation == 0 { None } else { Some(Self { index, generation }) }
    }

    pub const fn index(self) -> u8 {
        self.index
    }

    pub const fn generation(self) -> u16 {
        self.generation
    }

    /// The id as one word (see the type's documentation).
    pub const fn to_word(self) -> u64 {
        ((self.generation as u64) << GENERATION_SHIFT) | self.index as u64
    }

    /// The id from one word, if the word is a valid connection word.
    pub const fn from_word(word: u64) -> Option<Self> {
        if word & !CONNECTION_WORD_BITS != 0 {
            return None;
        }
        Self::new(word as u8, (word >> GENERATION_SHIFT) as u16)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection {}.{}", self.index, self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_word_layout() {
        let id = ConnectionId::new(5, 0x1234).unwrap();
        assert_eq!(id.to_word(), 0x12_3405);
        assert_eq!(ConnectionId::from_word(0x12_3405), Some(id));
    }

    #[test]
    fn connection_word_rejects_zero_generation_and_high_bits() {
        assert_eq!(ConnectionId::new(1, 0), None);
        assert_eq!(ConnectionId::from_word(0x00_0007), None);
        assert_eq!(ConnectionId::from_word(0x100_0107), None);
        assert_eq!(ConnectionId::from_word(u64::MAX), None);
    }
}
