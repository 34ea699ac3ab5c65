//! How typed requests and responses travel between a client and a service: postcard bytes
//! packed into seL4 message words, behind one header word.
//!
//! ```text
//! label   0 (a non-zero label on a reply is the kernel's error code: the call did not
//!         reach a service)
//! word 0  bits 31..0 the payload length in bytes, bits 39..32 the status
//! word 1.. the payload, eight bytes a word, little-endian, the last word zero-padded
//! ```
//!
//! Encoding and decoding work on the message words in place (zerocopy views them as bytes):
//! no staging buffer is filled or copied on either side of a call.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use sel4::message::MAX_MESSAGE_WORDS;

/// The largest payload: every message word but the header word.
pub const MAX_PAYLOAD_BYTES: usize = (MAX_MESSAGE_WORDS - 1) * 8;

/// What a service says about a request, in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The payload is the response.
    Ok = 0,
    /// The service could not decode the request.
    BadRequest = 1,
    /// The service's response did not fit in a message.
    ResponseTooLarge = 2,
}

/// Why a payload could not be packed or unpacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// The value does not fit in one message ([`MAX_PAYLOAD_BYTES`]).
    TooLarge,
    /// postcard could not encode the value.
    Encode,
    /// The words are not a payload of the expected type.
    Decode,
    /// The header names a length beyond the message or a status nobody sends.
    BadHeader { header: u64 },
}

impl core::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PayloadError::TooLarge => {
                write!(
                    f,
                    "the message does not fit in one seL4 message ({MAX_PAYLOAD_BYTES} bytes)"
                )
            }
            PayloadError::Encode => write!(f, "the value cannot be encoded"),
            PayloadError::Decode => write!(f, "the payload does not decode as the expected type"),
            PayloadError::BadHeader { header } => write!(f, "bad payload header {header:#x}"),
        }
    }
}

/// The header word for `length` payload bytes with `status`.
const fn header(length: usize, status: Status) -> u64 {
    ((status as u64) << 32) | length as u64
}

/// Encodes `value` with `status` into `words`, in place (postcard writes straight into the
/// message words); returns how many words the message has.
#[inline]
pub fn encode<T: Serialize>(
    value: &T,
    status: Status,
    words: &mut [u64],
) -> Result<usize, PayloadError> {
    let (head, payload) = words.split_first_mut().ok_or(PayloadError::TooLarge)?;
    let room = payload.len().min(MAX_MESSAGE_WORDS - 1);
    let bytes = payload[..room].as_mut_bytes();
    let used = match postcard::to_slice(value, bytes) {
        Ok(used) => used.len(),
        Err(postcard::Error::SerializeBufferFull) => return Err(PayloadError::TooLarge),
        Err(_) => return Err(PayloadError::Encode),
    };
    // Zero the rest of the last word, so the same value always gives the same words.
    bytes[used..used.next_multiple_of(8)].fill(0);
    *head = header(used, status);
    Ok(1 + used.div_ceil(8))
}

/// Packs raw payload bytes with `status` into `words`.
pub fn encode_bytes(
    bytes: &[u8],
    status: Status,
    words: &mut [u64],
) -> Result<usize, PayloadError> {
    let payload_words = bytes.len().div_ceil(8);
    if bytes.len() > MAX_PAYLOAD_BYTES || 1 + payload_words > words.len() {
        return Err(PayloadError::TooLarge);
    }
    words[0] = header(bytes.len(), status);
    let target = words[1..=payload_words].as_mut_bytes();
    target[..bytes.len()].copy_from_slice(bytes);
    target[bytes.len()..].fill(0);
    Ok(1 + payload_words)
}

/// Reads the header; returns the status and the payload bytes, viewed in place.
#[inline]
pub fn decode_bytes(words: &[u64]) -> Result<(Status, &[u8]), PayloadError> {
    let (&header, payload) = words.split_first().ok_or(PayloadError::BadHeader { header: 0 })?;
    let length = (header & 0xffff_ffff) as usize;
    let status = match header >> 32 {
        0 => Status::Ok,
        1 => Status::BadRequest,
        2 => Status::ResponseTooLarge,
        _ => return Err(PayloadError::BadHeader { header }),
    };
    let bytes = payload.as_bytes().get(..length).filter(|_| length <= MAX_PAYLOAD_BYTES);
    let bytes = bytes.ok_or(PayloadError::BadHeader { header })?;
    Ok((status, bytes))
}

