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

use realm_runtime::{CallError, Realm, println};
use test_protocols::{
    CRASH, Echo, EchoClient, EchoServer, Keeper, KeeperClient, QUIT, Refused, name,
};

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

fn grant(realm: &mut Realm, child: &str) {
    let granted = keeper(realm, |keeper, realm| keeper.grant(realm, name(child), name("echo")));
    assert_eq!(granted, Ok(Ok(())), "init grants {child} echo");
}

/// Asks the parent for a grant of echo, connects and makes one call; echo's answer, or 0.
fn granted_call(realm: &mut Realm, me: &str) -> u64 {
    grant(realm, me);
    let mut echo = connect_when_back(realm, "echo");
    let answer = echo.echo(realm, 7);
    println!(realm, "echo answers {answer:?}");
    let _ = realm.disconnect(echo);
    answer.unwrap_or(0)
}

/// `hasty` serves the interface `Echo` as "hasty": each call makes it call echo.
struct Hasty;

impl EchoServer for Hasty {
    fn echo(&mut self, call: &mut realm_runtime::Call<'_>, _value: u64) -> u64 {
        granted_call(call, "hasty")
    }
}

fn hasty(realm: &mut Realm) {
    let server =
        realm_runtime::Server::new(Hasty).serve::<Echo>(realm, "hasty").expect("registering hasty");
    server.run(realm)
}

fn steady(realm: &mut Realm) {
    let mut hasty = realm.connect::<Echo>("hasty").expect("granted in the system description");
    let answer = hasty.echo(realm, 0);
    println!(realm, "hasty answers {answer:?}");
    granted_call(realm, "steady");
}

fn alpha(realm: &mut Realm) {
    grant(realm, "alpha");
    let mut echo = connect_when_back(realm, "echo");
    println!(realm, "echo answers {:?}", echo.echo(realm, 1));
    let revoked = keeper(realm, |keeper, realm| keeper.revoke(realm, name("alpha"), name("echo")));
    assert_eq!(revoked, Ok(Ok(())));
    match echo.echo(realm, 2) {
        Ok(value) => println!(realm, "echo still answers after the revoke: {value} WRONG"),
        Err(error) => println!(realm, "echo after the grant was revoked: {error}"),
    }

    let mut first = realm.connect::<Keeper>("keeper").expect("connecting to keeper");
    let mut second = realm.connect::<Keeper>("keeper").expect("connecting to keeper again");
    let kicked = first.kick(realm);
    println!(realm, "asked keeper to close its first connection: {kicked:?}");
    match first.kick(realm) {
        Ok(response) => println!(realm, "first connection still works: {response:?} WRONG"),
        Err(error) => println!(realm, "first connection: {error}"),
    }
    match second.grant(realm, name("alpha"), name("echo")) {
        Ok(response) => println!(realm, "second connection still works: {response:?}"),
        Err(error) => println!(realm, "second connection: {error} WRONG"),
    }
}

fn beta(realm: &mut Realm) {
    grant(realm, "beta");
    let mut first = connect_when_back(realm, "echo");
    println!(realm, "echo answers {:?}", first.echo(realm, 5));
    // `echo` is not idempotent: the failed call is not made again, the error is returned.
    match first.echo(realm, CRASH) {
        Ok(value) => println!(realm, "the crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress when echo crashed: {error}"),
    }
    // echo is restarted after a back-off delay: wait for it.
    let mut second = connect_when_back(realm, "echo");
    println!(realm, "reconnected: echo answers {:?}", second.echo(realm, 5));
    match second.echo(realm, CRASH) {
        Ok(value) => println!(realm, "the second crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress at the second crash: {error}"),
    }
    match realm.connect::<Echo>("echo") {
        Ok(_) => println!(realm, "echo is back after its last restart WRONG"),
        Err(error) => println!(realm, "connect after the restart limit: {error}"),
    }
}

/// Runs at echo's priority, so that when echo crashes under its call it runs again before
/// the restarted echo has registered: it hears that echo is restarting.
fn omega(realm: &mut Realm) {
    grant(realm, "omega");
    let mut echo = loop {
        match realm.connect::<Echo>("echo") {
            Ok(echo) => break echo,
            // echo has not registered yet: let it run (same priority).
            Err(_) => realm_runtime::sel4::ipc::yield_now(),
        }
    };
    match echo.echo(realm, CRASH) {
        Ok(value) => println!(realm, "the crashing call returned {value} WRONG"),
        Err(error) => println!(realm, "the call in progress when echo crashed: {error}"),
    }
}

fn gamma(realm: &mut Realm) {
    let mut open: heapless::Vec<KeeperClient, 8> = heapless::Vec::new();
    let refusal = loop {
        match realm.connect::<Keeper>("keeper") {
            Ok(keeper) => {
                if open.push(keeper).is_err() {
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
    let still = open[0].grant(realm, name("gamma"), name("keeper"));
    println!(realm, "its first connection still works: {still:?}");
}

fn delta(realm: &mut Realm) {
    let mut once = realm.connect::<Echo>("once").expect("delta is granted once");
    match once.echo(realm, QUIT) {
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
            let keeper = realm.connect::<Keeper>("keeper").expect("connecting");
            realm.disconnect(keeper).expect("disconnecting");
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

/// Connects to `service` (an `Echo`), waiting while it may come back (it is restarting after
/// a back-off delay, or not registered yet).
fn connect_when_back(realm: &mut Realm, service: &str) -> EchoClient {
    loop {
        match realm.connect::<Echo>(service) {
            Ok(echo) => return echo,
            Err(realm_runtime::Error::Refused(error)) if error.may_succeed_later() => {
                let _ = realm.sleep(core::time::Duration::from_millis(5));
            }
            Err(error) => panic!("connecting to {service}: {error}"),
        }
    }
}
