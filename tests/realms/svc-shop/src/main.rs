//! Test realm `bob`: serves `shop` (`test_protocols::Shop`), which doubles numbers. Its
//! allowed clients are set in tests/systems/services.toml.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Call, Realm, Server, println};
use test_protocols::{Shop, ShopServer};

realm_runtime::main!(main);

struct Bob;

impl ShopServer for Bob {
    fn double(&mut self, _call: &mut Call<'_>, number: u64) -> u64 {
        number.wrapping_mul(2)
    }
}

fn main(realm: &mut Realm) {
    let server = Server::new(Bob).serve::<Shop>(realm, "shop").expect("registering shop");
    println!(realm, "serving \"shop\"");
    server.run(realm)
}
