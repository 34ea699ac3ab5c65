//! Test realm `init` of tests/systems/lifecycle.toml: serves `keeper`, through which its
//! children ask it to grant or revoke services, or to close their own connection.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{Realm, println};
use test_protocols::{KeeperRequest, KeeperResponse};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let keeper = realm.register("keeper").expect("registering keeper");
    realm.serve(&keeper, |realm, caller, request: KeeperRequest| {
        let done = match &request {
            KeeperRequest::Grant { child, service } => realm.grant(child, service),
            KeeperRequest::Revoke { child, service } => realm.revoke_grant(child, service),
            KeeperRequest::Kick => realm.close(caller),
        };
        match done {
            Ok(()) => {
                println!(realm, "{request:?}: done");
                KeeperResponse::Done
            }
            Err(error) => {
                println!(realm, "{request:?}: {error}");
                KeeperResponse::Refused
            }
        }
    })
}
