//! A hostile review of threads inside a realm (issue 14), on the real kernel
//! (tests/threads_hostile.rs; tests/systems/th-rv.toml and th-rv-hang.toml). Each realm
//! prints what it saw (`[name] check ...: ok` or the value it got) instead of asserting,
//! so that one run reports every finding; the test asserts on the lines and events.
//!
//! - `th-rv-words` (`max_threads = 3`, `stop-thread`): raw realm requests with bad words:
//!   Join and Detach of ids 0, 16, 17, 255, `u64::MAX`, 7 (never spawned), with no word,
//!   of the caller itself, twice, after a detach; a raw Spawn storm past `max_threads`
//!   (each such thread runs `main`, which only sleeps); 30 faults under stop-thread; a
//!   thread that sleeps while another thread joins it; nonsense in other threads' deadline
//!   words of the control page; a join cycle; then `ExitThread` from the main thread with
//!   both threads of the cycle parked in their joins.
//! - `th-rv-caps` (`max_threads = 4`, `stop-thread`, restartable once): through its CNode
//!   cap it deletes a made index's broker cap and spawns into it again (the thread faults
//!   on its first request and again in its abort path), deletes a made index's fault cap
//!   and spawns a thread that faults there (the kernel has nowhere to send the fault), fills
//!   an unmade index's slots with copies of its CNode cap before the first spawn into it,
//!   and sends a fault-shaped message through a sleeping thread's fault cap; then it panics,
//!   is restarted, does it all again, and panics again.
//! - `th-rv-svc` (`max_threads = 4`, `stop-thread`) serves "rv-work" with three workers (the
//!   main thread only watches): 1 faults while holding the reply, 2 ends its thread
//!   (`exit_thread`) without replying, 3 holds the reply while the main thread sends a raw
//!   `ExitThread` (the realm exits with a worker owing a reply); others answer value + 1.
//! - `th-rv-client` calls "rv-work" with each of those.
//! - `th-rv-svcr` serves "rv-work-r" as `th-rv-svc` does, under `stop-realm`;
//!   `th-rv-clientr` makes one of its workers fault while holding its reply, then a spawned
//!   thread of its own sends `Exit`.
//! - `th-rv-hang` (th-rv-hang.toml) serves "rv-hang": it defers a call, replaces the saved
//!   reply capability in its deferred slot with a copy of a thread's inbox cap, and exits:
//!   its abort path's answer to the deferred caller is a Send nobody ever receives.
//! - `th-rv-abortfault` (th-rv.toml) owns a service; its spawned thread spins while the main
//!   thread deletes that thread's broker cap and exits: the thread faults in its abort path.
//!   `th-rv-hang2` (th-rv-hang.toml) does the same and deletes its fault cap too.
//! - `th-rv-budget` (`max_threads = 16`, 512 KiB) spawns until its budget refuses, joins,
//!   and does it 20 times more: the same number each time, nothing more taken.
//! - `th-rv-forge` (`stop-thread`): thread X joins Y; a fault forged through X's fault cap
//!   while X is parked in its join is ignored: X's join is answered when Y ends.
//! - `th-rv-hclient` calls "rv-hang" with a deadline; `th-rv-bystander` spawns and joins
//!   after that, to show the memory manager still serves.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use realm_runtime::ipc::abi::{self, control, slot};
use realm_runtime::ipc::realm::{RealmRequest, RealmResponse, decode_realm_reply};
use realm_runtime::ipc::{Error, Missing, Resource};
use realm_runtime::sel4::MessageInfo;
use realm_runtime::sel4::cap::CNode;
use realm_runtime::sel4::cap::Rights;
use realm_runtime::sel4::syscall::{self, Registers};
use realm_runtime::{Call, CallError, Realm, Server, ThreadEnding, ThreadId, println};
use test_protocols::{Echo, EchoServer};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    if realm.thread() != ThreadId::MAIN {
        // A thread a raw Spawn started (its argument names no closure) runs main.
        let _ = realm.sleep(Duration::from_millis(5));
        return;
    }
    let name = realm.name().expect("the memory manager knows this realm's name");
    match name.as_str() {
        "th-rv-words" => words(realm),
        "th-rv-caps" => caps(realm),
        "th-rv-svc" => svc(realm, "rv-work"),
        "th-rv-svcr" => svc(realm, "rv-work-r"),
        "th-rv-client" => client(realm),
        "th-rv-clientr" => client_r(realm),
        "th-rv-hang" => hang(realm),
        "th-rv-hclient" => hclient(realm),
        "th-rv-bystander" => bystander(realm),
        "th-rv-abortfault" => abort_fault(realm, false),
        "th-rv-budget" => budget_storm(realm),
        "th-rv-forge" => forge(realm),
        "th-rv-hang2" => abort_fault(realm, true),
        _ => println!(realm, "has no part in this test"),
    }
}

