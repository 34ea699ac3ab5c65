//! The clients of tests/systems/promises.toml; what each does depends on its name:
//! - `kay`: what connect answers in each situation (not registered yet, restarting, gone,
//!   declared nowhere); grants that could never be used, refused; three stale handles, one
//!   for each closure it did not choose (closed by the service, grant revoked, service gone),
//!   then 1,100 connect/disconnect cycles and a new connection: it must not get a stale
//!   handle's slot, and calls through the stale handles must fail; the slots they reserve
//!   count against its quota until it lets go of them;
//! - `zed` and `zoe`: may not reach "late"; `zed` asks before it is registered, `zoe` after.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::ipc;
use realm_runtime::{CallError, Connection, Error, Realm, println};
use test_protocols::{CRASH, Echo, Keeper, KeeperClient, QUIT, Refused, name};

realm_runtime::main!(main);

/// Connect/disconnect cycles: more than the broker's 1024 connection table entries.
const CYCLES: usize = 1100;

fn main(realm: &mut Realm) {
    let me = realm.name().expect("the memory manager knows this realm's name");
    match me.as_str() {
        "kay" => kay(realm),
        "zed" | "zoe" => match realm.connect::<Echo>("late") {
            Ok(_) => println!(realm, "connect \"late\": connected WRONG"),
            Err(error) => println!(realm, "connect \"late\": {error}"),
        },
        _ => println!(realm, "has no part in this test"),
    }
}

/// One request to the parent's keeper, on a connection of its own.
fn keeper(
    realm: &mut Realm,
    request: impl FnOnce(&mut KeeperClient, &mut Realm) -> Result<Result<(), Refused>, CallError>,
) -> Result<Result<(), Refused>, CallError> {
    let mut keeper =
        realm.connect::<Keeper>("keeper").expect("a child reaches its parent's keeper");
    let response = request(&mut keeper, realm);
    let _ = realm.disconnect(keeper);
    response
}

/// Whether the broker said that the same connect may succeed later.
fn error_may_succeed_later(error: &Error) -> bool {
    matches!(error, Error::Refused(refused) if refused.may_succeed_later())
}

/// Prints what connecting to `service` (an `Echo`) answers now.
fn try_connect(realm: &mut Realm, what: &str, service: &str) {
    match realm.connect::<Echo>(service) {
        Ok(echo) => {
            println!(realm, "{what}: connected WRONG");
            let _ = realm.disconnect(echo);
        }
        Err(error) => {
            let retry = if error_may_succeed_later(&error) { "retry" } else { "do not retry" };
            println!(realm, "{what}: {error} ({retry})")
        }
    }
}

fn kay(realm: &mut Realm) {
    stale_handles(realm);
    refused_grants(realm);
    connect_answers(realm);
}

/// Not registered yet, restarting, gone (after max_restarts), declared nowhere.
fn connect_answers(realm: &mut Realm) {
    try_connect(realm, "connect \"later\" (its provider runs, has not registered it)", "later");
    // Crash phoenix until it is gone for good. Right after a crash this realm, at phoenix's
    // priority, runs before the restarted phoenix has registered: it hears "restarting"
    // (should the restarted phoenix ever win that race, the next crash tries again).
    let mut heard_restarting = false;
    loop {
        match realm.connect::<Echo>("phoenix") {
            Ok(mut phoenix) => {
                let _ = phoenix.echo(realm, CRASH);
                let _ = realm.disconnect(phoenix);
                if heard_restarting {
                    continue;
                }
                match realm.connect::<Echo>("phoenix") {
                    Ok(again) => {
                        let _ = realm.disconnect(again);
                    }
                    Err(error) => {
                        let restarting = Error::Refused(ipc::Error::ServiceRestarting);
                        if error == restarting {
                            heard_restarting = true;
                            println!(
                                realm,
                                "connect \"phoenix\" while it restarts: {error} (retry)"
                            );
                        }
                    }
                }
            }
            Err(error) if error_may_succeed_later(&error) => realm_runtime::sel4::ipc::yield_now(),
            Err(error) => {
                let retry = if error_may_succeed_later(&error) { "retry" } else { "do not retry" };
                println!(realm, "connect \"phoenix\" after its restart limit: {error} ({retry})");
                break;
            }
        }
    }
    try_connect(realm, "connect \"nowhere\" (declared nowhere)", "nowhere");
}

/// Grants init could make but that could never be used: init cannot reach "bee" itself, and
/// "echo" does not accept zed.
fn refused_grants(realm: &mut Realm) {
    for service in ["bee", "echo"] {
        match keeper(realm, |keeper, realm| keeper.grant(realm, name("zed"), name(service))) {
            Ok(Err(Refused)) => {
                println!(realm, "init's grant of {service} to zed: refused")
            }
            other => println!(realm, "init's grant of {service} to zed: {other:?} WRONG"),
        }
    }
}

