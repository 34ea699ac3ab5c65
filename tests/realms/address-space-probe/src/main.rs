//! Proves that a realm runs in an address space of its own: every realm running this
//! program has its `MARK` at the same virtual address; each leaves a mark made from its
//! name there, lets the other realms run, and finds its own mark unchanged.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use realm_runtime::Realm;
use realm_runtime::println;
use realm_runtime::sel4::ipc::yield_now;

realm_runtime::main!(main);

static MARK: AtomicU64 = AtomicU64::new(0);

/// FNV-1a: a mark that differs between realm names.
fn mark_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    let mark = mark_of(name.as_str());
    MARK.store(mark, Ordering::SeqCst);
    for _ in 0..3 {
        yield_now();
        realm.name().expect("asking again");
    }
    let found = MARK.load(Ordering::SeqCst);
    let verdict = if found == mark { "still mine" } else { "OVERWRITTEN" };
    println!(realm, "address space: mark {found:#018x} at {:p}, {verdict}", &MARK);
}
