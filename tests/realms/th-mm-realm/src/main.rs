//! The memory manager's side of threads on the real kernel (tests/th_mm.rs,
//! tests/systems/th-mm.toml). Threads are spawned with the runtime (`Realm::spawn`); what
//! the runtime's handles cannot ask (a join of the main thread, of an index never spawned, a
//! second join) goes as raw realm requests (`ipc::realm`) on the main thread's broker cap.
//! Every check panics on a wrong answer (the test sees the panic event).
//!
//! - `th-mm-threads` (`max_threads = 3`, `stop-thread`): two workers asleep at once (each in
//!   its own parked reply slot while the main thread is parked joining), the quota, join
//!   refusals, 200 spawn/join cycles that leave the realm's budget and slots as they were, a
//!   detach, a stack overflow into a worker's guard page (joined as `Faulted`, the realm goes
//!   on), a worker's panic (joined as `Panicked`), and call deadlines per thread: a worker's
//!   20 ms call and the main thread's 100 ms call to a third thread's inbox, which nobody
//!   serves, each time out at its own deadline.
//! - `th-mm-budget`: a first spawn its spent budget cannot hold is refused with the limit
//!   and leaves nothing.
//! - `th-mm-crash` (`stop-realm`, no service): a worker's fault stops the realm.
//! - `th-mm-abort` (`stop-realm`, owns a service): a worker's fault aborts the realm, which
//!   sends every live thread (the main thread parked in a join, a sleeping worker, the
//!   faulted one) to its abort entry, and stops only once each of them has reported.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use realm_runtime::ipc::abi;
use realm_runtime::ipc::realm::{RealmRequest, RealmResponse, decode_realm_reply};
use realm_runtime::ipc::{Error, Missing, Resource};
use realm_runtime::sel4::MessageInfo;
use realm_runtime::sel4::syscall::{self, Registers};
use realm_runtime::{CallError, Realm, ThreadEnding, ThreadError, ThreadId, println};
use test_protocols::Echo;

realm_runtime::main!(main);

/// Work the sleepers did (each adds one).
static DONE: AtomicU64 = AtomicU64::new(0);
/// The worker's timed-out call: 1 once it returned `TimedOut`, 2 if it returned otherwise.
static WORKER_CALL: AtomicU64 = AtomicU64::new(0);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "th-mm-crash" => crash(realm),
        "th-mm-abort" => abort(realm),
        "th-mm-budget" => budget(realm),
        _ => threads(realm),
    }
}

/// Sleeps (no time, then `milliseconds`), then counts itself done.
fn sleeper(realm: &mut Realm, milliseconds: u64) {
    realm.sleep(Duration::ZERO).expect("a sleep of no time");
    realm.sleep(Duration::from_millis(milliseconds)).expect("a sleep");
    DONE.fetch_add(1, Ordering::SeqCst);
}

/// Recurses until the stack runs into its guard page (`ipc::abi::thread`: unmapped below
/// every spawned thread's stack), which faults; each frame writes its 512 bytes, so the
/// first write below the stack is in the guard page.
fn overflow(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return frame[0];
    }
    overflow(depth + 1).wrapping_add(core::hint::black_box(frame)[63])
}

fn faulter(_: &mut Realm) {
    let depth = overflow(0);
    panic!("a recursion of depth {depth} did not overflow the stack");
}

/// One raw realm request on the main thread's broker cap, its reply decoded.
fn request(request: RealmRequest) -> Result<RealmResponse, Error> {
    let message = request.encode();
    let mut registers = Registers { cap_or_badge: abi::slot::BROKER, ..Registers::default() };
    registers.message[..message.words().len()].copy_from_slice(message.words());
    registers.info = MessageInfo::new(message.label(), 0, message.words().len())
        .expect("a realm request fits the registers")
        .word();
    let reply = syscall::syscall(syscall::number::CALL, registers);
    let info = MessageInfo::from_word(reply.info);
    let words = &reply.message[..info.length().min(syscall::REGISTER_MESSAGE_WORDS)];
    decode_realm_reply(info.label(), words).expect("a well-formed reply")
}

