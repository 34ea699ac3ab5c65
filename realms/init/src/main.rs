//! Demo realm `init`: the root of the realm tree. It says the system is up, and leaves the
//! rest to its children.
#![no_std]
#![no_main]

use realm_runtime::{Realm, sel4::debug_println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    match realm.name() {
        Ok(name) => debug_println!("[{name}] the system is up"),
        Err(error) => debug_println!("[init] cannot learn its name: {error}"),
    }
}
