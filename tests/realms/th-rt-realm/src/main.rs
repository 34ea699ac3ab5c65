//! Test realms for the runtime's threads (tests/threads_rt.rs, tests/systems/th-rt.toml), by
//! name:
//!
//! - `workers` serves "work" (`Echo`) with four threads on one endpoint: its main thread and
//!   three workers built on the main thread's registration. Each answers `value + 1_000_000 *
//!   its thread id`, after asking the memory manager who the caller is (a call of its own
//!   while its caller's reply capability waits in its thread).
//! - `router` serves "routed" (`Echo`) through a router on its main thread and two handler
//!   threads, routed by connection; each handler answers `value + 1_000_000 * its thread id`.
//! - `basics` spawns and joins, runs into its `max_threads` (4), spawns and joins 100 times and
//!   compares its usage before and after, calls a thread that serves `Echo` on its inbox (typed
//!   and raw), calls the inbox of an index never spawned, then returns from main with that
//!   server thread still running (the realm's abort path stops it).
//! - `client-a`, `client-b` call "work" 200 times each and "routed" through two connections,
//!   20 calls each, and print which threads answered.
//! - `fragile` serves "fragile" as `router` serves "routed", with `on_thread_fault =
//!   "stop-thread"`; a handler panics on the value [`CRASH`].
//! - `client-c` opens two connections to "fragile" (one per handler), makes one handler panic
//!   through the first, then calls through the second.
//! - `relay` serves "th-relay" ([`Relay`]) through a router by operation: `wait` and
//!   `release` go to one handler, which defers each `wait` and answers it at the matching
//!   `release`; `which` goes to the other handler.
//! - `client-d` asks `which`, then waits on ticket 7; `client-e` releases ticket 7 with 77
//!   (trying again every millisecond until `client-d` waits).
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use realm_runtime::interface::Deferrable;
use realm_runtime::ipc::abi::label;
use realm_runtime::sel4::MessageInfo;
use realm_runtime::{
    Call, CallError, Deferred, Realm, Server, ThreadEnding, ThreadError, ThreadId, println, router,
};
use test_protocols::{CRASH, Echo, EchoServer};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "workers" => workers(realm),
        "router" => routed(realm),
        "basics" => basics(realm),
        "client-a" | "client-b" => client(realm),
        "fragile" => fragile(realm),
        "client-c" => client_c(realm),
        "relay" => relay(realm),
        "client-d" => client_d(realm),
        "client-e" => client_e(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

/// What a thread answers: the value, and which thread answered, in one number.
fn answer(realm: &Realm, value: u64) -> u64 {
    value + 1_000_000 * u64::from(realm.thread().get())
}

/// A worker of "work" (see the module doc).
struct Worker;

impl EchoServer for Worker {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        let caller = call.caller();
        // A call to the memory manager from the handler: the caller keeps waiting for this
        // thread's reply meanwhile.
        match call.peer(caller) {
            Ok(_) => answer(call, value),
            Err(_) => 0,
        }
    }
}

fn workers(realm: &mut Realm) {
    let server = match Server::new(Worker).serve::<Echo>(realm, "work") {
        Ok(server) => server,
        Err(error) => return println!(realm, "work: register failed: {error}"),
    };
    let Some(registration) = server.registration() else {
        return println!(realm, "work: no registration");
    };
    for _ in 0..3 {
        let spawned =
            realm.spawn(move |realm: &mut Realm| Server::worker(registration, Worker).run(realm));
        match spawned {
            Ok(worker) => {
                let thread = worker.thread();
                let detached = worker.detach(realm);
                println!(realm, "worker {thread} started, detached: {detached:?}");
            }
            Err(error) => println!(realm, "a worker did not start: {error}"),
        }
    }
    server.run(realm)
}

/// A handler of "routed" (see the module doc).
struct Handler;

impl EchoServer for Handler {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        answer(call, value)
    }
}

