//! Threads inside a realm: [`Realm::spawn`], [`JoinHandle`] (join, detach), the thread's
//! identity ([`Realm::thread`]), [`Realm::exit_thread`], the realm's own figures
//! ([`Realm::usage`]), and typed calls between threads ([`Realm::thread_client`]).
//!
//! # What a thread is
//!
//! Thread 0 ([`ThreadId::MAIN`]) is the realm's main thread: the memory manager starts it at
//! boot and it runs `main`. A realm may have up to `max_threads` threads at once
//! (`system.toml`, 1 to 16, default 1: the main thread only), counting the main thread and
//! threads that ended but were not joined yet; threads 1 to 15 are spawned. Each spawned
//! thread runs at the realm's priority, with:
//! - a stack of [`ipc::abi::thread::THREAD_STACK_PAGES`] (16) pages, 64 KiB, with an unmapped guard
//!   page below it and one above, so an overflow faults instead of writing over another
//!   thread's memory (`ipc::abi::thread::stack_bottom`, `stack_top`);
//! - its own IPC buffer (`ipc::abi::thread::ipc_buffer`), its own broker cap (so the memory
//!   manager knows which thread asks), its own fault cap (so a fault names the thread) and
//!   its own inbox endpoint (`ipc::abi::slot::thread`), all in the realm's CSpace.
//!
//! The first spawn into an index makes these objects from the realm's budget; they are kept
//! for the next thread in that index until the realm stops, so spawning and joining again
//! costs no memory and no slots, and a realm's thread memory is bounded by `max_threads`.
//!
//! # Spawning
//!
//! `realm.spawn(closure)` leaves the closure (`FnOnce(&mut Realm) + Send + 'static`, at most
//! [`SPAWN_CLOSURE_BYTES`] (256) bytes with what it captures, aligned to at most 16: larger
//! does not compile) in a bounded mailbox in the realm's memory and asks the memory manager
//! (`Spawn`, label 44, one word: the mailbox entry's index) to start a thread in the lowest
//! free index. The thread starts at the program's entry with `ipc::abi::start::THREAD`,
//! takes its closure and runs it with its own [`Realm`] handle; when the closure returns the
//! thread ends ([`Realm::exit_thread`]). A realm ends when its main returns, or when any
//! thread calls [`Realm::exit`]. (A thread started by a raw `Spawn` request, whose argument
//! names no closure in the mailbox, runs `main` with its own handle instead.)
//!
//! A [`JoinHandle`] is `#[must_use]`: [`JoinHandle::join`] waits for the thread's end and
//! frees its index; [`JoinHandle::detach`] frees it as soon as the thread ends. A handle
//! dropped without either keeps its index (and its place in `max_threads`) until the realm
//! stops: the thread, once ended, still counts as not joined.
//!
//! # Faults and panics
//!
//! A fault or a panic of a spawned thread follows the realm's `on_thread_fault`
//! (`system.toml`): `stop-realm` (the default) stops the whole realm, and every thread
//! answers the client it owes a reply (`ABORTED`); `stop-thread` stops only that thread,
//! which answers its own client, while deferred callers stay for the other threads; its
//! joiner learns [`ThreadEnding::Faulted`] or [`ThreadEnding::Panicked`]. A fault or panic of
//! the main thread always stops the realm.
//!
//! # Identity
//!
//! A connection belongs to the realm, not to a thread: its cap is in the realm's CSpace, any
//! thread of the realm can call through it, and its service sees the same badge (the same
//! `Caller`) whichever thread calls. The threads of one realm share its `max_connections`.
//! A service therefore cannot tell a client's threads apart by their calls. A client that
//! wants per-thread identity opens one connection per thread: each `connect` mints a new
//! badge, so each thread's calls reach the service as another `Caller` (this is what CAmkES
//! users miss when two clients share one badge).
//!
//! A connection *handle* ([`crate::Connection`], a typed client) is one thread's at a time:
//! it is `Send` (move it into a spawned closure), not `Clone` (dropping a handle lets go of
//! the connection). Two threads that call one service each hold their own connection.
//!
//! # Signals
//!
//! The realm's notification (`Realm::bind_notification`, `Server::with_notifications`) is
//! bound to the main thread only: a server that takes signals runs on thread 0. Signals
//! coalesce (see `notification`).
//!
//! # Calls between threads
//!
//! Each thread has an inbox endpoint, `ipc::abi::slot::thread(t).inbox` in the realm's
//! CSpace, badged `Badge::for_inbox(t)` (kind 6): any thread of the realm can call thread t
//! there, with raw seL4 IPC ([`Realm::inbox`]) or with a typed client
//! ([`Realm::thread_client`]) when thread t serves an interface on its inbox
//! (`Server::serve_inbox`). The memory manager is not in the path: it is one seL4 Call, as
//! between realms, without the address-space switch. A call to a thread that has ended
//! waits until the index's next thread receives on its inbox (or until its deadline, under
//! [`Realm::with_deadline`]); a call to an index never spawned fails at once.