/// A call that should fail: its error as a sentence.
fn describe<T: core::fmt::Debug>(result: Result<T, CallError>) -> heapless::String<160> {
    let mut text = heapless::String::new();
    let _ = match result {
        Ok(value) => core::fmt::write(&mut text, format_args!("answered {value:?} WRONG")),
        Err(error) => core::fmt::write(&mut text, format_args!("{error}")),
    };
    text
}

/// A call that should succeed: its answer.
fn answer<T: core::fmt::Debug>(result: Result<T, CallError>) -> heapless::String<160> {
    let mut text = heapless::String::new();
    let _ = match result {
        Ok(value) => core::fmt::write(&mut text, format_args!("{value:?}")),
        Err(error) => core::fmt::write(&mut text, format_args!("{error} WRONG")),
    };
    text
}

fn slot(connection: &Connection) -> u64 {
    connection.endpoint().cptr()
}

fn stale_handles(realm: &mut Realm) {
    // Closed by its service: keeper closes the connection the request came on, and replies.
    let mut kicked = realm.connect::<Keeper>("keeper").expect("connecting to keeper");
    let kick = kicked.kick(realm);
    println!(realm, "asked keeper to close the connection: {}", answer(kick));
    // A grant revoked: init grants echo, then takes it back.
    let granted = keeper(realm, |keeper, realm| keeper.grant(realm, name("kay"), name("echo")));
    assert_eq!(granted, Ok(Ok(())), "init grants kay echo");
    let mut revoked = realm.connect::<Echo>("echo").expect("the granted connect");
    let echoed = revoked.echo(realm, 1);
    println!(realm, "echo answers {}", answer(echoed));
    let revoke = keeper(realm, |keeper, realm| keeper.revoke(realm, name("kay"), name("echo")));
    assert_eq!(revoke, Ok(Ok(())), "init revokes kay's echo");
    // The service gone: once exits under a call on another connection.
    let mut gone = realm.connect::<Echo>("once").expect("kay is granted once");
    let mut quitting = realm.connect::<Echo>("once").expect("kay is granted once");
    let quit = quitting.echo(realm, QUIT);
    println!(realm, "the call when once exited: {}", describe(quit));
    let _ = realm.disconnect(quitting);
    try_connect(realm, "connect \"once\" after it exited", "once");

    let stale_slots = [kicked.connection(), revoked.connection(), gone.connection()].map(slot);
    let mut same_slot = 0;
    for _ in 0..CYCLES {
        let bee = realm.connect::<Echo>("bee").expect("connecting to bee");
        if stale_slots.contains(&slot(bee.connection())) {
            same_slot += 1;
        }
        realm.disconnect(bee).expect("disconnecting from bee");
    }
    let held = realm.connect::<Echo>("bee").expect("connecting to bee");
    if stale_slots.contains(&slot(held.connection())) {
        same_slot += 1;
    }
    let verdict = if same_slot == 0 { "none" } else { "some WRONG" };
    println!(realm, "{CYCLES} cycles, then a new connection: {verdict} in a stale handle's slot");
    let answer = kicked.kick(realm);
    println!(realm, "stale handle (closed by its service): {}", describe(answer));
    let answer = revoked.echo(realm, 7);
    println!(realm, "stale handle (grant revoked): {}", describe(answer));
    let answer = gone.echo(realm, 7);
    println!(realm, "stale handle (service gone): {}", describe(answer));

    // The three stale handles and `held` count against kay's quota of 5.
    let second = realm.connect::<Echo>("bee").expect("a fifth connection");
    match realm.connect::<Echo>("bee") {
        Ok(_) => println!(realm, "a sixth connection while three are reserved: connected WRONG"),
        Err(error) => println!(realm, "a sixth connection while three are reserved: {error}"),
    }
    let stale = [kicked.0.into_connection(), revoked.0.into_connection(), gone.0.into_connection()];
    for connection in stale {
        if let Err(error) = realm.disconnect(connection) {
            println!(realm, "letting go of a stale handle: {error} WRONG");
        }
    }
    match realm.connect::<Echo>("bee") {
        Ok(third) => {
            println!(realm, "after letting go of them: connected");
            let _ = realm.disconnect(third);
        }
        Err(error) => println!(realm, "after letting go of them: {error} WRONG"),
    }
    let _ = realm.disconnect(held);
    let _ = realm.disconnect(second);
}
