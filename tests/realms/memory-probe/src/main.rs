//! A realm that uses memory from its budget, then asks for more than the budget holds: it
//! must get an error it can print, not a crash, and keep running.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::Realm;
use realm_runtime::println;

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    realm.name().expect("the memory manager knows this realm's name");
    let pages = realm.allocate_pages(4).expect("four pages fit the budget");
    for (index, byte) in pages.iter_mut().enumerate() {
        *byte = index as u8;
    }
    let intact = pages.iter().enumerate().all(|(index, &byte)| byte == index as u8);
    println!(
        realm,
        "got {} bytes at {:p}, written and read back: {intact}",
        pages.len(),
        pages.as_ptr()
    );
    match realm.allocate_pages(1 << 20) {
        Ok(pages) => panic!("4 GiB granted beyond the budget: {} bytes", pages.len()),
        Err(error) => println!(realm, "asking for 4 GiB: {error}"),
    }
    println!(realm, "still running after the refusal");
}
