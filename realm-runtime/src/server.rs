//! The server loop of typed interfaces: a [`Server`] owns one state and up to
//! [`ipc::ServiceIndex::LIMIT`] (8) services sharing one endpoint, and serves their requests
//! and the realm's notifications in one loop, in one thread.
//!
//! ```ignore
//! let server = Server::new(MyState::default())
//!     .serve::<Kv>(realm, "kv")?        // registered: the endpoint is created
//!     .serve::<Log>(realm, "log")?      // registered sharing kv's endpoint
//!     .with_notifications(realm)?;      // the realm's notification bound to the thread
//! server.run_with(realm, |state, realm, bits| { /* a signal: bits */ })
//! ```
//!
//! The state implements the generated server trait of each interface (`KvServer`,
//! `LogServer`). A request's badge says which service it is for (its kind is `8 +` the
//! service's index, `ipc::badge`): the dispatch is a chain of comparisons on that index and a
//! `match` on the operation number, all generic code (no `dyn`, nothing looked up).
//!
//! Every request is answered, in this order of checks:
//! - a badge that is not a connection to one of the services, or a signal: `BAD_REQUEST`
//!   (`NotAConnection`) for the former, the notification handler for the latter;
//! - capabilities in the message: `BAD_REQUEST` (`ExtraCaps`). (The kernel transfers a
//!   capability only into a receive slot, which this loop never sets: a capability sent to
//!   this endpoint is dropped and counted only when the kernel unwraps it, a badged cap to
//!   this very endpoint.)
//! - a label that is not an operation of the service's interface: `BAD_REQUEST`
//!   (`UnknownOperation`); words that do not decode exactly as the arguments: `BAD_REQUEST`
//!   (`WrongLength`, `Undecodable`);
//! - otherwise the handler's result: `OK` or `ERROR` with its words, `RESPONSE_TOO_LARGE`
//!   if they do not fit; or nothing yet, for a deferred reply.
//!
//! **Deferred replies.** A handler may keep its caller waiting and answer later, from the same
//! loop (another request's handler, the notification handler): [`Call::defer`] moves the
//! caller's reply capability (seL4's `CNode_SaveCaller`, through the realm's CNode cap in
//! `ipc::abi::slot::CNODE`) into a free slot of `ipc::abi::slot::DEFERRED_REPLIES` (12 of
//! them) and returns a [`Deferred`], which [`Realm::answer`] uses up. A `Deferred` dropped
//! unanswered is answered `ABORTED` when it is dropped; if the realm stops, its abort path
//! answers every deferred caller `ABORTED`.

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use interface::server::{check_request, refuse};
use interface::{Answer, BadRequest, Context, Dispatch, Interface, Response};
use ipc::abi::{label, slot};
use ipc::{Badge, BadgeKind, ConnectionId, Name, ServiceIndex};
use sel4::MessageInfo;
use sel4::cap::{CNode, Endpoint, Reply};
use sel4::ipc::Received;
use sel4::syscall::Registers;

use crate::service::{Caller, name};
use crate::thread::MAX_THREADS;
use crate::{Error, Realm};

/// The deferred-reply slots in use: bit `i` is slot `DEFERRED_REPLIES.start + i`. A static so
/// that the abort path (`entry.rs`) finds them after the thread was sent back to its entry.
pub(crate) static DEFERRED: AtomicU16 = AtomicU16::new(0);

/// The routed call each thread is handling, by thread id: its deferred-reply slot, or 0.
/// A thread stopped alone (`ipc::abi::start::ABORT_THREAD`) answers it `ABORTED`.
pub(crate) static HANDLING: [AtomicU64; MAX_THREADS] = [const { AtomicU64::new(0) }; MAX_THREADS];

pub(crate) const DEFERRED_SLOTS: u64 = slot::DEFERRED_REPLIES.end - slot::DEFERRED_REPLIES.start;
const _: () = assert!(DEFERRED_SLOTS <= 16);

