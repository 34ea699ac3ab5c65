//! Test realms `early`, `late` and `caller`: clients of their parent's `echo` service (the
//! `lc-echo` program, which answers `generation * 1000 + value`).
//!
//! - `early` makes three calls and exits.
//! - `late` tells the memory manager it only serves (so that a run that ends when every
//!   realm is idle would end now), waits about three seconds of time-stamp counter, then
//!   connects and makes five calls: only a system that runs for ever answers them.
//! - `caller` makes 1,000 calls and reports how many were answered correctly.
//! - `looper` asks to connect to `echo` 1,000 times, which the policy refuses each time, and
//!   reports how many were refused.
#![no_std]
#![no_main]

use realm_runtime::sel4::timestamp;
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

/// About three seconds at the 1 to 3 GHz that QEMU's time-stamp counter runs at.
const LATE_WAIT_CYCLES: u64 = 6_000_000_000;

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "early" => calls(realm, 3),
        "late" => {
            realm.announce_serving();
            let start = timestamp::now();
            while timestamp::now().wrapping_sub(start) < LATE_WAIT_CYCLES {
                core::hint::spin_loop();
            }
            calls(realm, 5);
        }
        "caller" => calls(realm, 1000),
        "looper" => {
            let refused = (0..1000).filter(|_| realm.connect("echo").is_err()).count();
            println!(realm, "{refused} of 1000 connects refused");
        }
        _ => println!(realm, "has no part in this test"),
    }
}

/// Connects to `echo` and makes `count` calls; prints how many were answered as expected.
fn calls(realm: &mut Realm, count: u64) {
    let echo = match realm.connect("echo") {
        Ok(echo) => echo,
        Err(error) => return println!(realm, "connect refused: {error}"),
    };
    let answered = (0..count)
        .filter(|&value| realm.call::<u64, u64>(&echo, &value) == Ok(1000 + value))
        .count();
    println!(realm, "{answered} of {count} calls answered");
}
