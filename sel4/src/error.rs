//! The kernel's error codes (`seL4_Error`) as a type.

use core::fmt;

/// An error the kernel returned from an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    InvalidArgument,
    InvalidCapability,
    IllegalOperation,
    RangeError,
    AlignmentError,
    FailedLookup,
    TruncatedMessage,
    DeleteFirst,
    RevokeFirst,
    NotEnoughMemory,
    /// A code this binding does not know: a kernel newer than the binding.
    Unknown(u64),
}

impl Error {
    /// Decodes the label of an invocation's reply: `Ok(())` for 0, the error otherwise.
    pub const fn check(code: u64) -> Result<(), Error> {
        Err(match code {
            0 => return Ok(()),
            1 => Error::InvalidArgument,
            2 => Error::InvalidCapability,
            3 => Error::IllegalOperation,
            4 => Error::RangeError,
            5 => Error::AlignmentError,
            6 => Error::FailedLookup,
            7 => Error::TruncatedMessage,
            8 => Error::DeleteFirst,
            9 => Error::RevokeFirst,
            10 => Error::NotEnoughMemory,
            other => Error::Unknown(other),
        })
    }

    /// The kernel's code for this error.
    pub const fn code(self) -> u64 {
        match self {
            Error::InvalidArgument => 1,
            Error::InvalidCapability => 2,
            Error::IllegalOperation => 3,
            Error::RangeError => 4,
            Error::AlignmentError => 5,
            Error::FailedLookup => 6,
            Error::TruncatedMessage => 7,
            Error::DeleteFirst => 8,
            Error::RevokeFirst => 9,
            Error::NotEnoughMemory => 10,
            Error::Unknown(code) => code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unknown(code) => write!(f, "unknown seL4 error {code}"),
            known => {
                let words = match known {
                    Error::InvalidArgument => "an invalid argument",
                    Error::InvalidCapability => "an invalid capability",
                    Error::IllegalOperation => "an illegal operation",
                    Error::RangeError => "a value out of range",
                    Error::AlignmentError => "a misaligned value",
                    Error::FailedLookup => "a capability lookup that failed",
                    Error::TruncatedMessage => "a truncated message",
                    Error::DeleteFirst => "a slot that must be emptied first",
                    Error::RevokeFirst => "a capability that must be revoked first",
                    Error::NotEnoughMemory => "not enough memory in the untyped",
                    Error::Unknown(_) => "an unknown error",
                };
                write!(f, "{words} (seL4 error {})", known.code())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        assert_eq!(Error::check(0), Ok(()));
        for code in 1..=11 {
            assert_eq!(Error::check(code).unwrap_err().code(), code);
        }
        assert_eq!(Error::check(11), Err(Error::Unknown(11)));
    }
}