/// Claims the lowest clear bit of `used` below `limit` (atomically: several threads defer at
/// once) and returns its index, or `None` when all `limit` are set.
pub(crate) fn claim(used: &AtomicU16, limit: u32) -> Option<u32> {
    let mut seen = used.load(Ordering::Relaxed);
    loop {
        let free = (!seen).trailing_zeros();
        if free >= limit {
            return None;
        }
        match used.compare_exchange_weak(
            seen,
            seen | (1 << free),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(free),
            Err(now) => seen = now,
        }
    }
}

/// The request being served: what a handler of a generated server trait gets. Dereferences
/// to the [`Realm`] (to call other services, print, defer).
pub struct Call<'a> {
    realm: &'a mut Realm,
    caller: Caller,
    length: usize,
    deferred: bool,
    /// A call a router handed to this thread: the deferred-reply slot its caller waits in
    /// (`router`).
    routed: Option<u64>,
}

impl Call<'_> {
    /// Who sent the request.
    pub fn caller(&self) -> Caller {
        self.caller
    }

    /// Keeps this request's caller waiting, to answer it later with [`Realm::answer`]: the
    /// handler then returns `Deferrable::Later` (only operations declared `#[deferrable]`
    /// can). `R` is the operation's declared result type.
    ///
    /// Once this returns `Ok`, the caller's reply capability is in the [`Deferred`], no
    /// longer the thread's: a result the handler returns anyway (`Deferrable::Now`, or the
    /// result of an operation not declared `#[deferrable]`, whose handler can call this too)
    /// reaches nobody. The caller gets what the `Deferred` gives it: the value passed to
    /// [`Realm::answer`], or `ABORTED` when it is dropped (at the end of the handler, if the
    /// handler did not keep it). So defer last, when nothing can fail any more, and return
    /// `Deferrable::Later`.
    ///
    /// The kernel tells the service nothing when a deferred caller stops waiting (its call
    /// cancelled at its deadline, its realm stopped: seL4 then deletes the saved reply
    /// capability, `cancelIPC` in `src/object/endpoint.c`); its slot stays taken until the
    /// `Deferred` is answered or dropped, which then reaches nobody. A service that defers
    /// for any client should bound how many it keeps per client ([`Deferred::caller`]), or a
    /// client that calls with short deadlines fills the 12 slots.
    ///
    /// # Errors
    ///
    /// - [`DeferError::TableFull`]: the realm keeps 12 deferred replies already
    ///   (`ipc::abi::slot::DEFERRED_REPLIES`);
    /// - [`DeferError::Twice`]: this request was deferred already;
    /// - [`DeferError::Kernel`]: `CNode_SaveCaller` failed (no CNode cap in
    ///   `ipc::abi::slot::CNODE`, say).
    pub fn defer<R: Response>(&mut self) -> Result<Deferred<R>, DeferError> {
        if self.deferred {
            return Err(DeferError::Twice);
        }
        if let Some(slot) = self.routed {
            // A routed call's caller waits in a deferred slot already: keep it there, now
            // the `Deferred`'s to answer (the thread no longer handles it).
            HANDLING[usize::from(self.realm.thread().get())].store(0, Ordering::Release);
            self.deferred = true;
            return Ok(Deferred { slot, caller: self.caller, result: PhantomData });
        }
        let free = claim(&DEFERRED, DEFERRED_SLOTS as u32).ok_or(DeferError::TableFull)?;
        let slot = slot::DEFERRED_REPLIES.start + u64::from(free);
        if let Err(error) = CNode::from_cptr(slot::CNODE).slot(slot).save_caller() {
            DEFERRED.fetch_and(!(1 << free), Ordering::Release);
            return Err(DeferError::Kernel(error));
        }
        self.deferred = true;
        Ok(Deferred { slot, caller: self.caller, result: PhantomData })
    }
}

impl Deref for Call<'_> {
    type Target = Realm;
    fn deref(&self) -> &Realm {
        self.realm
    }
}

impl DerefMut for Call<'_> {
    fn deref_mut(&mut self) -> &mut Realm {
        self.realm
    }
}

