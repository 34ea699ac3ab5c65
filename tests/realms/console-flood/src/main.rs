//! Test realm `flood`: prints 100,000 lines as fast as it can, then says it is done. The
//! console must drop what it cannot drain, report how many, and slow nobody else.
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

const LINES: u32 = 100_000;

fn main(realm: &mut Realm) {
    for line in 0..LINES {
        println!(realm, "flood line {line}");
    }
    println!(realm, "flood: printed {LINES} lines");
}
