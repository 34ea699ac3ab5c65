//! The benchmark: in one run on seL4, the cycles of a round trip over a broker-minted cap
//! with raw seL4 Call/ReplyRecv and with `realm-runtime`'s typed call (same bytes on the
//! wire), and the cycles of `connect` with few and with many services registered. Prints a
//! table; ratios taken in the same run are what counts (absolute cycles under QEMU's
//! emulation are noise).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::fmt::Write;

use realm_runtime::payload::{self, Status};
use realm_runtime::println;
use realm_runtime::sel4::{MessageInfo, ipc::yield_now, timestamp};
use realm_runtime::{Connection, Realm};

realm_runtime::main!(main);

#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
enum Payload {
    Small(u64),
    Large([u64; 8]),
}

/// Round trips per batch, and batches (the median batch is reported).
const ROUNDS: u64 = 400;
const BATCHES: usize = 9;
/// Connects measured at each service count (the median is reported).
const CONNECTS: usize = 15;
/// Services registered when connect is measured.
const SERVICE_COUNTS: [usize; 3] = [1, 100, 1000];

fn median<const N: usize>(mut samples: [u64; N]) -> u64 {
    samples.sort_unstable();
    samples[N / 2]
}

/// Connects to `service`, letting its server run until it has registered it.
fn connect_when_ready(realm: &mut Realm, service: &str) -> Connection {
    loop {
        match realm.connect_raw(service) {
            Ok(connection) => return connection,
            Err(_) => yield_now(),
        }
    }
}

/// Median cycles per round trip of raw Calls carrying the typed encoding of `value`, and the
/// message's length in words.
fn raw_round_trip(realm: &mut Realm, raw: &Connection, value: Payload) -> (u64, usize) {
    let buffer = realm.ipc_buffer();
    let words =
        payload::encode(&value, Status::Ok, &mut buffer.msg_mut()[..]).expect("the payload fits");
    (raw_words_round_trip(realm, raw, words), words)
}

/// Median cycles per round trip of raw Calls carrying the `words` already in the buffer.
fn raw_words_round_trip(realm: &mut Realm, raw: &Connection, words: usize) -> u64 {
    let buffer = realm.ipc_buffer();
    let info = MessageInfo::new(0, 0, words).expect("a short message");
    let mut batches = [0; BATCHES];
    for batch in &mut batches {
        let start = timestamp::now();
        for _ in 0..ROUNDS {
            let reply = raw.endpoint().call(buffer, info);
            assert_eq!(reply.length(), words, "raw-echo answered with another length");
        }
        *batch = (timestamp::now() - start) / ROUNDS;
    }
    median(batches)
}

/// Median cycles per round trip of typed calls of `value`.
fn typed_round_trip(realm: &mut Realm, echo: &Connection, value: Payload) -> u64 {
    let mut batches = [0; BATCHES];
    for batch in &mut batches {
        let start = timestamp::now();
        for _ in 0..ROUNDS {
            let _: Payload = realm.call(echo, &value).expect("echo answers");
        }
        *batch = (timestamp::now() - start) / ROUNDS;
    }
    median(batches)
}

/// Median cycles of one connect to `service` (each followed by a disconnect, not timed).
fn connect_cost(realm: &mut Realm, service: &str) -> u64 {
    let mut samples = [0; CONNECTS];
    for sample in &mut samples {
        let start = timestamp::now();
        let connection = realm.connect_raw(service).expect("connecting");
        *sample = timestamp::now() - start;
        realm.disconnect(connection).expect("disconnecting");
    }
    median(samples)
}

fn ratio(numerator: u64, denominator: u64) -> Ratio {
    Ratio(numerator * 1000 / denominator.max(1))
}

/// A ratio in thousandths, printed with two decimals.
struct Ratio(u64);

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 1000, self.0 % 1000 / 10)
    }
}

fn main(realm: &mut Realm) {
    let raw = connect_when_ready(realm, "raw-echo");
    let echo = connect_when_ready(realm, "echo");
    let plain = connect_when_ready(realm, "plain-echo");

    println!(
        realm,
        "round trip over a broker-minted cap, cycles (median of {BATCHES} batches of {ROUNDS})"
    );
    println!(realm, "payload        message    raw seL4   realm-runtime   ratio");
    // Postcard writes integers as varints: small values are one byte, u64::MAX ten.
    let payloads = [
        ("u64 = 7", Payload::Small(7)),
        ("u64::MAX", Payload::Small(u64::MAX)),
        ("[u64; 8] = 7", Payload::Large([7; 8])),
        ("[u64::MAX; 8]", Payload::Large([u64::MAX; 8])),
    ];
    for (label, value) in payloads {
        let (raw_cycles, words) = raw_round_trip(realm, &raw, value);
        let typed_cycles = typed_round_trip(realm, &echo, value);
        println!(
            realm,
            "{label:<14} {words:>2} words {raw_cycles:>10}   {typed_cycles:>13}   {}",
            ratio(typed_cycles, raw_cycles)
        );
    }

    // Plain data: the same eight words, as bytes, with no serialisation.
    let value = [u64::MAX; 8];
    let buffer = realm.ipc_buffer();
    let words = payload::encode_plain(&value, Status::Ok, &mut buffer.msg_mut()[..]).expect("fits");
    let raw_cycles = raw_words_round_trip(realm, &raw, words);
    let mut batches = [0; BATCHES];
    for batch in &mut batches {
        let start = timestamp::now();
        for _ in 0..ROUNDS {
            let _: [u64; 8] = realm.call_plain(&plain, &value).expect("plain-echo answers");
        }
        *batch = (timestamp::now() - start) / ROUNDS;
    }
    let plain_cycles = median(batches);
    println!(
        realm,
        "{:<14} {words:>2} words {raw_cycles:>10}   {plain_cycles:>13}   {}",
        "plain [u64; 8]",
        ratio(plain_cycles, raw_cycles)
    );

    // A call with a deadline that does not expire, against the same typed call.
    println!(realm, "call with a deadline, cycles (median of {BATCHES} batches of {ROUNDS})");
    println!(realm, "payload        call   call_timeout (1 s, never expires)   ratio");
    let value = Payload::Small(7);
    let call_cycles = typed_round_trip(realm, &echo, value);
    let mut batches = [0; BATCHES];
    for batch in &mut batches {
        let start = timestamp::now();
        for _ in 0..ROUNDS {
            let _: Payload = realm
                .call_timeout(&echo, &value, core::time::Duration::from_secs(1))
                .expect("echo answers in time");
        }
        *batch = (timestamp::now() - start) / ROUNDS;
    }
    let timeout_cycles = median(batches);
    println!(
        realm,
        "{:<14} {call_cycles:>5}   {timeout_cycles:>32}   {}",
        "u64 = 7",
        ratio(timeout_cycles, call_cycles)
    );

    println!(realm, "connect, cycles (median of {CONNECTS})");
    println!(realm, "services registered   connect   ratio to the first");
    let mut first = 0;
    let mut registered = 2; // echo and raw-echo
    let mut fillers = heapless::Vec::<realm_runtime::Service, 1024>::new();
    for count in SERVICE_COUNTS {
        while registered < count {
            let mut name = heapless::String::<32>::new();
            let _ = write!(name, "filler-{}", fillers.len());
            let service = realm.register(&name).expect("registering a filler service");
            let _ = fillers.push(service);
            registered += 1;
        }
        let cost = connect_cost(realm, "echo");
        if first == 0 {
            first = cost;
        }
        println!(realm, "{:>19}   {cost:>7}   {}", registered.max(count), ratio(cost, first));
    }
}
