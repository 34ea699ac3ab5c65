//! Replies: what a service sends back for a call, and how the client classifies what it got
//! into exactly one of three outcomes: the value, the application error, or a transport
//! error ([`ReplyError`]).
//!
//! ```text
//! label OK                  words = the result's encoding (for `-> Result<T, E>`: T's)
//! label ERROR               words = the application error's encoding (only for `-> Result<T, E>`)
//! label BAD_REQUEST         word 0 = the reason code, then its details (see [`BadRequest`])
//! label RESPONSE_TOO_LARGE  no words: the result did not fit in one message
//! label ABORTED             no words: the service stopped before answering (entry.rs's abort path)
//! label TIMED_OUT           the memory manager cancelled the call at its deadline
//! label 1..=10              seL4 5.0.0's error codes (`seL4_Error`, libsel4's
//!                           `include/sel4/errors.h`): the kernel answered, no service did
//! any other label           malformed
//! ```
//!
//! The labels are `ipc::abi::label`'s. Neither a kernel error code, nor `ABORTED`, nor
//! `TIMED_OUT`, nor `BAD_REQUEST` can decode as a value or as an application error: only
//! `OK` carries a value and only `ERROR` an application error, and the decoding is exact
//! (every word consumed, no more).

use ipc::abi::label;

use crate::wire::{DecodeError, EncodeError, Wire};

/// The result of an operation as it travels in a reply: a declared `-> T` is `OK` with T's
/// words; a declared `-> Result<T, E>` is `OK` with T's words or `ERROR` with E's.
pub trait Response: Sized {
    /// Writes the reply's words at the start of `words`; returns the reply's label and length.
    ///
    /// # Errors
    ///
    /// As [`Wire::encode`]: the service then answers `RESPONSE_TOO_LARGE`.
    fn encode(&self, words: &mut [u64]) -> Result<(u64, usize), EncodeError>;

    /// Classifies a reply: the value (or application error), or the transport error.
    ///
    /// # Errors
    ///
    /// Every label but `OK` (and `ERROR` for a `Result`) is a [`ReplyError`]
    /// ([`classify_transport`]); so are words that do not decode exactly as the type
    /// ([`ReplyError::Malformed`]).
    fn decode(label: u64, words: &[u64]) -> Result<Self, ReplyError>;

    /// [`Response::decode`] of the reply whose message-info word is `info`, its words at the
    /// start of `registers` (the message registers). A fixed-size result has a fast path:
    /// the whole info word compared once with `OK` over its length.
    #[inline(always)]
    fn decode_message(info: u64, registers: &[u64]) -> Result<Self, ReplyError> {
        decode_general(info, registers)
    }
}

/// [`Response::decode_message`] without a fast path: the label and the length taken apart.
#[inline(always)]
fn decode_general<R: Response>(info: u64, registers: &[u64]) -> Result<R, ReplyError> {
    let length = (info & 0x7F) as usize;
    R::decode((info >> 12) & 0xF_FFFF, registers.get(..length).unwrap_or_default())
}

/// The fast path of a fixed-size value `T` in an `OK` reply: `None` if the info word is not
/// exactly `OK` over `T`'s words (the general path then decides), or the words do not
/// decode (nonzero padding).
#[inline(always)]
fn decode_fast<T: Wire>(info: u64, registers: &[u64]) -> Option<T> {
    let count = T::FIXED_WORDS?;
    if info != (label::OK << 12) | count as u64 {
        return None;
    }
    T::decode(registers.get(..count)?).ok().map(|(value, _)| value)
}

impl<T: Wire> Response for T {
    #[inline(always)]
    fn encode(&self, words: &mut [u64]) -> Result<(u64, usize), EncodeError> {
        Ok((label::OK, Wire::encode(self, words)?))
    }

    #[inline(always)]
    fn decode(label: u64, words: &[u64]) -> Result<Self, ReplyError> {
        if label == label::OK { decode_exact(words) } else { Err(classify_transport(label, words)) }
    }

    #[inline(always)]
    fn decode_message(info: u64, registers: &[u64]) -> Result<Self, ReplyError> {
        match decode_fast(info, registers) {
            Some(value) => Ok(value),
            None => decode_general(info, registers),
        }
    }
}

impl<T: Wire, E: Wire> Response for Result<T, E> {
    #[inline(always)]
    fn encode(&self, words: &mut [u64]) -> Result<(u64, usize), EncodeError> {
        match self {
            Ok(value) => Ok((label::OK, value.encode(words)?)),
            Err(error) => Ok((label::ERROR, error.encode(words)?)),
        }
    }

    #[inline(always)]
    fn decode(label: u64, words: &[u64]) -> Result<Self, ReplyError> {
        if label == label::OK {
            decode_exact(words).map(Ok)
        } else if label == label::ERROR {
            decode_exact(words).map(Err)
        } else {
            Err(classify_transport(label, words))
        }
    }