// ---------------------------------------------------------------------------------------
// Raw requests.

/// One raw realm request, `label` and `words` as given, on this thread's broker cap.
fn raw(realm: &Realm, label: u64, words: &[u64]) -> Result<RealmResponse, Error> {
    let mut registers =
        Registers { cap_or_badge: slot::thread(realm.thread()).broker, ..Registers::default() };
    let length = words.len().min(syscall::REGISTER_MESSAGE_WORDS);
    registers.message[..length].copy_from_slice(&words[..length]);
    registers.info = MessageInfo::new(label, 0, length).expect("fits").word();
    let reply = syscall::syscall(syscall::number::CALL, registers);
    let info = MessageInfo::from_word(reply.info);
    let words = &reply.message[..info.length().min(syscall::REGISTER_MESSAGE_WORDS)];
    decode_realm_reply(info.label(), words).expect("a well-formed reply")
}

const EXIT: u64 = 34;
const SPAWN: u64 = 44;
const EXIT_THREAD: u64 = 45;
const JOIN: u64 = 46;
const DETACH: u64 = 47;

fn request(realm: &Realm, request: RealmRequest) -> Result<RealmResponse, Error> {
    let message = request.encode();
    raw(realm, message.label(), message.words())
}

fn not_found() -> Result<RealmResponse, Error> {
    Err(Error::NotFound { what: Missing::Thread })
}

fn usage(realm: &mut Realm) -> (u64, u64, u8) {
    let usage = realm.usage().expect("Usage");
    (usage.budget_free_bytes, usage.object_slots_free, usage.threads)
}

/// Prints `check <what>: ok` or what it got instead.
fn check(realm: &mut Realm, what: &str, good: bool, got: &dyn core::fmt::Debug) {
    if good {
        println!(realm, "check {what}: ok");
    } else {
        println!(realm, "check {what}: FAILED, got {got:?}");
    }
}

/// Reads an address nothing maps: a VM fault.
fn fault_now() -> ! {
    let pointer = core::hint::black_box(0x1000usize) as *const u64;
    // SAFETY: deliberately unsound: the read goes to an address nothing maps (below the
    // program window), so the kernel stops the thread before a value is produced.
    let value = unsafe { core::ptr::read_volatile(pointer) };
    panic!("the read of 0x1000 returned {value} instead of faulting");
}

/// Writes word `index` of the control page, as the runtime does for deadlines.
fn write_control(index: usize, value: u64) {
    let pointer = (abi::CONTROL + 8 * index as u64) as *mut u64;
    // SAFETY: the control page is mapped read-write in every realm at `abi::CONTROL` for
    // its life (`ipc::abi`); `index` is below `control::WORDS` (512 words in the page).
    unsafe { core::ptr::write_volatile(pointer, value) }
}

fn thread(index: u8) -> ThreadId {
    ThreadId::new(index).expect("a thread id")
}

// ---------------------------------------------------------------------------------------
// th-rv-words

static SELF_JOIN: AtomicU64 = AtomicU64::new(0);
static SLEPT: AtomicU64 = AtomicU64::new(0);
static CANCELLED: AtomicU64 = AtomicU64::new(0);
static CYCLE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

