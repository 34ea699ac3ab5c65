//! The benchmark: in one run on seL4, the cycles of a round trip over a broker-minted cap
//! with raw seL4 Call/ReplyRecv and with a typed interface's generated client and server
//! (`bench-echo`, the same words on the wire), a typed call with and without a deadline, the
//! cycles of `connect` with few and with many services registered, and a raw round trip
//! between two threads of this realm (a call to a thread's inbox) next to the raw round trip
//! to another realm. Prints a table; ratios taken in the same run are what counts (absolute
//! cycles under QEMU's emulation are noise).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::fmt::Write;

use bench_protocol::{Echo, EchoClient, Text};
use realm_runtime::println;
use realm_runtime::sel4::cap::Endpoint;
use realm_runtime::sel4::{MessageInfo, ipc::yield_now, timestamp};
use realm_runtime::{Realm, Wire};

realm_runtime::main!(main);

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

/// Median cycles per round of `round`, over [`BATCHES`] batches of [`ROUNDS`].
fn measure(realm: &mut Realm, mut round: impl FnMut(&mut Realm)) -> u64 {
    let mut batches = [0; BATCHES];
    for batch in &mut batches {
        let start = timestamp::now();
        for _ in 0..ROUNDS {
            round(realm);
        }
        *batch = (timestamp::now() - start) / ROUNDS;
    }
    median(batches)
}

/// Waits until `attempt` succeeds, letting the servers run until they have registered.
fn when_ready<T, E>(realm: &mut Realm, mut attempt: impl FnMut(&mut Realm) -> Result<T, E>) -> T {
    loop {
        match attempt(realm) {
            Ok(value) => return value,
            Err(_) => yield_now(),
        }
    }
}

/// Median cycles per round trip of raw Calls on `endpoint` carrying `value`'s encoding (the
/// words the typed call sends), and the message's length in words. Like the typed call, each
/// round writes its request's words into the IPC buffer (encoded once, before the measure:
/// the raw client sends words it already has), sends them with the binding's ordinary
/// `Endpoint::call` and checks the reply's message info. `endpoint` is a connection's (to
/// `raw-echo`, another realm) or a thread's inbox (to [`inbox_echo`], a thread of this realm).
fn raw_round_trip(realm: &mut Realm, endpoint: Endpoint, value: &impl Wire) -> (u64, usize) {
    let mut message = [0u64; 16];
    let words = value.encode(&mut message).expect("the value fits");
    let message = &message[..words];
    let info = MessageInfo::new(0, 0, words).expect("a short message");
    let cycles = measure(realm, |realm| {
        let buffer = realm.ipc_buffer();
        buffer.msg_mut()[..words].copy_from_slice(message);
        if endpoint.call(buffer, info).word() != info.word() {
            fail("the raw echo answered with another message");
        }
    });
    (cycles, words)
}

/// Median cycles of one connect to `service` (each followed by a disconnect, not timed).
fn connect_cost(realm: &mut Realm, service: &str) -> u64 {
    let mut samples = [0; CONNECTS];
    for sample in &mut samples {
        let start = timestamp::now();
        let echo = realm.connect::<Echo>(service).expect("connecting");
        *sample = timestamp::now() - start;
        realm.disconnect(echo).expect("disconnecting");
    }
    median(samples)
}

/// Stops the benchmark: a round trip went wrong. Out of line, so that every measured loop
/// checks its answer with one comparison and branch.
#[cold]
#[inline(never)]
fn fail(what: &str) -> ! {
    panic!("{what}")
}

fn ratio(numerator: u64, denominator: u64) -> Ratio {
    Ratio(numerator * 1000 / denominator.max(1))
}

/// A ratio in thousandths, printed with three decimals (cut, not rounded: 1.0597 prints
/// 1.059, and is above a target of 1.05).
struct Ratio(u64);

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

