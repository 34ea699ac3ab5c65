//! `threads`: the threads of one realm, sans-IO.
//!
//! A [`ThreadTable`] owns, for one realm, the state of each of its thread indexes (0 to 15,
//! [`MAX_THREADS_PER_REALM`]): which thread runs, which ended and waits to be joined, who
//! joins whom, which indexes already have their kernel objects, and the realm's abort in
//! progress. It owns no kernel object and never touches the kernel: the memory manager tells
//! it what a thread asked or what happened to it, and carries out what it answers (start a
//! thread in index `t`, making its objects first or not; wake a joiner; send a thread to its
//! abort entry; tell the supervisor that the realm ends). So every rule below is tested on
//! the host (unit tests here, property tests in `tests/threads.rs`).
//!
//! # The rules
//!
//! - **Thread 0** is the realm's main thread: running from the realm's start
//!   ([`ThreadTable::new`], [`ThreadTable::reset`]) to its end, never free, never joined or
//!   detached. Whatever ends it (`Exit`, `ExitThread`, a fault, a panic) ends the realm
//!   ([`Next::EndRealm`]), whatever the policy.
//! - **Spawn** ([`ThreadTable::spawn`]) takes the lowest free index from 1. Threads that
//!   exist count against `max_threads`: running ones, ones being stopped, and ones that ended
//!   and were not joined yet (thread 0 included). Beyond it, and while the realm is being
//!   aborted: [`Refused::QuotaExceeded`]. The first use of an index makes its objects
//!   ([`Spawn::make`]); they are kept for the next thread in that index until the realm stops
//!   (seL4 untyped memory is a watermark: one object cannot go back to a budget alone), so
//!   spawn/exit cycles cost nothing after the first.
//! - **A thread ends** by `ExitThread` ([`ThreadEnding::Exited`]), or by a fault or a panic
//!   under policy `stop-thread` (`Faulted`, `Panicked`: it is first sent to its abort entry,
//!   [`Next::AbortThread`], and ends when it reports again, whatever that report is: no
//!   third chance). An ended thread's index is freed at once if it was detached or a thread
//!   waits to join it (that joiner is woken: [`Next::Ended::joiner`]); otherwise it stays
//!   [`ThreadState::Ended`], counted, until joined. `Exit` from any thread, and a fault or a
//!   panic under `stop-realm`, end the realm.
//! - **Join** ([`ThreadTable::join`]) answers at once for an ended thread (its index is
//!   freed) and parks the caller otherwise, to be woken exactly once, when that thread ends.
//!   **Detach** ([`ThreadTable::detach`]) frees an ended thread's index at once, or marks a
//!   running one to be freed when it ends. Both refuse ([`Refused::NotJoinable`]) thread 0,
//!   the caller itself (or a caller parked in a join), an index that is free (never
//!   spawned, joined already, or detached and ended), a detached thread, a thread another
//!   thread is joining already, and, while the realm is being aborted, any thread; a join
//!   that would wait for ever (the target waits, through joins, for the caller) is refused
//!   too. Ids from 16 never get here: [`ThreadId`] stops at 15, and the request decoder
//!   refuses a larger one as malformed.
//! - **The realm's abort** ([`ThreadTable::begin_abort`]): when the supervisor aborts the
//!   realm ([`Op::Abort`](crate::Op::Abort)), every thread that exists and has not ended
//!   (running, parked, or being stopped alone) is sent to `start::ABORT`; the table keeps the
//!   set of those that have not reported yet. Each report (`ExitThread`, `Exit`, a fault, a
//!   panic, or the memory manager failing to send it: [`ThreadTable::abort_reported`]) takes
//!   one out; the abort is complete exactly when the set is empty ([`Next::AbortReported`]),
//!   and then the memory manager reports the realm's second ending to the supervisor. Parked
//!   joins are dropped when the abort begins (their callers are aborted too).
//! - **Reset** ([`ThreadTable::reset`]) when the realm is stopped or started again: its
//!   objects are gone with its memory, so no index is made, and thread 0 runs.
//!
//! # Driving it from the memory manager
//!
//! ```
//! use ipc::{ThreadEnding, ThreadId};
//! use supervisor::Ending;
//! use supervisor::threads::{Join, Next, Spawn, ThreadEvent, ThreadTable};
//! use system_config::ThreadFaultPolicy;
//!
//! let mut threads = ThreadTable::new(3, ThreadFaultPolicy::StopThread);
//! // Thread 0 asks for a thread: index 1, whose objects must be made first.
//! let Ok(Spawn { thread, make: true }) = threads.spawn() else { panic!() };
//! assert_eq!(thread, ThreadId::new(1).unwrap());
//! // Thread 0 joins it: parked (the memory manager keeps thread 0's reply).
//! assert_eq!(threads.join(ThreadId::MAIN, thread), Ok(Join::Parked));
//! // Thread 1 faults: policy stop-thread, so it is sent to its abort entry alone.
//! assert_eq!(
//!     threads.ended(thread, ThreadEvent::Faulted),
//!     Ok(Next::AbortThread { ending: ThreadEnding::Faulted })
//! );
//! // It answered its client and sent ExitThread: it has ended, and thread 0 is woken.
//! assert_eq!(
//!     threads.ended(thread, ThreadEvent::ExitThread),
//!     Ok(Next::Ended { ending: ThreadEnding::Faulted, joiner: Some(ThreadId::MAIN), freed: true })
//! );
//! // The next spawn reuses index 1 and its objects.
//! assert_eq!(threads.spawn(), Ok(Spawn { thread, make: false }));
//! // The main thread exits: the realm ends; the memory manager tells the supervisor.
//! assert_eq!(
//!     threads.ended(ThreadId::MAIN, ThreadEvent::Exit),
//!     Ok(Next::EndRealm(Ending::Exited))
//! );
//! // The realm owns a service, so the supervisor aborts it (`Op::Abort`): threads 0 and 1
//! // are sent to `start::ABORT`, and the realm is done once both have reported.
//! let sent = threads.begin_abort().unwrap();
//! assert_eq!(sent.iter().collect::<Vec<_>>(), [ThreadId::MAIN, thread]);
//! assert_eq!(
//!     threads.ended(thread, ThreadEvent::ExitThread),
//!     Ok(Next::AbortReported { complete: false })
//! );
//! assert_eq!(
//!     threads.ended(ThreadId::MAIN, ThreadEvent::Exit),
//!     Ok(Next::AbortReported { complete: true })
//! );
//! // The memory manager reports the realm's second ending to the supervisor, which
//! // reclaims it; the table starts over with the realm.
//! threads.reset();
//! assert_eq!(threads.spawn(), Ok(Spawn { thread, make: true }));
//! ```