impl Context for Call<'_> {
    #[inline(always)]
    fn request(&self) -> &[u64] {
        self.realm.ipc.msg().get(..self.length).unwrap_or_default()
    }

    #[inline(always)]
    fn registers(&self) -> &[u64] {
        self.realm.ipc.msg()
    }

    #[inline(always)]
    fn reply_words(&mut self) -> &mut [u64] {
        self.realm.ipc.msg_mut()
    }
}

/// Why a reply could not be deferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeferError {
    /// Every deferred-reply slot holds a caller already.
    TableFull,
    /// The request was deferred already.
    Twice,
    /// The kernel refused `CNode_SaveCaller`.
    Kernel(sel4::Error),
}

impl core::fmt::Display for DeferError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeferError::TableFull => write!(
                f,
                "the realm keeps {DEFERRED_SLOTS} deferred replies already (every slot is in use)"
            ),
            DeferError::Twice => write!(f, "the request was deferred already"),
            DeferError::Kernel(error) => {
                write!(f, "the kernel refused to save the caller: {error:?}")
            }
        }
    }
}

/// A caller kept waiting ([`Call::defer`]), answered with [`Realm::answer`] with a value of
/// its operation's result type `R`. Dropped unanswered, it is answered `ABORTED`.
#[must_use = "a deferred caller waits until it is answered"]
pub struct Deferred<R> {
    slot: u64,
    caller: Caller,
    result: PhantomData<fn(R)>,
}

impl<R> Deferred<R> {
    /// Who waits.
    pub fn caller(&self) -> Caller {
        self.caller
    }
}

impl<R> Drop for Deferred<R> {
    /// Answers the caller `ABORTED` rather than leave it waiting for ever.
    fn drop(&mut self) {
        abort_slot(self.slot);
    }
}

impl Realm {
    /// Answers a deferred caller with `result` (its operation's declared result: `OK` or
    /// `ERROR`, `RESPONSE_TOO_LARGE` if it does not fit), and frees its slot. A caller that
    /// stopped waiting meanwhile (its call cancelled at a deadline, its realm stopped) gets
    /// nothing, and nothing fails.
    pub fn answer<R: Response>(&mut self, deferred: Deferred<R>, result: R) {
        let (label, length) = match result.encode(self.ipc.msg_mut()) {
            Ok(reply) => reply,
            Err(_) => (label::RESPONSE_TOO_LARGE, 0),
        };
        let slot = deferred.slot;
        core::mem::forget(deferred);
        answer_slot(self, slot, label, length);
    }
}

/// Sends the reply `label`/`length` (words in the IPC buffer) on the reply cap in `slot` and
/// frees the slot.
pub(crate) fn answer_slot(realm: &mut Realm, slot: u64, label: u64, length: usize) {
    let info = reply_info(label, length);
    Reply::from_cptr(slot).send(realm.ipc, info);
    // Sending used the reply cap up; a slot whose caller went away may still hold a dead
    // one. Emptied either way, so that the next SaveCaller finds it empty.
    let _ = CNode::from_cptr(slot::CNODE).slot(slot).delete();
    let bit = slot - slot::DEFERRED_REPLIES.start;
    DEFERRED.fetch_and(!(1 << bit), Ordering::Relaxed);
}

/// Answers `ABORTED` on the reply cap in `slot` (no words: the registers alone, the IPC
/// buffer untouched) and frees the slot.
pub(crate) fn abort_slot(slot: u64) {
    let info = MessageInfo::new(label::ABORTED, 0, 0).unwrap_or(MessageInfo::from_word(0));
    let registers = Registers { cap_or_badge: slot, info: info.word(), ..Registers::default() };
    sel4::syscall::syscall(sel4::syscall::number::SEND, registers);
    let _ = CNode::from_cptr(slot::CNODE).slot(slot).delete();
    let bit = slot - slot::DEFERRED_REPLIES.start;
    DEFERRED.fetch_and(!(1 << bit), Ordering::Relaxed);
}