fn main(realm: &mut Realm) {
    let raw = when_ready(realm, |realm| realm.connect_raw("raw-echo"));
    let mut echo: EchoClient = when_ready(realm, |realm| realm.connect::<Echo>("echo"));

    println!(
        realm,
        "round trip over a broker-minted cap, cycles (median of {BATCHES} batches of {ROUNDS})"
    );
    println!(
        realm,
        "operation                      words   raw seL4   interface   ratio    target"
    );

    let (raw_cycles, words) = raw_round_trip(realm, raw.endpoint(), &7u64);
    let typed = measure(realm, |realm| {
        let Ok(answer) = echo.small(realm, 7) else { fail("echo failed") };
        if answer != 7 {
            fail("echo answered another value");
        }
    });
    row(realm, "interface u64 -> u64", words, raw_cycles, typed, "1.05");

    let large = [u64::MAX; 8];
    let (raw_cycles, words) = raw_round_trip(realm, raw.endpoint(), &large);
    let typed = measure(realm, |realm| {
        let Ok(answer) = echo.large(realm, large) else { fail("echo failed") };
        if answer[7] != u64::MAX {
            fail("echo answered another value");
        }
    });
    row(realm, "interface [u64; 8]", words, raw_cycles, typed, "1.05");

    let mut text = Text::new();
    while text.push('x').is_ok() {}
    let (raw_cycles, words) = raw_round_trip(realm, raw.endpoint(), &text);
    let typed = measure(realm, |realm| {
        let Ok(answer) = echo.text(realm, text.clone()) else { fail("echo failed") };
        if answer.len() != 64 {
            fail("echo answered another value");
        }
    });
    row(realm, "interface String<64> postcard", words, raw_cycles, typed, "1.5");

    // A call with a deadline that does not expire, against the same typed call.
    println!(realm, "call with a deadline, cycles (median of {BATCHES} batches of {ROUNDS})");
    println!(realm, "operation              call   with_deadline (1 s, never expires)   ratio");
    let call_cycles = measure(realm, |realm| {
        let Ok(answer) = echo.small(realm, 7) else { fail("echo failed") };
        if answer != 7 {
            fail("echo answered another value");
        }
    });
    let timeout_cycles = measure(realm, |realm| {
        let second = core::time::Duration::from_secs(1);
        let Ok(answer) = realm.with_deadline(second, |realm| echo.small(realm, 7)) else {
            fail("echo failed")
        };
        if answer != 7 {
            fail("echo answered another value");
        }
    });
    println!(
        realm,
        "{:<20} {call_cycles:>6}   {timeout_cycles:>36}   {}",
        "interface u64 -> u64",
        ratio(timeout_cycles, call_cycles)
    );

    intra_realm_rows(realm, raw.endpoint());

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

/// One row of the round-trip table.
fn row(realm: &mut Realm, label: &str, words: usize, raw: u64, typed: u64, target: &str) {
    println!(
        realm,
        "{label:<30} {words:>5} {raw:>10}   {typed:>9}   {}   {target}",
        ratio(typed, raw)
    );
}

/// The echo thread of this realm for the intra-realm rows: answers every message on its inbox
/// with the same words, with nothing but seL4 ReplyRecv, as `raw-echo` does on its service's
/// endpoint (the same code: `bench/realms/bench-raw-echo`).
fn inbox_echo(realm: &mut Realm) {
    let inbox = realm.inbox(realm.thread());
    let buffer = realm.ipc_buffer();
    let mut received = inbox.recv(buffer);
    loop {
        // The words are still in the buffer: reply with the same label-0 message.
        let echo =
            MessageInfo::new(0, 0, received.info.length()).unwrap_or(MessageInfo::from_word(0));
        received = inbox.reply_recv(buffer, echo);
    }
}

/// Issue 14's rows: the raw round trip to a thread of this realm (the main thread calls the
/// inbox of a spawned thread running [`inbox_echo`]) next to the raw round trip to another
/// realm (`raw-echo`, over the broker-minted cap), the same words with the same calls,
/// measured one after the other in this run. Both echo servers run at this realm's priority.
fn intra_realm_rows(realm: &mut Realm, inter: Endpoint) {
    let echo = realm.spawn(inbox_echo).expect("spawning the inbox echo thread");
    let inbox = realm.inbox(echo.thread());
    echo.detach(realm).expect("detaching the inbox echo thread");
    println!(realm, "intra-realm round trip, cycles (median of {BATCHES} batches of {ROUNDS})");
    println!(
        realm,
        "operation                      words   inter-realm raw   intra-realm raw   ratio    target"
    );
    let (inter_cycles, words) = raw_round_trip(realm, inter, &7u64);
    let (intra_cycles, _) = raw_round_trip(realm, inbox, &7u64);
    intra_row(realm, "raw u64 echo", words, inter_cycles, intra_cycles);
    let large = [u64::MAX; 8];
    let (inter_cycles, words) = raw_round_trip(realm, inter, &large);
    let (intra_cycles, _) = raw_round_trip(realm, inbox, &large);
    intra_row(realm, "raw [u64; 8] echo", words, inter_cycles, intra_cycles);
}

/// One row of the intra-realm table (target: at most 1.05 times the inter-realm round trip).
fn intra_row(realm: &mut Realm, label: &str, words: usize, inter: u64, intra: u64) {
    println!(
        realm,
        "{label:<30} {words:>5} {inter:>17}   {intra:>15}   {}   1.05",
        ratio(intra, inter)
    );
}
