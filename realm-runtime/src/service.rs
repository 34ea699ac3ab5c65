//! Services and connections as the broker hands them out: register a service (its endpoint,
//! for a `Server` or a receive loop of one's own), connect with no interface
//! (`connect_raw`, for raw seL4 calls), let go of connections, close a client's connection,
//! grant and revoke. After a connect the client holds a badged cap to the service's endpoint
//! and every call is one direct seL4 Call to the service: the memory manager is not in the
//! path. Typed calls are `client`'s, the typed server loop `server`'s.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ipc::{ConnectionId, Malformed, Name, Request, Response, ServiceIndex, ThreadId};
use sel4::cap::Endpoint;

pub use crate::client::CallError;
use crate::thread::MAX_THREADS;
use crate::{Error, Realm};

/// Whether each thread of this realm may hold a client's reply cap, by thread id: set when
/// the thread announces that it serves (`Realm::announce_serving`, which `Server::run` calls,
/// and which a receive loop of one's own must call first) and cleared only when a new thread
/// starts in its index (a thread that waits for the next request has sent its reply; the
/// abort path only runs for a thread that exited, faulted or panicked, which a waiting thread
/// cannot do). The abort path (`entry.rs`) replies only for a thread whose flag is set, so a
/// realm that registered a service and exits without ever serving makes no reply that no one
/// is owed. (A request a hostile client delivered with `Send` rather than `Call` leaves no
/// reply capability, and seL4 5.0.0 does not tell a receiver which it was: if the realm then
/// dies, its abort replies to no one, which a debug kernel reports and nothing else notices.)
/// It lives in a static so that it survives the memory manager sending the thread back to
/// its entry.
pub(crate) static OWES_REPLY: [AtomicBool; MAX_THREADS] =
    [const { AtomicBool::new(false) }; MAX_THREADS];

/// Whether the main thread told the memory manager that the realm serves (once).
pub(crate) static ANNOUNCED: AtomicBool = AtomicBool::new(false);

/// A service this realm registered: it receives on the service's endpoint.
#[derive(Debug)]
pub struct Service {
    endpoint: Endpoint,
    pub name: Name,
    /// This instance's generation: a service registered again gets a larger one.
    pub generation: u32,
}

impl Service {
    /// The endpoint, for a receive loop of one's own with the seL4 binding.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
}

/// A connection to a service: a badged Send cap to its endpoint.
#[derive(Debug)]
pub struct Connection {
    endpoint: Endpoint,
    pub id: ConnectionId,
    pub service: Name,
    /// Set when a call found the connection closed: later calls fail the same way without
    /// asking the broker again. (The broker keeps the slot reserved, empty, until this
    /// realm lets go of the connection, so the slot never reaches a newer connection.)
    closed: Cell<Option<CallError>>,
    /// Not a connection but this thread's way to another thread's inbox
    /// (`Realm::thread_client`): nothing to let go of, no broker to ask.
    inbox: Option<ThreadId>,
}

/// Connections dropped without [`Realm::disconnect`]: their ids (`to_word() + 1`, 0 for a
/// free place), let go of before the realm's next connect, so a dropped handle does not keep
/// a connection slot reserved for ever. Bounded: when full, a dropped connection stays
/// reserved until the realm stops (and still counts against its quota).
static DROPPED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

impl Drop for Connection {
    fn drop(&mut self) {
        if self.inbox.is_some() {
            return;
        }
        let word = self.id.to_word().saturating_add(1);
        if let Some(place) = DROPPED.iter().find(|place| place.load(Ordering::Relaxed) == 0) {
            place.store(word, Ordering::Relaxed);
        }
    }
}

impl Connection {
    pub(crate) fn new(slot: u64, id: ConnectionId, service: Name) -> Connection {
        Connection {
            endpoint: Endpoint::from_cptr(slot),
            id,
            service,
            closed: Cell::new(None),
            inbox: None,
        }
    }

