//! Test realm `alice`: reaches her parent's service; is refused her sibling's service; asks
//! her parent for a grant and then reaches it.
#![no_std]
#![no_main]

use demo_protocols::{PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, sel4::debug_println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let desk = realm.connect("desk").expect("a child reaches its parent's service");
    debug_println!("[alice] connected to her parent's \"desk\" (connection {:?})", desk.id);
    match realm.connect("shop") {
        Ok(_) => {
            debug_println!("[alice] connected to her sibling's \"shop\" without a grant: WRONG")
        }
        Err(error) => debug_println!("[alice] connect \"shop\" refused: {error}"),
    }
    let answer: PluginResponse =
        realm.call(&desk, &PluginRequest::Lookup(text("shop"))).expect("asking for a grant");
    debug_println!("[alice] asked her parent for \"shop\": {answer:?}");
    let shop = realm.connect("shop").expect("the granted connect");
    let doubled: u64 = realm.call(&shop, &21u64).expect("calling shop");
    debug_println!("[alice] after the grant: shop doubled 21 into {doubled}");
}