fn words(realm: &mut Realm) {
    let before = usage(realm);
    // Join and Detach of ids that are bad words or name no thread.
    for word in [0u64, 16, 17, 255, u64::MAX, 7] {
        for label in [JOIN, DETACH] {
            let answer = raw(realm, label, &[word]);
            let good = answer.is_err() && !matches!(answer, Err(Error::QuotaExceeded { .. }));
            check(realm, "join/detach of a bad id", good, &(label, word, answer));
        }
    }
    for label in [JOIN, DETACH, SPAWN] {
        let answer = raw(realm, label, &[]);
        check(realm, "a request without its word", answer.is_err(), &(label, answer));
    }
    let now = usage(realm);
    check(realm, "usage after bad words", now == before, &now);

    // A raw Spawn storm: two fit (max_threads = 3), the rest are refused.
    let mut spawned = heapless_ids();
    let mut refused = 0;
    for _ in 0..8 {
        match raw(realm, SPAWN, &[u64::MAX]) {
            Ok(RealmResponse::Spawned { thread }) => spawned.push(thread),
            Err(Error::QuotaExceeded { what: Resource::Threads }) => refused += 1,
            other => println!(realm, "check spawn storm: FAILED, got {other:?}"),
        }
    }
    check(realm, "spawn storm", spawned.len == 2 && refused == 6, &(spawned.len, refused));
    for &id in spawned.ids() {
        let joined = request(realm, RealmRequest::Join { thread: id });
        check(
            realm,
            "join of a raw-spawned thread",
            joined == Ok(RealmResponse::Joined { thread: id, ending: ThreadEnding::Exited }),
            &joined,
        );
        let again = request(realm, RealmRequest::Join { thread: id });
        check(realm, "join twice", again == not_found(), &again);
        let detach = request(realm, RealmRequest::Detach { thread: id });
        check(realm, "detach after join", detach == not_found(), &detach);
    }
    let made = usage(realm);
    check(realm, "usage after the storm", made.2 == 1, &made);

    // Detach, then join and detach again.
    let detached = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(3));
        })
        .expect("a thread");
    let id = detached.thread();
    let answer = request(realm, RealmRequest::Detach { thread: id });
    check(realm, "detach", answer == Ok(RealmResponse::Done), &answer);
    let answer = request(realm, RealmRequest::Detach { thread: id });
    check(realm, "detach twice", answer == not_found(), &answer);
    let answer = request(realm, RealmRequest::Join { thread: id });
    check(realm, "join after detach", answer == not_found(), &answer);
    let _ = detached; // never joined
    wait_threads(realm, 1);

    // A thread that joins itself, and one that detaches the main thread.
    let selfish = realm
        .spawn(|realm| {
            let me = realm.thread();
            let join = request(realm, RealmRequest::Join { thread: me });
            let detach = request(realm, RealmRequest::Detach { thread: me });
            let main = request(realm, RealmRequest::Join { thread: ThreadId::MAIN });
            let all = join == not_found() && detach == not_found() && main == not_found();
            SELF_JOIN.store(if all { 1 } else { 2 }, Ordering::SeqCst);
        })
        .expect("a thread");
    let ending = selfish.join(realm);
    check(
        realm,
        "a thread joins itself, detaches itself, joins main",
        ending == Ok(ThreadEnding::Exited) && SELF_JOIN.load(Ordering::SeqCst) == 1,
        &(ending, SELF_JOIN.load(Ordering::SeqCst)),
    );

    // Faults under stop-thread, many times: nothing taken.
    let base = usage(realm);
    let mut faulted = 0;
    for _ in 0..30 {
        let faulty = realm.spawn(|_| fault_now()).expect("a thread to fault");
        if faulty.join(realm) == Ok(ThreadEnding::Faulted) {
            faulted += 1;
        }
    }
    let after = usage(realm);
    check(realm, "30 faults joined as Faulted", faulted == 30, &faulted);
    check(realm, "30 faults took nothing", after == base, &(base, after));

    // A thread sleeps while another joins it.
    let sleeper = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(20));
            SLEPT.store(1, Ordering::SeqCst);
        })
        .expect("a sleeper");
    let joiner = realm.spawn(move |realm| {
        let ending = sleeper.join(realm);
        let good = ending == Ok(ThreadEnding::Exited) && SLEPT.load(Ordering::SeqCst) == 1;
        SLEPT.store(if good { 2 } else { 3 }, Ordering::SeqCst);
    });
    let joiner = joiner.expect("a joiner");
    let ending = joiner.join(realm);
    check(
        realm,
        "a thread sleeps while another joins it",
        ending == Ok(ThreadEnding::Exited) && SLEPT.load(Ordering::SeqCst) == 2,
        &(ending, SLEPT.load(Ordering::SeqCst)),
    );

    deadline_words(realm);
    let end = usage(realm);
    check(realm, "usage after everything", end == base, &(base, end));

    // A join cycle: 1 joins 2 and 2 joins 1.
    let first = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(5));
            let answer = request(realm, RealmRequest::Join { thread: thread(2) });
            CYCLE[0].store(if answer.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
        })
        .expect("a thread of the cycle");
    let second = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(5));
            let answer = request(realm, RealmRequest::Join { thread: thread(1) });
            CYCLE[1].store(if answer.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
        })
        .expect("a thread of the cycle");
    let _ = realm.sleep(Duration::from_millis(40));
    let ids = (first.thread(), second.thread());
    let cycle = (CYCLE[0].load(Ordering::SeqCst), CYCLE[1].load(Ordering::SeqCst));
    let main_join = request(realm, RealmRequest::Join { thread: ids.0 });
    println!(
        realm,
        "join cycle {ids:?}: answers {cycle:?}; main's join of the first: {main_join:?}"
    );
    let _ = first; // never joined
    let _ = second; // never joined
    println!(realm, "words: done; ExitThread from the main thread");
    let answer = raw(realm, EXIT_THREAD, &[]);
    println!(realm, "check ExitThread from main ends the realm: FAILED, got {answer:?}");
}