/// (budget free bytes, object slots free, threads).
fn usage(realm: &mut Realm) -> (u64, u64, u8) {
    let usage = realm.usage().expect("Usage");
    (usage.budget_free_bytes, usage.object_slots_free, usage.threads)
}

fn thread(index: u8) -> ThreadId {
    ThreadId::new(index).expect("a thread id")
}

fn not_found() -> Result<RealmResponse, Error> {
    Err(Error::NotFound { what: Missing::Thread })
}

fn threads(realm: &mut Realm) {
    let before = usage(realm);
    assert_eq!(before.2, 1, "the main thread alone");
    // Two workers at once, which sleep in their own parked slots while main joins.
    let start = realm.now();
    let first = realm.spawn(|realm| sleeper(realm, 2)).expect("a first thread");
    let made_first = realm.now().saturating_duration_since(start);
    let second = realm.spawn(|realm| sleeper(realm, 2)).expect("a second thread");
    let (one, two) = (first.thread(), second.thread());
    assert_eq!((one, two), (thread(1), thread(2)), "the lowest free indices");
    let made = usage(realm);
    assert_eq!(made.2, 3);
    assert!(made.0 < before.0 && made.1 < before.1, "the indices' objects came from the budget");
    println!(realm, "spawned threads {one} and {two}; usage {made:?}");
    // max_threads = 3: no fourth.
    assert_eq!(
        realm.spawn(|_| {}).map(|handle| handle.thread()),
        Err(ThreadError::Refused(Error::QuotaExceeded { what: Resource::Threads })),
        "a thread beyond max_threads"
    );
    // Join refusals: the main thread (the caller itself), an index never spawned.
    for target in [ThreadId::MAIN, thread(5)] {
        assert_eq!(request(RealmRequest::Join { thread: target }), not_found());
    }
    assert_eq!(first.join(realm), Ok(ThreadEnding::Exited));
    assert_eq!(second.join(realm), Ok(ThreadEnding::Exited));
    assert_eq!(DONE.load(Ordering::SeqCst), 2, "both workers slept and worked");
    assert_eq!(request(RealmRequest::Join { thread: one }), not_found(), "joined twice");
    assert_eq!(usage(realm), (made.0, made.1, 1), "joined threads keep their objects, not ids");

    // Spawn/join cycles reuse the indices: nothing more is taken.
    let start = realm.now();
    for _ in 0..200 {
        let worker = realm.spawn(|_| {}).expect("a cycle's thread");
        assert_eq!(worker.thread(), one, "the lowest free index, made already");
        assert_eq!(worker.join(realm), Ok(ThreadEnding::Exited));
    }
    let cycles = realm.now().saturating_duration_since(start);
    assert_eq!(usage(realm), (made.0, made.1, 1), "200 spawn/join cycles took nothing");
    println!(realm, "200 spawn/join cycles: usage {:?}", usage(realm));
    println!(
        realm,
        "time: a first spawn (objects made) {} us; a spawn and join into a made index {} us",
        made_first.as_micros(),
        cycles.as_micros() / 200
    );

    // A detached thread frees its index when it ends; it cannot be joined.
    let detached = realm.spawn(|realm| sleeper(realm, 2)).expect("a thread to detach");
    let id = detached.thread();
    detached.detach(realm).expect("a detach");
    assert_eq!(request(RealmRequest::Join { thread: id }), not_found());
    while DONE.load(Ordering::SeqCst) < 3 || usage(realm).2 != 1 {
        realm.sleep(Duration::from_millis(1)).expect("a sleep");
    }

    // stop-thread: a worker that faults is sent back, exits, and is joined as Faulted.
    let faulty = realm.spawn(faulter).expect("a thread to fault");
    let id = faulty.thread();
    assert_eq!(faulty.join(realm), Ok(ThreadEnding::Faulted));
    println!(realm, "thread {id} faulted and was joined: the realm goes on");
    // And one that panics, as Panicked.
    let panicky = realm.spawn(|_| panic!("a worker's panic")).expect("a thread to panic");
    let id = panicky.thread();
    assert_eq!(panicky.join(realm), Ok(ThreadEnding::Panicked));
    println!(realm, "thread {id} panicked and was joined: the realm goes on");
    let after = realm.spawn(|_| {}).expect("a thread after the fault");
    assert_eq!(after.join(realm), Ok(ThreadEnding::Exited));
    assert_eq!(usage(realm), (made.0, made.1, 1), "the fault and the panic took nothing");

    // Call deadlines are per thread: a worker's 20 ms and the main thread's 100 ms calls to
    // the inbox of a thread that sleeps (nobody receives there) each end at their own.
    let deaf = realm.spawn(|realm| sleeper(realm, 300)).expect("a thread that never serves");
    let deaf_id = deaf.thread();
    let caller = realm
        .spawn(move |realm| {
            let mut client = realm.thread_client::<Echo>(deaf_id);
            let answer =
                realm.with_deadline(Duration::from_millis(20), |realm| client.echo(realm, 1));
            let code = if answer == Err(CallError::TimedOut) { 1 } else { 2 };
            WORKER_CALL.store(code, Ordering::SeqCst);
        })
        .expect("a thread that calls with a deadline");
    let mut client = realm.thread_client::<Echo>(deaf_id);
    let start = realm.now();
    let answer = realm.with_deadline(Duration::from_millis(100), |realm| client.echo(realm, 2));
    let took = realm.now().saturating_duration_since(start);
    assert_eq!(answer, Err(CallError::TimedOut), "the main thread's call");
    assert!(took >= Duration::from_millis(100), "the main thread's deadline is its own: {took:?}");
    assert_eq!(WORKER_CALL.load(Ordering::SeqCst), 1, "the worker's call timed out first");
    assert_eq!(caller.join(realm), Ok(ThreadEnding::Exited));
    assert_eq!(deaf.join(realm), Ok(ThreadEnding::Exited));
    println!(
        realm,
        "call deadlines per thread: the worker's 20 ms, the main thread's {} ms",
        took.as_millis()
    );
    println!(realm, "all thread checks passed");
}

