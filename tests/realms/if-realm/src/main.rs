//! Test realms for typed interfaces (tests/interfaces.rs, tests/systems/interfaces.toml), by
//! name. The interfaces are in [`protocol`].
//!
//! - `server` serves "kv" (`if-kv`) and "gate" (`if-gate`) on one endpoint, and its
//!   notification's timed signal, in one `Server` loop: a gate `wait` is kept (deferred) until
//!   a `release` of its ticket, a `wait_timer` until the timed signal.
//! - `flaky` serves "flaky" (`if-flaky`); after `arm` it panics on the next request, while
//!   the caller waits (it is restartable).
//! - `client`: the store's application errors as values; a gate `wait` (released by
//!   `releaser`) and a `wait_timer`; the server's counters; then `flaky`: an idempotent call
//!   across a crash, a non-idempotent one across another, and a call after connecting again.
//! - `releaser` releases the client's `wait` (ticket 7, value 4242), trying until a waiter is
//!   there.
//! - `stale` connects to "kv" as a client of [`protocol::stale::Kv`] (refused), then of the
//!   current `if-kv`, then with no interface.
//! - `hostile` sends raw messages on its connections to "kv" and "gate" (unknown operations,
//!   wrong lengths, undecodable words, capabilities) and after each makes a good call.
//!
//! - `liar` registers "liar" raw (no interface) and answers each request with the next of
//!   [`LIES`], replies no runtime of this project sends; `dupe` connects to it as a typed
//!   `if-kv` client, makes one call per lie and prints what each returned.
//!
//! Each prints what the calls answered, from the values they returned (`Debug`), for the
//! suite to compare.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

mod protocol;

use core::time::Duration;