/// Sleeps until the realm has `threads` threads (at most 1 s).
fn wait_threads(realm: &mut Realm, threads: u8) {
    for _ in 0..1000 {
        if usage(realm).2 == threads {
            return;
        }
        let _ = realm.sleep(Duration::from_millis(1));
    }
    println!(realm, "check threads come down to {threads}: FAILED");
}

/// Nonsense in other threads' deadline words: the memory manager cancels only calls at the
/// call site, and only of live threads.
fn deadline_words(realm: &mut Realm) {
    let deaf = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(300));
        })
        .expect("a thread that never serves");
    let deaf_id = deaf.thread();
    let caller = realm
        .spawn(move |realm| {
            // No deadline of its own: only another thread's write can end it.
            let mut client = realm.thread_client::<Echo>(deaf_id);
            let answer = client.echo(realm, 1);
            CANCELLED
                .store(if answer == Err(CallError::TimedOut) { 1 } else { 2 }, Ordering::SeqCst);
        })
        .expect("a caller");
    let caller_id = caller.thread();
    // Arms the memory manager's watch and the call site.
    let mut client = realm.thread_client::<Echo>(deaf_id);
    let own = realm.with_deadline(Duration::from_millis(5), |realm| client.echo(realm, 2));
    check(realm, "main's own deadline", own == Err(CallError::TimedOut), &own);
    // Garbage in every other word, the caller's in the past.
    for index in 0..ipc_limit() {
        let word = control::CALL_DEADLINES.start + index;
        if index == usize::from(caller_id.get()) {
            write_control(word, 1);
        } else if index != 0 {
            write_control(word, 0xdead_beef_0000_0000 | index as u64);
        }
    }
    for _ in 0..200 {
        if CANCELLED.load(Ordering::SeqCst) != 0 {
            break;
        }
        let _ = realm.sleep(Duration::from_millis(1));
    }
    let cancelled = CANCELLED.load(Ordering::SeqCst);
    println!(realm, "another thread's deadline word cancelled its call: {cancelled}");
    for value in [u64::MAX, 2, 0] {
        for index in 1..ipc_limit() {
            write_control(control::CALL_DEADLINES.start + index, value);
        }
        let _ = realm.sleep(Duration::from_millis(5));
    }
    let call_site = realm.with_deadline(Duration::from_millis(5), |realm| client.echo(realm, 3));
    check(realm, "deadlines after the garbage", call_site == Err(CallError::TimedOut), &call_site);
    let ending = caller.join(realm);
    check(realm, "the caller ends", ending == Ok(ThreadEnding::Exited), &ending);
    let ending = deaf.join(realm);
    check(realm, "the deaf thread ends", ending == Ok(ThreadEnding::Exited), &ending);
}

fn ipc_limit() -> usize {
    ThreadId::LIMIT
}