/// Answers `ABORTED` to every deferred caller (the abort path: the realm is stopping).
#[cfg(target_os = "none")]
pub(crate) fn abort_deferred() {
    let deferred = DEFERRED.load(Ordering::Relaxed);
    for bit in 0..DEFERRED_SLOTS {
        if deferred & (1 << bit) != 0 {
            abort_slot(slot::DEFERRED_REPLIES.start + bit);
        }
    }
}

/// Answers `ABORTED` to the routed call `thread` was handling, if any (the abort path).
#[cfg(target_os = "none")]
pub(crate) fn abort_handling(thread: ipc::ThreadId) {
    let slot = HANDLING[usize::from(thread.get())].swap(0, Ordering::AcqRel);
    if slot != 0
        && DEFERRED.load(Ordering::Acquire) & (1 << (slot - slot::DEFERRED_REPLIES.start)) != 0
    {
        abort_slot(slot);
    }
}

/// A message the fast path does not take: a signal (to `on_notification`), a request with
/// capabilities, or one whose badge is not a connection to one of the `services` services
/// (both refused). Answers it and receives the next message.
#[cold]
#[inline(never)]
fn slow_path<S>(
    state: &mut S,
    realm: &mut Realm,
    endpoint: Endpoint,
    received: Received,
    services: u8,
    on_notification: &mut impl FnMut(&mut S, &mut Realm, u32),
) -> Received {
    let (info, badge) = (received.info, received.badge);
    let reason = match Badge::decode(badge) {
        Ok(BadgeKind::Notification { bits }) => {
            on_notification(state, realm, bits);
            // A signal has no caller to answer.
            return endpoint.recv(realm.ipc);
        }
        // A connection to an index this server has no service at (the broker never mints
        // one): refused before anything else, as the dispatch did.
        Ok(BadgeKind::Connection { service, .. }) if service.get() >= services => {
            BadRequest::NotAConnection { badge }
        }
        Ok(BadgeKind::Connection { .. } | BadgeKind::Inbox { .. }) => {
            match check_request(info.label(), info.extra_caps(), info.caps_unwrapped()) {
                Err(reason) => reason,
                // Not reached: the fast path takes every connection badge without caps.
                Ok(()) => BadRequest::NotAConnection { badge },
            }
        }
        _ => BadRequest::NotAConnection { badge },
    };
    let length = reason.encode(realm.ipc.msg_mut());
    endpoint.reply_recv(realm.ipc, reply_info(label::BAD_REQUEST, length))
}

/// The message info of a reply: `label` (one of `ipc::abi::label`'s, below 2^20) over
/// `length` words, kept to the 7 bits of the length field (a `Wire` implementation that
/// claims more than the 120 message registers cannot spill into the capability fields; the
/// kernel cuts a length above 120 to 120, `messageInfoFromWord` in seL4 5.0.0's
/// `include/api/types.h`).
#[inline(always)]
pub(crate) fn reply_info(label: u64, length: usize) -> MessageInfo {
    MessageInfo::from_word((label << 12) | (length as u64 & 0x7F))
}

/// The services of a [`Server`], as a list built by [`Server::serve`]: `()` is none,
/// `(L, I)` is the list `L` then interface `I` (at index `L::COUNT`).
pub trait Services<S> {
    /// How many services the list has.
    const COUNT: u8;
    /// Dispatches a request (message-info word `info`) for the service at `index`.
    fn dispatch(index: u8, state: &mut S, call: &mut Call<'_>, info: u64) -> Answer;
}

impl<S> Services<S> for () {
    const COUNT: u8 = 0;

