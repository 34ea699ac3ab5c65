//! Test realm `alice`: reaches her parent's service; is refused her sibling's service; asks
//! her parent for a grant and then reaches it.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};
use test_protocols::{Desk, Shop, name};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let mut desk = realm.connect::<Desk>("desk").expect("a child reaches its parent's service");
    println!(realm, "connected to her parent's \"desk\" (connection {:?})", desk.connection().id);
    match realm.connect::<Shop>("shop") {
        Ok(_) => {
            println!(realm, "connected to her sibling's \"shop\" without a grant: WRONG")
        }
        Err(error) => println!(realm, "connect \"shop\" refused: {error}"),
    }
    let answer = desk.grant(realm, name("shop")).expect("asking for a grant");
    println!(realm, "asked her parent for \"shop\": {answer:?}");
    let mut shop = realm.connect::<Shop>("shop").expect("the granted connect");
    let doubled = shop.double(realm, 21).expect("calling shop");
    println!(realm, "after the grant: shop doubled 21 into {doubled}");
}
