//! How one argument or result travels in seL4 message words: the [`Wire`] trait and its two
//! encodings, chosen at compile time by the type.
//!
//! - **words** (types implementing [`Words`]: the integers, `f32`/`f64`, `()`, arrays of
//!   them, and structs that derive zerocopy's `IntoBytes`, `FromBytes` and `Immutable` and
//!   opt in with `#[derive(Wire)] #[wire(words)]`): the value's bytes as they are in memory
//!   (x86_64: little-endian) packed into `ceil(size / 8)` words, the unused upper bytes of the
//!   last word zero. No serialisation: a `u64` is one word, `[u64; 8]` eight. Decoding
//!   checks that the padding bytes are zero.
//! - **postcard** (`heapless::String<N>`, `heapless::Vec<T, N>` of serde types, and serde
//!   types that opt in with `#[derive(Wire)] #[wire(postcard)]`): one word with the byte
//!   length, then the [postcard](https://docs.rs/postcard) bytes packed eight to a word,
//!   little-endian, the unused bytes of the last word zero.
//!
//! The arguments of a request (and the result of a reply) follow one another, each from the
//! word after the previous one's last. Decoding is exact: a value consumes exactly the words
//! its encoding says, postcard must consume exactly the bytes of its length word, and the
//! generated dispatch checks that the arguments consume every word of the message.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zerocopy::{FromBytes, Immutable, IntoBytes};

#[cfg(not(target_endian = "little"))]
compile_error!("the wire encodings assume a little-endian machine (x86_64)");

/// Why a value could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The value needs more words than the message has left (a message has at most
    /// `sel4::message::MAX_MESSAGE_WORDS`, 120 on x86_64).
    TooLarge,
    /// postcard refused the value (a serde type whose `Serialize` failed).
    Postcard,
}

/// Why words could not be decoded as a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The message ends before the value does (fewer words than its encoding needs, or a
    /// postcard length word beyond the message).
    Short,
    /// A padding byte (past the value's bytes in its last word) is not zero.
    Padding,
    /// postcard could not decode the bytes as the type.
    Postcard,
    /// postcard decoded the type from fewer bytes than the length word says.
    TrailingBytes,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EncodeError::TooLarge => "the value does not fit in one seL4 message",
            EncodeError::Postcard => "postcard could not encode the value",
        })
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DecodeError::Short => "the message ends before the value",
            DecodeError::Padding => "a padding byte of the value's last word is not zero",
            DecodeError::Postcard => "the bytes are not a postcard encoding of the type",
            DecodeError::TrailingBytes => "bytes are left over after the postcard value",
        })
    }
}

/// A type that can be an argument or a result of an interface's operation.
pub trait Wire: Sized {
    /// The number of words every value takes, when it is fixed (the **words** encoding:
    /// `ceil(size / 8)`); `None` when it depends on the value (postcard). The generated
    /// dispatch checks a request's length against the arguments' total once, up front, when
    /// every argument has one.
    const FIXED_WORDS: Option<usize> = None;

    /// Writes the value's encoding at the start of `words`; returns how many words it took.
    ///
    /// # Errors
    ///
    /// [`EncodeError::TooLarge`] when `words` is too short; [`EncodeError::Postcard`] when
    /// postcard refuses the value.
    fn encode(&self, words: &mut [u64]) -> Result<usize, EncodeError>;

    /// Reads a value from the start of `words`; returns it and how many words it took.
    ///
    /// # Errors
    ///
    /// Every [`DecodeError`], as each variant says.
    fn decode(words: &[u64]) -> Result<(Self, usize), DecodeError>;
}

/// Plain data that travels as its bytes (the **words** encoding): implement it (with
/// `#[derive(Wire)] #[wire(words)]`) for a struct deriving zerocopy's `IntoBytes`,
/// `FromBytes` and `Immutable`; [`Wire`] follows.
pub trait Words: IntoBytes + FromBytes + Immutable {}

macro_rules! words {
    ($($type:ty),*) => { $(impl Words for $type {})* };
}
words!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, ());

impl<T: Words, const N: usize> Words for [T; N] {}

impl<T: Words> Wire for T {
    const FIXED_WORDS: Option<usize> = Some(core::mem::size_of::<T>().div_ceil(8));

    #[inline(always)]
    fn encode(&self, words: &mut [u64]) -> Result<usize, EncodeError> {
        encode_words(self, words)
    }

    #[inline(always)]
    fn decode(words: &[u64]) -> Result<(Self, usize), DecodeError> {
        decode_words(words)
    }
}

