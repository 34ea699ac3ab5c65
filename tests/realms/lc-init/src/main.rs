//! Test realm `init` of tests/systems/lifecycle.toml (and promises.toml,
//! priority-inversion.toml): serves `keeper` (`test_protocols::Keeper`), through which its
//! children ask it to grant or revoke services, or to close their own connection.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Call, Error, Realm, Server, println};
use test_protocols::{Keeper, KeeperServer, Name, Refused};

realm_runtime::main!(main);

/// The keeper keeps nothing: each request is one request to the broker.
struct Init;

/// Prints what came of `what` and answers the child.
fn report(
    call: &mut Call<'_>,
    what: core::fmt::Arguments<'_>,
    done: Result<(), Error>,
) -> Result<(), Refused> {
    match done {
        Ok(()) => {
            println!(call, "{what}: done");
            Ok(())
        }
        Err(error) => {
            println!(call, "{what}: {error}");
            Err(Refused)
        }
    }
}

impl KeeperServer for Init {
    fn grant(&mut self, call: &mut Call<'_>, child: Name, service: Name) -> Result<(), Refused> {
        let done = call.grant(&child, &service);
        report(call, format_args!("grant {child} {service}"), done)
    }

    fn revoke(&mut self, call: &mut Call<'_>, child: Name, service: Name) -> Result<(), Refused> {
        let done = call.revoke_grant(&child, &service);
        report(call, format_args!("revoke {child}'s {service}"), done)
    }

    fn kick(&mut self, call: &mut Call<'_>) -> Result<(), Refused> {
        let caller = call.caller();
        let done = call.close(caller);
        report(call, format_args!("kick connection {:?}", caller.connection), done)
    }
}

fn main(realm: &mut Realm) {
    let server = Server::new(Init).serve::<Keeper>(realm, "keeper").expect("registering keeper");
    server.run(realm)
}
