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
//! Any change to any of these changes the fingerprint (up to FNV's collisions); renaming an
//! argument, reordering nothing, or editing a doc comment does not. Two different types
//! written the same way (a `Text` alias changed in another file) keep the fingerprint: the
//! fingerprint is of the declaration's text, not of the types' layouts.

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
