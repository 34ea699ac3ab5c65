//! Test realm `carol`, a child of `bob`: the hierarchy would let her reach her parent's
//! `shop`, but the service's own allowed-clients list does not name her.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};
use test_protocols::Shop;

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    match realm.connect::<Shop>("shop") {
        Ok(_) => println!(realm, "connected to \"shop\": WRONG"),
        Err(error) => println!(realm, "connect \"shop\" refused: {error}"),
    }
}
