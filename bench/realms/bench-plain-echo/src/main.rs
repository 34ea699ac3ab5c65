//! Benchmark server `plain-echo`: answers with what it was sent, through `realm-runtime`'s
//! `serve_plain` (plain-data values: their bytes as they are, no serialisation).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::Realm;

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let service = realm.register("plain-echo").expect("registering plain-echo");
    realm.serve_plain(&service, |_realm, _caller, payload: [u64; 8]| payload)
}