/// The total of `words` when every one is `Some` (the arguments' [`Wire::FIXED_WORDS`]).
pub const fn fixed_total(words: &[Option<usize>]) -> Option<usize> {
    let mut total = 0;
    let mut index = 0;
    while index < words.len() {
        match words[index] {
            Some(count) => total += count,
            None => return None,
        }
        index += 1;
    }
    Some(total)
}

/// The **words** encoding of `value` at the start of `words` (see the module doc).
#[inline(always)]
pub fn encode_words<T: IntoBytes + Immutable>(
    value: &T,
    words: &mut [u64],
) -> Result<usize, EncodeError> {
    let bytes = value.as_bytes();
    let count = bytes.len().div_ceil(8);
    let target = words.get_mut(..count).ok_or(EncodeError::TooLarge)?.as_mut_bytes();
    let (used, padding) = target.split_at_mut(bytes.len());
    used.copy_from_slice(bytes);
    padding.fill(0);
    Ok(count)
}

/// Decodes the **words** encoding of a `T` at the start of `words` (see the module doc).
#[inline(always)]
pub fn decode_words<T: FromBytes>(words: &[u64]) -> Result<(T, usize), DecodeError> {
    let size = core::mem::size_of::<T>();
    let count = size.div_ceil(8);
    let source = words.get(..count).ok_or(DecodeError::Short)?.as_bytes();
    let (used, padding) = source.split_at(size);
    if padding.iter().any(|&byte| byte != 0) {
        return Err(DecodeError::Padding);
    }
    let value = T::read_from_bytes(used).map_err(|_| DecodeError::Short)?;
    Ok((value, count))
}

/// The **postcard** encoding of `value` at the start of `words`: the byte length, then the
/// bytes (see the module doc). postcard writes straight into the words: no staging buffer.
#[inline]
pub fn encode_postcard<T: Serialize + ?Sized>(
    value: &T,
    words: &mut [u64],
) -> Result<usize, EncodeError> {
    let (length, rest) = words.split_first_mut().ok_or(EncodeError::TooLarge)?;
    let bytes = rest.as_mut_bytes();
    let used = match postcard::to_slice(value, bytes) {
        Ok(used) => used.len(),
        Err(postcard::Error::SerializeBufferFull) => return Err(EncodeError::TooLarge),
        Err(_) => return Err(EncodeError::Postcard),
    };
    // Zero the unused bytes of the last word: one mask, not a loop over bytes.
    if !used.is_multiple_of(8)
        && let Some(last) = rest.get_mut(used / 8)
    {
        *last &= (1u64 << (8 * (used % 8))) - 1;
    }
    *length = used as u64;
    Ok(1 + used.div_ceil(8))
}

/// Decodes the **postcard** encoding of a `T` at the start of `words` (see the module doc).
#[inline]
pub fn decode_postcard<'a, T: Deserialize<'a>>(
    words: &'a [u64],
) -> Result<(T, usize), DecodeError> {
    let (&length, rest) = words.split_first().ok_or(DecodeError::Short)?;
    let length = usize::try_from(length)
        .ok()
        .filter(|&length| length <= rest.len() * 8)
        .ok_or(DecodeError::Short)?;
    let count = length.div_ceil(8);
    let source = rest.get(..count).ok_or(DecodeError::Short)?;
    // The unused bytes of the last word: one shift, not a loop over bytes.
    if !length.is_multiple_of(8)
        && let Some(last) = source.last()
        && last >> (8 * (length % 8)) != 0
    {
        return Err(DecodeError::Padding);
    }
    let used = source.as_bytes().get(..length).ok_or(DecodeError::Short)?;
    let (value, left) = postcard::take_from_bytes(used).map_err(|_| DecodeError::Postcard)?;
    if !left.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok((value, 1 + count))
}

impl<const N: usize> Wire for heapless::String<N> {
    #[inline]
    fn encode(&self, words: &mut [u64]) -> Result<usize, EncodeError> {
        encode_postcard(self, words)
    }

    /// postcard decodes the bytes in place (a string and a byte string have the same
    /// postcard encoding: the length as a varint, then the bytes), then one copy into the
    /// string and one UTF-8 check. (heapless's own `Deserialize` pushes byte by byte: five
    /// times the instructions for 64 bytes.)
    #[inline]
    fn decode(words: &[u64]) -> Result<(Self, usize), DecodeError> {
        let (bytes, used): (&[u8], usize) = decode_postcard(words)?;
        if bytes.len() > N {
            return Err(DecodeError::Postcard);
        }
        let mut vec = heapless::Vec::<u8, N>::from_array([0; N]);
        vec[..bytes.len()].copy_from_slice(bytes);
        vec.truncate(bytes.len());
        let string = heapless::String::from_utf8(vec).map_err(|_| DecodeError::Postcard)?;
        Ok((string, used))
    }
}

