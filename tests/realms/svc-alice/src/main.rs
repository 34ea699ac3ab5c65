//! Test realm `alice`: reaches her parent's service; is refused her sibling's service; asks
//! her parent for a grant and then reaches it.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let desk = realm.connect_raw("desk").expect("a child reaches its parent's service");
    println!(realm, "connected to her parent's \"desk\" (connection {:?})", desk.id);
    match realm.connect_raw("shop") {
        Ok(_) => {
            println!(realm, "connected to her sibling's \"shop\" without a grant: WRONG")
        }
        Err(error) => println!(realm, "connect \"shop\" refused: {error}"),
    }
    let answer: PluginResponse =
        realm.call(&desk, &PluginRequest::Lookup(text("shop"))).expect("asking for a grant");
    println!(realm, "asked her parent for \"shop\": {answer:?}");
    let shop = realm.connect_raw("shop").expect("the granted connect");
    let doubled: u64 = realm.call(&shop, &21u64).expect("calling shop");
    println!(realm, "after the grant: shop doubled 21 into {doubled}");
}
