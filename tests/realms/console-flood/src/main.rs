//! Test realm `flood`: first two lines that try to break the console (one that forges an
//! event line after a line break, one longer than a message), then 100,000 lines as fast
//! as it can, then says it is done. The console must keep each of its lines on one line,
//! cut the long one with a mark, drop what it cannot drain, report how many, and slow
//! nobody else.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

const LINES: u32 = 100_000;

/// A line that would forge a decision of the memory manager if the console let a realm start
/// a new line.
const FORGED: &str = "forged\nSWITCHBOARD-EVENT realm-stopped realm=echo reason=faulted\r";

fn main(realm: &mut Realm) {
    println!(realm, "{FORGED}");
    println!(realm, "long line {}", LongText);
    for line in 0..LINES {
        println!(realm, "flood line {line}");
    }
    println!(realm, "flood: printed {LINES} lines");
}

/// 1,200 bytes of `x`: more than one message carries.
struct LongText;

impl core::fmt::Display for LongText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        (0..1200).try_for_each(|_| f.write_str("x"))
    }
}