/// A few thread ids.
struct Ids {
    ids: [ThreadId; 8],
    len: usize,
}

impl Ids {
    fn push(&mut self, id: ThreadId) {
        if let Some(entry) = self.ids.get_mut(self.len) {
            *entry = id;
            self.len += 1;
        }
    }
    fn ids(&self) -> &[ThreadId] {
        &self.ids[..self.len]
    }
}

fn heapless_ids() -> Ids {
    Ids { ids: [ThreadId::MAIN; 8], len: 0 }
}

// ---------------------------------------------------------------------------------------
// th-rv-forge

/// X's raw join of Y: 1 answered, 2 refused.
static X_JOIN: AtomicU64 = AtomicU64::new(0);

/// A fault forged through the fault cap of a thread parked in a join (X joins Y): the
/// memory manager ignores it, X's join is answered when Y ends, and X exits.
fn forge(realm: &mut Realm) {
    let joined = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(100));
        })
        .expect("Y");
    let y = joined.thread();
    let joiner = realm
        .spawn(move |realm| {
            let answer = request(realm, RealmRequest::Join { thread: y });
            let good =
                answer == Ok(RealmResponse::Joined { thread: y, ending: ThreadEnding::Exited });
            X_JOIN.store(if good { 1 } else { 2 }, Ordering::SeqCst);
        })
        .expect("X");
    let x = joiner.thread();
    let _ = realm.sleep(Duration::from_millis(10));
    let mut registers = Registers { cap_or_badge: slot::thread(x).fault, ..Registers::default() };
    registers.message = [0x40_1000, 0x1000, 0, 4];
    registers.info = MessageInfo::new(5, 0, 4).expect("fits").word();
    syscall::syscall(syscall::number::SEND, registers);
    let ending = joiner.join(realm);
    let x_join = X_JOIN.load(Ordering::SeqCst);
    check(
        realm,
        "forge: a forged fault of a parked joiner is ignored",
        ending == Ok(ThreadEnding::Exited) && x_join == 1,
        &(ending, x_join),
    );
    let _ = joined; // joined by X
    let end_usage = usage(realm);
    check(realm, "forge: only the main thread is left", end_usage.2 == 1, &end_usage);
    println!(realm, "forge: done");
}

// ---------------------------------------------------------------------------------------
// th-rv-budget

/// Spawns sleeping threads until refused; returns how many started and the refusal.
fn spawn_all(
    realm: &mut Realm,
    handles: &mut [Option<realm_runtime::JoinHandle>],
) -> (usize, Option<realm_runtime::ThreadError>) {
    let mut started = 0;
    for handle in handles.iter_mut() {
        match realm.spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(20));
        }) {
            Ok(spawned) => {
                *handle = Some(spawned);
                started += 1;
            }
            Err(error) => return (started, Some(error)),
        }
    }
    (started, None)
}

/// Joins every handle; how many ended `Exited`.
fn join_all(realm: &mut Realm, handles: &mut [Option<realm_runtime::JoinHandle>]) -> usize {
    let mut exited = 0;
    for handle in handles.iter_mut() {
        if let Some(handle) = handle.take()
            && handle.join(realm) == Ok(ThreadEnding::Exited)
        {
            exited += 1;
        }
    }
    exited
}

/// A spawn storm past the budget (`max_threads = 16`, 512 KiB): refused with the budget's
/// limit; the made indices are reused by every later storm, which takes nothing more.
fn budget_storm(realm: &mut Realm) {
    let mut handles: [Option<realm_runtime::JoinHandle>; 16] = [const { None }; 16];
    let (made, refusal) = spawn_all(realm, &mut handles);
    println!(realm, "budget: {made} threads started, then {refusal:?}");
    let memory = Some(realm_runtime::ThreadError::Refused(Error::QuotaExceeded {
        what: Resource::RealmMemory,
    }));
    check(realm, "a storm past the budget is refused for memory", refusal == memory, &refusal);
    let exited = join_all(realm, &mut handles);
    check(realm, "the storm's threads are joined", exited == made, &(exited, made));
    let after_first = usage(realm);
    for _ in 0..20 {
        let (again, refusal) = spawn_all(realm, &mut handles);
        let exited = join_all(realm, &mut handles);
        if again != made || exited != made || refusal != memory {
            println!(realm, "check later storms: FAILED, got {again} {exited} {refusal:?}");
            break;
        }
    }
    let after = usage(realm);
    check(realm, "20 more storms took nothing", after == after_first, &(after_first, after));
    println!(realm, "budget: done");
}

