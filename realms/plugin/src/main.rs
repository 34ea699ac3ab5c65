//! Demo realm `plugin`: untrusted. It may reach only its parent's `plugin-api`; the broker
//! refuses everything else and says why.
#![no_std]
#![no_main]

use demo_protocols::{PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, sel4::debug_println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    for service in ["kv", "log"] {
        match realm.connect(service) {
            Ok(_) => debug_println!("[plugin] connected to \"{service}\" (it should not have)"),
            Err(error) => debug_println!("[plugin] connect \"{service}\" refused: {error}"),
        }
    }
    let api = realm.connect("plugin-api").expect("connecting to my parent's plugin-api");
    let logged: PluginResponse =
        realm.call(&api, &PluginRequest::Log(text("hello from the plugin"))).expect("logging");
    let value: PluginResponse =
        realm.call(&api, &PluginRequest::Lookup(text("greeting"))).expect("looking up");
    debug_println!("[plugin] through plugin-api: {logged:?}, greeting = {value:?}");
}