use core::fmt;

use ipc::{ThreadEnding, ThreadId};
use system_config::{MAX_THREADS_PER_REALM, ThreadFaultPolicy};

use crate::Ending;

// A thread set is one bit per index of a `u16`.
const _: () = assert!(MAX_THREADS_PER_REALM <= 16 && ThreadId::LIMIT == MAX_THREADS_PER_REALM);

/// A set of thread ids of one realm, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ThreadSet(u16);

impl ThreadSet {
    /// No thread.
    pub const EMPTY: ThreadSet = ThreadSet(0);

    /// Whether `thread` is in the set.
    pub fn contains(self, thread: ThreadId) -> bool {
        self.0 & bit(thread) != 0
    }

    /// Adds `thread`.
    pub fn insert(&mut self, thread: ThreadId) {
        self.0 |= bit(thread);
    }

    /// Takes `thread` out; whether it was in.
    pub fn remove(&mut self, thread: ThreadId) -> bool {
        let was = self.contains(thread);
        self.0 &= !bit(thread);
        was
    }

    /// How many threads are in the set.
    pub fn len(self) -> u8 {
        // At most 16.
        self.0.count_ones() as u8
    }

    /// Whether no thread is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The threads in the set, lowest id first.
    pub fn iter(self) -> impl Iterator<Item = ThreadId> {
        all_ids().filter(move |&thread| self.contains(thread))
    }
}

