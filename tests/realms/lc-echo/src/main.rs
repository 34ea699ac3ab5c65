//! Test realms `echo` and `once`: each serves a service named after itself, answering
//! `generation * 1000 + value`; the value `CRASH` makes it read an unmapped address, and
//! `QUIT` makes it exit, while its client waits for the answer.
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};
use test_protocols::{CRASH, QUIT};

realm_runtime::main!(main);

/// Below the program window: mapped in no realm (see `ipc::abi`).
const UNMAPPED: usize = 0x1000;

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    let service = realm.register(name.as_str()).expect("registering its service");
    let generation = u64::from(service.generation);
    println!(realm, "serving \"{name}\", generation {generation}");
    realm.serve(&service, move |realm, _caller, value: u64| {
        if value == QUIT {
            println!(realm, "exiting while a client waits");
            realm.exit();
        }
        if value == CRASH {
            println!(realm, "crashing while a client waits");
            let pointer = core::hint::black_box(UNMAPPED) as *const u64;
            // SAFETY: deliberately unsound: the read faults, which is what this test needs.
            return unsafe { core::ptr::read_volatile(pointer) };
        }
        generation * 1000 + value
    })
}
