//! Demo realm `kv`: a small key-value store served as `kv`, which logs every operation
//! through the `log` service.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::fmt::Write;

use demo_protocols::{KvRequest, KvResponse, LogLine, Text};
use heapless::index_map::FnvIndexMap;
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let log = realm.connect_raw("log").expect("connecting to log");
    let service = realm.register("kv").expect("registering kv");
    println!(realm, "serving \"kv\", logging to \"log\"");
    let mut store: FnvIndexMap<Text, Text, 16> = FnvIndexMap::new();
    realm.serve(&service, move |realm, _caller, request: KvRequest| {
        let mut line = Text::new();
        let response = match request {
            KvRequest::Put { key, value } => {
                let _ = write!(line, "put {key} = {value}");
                match store.insert(key, value) {
                    Ok(_) => KvResponse::Stored,
                    Err(_) => KvResponse::Full,
                }
            }
            KvRequest::Get { key } => {
                let _ = write!(line, "get {key}");
                match store.get(&key) {
                    Some(value) => KvResponse::Found(value.clone()),
                    None => KvResponse::Missing,
                }
            }
        };
        if let Err(error) = realm.call::<_, ()>(&log, &LogLine(line)) {
            println!(realm, "cannot log: {error}");
        }
        response
    })
}