/// The state of one thread index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// No thread: the index may be spawned into.
    Free,
    /// A thread runs (or is blocked: in a call, a sleep, a join).
    Running,
    /// Policy `stop-thread`: the thread faulted or panicked (`ending`) and was sent to its
    /// abort entry (`start::ABORT_THREAD`) to answer its client; it ends when it reports
    /// again.
    Aborting(ThreadEnding),
    /// The thread ended and nobody has joined it yet; the index stays taken and counted.
    Ended(ThreadEnding),
}

impl ThreadState {
    /// Whether a thread exists in the index and has not ended: its messages and faults are
    /// handled.
    pub fn is_live(self) -> bool {
        matches!(self, ThreadState::Running | ThreadState::Aborting(_))
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadState::Free => f.write_str("free"),
            ThreadState::Running => f.write_str("running"),
            ThreadState::Aborting(ending) => {
                write!(f, "stopping after it {}", ending_name(*ending))
            }
            ThreadState::Ended(ending) => write!(f, "{}, not joined", ending_name(*ending)),
        }
    }
}

/// What a thread did that ends it or its realm, as the memory manager saw it: the request
/// on its broker cap, or the kernel's message on its fault cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadEvent {
    /// `ExitThread`: the thread ends (from thread 0: the realm exits).
    ExitThread,
    /// `Exit`: the realm exits, from whichever thread.
    Exit,
    /// The kernel sent a fault message on the thread's fault cap.
    Faulted,
    /// The thread reported a panic (the last part of `Panicked`).
    Panicked,
}

impl ThreadEvent {
    fn realm_ending(self) -> Ending {
        match self {
            ThreadEvent::ExitThread | ThreadEvent::Exit => Ending::Exited,
            ThreadEvent::Faulted => Ending::Faulted,
            ThreadEvent::Panicked => Ending::Panicked,
        }
    }
}

/// What the memory manager does after [`ThreadTable::ended`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The realm ends with this ending: report it to the supervisor
    /// ([`Supervisor::ended`](crate::Supervisor::ended)), which stops or aborts it. The
    /// thread table is unchanged (the thread that ended the realm is aborted with the others,
    /// or reclaimed with the realm).
    EndRealm(Ending),
    /// Policy `stop-thread`: send the thread (and only it) to `start::ABORT_THREAD` (write
    /// its registers and resume it). It then answers its client and reports again; if it
    /// cannot be sent, report [`ThreadEvent::Faulted`] for it again. Log `thread-stopped`
    /// once it has ended.
    AbortThread { ending: ThreadEnding },
    /// The thread has ended with `ending`: suspend it. `joiner`: the thread parked in a
    /// `Join` of it, to be answered now with `Joined { thread, ending }`. `freed`: whether
    /// its index is free again (it was detached, or joined now); else it waits to be
    /// joined, counted against `max_threads`.
    Ended { ending: ThreadEnding, joiner: Option<ThreadId>, freed: bool },
    /// The realm is being aborted and this thread reported: suspend it. `complete`: every
    /// thread sent to `start::ABORT` has reported; report the realm's (second) ending to the
    /// supervisor.
    AbortReported { complete: bool },
}

/// A spawn the table granted: the thread's index, and whether its objects must be made
/// first (the first use of the index since the realm started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spawn {
    pub thread: ThreadId,
    pub make: bool,
}

/// What a [`ThreadTable::join`] does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// The thread had ended: answer `Joined` with this ending now; its index is free.
    Now(ThreadEnding),
    /// The thread has not ended: keep the caller's reply (its parked reply slot); it is
    /// answered by the [`Next::Ended`] that names it as `joiner`.
    Parked,
}

/// What a [`ThreadTable::detach`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detach {
    /// The thread had ended: its index is free now.
    Freed,
    /// The thread has not ended: its index is freed when it ends.
    WhenEnded,
}

