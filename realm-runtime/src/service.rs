//! Services: register one and serve it, or connect to one and call it. After `connect` the
//! client holds a badged cap to the service's endpoint and every `call` is one direct seL4
//! Call to the service: the memory manager is not in the path.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ipc::{ConnectionId, Malformed, Name, Request, Response, ServiceIndex};
use sel4::MessageInfo;
use sel4::cap::Endpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use sel4::message::MAX_MESSAGE_WORDS;

pub use crate::client::CallError;
use crate::payload::{self, PayloadError, Status};
use crate::{Error, Realm};

/// Whether this realm's thread may hold a client's reply cap: set when the realm announces
/// that it serves (`Realm::announce_serving`, which `serve` calls, and which a receive loop of
/// one's own must call first) and never cleared (a thread that waits for the next request has
/// sent its reply; the abort path only runs for a thread that exited, faulted or panicked,
/// which a waiting thread cannot do). The abort path (`entry.rs`) replies only when it is set,
/// so a realm that registered a service and exits without ever serving makes no reply that no
/// one is owed. (A request a hostile client delivered with `Send` rather than `Call` leaves no
/// reply capability, and seL4 5.0.0 does not tell a receiver which it was: if the realm then
/// dies, its abort replies to no one, which a debug kernel reports and nothing else notices.)
/// It lives in a static so that it survives the memory manager sending the thread back to
/// its entry.
pub(crate) static OWES_REPLY: AtomicBool = AtomicBool::new(false);

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
}

/// Connections dropped without [`Realm::disconnect`]: their ids (`to_word() + 1`, 0 for a
/// free place), let go of before the realm's next connect, so a dropped handle does not keep
/// a connection slot reserved for ever. Bounded: when full, a dropped connection stays
/// reserved until the realm stops (and still counts against its quota).
static DROPPED: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

impl Drop for Connection {
    fn drop(&mut self) {
        let word = self.id.to_word().saturating_add(1);
        if let Some(place) = DROPPED.iter().find(|place| place.load(Ordering::Relaxed) == 0) {
            place.store(word, Ordering::Relaxed);
        }
    }
}

