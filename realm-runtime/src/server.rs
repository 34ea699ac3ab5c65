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
use core::sync::atomic::{AtomicU16, Ordering};

use interface::server::{check_request, refuse};
use interface::{Answer, BadRequest, Context, Dispatch, Interface, Response};
use ipc::abi::{label, slot};
use ipc::{Badge, BadgeKind, ConnectionId, Name, ServiceIndex};
use sel4::MessageInfo;
use sel4::cap::{CNode, Endpoint, Reply};
use sel4::ipc::Received;
use sel4::syscall::Registers;

use crate::service::{Caller, name};
use crate::{Error, Realm};

/// The deferred-reply slots in use: bit `i` is slot `DEFERRED_REPLIES.start + i`. A static so
/// that the abort path (`entry.rs`) finds them after the thread was sent back to its entry.
pub(crate) static DEFERRED: AtomicU16 = AtomicU16::new(0);

const DEFERRED_SLOTS: u64 = slot::DEFERRED_REPLIES.end - slot::DEFERRED_REPLIES.start;
const _: () = assert!(DEFERRED_SLOTS <= 16);

/// The request being served: what a handler of a generated server trait gets. Dereferences
/// to the [`Realm`] (to call other services, print, defer).
pub struct Call<'a> {
    realm: &'a mut Realm,
    caller: Caller,
    length: usize,
    deferred: bool,
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
        let used = DEFERRED.load(Ordering::Relaxed);
        let free = (!used).trailing_zeros();
        if u64::from(free) >= DEFERRED_SLOTS {
            return Err(DeferError::TableFull);
        }
        let slot = slot::DEFERRED_REPLIES.start + u64::from(free);
        CNode::from_cptr(slot::CNODE).slot(slot).save_caller().map_err(DeferError::Kernel)?;
        DEFERRED.fetch_or(1 << free, Ordering::Relaxed);
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
fn answer_slot(realm: &mut Realm, slot: u64, label: u64, length: usize) {
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
fn abort_slot(slot: u64) {
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
        Ok(BadgeKind::Connection { .. }) => {
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
fn reply_info(label: u64, length: usize) -> MessageInfo {
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

/// A set of services sharing one endpoint, served with one state `S` in one loop (see the
/// module doc). `L` is the list of their interfaces.
pub struct Server<S, L> {
    state: S,
    endpoint: Option<Endpoint>,
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
            endpoint: None,
            first: None,
            generations: [0; ServiceIndex::LIMIT],
            services: PhantomData,
        }
    }
}

impl<S, L: Services<S>> Server<S, L> {
    /// Registers `service` with interface `I` (the state must implement `I`'s server trait):
    /// the first service gets a new endpoint, the others share it.
    ///
    /// # Errors
    ///
    /// Those of [`Realm::register`], and from the broker: `InterfaceMismatch` when
    /// `system.toml` declares another interface for the service;
    /// `QuotaExceeded { what: EndpointServices }` past 8 services on the endpoint;
    /// [`Error::UnexpectedReply`] when the broker gives the service another index than
    /// the next one (the dispatch would be wrong).
    pub fn serve<I>(self, realm: &mut Realm, service: &str) -> Result<Server<S, (L, I)>, Error>
    where
        I: Interface + for<'a> Dispatch<S, Call<'a>>,
    {
        let service = name(service)?;
        let id = I::id().map_err(|error| {
            Error::Refused(ipc::Error::MalformedRequest {
                reason: ipc::Malformed::BadName { field: ipc::Field::ServiceName, error },
            })
        })?;
        let (registered, index) = realm.register_with(service, Some(id), self.first)?;
        if index.get() != L::COUNT || self.endpoint.is_some_and(|e| e != registered.endpoint()) {
            return Err(Error::UnexpectedReply);
        }
        let mut generations = self.generations;
        generations[usize::from(index.get())] = registered.generation;
        Ok(Server {
            state: self.state,
            endpoint: Some(registered.endpoint()),
            first: Some(self.first.unwrap_or(service)),
            generations,
            services: PhantomData,
        })
    }

    /// Binds the realm's notification to its thread (the memory manager creates it from the
    /// realm's budget), so that signals (`Realm::signal_after`'s timer, ...) reach this loop's
    /// notification handler ([`Server::run_with`]).
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

    /// Serves for ever, ignoring signals.
    pub fn run(self, realm: &mut Realm) -> ! {
        self.run_with(realm, |_, _, _| {})
    }

    /// Serves for ever: each request to its service's handler, each signal (the OR of the
    /// notification bits signalled since the last, `ipc::abi::notification`) to
    /// `on_notification` with the state and the realm. Tells the memory manager first that
    /// this realm now serves (its abort path answers callers). With no service registered,
    /// the realm exits.
    pub fn run_with(
        mut self,
        realm: &mut Realm,
        mut on_notification: impl FnMut(&mut S, &mut Realm, u32),
    ) -> ! {
        let Some(endpoint) = self.endpoint else { realm.exit() };
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
                },
                length: info.length(),
                deferred: false,
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
}