    #[inline(always)]
    fn decode_message(info: u64, registers: &[u64]) -> Result<Self, ReplyError> {
        match decode_fast(info, registers) {
            Some(value) => Ok(Ok(value)),
            None => decode_general(info, registers),
        }
    }
}

/// `words` decoded as exactly one `T`.
#[inline(always)]
fn decode_exact<T: Wire>(words: &[u64]) -> Result<T, ReplyError> {
    if let Some(count) = T::FIXED_WORDS
        && words.len() != count
    {
        return Err(wrong_length(words.len(), count));
    }
    match T::decode(words) {
        Ok((value, used)) if used == words.len() => Ok(value),
        Ok(_) => Err(ReplyError::Malformed(ReplyMalformed::ExtraWords { words: words.len() })),
        Err(error) => Err(ReplyError::Malformed(ReplyMalformed::Undecodable(error))),
    }
}

/// The error of a reply of `length` words for a value of `count`.
#[cold]
fn wrong_length(length: usize, count: usize) -> ReplyError {
    ReplyError::Malformed(if length > count {
        ReplyMalformed::ExtraWords { words: length }
    } else {
        ReplyMalformed::Undecodable(DecodeError::Short)
    })
}

/// A reply that carries no value and no application error: which transport error it is.
/// (An `ERROR` reply reaches here only for an operation declared without an application
/// error, so it is malformed.)
#[cold]
pub fn classify_transport(label: u64, words: &[u64]) -> ReplyError {
    match label {
        1..=KERNEL_ERROR_CODES => ReplyError::Kernel { code: label },
        label::ABORTED => ReplyError::Aborted,
        label::TIMED_OUT => ReplyError::TimedOut,
        label::BAD_REQUEST => match BadRequest::decode(words) {
            Some(reason) => ReplyError::BadRequest(reason),
            None => ReplyError::Malformed(ReplyMalformed::BadRequestReason {
                code: words.first().copied(),
            }),
        },
        label::RESPONSE_TOO_LARGE if words.is_empty() => ReplyError::ResponseTooLarge,
        label::RESPONSE_TOO_LARGE => {
            ReplyError::Malformed(ReplyMalformed::ExtraWords { words: words.len() })
        }
        label::ERROR => ReplyError::Malformed(ReplyMalformed::UndeclaredError),
        label => ReplyError::Malformed(ReplyMalformed::UnknownLabel { label }),
    }
}

/// seL4 5.0.0's error codes are `1..=10` (`seL4_InvalidArgument` .. `seL4_NotEnoughMemory`,
/// libsel4 `include/sel4/errors.h`); the kernel answers a Call it could not deliver with one
/// as the label.
pub const KERNEL_ERROR_CODES: u64 = 10;

/// A transport error: the call did not produce the operation's result or its application
/// error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The kernel answered with this seL4 error code: the cap reaches no service (the
    /// connection was closed, its service died). The runtime asks the broker why.
    Kernel { code: u64 },
    /// The service stopped (faulted, panicked, exited) before it answered.
    Aborted,
    /// The call's deadline passed and the memory manager cancelled it.
    TimedOut,
    /// The service refused the request, and said why.
    BadRequest(BadRequest),
    /// The service's result did not fit in one message (or could not be encoded).
    ResponseTooLarge,
    /// The reply is none of the above: a misbehaving service, or another protocol.
    Malformed(ReplyMalformed),
}

/// Why a reply is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMalformed {
    /// The label is neither the runtime's nor a kernel error code.
    UnknownLabel { label: u64 },
    /// An `ERROR` reply to an operation declared without an application error.
    UndeclaredError,
    /// The words do not decode as the result (or the error).
    Undecodable(DecodeError),
    /// Words are left over after the value (`words` is the reply's length).
    ExtraWords { words: usize },
    /// A `BAD_REQUEST` reply whose reason is not one of [`BadRequest`]'s (its code word, if any).
    BadRequestReason { code: Option<u64> },
}

impl core::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplyError::Kernel { code } => {
                write!(f, "the kernel answered with error {code}: no service received the call")
            }
            ReplyError::Aborted => write!(f, "the service stopped before it answered"),
            ReplyError::TimedOut => write!(f, "the service did not answer by the deadline"),
            ReplyError::BadRequest(reason) => {
                write!(f, "the service refused the request: {reason}")
            }
            ReplyError::ResponseTooLarge => {
                write!(f, "the service's result does not fit in one message")
            }
            ReplyError::Malformed(reason) => write!(f, "the reply is malformed: {reason}"),
        }
    }
}

