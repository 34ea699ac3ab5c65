//! Demo realm `app`. For now it says who it is; its part in the demo's story comes with
//! the broker.
#![no_std]
#![no_main]

use realm_runtime::{Realm, sel4::debug_println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    match realm.name() {
        Ok(name) => debug_println!("[{name}] running program app"),
        Err(error) => debug_println!("[?] program app cannot learn its name: {error}"),
    }
}
