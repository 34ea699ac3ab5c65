//! Test realm `bob`: serves `shop`, which doubles numbers. Its allowed clients are set in
//! tests/systems/services.toml.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let shop = realm.register("shop").expect("registering shop");
    println!(realm, "serving \"shop\"");
    realm.serve(&shop, |_realm, _caller, number: u64| number * 2)
}
