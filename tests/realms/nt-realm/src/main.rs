//! Test realms for a realm's notification, its timed signals and its CNode slot
//! (tests/notifications.rs, tests/systems/notifications.toml), by name:
//!
//! - `bystander` (the root, highest priority) serves "bystander" and, once `flooder` calls
//!   it, takes 20 timed signals of 20 ms in a row, one wake-up each, while `flooder` floods
//!   the memory manager: it prints how late they came, and when it ran.
//! - `ticker` serves "ticker" with a raw receive loop (a value v is answered v + 1, label
//!   `OK`): a timed signal before binding is refused; binding twice is fine; a 20 ms signal
//!   arrives on the receive, as badge kind 5 with the TIMER bit, label 0 and no words, while
//!   it answers `caller`'s calls (it waits for the first before it asks); five signals that fall due before one receive are one
//!   wake-up; a new request replaces the one pending (both ways); after `reply_recv` a
//!   signal comes with the info and words the thread passed for its reply.
//! - `caller` calls `ticker` 200 times, a quarter of a millisecond apart, and checks every
//!   answer.
//! - `intruder` uses its CNode cap (`slot::CNODE`) against the broker: it parks a copy of
//!   its broker cap in a deferred-reply slot, moves a connection's cap elsewhere (the broker's
//!   disconnect still revokes it), fills the slots the broker fills next (the broker's
//!   connect still works), deletes a connection's cap (disconnect and connect again still
//!   work), and moves its own service's endpoint cap away (its removal at exit still takes
//!   it); the parked broker cap is still there at the end.
//! - `flooder` binds, calls `bystander`, then asks for a 5 ms signal as fast as it can for
//!   600 ms (each request replacing the one before): one wake-up follows, and absurd durations are refused
//!   without touching the pending signal.
//! - `phoenix` (restartable) dies with a timed signal pending; its second run binds a new
//!   notification, waits past the old deadline, and its first signal is its own.
//! - `cramped` fills the memory manager's slots for its objects with pages, then asks for a
//!   notification: refused, with the limit it hit.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::time::Duration;