// ---------------------------------------------------------------------------------------
// th-rv-caps

fn cnode_slot(index: u64) -> realm_runtime::sel4::cap::CSlot {
    CNode::from_cptr(slot::CNODE).slot(index)
}

fn caps(realm: &mut Realm) {
    let start = usage(realm);
    let (free_ram, free_slots) = realm.resources().expect("Resources");
    println!(realm, "caps: start usage {start:?}");
    println!(realm, "caps: resources at start {free_ram} {free_slots}");

    // 1: a made index whose broker cap the realm deleted.
    let first = realm.spawn(|_| {}).expect("thread 1");
    let one = first.thread();
    let _ = first.join(realm);
    let deleted = cnode_slot(slot::thread(one).broker).delete();
    check(realm, "delete thread 1's broker cap", deleted.is_ok(), &deleted);
    let blind = realm
        .spawn(|realm| {
            let _ = realm.usage();
        })
        .expect("a thread into the index without a broker cap");
    let ending = blind.join(realm);
    println!(realm, "caps: a thread without its broker cap ended {ending:?}");
    check(realm, "no broker cap: Faulted", ending == Ok(ThreadEnding::Faulted), &ending);

    // Index 1 has no broker cap now: a thread there ends Faulted. Keep one there, unjoined,
    // so that the next spawns land in indices 2 and 3.
    let occupier = realm.spawn(|_| {}).expect("a thread in index 1");

    // 2: a made index whose fault cap the realm deleted; its thread faults.
    let second = realm.spawn(|_| {}).expect("thread 2");
    let two = second.thread();
    let _ = second.join(realm);
    let deleted = cnode_slot(slot::thread(two).fault).delete();
    check(realm, "delete thread 2's fault cap", deleted.is_ok(), &deleted);
    let silent = realm.spawn(|_| fault_now()).expect("a thread without a fault cap");
    let silent_id = silent.thread();
    let _ = realm.sleep(Duration::from_millis(30));
    let now = usage(realm);
    println!(realm, "caps: thread {silent_id} faulted with no fault cap; usage {now:?}");
    let _ = silent; // never joined

    // 3: an index never made, its slots filled with copies of the CNode cap first.
    let three = thread(3);
    let slots = slot::thread(three);
    for index in [slots.broker, slots.fault, slots.inbox] {
        let copied =
            cnode_slot(index).copy_from(realm.ipc_buffer(), cnode_slot(slot::CNODE), Rights::ALL);
        check(realm, "copy the CNode cap into an unmade index", copied.is_ok(), &copied);
    }
    let third = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(1));
        })
        .expect("a thread into the filled index");
    let third_id = third.thread();
    let ending = third.join(realm);
    check(
        realm,
        "a spawn into an index the realm filled",
        third_id == three && ending == Ok(ThreadEnding::Exited),
        &(third_id, ending),
    );

    // 4: a fault-shaped message through a sleeping thread's fault cap.
    let victim = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(200));
        })
        .expect("a sleeping thread");
    let victim_id = victim.thread();
    let _ = realm.sleep(Duration::from_millis(5));
    let mut registers =
        Registers { cap_or_badge: slot::thread(victim_id).fault, ..Registers::default() };
    registers.message = [0x40_1000, 0x1000, 0, 4];
    registers.info = MessageInfo::new(5, 0, 4).expect("fits").word();
    syscall::syscall(syscall::number::SEND, registers);
    let ending = victim.join(realm);
    println!(realm, "caps: a forged fault of thread {victim_id}: it ended {ending:?}");
    let ending = occupier.join(realm);
    println!(realm, "caps: the thread in index 1 (no broker cap) ended {ending:?}");

    let end = usage(realm);
    println!(realm, "caps: end usage {end:?}");
    panic!("caps: done, to be restarted");
}

// ---------------------------------------------------------------------------------------
// th-rv-svc and th-rv-client

/// 1 once a worker holds the reply of a call with value 3.
static HOLDING: AtomicU64 = AtomicU64::new(0);

