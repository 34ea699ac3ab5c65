//! The fingerprint of an interface declaration: FNV-1a (64 bits) over a canonical text of
//! the whole declaration, computed when the declaration compiles (a `const fn`).
//!
//! The macro writes the canonical text: the interface's name, then for each operation in
//! declaration order its number, its name, its argument types and its result type as
//! written (tokens, spaced as `proc_macro2` prints them), and its attributes
//! (`idempotent`, `deferrable`):
//!
//! ```text
//! interface kv;op 1 get(Text)->Result < Text , KvError > idempotent;op 2 count()->u64;
//! ```
//!
//! The text's hash is then mixed ([`with_layouts`]) with the size and alignment in bytes of
//! every argument type and result type, in the same order (the generated `LAYOUTS`), so that
//! a type written the same way but defined differently where the client was built (a `Text`
//! alias of `String<32>` rather than `String<64>`, a plain-data struct with a field more)
//! gives another fingerprint.
//!
//! Any change to any of these changes the fingerprint (up to FNV's collisions); renaming an
//! argument or editing a doc comment does not. What neither the text nor the layouts show
//! keeps the fingerprint: a struct whose fields changed type or order without changing its
//! size (a `u32` field become `i32`, two `u32` fields swapped). Declare such a change as a
//! new operation, or a new interface name.

/// FNV-1a's 64-bit offset basis and prime (Fowler, Noll, Vo; `draft-eastlake-fnv`).
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = OFFSET_BASIS;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(PRIME);
        index += 1;
    }
    hash
}

/// `hash` (the canonical text's [`fnv1a64`]) with each `(size, alignment)` of `layouts`
/// folded in, FNV-1a over their 16 little-endian bytes.
pub const fn with_layouts(hash: u64, layouts: &[(usize, usize)]) -> u64 {
    let mut hash = hash;
    let mut index = 0;
    while index < layouts.len() {
        let (size, align) = layouts[index];
        let words = [size as u64, align as u64];
        let mut word = 0;
        while word < 2 {
            let bytes = words[word].to_le_bytes();
            let mut byte = 0;
            while byte < 8 {
                hash ^= bytes[byte] as u64;
                hash = hash.wrapping_mul(PRIME);
                byte += 1;
            }
            word += 1;
        }
        index += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
