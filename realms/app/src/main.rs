//! Demo realm `app`: uses the store and the logger, then serves `plugin-api` to its
//! untrusted plugin, doing on its behalf what the plugin may not do itself: one loop that
//! serves one interface while it is a client of two others.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{
    Kv, KvClient, KvError, Log, LogClient, PluginApi, PluginApiServer, PluginError, Text, text,
};
use realm_runtime::{Call, CallError, Realm, Server, println};

realm_runtime::main!(main);

/// What `plugin-api`'s handlers use: the app's own connections.
struct Api {
    log: LogClient,
    kv: KvClient,
}

impl PluginApiServer for Api {
    fn log(&mut self, call: &mut Call<'_>, line: Text) -> Result<(), PluginError> {
        let caller = call.caller();
        let plugin = call.peer(caller).map(|name| text(name.as_str())).unwrap_or_default();
        let mut relayed = text("on behalf of ");
        let _ = relayed.push_str(&plugin);
        let _ = relayed.push_str(": ");
        let _ = relayed.push_str(&line);
        self.log.line(call, relayed).map_err(unavailable)
    }

    fn lookup(&mut self, call: &mut Call<'_>, key: Text) -> Result<Text, PluginError> {
        self.kv.get(call, key).map_err(unavailable)?.map_err(|error| match error {
            KvError::Missing => PluginError::Missing,
            // `get` answers nothing else; passed on as a refusal should the store ever do.
            KvError::Full => PluginError::Unavailable(text("the store is full")),
        })
    }
}

/// The plugin's error for a call of the app's that did not reach its service: the
/// transport error's sentence (cut to 64 bytes).
fn unavailable(error: CallError) -> PluginError {
    use core::fmt::Write;
    let mut sentence = Text::new();
    let _ = write!(sentence, "{error}");
    PluginError::Unavailable(sentence)
}

fn main(realm: &mut Realm) {
    let mut log = realm.connect::<Log>("log").expect("connecting to log");
    let mut kv = realm.connect::<Kv>("kv").expect("connecting to kv");
    println!(realm, "connected to \"log\" and \"kv\"");
    log.line(realm, text("app started")).expect("logging");
    let stored = kv.put(realm, text("greeting"), text("hello from the app")).expect("storing");
    let found = kv.get(realm, text("greeting")).expect("reading");
    println!(realm, "kv put -> {stored:?}, get -> {found:?}");

    let server = Server::new(Api { log, kv })
        .serve::<PluginApi>(realm, "plugin-api")
        .expect("registering plugin-api");
    println!(realm, "serving \"plugin-api\" for its plugin");
    server.run(realm)
}
