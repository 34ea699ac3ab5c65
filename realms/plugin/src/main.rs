//! Demo realm `plugin`: untrusted. It may reach only its parent's `plugin-api`; the broker
//! refuses everything else and says why.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    for service in ["kv", "log"] {
        match realm.connect_raw(service) {
            Ok(_) => println!(realm, "connected to \"{service}\" (it should not have)"),
            Err(error) => println!(realm, "connect \"{service}\" refused: {error}"),
        }
    }
    let api = realm.connect_raw("plugin-api").expect("connecting to my parent's plugin-api");
    let logged: PluginResponse =
        realm.call(&api, &PluginRequest::Log(text("hello from the plugin"))).expect("logging");
    let value: PluginResponse =
        realm.call(&api, &PluginRequest::Lookup(text("greeting"))).expect("looking up");
    println!(realm, "through plugin-api: {logged:?}, greeting = {value:?}");
}