impl core::fmt::Display for ReplyMalformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplyMalformed::UnknownLabel { label } => write!(f, "unknown reply label {label:#x}"),
            ReplyMalformed::UndeclaredError => {
                write!(f, "an application error for an operation that declares none")
            }
            ReplyMalformed::Undecodable(error) => write!(f, "{error}"),
            ReplyMalformed::ExtraWords { words } => {
                write!(f, "{words} words, more than the value takes")
            }
            ReplyMalformed::BadRequestReason { code: Some(code) } => {
                write!(f, "unknown bad-request reason {code}")
            }
            ReplyMalformed::BadRequestReason { code: None } => {
                write!(f, "a bad-request reply without a reason")
            }
        }
    }
}

/// Why a service refused a request (the words of a `BAD_REQUEST` reply: word 0 the code,
/// then the details, one word each, in the order of the fields). The service goes on
/// serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// Code 1: the label is not an operation of the service's interface (`operation`: the
    /// label received).
    UnknownOperation { operation: u64 },
    /// Code 2: the message has not the words the operation's arguments take (`received`:
    /// its length in words): too few, or some left over.
    WrongLength { received: u64 },
    /// Code 3: the message carried capabilities (`caps`: how many were transferred,
    /// `unwrapped`: the kernel's capsUnwrapped bits); a call on a connection carries none.
    ExtraCaps { caps: u64, unwrapped: u64 },
    /// Code 4: argument number `argument` (from 0) does not decode as its type (nonzero
    /// padding, postcard refusing the bytes, postcard leaving bytes over).
    Undecodable { argument: u64 },
    /// Code 5: the message came through a cap whose badge is not a connection to one of the
    /// endpoint's services (`badge`: the badge the kernel delivered).
    NotAConnection { badge: u64 },
}

/// The reason codes of [`BadRequest`] (word 0 of a `BAD_REQUEST` reply).
pub mod reason {
    pub const UNKNOWN_OPERATION: u64 = 1;
    pub const WRONG_LENGTH: u64 = 2;
    pub const EXTRA_CAPS: u64 = 3;
    pub const UNDECODABLE: u64 = 4;
    pub const NOT_A_CONNECTION: u64 = 5;
}

impl BadRequest {
    /// The most words a reason takes (code and two details).
    pub const MAX_WORDS: usize = 3;

    /// Writes the reason's words at the start of `words` (which has at least
    /// [`BadRequest::MAX_WORDS`], or the reason is cut); returns how many.
    pub fn encode(&self, words: &mut [u64]) -> usize {
        let (reason, details): (u64, &[u64]) = match *self {
            BadRequest::UnknownOperation { operation } => (reason::UNKNOWN_OPERATION, &[operation]),
            BadRequest::WrongLength { received } => (reason::WRONG_LENGTH, &[received]),
            BadRequest::ExtraCaps { caps, unwrapped } => (reason::EXTRA_CAPS, &[caps, unwrapped]),
            BadRequest::Undecodable { argument } => (reason::UNDECODABLE, &[argument]),
            BadRequest::NotAConnection { badge } => (reason::NOT_A_CONNECTION, &[badge]),
        };
        let mut used = 0;
        for (slot, word) in words.iter_mut().zip(core::iter::once(&reason).chain(details)) {
            *slot = *word;
            used += 1;
        }
        used
    }

    /// Reads a reason from exactly `words`; `None` if it is none of the codes, or has another
    /// number of details.
    pub fn decode(words: &[u64]) -> Option<BadRequest> {
        Some(match *words {
            [reason::UNKNOWN_OPERATION, operation] => BadRequest::UnknownOperation { operation },
            [reason::WRONG_LENGTH, received] => BadRequest::WrongLength { received },
            [reason::EXTRA_CAPS, caps, unwrapped] => BadRequest::ExtraCaps { caps, unwrapped },
            [reason::UNDECODABLE, argument] => BadRequest::Undecodable { argument },
            [reason::NOT_A_CONNECTION, badge] => BadRequest::NotAConnection { badge },
            _ => return None,
        })
    }
}

impl core::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BadRequest::UnknownOperation { operation } => {
                write!(f, "{operation} is not an operation of the service's interface")
            }
            BadRequest::WrongLength { received } => {
                write!(f, "{received} words are not what the operation's arguments take")
            }
            BadRequest::ExtraCaps { caps, unwrapped } => write!(
                f,
                "the request carried {caps} capabilities (unwrapped {unwrapped:#b}); calls carry none"
            ),
            BadRequest::Undecodable { argument } => {
                write!(f, "argument {argument} does not decode as its type")
            }
            BadRequest::NotAConnection { badge } => {
                write!(f, "badge {badge:#x} is not a connection to one of the endpoint's services")
            }
        }
    }
}

/// What a decode failure of argument `argument` of a request of `received` words is.
#[cold]
pub fn bad_argument(error: DecodeError, argument: u64, received: usize) -> BadRequest {
    match error {
        DecodeError::Short => BadRequest::WrongLength { received: received as u64 },
        _ => BadRequest::Undecodable { argument },
    }
}
