//! Routing: one router thread receives every call to a set of services and hands each to a
//! handler thread of the same realm, chosen by connection or by operation.
//!
//! # The pattern
//!
//! ```ignore
//! fn main(realm: &mut Realm) {
//!     // Register on the main thread, as for a server; the router runs no `Server` loop.
//!     let registration = Server::new(Kv::default())
//!         .serve::<KvInterface>(realm, "kv")?
//!         .registration()
//!         .expect("kv is registered");
//!     // The handlers: each serves the same services, with its own state, on its inbox.
//!     let mut handlers = [ThreadId::MAIN; 3];
//!     for handler in &mut handlers {
//!         let spawned = realm.spawn(move |realm: &mut Realm| {
//!             Server::handler(registration, Kv::default()).run(realm)
//!         })?;
//!         *handler = spawned.thread();
//!         spawned.detach(realm)?;
//!     }
//!     // Each connection always reaches the same handler (its state is that client's).
//!     router::run(realm, registration, router::by_connection(&handlers))
//! }
//! ```
//!
//! For each call on the services' endpoint the router:
//! 1. checks it as a `Server` does (a connection to one of the services, no capabilities, an
//!    operation label) and refuses it with `BAD_REQUEST` otherwise;
//! 2. asks the route (`FnMut(Caller, operation) -> ThreadId`) which handler takes it;
//! 3. defers the call: moves the caller's reply capability into one of the realm's
//!    deferred-reply slots (`ipc::abi::slot::DEFERRED_REPLIES`, 12, shared by all threads;
//!    while all are taken, the router waits, 1 ms at a time, and its callers with it);
//! 4. posts it to the handler's inbox with seL4 `Send` (which waits until the handler takes
//!    it): the request's label and words as they came, plus one word naming the deferred
//!    slot and the connection badge (the label carries [`ROUTED`]);
//! 5. receives the next call. The handler ([`crate::Server::handler`]) dispatches the call
//!    with the generated dispatch, as if it had received it itself (its `Call::caller` is the
//!    client's connection), and answers through the deferred slot; a handler may
//!    `Call::defer` it again (the caller stays in its slot) to answer later.
//!
//! What it costs and what it keeps: a routed call takes two more IPCs than a direct one (the
//! post, and the answer through a reply capability instead of `ReplyRecv`) and a CNode
//! invocation (`SaveCaller`); the words travel twice. A request of 120 words (the most a
//! message carries) leaves no room for the post's word: it is refused `BAD_REQUEST`
//! (`WrongLength`).
//!
//! Faults: if the realm stops (`on_thread_fault = "stop-realm"`, or the router or the main
//! thread faults), every deferred caller is answered `ABORTED`, routed or not. Under
//! `stop-thread`, a handler that faults or panics while handling a routed call answers that
//! call `ABORTED` (the other handlers go on); a call it had deferred again waits until the
//! realm stops. A router that faults under `stop-thread` stops routing: the services'
//! clients then wait, so keep the router on the main thread (whose fault stops the realm).
//!
//! The route must name a thread that serves its inbox with [`crate::Server::handler`]: a
//! post to a thread that ended waits until another thread runs in its index, and a post to
//! an index never spawned is dropped by the kernel (its caller waits until the realm
//! stops). A route that names the router itself is answered `ABORTED`.

use core::sync::atomic::Ordering;
use core::time::Duration;

use interface::BadRequest;
use interface::server::check_request;
use ipc::abi::{label, slot};
use ipc::{Badge, BadgeKind, ThreadId};
use sel4::MessageInfo;
use sel4::cap::CNode;
use sel4::message::MAX_MESSAGE_WORDS;

use crate::Realm;
use crate::server::{DEFERRED, DEFERRED_SLOTS, Registration, claim, reply_info};
use crate::service::Caller;

/// The bit of a post's label that marks it as a call handed over by a router (its low 16
/// bits are the operation). Operations are `1..=0xFFFF`, so a direct call on an inbox never
/// has it.
pub const ROUTED: u64 = 1 << 19;

/// A call a router handed to a handler, as the handler reads it from its inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Post {
    /// The operation (the request's label).
    pub(crate) operation: u64,
    /// The deferred-reply slot the caller waits in.
    pub(crate) slot: u64,
    /// The connection it came on.
    pub(crate) caller: Caller,
    /// The request's words (the post's words but its last).
    pub(crate) length: usize,
}

impl Post {
    /// The word a post carries after the request's: the connection badge (28 bits) and the
    /// deferred slot from bit 32.
    pub(crate) fn word(slot: u64, badge: u64) -> u64 {
        (slot << 32) | (badge & 0xFFF_FFFF)
    }

