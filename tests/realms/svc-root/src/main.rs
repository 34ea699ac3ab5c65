//! Test realm `init` of tests/systems/services.toml: serves `desk`, through which its
//! children ask it to grant them services (a parent grant at run time).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let desk = realm.register("desk").expect("registering desk");
    println!(realm, "serving \"desk\"");
    // `Lookup(service)` asks: grant me `service`.
    realm.serve(&desk, |realm, caller, request: PluginRequest| {
        let PluginRequest::Lookup(service) = request else {
            return PluginResponse::Failed(text("only grants are served here"));
        };
        let Ok(child) = realm.peer(caller) else {
            return PluginResponse::Failed(text("unknown caller"));
        };
        match realm.grant(child.as_str(), &service) {
            Ok(()) => {
                println!(realm, "granted {child} access to \"{service}\"");
                PluginResponse::Logged
            }
            Err(error) => {
                println!(realm, "cannot grant {child} \"{service}\": {error}");
                PluginResponse::Failed(text("refused"))
            }
        }
    })
}