use protocol::{
    CAPACITY, Flaky, FlakyClient, FlakyServer, FlakyState, Gate, GateClient, GateError, GateServer,
    Key, Kv, KvError, KvServer, Served,
};
use realm_runtime::interface::{Deferrable, Interface, Response};
use realm_runtime::ipc::ServiceIndex;
use realm_runtime::ipc::abi::{label, notification, slot};
use realm_runtime::service::Connection;
use realm_runtime::time::Instant;
use realm_runtime::{Call, Deferred, Error, Realm, Server, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "server" => server(realm),
        "flaky" => flaky(realm),
        "client" => client(realm),
        "releaser" => releaser(realm),
        "stale" => stale(realm),
        "hostile" => hostile(realm),
        "liar" => liar(realm),
        "dupe" => dupe(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

/// `key` as a store key (the suite's keys are short).
fn key(key: &str) -> Key {
    Key::try_from(key).unwrap_or_default()
}

/// Connects to `service` as a client of `I`, waiting (up to 2 s) while it is not registered
/// yet or restarting.
fn connect<I: Interface>(realm: &mut Realm, service: &str) -> Result<I::Client, Error>
where
    I::Client: From<realm_runtime::Client<I>>,
{
    let mut tries = 0;
    loop {
        match realm.connect::<I>(service) {
            Err(Error::Refused(
                realm_runtime::ipc::Error::NotYetRegistered
                | realm_runtime::ipc::Error::ServiceRestarting,
            )) if tries < 400 => {
                tries += 1;
                let _ = realm.sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// [`connect`] with no interface (a raw connection).
fn connect_raw(realm: &mut Realm, service: &str) -> Result<Connection, Error> {
    let mut tries = 0;
    loop {
        match realm.connect_raw(service) {
            Err(Error::Refused(realm_runtime::ipc::Error::NotYetRegistered)) if tries < 400 => {
                tries += 1;
                let _ = realm.sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

// ---------------------------------------------------------------------------------------
// server: kv and gate in one loop, with the timed signal

/// The state behind both services of `server`.
#[derive(Default)]
struct Hub {
    entries: heapless::Vec<(Key, u64), { CAPACITY as usize }>,
    /// The caller of `wait`, with its ticket.
    waiter: Option<(u64, Deferred<Result<u64, GateError>>)>,
    /// The caller of `wait_timer`, with the time of its request.
    sleeper: Option<(Instant, Deferred<Result<u64, GateError>>)>,
    served: Served,
}

impl KvServer for Hub {
    fn get(&mut self, _call: &mut Call<'_>, key: Key) -> Result<u64, KvError> {
        self.served.kv += 1;
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(KvError::NotFound)
    }

    fn put(&mut self, _call: &mut Call<'_>, key: Key, value: u64) -> Result<(), KvError> {
        self.served.kv += 1;
        if let Some(entry) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = value;
            return Ok(());
        }
        self.entries.push((key, value)).map_err(|_| KvError::Full { capacity: CAPACITY })
    }

    fn count(&mut self, _call: &mut Call<'_>) -> u64 {
        self.served.kv += 1;
        self.entries.len() as u64
    }
}

impl GateServer for Hub {
    fn wait(&mut self, call: &mut Call<'_>, ticket: u64) -> Deferrable<Result<u64, GateError>> {
        self.served.gate += 1;
        if self.waiter.is_some() {
            return Deferrable::Now(Err(GateError::Busy));
        }
        match call.defer() {
            Ok(deferred) => {
                self.waiter = Some((ticket, deferred));
                Deferrable::Later
            }
            Err(_) => Deferrable::Now(Err(GateError::CannotDefer)),
        }
    }

    fn release(&mut self, call: &mut Call<'_>, ticket: u64, value: u64) -> u32 {
        self.served.gate += 1;
        match self.waiter.take() {
            Some((waiting, deferred)) if waiting == ticket => {
                call.answer(deferred, Ok(value));
                1
            }
            other => {
                self.waiter = other;
                0
            }
        }
    }

    fn wait_timer(
        &mut self,
        call: &mut Call<'_>,
        milliseconds: u64,
    ) -> Deferrable<Result<u64, GateError>> {
        self.served.gate += 1;
        if self.sleeper.is_some() {
            return Deferrable::Now(Err(GateError::Busy));
        }
        let start = call.now();
        if call.signal_after(Duration::from_millis(milliseconds)).is_err() {
            return Deferrable::Now(Err(GateError::NoTimer));
        }
        match call.defer() {
            Ok(deferred) => {
                self.sleeper = Some((start, deferred));
                Deferrable::Later
            }
            Err(_) => Deferrable::Now(Err(GateError::CannotDefer)),
        }
    }

    fn served(&mut self, _call: &mut Call<'_>) -> Served {
        self.served.gate += 1;
        self.served
    }
}

/// A wake-up by the realm's notification: the timer's bit answers the `wait_timer` caller.
fn on_signal(hub: &mut Hub, realm: &mut Realm, bits: u32) {
    if bits & notification::TIMER != 0 {
        hub.served.signals += 1;
        if let Some((start, deferred)) = hub.sleeper.take() {
            let waited = realm.now().saturating_duration_since(start).as_millis();
            realm.answer(deferred, Ok(u64::try_from(waited).unwrap_or(u64::MAX)));
        }
    }
    if bits & !notification::TIMER != 0 {
        hub.served.other_signals += 1;
    }
}

fn server(realm: &mut Realm) {
    let server = match serve_kv_and_gate(realm) {
        Ok(server) => server,
        Err(error) => return println!(realm, "cannot serve kv and gate: {error:?}"),
    };
    println!(realm, "serving kv and gate on one endpoint, with its notification");
    server.run_with(realm, on_signal)
}

/// The server of kv (service index 0) and gate (index 1).
type KvAndGate = Server<Hub, (((), Kv), Gate)>;

fn serve_kv_and_gate(realm: &mut Realm) -> Result<KvAndGate, Error> {
    Server::new(Hub::default())
        .serve::<Kv>(realm, "kv")?
        .serve::<Gate>(realm, "gate")?
        .with_notifications(realm)
}

// ---------------------------------------------------------------------------------------
// flaky: crashes on the request after `arm`

struct Fragile {
    state: FlakyState,
    armed: bool,
    sum: u64,
}

impl Fragile {
    fn serve_one(&mut self) {
        if self.armed {
            panic!("flaky was armed: crashing while its caller waits");
        }
        self.state.served += 1;
    }
}

impl FlakyServer for Fragile {
    fn state(&mut self, _call: &mut Call<'_>) -> FlakyState {
        self.serve_one();
        self.state
    }

    fn arm(&mut self, _call: &mut Call<'_>) {
        self.serve_one();
        self.armed = true;
    }

    fn bump(&mut self, _call: &mut Call<'_>, by: u64) -> u64 {
        self.serve_one();
        self.sum += by;
        self.sum
    }
}

fn flaky(realm: &mut Realm) {
    let fragile = Fragile { state: FlakyState::default(), armed: false, sum: 0 };
    let mut server = match Server::new(fragile).serve::<Flaky>(realm, "flaky") {
        Ok(server) => server,
        Err(error) => return println!(realm, "cannot serve flaky: {error:?}"),
    };
    let generation = server.generation(ServiceIndex::FIRST);
    server.state().state.generation = generation;
    println!(realm, "serving flaky, generation {generation}");
    server.run(realm)
}

// ---------------------------------------------------------------------------------------
// client

fn client(realm: &mut Realm) {
    let (mut kv, mut gate) = match (connect::<Kv>(realm, "kv"), connect::<Gate>(realm, "gate")) {
        (Ok(kv), Ok(gate)) => (kv, gate),
        (kv, gate) => {
            let (kv, gate) = (kv.err(), gate.err());
            return println!(realm, "cannot connect: kv {kv:?}, gate {gate:?}");
        }
    };

    // Application errors reach the caller as the declared values.
    let missing = kv.get(realm, key("a"));
    println!(
        realm,
        "get \"a\" from the empty store: {missing:?}, the declared error: {}",
        missing == Ok(Err(KvError::NotFound))
    );
    for (value, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
        let stored = kv.put(realm, key(name), value as u64 + 1);
        println!(realm, "put {name:?}: {stored:?}");
    }
    let full = kv.put(realm, key("e"), 5);
    println!(
        realm,
        "put \"e\" into the full store: {full:?}, the declared error: {}",
        full == Ok(Err(KvError::Full { capacity: CAPACITY }))
    );
    println!(realm, "get \"c\": {:?}", kv.get(realm, key("c")));
    println!(realm, "count: {:?}", kv.count(realm));

    // A reply kept for later, released by another client.
    let start = realm.now();
    let released = gate.wait(realm, 7);
    let waited = realm.now().saturating_duration_since(start).as_millis();
    println!(realm, "wait(7) answered: {released:?}");
    println!(realm, "wait(7) waited {waited} ms");

    // A reply kept until the server's timed signal.
    let start = realm.now();
    let timed = gate.wait_timer(realm, 30);
    let waited = realm.now().saturating_duration_since(start).as_millis();
    match timed {
        Ok(Ok(measured)) => {
            println!(
                realm,
                "wait_timer(30) answered after {measured} ms (server), {waited} ms (client)"
            )
        }
        other => println!(realm, "wait_timer(30) answered: {other:?}"),
    }

    // One loop served both services and the signal.
    match gate.served(realm) {
        Ok(served) => println!(
            realm,
            "served: kv {} gate {} signals {} other-signals {}",
            served.kv,
            served.gate,
            served.signals,
            served.other_signals
        ),
        Err(error) => println!(realm, "served: {error:?}"),
    }

    flaky_calls(realm);
}

/// An idempotent operation across a crash, a non-idempotent one across another.
fn flaky_calls(realm: &mut Realm) {
    let mut flaky: FlakyClient = match connect::<Flaky>(realm, "flaky") {
        Ok(flaky) => flaky,
        Err(error) => return println!(realm, "cannot connect to flaky: {error:?}"),
    };
    let before = flaky.state(realm);
    println!(realm, "flaky state: {before:?}");
    println!(realm, "arm: {:?}", flaky.arm(realm));
    // `state` is idempotent: the crash is hidden by one reconnect and one more call.
    let after = flaky.state(realm);
    println!(realm, "idempotent state() across a crash: {after:?}");
    if let (Ok(before), Ok(after)) = (before, after) {
        println!(
            realm,
            "generations: before {}, after {} (one newer: {})",
            before.generation,
            after.generation,
            after.generation > before.generation
        );
    }
    println!(realm, "arm: {:?}", flaky.arm(realm));
    // `bump` is not idempotent: the caller hears of the restart, and nothing is retried.
    let bumped = flaky.bump(realm, 1);
    println!(realm, "non-idempotent bump(1) across a crash: {bumped:?}");
    println!(realm, "bump(1) again on that connection: {:?}", flaky.bump(realm, 1));
    let _ = realm.disconnect(flaky);
    match connect::<Flaky>(realm, "flaky") {
        Ok(mut flaky) => {
            println!(realm, "connected again: state {:?}", flaky.state(realm));
            println!(realm, "bump(1) on the new connection: {:?}", flaky.bump(realm, 1));
        }
        Err(error) => println!(realm, "cannot connect again to flaky: {error:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// releaser

fn releaser(realm: &mut Realm) {
    let mut gate: GateClient = match connect::<Gate>(realm, "gate") {
        Ok(gate) => gate,
        Err(error) => return println!(realm, "cannot connect to gate: {error:?}"),
    };
    for tries in 1..=400 {
        match gate.release(realm, 7, 4242) {
            Ok(1) => return println!(realm, "release(7, 4242) found its waiter"),
            Ok(0) if tries < 400 => {
                let _ = realm.sleep(Duration::from_millis(5));
            }
            other => return println!(realm, "release(7, 4242): {other:?} after {tries} tries"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// stale

fn stale(realm: &mut Realm) {
    println!(
        realm,
        "fingerprints: current {}:{:016x}, stale {}:{:016x}",
        <Kv as Interface>::NAME,
        <Kv as Interface>::FINGERPRINT,
        <protocol::stale::Kv as Interface>::NAME,
        <protocol::stale::Kv as Interface>::FINGERPRINT
    );
    match connect::<protocol::stale::Kv>(realm, "kv") {
        Ok(mut kv) => println!(realm, "stale client: connected, count {:?}", kv.count(realm)),
        Err(error) => println!(realm, "stale client: {error:?}"),
    }
    match connect::<Kv>(realm, "kv") {
        Ok(mut kv) => println!(realm, "current client: connected, count {:?}", kv.count(realm)),
        Err(error) => println!(realm, "current client: {error:?}"),
    }
    match connect_raw(realm, "kv") {
        Ok(_) => println!(realm, "raw client: connected"),
        Err(error) => println!(realm, "raw client: {error:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// hostile

/// One raw message: its name for the suite, the connection it goes on ("kv" or "gate"), its
/// label, words and capabilities (which connection's own cap, or the broker's).
struct Case {
    name: &'static str,
    on_gate: bool,
    label: u64,
    words: &'static [u64],
    caps: Caps,
}

#[derive(Clone, Copy)]
enum Caps {
    None,
    /// The cap the message goes through (the kernel unwraps it: same endpoint).
    OwnConnection,
    /// The realm's cap to the memory manager (another object: the kernel transfers it only
    /// into a receive slot, which the server never sets).
    Broker,
}

/// `"k"` as postcard words: the length word (2 bytes), then the length byte 1 and `k`.
const KEY_K: [u64; 2] = [2, 0x6b01];

const CASES: &[Case] = &[
    Case { name: "label 0", on_gate: false, label: 0, words: &[], caps: Caps::None },
    Case {
        name: "label 4 (past kv's last operation)",
        on_gate: false,
        label: 4,
        words: &[],
        caps: Caps::None,
    },
    Case { name: "label 0xffff", on_gate: false, label: 0xFFFF, words: &[], caps: Caps::None },
    Case {
        name: "reserved label OK",
        on_gate: false,
        label: label::OK,
        words: &[],
        caps: Caps::None,
    },
    Case {
        name: "reserved label BAD_REQUEST",
        on_gate: false,
        label: label::BAD_REQUEST,
        words: &[1, 1],
        caps: Caps::None,
    },
    Case {
        name: "gate's operation 13 on kv",
        on_gate: false,
        label: 13,
        words: &[],
        caps: Caps::None,
    },
    Case {
        name: "kv's operation 3 on gate",
        on_gate: true,
        label: 3,
        words: &[],
        caps: Caps::None,
    },
    Case { name: "count with a word", on_gate: false, label: 3, words: &[0], caps: Caps::None },
    Case { name: "get with no words", on_gate: false, label: 1, words: &[], caps: Caps::None },
    Case {
        name: "get with a word too many",
        on_gate: false,
        label: 1,
        words: &[KEY_K[0], KEY_K[1], 9],
        caps: Caps::None,
    },
    Case {
        name: "put without its value",
        on_gate: false,
        label: 2,
        words: &KEY_K,
        caps: Caps::None,
    },
    Case {
        name: "get with a length past its words",
        on_gate: false,
        label: 1,
        words: &[9, 0x6b01],
        caps: Caps::None,
    },
    Case {
        name: "get with bytes postcard refuses",
        on_gate: false,
        label: 1,
        words: &[1, 0xFF],
        caps: Caps::None,
    },
    Case {
        name: "count with its connection's cap",
        on_gate: false,
        label: 3,
        words: &[],
        caps: Caps::OwnConnection,
    },
    Case {
        name: "served with the broker's cap",
        on_gate: true,
        label: 13,
        words: &[],
        caps: Caps::Broker,
    },
];

fn hostile(realm: &mut Realm) {
    let connections =
        (connect::<Kv>(realm, "kv"), connect_raw(realm, "kv"), connect_raw(realm, "gate"));
    let (Ok(mut good), Ok(raw_kv), Ok(raw_gate)) = connections else {
        return println!(realm, "cannot connect");
    };
    for case in CASES {
        let connection = if case.on_gate { &raw_gate } else { &raw_kv };
        let cap = match case.caps {
            Caps::None => None,
            Caps::OwnConnection => Some(connection.endpoint().cptr()),
            Caps::Broker => Some(slot::BROKER),
        };
        let caps = cap.as_slice();
        let ipc = realm.ipc_buffer();
        let Ok(info) = ipc.set_message(case.label, case.words, caps) else {
            println!(realm, "{}: does not fit in a message", case.name);
            continue;
        };
        let reply = connection.endpoint().call(ipc, info);
        let (label, length) = (reply.label(), reply.length());
        let words = ipc.message(reply);
        let mut kept = [0u64; 4];
        let kept_length = length.min(kept.len());
        kept[..kept_length].copy_from_slice(&words[..kept_length]);
        let kept = &kept[..kept_length];
        // The good call after each: the service still serves.
        let then = good.count(realm);
        let then = if then.is_ok() { "served" } else { "not served" };
        if label == label::OK {
            println!(
                realm,
                "{}: answered OK with {length} words; a good call then: {then}", case.name
            );
        } else {
            let error = <u64 as Response>::decode(label, kept).err();
            println!(realm, "{}: {error:?}; a good call then: {then}", case.name);
        }
    }
    println!(realm, "good calls after the raw messages: count {:?}", good.count(realm));
}

// ---------------------------------------------------------------------------------------
// liar and dupe: a hostile server answering a typed client

/// One reply of the liar: its label and words, for a call of `dupe` to `operation`.
struct Lie {
    name: &'static str,
    /// `if-kv`'s operation `dupe` calls for it: `count` (`-> u64`, no application error) or
    /// `get` (`-> Result<u64, KvError>`, the error as postcard).
    get: bool,
    label: u64,
    words: &'static [u64],
}

/// `KvError::Full { capacity: 3 }` in postcard: variant 1, then 3 (two bytes).
const FULL_3: u64 = 0x03_01;

const LIES: &[Lie] = &[
    Lie { name: "OK with a word too many", get: false, label: label::OK, words: &[1, 2] },
    Lie { name: "OK with no words", get: false, label: label::OK, words: &[] },
    Lie {
        name: "ERROR to an operation with no error",
        get: false,
        label: label::ERROR,
        words: &[1],
    },
    Lie { name: "an operation number as the label", get: false, label: 32, words: &[1] },
    Lie { name: "label 0", get: false, label: 0, words: &[1] },
    Lie { name: "a kernel error code as the label", get: false, label: 2, words: &[1] },
    Lie { name: "ABORTED from a live service", get: false, label: label::ABORTED, words: &[] },
    Lie { name: "BAD_REQUEST with no reason", get: false, label: label::BAD_REQUEST, words: &[] },
    Lie {
        name: "BAD_REQUEST with an unknown reason",
        get: false,
        label: label::BAD_REQUEST,
        words: &[9, 1],
    },
    Lie {
        name: "RESPONSE_TOO_LARGE with a word",
        get: false,
        label: label::RESPONSE_TOO_LARGE,
        words: &[1],
    },
    Lie {
        name: "ERROR with a postcard length past its words",
        get: true,
        label: label::ERROR,
        words: &[9, FULL_3],
    },
    Lie {
        name: "ERROR with non-zero padding",
        get: true,
        label: label::ERROR,
        words: &[2, FULL_3 | 0xFF << 16],
    },
    Lie {
        name: "ERROR with a byte postcard leaves over",
        get: true,
        label: label::ERROR,
        words: &[3, FULL_3 | 0x41 << 16],
    },
    Lie {
        name: "OK of a Result with a word too many",
        get: true,
        label: label::OK,
        words: &[5, 6],
    },
    Lie { name: "a true application error", get: true, label: label::ERROR, words: &[2, FULL_3] },
    Lie { name: "a true value", get: false, label: label::OK, words: &[42] },
];

/// Registers "liar" raw and answers the n-th request with the n-th lie (then the last
/// one for ever).
fn liar(realm: &mut Realm) {
    let Ok(service) = realm.register("liar") else {
        return println!(realm, "cannot register");
    };
    let endpoint = service.endpoint();
    realm.announce_serving();
    let mut received = endpoint.recv(realm.ipc_buffer());
    let mut next = 0;
    loop {
        // What was asked does not matter: every request gets the next lie.
        let _ = received;
        let lie = &LIES[next.min(LIES.len() - 1)];
        next += 1;
        let Ok(info) = realm.ipc_buffer().set_message(lie.label, lie.words, &[]) else {
            return println!(realm, "{}: does not fit in a message", lie.name);
        };
        received = endpoint.reply_recv(realm.ipc_buffer(), info);
    }
}

/// Calls "liar" as a typed client of `if-kv`, once per lie; prints what each call returned.
fn dupe(realm: &mut Realm) {
    let Ok(mut kv) = connect::<Kv>(realm, "liar") else {
        return println!(realm, "cannot connect");
    };
    for lie in LIES {
        if lie.get {
            let result = kv.get(realm, key("k"));
            println!(realm, "{}: {result:?}", lie.name);
        } else {
            let result = kv.count(realm);
            println!(realm, "{}: {result:?}", lie.name);
        }
    }
    println!(realm, "done");
}
