//! Helpers shared by the fuzz targets (`fuzz_targets/`): turning libFuzzer's bytes into the
//! message words and labels a realm could send. Each target owns its own checks.

use arbitrary::Arbitrary;

/// A message as a realm can make one: any label and any words (seL4 carries at most 120
/// message words and a 20-bit label, but a decoder must not rely on that, so neither does
/// this).
#[derive(Arbitrary, Debug)]
pub struct RawMessage {
    /// The label, usually a small one (where the codes are), sometimes anything.
    pub label: Label,
    pub words: Vec<Word>,
}

/// A label: small values reach the decoders' codes; `Any` reaches everything else.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Label {
    Small(u8),
    Any(u64),
}

impl Label {
    pub fn value(self) -> u64 {
        match self {
            Self::Small(value) => u64::from(value),
            Self::Any(value) => value,
        }
    }
}

/// A message word: small values (lengths, codes), packed name bytes, or anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Word {
    Small(u8),
    Bytes([u8; 8]),
    Any(u64),
}

impl Word {
    pub fn value(self) -> u64 {
        match self {
            Self::Small(value) => u64::from(value),
            Self::Bytes(bytes) => u64::from_le_bytes(bytes),
            Self::Any(value) => value,
        }
    }
}

impl RawMessage {
    /// The label and the words as numbers.
    pub fn parts(&self) -> (u64, Vec<u64>) {
        (self.label.value(), self.words.iter().map(|word| word.value()).collect())
    }
}

/// `bytes` as little-endian words, the last one zero-padded.
pub fn words_of(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}
