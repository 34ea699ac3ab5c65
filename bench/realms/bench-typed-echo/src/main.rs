//! Benchmark server `echo`: answers with what it was sent, through `realm-runtime`'s typed
//! `serve` (postcard decoding and encoding on each request).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::Realm;

realm_runtime::main!(main);

/// The payloads the benchmark sends.
#[derive(serde::Serialize, serde::Deserialize)]
enum Payload {
    Small(u64),
    Large([u64; 8]),
}

fn main(realm: &mut Realm) {
    let service = realm.register("echo").expect("registering echo");
    realm.serve(&service, |_realm, _caller, payload: Payload| payload)
}
