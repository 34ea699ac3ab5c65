//! The message-info word that heads every IPC message and every invocation.
//!
//! Layout: label bits 63..12 (the kernel reads 20 bits on 5.0.0: 31..12), capsUnwrapped
//! 11..9, extraCaps 8..7, length 6..0. In a reply to an invocation the label is the error
//! code (0 = no error).

/// The most message words one IPC can carry (defined with the kernel version's facts).
pub use crate::kernel::MAX_MESSAGE_WORDS;
/// The most extra capabilities one IPC can carry.
pub const MAX_EXTRA_CAPS: usize = 3;
/// The largest label: 20 bits, the width every supported kernel keeps.
pub const MAX_LABEL: u64 = (1 << 20) - 1;

/// A message-info word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo(u64);

/// Why a message-info word could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageInfoError {
    LabelTooLarge,
    TooManyWords,
    TooManyCaps,
}

impl core::fmt::Display for MessageInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MessageInfoError::LabelTooLarge => "the label does not fit in a message-info word",
            MessageInfoError::TooManyWords => "the message has more words than the kernel carries",
            MessageInfoError::TooManyCaps => "the message has more caps than the kernel carries",
        })
    }
}

impl MessageInfo {
    /// Builds a message-info word, checking each field against its width and the kernel's limits.
    pub const fn new(
        label: u64,
        extra_caps: usize,
        length: usize,
    ) -> Result<Self, MessageInfoError> {
        if label > MAX_LABEL {
            return Err(MessageInfoError::LabelTooLarge);
        }
        if length > MAX_MESSAGE_WORDS {
            return Err(MessageInfoError::TooManyWords);
        }
        if extra_caps > MAX_EXTRA_CAPS {
            return Err(MessageInfoError::TooManyCaps);
        }
        Ok(Self((label << 12) | ((extra_caps as u64) << 7) | length as u64))
    }

    /// Wraps a word the kernel returned.
    pub const fn from_word(word: u64) -> Self {
        Self(word)
    }

    pub const fn word(self) -> u64 {
        self.0
    }

    pub const fn label(self) -> u64 {
        (self.0 >> 12) & MAX_LABEL
    }

    /// Which of the extra caps the kernel unwrapped into badges (bit i for cap i).
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }

    pub const fn extra_caps(self) -> usize {
        ((self.0 >> 7) & 0x3) as usize
    }

    pub const fn length(self) -> usize {
        (self.0 & 0x7f) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let info = MessageInfo::new(0xabcde, 3, 120).unwrap();
        assert_eq!(info.label(), 0xabcde);
        assert_eq!(info.extra_caps(), 3);
        assert_eq!(info.length(), 120);
        assert_eq!(info.caps_unwrapped(), 0);
    }

    #[test]
    fn layout_matches_the_kernel() {
        // label 47 (X86IOPortOut8 on 5.0.0), no caps, two words.
        assert_eq!(MessageInfo::new(47, 0, 2).unwrap().word(), (47 << 12) | 2);
        assert_eq!(MessageInfo::new(1, 1, 0).unwrap().word(), (1 << 12) | (1 << 7));
        assert_eq!(MessageInfo::from_word(0b101 << 9).caps_unwrapped(), 0b101);
    }

    #[test]
    fn limits_are_errors() {
        assert_eq!(MessageInfo::new(MAX_LABEL + 1, 0, 0), Err(MessageInfoError::LabelTooLarge));
        assert_eq!(MessageInfo::new(0, 0, 121), Err(MessageInfoError::TooManyWords));
        assert_eq!(MessageInfo::new(0, 4, 0), Err(MessageInfoError::TooManyCaps));
    }
}