    /// The way to thread `thread`'s inbox, through `endpoint`: its `id` is
    /// [`Caller::INTRA_REALM`]'s placeholder and its `service` is named `inbox`.
    pub(crate) fn inbox(endpoint: Endpoint, thread: ThreadId) -> Connection {
        Connection {
            endpoint,
            id: Caller::INTRA_REALM.connection,
            // Not stopped: `inbox` follows the name rule (a test says so).
            service: Name::new(INBOX_NAME).unwrap_or_else(|_| crate::stop()),
            closed: Cell::new(None),
            inbox: Some(thread),
        }
    }

    /// The thread whose inbox this reaches, for a typed client between threads.
    pub fn thread(&self) -> Option<ThreadId> {
        self.inbox
    }

    /// The endpoint cap, for raw seL4 calls with the binding.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// How the connection was found closed, if it was.
    #[inline(always)]
    pub(crate) fn closed(&self) -> Option<CallError> {
        self.closed.get()
    }

    /// Remembers that the connection was found closed.
    pub(crate) fn close_with(&self, error: CallError) {
        self.closed.set(Some(error));
    }
}

/// The `service` of a way to a thread's inbox.
pub(crate) const INBOX_NAME: &str = "inbox";

/// Who sent a request to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The connection the request came on (from the badge the kernel delivered).
    pub connection: ConnectionId,
    /// Which of the endpoint's services it reaches (from the badge's kind).
    pub service: ServiceIndex,
    /// The request came from a thread of this realm, on the serving thread's inbox
    /// ([`Caller::INTRA_REALM`]): `connection` and `service` then name no connection.
    pub intra_realm: bool,
}

impl Caller {
    /// The caller of a request made on a thread's inbox by a thread of the same realm
    /// (`Realm::thread_client`): no connection (index 0, generation 1, which [`Realm::peer`]
    /// and [`Realm::close`] do not take for a connection). The kernel does not say which
    /// thread called: a handler that must know has it passed as an argument.
    pub const INTRA_REALM: Caller = Caller {
        connection: match ConnectionId::new(0, 1) {
            Some(connection) => connection,
            None => panic!("connection 0 of generation 1 is a valid id"),
        },
        service: ServiceIndex::FIRST,
        intra_realm: true,
    };
}

/// Checks a service name with the one name rule ([`Name::new`]: 1 to 32 bytes of `a-z`,
/// `0-9`, `-`) before anything is sent: a name that breaks it is refused here exactly as the
/// broker would refuse it, as `MalformedRequest { BadName { field: ServiceName, error } }`
/// where `error` names the empty name, the length, or the first byte outside the rule.
pub(crate) fn name(text: &str) -> Result<Name, Error> {
    Name::new(text).map_err(|error| {
        Error::Refused(ipc::Error::MalformedRequest {
            reason: Malformed::BadName { field: ipc::Field::ServiceName, error },
        })
    })
}

impl Realm {
    /// Registers the service `service`: the broker creates its endpoint and gives this realm
    /// a Receive cap to it.
    ///
    /// `service` must follow the name rule (1 to 32 bytes of `a-z`, `0-9`, `-`; see
    /// [`ipc::Name`]); otherwise nothing is sent and the error is
    /// `Refused(MalformedRequest { reason: BadName { field: ServiceName, error } })`, `error`
    /// saying which byte or what length is wrong.
    ///
    /// The service is registered with no typed interface (raw seL4 IPC on its endpoint, a
    /// receive loop of one's own): the broker then checks no client's interface at connect,
    /// a typed client's included. A typed service is registered by a [`crate::Server`].
    ///
    /// # Errors
    ///
    /// Each a distinct [`ipc::Error`] in [`Error::Refused`], in the order the broker checks:
    /// - `MalformedRequest { reason: BadName { .. } }`, as above;
    /// - `Denied { rule }`: the policy does not let this realm provide `service`;
    /// - `AlreadyRegistered`: a realm (this one or another) has registered `service`;
    /// - `InterfaceMismatch`: `system.toml` declares `service` with an `interface`, and this
    ///   register names none (logged as `interface-mismatch`, action `register`);
    /// - `QuotaExceeded { what }`: `RealmServices` (this realm's `max_services`),
    ///   `BrokerServices` (the broker's service table), `RealmSlots`/`BrokerSlots` (no slot
    ///   for the endpoint's caps), `ServiceGenerations` (the name was registered too often).
    pub fn register(&mut self, service: &str) -> Result<Service, Error> {
        let service = name(service)?;
        self.register_with(service, None, None).map(|(service, _)| service)
    }