impl Connection {
    pub(crate) fn new(slot: u64, id: ConnectionId, service: Name) -> Connection {
        Connection { endpoint: Endpoint::from_cptr(slot), id, service, closed: Cell::new(None) }
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

/// Who sent a request to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The connection the request came on (from the badge the kernel delivered).
    pub connection: ConnectionId,
    /// Which of the endpoint's services it reaches (from the badge's kind).
    pub service: ServiceIndex,
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
    pub fn disconnect(&mut self, connection: Connection) -> Result<(), Error> {
        let id = connection.id;
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
    pub fn close(&mut self, caller: Caller) -> Result<(), Error> {
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

    /// Sends `request` on `connection` and waits for the service's response: one seL4 Call.
    /// Any serde types, as postcard bytes.
    #[inline]
    pub fn call<Q: Serialize, R: DeserializeOwned>(
        &mut self,
        connection: &Connection,
        request: &Q,
    ) -> Result<R, CallError> {
        self.call_with(
            connection,
            |words| payload::encode(request, Status::Ok, words),
            payload::decode,
            None,
        )
    }

    /// [`Realm::call`] for plain-data types (zerocopy's `IntoBytes`/`FromBytes`, such as
    /// `[u64; 8]`): their bytes travel as they are, with no serialisation. The service
    /// answers with [`Realm::serve_plain`].
    #[inline]
    pub fn call_plain<Q: IntoBytes + Immutable, R: FromBytes>(
        &mut self,
        connection: &Connection,
        request: &Q,
    ) -> Result<R, CallError> {
        self.call_with(
            connection,
            |words| payload::encode_plain(request, Status::Ok, words),
            payload::decode_plain,
            None,
        )
    }

    /// One call of the payload protocol on `connection`, with a deadline `timeout` from now
    /// if given (see `time.rs`).
    #[inline]
    pub(crate) fn call_with<R>(
        &mut self,
        connection: &Connection,
        encode: impl FnOnce(&mut [u64]) -> Result<usize, PayloadError>,
        decode: impl FnOnce(&[u64]) -> Result<(Status, Option<R>), PayloadError>,
        timeout: Option<core::time::Duration>,
    ) -> Result<R, CallError> {
        if let Some(error) = connection.closed() {
            return Err(error);
        }
        // A deadline's first use asks the memory manager to watch it, through the IPC
        // buffer: before the request's words are written there.
        if timeout.is_some() {
            self.watched()?;
        }
        let length = encode(&mut self.ipc.msg_mut()[..MAX_MESSAGE_WORDS])
            .map_err(|_| CallError::RequestTooLarge)?;
        let info = MessageInfo::new(0, 0, length).map_err(|_| CallError::RequestTooLarge)?;
        let reply = match timeout {
            None => connection.endpoint.call(self.ipc, info),
            Some(timeout) => self.call_before(connection.endpoint.cptr(), info, timeout)?,
        };
        // This protocol's replies carry label 0; any other label is classified as a typed
        // reply's would be (a kernel error code, ABORTED, TIMED_OUT: the call reached no
        // answer; anything else: malformed), and never decoded as a response.
        if reply.label() != 0 {
            let error = interface::reply::classify_transport(reply.label(), &[]);
            return Err(self.transport_error(connection, error));
        }
        let malformed = |_| {
            CallError::ReplyMalformed(interface::ReplyMalformed::Undecodable(
                interface::DecodeError::Postcard,
            ))
        };
        match decode(self.ipc.message(reply)).map_err(malformed)? {
            (Status::Ok, Some(response)) => Ok(response),
            (Status::BadRequest, _) => {
                Err(CallError::Rejected(interface::BadRequest::Undecodable { argument: 0 }))
            }
            _ => Err(CallError::ResponseTooLarge),
        }
    }

    /// Answers requests on `service` for ever: each request is decoded, handed to `handler`
    /// with its caller, and the handler's response is the reply. The handler may use the
    /// realm (to call other services, say). Tells the memory manager first that this realm
    /// now only serves. Any serde types, as postcard bytes.
    pub fn serve<Q: DeserializeOwned, R: Serialize>(
        &mut self,
        service: &Service,
        handler: impl FnMut(&mut Realm, Caller, Q) -> R,
    ) -> ! {
        self.serve_with(
            service,
            payload::decode,
            |response, words| payload::encode(response, Status::Ok, words),
            handler,
        )
    }

    /// [`Realm::serve`] for plain-data types: their bytes as they are (see
    /// [`Realm::call_plain`]).
    pub fn serve_plain<Q: FromBytes, R: IntoBytes + Immutable>(
        &mut self,
        service: &Service,
        handler: impl FnMut(&mut Realm, Caller, Q) -> R,
    ) -> ! {
        self.serve_with(
            service,
            payload::decode_plain,
            |response, words| payload::encode_plain(response, Status::Ok, words),
            handler,
        )
    }

    fn serve_with<Q, R>(
        &mut self,
        service: &Service,
        decode: impl Fn(&[u64]) -> Result<(Status, Option<Q>), PayloadError>,
        encode: impl Fn(&R, &mut [u64]) -> Result<usize, PayloadError>,
        mut handler: impl FnMut(&mut Realm, Caller, Q) -> R,
    ) -> ! {
        self.announce_serving();
        let mut received = service.endpoint.recv(self.ipc);
        loop {
            // From here until the next receive, this thread holds its caller's reply cap.
            OWES_REPLY.store(true, Ordering::Relaxed);
            let request = decode(self.ipc.message(received.info));
            let caller = match ipc::Badge::decode(received.badge) {
                Ok(ipc::BadgeKind::Connection { connection, service }) => {
                    Some(Caller { connection, service })
                }
                _ => None,
            };
            // Requests carry label 0 (see `call`): any other label is not this protocol's,
            // and is refused like an undecodable request.
            let label = received.info.label();
            let words = match (request, caller) {
                (Ok((Status::Ok, Some(request))), Some(caller)) if label == 0 => {
                    let response = handler(self, caller, request);
                    let words = &mut self.ipc.msg_mut()[..MAX_MESSAGE_WORDS];
                    encode(&response, words)
                        .or_else(|_| payload::encode_bytes(&[], Status::ResponseTooLarge, words))
                }
                _ => payload::encode_bytes(
                    &[],
                    Status::BadRequest,
                    &mut self.ipc.msg_mut()[..MAX_MESSAGE_WORDS],
                ),
            };
            // An empty payload always fits: one header word.
            let info =
                MessageInfo::new(0, 0, words.unwrap_or(1)).unwrap_or(MessageInfo::from_word(1));
            received = service.endpoint.reply_recv(self.ipc, info);
        }
    }
}
