//! Demo realm `app`: uses the store and the logger, then offers `plugin-api` to its
//! untrusted plugin, doing on its behalf what the plugin may not do itself.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{KvRequest, KvResponse, LogLine, PluginRequest, PluginResponse, text};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let log = realm.connect_raw("log").expect("connecting to log");
    let kv = realm.connect_raw("kv").expect("connecting to kv");
    println!(realm, "connected to \"log\" and \"kv\"");
    let _: () = realm.call(&log, &LogLine(text("app started"))).expect("logging");
    let put = KvRequest::Put { key: text("greeting"), value: text("hello from the app") };
    let stored: KvResponse = realm.call(&kv, &put).expect("storing");
    let found: KvResponse =
        realm.call(&kv, &KvRequest::Get { key: text("greeting") }).expect("reading");
    println!(realm, "kv put -> {stored:?}, get -> {found:?}");

    let api = realm.register("plugin-api").expect("registering plugin-api");
    println!(realm, "serving \"plugin-api\" for its plugin");
    realm.serve(&api, move |realm, caller, request: PluginRequest| {
        let plugin = realm.peer(caller).map(|name| text(name.as_str())).unwrap_or_default();
        match request {
            PluginRequest::Log(line) => {
                let mut relayed = text("on behalf of ");
                let _ = relayed.push_str(&plugin);
                let _ = relayed.push_str(": ");
                let _ = relayed.push_str(&line);
                match realm.call::<_, ()>(&log, &LogLine(relayed)) {
                    Ok(()) => PluginResponse::Logged,
                    Err(error) => PluginResponse::Failed(failure(error)),
                }
            }
            PluginRequest::Lookup(key) => match realm.call(&kv, &KvRequest::Get { key }) {
                Ok(KvResponse::Found(value)) => PluginResponse::Value(Some(value)),
                Ok(_) => PluginResponse::Value(None),
                Err(error) => PluginResponse::Failed(failure(error)),
            },
        }
    })
}

fn failure(error: realm_runtime::CallError) -> demo_protocols::Text {
    use core::fmt::Write;
    let mut text = demo_protocols::Text::new();
    let _ = write!(text, "{error}");
    text
}