struct Worker;

impl EchoServer for Worker {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        match value {
            1 => fault_now(),
            2 => call.exit_thread(),
            3 => {
                HOLDING.store(1, Ordering::SeqCst);
                let _ = call.sleep(Duration::from_millis(2_000));
                value + 1
            }
            _ => value + 1,
        }
    }
}

fn svc(realm: &mut Realm, service: &str) {
    let server = match Server::new(Worker).serve::<Echo>(realm, service) {
        Ok(server) => server,
        Err(error) => return println!(realm, "rv-work: register failed: {error}"),
    };
    let Some(registration) = server.registration() else {
        return println!(realm, "rv-work: no registration");
    };
    for _ in 0..3 {
        let spawned =
            realm.spawn(move |realm: &mut Realm| Server::worker(registration, Worker).run(realm));
        match spawned {
            Ok(worker) => {
                let _ = worker.detach(realm);
            }
            Err(error) => println!(realm, "a worker did not start: {error}"),
        }
    }
    realm.announce_serving();
    println!(realm, "svc: three workers serve; the main thread watches");
    loop {
        if HOLDING.load(Ordering::SeqCst) == 1 {
            println!(realm, "svc: a worker holds a reply; ExitThread from the main thread");
            let answer = raw(realm, EXIT_THREAD, &[]);
            println!(realm, "check ExitThread from main ends the realm: FAILED, got {answer:?}");
        }
        let _ = realm.sleep(Duration::from_millis(2));
    }
}

fn client(realm: &mut Realm) {
    let mut work = match realm.connect::<Echo>("rv-work") {
        Ok(work) => work,
        Err(error) => return println!(realm, "client: connect failed: {error}"),
    };
    let answer = work.echo(realm, 5);
    check(realm, "client: a plain call", answer == Ok(6), &answer);
    let start = realm.now();
    let fault = realm.with_deadline(Duration::from_millis(2_000), |realm| work.echo(realm, 1));
    let took = realm.now().saturating_duration_since(start).as_millis();
    println!(realm, "client: a call whose worker faults: {fault:?} after {took} ms");
    check(
        realm,
        "client: a worker's fault is an error, not a timeout",
        fault.is_err() && fault != Err(CallError::TimedOut),
        &fault,
    );
    let answer = work.echo(realm, 5);
    check(realm, "client: a call after the fault", answer == Ok(6), &answer);
    let start = realm.now();
    let exited = realm.with_deadline(Duration::from_millis(2_000), |realm| work.echo(realm, 2));
    let took = realm.now().saturating_duration_since(start).as_millis();
    println!(
        realm,
        "client: a call whose worker exits without replying: {exited:?} after {took} ms"
    );
    check(
        realm,
        "client: a worker's exit is an error, not a timeout",
        exited.is_err() && exited != Err(CallError::TimedOut),
        &exited,
    );
    let answer = work.echo(realm, 7);
    check(realm, "client: a call after the exit", answer == Ok(8), &answer);
    let start = realm.now();
    let held = realm.with_deadline(Duration::from_millis(4_000), |realm| work.echo(realm, 3));
    let took = realm.now().saturating_duration_since(start).as_millis();
    println!(realm, "client: a call held while main exits: {held:?} after {took} ms");
    check(
        realm,
        "client: the realm's exit is an error, not a timeout",
        held.is_err() && held != Err(CallError::TimedOut),
        &held,
    );
    println!(realm, "client: done");
}

/// Under stop-realm: a worker's fault while it holds the reply, then `Exit` from a spawned
/// thread.
fn client_r(realm: &mut Realm) {
    let mut work = match realm.connect::<Echo>("rv-work-r") {
        Ok(work) => work,
        Err(error) => return println!(realm, "clientr: connect failed: {error}"),
    };
    let answer = work.echo(realm, 5);
    check(realm, "clientr: a plain call", answer == Ok(6), &answer);
    let start = realm.now();
    let fault = realm.with_deadline(Duration::from_millis(2_000), |realm| work.echo(realm, 1));
    let took = realm.now().saturating_duration_since(start).as_millis();
    println!(
        realm,
        "clientr: a call whose worker faults under stop-realm: {fault:?} after {took} ms"
    );
    check(
        realm,
        "clientr: a worker's fault under stop-realm is an error, not a timeout",
        fault.is_err() && fault != Err(CallError::TimedOut),
        &fault,
    );
    let _ = realm
        .spawn(|realm| {
            let _ = realm.sleep(Duration::from_millis(5));
            println!(realm, "clientr: Exit from thread {}", realm.thread());
            let answer = raw(realm, EXIT, &[]);
            println!(
                realm,
                "check Exit from a spawned thread ends the realm: FAILED, got {answer:?}"
            );
        })
        .expect("a thread that exits the realm");
    let _ = realm.sleep(Duration::from_millis(500));
    println!(realm, "check Exit from a spawned thread ends the realm: FAILED, main goes on");
}