#[cfg(target_os = "none")]
use core::sync::atomic::{AtomicBool, Ordering};

use interface::Interface;
use ipc::abi::slot;
use ipc::realm::{RealmRequest, RealmResponse};
use ipc::{Malformed, ThreadEnding, ThreadId};
use sel4::cap::Endpoint;

use crate::client::Client;
use crate::mailbox::Mailbox;
use crate::service::Connection;
use crate::{Error, Realm};

pub use crate::mailbox::{MAILBOX_ENTRIES, SPAWN_CLOSURE_ALIGN, SPAWN_CLOSURE_BYTES};

/// The most threads a realm can have (`vocabulary::limits::MAX_THREADS_PER_REALM`, [`ThreadId::LIMIT`]).
pub const MAX_THREADS: usize = ThreadId::LIMIT;

/// Closures for threads about to start.
pub(crate) static MAILBOX: Mailbox<Realm> = Mailbox::new();

/// Why a thread operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadError {
    /// The memory manager refused, and said why:
    /// - `Spawn`: `QuotaExceeded { what: Threads }` (the realm has `max_threads` threads,
    ///   counting ended ones not joined yet); `QuotaExceeded { what: RealmMemory |
    ///   RealmObjectSlots | RealmPagingStructures }` (the first thread in an index needs a
    ///   stack, an IPC buffer, a TCB and an endpoint from the budget, and they do not fit;
    ///   nothing is left behind);
    /// - `Join`, `Detach`: `NotFound { what: Thread }` (the thread is this one, the main
    ///   thread, was never spawned, was joined or detached already, or another thread joins
    ///   it); `MalformedRequest` (an id of 16 or more).
    Refused(ipc::Error),
    /// The memory manager's reply could not be decoded.
    BadReply(Malformed),
    /// The memory manager's reply does not answer the request.
    UnexpectedReply,
    /// Every entry of the spawn mailbox holds a closure no thread has taken yet (only
    /// possible while [`MAILBOX_ENTRIES`] spawns wait for their thread to start).
    MailboxFull,
}

impl From<Error> for ThreadError {
    fn from(error: Error) -> Self {
        match error {
            Error::Refused(error) => ThreadError::Refused(error),
            Error::BadReply(reason) => ThreadError::BadReply(reason),
            Error::UnexpectedReply => ThreadError::UnexpectedReply,
        }
    }
}

impl core::fmt::Display for ThreadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ThreadError::Refused(error) => write!(f, "the memory manager refused: {error}"),
            ThreadError::BadReply(reason) => {
                write!(f, "the memory manager's reply is malformed: {reason}")
            }
            ThreadError::UnexpectedReply => {
                write!(f, "the memory manager's reply does not answer the request")
            }
            ThreadError::MailboxFull => write!(
                f,
                "the spawn mailbox is full ({MAILBOX_ENTRIES} closures wait for their threads)"
            ),
        }
    }
}

/// A spawned thread: join it or detach it. Dropped without either, the thread keeps its
/// index (and its place in `max_threads`) after it ends, until the realm stops.
#[must_use = "a thread neither joined nor detached keeps its index until the realm stops"]
#[derive(Debug, PartialEq, Eq)]
pub struct JoinHandle {
    thread: ThreadId,
}

