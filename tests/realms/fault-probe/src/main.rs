//! A realm that reads an address nothing maps: the memory manager must report the fault
//! with this realm's name and the address, stop the realm, and keep serving the others.
#![no_std]
#![no_main]

use realm_runtime::Realm;
use realm_runtime::println;

realm_runtime::main!(main);

/// Below the program window: never mapped in any realm (see `ipc::abi`).
const UNMAPPED: usize = 0x1000;

fn main(realm: &mut Realm) {
    realm.name().expect("the memory manager knows this realm's name");
    println!(realm, "reading {UNMAPPED:#x}");
    let pointer = core::hint::black_box(UNMAPPED) as *const u64;
    // SAFETY: deliberately unsound: this probe exists to fault. The read goes to an
    // address nothing maps, so the kernel stops the thread before a value is produced.
    let value = unsafe { core::ptr::read_volatile(pointer) };
    panic!("the read of {UNMAPPED:#x} returned {value} instead of faulting");
}
