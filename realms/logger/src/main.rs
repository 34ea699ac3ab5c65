//! Demo realm `logger`: serves `log` (the interface `demo_protocols::Log`), printing each
//! line with the name of the realm that sent it, which it learns from the connection's
//! badge, not from the message.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use demo_protocols::{Log, LogServer, Text};
use realm_runtime::ipc::ServiceIndex;
use realm_runtime::{Call, Realm, Server, println};

realm_runtime::main!(main);

/// The logger keeps no state: each line is printed as it comes.
struct Logger;

impl LogServer for Logger {
    fn line(&mut self, call: &mut Call<'_>, line: Text) {
        let caller = call.caller();
        match call.peer(caller) {
            Ok(client) => println!(call, "{client}: {line}"),
            Err(error) => println!(call, "({error}): {line}"),
        }
    }
}

fn main(realm: &mut Realm) {
    let server = Server::new(Logger).serve::<Log>(realm, "log").expect("registering log");
    println!(realm, "serving \"log\" (generation {})", server.generation(ServiceIndex::FIRST));
    server.run(realm)
}
