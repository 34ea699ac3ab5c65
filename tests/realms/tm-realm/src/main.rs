//! Test realms for time (tests/time.rs, tests/systems/time.toml), by name:
//!
//! - `stuck` serves "stuck": a request of 0 is never answered (the realm sleeps 200 ms, then
//!   panics, and is restarted); any other value v is answered 1000 + v.
//! - `hole` serves "hole" and answers nothing, ever: it takes each request and waits for the
//!   next, which makes seL4 drop the reply capability of the one before.
//! - `client`: a call to `stuck` with a 50 ms deadline times out (prints the time it took);
//!   a call to `echo` then works; once `stuck` is back it reconnects and its call works; then
//!   1,000 calls to `hole` with a 1 ms deadline all time out and leave the memory manager's
//!   free RAM and slots as they were; then 100 sleeps of 10 ms, timed.
//! - `lagger` serves "lagger": it answers 1000 + v after sleeping 0 to 2 ms (chosen by v),
//!   so its replies land around its clients' deadlines.
//! - `racer` makes 500 calls to `lagger` with deadlines of 0.5 to 2.5 ms, then 100 plain
//!   calls, and checks that every answer it gets is the one for its own request: a reply
//!   that comes after its call timed out must never reach a later call.
//! - `crashy` registers "crashy" and panics at once, every time (it is restartable).
//! - `counter` counts in a loop for 3 s of the realm clock, below `crashy`'s priority, and
//!   prints its count every 250 ms: it goes on while `crashy` waits to be restarted.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::time::Duration;

use realm_runtime::{Call, CallError, Realm, Server, println};
use test_protocols::{Echo, EchoServer};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "stuck" => stuck(realm),
        "hole" => hole(realm),
        "client" => client(realm),
        "crashy" => {
            let _service = realm.register("crashy");
            panic!("crashy crashes right after registering");
        }
        "counter" => counter(realm),
        "lagger" => lagger(realm),
        "racer" => racer(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

/// `stuck`'s answers (see the module doc).
struct Stuck;

impl EchoServer for Stuck {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        if value == 0 {
            let _ = call.sleep(Duration::from_millis(200));
            panic!("stuck gives up on a request it never answered");
        }
        1000 + value
    }
}

fn stuck(realm: &mut Realm) {
    let server = Server::new(Stuck).serve::<Echo>(realm, "stuck").expect("registering stuck");
    server.run(realm)
}

/// Raw seL4 on purpose: a service that never replies, which no `Server` is (it answers every
/// request). Its clients call it as an `Echo`.
fn hole(realm: &mut Realm) {
    let service = realm.register("hole").expect("registering hole");
    realm.announce_serving();
    loop {
        // Each receive drops the reply capability of the request before: nobody is answered.
        service.endpoint().recv(realm.ipc_buffer());
    }
}

fn client(realm: &mut Realm) {
    // Give the services time to register.
    let _ = realm.sleep(Duration::from_millis(20));
    let (Ok(mut stuck), Ok(mut echo), Ok(mut hole)) = (
        realm.connect::<Echo>("stuck"),
        realm.connect::<Echo>("echo"),
        realm.connect::<Echo>("hole"),
    ) else {
        return println!(realm, "cannot connect");
    };
    let start = realm.now();
    let answer = realm.with_deadline(Duration::from_millis(50), |realm| stuck.echo(realm, 0));
    let took = realm.now().saturating_duration_since(start);
    println!(realm, "stuck with a 50 ms deadline: {answer:?} after {} us", took.as_micros());
    println!(realm, "echo then: {:?}", echo.echo(realm, 5));
    // Five more 50 ms deadlines, on hole: their median says how precise a deadline is
    // (one measurement under emulation can be late when the host is busy).
    for _ in 0..5 {
        let start = realm.now();
        let answer = realm.with_deadline(Duration::from_millis(50), |realm| hole.echo(realm, 0));
        let took = realm.now().saturating_duration_since(start);
        println!(realm, "hole with a 50 ms deadline: {answer:?} after {} us", took.as_micros());
    }
    // stuck panics 200 ms after it took the request, and is restarted. `echo` is not
    // idempotent: the call on the old connection fails, and the client connects again.
    let _ = realm.sleep(Duration::from_millis(400));
    let mut stuck = match stuck.echo(realm, 7) {
        Ok(answer) => return println!(realm, "the old connection still answered {answer}"),
        Err(error) => {
            println!(realm, "the old connection: {error}");
            match realm.connect::<Echo>("stuck") {
                Ok(stuck) => stuck,
                Err(error) => return println!(realm, "reconnecting to stuck: {error}"),
            }
        }
    };
    let answer = realm.with_deadline(Duration::from_secs(1), |realm| stuck.echo(realm, 7));
    println!(realm, "stuck after its restart: {answer:?}");

    let before = realm.resources();
    let timed_out = (0..1000)
        .filter(|_| {
            realm.with_deadline(Duration::from_millis(1), |realm| hole.echo(realm, 1))
                == Err(CallError::TimedOut)
        })
        .count();
    let after = realm.resources();
    let same = if before.is_ok() && before == after { "the same" } else { "different" };
    println!(realm, "{timed_out} of 1000 calls to hole timed out; resources {same}");

    let start = realm.now();
    for _ in 0..100 {
        let _ = realm.sleep(Duration::from_millis(10));
    }
    let took = realm.now().saturating_duration_since(start);
    println!(realm, "100 sleeps of 10 ms took {} ms", took.as_millis());
}

fn counter(realm: &mut Realm) {
    let start = realm.now();
    let mut count: u64 = 0;
    let mut next_report = Duration::from_millis(250);
    loop {
        count += 1;
        let elapsed = realm.now().saturating_duration_since(start);
        if elapsed >= next_report {
            println!(realm, "count {count} at {} ms", elapsed.as_millis());
            next_report += Duration::from_millis(250);
        }
        if elapsed >= Duration::from_secs(3) {
            break;
        }
    }
}

/// `lagger`'s answers (see the module doc).
struct Lagger;

impl EchoServer for Lagger {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        let _ = call.sleep(Duration::from_micros(value * 613 % 2500));
        1000 + value
    }
}

fn lagger(realm: &mut Realm) {
    let server = Server::new(Lagger).serve::<Echo>(realm, "lagger").expect("registering lagger");
    server.run(realm)
}

fn racer(realm: &mut Realm) {
    let _ = realm.sleep(Duration::from_millis(20));
    let Ok(mut lagger) = realm.connect::<Echo>("lagger") else {
        return println!(realm, "cannot connect to lagger");
    };
    let (mut ok, mut timed_out, mut wrong, mut other) = (0, 0, 0, 0);
    for value in 0..500u64 {
        let deadline = Duration::from_micros(500 + value * 7919 % 2000);
        match realm.with_deadline(deadline, |realm| lagger.echo(realm, value)) {
            Ok(answer) if answer == 1000 + value => ok += 1,
            Ok(_) => wrong += 1,
            Err(CallError::TimedOut) => timed_out += 1,
            Err(_) => other += 1,
        }
    }
    for value in 500..600u64 {
        match lagger.echo(realm, value) {
            Ok(answer) if answer == 1000 + value => ok += 1,
            Ok(_) => wrong += 1,
            Err(_) => other += 1,
        }
    }
    println!(realm, "racer: {ok} ok, {timed_out} timed out, {wrong} wrong, {other} other");
}
