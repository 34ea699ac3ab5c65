//! Demo realm `logger`: serves `log`, printing each line with the name of the realm that
//! sent it (which it learns from the connection's badge, not from the message).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::LogLine;
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let service = realm.register("log").expect("registering log");
    println!(realm, "serving \"log\" (generation {})", service.generation);
    realm.serve(&service, |realm, caller, LogLine(line): LogLine| match realm.peer(caller) {
        Ok(client) => println!(realm, "{client}: {line}"),
        Err(error) => println!(realm, "({error}): {line}"),
    })
}