/// A request of a thread that the table refuses: the realm hears [`ipc::Error`] (`From`).
/// (A thread id from 16 never reaches the table: the request decoder refuses it as
/// malformed, `OutOfRange` of `Field::Thread`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `Spawn`: `max_threads` threads exist (running, stopping, or ended and not joined), or
    /// the realm is being aborted. `QuotaExceeded { what: Resource::Threads }`.
    QuotaExceeded,
    /// `Join` or `Detach` of thread 0, of the caller, of a free index, of a detached thread,
    /// of a thread another thread joins already, while the realm is being aborted, or (a
    /// join) that would wait for ever; or the caller is not a live thread (or is parked in a join).
    /// `NotFound { what: Missing::Thread }`.
    NotJoinable,
}

impl From<Refused> for ipc::Error {
    fn from(refused: Refused) -> ipc::Error {
        match refused {
            Refused::QuotaExceeded => ipc::Error::QuotaExceeded { what: ipc::Resource::Threads },
            Refused::NotJoinable => ipc::Error::NotFound { what: ipc::Missing::Thread },
        }
    }
}

/// An input that does not fit the table (the memory manager's mistake, not the realm's): it
/// changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input needs a live thread (running or stopping); this one is `state`.
    NotLive { thread: ThreadId, state: ThreadState },
    /// The realm is being aborted and this thread is not among those that have yet to
    /// report.
    NotAborting(ThreadId),
    /// The thread is parked in a join of `target` (blocked in its call: it sends nothing
    /// until answered).
    Joining { thread: ThreadId, target: ThreadId },
    /// [`ThreadTable::begin_abort`] while an abort is in progress.
    AlreadyAborting,
    /// [`ThreadTable::abort_reported`] while no abort is in progress.
    NoAbort,
    /// [`ThreadTable::spawn_failed`] of thread 0.
    MainThread,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotLive { thread, state } => write!(f, "thread {} is {state}", thread),
            Error::NotAborting(thread) => {
                write!(f, "thread {} is not among the threads still aborting", thread)
            }
            Error::Joining { thread, target } => {
                write!(f, "thread {thread} is parked in a join of thread {target}")
            }
            Error::AlreadyAborting => f.write_str("the realm is being aborted already"),
            Error::NoAbort => f.write_str("the realm is not being aborted"),
            Error::MainThread => f.write_str("thread 0 is never spawned"),
        }
    }
}

/// One thread index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Index {
    state: ThreadState,
    /// Whether the index's kernel objects exist (made on its first spawn, kept until the
    /// realm stops). Thread 0's are the realm's own: always made.
    made: bool,
    /// Nobody will join it: freed as soon as it ends.
    detached: bool,
    /// The thread parked in a `Join` of it.
    joiner: Option<ThreadId>,
}

impl Index {
    const FREE: Index =
        Index { state: ThreadState::Free, made: false, detached: false, joiner: None };
    const MAIN: Index = Index { state: ThreadState::Running, made: true, ..Index::FREE };
}

/// The threads of one realm (see the module documentation for the rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadTable {
    max_threads: u8,
    policy: ThreadFaultPolicy,
    indexes: [Index; MAX_THREADS_PER_REALM],
    /// The realm's abort in progress: the threads sent to `start::ABORT` that have not
    /// reported yet.
    abort: Option<ThreadSet>,
}

impl ThreadTable {
    /// The threads of a realm that has just started: thread 0 runs. `max_threads` is the
    /// realm's (`system.toml`, checked to be 1 to 16; taken into that range here too) and
    /// `policy` its `on_thread_fault`.
    pub const fn new(max_threads: u8, policy: ThreadFaultPolicy) -> Self {
        let max_threads = if max_threads == 0 {
            1
        } else if max_threads as usize > MAX_THREADS_PER_REALM {
            MAX_THREADS_PER_REALM as u8
        } else {
            max_threads
        };
        let mut indexes = [Index::FREE; MAX_THREADS_PER_REALM];
        indexes[0] = Index::MAIN;
        ThreadTable { max_threads, policy, indexes, abort: None }
    }