use realm_runtime::ipc::abi::notification::TIMER;
use realm_runtime::ipc::abi::{label, slot};
use realm_runtime::ipc::{Badge, BadgeKind};
use realm_runtime::sel4::cap::{CNode, Endpoint, Rights};
use realm_runtime::service::Connection;
use realm_runtime::time::Instant;
use realm_runtime::{Realm, ipc, println, sel4};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "bystander" => bystander(realm),
        "ticker" => ticker(realm),
        "caller" => caller(realm),
        "intruder" => intruder(realm),
        "flooder" => flooder(realm),
        "phoenix" => phoenix(realm),
        "cramped" => cramped(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

/// What woke a receive loop: a signal (its bits, and the label and word count the receive
/// returned with it).
struct Signal {
    bits: u32,
    label: u64,
    words: usize,
}

/// Receives on `endpoint` until a signal comes, answering every call meanwhile (v -> v + 1,
/// label `OK`); counts the calls answered in `served`.
fn serve_until_signal(realm: &mut Realm, endpoint: Endpoint, served: &mut u64) -> Signal {
    loop {
        let received = endpoint.recv(realm.ipc_buffer());
        match Badge::decode(received.badge) {
            Ok(BadgeKind::Notification { bits }) => {
                return Signal {
                    bits,
                    label: received.info.label(),
                    words: received.info.length(),
                };
            }
            Ok(BadgeKind::Connection { .. }) => {
                let ipc = realm.ipc_buffer();
                let value = ipc.message(received.info).first().copied().unwrap_or(0);
                if let Ok(info) = ipc.set_message(label::OK, &[value.wrapping_add(1)], &[]) {
                    sel4::ipc::reply(ipc, info);
                }
                *served += 1;
            }
            other => println!(realm, "an unexpected receive: {other:?}"),
        }
    }
}

/// Receives on `endpoint` until a call comes (signals are dropped), and answers it.
fn answer_first_call(realm: &mut Realm, endpoint: Endpoint) {
    loop {
        let received = endpoint.recv(realm.ipc_buffer());
        if let Ok(BadgeKind::Connection { .. }) = Badge::decode(received.badge) {
            let ipc = realm.ipc_buffer();
            let value = ipc.message(received.info).first().copied().unwrap_or(0);
            if let Ok(info) = ipc.set_message(label::OK, &[value.wrapping_add(1)], &[]) {
                sel4::ipc::reply(ipc, info);
            }
            return;
        }
    }
}

/// Microseconds from `start` to now.
fn micros_since(realm: &Realm, start: Instant) -> u128 {
    realm.now().saturating_duration_since(start).as_micros()
}

/// Computes, without receiving or asking anything, until `duration` has passed.
fn spin(realm: &Realm, duration: Duration) {
    let until = realm.now().saturating_add(duration);
    while realm.now() < until {
        core::hint::spin_loop();
    }
}

/// Asks for a signal after `after`, and times the first signal a receive loop gets from
/// then on (answering calls meanwhile), in microseconds.
fn time_signal(realm: &mut Realm, endpoint: Endpoint, after: Duration, served: &mut u64) -> u128 {
    let start = realm.now();
    if let Err(error) = realm.signal_after(after) {
        println!(realm, "signal_after({after:?}) refused: {error:?}");
    }
    serve_until_signal(realm, endpoint, served);
    micros_since(realm, start)
}

fn ticker(realm: &mut Realm) {
    let service = realm.register("ticker").expect("registering ticker");
    let endpoint = service.endpoint();
    let before = realm.signal_after(Duration::from_millis(20));
    println!(realm, "signal before binding: {before:?}");
    let bound = realm.bind_notification();
    let again = realm.bind_notification();
    println!(realm, "bind: {bound:?}, again: {again:?}");
    realm.announce_serving();
    let mut served = 0;
    // Wait for caller's first call: the first signal is to come while calls come in.
    answer_first_call(realm, endpoint);

    // A signal while serving calls.
    let start = realm.now();
    let asked = realm.signal_after(Duration::from_millis(20));
    let signal = serve_until_signal(realm, endpoint, &mut served);
    println!(
        realm,
        "signal: asked {asked:?}; bits {:#x} (the timer's: {}), label {}, {} words, after {} us, {served} calls answered before it",
        signal.bits,
        signal.bits == TIMER,
        signal.label,
        signal.words,
        micros_since(realm, start)
    );

    // Five signals that fall due before one receive: one wake-up. Each falls due at once,
    // and is signalled before the sleep after it ends (the tick that ends a sleep has
    // signalled every timed signal due before, see `deadline.rs`); no receive in between.
    for _ in 0..5 {
        let _ = realm.signal_after(Duration::ZERO);
        let _ = realm.sleep(Duration::from_millis(2));
    }
    let signal = serve_until_signal(realm, endpoint, &mut served);
    // Had any of the five been a wake-up of its own, the next signal would come at once.
    let next = time_signal(realm, endpoint, Duration::from_millis(10), &mut served);
    println!(
        realm,
        "coalesced: five timed signals, then one receive: bits {:#x} (the timer's: {}); the next signal came {next} us after a 10 ms request",
        signal.bits,
        signal.bits == TIMER
    );

    // A new request replaces the one pending: a 1 s one by a 10 ms one...
    let _ = realm.signal_after(Duration::from_secs(1));
    let shorter = time_signal(realm, endpoint, Duration::from_millis(10), &mut served);
    // ... and nothing else was pending: a 60 ms request, made then, is the next signal.
    let fence = time_signal(realm, endpoint, Duration::from_millis(60), &mut served);
    println!(
        realm,
        "replaced by a shorter one: signal after {shorter} us; the next after {fence} us"
    );
    // A 10 ms one by a 40 ms one.
    let start = realm.now();
    let _ = realm.signal_after(Duration::from_millis(10));
    let _ = realm.signal_after(Duration::from_millis(40));
    serve_until_signal(realm, endpoint, &mut served);
    println!(realm, "replaced by a longer one: signal after {} us", micros_since(realm, start));
    // After `reply_recv` a signal comes with the message info and words the thread passed
    // for its reply: the kernel sets only the badge.
    let _ = realm.signal_after(Duration::from_millis(5));
    loop {
        let ipc = realm.ipc_buffer();
        let Ok(reply) = ipc.set_message(label::OK, &[777], &[]) else { break };
        let received = endpoint.reply_recv(ipc, reply);
        match Badge::decode(received.badge) {
            Ok(BadgeKind::Notification { bits }) => {
                let word = realm.ipc_buffer().msg()[0];
                println!(
                    realm,
                    "after reply_recv: a signal, bits {bits:#x}; with it label {:#x}, {} words, word 0 = {word}",
                    received.info.label(),
                    received.info.length()
                );
                break;
            }
            Ok(BadgeKind::Connection { .. }) => {
                let ipc = realm.ipc_buffer();
                let value = ipc.message(received.info).first().copied().unwrap_or(0);
                if let Ok(info) = ipc.set_message(label::OK, &[value.wrapping_add(1)], &[]) {
                    sel4::ipc::reply(ipc, info);
                }
                served += 1;
            }
            other => println!(realm, "an unexpected receive: {other:?}"),
        }
    }
    println!(realm, "done; serving on ({served} calls answered so far)");
    loop {
        serve_until_signal(realm, endpoint, &mut served);
    }
}

/// Connects to `service`, trying again while it is not registered yet.
fn connect(realm: &mut Realm, service: &str) -> Option<Connection> {
    for _ in 0..200 {
        match realm.connect_raw(service) {
            Ok(connection) => return Some(connection),
            Err(realm_runtime::Error::Refused(error)) if error.may_succeed_later() => {
                let _ = realm.sleep(Duration::from_millis(2));
            }
            Err(error) => {
                println!(realm, "connecting to {service}: {error}");
                return None;
            }
        }
    }
    println!(realm, "connecting to {service}: still not there");
    None
}

/// A raw call of operation 1 with `value` through the cap in `slot`: the reply's label and
/// first word.
fn raw_call(realm: &mut Realm, slot: u64, value: u64) -> (u64, u64) {
    let ipc = realm.ipc_buffer();
    let Ok(info) = ipc.set_message(1, &[value], &[]) else { return (u64::MAX, 0) };
    let reply = Endpoint::from_cptr(slot).call(ipc, info);
    (reply.label(), ipc.message(reply).first().copied().unwrap_or(0))
}

/// Whether a raw call through `slot` with `value` was answered `OK` with value + 1.
fn answered(realm: &mut Realm, slot: u64, value: u64) -> bool {
    raw_call(realm, slot, value) == (label::OK, value + 1)
}

fn caller(realm: &mut Realm) {
    let Some(ticker) = connect(realm, "ticker") else { return };
    let slot = ticker.endpoint().cptr();
    // Paced by computing, not by sleeping: a sleep waits for the memory manager's timer,
    // which a busy memory manager delays, and the calls are to come all through ticker's
    // first 20 ms signal.
    let right = (0..200u64)
        .filter(|&value| {
            let ok = answered(realm, slot, value);
            spin(realm, Duration::from_micros(250));
            ok
        })
        .count();
    println!(realm, "200 calls, {right} answered right");
}

fn intruder(realm: &mut Realm) {
    let cnode = CNode::from_cptr(slot::CNODE);
    // A copy of the broker cap, parked in a deferred-reply slot: the broker never fills those.
    let parked = slot::DEFERRED_REPLIES.start + 1;
    let copied = cnode.slot(parked).copy_from(
        realm.ipc_buffer(),
        cnode.slot(slot::BROKER),
        Rights::WRITE.with_grant(),
    );
    println!(realm, "broker cap copied to slot {parked}: {copied:?}");

    // Move a connection's cap: the broker's revocation follows it.
    let Some(first) = connect(realm, "ticker") else { return };
    let at = first.endpoint().cptr();
    let elsewhere = 300;
    let moved = cnode.slot(elsewhere).move_from(realm.ipc_buffer(), cnode.slot(at));
    let through_elsewhere = answered(realm, elsewhere, 41);
    let (left_behind, _) = raw_call(realm, at, 41);
    println!(
        realm,
        "moved the connection cap from slot {at} to {elsewhere}: {moved:?}; a call through {elsewhere} answered: {through_elsewhere}; through {at}: label {left_behind}"
    );
    let disconnected = realm.disconnect(first);
    let (after, _) = raw_call(realm, elsewhere, 41);
    println!(realm, "disconnect: {disconnected:?}; then a call through {elsewhere}: label {after}");

    // Fill the slots the broker fills next with copies of the CNode cap: connect still works.
    let mut filled = 0;
    for index in at..at + 4 {
        let copy =
            cnode.slot(index).copy_from(realm.ipc_buffer(), cnode.slot(slot::CNODE), Rights::ALL);
        filled += usize::from(copy.is_ok());
    }
    let Some(second) = connect(realm, "ticker") else { return };
    let at2 = second.endpoint().cptr();
    let works = answered(realm, at2, 7);
    println!(
        realm,
        "filled slots {at}..{} ({filled} caps); connect again: slot {at2}, a call answered: {works}",
        at + 4
    );

    // Delete a connection's cap: disconnect and connect still work.
    let deleted = cnode.slot(at2).delete();
    let (gone, _) = raw_call(realm, at2, 7);
    let disconnected = realm.disconnect(second);
    let Some(third) = connect(realm, "ticker") else { return };
    let at3 = third.endpoint().cptr();
    let works = answered(realm, at3, 9);
    println!(
        realm,
        "deleted the cap in slot {at2}: {deleted:?}, a call then: label {gone}; disconnect: {disconnected:?}; connect again: slot {at3}, a call answered: {works}"
    );

    // Its own service's endpoint cap, moved to another deferred-reply slot: the broker
    // removes the service when the realm exits all the same (the leak check says so).
    match realm.register("intruder-svc") {
        Ok(service) => {
            let from = service.endpoint().cptr();
            let to = slot::DEFERRED_REPLIES.start + 2;
            let moved = cnode.slot(to).move_from(realm.ipc_buffer(), cnode.slot(from));
            println!(realm, "moved its service's endpoint cap from slot {from} to {to}: {moved:?}");
        }
        Err(error) => println!(realm, "registering intruder-svc: {error}"),
    }

    // Every slot the broker filled is in its range, and the parked cap is untouched: a
    // request through it is answered.
    let broker_range = [at, at2, at3].iter().all(|&index| index >= slot::FIRST_FREE);
    let ipc = realm.ipc_buffer();
    let who_am_i = ipc::realm::RealmRequest::WhoAmI.encode();
    let identity = ipc.set_message(who_am_i.label(), who_am_i.words(), &[]).map(|info| {
        let reply = Endpoint::from_cptr(parked).call(ipc, info);
        ipc::realm::decode_realm_reply(reply.label(), ipc.message(reply))
    });
    println!(
        realm,
        "broker slots from FIRST_FREE: {broker_range}; WhoAmI through slot {parked}: {identity:?}"
    );
}

fn flooder(realm: &mut Realm) {
    let service = realm.register("flooder").expect("registering flooder");
    let _ = realm.bind_notification();
    // Tell bystander the flood begins (it times its signals from then on).
    let Some(bystander) = connect(realm, "bystander") else { return };
    let told = answered(realm, bystander.endpoint().cptr(), 0);
    let start = realm.now();
    let mut requests: u64 = 0;
    let mut refused: u64 = 0;
    while realm.now().saturating_duration_since(start) < Duration::from_millis(600) {
        if realm.signal_after(Duration::from_millis(5)).is_err() {
            refused += 1;
        }
        requests += 1;
    }
    let end = realm.now();
    // Past the last request's 5 ms: every signal of the flood has been signalled (some may
    // have been during the flood, when realms above it kept it waiting): they are one.
    let _ = realm.sleep(Duration::from_millis(20));
    let mut served = 0;
    let signal = serve_until_signal(realm, service.endpoint(), &mut served);
    let next = time_signal(realm, service.endpoint(), Duration::from_millis(10), &mut served);
    println!(
        realm,
        "flooded from {} ms to {} ms (bystander told: {told}): {requests} requests, {refused} refused; then one wake-up, bits {:#x}; the next signal {next} us after a 10 ms request",
        start.as_nanos() / 1_000_000,
        end.as_nanos() / 1_000_000,
        signal.bits
    );

    // Absurd durations are refused, and leave the pending signal as it was.
    let start = realm.now();
    let _ = realm.signal_after(Duration::from_millis(10));
    let year_and_a_day = realm.signal_after(Duration::from_secs(366 * 24 * 60 * 60));
    let forever = realm.signal_after(Duration::MAX);
    serve_until_signal(realm, service.endpoint(), &mut served);
    println!(realm, "366 days: {year_and_a_day:?}");
    println!(realm, "Duration::MAX: {forever:?}");
    println!(realm, "the 10 ms signal still came, after {} us", micros_since(realm, start));
}

fn bystander(realm: &mut Realm) {
    let service = realm.register("bystander").expect("registering bystander");
    let _ = realm.bind_notification();
    realm.announce_serving();
    // flooder's call says its flood begins.
    answer_first_call(realm, service.endpoint());
    let mut served = 0;
    let first = realm.now();
    let mut late: [u128; 20] = [0; 20];
    for each in late.iter_mut() {
        let took = time_signal(realm, service.endpoint(), Duration::from_millis(20), &mut served);
        *each = took.saturating_sub(20_000);
        if took < 20_000 {
            println!(realm, "a signal came early: after {took} us");
        }
    }
    let last = realm.now();
    late.sort_unstable();
    println!(
        realm,
        "20 signals of 20 ms from {} ms to {} ms: late by {} us at least, {} us median, {} us at most",
        first.as_nanos() / 1_000_000,
        last.as_nanos() / 1_000_000,
        late[0],
        late[10],
        late[19]
    );
    loop {
        serve_until_signal(realm, service.endpoint(), &mut served);
    }
}

fn phoenix(realm: &mut Realm) {
    // Before registering: the first run hears "not yet registered", the second "restarting".
    let first_run = matches!(
        realm.connect_raw("phoenix"),
        Err(realm_runtime::Error::Refused(ipc::Error::NotYetRegistered))
    );
    let service = realm.register("phoenix").expect("registering phoenix");
    let bound = realm.bind_notification();
    if first_run {
        let asked = realm.signal_after(Duration::from_millis(30));
        println!(realm, "first run: bound {bound:?}, a 30 ms signal asked {asked:?}; dying");
        panic!("phoenix dies with a timed signal pending");
    }
    // Well past the first run's deadline (asleep: a signal would stay pending meanwhile),
    // then only its own signal may wake it.
    let _ = realm.sleep(Duration::from_millis(60));
    let mut served = 0;
    let took = time_signal(realm, service.endpoint(), Duration::from_millis(20), &mut served);
    println!(
        realm,
        "second run: bound {bound:?}; the first signal came {took} us after its 20 ms request"
    );
}

fn cramped(realm: &mut Realm) {
    // Pages until the memory manager's slots for this realm's objects are used up (the
    // budget is larger than they can cover).
    let mut pages: u64 = 0;
    let mut chunk = 64;
    let refusal = loop {
        match realm.allocate_pages(chunk) {
            Ok(_) => pages += chunk,
            Err(error) if chunk > 1 => {
                let _ = error;
                chunk /= 2;
            }
            Err(error) => break error,
        }
    };
    let bind = realm.bind_notification();
    let signal = realm.signal_after(Duration::from_millis(1));
    println!(realm, "{pages} pages, then: {refusal:?}");
    println!(realm, "bind then: {bind:?}");
    println!(realm, "signal_after then: {signal:?}");
}
