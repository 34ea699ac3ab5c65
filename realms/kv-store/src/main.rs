//! Demo realm `kv`: a small key-value store served as `kv` (the interface
//! `demo_protocols::Kv`), which logs every operation through the `log` service.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::fmt::Write;

use demo_protocols::{Kv, KvError, KvServer, Log, LogClient, Text};
use heapless::index_map::FnvIndexMap;
use realm_runtime::{Call, Realm, Server, println};

realm_runtime::main!(main);

/// The store, and its connection to the logger.
struct Store {
    entries: FnvIndexMap<Text, Text, 16>,
    log: LogClient,
}

impl Store {
    /// Logs `line`; a logger that cannot be reached costs a line on the console, not the
    /// operation.
    fn log(&mut self, call: &mut Call<'_>, line: Text) {
        if let Err(error) = self.log.line(call, line) {
            println!(call, "cannot log: {error}");
        }
    }
}

impl KvServer for Store {
    fn get(&mut self, call: &mut Call<'_>, key: Text) -> Result<Text, KvError> {
        let mut line = Text::new();
        let _ = write!(line, "get {key}");
        let value = self.entries.get(&key).cloned().ok_or(KvError::Missing);
        self.log(call, line);
        value
    }

    fn put(&mut self, call: &mut Call<'_>, key: Text, value: Text) -> Result<(), KvError> {
        let mut line = Text::new();
        let _ = write!(line, "put {key} = {value}");
        let stored = self.entries.insert(key, value).map(|_| ()).map_err(|_| KvError::Full);
        self.log(call, line);
        stored
    }
}

fn main(realm: &mut Realm) {
    let log = realm.connect::<Log>("log").expect("connecting to log");
    let store = Store { entries: FnvIndexMap::new(), log };
    let server = Server::new(store).serve::<Kv>(realm, "kv").expect("registering kv");
    println!(realm, "serving \"kv\", logging to \"log\"");
    server.run(realm)
}
