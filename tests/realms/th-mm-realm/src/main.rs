//! The memory manager's side of threads, driven with the raw realm requests (`ipc::realm`,
//! `Spawn`, `ExitThread`, `Join`, `Detach`, `Usage`) on each thread's own broker cap
//! (`ipc::abi::slot::thread`), so that it tests the memory manager alone, whatever the
//! runtime's spawn does (tests/th_mm.rs, tests/systems/th-mm.toml).
//!
//! Every thread starts at the program's entry; the runtime's entry runs `main` for every
//! reason but `ABORT`, so `main` tells the threads apart by their IPC buffer's address
//! (`ipc::abi::thread::ipc_buffer`), and a spawned thread that enters a second time was sent
//! back by the memory manager (`start::ABORT_THREAD`, policy `stop-thread`): it exits.
//! The job of the next spawned thread is in [`JOB`]. Every check panics on a wrong answer
//! (the test sees the panic event), and the main thread ends with `exit`.
//!
//! Realm `th-mm-threads` (`max_threads = 3`, `stop-thread`): two workers at once, the quota,
//! joins and a detach, 200 spawn/join cycles that must leave the realm's budget and slots as
//! they were, a worker that faults (reported as its thread, joined as `Faulted`, the realm
//! goes on). A fault is a stack overflow into the guard page. Realm `th-mm-crash` (`stop-realm`): a worker that faults stops the realm.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use realm_runtime::ipc::abi::{self, slot};
use realm_runtime::ipc::realm::{RealmRequest, RealmResponse, decode_realm_reply};
use realm_runtime::ipc::{Error, Missing, Resource, ThreadEnding, ThreadId};
use realm_runtime::sel4::MessageInfo;
use realm_runtime::sel4::syscall::{self, Registers};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

/// What the next spawned thread does: set by the spawner, taken by the thread.
static JOB: AtomicU8 = AtomicU8::new(TAKEN);
const TAKEN: u8 = u8::MAX;
const EXIT: u8 = 0;
const SLEEP_THEN_EXIT: u8 = 1;
const FAULT: u8 = 2;
/// How many times each thread index entered the program since its spawn.
static ENTRIES: [AtomicU8; ThreadId::LIMIT] = [const { AtomicU8::new(0) }; ThreadId::LIMIT];
/// Work the sleepers did (each adds one).
static DONE: AtomicU64 = AtomicU64::new(0);
/// When the sleepers wake (the realm clock's nanoseconds), set by the main thread.
static WAKE_NS: AtomicU64 = AtomicU64::new(0);

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

fn main(realm: &mut Realm) {
    let buffer = realm.ipc_buffer() as *const _ as u64;
    let thread = (0..ThreadId::LIMIT as u8)
        .filter_map(ThreadId::new)
        .find(|&thread| abi::thread::ipc_buffer(thread) == buffer)
        .expect("the IPC buffer is a thread's");
    if thread.is_main() {
        let name = realm.name().expect("the memory manager knows this realm's name");
        match name.as_str() {
            "th-mm-crash" => crash(realm),
            _ => threads(realm),
        }
    } else {
        worker(thread)
    }
}

/// A spawned thread: its job, then `ExitThread`; sent back after a fault, just `ExitThread`.
fn worker(thread: ThreadId) -> ! {
    let cap = slot::thread(thread).broker;
    if ENTRIES[thread.index()].fetch_add(1, Ordering::SeqCst) == 0 {
        match JOB.swap(TAKEN, Ordering::SeqCst) {
            SLEEP_THEN_EXIT => {
                request(cap, RealmRequest::Sleep { until_ns: 0 }).expect("a sleep of no time");
                let until_ns = WAKE_NS.load(Ordering::SeqCst);
                request(cap, RealmRequest::Sleep { until_ns }).expect("a sleep of 2 ms");
                DONE.fetch_add(1, Ordering::SeqCst);
            }
            FAULT => {
                let depth = overflow(0);
                panic!("a recursion of depth {depth} did not overflow the stack");
            }
            _ => {}
        }
    }
    let _ = request(cap, RealmRequest::ExitThread);
    unreachable!("ExitThread returned")
}

/// One raw realm request on broker cap `cap`, its reply decoded.
fn request(cap: u64, request: RealmRequest) -> Result<RealmResponse, Error> {
    let message = request.encode();
    let mut registers = Registers { cap_or_badge: cap, ..Registers::default() };
    registers.message[..message.words().len()].copy_from_slice(message.words());
    registers.info = MessageInfo::new(message.label(), 0, message.words().len())
        .expect("a realm request fits the registers")
        .word();
    let reply = syscall::syscall(syscall::number::CALL, registers);
    let info = MessageInfo::from_word(reply.info);
    let words = &reply.message[..info.length().min(syscall::REGISTER_MESSAGE_WORDS)];
    decode_realm_reply(info.label(), words).expect("a well-formed reply")
}

fn main_request(request_: RealmRequest) -> Result<RealmResponse, Error> {
    request(slot::BROKER, request_)
}

/// Spawns a thread that does `job`, once the last one spawned has taken its job.
fn spawn(job: u8) -> Result<ThreadId, Error> {
    while JOB.load(Ordering::SeqCst) != TAKEN {
        syscall::syscall(syscall::number::YIELD, Registers::default());
    }
    JOB.store(job, Ordering::SeqCst);
    match main_request(RealmRequest::Spawn { argument: 0 }) {
        Ok(RealmResponse::Spawned { thread }) => Ok(thread),
        Ok(other) => panic!("Spawn answered {other:?}"),
        Err(error) => {
            JOB.store(TAKEN, Ordering::SeqCst);
            Err(error)
        }
    }
}