    #[inline(always)]
    fn dispatch(index: u8, _state: &mut S, call: &mut Call<'_>, _info: u64) -> Answer {
        let badge = Badge::for_connection(
            call.caller.connection,
            ServiceIndex::new(index).unwrap_or(ServiceIndex::FIRST),
        );
        refuse(call, BadRequest::NotAConnection { badge: badge.value() })
    }
}

impl<S, L: Services<S>, I> Services<S> for (L, I)
where
    for<'a> I: Dispatch<S, Call<'a>>,
{
    const COUNT: u8 = L::COUNT + 1;

    #[inline(always)]
    fn dispatch(index: u8, state: &mut S, call: &mut Call<'_>, info: u64) -> Answer {
        if index == L::COUNT {
            I::dispatch(state, call, info)
        } else {
            L::dispatch(index, state, call, info)
        }
    }
}

/// Where a [`Server`] receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Nothing registered yet.
    Nothing,
    /// Its services' endpoint.
    Endpoint(Endpoint),
    /// The serving thread's own inbox (`ipc::abi::slot::thread(t).inbox`): typed calls from
    /// threads of this realm to the first interface ([`Server::serve_inbox`]), and calls a
    /// router hands over, for any of the services ([`Server::handler`]).
    Inbox,
}

/// The services a [`Server`] registered, for more threads to serve ([`Server::registration`]):
/// their endpoint and generations. `Copy` and `Send`: hand it to worker threads
/// ([`Server::worker`]: several threads receive on the one endpoint, each request reaches
/// exactly one of them) or to a router and its handlers ([`crate::router`]).
pub struct Registration<L> {
    endpoint: Endpoint,
    generations: [u32; ServiceIndex::LIMIT],
    /// How many services share the endpoint (`L`'s length).
    count: u8,
    services: PhantomData<fn() -> L>,
}

impl<L> Clone for Registration<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Registration<L> {}

impl<L> core::fmt::Debug for Registration<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registration")
            .field("endpoint", &self.endpoint)
            .field("generations", &self.generations)
            .finish()
    }
}

impl<L> Registration<L> {
    /// The services' endpoint (a Receive cap in the realm's CSpace).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The generation the broker gave the service at `index`.
    pub fn generation(&self, index: ServiceIndex) -> u32 {
        self.generations[usize::from(index.get())]
    }

    /// How many services share the endpoint.
    pub fn services(&self) -> u8 {
        self.count
    }
}

/// A set of services sharing one endpoint, served with one state `S` in one loop (see the
/// module doc). `L` is the list of their interfaces.
pub struct Server<S, L> {
    state: S,
    source: Source,
    /// The first service's name: the others share its endpoint.
    first: Option<Name>,
    /// Each service's generation, by index.
    generations: [u32; ServiceIndex::LIMIT],
    services: PhantomData<fn() -> L>,
}

impl<S> Server<S, ()> {
    /// A server with no service yet, whose handlers' state is `state`.
    pub fn new(state: S) -> Self {
        Server {
            state,
            source: Source::Nothing,
            first: None,
            generations: [0; ServiceIndex::LIMIT],
            services: PhantomData,
        }
    }

    /// Serves interface `I` on the inbox of the thread that runs the server (with
    /// [`Server::run`] or [`Server::run_with`]), for the other threads of this realm:
    /// `realm.thread_client::<I>(thread)` calls it. Nothing is registered with the broker:
    /// the inbox is the thread's own endpoint, and only threads of this realm hold caps to
    /// it (badged `Badge::for_inbox(thread)`, kind 6). A handler's [`Call::caller`] is
    /// [`Caller::INTRA_REALM`] (the kernel does not say which thread called).
    ///
    /// Such a server serves that one interface: [`Server::serve`] on it registers nothing
    /// and returns [`Error::UnexpectedReply`].
    pub fn serve_inbox<I>(self) -> Server<S, ((), I)>
    where
        I: Interface + for<'a> Dispatch<S, Call<'a>>,
    {
        Server {
            state: self.state,
            source: Source::Inbox,
            first: None,
            generations: self.generations,
            services: PhantomData,
        }
    }
}

