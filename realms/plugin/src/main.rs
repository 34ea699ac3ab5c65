//! Demo realm `plugin`: untrusted. It may reach only its parent's `plugin-api`; the broker
//! refuses everything else and says why.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{Kv, Log, PluginApi, text};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    // Refused by the policy before any interface is looked at.
    match realm.connect::<Kv>("kv") {
        Ok(_) => println!(realm, "connected to \"kv\" (it should not have)"),
        Err(error) => println!(realm, "connect \"kv\" refused: {error}"),
    }
    match realm.connect::<Log>("log") {
        Ok(_) => println!(realm, "connected to \"log\" (it should not have)"),
        Err(error) => println!(realm, "connect \"log\" refused: {error}"),
    }
    let mut api =
        realm.connect::<PluginApi>("plugin-api").expect("connecting to my parent's plugin-api");
    let logged = api.log(realm, text("hello from the plugin")).expect("logging");
    let value = api.lookup(realm, text("greeting")).expect("looking up");
    println!(realm, "through plugin-api: log {logged:?}, greeting = {value:?}");
}