    /// The post a message on the inbox is, if it is one: label `ROUTED | operation`, its last
    /// word naming a deferred-reply slot and a connection badge.
    pub(crate) fn unpack(label: u64, words: &[u64]) -> Option<Post> {
        if label & !(ROUTED | label::MAX_OPERATION) != 0 || label & ROUTED == 0 {
            return None;
        }
        let operation = label & label::MAX_OPERATION;
        let (&word, request) = words.split_last()?;
        let slot = word >> 32;
        if operation == 0 || !slot::DEFERRED_REPLIES.contains(&slot) || word & 0xF000_0000 != 0 {
            return None;
        }
        match Badge::decode(word & 0xFFF_FFFF) {
            Ok(BadgeKind::Connection { connection, service }) => Some(Post {
                operation,
                slot,
                caller: Caller { connection, service, intra_realm: false },
                length: request.len(),
            }),
            _ => None,
        }
    }

    /// Whether its slot is taken (a slot the router claimed and no one answered yet).
    pub(crate) fn is_claimed(&self) -> bool {
        DEFERRED.load(Ordering::Acquire) & (1 << (self.slot - slot::DEFERRED_REPLIES.start)) != 0
    }
}

/// Routes by connection: all calls of one connection go to the same handler
/// (`handlers[connection index % handlers.len()]`), so a handler's state can be its
/// clients'. With no handlers, every call is routed to the main thread.
pub fn by_connection(handlers: &[ThreadId]) -> impl FnMut(Caller, u64) -> ThreadId + '_ {
    move |caller, _| {
        let index = usize::from(caller.connection.index());
        index
            .checked_rem(handlers.len())
            .and_then(|index| handlers.get(index))
            .copied()
            .unwrap_or(ThreadId::MAIN)
    }
}

/// Routes by operation: the first `(operation, handler)` of `table` that names the call's
/// operation, else `otherwise`.
pub fn by_operation(
    table: &[(u64, ThreadId)],
    otherwise: ThreadId,
) -> impl FnMut(Caller, u64) -> ThreadId + '_ {
    move |_, operation| {
        table.iter().find(|(each, _)| *each == operation).map_or(otherwise, |(_, thread)| *thread)
    }
}

/// Runs this thread as the router of `registration`'s services (see the module doc): every
/// call goes to the handler thread `route(caller, operation)` names. Never returns. Tells
/// the memory manager first that this realm serves.
pub fn run<L>(
    realm: &mut Realm,
    registration: Registration<L>,
    mut route: impl FnMut(Caller, u64) -> ThreadId,
) -> ! {
    realm.announce_serving();
    let me = realm.thread();
    let endpoint = registration.endpoint();
    let services = registration.services();
    let mut words = [0u64; MAX_MESSAGE_WORDS];
    let mut received = endpoint.recv(realm.ipc);
    loop {
        let (info, badge) = (received.info, received.badge);
        let checked = match Badge::decode(badge) {
            Ok(BadgeKind::Notification { .. }) => {
                // The router takes no signals: a signal has no caller to answer.
                received = endpoint.recv(realm.ipc);
                continue;
            }
            Ok(BadgeKind::Connection { connection, service }) if service.get() < services => {
                check_request(info.label(), info.extra_caps(), info.caps_unwrapped())
                    .map(|()| Caller { connection, service, intra_realm: false })
            }
            _ => Err(BadRequest::NotAConnection { badge }),
        };
        let length = info.length();
        let caller = match checked {
            Ok(_) if length >= MAX_MESSAGE_WORDS => {
                Err(BadRequest::WrongLength { received: length as u64 })
            }
            other => other,
        };
        let caller = match caller {
            Ok(caller) => caller,
            Err(reason) => {
                let length = reason.encode(realm.ipc.msg_mut());
                received = endpoint.reply_recv(realm.ipc, reply_info(label::BAD_REQUEST, length));
                continue;
            }
        };
        let operation = info.label();
        // The words, before anything else uses the IPC buffer (the route, a sleep, SaveCaller).
        words[..length].copy_from_slice(&realm.ipc.msg()[..length]);
        let handler = route(caller, operation);
        if handler == me {
            received = endpoint.reply_recv(realm.ipc, reply_info(label::ABORTED, 0));
            continue;
        }
        let slot = keep_caller(realm);
        let Some(slot) = slot else {
            received = endpoint.reply_recv(realm.ipc, reply_info(label::ABORTED, 0));
            continue;
        };
        let message = realm.ipc.msg_mut();
        message[..length].copy_from_slice(&words[..length]);
        message[length] = Post::word(slot, badge);
        let post = MessageInfo::new(ROUTED | operation, 0, length + 1)
            .unwrap_or(MessageInfo::from_word(0));
        realm.inbox(handler).send(realm.ipc, post);
        received = endpoint.recv(realm.ipc);
    }
}