impl JoinHandle {
    /// The thread's id (1 to 15).
    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    /// Waits until the thread has ended, and frees its index: how it ended
    /// ([`ThreadEnding::Exited`]; `Faulted` or `Panicked` under `on_thread_fault =
    /// "stop-thread"`).
    ///
    /// # Errors
    ///
    /// [`ThreadError::Refused`] with `NotFound { what: Thread }` when another thread joins
    /// it already or it was detached; the handle is used up either way.
    pub fn join(self, realm: &mut Realm) -> Result<ThreadEnding, ThreadError> {
        match realm.request(RealmRequest::Join { thread: self.thread }.encode())? {
            RealmResponse::Joined { thread, ending } if thread == self.thread => Ok(ending),
            _ => Err(ThreadError::UnexpectedReply),
        }
    }

    /// Nobody will join the thread: its index is freed as soon as it ends (at once if it
    /// has).
    ///
    /// # Errors
    ///
    /// As [`JoinHandle::join`].
    pub fn detach(self, realm: &mut Realm) -> Result<(), ThreadError> {
        match realm.request(RealmRequest::Detach { thread: self.thread }.encode())? {
            RealmResponse::Done => Ok(()),
            _ => Err(ThreadError::UnexpectedReply),
        }
    }
}

/// The realm's own figures ([`Realm::usage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the realm's memory budget not used yet.
    pub budget_free_bytes: u64,
    /// Slots of the memory manager's CNode for the realm's objects not used yet.
    pub object_slots_free: u64,
    /// Threads that count against `max_threads`: running, blocked, or ended and not joined,
    /// the main thread included.
    pub threads: u8,
}

impl Realm {
    /// This thread's id: [`ThreadId::MAIN`] (0) for the main thread, 1 to 15 for a spawned
    /// one.
    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    /// Starts a thread in this realm running `closure` (see the module doc); returns its
    /// handle. `closure` may take at most [`SPAWN_CLOSURE_BYTES`] bytes (with what it
    /// captures) aligned to at most [`SPAWN_CLOSURE_ALIGN`]: a larger one does not compile.
    ///
    /// # Errors
    ///
    /// [`ThreadError::Refused`] with `QuotaExceeded { what: Threads }` when the realm has
    /// `max_threads` threads already (the ended ones not joined count), or with
    /// `QuotaExceeded` of `RealmMemory`, `RealmObjectSlots` or `RealmPagingStructures`
    /// when a first thread in its index does not fit the budget;
    /// [`ThreadError::MailboxFull`]. The closure is dropped, not run.
    pub fn spawn<F>(&mut self, closure: F) -> Result<JoinHandle, ThreadError>
    where
        F: FnOnce(&mut Realm) + Send + 'static,
    {
        let index = MAILBOX.post(closure).map_err(|_| ThreadError::MailboxFull)?;
        let argument = index as u64;
        match self.request(RealmRequest::Spawn { argument }.encode()) {
            Ok(RealmResponse::Spawned { thread }) => Ok(JoinHandle { thread }),
            Ok(_) => {
                MAILBOX.withdraw(index);
                Err(ThreadError::UnexpectedReply)
            }
            Err(error) => {
                // Refused: no thread takes it. (If a garbled reply hid a thread that did
                // start, whichever of it and this comes first takes the closure.)
                MAILBOX.withdraw(index);
                Err(error.into())
            }
        }
    }

    /// Ends this thread. From the main thread it ends the realm, as [`Realm::exit`] does
    /// (every other thread is stopped, and answers the clients it owes replies).
    ///
    /// A thread that serves and ends in the middle of a request (its handler calls this
    /// before replying) first answers that client `ABORTED`, and the routed call it was
    /// handling, as the abort path would: its client gets an error, never a hang.
    pub fn exit_thread(&mut self) -> ! {
        #[cfg(target_os = "none")]
        crate::entry::answer_owed(self);
        let message = RealmRequest::ExitThread.encode();
        if let Ok(info) = self.ipc.set_message(message.label(), message.words(), &[]) {
            self.broker().call(self.ipc, info);
        }
        crate::stop()
    }

