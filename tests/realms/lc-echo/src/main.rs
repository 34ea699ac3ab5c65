//! Test realms `echo`, `once` and the other servers of `test_protocols::Echo`: each serves a
//! service named after itself, answering `generation * 1000 + value`; the value `CRASH`
//! makes it read an unmapped address, and `QUIT` makes it exit, while its client waits for
//! the answer.
#![no_std]
#![no_main]

use realm_runtime::ipc::ServiceIndex;
use realm_runtime::{Call, Realm, Server, println};
use test_protocols::{CRASH, Echo, EchoServer, QUIT};

realm_runtime::main!(main);

/// Below the program window: mapped in no realm (see `ipc::abi`).
const UNMAPPED: usize = 0x1000;

/// The service's generation, part of every answer.
struct Echoes {
    generation: u64,
}

impl EchoServer for Echoes {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        if value == QUIT {
            println!(call, "exiting while a client waits");
            call.exit();
        }
        if value == CRASH {
            println!(call, "crashing while a client waits");
            let pointer = core::hint::black_box(UNMAPPED) as *const u64;
            // SAFETY: deliberately unsound: the read faults, which is what this test needs.
            return unsafe { core::ptr::read_volatile(pointer) };
        }
        self.generation * 1000 + value
    }
}

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    let mut server = Server::new(Echoes { generation: 0 })
        .serve::<Echo>(realm, name.as_str())
        .expect("registering its service");
    let generation = u64::from(server.generation(ServiceIndex::FIRST));
    server.state().generation = generation;
    println!(realm, "serving \"{name}\", generation {generation}");
    server.run(realm)
}