fn routed(realm: &mut Realm) {
    let registration = match Server::new(Handler).serve::<Echo>(realm, "routed") {
        Ok(server) => server.registration(),
        Err(error) => return println!(realm, "routed: register failed: {error}"),
    };
    let Some(registration) = registration else {
        return println!(realm, "routed: no registration");
    };
    let mut handlers = [ThreadId::MAIN; 2];
    for handler in &mut handlers {
        let spawned =
            realm.spawn(move |realm: &mut Realm| Server::handler(registration, Handler).run(realm));
        match spawned {
            Ok(spawned) => {
                *handler = spawned.thread();
                let _ = spawned.detach(realm);
            }
            Err(error) => return println!(realm, "a handler did not start: {error}"),
        }
    }
    println!(realm, "routing to threads {} and {}", handlers[0], handlers[1]);
    router::run(realm, registration, router::by_connection(&handlers))
}

/// Where the spawned threads of `basics` leave what they saw.
static SEEN: AtomicU64 = AtomicU64::new(0);

/// Serves `Echo` on its thread's inbox: `2 * value + its thread id`; says whether the call
/// came from a thread of the realm.
struct Doubler;

impl EchoServer for Doubler {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        let intra = u64::from(call.caller().intra_realm);
        2 * value + u64::from(call.thread().get()) + 1000 * intra
    }
}

fn basics(realm: &mut Realm) {
    println!(realm, "main is thread {}", realm.thread());

    // Spawn and join: the closure runs in the new thread with what it captured.
    let captured = 21u64;
    match realm.spawn(move |realm: &mut Realm| {
        SEEN.store(captured * 2 + 100 * u64::from(realm.thread().get()), Ordering::SeqCst);
    }) {
        Ok(handle) => {
            let thread = handle.thread();
            let ending = handle.join(realm);
            println!(
                realm,
                "spawned thread {thread}, joined: {ending:?}, it saw {}",
                SEEN.load(Ordering::SeqCst)
            );
        }
        Err(error) => println!(realm, "spawn failed: {error:?}"),
    }

    // max_threads = 4: three sleepers and the main thread fill it.
    let mut sleepers = [None, None, None];
    for sleeper in &mut sleepers {
        *sleeper = realm
            .spawn(|realm: &mut Realm| {
                let _ = realm.sleep(Duration::from_millis(100));
            })
            .ok();
    }
    let ids: [Option<ThreadId>; 3] = sleepers.each_ref().map(|s| s.as_ref().map(|h| h.thread()));
    let refused = realm.spawn(|_: &mut Realm| {}).map(|handle| handle.thread());
    let usage = realm.usage().map(|usage| usage.threads);
    println!(realm, "sleepers {ids:?}; one more: {refused:?}; threads: {usage:?}");
    let mut endings = [None, None, None];
    for (ending, sleeper) in endings.iter_mut().zip(sleepers) {
        *ending = sleeper.map(|handle| handle.join(realm));
    }
    let usage = realm.usage().map(|usage| usage.threads);
    println!(realm, "sleepers joined: {endings:?}; threads: {usage:?}");

    // 100 spawn/join cycles cost nothing once the index's objects exist.
    let before = realm.usage();
    let mut exited = 0;
    for _ in 0..100 {
        if let Ok(handle) = realm.spawn(|_: &mut Realm| {})
            && handle.join(realm) == Ok(ThreadEnding::Exited)
        {
            exited += 1;
        }
    }
    let after = realm.usage();
    let same = before.is_ok() && before == after;
    println!(realm, "cycles: {exited} of 100 exited and joined; usage the same: {same}");

    // Call deadlines per thread: a spawned thread's call to a thread that never receives
    // times out at its own deadline, and so does one of the main thread's.
    let deadlines = deadlines(realm);
    println!(realm, "deadlines: {deadlines:?}");

    // A thread serving Echo on its inbox, called typed and raw.
    let server =
        realm.spawn(|realm: &mut Realm| Server::new(Doubler).serve_inbox::<Echo>().run(realm));
    let Ok(server) = server else { return println!(realm, "the inbox server did not start") };
    let thread = server.thread();
    let mut doubler = realm.thread_client::<Echo>(thread);
    let typed: [_; 3] = [5, 6, 7].map(|value| doubler.echo(realm, value));
    println!(realm, "typed calls to thread {thread}: {typed:?}");
    let inbox = realm.inbox(thread);
    let raw = MessageInfo::new(Echo::ECHO, 0, 1).map(|info| {
        realm.ipc_buffer().msg_mut()[0] = 40;
        let reply = inbox.call(realm.ipc_buffer(), info);
        (reply.label() == label::OK, reply.length(), realm.ipc_buffer().msg()[0])
    });
    println!(realm, "raw call to thread {thread}: {raw:?}");
    let nobody = ThreadId::new(15).map(|thread| realm.thread_client::<Echo>(thread).echo(realm, 1));
    println!(realm, "a call to thread 15: {nobody:?}");
    let detached = server.detach(realm);
    println!(realm, "inbox server detached: {detached:?}; main returns");
}