// ---------------------------------------------------------------------------------------
// th-rv-hang, th-rv-hclient, th-rv-bystander

struct Hanger;

impl EchoServer for Hanger {
    fn echo(&mut self, call: &mut Call<'_>, value: u64) -> u64 {
        if value != 4 {
            return value + 1;
        }
        let deferred = call.defer::<u64>();
        println!(call, "hang: deferred: {}", deferred.is_ok());
        // Slot 4 is the first deferred slot: the saved reply capability there becomes a
        // copy of thread 1's inbox (made by the spawn below main's registration).
        let target = cnode_slot(slot::DEFERRED_REPLIES.start);
        let deleted = target.delete();
        let source = cnode_slot(slot::thread(thread(1)).inbox);
        let copied = target.copy_from(call.ipc_buffer(), source, Rights::ALL);
        println!(call, "hang: reply slot replaced: {deleted:?} {copied:?}; exiting");
        if let Ok(deferred) = deferred {
            core::mem::forget(deferred);
        }
        call.exit()
    }
}

fn hang(realm: &mut Realm) {
    let server = match Server::new(Hanger).serve::<Echo>(realm, "rv-hang") {
        Ok(server) => server,
        Err(error) => return println!(realm, "rv-hang: register failed: {error}"),
    };
    let helper = realm.spawn(|_| {}).expect("a thread (makes index 1 and the inboxes)");
    let _ = helper.join(realm);
    println!(realm, "hang: serving");
    server.run(realm)
}

fn hclient(realm: &mut Realm) {
    let mut hang = match realm.connect::<Echo>("rv-hang") {
        Ok(hang) => hang,
        Err(error) => return println!(realm, "hclient: connect failed: {error}"),
    };
    let answer = realm.with_deadline(Duration::from_millis(300), |realm| hang.echo(realm, 4));
    println!(realm, "hclient: the deferred call: {answer:?}");
}

/// Set never: the spinner spins until the memory manager sends it elsewhere.
static NEVER: AtomicU64 = AtomicU64::new(0);

/// A service realm whose spawned thread spins (no system call) while the main thread deletes
/// that thread's broker cap (and, with `no_fault_cap`, its fault cap too), then exits: the
/// thread, sent to its abort path, cannot send `ExitThread` and faults there; with no fault
/// cap the kernel has nowhere to send that fault, and the thread never reports.
fn abort_fault(realm: &mut Realm, no_fault_cap: bool) {
    let name = realm.name().expect("a name");
    let _service = realm.register(name.as_str()).expect("registering a service");
    let spinner = realm
        .spawn(|_| {
            while NEVER.load(Ordering::Relaxed) == 0 {
                core::hint::spin_loop();
            }
        })
        .expect("a spinner");
    let id = spinner.thread();
    let slots = slot::thread(id);
    let broker = cnode_slot(slots.broker).delete();
    let fault = if no_fault_cap { cnode_slot(slots.fault).delete() } else { Ok(()) };
    println!(
        realm,
        "abort-fault: thread {id}'s broker cap deleted {broker:?}, fault cap {fault:?}; exiting"
    );
    let _ = spinner; // never joined
}

fn bystander(realm: &mut Realm) {
    let _ = realm.sleep(Duration::from_millis(1_000));
    let worker = realm.spawn(|_| {}).expect("a thread");
    let ending = worker.join(realm);
    let answer = realm.connect::<Echo>("rv-hang").map(|_| ());
    println!(realm, "bystander: spawn and join {ending:?}; connect to rv-hang {answer:?}; ok");
}
