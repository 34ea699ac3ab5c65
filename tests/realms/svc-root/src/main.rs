//! Test realm `init` of tests/systems/services.toml: serves `desk` (`test_protocols::Desk`),
//! through which its children ask it to grant them services (a parent grant at run time).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Call, Realm, Server, println};
use test_protocols::{Desk, DeskServer, Name, Refused};

realm_runtime::main!(main);

struct Init;

impl DeskServer for Init {
    fn grant(&mut self, call: &mut Call<'_>, service: Name) -> Result<(), Refused> {
        // The child is the realm on the other end of the connection, not a name it sends.
        let caller = call.caller();
        let Ok(child) = call.peer(caller) else {
            println!(call, "cannot tell who asks for \"{service}\"");
            return Err(Refused);
        };
        match call.grant(child.as_str(), &service) {
            Ok(()) => {
                println!(call, "granted {child} access to \"{service}\"");
                Ok(())
            }
            Err(error) => {
                println!(call, "cannot grant {child} \"{service}\": {error}");
                Err(Refused)
            }
        }
    }
}

fn main(realm: &mut Realm) {
    let server = Server::new(Init).serve::<Desk>(realm, "desk").expect("registering desk");
    println!(realm, "serving \"desk\"");
    server.run(realm)
}