/// What the spawned thread's call with a deadline returned: 1 for `TimedOut`, 2 otherwise.
static TIMED_OUT: AtomicU64 = AtomicU64::new(0);

/// A sleeper (which receives nothing on its inbox for 300 ms) and a thread that calls its
/// inbox with a 20 ms deadline; then the main thread does the same. Returns the spawned
/// thread's outcome, its ending, and the main thread's result.
fn deadlines(
    realm: &mut Realm,
) -> (u64, Option<Result<ThreadEnding, ThreadError>>, Result<u64, CallError>) {
    let sleeper = realm.spawn(|realm: &mut Realm| {
        let _ = realm.sleep(Duration::from_millis(300));
    });
    let Ok(sleeper) = sleeper else { return (0, None, Err(CallError::TimedOut)) };
    let silent = sleeper.thread();
    let caller = realm.spawn(move |realm: &mut Realm| {
        let mut client = realm.thread_client::<Echo>(silent);
        let result = realm.with_deadline(Duration::from_millis(20), |realm| client.echo(realm, 1));
        TIMED_OUT.store(if result == Err(CallError::TimedOut) { 1 } else { 2 }, Ordering::SeqCst);
    });
    let ending = caller.ok().map(|caller| caller.join(realm));
    let mut client = realm.thread_client::<Echo>(silent);
    let main = realm.with_deadline(Duration::from_millis(20), |realm| client.echo(realm, 1));
    let _ = sleeper.join(realm);
    (TIMED_OUT.load(Ordering::SeqCst), ending, main)
}

fn client(realm: &mut Realm) {
    // Workers: every answer right, and which threads gave them (bit t for thread t).
    match realm.connect::<Echo>("work") {
        Ok(mut work) => {
            let (mut right, mut threads) = (0, 0u64);
            for value in 1..=200u64 {
                if let Ok(answer) = work.echo(realm, value)
                    && answer % 1_000_000 == value
                {
                    right += 1;
                    threads |= 1 << (answer / 1_000_000).min(63);
                }
            }
            println!(realm, "work: 200 calls, {right} right, threads {threads:#b}");
        }
        Err(error) => println!(realm, "work: connect failed: {error}"),
    }
    // The router: two connections open at once, each always reaching one handler.
    let (first, second) = (realm.connect::<Echo>("routed"), realm.connect::<Echo>("routed"));
    let (Ok(first), Ok(second)) = (first, second) else {
        return println!(realm, "routed: connect failed");
    };
    for (round, mut routed) in [first, second].into_iter().enumerate() {
        let (mut right, mut threads) = (0, 0u64);
        for value in 1..=20u64 {
            if let Ok(answer) = routed.echo(realm, value)
                && answer % 1_000_000 == value
            {
                right += 1;
                threads |= 1 << (answer / 1_000_000).min(63);
            }
        }
        let connection = routed.connection().id.index();
        println!(
            realm,
            "routed {round} (connection {connection}): 20 calls, {right} right, threads {threads:#b}"
        );
    }
}

/// A handler of "fragile": as [`Handler`], but [`CRASH`] makes it panic.
struct Fragile;

impl EchoServer for Fragile {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        if value == CRASH {
            panic!("fragile handler {} crashes", call.thread());
        }
        answer(call, value)
    }
}

fn fragile(realm: &mut Realm) {
    let registration = match Server::new(Fragile).serve::<Echo>(realm, "fragile") {
        Ok(server) => server.registration(),
        Err(error) => return println!(realm, "fragile: register failed: {error}"),
    };
    let Some(registration) = registration else {
        return println!(realm, "fragile: no registration");
    };
    let mut handlers = [ThreadId::MAIN; 2];
    for handler in &mut handlers {
        let spawned =
            realm.spawn(move |realm: &mut Realm| Server::handler(registration, Fragile).run(realm));
        match spawned {
            Ok(spawned) => {
                *handler = spawned.thread();
                let _ = spawned.detach(realm);
            }
            Err(error) => return println!(realm, "a handler did not start: {error}"),
        }
    }
    router::run(realm, registration, router::by_connection(&handlers))
}

