//! Test realms for threads inside a realm (tests/threads.rs; systems
//! tests/systems/threads.toml and tests/systems/threads-faults.toml), by name. The interfaces
//! are in [`protocol`].
//!
//! tests/systems/threads.toml:
//! - `cycler` (the root, above every other realm: nothing else runs while it measures)
//!   spawns and joins a thread 1 + 1,000 times and reports the memory manager's `Resources`
//!   and its own `Usage` before the first spawn, after the first cycle and after the last.
//! - `oracle` serves "oracle" (`th-oracle`), which the workers call from inside requests.
//! - `server` registers "work" (`th-work`) once and runs 4 worker threads on it, each with its
//!   own `Server` and its own connection to "oracle"; it counts per worker what each served
//!   and reports the counts once every client said it is done.
//! - `c1` .. `c4` each make 2,500 `compute` calls to "work", check every answer and report.
//! - `quota` (`max_threads = 3`) spawns one thread more than it may, then storms.
//! - `joiner` (`on_thread_fault = "stop-thread"`) sends hostile thread requests, raw: joins
//!   of ids never spawned, of itself, of the main thread, twice, by two threads, after a
//!   detach, ids of 16 and more; and joins threads that fault, panic and overflow their stack.
//! - `intra` serves `th-calc` on a spawned thread's inbox and calls it from its main thread.
//! - `router-op` and `router-conn` route "routed-op" and "routed-conn" (`th-route`) to two
//!   handler threads, by operation and by connection; `rc-a` and `rc-b` call them.
//!
//! tests/systems/threads-faults.toml:
//! - `sr-server` (`on_thread_fault` by default: `stop-realm`) and `st-server`
//!   (`"stop-thread"`) run 4 workers of `th-hold` each ("sr-hold", "st-hold"); `sr-c1` ..
//!   `sr-c4` each call `hold` (one per worker; the worker with the fourth faults); `st-a`
//!   makes a worker fault, `st-b` one panic, `st-c` and `st-d` keep calling.
//! - `holder` runs 2 workers of "held" (`th-hold`); `h-client` makes one end its thread
//!   while holding the call, is served by the other, then releases the main thread, which
//!   ends the realm with `ExitThread`.
//!
//! Every result the suite checks is printed as one line `report <kind> key=value ...`
//! (values without spaces; a `Debug` of an error, if any, follows ` -- `), from the values the
//! calls returned.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

mod protocol;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use protocol::{
    Calc, CalcServer, HELD_TOGETHER, Hold, HoldServer, NEGATE, ORACLE_EVERY, Oracle, OracleClient,
    OracleServer, Route, RouteServer, SQUARE, Work, WorkServer, answer,
};
use realm_runtime::interface::Interface;
use realm_runtime::ipc::abi::slot;
use realm_runtime::ipc::realm::{RealmReply, RealmResponse, decode_realm_reply};
use realm_runtime::ipc::{Field, Malformed, Missing, Resource};
use realm_runtime::sel4::cap::Endpoint;
use realm_runtime::{
    Call, CallError, Error, JoinHandle, Realm, Server, ThreadEnding, ThreadError, ThreadId,
    println, router,
};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "cycler" => cycler(realm),
        "oracle" => oracle(realm),
        "server" => work_server(realm),
        "c1" => work_client(realm, 1),
        "c2" => work_client(realm, 2),
        "c3" => work_client(realm, 3),
        "c4" => work_client(realm, 4),
        "quota" => quota(realm),
        "joiner" => joiner(realm),
        "intra" => intra(realm),
        "router-op" => route(realm, "routed-op", false),
        "router-conn" => route(realm, "routed-conn", true),
        "rc-a" => routed_by_operation(realm),
        "rc-b" => routed_by_connection(realm),
        "sr-server" => hold_server(realm, "sr-hold", 4),
        "st-server" => hold_server(realm, "st-hold", 4),
        "holder" => hold_server(realm, "held", 2),
        "sr-c1" | "sr-c2" | "sr-c3" | "sr-c4" => held_client(realm, name.as_str()),
        "st-a" | "st-b" | "st-c" | "st-d" => sturdy_client(realm, name.as_str()),
        "h-client" => holder_client(realm),
        _ => println!(realm, "has no part in this test"),
    }
}