impl<S, L: Services<S>> Server<S, L> {
    /// A worker's server on services another thread registered: `registration` is that
    /// server's [`Server::registration`]. Each worker receives on the same endpoint with its
    /// own state `S` (which implements the server trait of each interface of `L`); seL4
    /// hands each request to exactly one of the threads waiting there. Each worker answers
    /// its own requests, can call other services from its handlers (its caller's reply cap
    /// waits in its own thread) and can defer (the deferred-reply slots are the realm's,
    /// shared by all its threads).
    ///
    /// ```ignore
    /// let server = Server::new(Counter::default()).serve::<Echo>(realm, "echo")?;
    /// let registration = server.registration().expect("echo is registered");
    /// for _ in 0..3 {
    ///     let worker = move |realm: &mut Realm| Server::worker(registration, Counter::default()).run(realm);
    ///     realm.spawn(worker)?.detach(realm)?;
    /// }
    /// server.run(realm)
    /// ```
    pub fn worker(registration: Registration<L>, state: S) -> Self {
        Server {
            state,
            source: Source::Endpoint(registration.endpoint),
            first: None,
            generations: registration.generations,
            services: PhantomData,
        }
    }

    /// A handler thread's server for calls a router hands over (see [`crate::router`]): it
    /// receives on the inbox of the thread that runs it, dispatches each handed-over call to
    /// its service's handler (`registration` is the router's services) and answers it
    /// through the deferred-reply slot its caller waits in. Direct calls on the inbox
    /// ([`Realm::thread_client`]) reach the first interface of `L`, as with
    /// [`Server::serve_inbox`].
    pub fn handler(registration: Registration<L>, state: S) -> Self {
        Server {
            state,
            source: Source::Inbox,
            first: None,
            generations: registration.generations,
            services: PhantomData,
        }
    }

    /// Registers `service` with interface `I` (the state must implement `I`'s server trait):
    /// the first service gets a new endpoint, the others share it.
    ///
    /// # Errors
    ///
    /// Those of [`Realm::register`], and from the broker: `InterfaceMismatch` when
    /// `system.toml` declares another interface for the service;
    /// `QuotaExceeded { what: EndpointServices }` past 8 services on the endpoint;
    /// [`Error::UnexpectedReply`] when the broker gives the service another index than
    /// the next one (the dispatch would be wrong), or (with nothing sent) when the server
    /// receives on an inbox ([`Server::serve_inbox`], [`Server::handler`]) or is a worker
    /// ([`Server::worker`]: the services are its registration's).
    pub fn serve<I>(self, realm: &mut Realm, service: &str) -> Result<Server<S, (L, I)>, Error>
    where
        I: Interface + for<'a> Dispatch<S, Call<'a>>,
    {
        let service = name(service)?;
        if self.source == Source::Inbox || (self.source != Source::Nothing && self.first.is_none())
        {
            return Err(Error::UnexpectedReply);
        }
        let id = I::id().map_err(|error| {
            Error::Refused(ipc::Error::MalformedRequest {
                reason: ipc::Malformed::BadName { field: ipc::Field::ServiceName, error },
            })
        })?;
        let (registered, index) = realm.register_with(service, Some(id), self.first)?;
        if index.get() != L::COUNT
            || matches!(self.source, Source::Endpoint(endpoint) if endpoint != registered.endpoint())
        {
            return Err(Error::UnexpectedReply);
        }
        let mut generations = self.generations;
        generations[usize::from(index.get())] = registered.generation;
        Ok(Server {
            state: self.state,
            source: Source::Endpoint(registered.endpoint()),
            first: Some(self.first.unwrap_or(service)),
            generations,
            services: PhantomData,
        })
    }

    /// Binds the realm's notification to its main thread (the memory manager creates it from
    /// the realm's budget), so that signals (`Realm::signal_after`'s timer, ...) reach this
    /// loop's notification handler ([`Server::run_with`]). The notification is bound to
    /// thread 0 whichever thread asks: a server that takes signals runs on the main thread.
    ///
    /// # Errors
    ///
    /// The memory manager's refusal (its budget used up, say).
    pub fn with_notifications(self, realm: &mut Realm) -> Result<Self, Error> {
        realm.bind_notification()?;
        Ok(self)
    }

    /// The handlers' state.
    pub fn state(&mut self) -> &mut S {
        &mut self.state
    }