fn join(thread: ThreadId) -> Result<ThreadEnding, Error> {
    match main_request(RealmRequest::Join { thread })? {
        RealmResponse::Joined { thread: joined, ending } => {
            assert_eq!(joined, thread, "Join answered for another thread");
            // The index is free: its next thread starts afresh.
            ENTRIES[thread.index()].store(0, Ordering::SeqCst);
            Ok(ending)
        }
        other => panic!("Join answered {other:?}"),
    }
}

/// (budget free bytes, object slots free, live threads).
fn usage() -> (u64, u64, u8) {
    match main_request(RealmRequest::Usage).expect("Usage") {
        RealmResponse::Usage { budget_free_bytes, object_slots_free, threads } => {
            (budget_free_bytes, object_slots_free, threads)
        }
        other => panic!("Usage answered {other:?}"),
    }
}

fn thread(index: u8) -> ThreadId {
    ThreadId::new(index).expect("a thread id")
}

/// The realm clock `milliseconds` from now, in nanoseconds.
fn in_ms(realm: &Realm, milliseconds: u64) -> u64 {
    realm.now().as_nanos() + milliseconds * 1_000_000
}

fn threads(realm: &mut Realm) {
    WAKE_NS.store(in_ms(realm, 2), Ordering::SeqCst);
    let before = usage();
    assert_eq!(before.2, 1, "the main thread alone");
    // Two workers at once, which sleep in their own parked slots while main joins.
    let first = spawn(SLEEP_THEN_EXIT).expect("a first thread");
    let second = spawn(SLEEP_THEN_EXIT).expect("a second thread");
    assert_eq!((first, second), (thread(1), thread(2)), "the lowest free indices");
    let made = usage();
    assert_eq!(made.2, 3);
    assert!(made.0 < before.0 && made.1 < before.1, "the indices' objects came from the budget");
    println!(realm, "spawned threads {first} and {second}; usage {made:?}");
    // max_threads = 3: no fourth.
    assert_eq!(
        spawn(EXIT),
        Err(Error::QuotaExceeded { what: Resource::Threads }),
        "a thread beyond max_threads"
    );
    // Join refusals: itself, the main thread, an index never spawned.
    for target in [ThreadId::MAIN, thread(5)] {
        assert_eq!(
            main_request(RealmRequest::Join { thread: target }),
            Err(Error::NotFound { what: Missing::Thread })
        );
    }
    assert_eq!(join(first), Ok(ThreadEnding::Exited));
    assert_eq!(join(second), Ok(ThreadEnding::Exited));
    assert_eq!(DONE.load(Ordering::SeqCst), 2, "both workers slept and worked");
    assert_eq!(join(first), Err(Error::NotFound { what: Missing::Thread }), "joined twice");
    assert_eq!(usage(), (made.0, made.1, 1), "joined threads keep their objects, not their ids");

    // Spawn/join cycles reuse the indices: nothing more is taken.
    for _ in 0..200 {
        let worker = spawn(EXIT).expect("a cycle's thread");
        assert_eq!(worker, first, "the lowest free index, made already");
        assert_eq!(join(worker), Ok(ThreadEnding::Exited));
    }
    assert_eq!(usage(), (made.0, made.1, 1), "200 spawn/join cycles took nothing");
    println!(realm, "200 spawn/join cycles: usage {:?}", usage());

    // A detached thread frees its index when it ends; it cannot be joined.
    WAKE_NS.store(in_ms(realm, 2), Ordering::SeqCst);
    let detached = spawn(SLEEP_THEN_EXIT).expect("a thread to detach");
    assert_eq!(main_request(RealmRequest::Detach { thread: detached }), Ok(RealmResponse::Done));
    assert_eq!(
        main_request(RealmRequest::Join { thread: detached }),
        Err(Error::NotFound { what: Missing::Thread })
    );
    while DONE.load(Ordering::SeqCst) < 3 {
        main_request(RealmRequest::Sleep { until_ns: in_ms(realm, 1) }).expect("a sleep");
    }
    // It may still be on its way to ExitThread: wait until its index is free.
    while usage().2 != 1 {
        main_request(RealmRequest::Sleep { until_ns: in_ms(realm, 1) }).expect("a sleep");
    }
    ENTRIES[detached.index()].store(0, Ordering::SeqCst);

    // stop-thread: a worker that faults is sent back, exits, and is joined as Faulted.
    let faulty = spawn(FAULT).expect("a thread to fault");
    assert_eq!(join(faulty), Ok(ThreadEnding::Faulted));
    println!(realm, "thread {faulty} faulted and was joined: the realm goes on");
    let after = spawn(EXIT).expect("a thread after the fault");
    assert_eq!(join(after), Ok(ThreadEnding::Exited));
    assert_eq!(usage(), (made.0, made.1, 1), "the fault took nothing either");
    println!(realm, "all thread checks passed");
}

fn crash(realm: &mut Realm) {
    WAKE_NS.store(in_ms(realm, 50), Ordering::SeqCst);
    let worker = spawn(SLEEP_THEN_EXIT).expect("a worker");
    let faulty = spawn(FAULT).expect("a thread to fault");
    println!(realm, "spawned {worker} and {faulty}; the fault stops the realm (stop-realm)");
    let _ = join(worker);
    let _ = join(faulty);
    panic!("the realm went on after a thread's fault under stop-realm");
}