    /// Registers `service` declaring `interface`, on the endpoint of this realm's service
    /// `share` if given; returns it and its index on the endpoint.
    pub(crate) fn register_with(
        &mut self,
        service: Name,
        interface: Option<ipc::InterfaceId>,
        share: Option<Name>,
    ) -> Result<(Service, ServiceIndex), Error> {
        match self.broker_request(Request::Register { service, interface, share })? {
            Response::Registered { endpoint_slot, generation, index } => Ok((
                Service { endpoint: Endpoint::from_cptr(endpoint_slot), name: service, generation },
                index,
            )),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Closes a connection, or lets go of one that was closed for this realm (by its service,
    /// a revoked grant, its service gone): until then its slot stays reserved, so that this
    /// handle never reaches a newer connection, and it counts against `max_connections`.
    ///
    /// A connection dropped without `disconnect` is let go of before this realm's next
    /// `connect` (up to 16 of them wait for it).
    ///
    /// Takes a [`Connection`] or a typed client (`realm.disconnect(kv)`: a generated client
    /// converts into its connection).
    pub fn disconnect(&mut self, connection: impl Into<Connection>) -> Result<(), Error> {
        let connection: Connection = connection.into();
        let id = connection.id;
        if connection.inbox.is_some() {
            // A way to a thread's inbox: nothing to let go of.
            return Ok(());
        }
        // Let go of here, not by `Drop`.
        core::mem::forget(connection);
        self.broker_request(Request::Disconnect { connection: id }).map(|_| ())
    }

    /// Lets go of the connections dropped without `disconnect`.
    pub(crate) fn let_go_of_dropped(&mut self) {
        for place in &DROPPED {
            let word = place.swap(0, Ordering::Relaxed);
            if let Some(id) = word.checked_sub(1).and_then(ConnectionId::from_word) {
                let _ = self.broker_request(Request::Disconnect { connection: id });
            }
        }
    }

    /// As a service's owner, closes one client's connection (revokes that client's access;
    /// its next call fails with `disconnected`, the service's other clients go on).
    ///
    /// An intra-realm caller ([`Caller::INTRA_REALM`]) has no connection to close: refused
    /// with `NotFound { what: Connection }`, nothing sent.
    pub fn close(&mut self, caller: Caller) -> Result<(), Error> {
        if caller.intra_realm {
            return Err(Error::Refused(ipc::Error::NotFound { what: ipc::Missing::Connection }));
        }
        self.broker_request(Request::Disconnect { connection: caller.connection }).map(|_| ())
    }

    /// As `child`'s parent, lets it reach `service`. Refused (`Denied { rule }`) unless this
    /// realm is `child`'s parent (`not-parent`), reaches `service` itself
    /// (`granter-does-not-reach`: a grant passes on only what the granter has), and the
    /// service's allowed clients, if listed, include `child`
    /// (`grantee-not-in-allowed-clients`), and the service is not gone for good
    /// (`service-gone`): a grant that could never be used is refused now.
    pub fn grant(&mut self, child: &str, service: &str) -> Result<(), Error> {
        let (child, service) = (name(child)?, name(service)?);
        self.broker_request(Request::Grant { child, service }).map(|_| ())
    }

    /// As `child`'s parent, takes a grant back; its connections that relied on it close.
    pub fn revoke_grant(&mut self, child: &str, service: &str) -> Result<(), Error> {
        let (child, service) = (name(child)?, name(service)?);
        self.broker_request(Request::RevokeGrant { child, service }).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_name_follows_the_name_rule() {
        assert!(Name::new(INBOX_NAME).is_ok());
    }
}