/// Connects to `service` as a client of `I`, waiting (up to 4 s) while it is not registered
/// yet.
fn connect<I: Interface>(realm: &mut Realm, service: &str) -> Result<I::Client, Error>
where
    I::Client: From<realm_runtime::Client<I>>,
{
    let mut tries = 0;
    loop {
        match realm.connect::<I>(service) {
            Err(Error::Refused(realm_runtime::ipc::Error::NotYetRegistered)) if tries < 800 => {
                tries += 1;
                let _ = realm.sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// `ending`'s name, as the suite reads it.
fn ending_name(ending: ThreadEnding) -> &'static str {
    ending.name()
}

/// The word the suite reads for a spawn's result: `spawned`, `quota-threads` (refused for
/// `max_threads`), or `other`.
fn spawn_outcome(result: &Result<JoinHandle, ThreadError>) -> &'static str {
    match result {
        Ok(_) => "spawned",
        Err(ThreadError::Refused(realm_runtime::ipc::Error::QuotaExceeded {
            what: Resource::Threads,
        })) => "quota-threads",
        Err(_) => "other",
    }
}

/// The word the suite reads for a join's result: the ending's name, `not-found-thread`, or
/// `other`.
fn join_outcome(result: &Result<ThreadEnding, ThreadError>) -> &'static str {
    match result {
        Ok(ending) => ending_name(*ending),
        Err(ThreadError::Refused(realm_runtime::ipc::Error::NotFound {
            what: Missing::Thread,
        })) => "not-found-thread",
        Err(_) => "other",
    }
}

/// The word the suite reads for a call's result: `answered`, `timed-out` (no answer by the
/// deadline the caller set: the case the suite guards against, a caller left waiting), or
/// `error` (any other error: the call came back unanswered).
fn call_outcome<T>(result: &Result<T, CallError>) -> &'static str {
    match result {
        Ok(_) => "answered",
        Err(CallError::TimedOut) => "timed-out",
        Err(_) => "error",
    }
}

/// How long a call that must come back unanswered may wait before the suite calls it a hang.
const HANG: Duration = Duration::from_secs(5);

/// Sleeps `milliseconds` (a failed sleep is retried as a yield: the waits here only order
/// threads).
fn pause(realm: &mut Realm, milliseconds: u64) {
    if realm.sleep(Duration::from_millis(milliseconds)).is_err() {
        realm_runtime::sel4::ipc::yield_now();
    }
}

// ---------------------------------------------------------------------------------------
// cycler: 1,000 spawn/join cycles