/// Moves the caller's reply capability into a free deferred-reply slot (waiting 1 ms at a
/// time while none is free) and returns the slot; `None` if the kernel refused (the reply
/// capability is then still the thread's).
fn keep_caller(realm: &mut Realm) -> Option<u64> {
    let bit = loop {
        if let Some(bit) = claim(&DEFERRED, DEFERRED_SLOTS as u32) {
            break bit;
        }
        // Every slot holds a caller: wait for a handler to answer one. (A sleep is a call to
        // the memory manager: the caller's reply capability stays in this thread.)
        if realm.sleep(Duration::from_millis(1)).is_err() {
            sel4::ipc::yield_now();
        }
    };
    let slot = slot::DEFERRED_REPLIES.start + u64::from(bit);
    match CNode::from_cptr(slot::CNODE).slot(slot).save_caller() {
        Ok(()) => Some(slot),
        Err(_) => {
            DEFERRED.fetch_and(!(1 << bit), Ordering::Release);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::{ConnectionId, ServiceIndex};

    fn caller(index: u16, service: u8) -> Caller {
        Caller {
            connection: ConnectionId::new(index, 3).expect("a valid id"),
            service: ServiceIndex::new(service).expect("a valid index"),
            intra_realm: false,
        }
    }

    #[test]
    fn a_post_names_its_operation_slot_connection_and_words() {
        let from = caller(17, 2);
        let badge = Badge::for_connection(from.connection, from.service).value();
        let words = [5, 6, Post::word(9, badge)];
        let post = Post::unpack(ROUTED | 42, &words).expect("a post");
        assert_eq!(post, Post { operation: 42, slot: 9, caller: from, length: 2 });
    }

    #[test]
    fn what_is_not_a_post_is_not_taken_for_one() {
        let from = caller(1, 0);
        let badge = Badge::for_connection(from.connection, from.service).value();
        let good = Post::word(4, badge);
        // Not marked routed, or operation 0, or a reply label.
        assert_eq!(Post::unpack(42, &[good]), None);
        assert_eq!(Post::unpack(ROUTED, &[good]), None);
        assert_eq!(Post::unpack(label::OK, &[good]), None);
        assert_eq!(Post::unpack(ROUTED | label::OK, &[good]), None);
        // No word, a slot outside the deferred ones, a badge that is no connection.
        assert_eq!(Post::unpack(ROUTED | 1, &[]), None);
        assert_eq!(Post::unpack(ROUTED | 1, &[Post::word(3, badge)]), None);
        assert_eq!(Post::unpack(ROUTED | 1, &[Post::word(16, badge)]), None);
        let inbox = Badge::for_inbox(ThreadId::MAIN).value();
        assert_eq!(Post::unpack(ROUTED | 1, &[Post::word(4, inbox)]), None);
        assert_eq!(Post::unpack(ROUTED | 1, &[good | 0x1000_0000]), None);
        assert!(Post::unpack(ROUTED | 1, &[good]).is_some());
    }

    #[test]
    fn routes_by_connection_keep_a_connection_on_one_handler() {
        let handlers: Vec<ThreadId> = (1..=3).filter_map(ThreadId::new).collect();
        let mut route = by_connection(&handlers);
        for index in 0..30u16 {
            let first = route(caller(index, 0), 1);
            assert_eq!(first, handlers[usize::from(index) % 3]);
            assert_eq!(route(caller(index, 1), 7), first, "another operation, same connection");
        }
        let mut nobody = by_connection(&[]);
        assert_eq!(nobody(caller(5, 0), 1), ThreadId::MAIN);
    }

    #[test]
    fn routes_by_operation_follow_the_table() {
        let (two, five) = (ThreadId::new(2).expect("2"), ThreadId::new(5).expect("5"));
        let table = [(1, two), (3, five), (1, five)];
        let mut route = by_operation(&table, ThreadId::MAIN);
        assert_eq!(route(caller(0, 0), 1), two);
        assert_eq!(route(caller(9, 0), 3), five);
        assert_eq!(route(caller(9, 0), 2), ThreadId::MAIN);
    }
}