    /// The realm was stopped or started again: its objects went with its memory. The table
    /// is as [`ThreadTable::new`] made it: thread 0 runs, every other index is free and
    /// unmade, no abort is in progress.
    pub fn reset(&mut self) {
        *self = ThreadTable::new(self.max_threads, self.policy);
    }

    /// Most threads that may exist at once (the realm's `max_threads`).
    pub fn max_threads(&self) -> u8 {
        self.max_threads
    }

    /// The realm's `on_thread_fault`.
    pub fn policy(&self) -> ThreadFaultPolicy {
        self.policy
    }

    /// The state of `thread`.
    pub fn state(&self, thread: ThreadId) -> ThreadState {
        self.index(thread).map_or(ThreadState::Free, |index| index.state)
    }

    /// Whether `thread` is live (running or stopping): the memory manager handles its
    /// messages and faults, and ignores those of any other index.
    pub fn is_live(&self, thread: ThreadId) -> bool {
        self.state(thread).is_live()
    }

    /// How many threads exist: every index that is not free (live, and ended but not
    /// joined), thread 0 included. What `Usage` answers as `threads`.
    pub fn threads(&self) -> u8 {
        self.matching(|index| index.state != ThreadState::Free).len()
    }

    /// The live threads (running or stopping).
    pub fn live(&self) -> ThreadSet {
        self.matching(|index| index.state.is_live())
    }

    /// The indexes whose kernel objects exist (thread 0's always).
    pub fn made(&self) -> ThreadSet {
        self.matching(|index| index.made)
    }

    /// The thread parked in a join of `thread`, if any.
    pub fn joiner(&self, thread: ThreadId) -> Option<ThreadId> {
        self.index(thread).and_then(|index| index.joiner)
    }

    /// Whether `thread` was detached and has not ended yet.
    pub fn is_detached(&self, thread: ThreadId) -> bool {
        self.index(thread).is_some_and(|index| index.detached)
    }

    /// The threads sent to `start::ABORT` that have not reported yet, while the realm is
    /// being aborted ([`ThreadTable::begin_abort`]).
    pub fn aborting(&self) -> Option<ThreadSet> {
        self.abort
    }

    /// A thread asks for a new thread: it gets the lowest free index from 1, now
    /// [`ThreadState::Running`]. The memory manager makes the index's objects if
    /// [`Spawn::make`], writes its registers and resumes it; if any of that fails, it
    /// reports [`ThreadTable::spawn_failed`].
    ///
    /// Refused: [`Refused::QuotaExceeded`] when `max_threads` threads exist, or the realm is
    /// being aborted.
    pub fn spawn(&mut self) -> Result<Spawn, Refused> {
        if self.abort.is_some() || self.threads() >= self.max_threads {
            return Err(Refused::QuotaExceeded);
        }
        let thread = all_ids()
            .skip(1)
            .find(|&thread| self.state(thread) == ThreadState::Free)
            .ok_or(Refused::QuotaExceeded)?;
        let index = self.index_mut(thread).ok_or(Refused::QuotaExceeded)?;
        let make = !index.made;
        *index = Index { state: ThreadState::Running, made: true, ..Index::FREE };
        Ok(Spawn { thread, make })
    }

    /// The spawn into `thread` did not happen (making its objects, or starting it, failed):
    /// its index is free again. `objects_exist`: whether the index's objects exist now (they
    /// existed already, or were made before starting failed); `false` when making them
    /// failed and nothing was left behind.
    ///
    /// Errors: [`Error::MainThread`], [`Error::NotLive`] (the index is not running).
    pub fn spawn_failed(&mut self, thread: ThreadId, objects_exist: bool) -> Result<(), Error> {
        if thread == ThreadId::MAIN {
            return Err(Error::MainThread);
        }
        let index = self.index_mut(thread).ok_or(Error::NotLive { thread, state: FREE })?;
        if index.state != ThreadState::Running {
            return Err(Error::NotLive { thread, state: index.state });
        }
        *index = Index { made: objects_exist, ..Index::FREE };
        Ok(())
    }