fn cycler(realm: &mut Realm) {
    const CYCLES: u32 = 1000;
    let before = (realm.resources(), realm.usage());
    let warm_up = realm.spawn(|_: &mut Realm| {}).map(|handle| handle.join(realm));
    let warm = (realm.resources(), realm.usage());
    let (mut exited, mut failed) = (0u32, 0u32);
    for _ in 0..CYCLES {
        match realm.spawn(|_: &mut Realm| {}) {
            Ok(handle) => match handle.join(realm) {
                Ok(ThreadEnding::Exited) => exited += 1,
                _ => failed += 1,
            },
            Err(_) => failed += 1,
        }
    }
    let after = (realm.resources(), realm.usage());
    let warm_up = match warm_up {
        Ok(Ok(ending)) => ending_name(ending),
        _ => "failed",
    };
    println!(
        realm,
        "report cycles warm-up={warm_up} cycles={CYCLES} exited={exited} failed={failed}"
    );
    for (stage, (resources, usage)) in [("before", before), ("warm", warm), ("after", after)] {
        match (resources, usage) {
            (Ok((bytes, slots)), Ok(usage)) => println!(
                realm,
                "report cycles-figures stage={stage} free-bytes={bytes} free-slots={slots} budget-free-bytes={} object-slots-free={} threads={}",
                usage.budget_free_bytes,
                usage.object_slots_free,
                usage.threads
            ),
            (resources, usage) => println!(
                realm,
                "report cycles-figures stage={stage} failed -- {resources:?} {usage:?}"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// oracle

struct Sage;

impl OracleServer for Sage {
    fn answer(&mut self, _call: &mut Call<'_>, client: u64, x: u64) -> u64 {
        answer(client, x)
    }
}

fn oracle(realm: &mut Realm) {
    match Server::new(Sage).serve::<Oracle>(realm, "oracle") {
        Ok(server) => server.run(realm),
        Err(error) => println!(realm, "cannot serve oracle: {error:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// server: 4 workers on one endpoint

/// Requests served, by worker thread id.
static SERVED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
/// Oracle calls answered, by worker thread id.
static ORACLE_CALLS: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
/// Clients that said they are done.
static DONE: AtomicU64 = AtomicU64::new(0);

/// How many clients `done` waits for.
const WORK_CLIENTS: u64 = 4;
/// Calls each client makes.
const WORK_CALLS: u64 = 2500;

/// One worker's state: its thread id and its own connection to the oracle.
struct Worker {
    thread: usize,
    oracle: Option<OracleClient>,
}

impl WorkServer for Worker {
    fn compute(&mut self, call: &mut Call<'_>, client: u64, x: u64) -> [u64; 2] {
        let thread = self.thread.min(15);
        SERVED[thread].fetch_add(1, Ordering::Relaxed);
        let value = if x.is_multiple_of(ORACLE_EVERY) {
            // A call to another service while this worker holds its own caller.
            match self.oracle.as_mut().map(|oracle| oracle.answer(call, client, x)) {
                Some(Ok(value)) => {
                    ORACLE_CALLS[thread].fetch_add(1, Ordering::Relaxed);
                    value
                }
                _ => u64::MAX,
            }
        } else {
            answer(client, x)
        };
        [value, thread as u64]
    }

    fn done(&mut self, call: &mut Call<'_>, _client: u64) -> u64 {
        let done = DONE.fetch_add(1, Ordering::AcqRel) + 1;
        if done == WORK_CLIENTS {
            // Every client's calls were answered before it said so: the counts are final.
            let (mut total, mut workers, mut oracle) = (0, 0, 0);
            for (thread, served) in SERVED.iter().enumerate() {
                let served = served.load(Ordering::Acquire);
                let asked = ORACLE_CALLS[thread].load(Ordering::Acquire);
                if served > 0 {
                    println!(
                        call,
                        "report worker thread={thread} served={served} oracle-calls={asked}"
                    );
                    workers += 1;
                }
                total += served;
                oracle += asked;
            }
            println!(
                call,
                "report work-tally total={total} workers={workers} oracle-calls={oracle}"
            );
        }
        done
    }
}

fn work_server(realm: &mut Realm) {
    let server = match Server::new(Worker { thread: 0, oracle: None }).serve::<Work>(realm, "work")
    {
        Ok(server) => server,
        Err(error) => return println!(realm, "cannot serve work: {error:?}"),
    };
    let Some(registration) = server.registration() else {
        return println!(realm, "work has no registration");
    };
    let mut handles: [Option<JoinHandle>; 4] = [None, None, None, None];
    for handle in &mut handles {
        let worker = move |realm: &mut Realm| {
            let oracle = connect::<Oracle>(realm, "oracle").ok();
            let thread = usize::from(realm.thread().get());
            Server::worker(registration, Worker { thread, oracle }).run(realm)
        };
        match realm.spawn(worker) {
            Ok(spawned) => *handle = Some(spawned),
            Err(error) => println!(realm, "report work-server spawn=failed -- {error:?}"),
        }
    }
    let spawned = handles.iter().flatten().count();
    println!(realm, "report work-server workers={spawned}");
    // The workers serve until the run ends; the main thread waits for the first. The realm
    // only serves once its main thread says so (a run `until-idle` then stops it at the end).
    realm.announce_serving();
    if let Some(first) = handles.into_iter().flatten().next() {
        let ending = first.join(realm);
        println!(realm, "report work-server first-worker={}", join_outcome(&ending));
    }
}

fn work_client(realm: &mut Realm, client: u64) {
    let mut work = match connect::<Work>(realm, "work") {
        Ok(work) => work,
        Err(error) => {
            return println!(
                realm,
                "report work-client client={client} connect=failed -- {error:?}"
            );
        }
    };
    let (mut right, mut wrong, mut failed, mut seen) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..WORK_CALLS {
        let x = client * 1_000_000 + i;
        match work.compute(realm, client, x) {
            Ok([value, thread]) if value == answer(client, x) && thread < 16 => {
                right += 1;
                seen |= 1 << thread;
            }
            Ok(_) => wrong += 1,
            Err(_) => failed += 1,
        }
    }
    println!(
        realm,
        "report work-client client={client} calls={WORK_CALLS} right={right} wrong={wrong} failed={failed} workers-seen={seen:#x}"
    );
    match work.done(realm, client) {
        Ok(done) => println!(realm, "report work-done client={client} done={done}"),
        Err(error) => println!(realm, "report work-done client={client} done=failed -- {error:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// quota: max_threads = 3

fn quota(realm: &mut Realm) {
    const STORM: u32 = 40;
    let slow = realm.spawn(|realm: &mut Realm| pause(realm, 30));
    let quick = realm.spawn(|_: &mut Realm| {});
    let threads = realm.usage().map_or(0, |usage| usage.threads);
    // The main thread and two more: one more is refused.
    let one_more = realm.spawn(|_: &mut Realm| {});
    println!(
        realm,
        "report quota-one-more first={} second={} threads={threads} third={}",
        spawn_outcome(&slow),
        spawn_outcome(&quick),
        spawn_outcome(&one_more)
    );
    if let Err(error) = &one_more {
        println!(realm, "report quota-one-more-error -- {error:?}");
    }
    // A storm while at the quota: every spawn refused the same way.
    let (mut spawned, mut refused, mut other) = (0u32, 0u32, 0u32);
    for _ in 0..STORM {
        match realm.spawn(|_: &mut Realm| {}) {
            Ok(handle) => {
                spawned += 1;
                let _ = handle.join(realm);
            }
            Err(ThreadError::Refused(realm_runtime::ipc::Error::QuotaExceeded {
                what: Resource::Threads,
            })) => refused += 1,
            Err(_) => other += 1,
        }
    }
    println!(
        realm,
        "report quota-storm stage=full tries={STORM} spawned={spawned} quota-threads={refused} other={other}"
    );
    // Joined, the two indexes are free again.
    let endings = (slow.map(|handle| handle.join(realm)), quick.map(|handle| handle.join(realm)));
    let (first, second) = match endings {
        (Ok(first), Ok(second)) => (join_outcome(&first), join_outcome(&second)),
        _ => ("none", "none"),
    };
    println!(realm, "report quota-joined first={first} second={second}");
    // A storm from empty: two fit, every later one is refused.
    let mut handles: [Option<JoinHandle>; 4] = [None, None, None, None];
    let (mut spawned, mut refused, mut other) = (0u32, 0u32, 0u32);
    for _ in 0..STORM {
        match realm.spawn(|realm: &mut Realm| pause(realm, 5)) {
            Ok(handle) => {
                spawned += 1;
                match handles.iter_mut().find(|slot| slot.is_none()) {
                    Some(slot) => *slot = Some(handle),
                    None => {
                        let _ = handle.join(realm);
                    }
                }
            }
            Err(ThreadError::Refused(realm_runtime::ipc::Error::QuotaExceeded {
                what: Resource::Threads,
            })) => refused += 1,
            Err(_) => other += 1,
        }
    }
    println!(
        realm,
        "report quota-storm stage=empty tries={STORM} spawned={spawned} quota-threads={refused} other={other}"
    );
    let mut exited = 0;
    for handle in handles.into_iter().flatten() {
        if handle.join(realm) == Ok(ThreadEnding::Exited) {
            exited += 1;
        }
    }
    let threads = realm.usage().map_or(0, |usage| usage.threads);
    println!(realm, "report quota-end joined-exited={exited} threads={threads}");
}

// ---------------------------------------------------------------------------------------
// joiner: hostile thread requests

/// Sends realm request `label` with `words` on this thread's own broker cap, raw, and
/// decodes the reply.
fn raw(realm: &mut Realm, label: u64, words: &[u64]) -> Result<RealmReply, Malformed> {
    let broker = Endpoint::from_cptr(slot::thread(realm.thread()).broker);
    let ipc = realm.ipc_buffer();
    let Ok(info) = ipc.set_message(label, words, &[]) else {
        return Err(Malformed::UnknownLabel { label });
    };
    let reply = broker.call(ipc, info);
    decode_realm_reply(reply.label(), ipc.message(reply))
}

/// The word the suite reads for a raw reply: `joined:<thread>:<ending>`, `done`,
/// `not-found-thread`, `out-of-range-thread:<value>`, or `other`.
fn raw_outcome(reply: &Result<RealmReply, Malformed>) -> heapless::String<48> {
    use core::fmt::Write;
    let mut text = heapless::String::new();
    let _ = match reply {
        Ok(Ok(RealmResponse::Joined { thread, ending })) => {
            write!(text, "joined:{thread}:{}", ending_name(*ending))
        }
        Ok(Ok(RealmResponse::Done)) => write!(text, "done"),
        Ok(Err(realm_runtime::ipc::Error::NotFound { what: Missing::Thread })) => {
            write!(text, "not-found-thread")
        }
        Ok(Err(realm_runtime::ipc::Error::MalformedRequest {
            reason: Malformed::OutOfRange { field: Field::Thread, value },
        })) => write!(text, "out-of-range-thread:{value}"),
        _ => write!(text, "other"),
    };
    text
}

/// `Join` (46) and `Detach` (47) as raw labels.
const JOIN: u64 = 46;
const DETACH: u64 = 47;

/// Prints case `case`'s outcome (and the reply's `Debug`).
fn case(realm: &mut Realm, case: &str, reply: Result<RealmReply, Malformed>) {
    let outcome = raw_outcome(&reply);
    let thread = realm.thread();
    println!(realm, "report case name={case} from={thread} result={outcome} -- {reply:?}");
}

/// Recurses until the stack runs into its guard page (each frame keeps 512 bytes).
#[inline(never)]
fn deep(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if depth == 0 { frame[1] } else { deep(depth - 1).wrapping_add(frame[63]) }
}

/// A thread that joins `target` (another thread), then reports.
static JOIN_TARGET: AtomicU64 = AtomicU64::new(0);

fn joiner(realm: &mut Realm) {
    // Ids never spawned, the main thread, and ids of 16 and more.
    let reply = raw(realm, JOIN, &[7]);
    case(realm, "join-never-spawned", reply);
    let reply = raw(realm, JOIN, &[0]);
    case(realm, "join-main-from-main", reply);
    let reply = raw(realm, DETACH, &[0]);
    case(realm, "detach-main", reply);
    for (name, label, word) in [
        ("join-16", JOIN, 16),
        ("join-255", JOIN, 255),
        ("join-max", JOIN, u64::MAX),
        ("detach-16", DETACH, 16),
    ] {
        let reply = raw(realm, label, &[word]);
        case(realm, name, reply);
    }

    // A thread joining itself and the main thread.
    let selfish = realm.spawn(|realm: &mut Realm| {
        let me = u64::from(realm.thread().get());
        let reply = raw(realm, JOIN, &[me]);
        case(realm, "join-itself", reply);
        let reply = raw(realm, JOIN, &[0]);
        case(realm, "join-main-from-thread", reply);
    });
    if let Ok(handle) = selfish {
        let ending = handle.join(realm);
        println!(realm, "report case name=selfish-joined result={}", join_outcome(&ending));
    }

    // Joined twice.
    if let Ok(handle) = realm.spawn(|_: &mut Realm| {}) {
        let thread = u64::from(handle.thread().get());
        let first = handle.join(realm);
        println!(realm, "report case name=join-first result={}", join_outcome(&first));
        let reply = raw(realm, JOIN, &[thread]);
        case(realm, "join-twice", reply);
    }

    // Two joiners: a thread joins a slow one, then the main thread tries.
    if let Ok(slow) = realm.spawn(|realm: &mut Realm| pause(realm, 100)) {
        let target = u64::from(slow.thread().get());
        JOIN_TARGET.store(target, Ordering::Release);
        let other = realm.spawn(|realm: &mut Realm| {
            let target = JOIN_TARGET.load(Ordering::Acquire);
            let reply = raw(realm, JOIN, &[target]);
            case(realm, "join-by-first-joiner", reply);
        });
        pause(realm, 20);
        let reply = raw(realm, JOIN, &[target]);
        case(realm, "join-by-second-joiner", reply);
        if let Ok(other) = other {
            let ending = other.join(realm);
            println!(realm, "report case name=first-joiner-ended result={}", join_outcome(&ending));
        }
        // The slow thread's index went back with the first joiner's answer.
        let _ = slow;
    }

    // Detach, then join.
    if let Ok(detached) = realm.spawn(|realm: &mut Realm| pause(realm, 30)) {
        let thread = u64::from(detached.thread().get());
        let _ = detached;
        let reply = raw(realm, DETACH, &[thread]);
        case(realm, "detach", reply);
        let reply = raw(realm, JOIN, &[thread]);
        case(realm, "join-after-detach", reply);
        let reply = raw(realm, DETACH, &[thread]);
        case(realm, "detach-twice", reply);
        pause(realm, 80);
        let threads = realm.usage().map_or(0, |usage| usage.threads);
        println!(realm, "report case name=detached-freed threads={threads}");
    }

    // Threads that fault, panic and overflow their stack while the main thread joins them.
    if let Ok(handle) = realm.spawn(|realm: &mut Realm| {
        pause(realm, 20);
        realm_runtime::stop()
    }) {
        let thread = handle.thread();
        let ending = handle.join(realm);
        println!(
            realm,
            "report case name=join-faulting thread={thread} result={}",
            join_outcome(&ending)
        );
    }
    if let Ok(handle) = realm.spawn(|_: &mut Realm| panic!("a thread of joiner panics on purpose"))
    {
        let thread = handle.thread();
        let ending = handle.join(realm);
        println!(
            realm,
            "report case name=join-panicking thread={thread} result={}",
            join_outcome(&ending)
        );
    }
    if let Ok(handle) = realm.spawn(|realm: &mut Realm| {
        let depth = core::hint::black_box(1u64 << 20);
        let sum = deep(depth);
        println!(realm, "report case name=overflow-survived sum={sum}");
    }) {
        let thread = handle.thread();
        let ending = handle.join(realm);
        println!(
            realm,
            "report case name=join-overflowing thread={thread} result={}",
            join_outcome(&ending)
        );
    }

    // After all this, the realm is whole: one thread, and a spawn works.
    let threads = realm.usage().map_or(0, |usage| usage.threads);
    let last = realm.spawn(|_: &mut Realm| {}).map(|handle| handle.join(realm));
    let last = match last {
        Ok(ending) => join_outcome(&ending),
        Err(_) => "spawn-failed",
    };
    println!(realm, "report case name=after-all threads={threads} result={last}");
}

// ---------------------------------------------------------------------------------------
// intra: a typed call between two threads of one realm

/// The inbox server's state: the id of its thread.
struct Calculator {
    thread: u64,
}

impl CalcServer for Calculator {
    fn mul(&mut self, _call: &mut Call<'_>, a: u64, b: u64) -> u64 {
        a.wrapping_mul(b).wrapping_add(1)
    }

    fn whoami(&mut self, _call: &mut Call<'_>) -> u64 {
        self.thread
    }
}

fn intra(realm: &mut Realm) {
    const CALLS: u64 = 100;
    let spawned = realm.spawn(|realm: &mut Realm| {
        let thread = u64::from(realm.thread().get());
        Server::new(Calculator { thread }).serve_inbox::<Calc>().run(realm)
    });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(error) => return println!(realm, "report intra spawn=failed -- {error:?}"),
    };
    let thread = handle.thread();
    let mut calc = realm.thread_client::<Calc>(thread);
    let mut right = 0;
    for a in 0..CALLS {
        if calc.mul(realm, a, a + 3) == Ok(a * (a + 3) + 1) {
            right += 1;
        }
    }
    let whoami = calc.whoami(realm);
    let whoami = whoami.map_or(u64::MAX, |thread| thread);
    println!(
        realm,
        "report intra calls={CALLS} right={right} server-thread={thread} whoami={whoami} caller-thread={}",
        realm.thread()
    );
    // An index never spawned: an error at once, not a hang.
    let nobody = ThreadId::new(9).unwrap_or(ThreadId::MAIN);
    let mut nobody = realm.thread_client::<Calc>(nobody);
    let result = realm.with_deadline(HANG, |realm| nobody.whoami(realm));
    let outcome = call_outcome(&result);
    println!(realm, "report intra-unspawned result={outcome} -- {result:?}");
    // The serving thread goes with the realm when main returns.
    let _ = handle.detach(realm);
}

// ---------------------------------------------------------------------------------------
// router-op, router-conn: a router thread and two handler threads

/// A handler's state: the id of its thread.
struct Handler {
    thread: u64,
}

impl RouteServer for Handler {
    fn square(&mut self, _call: &mut Call<'_>, x: u64) -> [u64; 2] {
        [x.wrapping_mul(x), self.thread]
    }

    fn negate(&mut self, _call: &mut Call<'_>, x: u64) -> [u64; 2] {
        [!x, self.thread]
    }
}

fn route(realm: &mut Realm, service: &str, by_connection: bool) {
    let server = match Server::new(Handler { thread: 0 }).serve::<Route>(realm, service) {
        Ok(server) => server,
        Err(error) => return println!(realm, "cannot serve {service}: {error:?}"),
    };
    let Some(registration) = server.registration() else {
        return println!(realm, "{service} has no registration");
    };
    let mut handlers = [ThreadId::MAIN; 2];
    for handler in &mut handlers {
        let spawned = realm.spawn(move |realm: &mut Realm| {
            let thread = u64::from(realm.thread().get());
            Server::handler(registration, Handler { thread }).run(realm)
        });
        match spawned.and_then(|handle| {
            let thread = handle.thread();
            handle.detach(realm).map(|()| thread)
        }) {
            Ok(thread) => *handler = thread,
            Err(error) => return println!(realm, "report router spawn=failed -- {error:?}"),
        }
    }
    let [first, second] = handlers;
    let mode = if by_connection { "connection" } else { "operation" };
    println!(realm, "report router mode={mode} first={first} second={second}");
    if by_connection {
        router::run(realm, registration, router::by_connection(&handlers))
    } else {
        let table = [(SQUARE, first), (NEGATE, second)];
        router::run(realm, registration, router::by_operation(&table, first))
    }
}

/// Bit `thread` of a mask of handler threads (bit 16 for an id out of range).
fn bit(thread: u64) -> u64 {
    1 << thread.min(16)
}

fn routed_by_operation(realm: &mut Realm) {
    const CALLS: u64 = 200;
    let mut routed = match connect::<Route>(realm, "routed-op") {
        Ok(routed) => routed,
        Err(error) => return println!(realm, "report routed-op connect=failed -- {error:?}"),
    };
    let (mut right, mut squares, mut negates) = (0u64, 0u64, 0u64);
    for x in 0..CALLS {
        if x % 2 == 0 {
            if let Ok([value, thread]) = routed.square(realm, x) {
                right += u64::from(value == x * x);
                squares |= bit(thread);
            }
        } else if let Ok([value, thread]) = routed.negate(realm, x) {
            right += u64::from(value == !x);
            negates |= bit(thread);
        }
    }
    println!(
        realm,
        "report routed-op calls={CALLS} right={right} square-handlers={squares:#x} negate-handlers={negates:#x}"
    );
}

fn routed_by_connection(realm: &mut Realm) {
    const CALLS: u64 = 100;
    for connection in 1..=2 {
        let mut routed = match realm.connect::<Route>("routed-conn") {
            Ok(routed) => routed,
            Err(_) => match connect::<Route>(realm, "routed-conn") {
                Ok(routed) => routed,
                Err(error) => {
                    println!(realm, "report routed-conn connect=failed -- {error:?}");
                    continue;
                }
            },
        };
        let index = routed.0.connection().id.index();
        let (mut right, mut handlers) = (0u64, 0u64);
        for x in 0..CALLS {
            let answer = if x % 2 == 0 { routed.square(realm, x) } else { routed.negate(realm, x) };
            if let Ok([value, thread]) = answer {
                let expected = if x % 2 == 0 { x * x } else { !x };
                right += u64::from(value == expected);
                handlers |= bit(thread);
            }
        }
        println!(
            realm,
            "report routed-conn connection={connection} index={index} calls={CALLS} right={right} handlers={handlers:#x}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// sr-server, st-server, holder: workers that fault, panic or end while a caller waits

/// Callers `hold` holds.
static HELD: AtomicU64 = AtomicU64::new(0);
/// Set by `release`: the main thread of `holder` ends the realm.
static RELEASED: AtomicBool = AtomicBool::new(false);

/// A worker of `th-hold`: its thread id.
struct Holder {
    thread: u64,
}

impl HoldServer for Holder {
    fn hold(&mut self, call: &mut Call<'_>) -> u64 {
        let held = HELD.fetch_add(1, Ordering::AcqRel) + 1;
        let thread = self.thread;
        println!(call, "report hold-worker event=holding thread={thread} held={held}");
        while HELD.load(Ordering::Acquire) < HELD_TOGETHER {
            pause(call, 1);
        }
        if held == HELD_TOGETHER {
            println!(call, "report hold-worker event=fault thread={thread}");
            realm_runtime::stop()
        }
        // Hold the caller until the realm stops.
        loop {
            pause(call, 1000);
        }
    }

    fn echo(&mut self, _call: &mut Call<'_>, x: u64) -> [u64; 2] {
        [x.wrapping_add(1), self.thread]
    }

    fn fault(&mut self, call: &mut Call<'_>) -> u64 {
        println!(call, "report hold-worker event=fault thread={}", self.thread);
        realm_runtime::stop()
    }

    fn panic(&mut self, call: &mut Call<'_>) -> u64 {
        println!(call, "report hold-worker event=panic thread={}", self.thread);
        panic!("a worker panics on purpose while its caller waits")
    }

    fn exit(&mut self, call: &mut Call<'_>) -> u64 {
        println!(call, "report hold-worker event=exit thread={}", self.thread);
        call.exit_thread()
    }

    fn release(&mut self, _call: &mut Call<'_>) -> u64 {
        RELEASED.store(true, Ordering::Release);
        0
    }
}

fn hold_server(realm: &mut Realm, service: &str, workers: usize) {
    let server = match Server::new(Holder { thread: 0 }).serve::<Hold>(realm, service) {
        Ok(server) => server,
        Err(error) => return println!(realm, "cannot serve {service}: {error:?}"),
    };
    let Some(registration) = server.registration() else {
        return println!(realm, "{service} has no registration");
    };
    let mut handles: [Option<JoinHandle>; 4] = [None, None, None, None];
    for handle in handles.iter_mut().take(workers) {
        let worker = move |realm: &mut Realm| {
            let thread = u64::from(realm.thread().get());
            Server::worker(registration, Holder { thread }).run(realm)
        };
        match realm.spawn(worker) {
            Ok(spawned) => *handle = Some(spawned),
            Err(error) => println!(realm, "report hold-server spawn=failed -- {error:?}"),
        }
    }
    let spawned = handles.iter().flatten().count();
    println!(realm, "report hold-server service={service} workers={spawned}");
    if service == "held" {
        // Wait for `release`, then end the realm from the main thread with ExitThread.
        while !RELEASED.load(Ordering::Acquire) {
            pause(realm, 2);
        }
        println!(realm, "report hold-server event=main-exit-thread");
        realm.exit_thread()
    }
    // Join the workers in order (a worker that serves until the run ends keeps this waiting);
    // the realm only serves from now on.
    realm.announce_serving();
    for handle in handles.into_iter().flatten() {
        let thread = handle.thread();
        let ending = handle.join(realm);
        println!(realm, "report hold-server joined={thread} ending={}", join_outcome(&ending));
    }
}

/// `sr-c1` .. `sr-c4`: one `hold` each; every one must come back with an error.
fn held_client(realm: &mut Realm, name: &str) {
    let mut hold = match connect::<Hold>(realm, "sr-hold") {
        Ok(hold) => hold,
        Err(error) => {
            return println!(realm, "report held-client name={name} connect=failed -- {error:?}");
        }
    };
    let result = realm.with_deadline(HANG, |realm| hold.hold(realm));
    let outcome = call_outcome(&result);
    println!(realm, "report held-client name={name} hold={outcome} -- {result:?}");
}

/// Echo calls to `hold`: how many were answered right, and the mask of workers that did.
fn echoes(realm: &mut Realm, hold: &mut protocol::HoldClient, calls: u64) -> (u64, u64) {
    let (mut right, mut workers) = (0, 0);
    for x in 0..calls {
        if let Ok([value, thread]) = hold.echo(realm, x) {
            right += u64::from(value == x + 1);
            workers |= bit(thread);
        }
    }
    (right, workers)
}

/// `st-a` makes a worker fault, `st-b` one panic; `st-c` and `st-d` only echo. Each echoes
/// before and after.
fn sturdy_client(realm: &mut Realm, name: &str) {
    let mut hold = match connect::<Hold>(realm, "st-hold") {
        Ok(hold) => hold,
        Err(error) => {
            return println!(realm, "report sturdy-client name={name} connect=failed -- {error:?}");
        }
    };
    let (before, before_workers) = echoes(realm, &mut hold, 20);
    let crash = match name {
        "st-a" => Some(realm.with_deadline(HANG, |realm| hold.fault(realm))),
        "st-b" => Some(realm.with_deadline(HANG, |realm| hold.panic(realm))),
        _ => None,
    };
    let crash = crash.as_ref().map_or("none", call_outcome);
    // Later calls, served by the workers left.
    let (after, after_workers) = echoes(realm, &mut hold, 100);
    println!(
        realm,
        "report sturdy-client name={name} before-right={before} before-workers={before_workers:#x} crash={crash} after-right={after} after-workers={after_workers:#x}"
    );
}

/// `h-client`: a worker ends its thread holding this call; another serves; then the main
/// thread ends the realm.
fn holder_client(realm: &mut Realm) {
    let mut held = match connect::<Hold>(realm, "held") {
        Ok(held) => held,
        Err(error) => return println!(realm, "report holder-client connect=failed -- {error:?}"),
    };
    let exited = realm.with_deadline(HANG, |realm| held.exit(realm));
    let outcome = call_outcome(&exited);
    println!(realm, "report holder-client step=exit result={outcome} -- {exited:?}");
    let (right, workers) = echoes(realm, &mut held, 10);
    println!(realm, "report holder-client step=echo right={right} workers={workers:#x}");
    let released = realm.with_deadline(HANG, |realm| held.release(realm));
    let outcome = call_outcome(&released);
    println!(realm, "report holder-client step=release result={outcome} -- {released:?}");
    pause(realm, 100);
    let after = realm.with_deadline(HANG, |realm| held.echo(realm, 1));
    let outcome = call_outcome(&after);
    println!(realm, "report holder-client step=after-exit result={outcome} -- {after:?}");
}
