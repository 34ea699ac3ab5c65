//! A realm that panics: the memory manager must log the panic with the realm's name, stop
//! the realm and take back what it used.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::Realm;

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    panic!("{name} gives up on purpose");
}