    /// Thread `caller` asks to join `target`: see [`Join`].
    ///
    /// Refused: [`Refused::NotJoinable`] (see the module documentation).
    pub fn join(&mut self, caller: ThreadId, target: ThreadId) -> Result<Join, Refused> {
        let state = self.joinable(caller, target)?;
        if self.waits_for(target, caller) {
            return Err(Refused::NotJoinable);
        }
        let index = self.index_mut(target).ok_or(Refused::NotJoinable)?;
        match state {
            ThreadState::Ended(ending) => {
                *index = Index { made: index.made, ..Index::FREE };
                Ok(Join::Now(ending))
            }
            _ => {
                index.joiner = Some(caller);
                Ok(Join::Parked)
            }
        }
    }

    /// Thread `caller` says nobody will join `target`: see [`Detach`].
    ///
    /// Refused: as [`ThreadTable::join`] (but a detach never waits).
    pub fn detach(&mut self, caller: ThreadId, target: ThreadId) -> Result<Detach, Refused> {
        let state = self.joinable(caller, target)?;
        let index = self.index_mut(target).ok_or(Refused::NotJoinable)?;
        if let ThreadState::Ended(_) = state {
            *index = Index { made: index.made, ..Index::FREE };
            Ok(Detach::Freed)
        } else {
            index.detached = true;
            Ok(Detach::WhenEnded)
        }
    }

    /// Thread `thread` did `event`: what follows ([`Next`], and the module documentation).
    ///
    /// Errors: [`Error::NotLive`] (a free or ended index), [`Error::Joining`],
    /// [`Error::NotAborting`] (the realm is being aborted and this thread has reported
    /// already).
    pub fn ended(&mut self, thread: ThreadId, event: ThreadEvent) -> Result<Next, Error> {
        let policy = self.policy;
        if self.abort.is_some() {
            let complete = self.abort_reported(thread)?;
            return Ok(Next::AbortReported { complete });
        }
        if let Some(target) = self.joining(thread) {
            return Err(Error::Joining { thread, target });
        }
        let index = self.index_mut(thread).ok_or(Error::NotLive { thread, state: FREE })?;
        let ending = match (index.state, event) {
            (ThreadState::Free | ThreadState::Ended(_), _) => {
                return Err(Error::NotLive { thread, state: index.state });
            }
            (_, ThreadEvent::Exit) => return Ok(Next::EndRealm(Ending::Exited)),
            _ if thread == ThreadId::MAIN => return Ok(Next::EndRealm(event.realm_ending())),
            (ThreadState::Running, ThreadEvent::ExitThread) => ThreadEnding::Exited,
            (ThreadState::Running, ThreadEvent::Faulted | ThreadEvent::Panicked) => {
                let ending = match event {
                    ThreadEvent::Panicked => ThreadEnding::Panicked,
                    _ => ThreadEnding::Faulted,
                };
                return Ok(match policy {
                    ThreadFaultPolicy::StopRealm => Next::EndRealm(event.realm_ending()),
                    ThreadFaultPolicy::StopThread => {
                        index.state = ThreadState::Aborting(ending);
                        Next::AbortThread { ending }
                    }
                });
            }
            // Sent to its abort entry, it reported again: ended with its first ending.
            (ThreadState::Aborting(first), _) => first,
        };
        let joiner = index.joiner;
        let freed = index.detached || joiner.is_some();
        *index = if freed {
            Index { made: index.made, ..Index::FREE }
        } else {
            Index { state: ThreadState::Ended(ending), made: index.made, ..Index::FREE }
        };
        Ok(Next::Ended { ending, joiner, freed })
    }