    /// The generation the broker gave the service at `index`.
    pub fn generation(&self, index: ServiceIndex) -> u32 {
        self.generations[usize::from(index.get())]
    }

    /// The registered services, for other threads to serve ([`Server::worker`]) or for a
    /// router ([`crate::router`]); `None` for a server that receives on an inbox or has no
    /// service.
    pub fn registration(&self) -> Option<Registration<L>> {
        match self.source {
            Source::Endpoint(endpoint) => Some(Registration {
                endpoint,
                generations: self.generations,
                count: L::COUNT,
                services: PhantomData,
            }),
            Source::Nothing | Source::Inbox => None,
        }
    }

    /// Serves for ever, ignoring signals.
    pub fn run(self, realm: &mut Realm) -> ! {
        self.run_with(realm, |_, _, _| {})
    }

    /// Serves for ever: each request to its service's handler, each signal (the OR of the
    /// notification bits signalled since the last, `ipc::abi::notification`) to
    /// `on_notification` with the state and the realm. Tells the memory manager first that
    /// this realm now serves (its abort path answers callers). With no service registered,
    /// the thread ends (on the main thread, the realm exits).
    pub fn run_with(
        mut self,
        realm: &mut Realm,
        mut on_notification: impl FnMut(&mut S, &mut Realm, u32),
    ) -> ! {
        let endpoint = match self.source {
            Source::Nothing => realm.exit_thread(),
            Source::Inbox => self.run_inbox(realm, on_notification),
            Source::Endpoint(endpoint) => endpoint,
        };
        realm.announce_serving();
        let mut received = endpoint.recv(realm.ipc);
        loop {
            let (info, badge) = (received.info, received.badge);
            // The fast path: a connection badge to one of this server's services (kind
            // `8 + index` with `index < L::COUNT`, one unsigned comparison, within the
            // kernel's 28 bits) with a generation (never 0), no capabilities. Everything
            // else is the slow path's.
            let index = (badge >> 24).wrapping_sub(8);
            if index >= u64::from(L::COUNT) || badge & 0xFF_FC00 == 0 || info.word() & 0xF80 != 0 {
                received = slow_path(
                    &mut self.state,
                    realm,
                    endpoint,
                    received,
                    L::COUNT,
                    &mut on_notification,
                );
                continue;
            }
            let Some(connection) = ConnectionId::from_word(badge & 0xFF_FFFF) else {
                received = slow_path(
                    &mut self.state,
                    realm,
                    endpoint,
                    received,
                    L::COUNT,
                    &mut on_notification,
                );
                continue;
            };
            let service = index as u8;
            let mut call = Call {
                caller: Caller {
                    connection,
                    service: ServiceIndex::new(service).unwrap_or(ServiceIndex::FIRST),
                    intra_realm: false,
                },
                length: info.length(),
                deferred: false,
                routed: None,
                realm: &mut *realm,
            };
            received = match L::dispatch(service, &mut self.state, &mut call, info.word()) {
                Answer::Reply { label, length } => {
                    endpoint.reply_recv(realm.ipc, reply_info(label, length))
                }
                Answer::Deferred if call.deferred => endpoint.recv(realm.ipc),
                // `Later` without a saved reply cap: the caller must not wait for ever.
                Answer::Deferred => endpoint.reply_recv(realm.ipc, reply_info(label::ABORTED, 0)),
            };
        }
    }