impl<T: Serialize + DeserializeOwned, const N: usize> Wire for heapless::Vec<T, N> {
    #[inline]
    fn encode(&self, words: &mut [u64]) -> Result<usize, EncodeError> {
        encode_postcard(self, words)
    }

    #[inline]
    fn decode(words: &[u64]) -> Result<(Self, usize), DecodeError> {
        decode_postcard(words)
    }
}

/// A type with no values: the application error of an operation declared without one
/// (`-> T` rather than `-> Result<T, E>`). It never encodes, and never decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Never {}

impl Wire for Never {
    fn encode(&self, _words: &mut [u64]) -> Result<usize, EncodeError> {
        match *self {}
    }

    fn decode(_words: &[u64]) -> Result<(Self, usize), DecodeError> {
        Err(DecodeError::Postcard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Wire + PartialEq + core::fmt::Debug>(value: T, expected_words: &[u64]) {
        let mut words = [0xAAAA_AAAA_AAAA_AAAAu64; 120];
        let used = value.encode(&mut words).expect("fits");
        assert_eq!(&words[..used], expected_words);
        assert_eq!(T::decode(&words[..used]), Ok((value, used)));
    }

    #[test]
    fn integers_and_arrays_are_their_bytes() {
        round_trip(7u64, &[7]);
        round_trip(u64::MAX, &[u64::MAX]);
        round_trip(-1i32, &[0xFFFF_FFFF]);
        round_trip(0x1234u16, &[0x1234]);
        round_trip(u128::MAX, &[u64::MAX, u64::MAX]);
        round_trip([1u64, 2, 3], &[1, 2, 3]);
        round_trip([1u8, 2, 3], &[0x03_02_01]);
        round_trip([[1u32, 2], [3, 4]], &[2 << 32 | 1, 4 << 32 | 3]);
        round_trip((), &[]);
    }

    #[test]
    fn padding_must_be_zero_and_length_exact() {
        assert_eq!(u32::decode(&[1 << 32]), Err(DecodeError::Padding));
        assert_eq!(<[u64; 2]>::decode(&[1]), Err(DecodeError::Short));
        assert_eq!(u64::decode(&[]), Err(DecodeError::Short));
        // A value takes only its own words: the rest is the next value's.
        assert_eq!(u64::decode(&[5, 6]), Ok((5, 1)));
        let mut words = [0u64; 1];
        assert_eq!([1u64, 2].encode(&mut words), Err(EncodeError::TooLarge));
    }

    #[test]
    fn strings_are_postcard_behind_a_length_word() {
        let text = heapless::String::<64>::try_from("hello, world").unwrap();
        // postcard: the length as a varint (12), then the bytes.
        let mut expected = [0u8; 16];
        expected[0] = 12;
        expected[1..13].copy_from_slice(b"hello, world");
        let expected_words = [
            13,
            u64::from_le_bytes(expected[..8].try_into().unwrap()),
            u64::from_le_bytes(expected[8..].try_into().unwrap()),
        ];
        round_trip(text, &expected_words);
        let vec = heapless::Vec::<u16, 4>::from_slice(&[1, 300]).unwrap();
        let mut words = [0u64; 8];
        let used = vec.encode(&mut words).unwrap();
        assert_eq!(heapless::Vec::<u16, 4>::decode(&words[..used]), Ok((vec, used)));
    }

    #[test]
    fn postcard_checks_its_length_padding_and_leftovers() {
        let text = heapless::String::<64>::try_from("abc").unwrap();
        let mut words = [0u64; 4];
        let used = text.encode(&mut words).unwrap();
        assert_eq!(used, 2);
        // The length word beyond the message.
        assert_eq!(heapless::String::<64>::decode(&[9, words[1]]), Err(DecodeError::Short));
        // A non-zero byte past the length.
        assert_eq!(
            heapless::String::<64>::decode(&[4, words[1] | 0xFF << 32]),
            Err(DecodeError::Padding)
        );
        // A length that covers a byte postcard does not use.
        assert_eq!(
            heapless::String::<64>::decode(&[5, words[1] | 0x41 << 32]),
            Err(DecodeError::TrailingBytes)
        );
        // Too long for the string's capacity.
        let long = heapless::String::<8>::try_from("12345678").unwrap();
        let used = long.encode(&mut words).unwrap();
        assert_eq!(heapless::String::<4>::decode(&words[..used]), Err(DecodeError::Postcard));
        // Does not fit in the words given.
        assert_eq!(long.encode(&mut words[..1]), Err(EncodeError::TooLarge));
    }
}
