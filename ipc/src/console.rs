//! A line of console output from a realm: the `Print` request's words.
//!
//! A realm prints one whole line per request ([`crate::realm::RealmRequest::Print`], label
//! 39), never one kernel call per character. The memory manager, the only writer of the
//! serial port, prints it prefixed with the realm's name.
//!
//! On the wire (all of seL4's 120 message words may be used):
//!
//! | word | meaning |
//! | --- | --- |
//! | 0 | header: the line's length in bytes (bits 15..0, at most [`MAX_LINE_BYTES`]) and the cut flag (bit 16: the realm's line was longer and this is its start); every other bit zero |
//! | 1.. | the bytes, eight to a word, little-endian, as many words as the length needs; the bytes after the end must be zero (one line, one encoding) |
//!
//! The bytes are any bytes: the console shows them as text and neutralises control
//! characters, so a realm cannot start a new console line or forge another realm's output.

use crate::error::{Field, Malformed};
use crate::wire::{Reader, WORD_BYTES};

/// Message words a line may use: every word seL4 carries.
pub const LINE_WORDS: usize = vocabulary::limits::MAX_MESSAGE_WORDS;
/// The longest line one request carries, in bytes: 119 words of 8 bytes.
pub const MAX_LINE_BYTES: usize = (LINE_WORDS - 1) * WORD_BYTES;

const CUT_FLAG: u64 = 1 << 16;
const LENGTH_MASK: u64 = 0xffff;

/// What the header word of a `Print` request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineHeader {
    /// Bytes of text, at most [`MAX_LINE_BYTES`].
    pub length: u16,
    /// The realm's line was longer than [`MAX_LINE_BYTES`]: this is its start.
    pub cut: bool,
}

impl LineHeader {
    /// How many words the text takes after the header.
    pub const fn text_words(self) -> usize {
        (self.length as usize).div_ceil(WORD_BYTES)
    }

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        let header = reader.word()?;
        let length = header & LENGTH_MASK;
        if header & !(LENGTH_MASK | CUT_FLAG) != 0 || length > MAX_LINE_BYTES as u64 {
            return Err(Malformed::OutOfRange { field: Field::Text, value: header });
        }
        let line = Self { length: length as u16, cut: header & CUT_FLAG != 0 };
        let words = reader.take(line.text_words())?;
        // The padding after the text must be zero.
        if let Some(&last) = words.last() {
            let used = usize::from(line.length) - (words.len() - 1) * WORD_BYTES;
            if used < WORD_BYTES && last >> (used * 8) != 0 {
                return Err(Malformed::NamePadding { field: Field::Text });
            }
        }
        Ok(line)
    }
}

/// Writes `text` as a `Print` request's words into `words` and returns how many it used.
/// The line is marked cut when `cut` says so, or when `text` is longer than
/// [`MAX_LINE_BYTES`] (the rest is cut off).
pub fn encode_line(text: &[u8], cut: bool, words: &mut [u64; LINE_WORDS]) -> usize {
    let cut = cut || text.len() > MAX_LINE_BYTES;
    let text = text.get(..MAX_LINE_BYTES).unwrap_or(text);
    words[0] = text.len() as u64 | if cut { CUT_FLAG } else { 0 };
    for (word, chunk) in words[1..].iter_mut().zip(text.chunks(WORD_BYTES)) {
        let mut bytes = [0u8; WORD_BYTES];
        bytes.iter_mut().zip(chunk).for_each(|(slot, &byte)| *slot = byte);
        *word = u64::from_le_bytes(bytes);
    }
    1 + text.len().div_ceil(WORD_BYTES)
}

/// The text of a `Print` request whose words `decode` already checked (`header` is what it
/// returned), copied into `out`. Returns the text: `header.length` bytes, or fewer if `words`
/// is shorter than the header says (which a checked request never is).
pub fn line_text<'b>(
    words: &[u64],
    header: LineHeader,
    out: &'b mut [u8; MAX_LINE_BYTES],
) -> &'b [u8] {
    let mut length = 0;
    for word in words.iter().skip(1).take(header.text_words()) {
        let bytes = word.to_le_bytes();
        let room = (usize::from(header.length) - length).min(WORD_BYTES);
        for (slot, &byte) in out.iter_mut().skip(length).zip(bytes.iter().take(room)) {
            *slot = byte;
        }
        length += room;
    }
    let out: &'b [u8] = out;
    out.get(..length).unwrap_or(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realm::RealmRequest;

    fn round_trip(text: &[u8]) -> (Vec<u8>, bool) {
        let mut words = [0u64; LINE_WORDS];
        let used = encode_line(text, false, &mut words);
        let request = RealmRequest::decode(39, &words[..used]).expect("valid").expect("a request");
        let RealmRequest::Print { line } = request else { panic!("not a print: {request:?}") };
        let mut out = [0u8; MAX_LINE_BYTES];
        (line_text(&words[..used], line, &mut out).to_vec(), line.cut)
    }

    #[test]
    fn lines_of_every_length_round_trip() {
        for length in [0, 1, 7, 8, 9, 100, MAX_LINE_BYTES - 1, MAX_LINE_BYTES] {
            let text: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
            assert_eq!(round_trip(&text), (text, false), "length {length}");
        }
    }

    #[test]
    fn a_longer_line_is_cut_and_marked() {
        let text = vec![b'x'; MAX_LINE_BYTES + 50];
        assert_eq!(round_trip(&text), (vec![b'x'; MAX_LINE_BYTES], true));
    }

    #[test]
    fn bad_headers_lengths_and_padding_are_refused() {
        let too_long = MAX_LINE_BYTES as u64 + 1;
        assert_eq!(
            RealmRequest::decode(39, &[too_long]),
            Err(Malformed::OutOfRange { field: Field::Text, value: too_long })
        );
        assert_eq!(
            RealmRequest::decode(39, &[1 << 20]),
            Err(Malformed::OutOfRange { field: Field::Text, value: 1 << 20 })
        );
        assert_eq!(
            RealmRequest::decode(39, &[9, 0]),
            Err(Malformed::Truncated { needed: 3, actual: 2 })
        );
        assert_eq!(
            RealmRequest::decode(39, &[1, 0x6161]),
            Err(Malformed::NamePadding { field: Field::Text })
        );
        assert_eq!(
            RealmRequest::decode(39, &[1, 0x61, 0]),
            Err(Malformed::TrailingWords { expected: 2, actual: 3 })
        );
    }
}
