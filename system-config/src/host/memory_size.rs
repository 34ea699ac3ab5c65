//! Memory sizes as people write them (`"16 MiB"`, `"64KiB"`, `4096`) and as messages print
//! them.

use std::format;
use std::string::String;

use crate::model::PAGE_BYTES;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Why a memory size was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemorySizeError {
    /// Not a whole number with an optional `KiB`, `MiB` or `GiB` unit.
    Malformed,
    Zero,
    /// More than `u64::MAX` bytes.
    TooLarge,
    /// Not a multiple of [`PAGE_BYTES`].
    NotWholePages,
}

impl MemorySizeError {
    /// The message for a size written as `written` (its source text, quotes included), for
    /// `whose` memory (`a realm`, `the machine`).
    pub fn message(self, written: &str, whose: &str) -> String {
        match self {
            MemorySizeError::Malformed => format!(
                "memory size {written} is not understood: write a number of bytes, or a \
                 whole number with KiB, MiB or GiB, such as \"16 MiB\""
            ),
            MemorySizeError::Zero => {
                format!("memory size {written} is zero: {whose} needs at least one 4 KiB page")
            }
            MemorySizeError::TooLarge => format!("memory size {written} is too large"),
            MemorySizeError::NotWholePages => {
                format!("memory size {written} is not a whole number of 4 KiB pages")
            }
        }
    }
}

/// Parses `"<digits>"`, `"<digits> KiB"`, `"<digits> MiB"` or `"<digits> GiB"` (the space is
/// optional) into bytes.
pub(crate) fn parse_memory_size(text: &str) -> Result<u64, MemorySizeError> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(MemorySizeError::Malformed);
    }
    let multiplier = match unit.strip_prefix(' ').unwrap_or(unit) {
        "" => 1,
        "KiB" => KIB,
        "MiB" => MIB,
        "GiB" => GIB,
        _ => return Err(MemorySizeError::Malformed),
    };
    let count: u64 = digits.parse().map_err(|_| MemorySizeError::TooLarge)?;
    let bytes = count.checked_mul(multiplier).ok_or(MemorySizeError::TooLarge)?;
    check_bytes(bytes)
}

/// Checks a size given as a TOML integer (bytes).
pub(crate) fn memory_size_from_integer(value: i128) -> Result<u64, MemorySizeError> {
    if value < 0 {
        return Err(MemorySizeError::Malformed);
    }
    let bytes = u64::try_from(value).map_err(|_| MemorySizeError::TooLarge)?;
    check_bytes(bytes)
}

fn check_bytes(bytes: u64) -> Result<u64, MemorySizeError> {
    if bytes == 0 {
        Err(MemorySizeError::Zero)
    } else if !bytes.is_multiple_of(PAGE_BYTES) {
        Err(MemorySizeError::NotWholePages)
    } else {
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn parses_every_unit_with_and_without_space() {
        assert_eq!(parse_memory_size("8192"), Ok(8192));
        assert_eq!(parse_memory_size("64 KiB"), Ok(64 * KIB));
        assert_eq!(parse_memory_size("64KiB"), Ok(64 * KIB));
        assert_eq!(parse_memory_size("16 MiB"), Ok(16 * MIB));
        assert_eq!(parse_memory_size("2 GiB"), Ok(2 * GIB));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for text in ["", "MiB", "16 MB", "16 mib", "16  MiB", " 16 MiB", "1.5 MiB", "-4096"] {
            assert_eq!(parse_memory_size(text), Err(MemorySizeError::Malformed), "{text}");
        }
    }

    #[test]
    fn refuses_zero_huge_and_partial_pages() {
        assert_eq!(parse_memory_size("0 KiB"), Err(MemorySizeError::Zero));
        assert_eq!(parse_memory_size("99999999999999999999"), Err(MemorySizeError::TooLarge));
        assert_eq!(parse_memory_size("17179869184 GiB"), Err(MemorySizeError::TooLarge));
        assert_eq!(parse_memory_size("6 KiB"), Err(MemorySizeError::NotWholePages));
        assert_eq!(memory_size_from_integer(-4096), Err(MemorySizeError::Malformed));
        assert_eq!(memory_size_from_integer(i128::MAX), Err(MemorySizeError::TooLarge));
        assert_eq!(memory_size_from_integer(4096), Ok(4096));
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        // The rule engine's sentences print sizes with `MemorySize`.
        let format = |bytes: u64| crate::rules::MemorySize(bytes.into()).to_string();
        assert_eq!(format(16 * MIB), "16 MiB");
        assert_eq!(format(1536 * KIB), "1536 KiB");
        assert_eq!(format(3 * GIB), "3 GiB");
        assert_eq!(format(4097), "4097 bytes");
        assert_eq!(format(0), "0 bytes");
        // A sum of budgets past u64::MAX prints whole.
        let sum = u128::from(u64::MAX) + 1;
        assert_eq!(crate::rules::MemorySize(sum).to_string(), "17179869184 GiB");
    }
}