    /// The realm's own figures: free bytes of its budget, free slots for its objects, and
    /// its threads (see [`Usage`]).
    ///
    /// # Errors
    ///
    /// [`Error::BadReply`] or [`Error::UnexpectedReply`] if the memory manager's answer is
    /// not the protocol's.
    pub fn usage(&mut self) -> Result<Usage, Error> {
        match self.request(RealmRequest::Usage.encode())? {
            RealmResponse::Usage { budget_free_bytes, object_slots_free, threads } => {
                Ok(Usage { budget_free_bytes, object_slots_free, threads })
            }
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Thread `thread`'s inbox endpoint, for raw seL4 calls to it (`thread` receives on
    /// `realm.inbox(realm.thread())`). A Call through it waits for the thread's reply;
    /// through the inbox of an index never spawned the kernel answers at once with an error
    /// label ([`sel4::Error::InvalidCapability`]).
    pub fn inbox(&self, thread: ThreadId) -> Endpoint {
        Endpoint::from_cptr(slot::thread(thread).inbox)
    }

    /// A typed client of interface `I` on thread `thread`'s inbox, which that thread serves
    /// with `Server::new(state).serve_inbox::<I>(realm)`: the same generated calls as a
    /// connection's, one seL4 Call each, with no broker involved (no connect, nothing to
    /// disconnect; the interface is not checked: both sides are the same program).
    ///
    /// A call fails with `CallError::Unreachable(Error::Refused(NotFound { what: Thread }))`
    /// when the index has no thread objects (never spawned) or the thread stopped before
    /// answering (`ABORTED`). A call to a thread that ended waits (see the module doc).
    pub fn thread_client<I: Interface>(&self, thread: ThreadId) -> I::Client
    where
        I::Client: From<Client<I>>,
    {
        Client::new(Connection::inbox(self.inbox(thread), thread)).into()
    }
}

#[cfg(target_os = "none")]
/// Whether the abort path answered the deferred callers already: the first thread sent to
/// `ipc::abi::start::ABORT` claims it.
static DEFERRED_ANSWERED: AtomicBool = AtomicBool::new(false);

#[cfg(target_os = "none")]
/// Claims the answering of every deferred caller when the realm stops: `true` for the first
/// thread only.
pub(crate) fn claim_deferred_answering() -> bool {
    !DEFERRED_ANSWERED.swap(true, Ordering::AcqRel)
}

#[cfg(any(target_os = "none", test))]
/// The thread whose stack holds `address`: a spawned thread's stride
/// (`ipc::abi::thread::stack_bottom(t)..stack_top(t)`), else the main thread.
pub(crate) fn thread_of_stack(address: u64) -> ThreadId {
    (1..MAX_THREADS as u8)
        .filter_map(ThreadId::new)
        .find(|&thread| {
            (ipc::abi::thread::stack_bottom(thread)..ipc::abi::thread::stack_top(thread))
                .contains(&address)
        })
        .unwrap_or(ThreadId::MAIN)
}

#[cfg(target_os = "none")]
/// The calling thread's id, from where its stack is (the panic handler has no [`Realm`]).
#[inline(never)]
pub(crate) fn current() -> ThreadId {
    let marker = 0u8;
    thread_of_stack(core::hint::black_box(&marker) as *const u8 as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_name_their_thread() {
        for t in 1..MAX_THREADS as u8 {
            let thread = ThreadId::new(t).expect("an id below 16");
            let (bottom, top) =
                (ipc::abi::thread::stack_bottom(thread), ipc::abi::thread::stack_top(thread));
            assert_eq!(thread_of_stack(bottom), thread);
            assert_eq!(thread_of_stack(top - 8), thread);
            assert_eq!(thread_of_stack(bottom - 1), ThreadId::MAIN, "the guard page below");
            assert_eq!(thread_of_stack(top), ThreadId::MAIN, "the guard page above");
        }
        assert_eq!(thread_of_stack(ipc::abi::STACK_TOP - 8), ThreadId::MAIN);
        assert_eq!(thread_of_stack(ipc::abi::STACK_BOTTOM), ThreadId::MAIN);
    }

    #[test]
    fn what_threads_hand_each_other_can_move_between_threads() {
        fn movable<T: Send>() {}
        movable::<JoinHandle>();
        movable::<Connection>();
        movable::<crate::server::Registration<((), ())>>();
        movable::<ThreadError>();
    }

    #[test]
    fn thread_errors_keep_the_memory_managers_words() {
        let quota = ipc::Error::QuotaExceeded { what: ipc::Resource::Threads };
        assert_eq!(ThreadError::from(Error::Refused(quota)), ThreadError::Refused(quota));
        assert_eq!(ThreadError::from(Error::UnexpectedReply), ThreadError::UnexpectedReply);
    }
}