/// Decodes a payload of type `T` from `words`, with its status.
#[inline]
pub fn decode<T: DeserializeOwned>(words: &[u64]) -> Result<(Status, Option<T>), PayloadError> {
    let (status, payload) = decode_bytes(words)?;
    if status != Status::Ok {
        return Ok((status, None));
    }
    let value = postcard::from_bytes(payload).map_err(|_| PayloadError::Decode)?;
    Ok((status, Some(value)))
}

/// Encodes a plain-data value (a fixed layout with no padding, such as `[u64; 8]` or a
/// struct deriving zerocopy's `IntoBytes` and `Immutable`): its bytes as they are, no
/// serialisation. The fast path for fixed-layout messages.
#[inline]
pub fn encode_plain<T: IntoBytes + Immutable>(
    value: &T,
    status: Status,
    words: &mut [u64],
) -> Result<usize, PayloadError> {
    encode_bytes(value.as_bytes(), status, words)
}

/// Decodes a plain-data value: the payload must be exactly its size.
#[inline]
pub fn decode_plain<T: FromBytes>(words: &[u64]) -> Result<(Status, Option<T>), PayloadError> {
    let (status, payload) = decode_bytes(words)?;
    if status != Status::Ok {
        return Ok((status, None));
    }
    let value = T::read_from_bytes(payload).map_err(|_| PayloadError::Decode)?;
    Ok((status, Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Request {
        Put { key: u32, value: heapless::String<16> },
        Get { key: u32 },
    }

    #[test]
    fn values_round_trip_through_words() {
        let request = Request::Put { key: 7, value: heapless::String::try_from("seven").unwrap() };
        let mut words = [0u64; MAX_MESSAGE_WORDS];
        let length = encode(&request, Status::Ok, &mut words).unwrap();
        let bytes = (words[0] & 0xffff_ffff) as usize;
        assert_eq!(length, 1 + bytes.div_ceil(8));
        let (status, decoded) = decode::<Request>(&words[..length]).unwrap();
        assert_eq!(status, Status::Ok);
        assert_eq!(decoded, Some(request));
    }

    #[test]
    fn the_header_carries_length_and_status() {
        let mut words = [0u64; 4];
        assert_eq!(encode_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9], Status::Ok, &mut words), Ok(3));
        assert_eq!(words[0], 9);
        assert_eq!(words[1], u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(words[2], 9);
        assert_eq!(encode_bytes(&[], Status::BadRequest, &mut words), Ok(1));
        assert_eq!(words[0], 1 << 32);
        assert_eq!(decode::<Request>(&words[..1]), Ok((Status::BadRequest, None)));
    }

    #[test]
    fn what_does_not_fit_is_an_error() {
        let mut words = [0u64; MAX_MESSAGE_WORDS];
        let big = [0u8; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(encode_bytes(&big, Status::Ok, &mut words), Err(PayloadError::TooLarge));
        let huge: heapless::Vec<u8, 2048> = (0..2000).map(|byte| byte as u8).collect();
        assert_eq!(encode(&huge, Status::Ok, &mut words), Err(PayloadError::TooLarge));
        assert_eq!(
            encode_bytes(&[0; 16], Status::Ok, &mut words[..2]),
            Err(PayloadError::TooLarge)
        );
    }

    #[test]
    fn plain_values_are_their_bytes() {
        let value: [u64; 3] = [1, u64::MAX, 7];
        let mut words = [0u64; 8];
        assert_eq!(encode_plain(&value, Status::Ok, &mut words), Ok(4));
        assert_eq!(&words[..4], &[24, 1, u64::MAX, 7]);
        assert_eq!(decode_plain::<[u64; 3]>(&words[..4]), Ok((Status::Ok, Some(value))));
        // A payload of another size is not that type.
        assert_eq!(decode_plain::<[u64; 2]>(&words[..4]), Err(PayloadError::Decode));
    }

    #[test]
    fn bad_words_are_refused_not_trusted() {
        assert_eq!(decode::<Request>(&[]), Err(PayloadError::BadHeader { header: 0 }));
        assert_eq!(decode::<Request>(&[100, 0]), Err(PayloadError::BadHeader { header: 100 }));
        assert_eq!(decode::<Request>(&[7 << 32]), Err(PayloadError::BadHeader { header: 7 << 32 }));
        assert_eq!(decode::<Request>(&[1, 0xff]), Err(PayloadError::Decode));
    }
}
