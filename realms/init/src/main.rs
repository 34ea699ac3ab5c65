//! Demo realm `init`: the root of the realm tree. It says the system is up, and leaves the
//! rest to its children.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    println!(realm, "the system is up");
}