/// A first spawn into an index whose objects the budget cannot hold is refused with the
/// limit, and leaves the budget, the slots and the threads as they were.
fn budget(realm: &mut Realm) {
    // Leave the budget room for 16 pages: some of a thread's objects would fit, not all.
    while usage(realm).0 > 16 * abi::PAGE_BYTES {
        realm.allocate_pages(1).expect("a page of the budget");
    }
    let before = usage(realm);
    assert!(before.0 >= 8 * abi::PAGE_BYTES, "room for some of the objects: {before:?}");
    assert_eq!(
        realm.spawn(|_| {}).map(|handle| handle.thread()),
        Err(ThreadError::Refused(Error::QuotaExceeded { what: Resource::RealmMemory })),
        "a thread whose stack does not fit"
    );
    assert_eq!(usage(realm), before, "a refused spawn leaves nothing behind");
    println!(realm, "a spawn beyond the budget was refused and left {before:?} as it was");
}

/// stop-realm, no service: a worker's fault stops the realm at once.
fn crash(realm: &mut Realm) {
    let worker = realm.spawn(|realm| sleeper(realm, 50)).expect("a worker");
    let faulty = realm.spawn(faulter).expect("a thread to fault");
    println!(
        realm,
        "spawned {} and {}; the fault stops the realm",
        worker.thread(),
        faulty.thread()
    );
    let _ = worker.join(realm);
    let _ = faulty.join(realm);
    panic!("the realm went on after a thread's fault under stop-realm");
}

/// stop-realm with a service: the fault aborts every live thread.
fn abort(realm: &mut Realm) {
    let _service = realm.register("th-mm-abort").expect("registering a service");
    let worker = realm.spawn(|realm| sleeper(realm, 10_000)).expect("a worker");
    // Let the worker reach its long sleep before the fault.
    realm.sleep(Duration::from_millis(5)).expect("a sleep");
    let faulty = realm.spawn(faulter).expect("a thread to fault");
    println!(
        realm,
        "spawned {} and {}; the fault aborts the realm",
        worker.thread(),
        faulty.thread()
    );
    let _ = worker.join(realm);
    let _ = faulty.join(realm);
    panic!("the realm went on after a thread's fault under stop-realm");
}
