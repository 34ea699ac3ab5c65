//! The clients of tests/systems/lifecycle.toml; what each does depends on its name:
//! - `alpha`: a parent grant then its revocation; one of its two connections revoked by
//!   the service while the other goes on;
//! - `beta`: a call in progress when the service crashes; reconnecting to the restarted
//!   service; a second crash past the restart limit;
//! - `gamma`: opens connections until its quota says no, and the old one still works;
//! - `omega`: at echo's priority, a call in progress when echo crashes: "restarting";
//! - `delta`: a call in progress when its service exits; then 1000 connect/disconnect
//!   cycles, with the memory manager's free RAM and slots before and after;
//! - `hasty` and `steady` (tests/systems/priority-inversion.toml): each is granted echo by
//!   its parent at run time and makes one call; hasty runs above echo, steady below. hasty
//!   runs first, before echo has registered, so it serves `hasty` and makes its call when
//!   steady (which runs once echo is serving) calls it.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::{CallError, Connection, Realm, println};
use test_protocols::{CRASH, KeeperRequest, KeeperResponse, QUIT, name};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let me = realm.name().expect("the memory manager knows this realm's name");
    match me.as_str() {
        "alpha" => alpha(realm),
        "beta" => beta(realm),
        "gamma" => gamma(realm),
        "delta" => delta(realm),
        "omega" => omega(realm),
        "hasty" => hasty(realm),
        "steady" => steady(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

fn keeper(realm: &mut Realm, request: KeeperRequest) -> Result<KeeperResponse, CallError> {
    let keeper = realm.connect_raw("keeper").expect("a child reaches its parent's keeper");
    let response = realm.call(&keeper, &request);
    let _ = realm.disconnect(keeper);
    response
}

fn grant(realm: &mut Realm, child: &str) {
    let request = KeeperRequest::Grant { child: name(child), service: name("echo") };
    assert_eq!(keeper(realm, request), Ok(KeeperResponse::Done), "init grants {child} echo");
}

fn echo(realm: &mut Realm, connection: &Connection, value: u64) -> Result<u64, CallError> {
    realm.call(connection, &value)
}

/// Asks the parent for a grant of echo, connects and makes one call; echo's answer, or 0.
fn granted_call(realm: &mut Realm, me: &str) -> u64 {
    grant(realm, me);
    let connection = connect_when_back(realm, "echo");
    let answer = echo(realm, &connection, 7);
    println!(realm, "echo answers {answer:?}");
    let _ = realm.disconnect(connection);
    answer.unwrap_or(0)
}

fn hasty(realm: &mut Realm) {
    let service = realm.register("hasty").expect("registering hasty");
    realm.serve(&service, |realm, _caller, _value: u64| granted_call(realm, "hasty"))
}

fn steady(realm: &mut Realm) {
    let hasty = realm.connect_raw("hasty").expect("granted in the system description");
    let answer: Result<u64, CallError> = realm.call(&hasty, &0u64);
    println!(realm, "hasty answers {answer:?}");
    granted_call(realm, "steady");
}

fn alpha(realm: &mut Realm) {
    grant(realm, "alpha");
    let echo_connection = connect_when_back(realm, "echo");
    println!(realm, "echo answers {:?}", echo(realm, &echo_connection, 1));
    let revoke = KeeperRequest::Revoke { child: name("alpha"), service: name("echo") };
    assert_eq!(keeper(realm, revoke), Ok(KeeperResponse::Done));
    match echo(realm, &echo_connection, 2) {
        Ok(value) => println!(realm, "echo still answers after the revoke: {value} WRONG"),
        Err(error) => println!(realm, "echo after the grant was revoked: {error}"),
    }

    let first = realm.connect_raw("keeper").expect("connecting to keeper");
    let second = realm.connect_raw("keeper").expect("connecting to keeper again");
    let kicked: Result<KeeperResponse, _> = realm.call(&first, &KeeperRequest::Kick);
    println!(realm, "asked keeper to close its first connection: {kicked:?}");
    match realm.call::<_, KeeperResponse>(&first, &KeeperRequest::Kick) {
        Ok(response) => println!(realm, "first connection still works: {response:?} WRONG"),
        Err(error) => println!(realm, "first connection: {error}"),
    }
    let grant_again = KeeperRequest::Grant { child: name("alpha"), service: name("echo") };
    match realm.call::<_, KeeperResponse>(&second, &grant_again) {
        Ok(response) => println!(realm, "second connection still works: {response:?}"),
        Err(error) => println!(realm, "second connection: {error} WRONG"),
    }
}

fn beta(realm: &mut Realm) {
    grant(realm, "beta");
    let first = connect_when_back(realm, "echo");
    println!(realm, "echo answers {:?}", echo(realm, &first, 5));
    match echo(realm, &first, CRASH) {
        Ok(value) => println!(realm, "the crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress when echo crashed: {error}"),
    }
    // echo is restarted after a back-off delay: wait for it.
    let second = connect_when_back(realm, "echo");
    println!(realm, "reconnected: echo answers {:?}", echo(realm, &second, 5));
    match echo(realm, &second, CRASH) {
        Ok(value) => println!(realm, "the second crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress at the second crash: {error}"),
    }
    match realm.connect_raw("echo") {
        Ok(_) => println!(realm, "echo is back after its last restart WRONG"),
        Err(error) => println!(realm, "connect after the restart limit: {error}"),
    }
}

/// Runs at echo's priority, so that when echo crashes under its call it runs again before
/// the restarted echo has registered: it hears that echo is restarting.
fn omega(realm: &mut Realm) {
    grant(realm, "omega");
    let connection = loop {
        match realm.connect_raw("echo") {
            Ok(connection) => break connection,
            // echo has not registered yet: let it run (same priority).
            Err(_) => realm_runtime::sel4::ipc::yield_now(),
        }
    };
    match echo(realm, &connection, CRASH) {
        Ok(value) => println!(realm, "the crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress when echo crashed: {error}"),
    }
}

fn gamma(realm: &mut Realm) {
    let mut open: heapless::Vec<Connection, 8> = heapless::Vec::new();
    let refusal = loop {
        match realm.connect_raw("keeper") {
            Ok(connection) => {
                if open.push(connection).is_err() {
                    break None;
                }
            }
            Err(error) => break Some(error),
        }
    };
    match refusal {
        Some(error) => println!(realm, "connection {} refused: {error}", open.len() + 1),
        None => println!(realm, "opened {} connections without a refusal WRONG", open.len()),
    }
    // A request whose answer does not depend on the other realms: granting gamma its
    // parent's own service is always allowed (echo, say, may be gone for good by now, and a
    // grant of it refused).
    let grant_request = KeeperRequest::Grant { child: name("gamma"), service: name("keeper") };
    let still = realm.call::<_, KeeperResponse>(&open[0], &grant_request);
    println!(realm, "its first connection still works: {still:?}");
}

fn delta(realm: &mut Realm) {
    let once = realm.connect_raw("once").expect("delta is granted once");
    match echo(realm, &once, QUIT) {
        Ok(value) => {
            println!(realm, "the call to the exiting service returned {value} WRONG")
        }
        Err(error) => println!(realm, "the call in progress when once exited: {error}"),
    }
    // Other realms start, crash and restart meanwhile (echo's restarts wait for back-off
    // delays), which moves the memory manager's free RAM and slots too: a round during which
    // that happened says nothing, so up to three rounds are made. A leak of the cycles would
    // show in every one.
    let (mut before, mut after) = ((0, 0), (1, 1));
    for _ in 0..3 {
        before = realm.resources().expect("asking for resources");
        for _ in 0..1000 {
            let connection = realm.connect_raw("keeper").expect("connecting");
            realm.disconnect(connection).expect("disconnecting");
        }
        after = realm.resources().expect("asking for resources");
        if before == after {
            break;
        }
    }
    let verdict = if before == after { "the same" } else { "DIFFERENT" };
    println!(
        realm,
        "1000 connect/disconnect cycles: free RAM {} -> {} bytes, free slots {} -> {}: {verdict}",
        before.0,
        after.0,
        before.1,
        after.1
    );
}

/// Connects to `service`, waiting while it may come back (it is restarting after a back-off
/// delay, or not registered yet).
fn connect_when_back(realm: &mut Realm, service: &str) -> Connection {
    loop {
        match realm.connect_raw(service) {
            Ok(connection) => return connection,
            Err(realm_runtime::Error::Refused(error)) if error.may_succeed_later() => {
                let _ = realm.sleep(core::time::Duration::from_millis(5));
            }
            Err(error) => panic!("connecting to {service}: {error}"),
        }
    }
}