    /// The supervisor aborts the realm: returns the threads to send to `start::ABORT`, every
    /// live one (running, parked or stopping; thread 0 always), and keeps them as the threads
    /// still aborting. Parked joins are dropped: their callers are among those threads (the
    /// memory manager drops their parked replies). Until [`ThreadTable::reset`], spawns,
    /// joins and detaches are refused.
    ///
    /// Errors: [`Error::AlreadyAborting`].
    pub fn begin_abort(&mut self) -> Result<ThreadSet, Error> {
        if self.abort.is_some() {
            return Err(Error::AlreadyAborting);
        }
        for index in &mut self.indexes {
            index.joiner = None;
        }
        let live = self.live();
        self.abort = Some(live);
        Ok(live)
    }

    /// `thread`, sent to `start::ABORT`, reported (or could not be sent: the memory manager
    /// reports it here at once): whether the abort is complete, every thread having
    /// reported. [`ThreadTable::ended`] calls it for every event during an abort.
    ///
    /// Errors: [`Error::NoAbort`], [`Error::NotAborting`] (not sent, or reported already).
    pub fn abort_reported(&mut self, thread: ThreadId) -> Result<bool, Error> {
        let remaining = self.abort.as_mut().ok_or(Error::NoAbort)?;
        if !remaining.remove(thread) {
            return Err(Error::NotAborting(thread));
        }
        Ok(remaining.is_empty())
    }

    /// The state of `target` if `caller` may join or detach it.
    fn joinable(&self, caller: ThreadId, target: ThreadId) -> Result<ThreadState, Refused> {
        let index = self.index(target).ok_or(Refused::NotJoinable)?;
        let refused = self.abort.is_some()
            || !self.is_live(caller)
            || self.joining(caller).is_some()
            || target == ThreadId::MAIN
            || target == caller
            || index.state == ThreadState::Free
            || index.detached
            || index.joiner.is_some();
        if refused { Err(Refused::NotJoinable) } else { Ok(index.state) }
    }

    /// The thread that `thread` is parked joining, if any.
    fn joining(&self, thread: ThreadId) -> Option<ThreadId> {
        all_ids().find(|&target| self.joiner(target) == Some(thread))
    }

    /// Whether `waiter` waits, through a chain of joins, for `thread` to end (a join of
    /// `waiter` by `thread` would then wait for ever).
    fn waits_for(&self, waiter: ThreadId, thread: ThreadId) -> bool {
        let mut current = waiter;
        // Each step follows one parked join; a chain is at most as long as the table.
        for _ in 0..MAX_THREADS_PER_REALM {
            let Some(joined) = self.joining(current) else { return false };
            if joined == thread {
                return true;
            }
            current = joined;
        }
        false
    }

    fn matching(&self, keep: impl Fn(&Index) -> bool) -> ThreadSet {
        let mut set = ThreadSet::EMPTY;
        for thread in all_ids() {
            if self.index(thread).is_some_and(&keep) {
                set.insert(thread);
            }
        }
        set
    }

    // A `ThreadId` is below `MAX_THREADS_PER_REALM`, the table's length, so these always
    // find the index; `None` is treated as a free index all the same.
    fn index(&self, thread: ThreadId) -> Option<&Index> {
        self.indexes.get(thread.index())
    }

    fn index_mut(&mut self, thread: ThreadId) -> Option<&mut Index> {
        self.indexes.get_mut(thread.index())
    }
}

const FREE: ThreadState = ThreadState::Free;

/// The bit of `thread` in a [`ThreadSet`].
fn bit(thread: ThreadId) -> u16 {
    1u16.checked_shl(u32::from(thread.get())).unwrap_or(0)
}

/// Every thread id of a realm, 0 first.
fn all_ids() -> impl Iterator<Item = ThreadId> {
    (0..=u8::MAX).map_while(ThreadId::new)
}

fn ending_name(ending: ThreadEnding) -> &'static str {
    match ending {
        ThreadEnding::Exited => "exited",
        ThreadEnding::Faulted => "faulted",
        ThreadEnding::Panicked => "panicked",
    }
}

#[cfg(test)]
mod tests;