fn client_c(realm: &mut Realm) {
    let (first, second) = (realm.connect::<Echo>("fragile"), realm.connect::<Echo>("fragile"));
    let (Ok(mut first), Ok(mut second)) = (first, second) else {
        return println!(realm, "fragile: connect failed");
    };
    let thread = |answer: Result<u64, _>| answer.map(|answer| answer / 1_000_000);
    let (one, other) = (thread(first.echo(realm, 1)), thread(second.echo(realm, 1)));
    println!(realm, "fragile: connections answered by threads {one:?} and {other:?}");
    let crash = first.echo(realm, CRASH);
    println!(realm, "fragile: the crash: {crash:?}");
    let after = second.echo(realm, 2);
    println!(realm, "fragile: after it, the other handler: {after:?}");
}

/// A relay between clients: answers kept for later, through a router.
#[realm_runtime::interface(name = "th-relay")]
pub trait Relay {
    /// Waits until a `release` of `ticket`; answers the value the release gave.
    #[deferrable]
    fn wait(ticket: u64) -> u64;
    /// Answers the caller waiting on `ticket` with `value`; how many were waiting (0 or 1).
    fn release(ticket: u64, value: u64) -> u32;
    /// The thread that answers.
    fn which() -> u64;
}

/// A handler of "th-relay": the one caller it keeps waiting.
#[derive(Default)]
struct Relayer {
    waiting: Option<(u64, Deferred<u64>)>,
}

impl RelayServer for Relayer {
    fn wait(&mut self, call: &mut Call<'_>, ticket: u64) -> Deferrable<u64> {
        if self.waiting.is_some() {
            return Deferrable::Now(0);
        }
        match call.defer::<u64>() {
            Ok(deferred) => {
                self.waiting = Some((ticket, deferred));
                Deferrable::Later
            }
            Err(_) => Deferrable::Now(0),
        }
    }

    fn release(&mut self, call: &mut Call<'_>, ticket: u64, value: u64) -> u32 {
        match self.waiting.take() {
            Some((waiting, deferred)) if waiting == ticket => {
                call.answer(deferred, value);
                1
            }
            other => {
                self.waiting = other;
                0
            }
        }
    }

    fn which(&mut self, call: &mut Call<'_>) -> u64 {
        u64::from(call.thread().get())
    }
}

fn relay(realm: &mut Realm) {
    let registration = match Server::new(Relayer::default()).serve::<Relay>(realm, "th-relay") {
        Ok(server) => server.registration(),
        Err(error) => return println!(realm, "th-relay: register failed: {error}"),
    };
    let Some(registration) = registration else {
        return println!(realm, "th-relay: no registration");
    };
    let mut handlers = [ThreadId::MAIN; 2];
    for handler in &mut handlers {
        let spawned = realm.spawn(move |realm: &mut Realm| {
            Server::handler(registration, Relayer::default()).run(realm)
        });
        match spawned {
            Ok(spawned) => {
                *handler = spawned.thread();
                let _ = spawned.detach(realm);
            }
            Err(error) => return println!(realm, "a handler did not start: {error}"),
        }
    }
    let [keeper, other] = handlers;
    let table = [(Relay::WAIT, keeper), (Relay::RELEASE, keeper), (Relay::WHICH, other)];
    router::run(realm, registration, router::by_operation(&table, keeper))
}

fn client_d(realm: &mut Realm) {
    let Ok(mut relay) = realm.connect::<Relay>("th-relay") else {
        return println!(realm, "th-relay: connect failed");
    };
    let which = relay.which(realm);
    println!(realm, "relay: which answered {which:?}");
    let waited = relay.wait(realm, 7);
    println!(realm, "relay: wait(7) answered {waited:?}");
}

fn client_e(realm: &mut Realm) {
    let Ok(mut relay) = realm.connect::<Relay>("th-relay") else {
        return println!(realm, "th-relay: connect failed");
    };
    for _ in 0..2000 {
        match relay.release(realm, 7, 77) {
            Ok(0) => {
                let _ = realm.sleep(Duration::from_millis(1));
            }
            released => return println!(realm, "relay: release(7, 77) answered {released:?}"),
        }
    }
    println!(realm, "relay: nobody waited on ticket 7");
}
