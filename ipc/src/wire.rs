//! The word-level encoding shared by requests and replies: a [`Message`] being written, a
//! bounds-checked `Reader` over received words, and the `wire_codes!` macro that gives small
//! enums a fixed numeric code on the wire.

use crate::error::{Field, Malformed};

/// The most words any protocol message uses: a register with the longest names for its
/// service, its interface and the service it shares an endpoint with is 18 (the service
/// name 5, the interface 1 + 5 + 1, the share 1 + 5); a grant with two longest names is 10.
pub const MAX_PROTOCOL_WORDS: usize = 18;

/// Every protocol message fits in what seL4 carries.
const _: () = assert!(MAX_PROTOCOL_WORDS <= vocabulary::limits::MAX_MESSAGE_WORDS);

/// Bytes per message word (x86_64 words), for the byte-packed fields (names, text).
pub(crate) const WORD_BYTES: usize = 8;

/// Declares a field-less enum whose variants have fixed codes on the wire, with `code`,
/// `from_code` and `ALL` (every variant, for tests and exhaustive checks).
macro_rules! wire_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $code:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The variant's code on the wire.
            pub const fn code(self) -> u64 {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// The variant with this code, if any.
            pub const fn from_code(code: u64) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

/// An encoded message: the label for the message-info word and the message words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    label: u64,
    words: [u64; MAX_PROTOCOL_WORDS],
    length: usize,
}

impl Message {
    /// Starts an empty message with `label`.
    pub(crate) const fn new(label: u64) -> Self {
        Self { label, words: [0; MAX_PROTOCOL_WORDS], length: 0 }
    }

    /// Appends one word. Every message this crate builds is at most [`MAX_PROTOCOL_WORDS`]
    /// long by construction (names are bounded), which the round-trip property tests check
    /// with the longest names.
    pub(crate) fn push(&mut self, word: u64) {
        if let Some(slot) = self.words.get_mut(self.length) {
            *slot = word;
            self.length += 1;
        }
    }

    /// The label to put in the message-info word (fits in seL4's 20 label bits).
    pub const fn label(&self) -> u64 {
        self.label
    }

    /// The message words, in order.
    pub fn words(&self) -> &[u64] {
        self.words.get(..self.length).unwrap_or(&[])
    }
}

/// Reads the words of a received message front to back; every access is bounds-checked and
/// reports what was missing or wrong.
pub(crate) struct Reader<'a> {
    words: &'a [u64],
    position: usize,
}

/// A word count as carried in [`Malformed`], saturated to `u32`.
fn count(words: usize) -> u32 {
    u32::try_from(words).unwrap_or(u32::MAX)
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(words: &'a [u64]) -> Self {
        Self { words, position: 0 }
    }

    /// The next `wanted` words.
    pub(crate) fn take(&mut self, wanted: usize) -> Result<&'a [u64], Malformed> {
        let end = self.position.saturating_add(wanted);
        let taken = self
            .words
            .get(self.position..end)
            .ok_or(Malformed::Truncated { needed: count(end), actual: count(self.words.len()) })?;
        self.position = end;
        Ok(taken)
    }

    /// The next word.
    pub(crate) fn word(&mut self) -> Result<u64, Malformed> {
        let taken = self.take(1)?;
        taken.first().copied().ok_or(Malformed::Truncated {
            needed: count(self.position),
            actual: count(self.words.len()),
        })
    }

    /// The next word, which must fit in a `u32`.
    pub(crate) fn u32(&mut self, field: Field) -> Result<u32, Malformed> {
        let value = self.word()?;
        u32::try_from(value).map_err(|_| Malformed::OutOfRange { field, value })
    }

    /// The next word, which must fit in a `u8`.
    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, Malformed> {
        let value = self.word()?;
        u8::try_from(value).map_err(|_| Malformed::OutOfRange { field, value })
    }

    /// The next word, which must be one of the codes `decode` knows.
    pub(crate) fn code<T>(
        &mut self,
        field: Field,
        decode: fn(u64) -> Option<T>,
    ) -> Result<T, Malformed> {
        let value = self.word()?;
        decode(value).ok_or(Malformed::UnknownCode { field, value })
    }

    /// Checks that every word was read.
    pub(crate) fn finish(self) -> Result<(), Malformed> {
        if self.position == self.words.len() {
            Ok(())
        } else {
            Err(Malformed::TrailingWords {
                expected: count(self.position),
                actual: count(self.words.len()),
            })
        }
    }
}
