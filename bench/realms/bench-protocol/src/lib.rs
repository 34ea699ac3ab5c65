//! The benchmark's typed interface: the echo operations whose round trips `make bench`
//! compares with raw seL4 Call/ReplyRecv carrying the same words.
#![forbid(unsafe_code)]
#![no_std]

/// The text the benchmark echoes: 64 bytes travel as postcard (a length byte, then the
/// bytes) behind a length word: 10 words.
pub type Text = heapless::String<64>;

/// Echo: each operation answers with its argument.
#[realm_runtime::interface(name = "bench-echo")]
pub trait Echo {
    /// One word in, one word out (the words encoding).
    fn small(value: u64) -> u64;
    /// Eight words in, eight words out (the words encoding).
    fn large(values: [u64; 8]) -> [u64; 8];
    /// A `heapless::String<64>` in and out (the postcard encoding).
    fn text(text: Text) -> Text;
}