    /// The loop of a server on the thread's inbox: direct calls from threads of this realm
    /// (answered with a reply, as on an endpoint) and calls a router handed over (answered
    /// through their deferred-reply slot).
    fn run_inbox(
        mut self,
        realm: &mut Realm,
        mut on_notification: impl FnMut(&mut S, &mut Realm, u32),
    ) -> ! {
        realm.announce_serving();
        let me = realm.thread();
        let endpoint = realm.inbox(me);
        let inbox = Badge::for_inbox(me).value();
        let handling = &HANDLING[usize::from(me.get())];
        let mut received = endpoint.recv(realm.ipc);
        loop {
            let (info, badge) = (received.info, received.badge);
            if badge != inbox || info.word() & 0xF80 != 0 {
                received =
                    slow_path(&mut self.state, realm, endpoint, received, 0, &mut on_notification);
                continue;
            }
            let label = info.label();
            if (1..=label::MAX_OPERATION).contains(&label) {
                // A direct call from a thread of this realm: the first interface.
                let mut call = Call {
                    caller: Caller::INTRA_REALM,
                    length: info.length(),
                    deferred: false,
                    routed: None,
                    realm: &mut *realm,
                };
                received = match L::dispatch(0, &mut self.state, &mut call, info.word()) {
                    Answer::Reply { label, length } => {
                        endpoint.reply_recv(realm.ipc, reply_info(label, length))
                    }
                    Answer::Deferred if call.deferred => endpoint.recv(realm.ipc),
                    Answer::Deferred => {
                        endpoint.reply_recv(realm.ipc, reply_info(label::ABORTED, 0))
                    }
                };
                continue;
            }
            let words = realm.ipc.msg().get(..info.length()).unwrap_or_default();
            let Some(post) = crate::router::Post::unpack(label, words)
                .filter(|post| post.caller.service.get() < L::COUNT && post.is_claimed())
            else {
                // Neither a call nor a handed-over one: refused (a `Send` gets nothing).
                let reason = BadRequest::UnknownOperation { operation: label };
                let length = reason.encode(realm.ipc.msg_mut());
                received = endpoint.reply_recv(realm.ipc, reply_info(label::BAD_REQUEST, length));
                continue;
            };
            handling.store(post.slot, Ordering::Release);
            let length = post.length;
            let mut call = Call {
                caller: post.caller,
                length,
                deferred: false,
                routed: Some(post.slot),
                realm: &mut *realm,
            };
            let info = (post.operation << 12) | length as u64;
            let answer = L::dispatch(post.caller.service.get(), &mut self.state, &mut call, info);
            let deferred = call.deferred;
            handling.store(0, Ordering::Release);
            match answer {
                Answer::Reply { .. } | Answer::Deferred if deferred => {}
                Answer::Reply { label, length } => answer_slot(realm, post.slot, label, length),
                // `Later` without `defer`: the caller must not wait for ever.
                Answer::Deferred => answer_slot(realm, post.slot, label::ABORTED, 0),
            }
            received = endpoint.recv(realm.ipc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn claims_take_the_lowest_free_bit_up_to_the_limit() {
        let used = AtomicU16::new(0b1011);
        assert_eq!(claim(&used, 12), Some(2));
        assert_eq!(claim(&used, 12), Some(4));
        assert_eq!(used.load(Ordering::Relaxed), 0b11111);
        let full = AtomicU16::new(0x0FFF);
        assert_eq!(claim(&full, 12), None);
        assert_eq!(full.load(Ordering::Relaxed), 0x0FFF);
    }

    #[test]
    fn threads_claiming_at_once_never_share_a_slot() {
        let used: &'static AtomicU16 = Box::leak(Box::new(AtomicU16::new(0)));
        let owners: &'static [AtomicU64; 12] =
            Box::leak(Box::new([const { AtomicU64::new(0) }; 12]));
        let threads: Vec<_> = (1..=4u64)
            .map(|me| {
                std::thread::spawn(move || {
                    let mut claimed = 0;
                    for _ in 0..20_000 {
                        if let Some(bit) = claim(used, 12) {
                            // Nobody else holds it while it is claimed.
                            assert_eq!(owners[bit as usize].swap(me, Ordering::SeqCst), 0);
                            assert_eq!(owners[bit as usize].swap(0, Ordering::SeqCst), me);
                            used.fetch_and(!(1 << bit), Ordering::Release);
                            claimed += 1;
                        }
                    }
                    claimed
                })
            })
            .collect();
        let claimed: u32 = threads.into_iter().map(|thread| thread.join().expect("a thread")).sum();
        assert!(claimed > 0);
        assert_eq!(used.load(Ordering::Relaxed), 0);
    }
}
