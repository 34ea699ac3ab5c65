//! Identifiers that cross the protocol: realms ([`RealmId`], from the `vocabulary` crate), threads
//! of a realm ([`ThreadId`], and how one ended: [`ThreadEnding`]) and
//! connections ([`ConnectionId`], defined here because its bit layout is the protocol's
//! connection word and the low bits of a connection badge).

use core::fmt;

pub use vocabulary::RealmId;

/// A connection: a slot in the broker's connection table and that slot's generation, which
/// grows each time the slot is reused, so an old id never names a newer connection.
///
/// On the wire (and in the low 24 bits of a connection badge) it is one word:
/// bits 23..10 generation (1 to [`ConnectionId::MAX_GENERATION`]), bits 9..0 index (below
/// [`ConnectionId::INDEX_LIMIT`]); every other bit zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionId {
    index: u16,
    generation: u16,
}

/// How many bits of a connection word the index takes: enough for
/// [`MAX_CONNECTIONS`](vocabulary::limits::MAX_CONNECTIONS) indices.
const INDEX_BITS: u32 = vocabulary::limits::MAX_CONNECTIONS.trailing_zeros();
const _: () = assert!(vocabulary::limits::MAX_CONNECTIONS == 1 << INDEX_BITS);
/// How many bits of a connection word the generation takes.
const GENERATION_BITS: u32 = 24 - INDEX_BITS;
/// The bits a connection word may use.
const CONNECTION_WORD_BITS: u64 = (1 << 24) - 1;

impl ConnectionId {
    /// Connection indices are `0..INDEX_LIMIT`: the most connections a broker can track.
    pub const INDEX_LIMIT: usize = 1 << INDEX_BITS;
    /// The largest generation; a table slot that reached it is never reused.
    pub const MAX_GENERATION: u16 = (1 << GENERATION_BITS) - 1;

    /// A connection id. Generation 0 is never issued, and the index and the generation must
    /// fit their bits, so anything else is refused.
    pub const fn new(index: u16, generation: u16) -> Option<Self> {
        if generation == 0
            || generation > Self::MAX_GENERATION
            || index as usize >= Self::INDEX_LIMIT
        {
            None
        } else {
            Some(Self { index, generation })
        }
    }

    pub const fn index(self) -> u16 {
        self.index
    }

    pub const fn generation(self) -> u16 {
        self.generation
    }

    /// The id as one word (see the type's documentation).
    pub const fn to_word(self) -> u64 {
        ((self.generation as u64) << INDEX_BITS) | self.index as u64
    }

    /// The id from one word, if the word is a valid connection word.
    pub const fn from_word(word: u64) -> Option<Self> {
        if word & !CONNECTION_WORD_BITS != 0 {
            return None;
        }
        let index = word & ((1 << INDEX_BITS) - 1);
        Self::new(index as u16, (word >> INDEX_BITS) as u16)
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
        assert_eq!(id.to_word(), 0x48_d005);
        assert_eq!(ConnectionId::from_word(0x48_d005), Some(id));
        let last = ConnectionId::new(1023, ConnectionId::MAX_GENERATION).unwrap();
        assert_eq!(last.to_word(), 0xff_ffff);
        assert_eq!(ConnectionId::from_word(0xff_ffff), Some(last));
    }

    #[test]
    fn connection_word_rejects_zero_generation_and_high_bits() {
        assert_eq!(ConnectionId::new(1, 0), None);
        assert_eq!(ConnectionId::new(1024, 1), None);
        assert_eq!(ConnectionId::new(0, ConnectionId::MAX_GENERATION + 1), None);
        assert_eq!(ConnectionId::from_word(0x00_0007), None);
        assert_eq!(ConnectionId::from_word(0x00_03ff), None);
        assert_eq!(ConnectionId::from_word(0x100_0407), None);
        assert_eq!(ConnectionId::from_word(u64::MAX), None);
    }
}

/// A thread of a realm: `0..MAX_THREADS_PER_REALM` (16). Thread 0 is the realm's main thread,
/// the one the memory manager starts (it runs `main`); threads 1 to 15 are the ones the realm
/// spawns (`ipc::realm`, `Spawn`). The memory manager learns which thread calls it, or
/// faulted, from the badge of the cap it used ([`crate::Badge::for_realm_thread`],
/// [`crate::Badge::for_fault_thread`]); no message names its own sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(u8);

impl ThreadId {
    /// The realm's main thread.
    pub const MAIN: Self = Self(0);
    /// How many thread ids there are: `vocabulary::limits::MAX_THREADS_PER_REALM`.
    pub const LIMIT: usize = vocabulary::limits::MAX_THREADS_PER_REALM;

    /// Thread `index`, if it is below [`ThreadId::LIMIT`].
    pub const fn new(index: u8) -> Option<Self> {
        if (index as usize) < Self::LIMIT { Some(Self(index)) } else { None }
    }

    /// The thread of a word (a request's field, a register at a thread's entry), if the word
    /// is below [`ThreadId::LIMIT`].
    pub const fn from_word(word: u64) -> Option<Self> {
        if word < Self::LIMIT as u64 { Some(Self(word as u8)) } else { None }
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    /// The index as a `usize`, for per-thread tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    pub const fn is_main(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How a thread ended, as a `Join` reports it. A spawned thread that faults or panics ends
/// this way only under the realm's `on_thread_fault = "stop-thread"`; under `stop-realm` the
/// whole realm stops and nobody is left to join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadEnding {
    /// Its function returned, or it asked to end (`ExitThread`).
    Exited = 1,
    /// It faulted (a fault the kernel sent on its fault endpoint).
    Faulted = 2,
    /// It panicked.
    Panicked = 3,
}

impl ThreadEnding {
    /// The ending's word on the wire.
    pub const fn to_word(self) -> u64 {
        self as u64
    }

    /// The ending of a word, if it names one.
    pub const fn from_word(word: u64) -> Option<Self> {
        match word {
            1 => Some(Self::Exited),
            2 => Some(Self::Faulted),
            3 => Some(Self::Panicked),
            _ => None,
        }
    }

    /// The stable kebab-case name used in machine-readable event lines.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Exited => "exited",
            Self::Faulted => "faulted",
            Self::Panicked => "panicked",
        }
    }
}

impl fmt::Display for ThreadEnding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exited => "exited",
            Self::Faulted => "faulted",
            Self::Panicked => "panicked",
        })
    }
}
