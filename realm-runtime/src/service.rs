//! Services: register one and serve it, or connect to one and call it. After `connect` the
//! client holds a badged cap to the service's endpoint and every `call` is one direct seL4
//! Call to the service: the memory manager is not in the path.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ipc::{CloseReason, ConnectionId, Malformed, Name, Request, Response};
use sel4::MessageInfo;
use sel4::cap::Endpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use sel4::message::MAX_MESSAGE_WORDS;

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
    /// The endpoint cap, for raw seL4 calls with the binding.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
}

/// Who sent a request to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The connection the request came on (from the badge the kernel delivered).
    pub connection: ConnectionId,
}

/// Why a call to a service failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The request or the response does not fit in one message.
    Payload(PayloadError),
    /// The service could not decode the request.
    Rejected,
    /// The connection is closed; the reason, when the broker still knows it.
    Disconnected(CloseReason),
    /// The service died and was registered again with this generation: connect again.
    ServiceRestarted { generation: u32 },
    /// The service died and its realm is being restarted: connect again once it is back.
    ServiceRestarting,
    /// The call did not reach a service and the broker could not say why.
    Unreachable(Error),
    /// The connection is open but the reply is not a realm-runtime reply (a misbehaving
    /// service, or one answering with another protocol).
    BadReply,
    /// The service did not reply by the call's deadline ([`Realm::call_timeout`]); the call
    /// was cancelled, and a late reply reaches nobody.
    TimedOut,
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Payload(error) => write!(f, "{error}"),
            CallError::Rejected => write!(f, "the service could not decode the request"),
            CallError::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            CallError::ServiceRestarted { generation } => {
                write!(f, "the service restarted (generation {generation}): connect again")
            }
            CallError::ServiceRestarting => {
                write!(f, "the service is restarting: connect again once it is back")
            }
            CallError::Unreachable(error) => write!(f, "the service is unreachable: {error}"),
            CallError::BadReply => write!(f, "the service's reply is not a realm-runtime reply"),
            CallError::TimedOut => write!(f, "the service did not reply by the deadline"),
        }
    }
}

/// Checks a service name with the one name rule ([`Name::new`]: 1 to 32 bytes of `a-z`,
/// `0-9`, `-`) before anything is sent: a name that breaks it is refused here exactly as the
/// broker would refuse it, as `MalformedRequest { BadName { field: ServiceName, error } }`
/// where `error` names the empty name, the length, or the first byte outside the rule.
fn name(text: &str) -> Result<Name, Error> {
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
        // A raw service: no typed interface, an endpoint of its own.
        match self.broker_request(Request::Register { service, interface: None, share: None })? {
            Response::Registered { endpoint_slot, generation, .. } => Ok(Service {
                endpoint: Endpoint::from_cptr(endpoint_slot),
                name: service,
                generation,
            }),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Connects to the service `service`, if the policy allows it.
    ///
    /// # Errors
    ///
    /// Each a distinct [`ipc::Error`] in [`Error::Refused`], whose `Display` is a sentence;
    /// [`ipc::Error::may_succeed_later`] says whether to try again:
    /// - `MalformedRequest { reason: BadName { .. } }`: `service` breaks the name rule (see
    ///   [`Realm::register`]); nothing was sent;
    /// - `Denied { rule }`: the policy refuses, and says by which rule; the same whether or
    ///   not the service exists, so a denial tells nothing of what other realms registered;
    /// - `NotFound { what: Missing::Service }`: the name is declared nowhere and no realm
    ///   registered it;
    /// - `NotYetRegistered`: it is declared and its provider runs but has not registered it
    ///   yet (try again later);
    /// - `ServiceRestarting`: its provider died and is being restarted (try again once it is
    ///   back);
    /// - `ServiceGone`: its provider stopped for good (do not try again);
    /// - `QuotaExceeded { what }`: this realm holds `max_connections` connections already,
    ///   counting the closed ones it has not let go of ([`Realm::disconnect`] them), or a
    ///   table of the broker is full.
    pub fn connect(&mut self, service: &str) -> Result<Connection, Error> {
        let service = name(service)?;
        self.let_go_of_dropped();
        // A raw client: no typed interface to check.
        match self.broker_request(Request::Connect { service, interface: None })? {
            Response::Connected { connection, slot, .. } => Ok(Connection {
                endpoint: Endpoint::from_cptr(slot),
                id: connection,
                service,
                closed: Cell::new(None),
            }),
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
    fn let_go_of_dropped(&mut self) {
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

    /// One call on `connection`, with a deadline (in time-stamp counter cycles) if `deadline`
    /// is given (see `time.rs`).
    #[inline]
    pub(crate) fn call_with<R>(
        &mut self,
        connection: &Connection,
        encode: impl FnOnce(&mut [u64]) -> Result<usize, PayloadError>,
        decode: impl FnOnce(&[u64]) -> Result<(Status, Option<R>), PayloadError>,
        deadline: Option<u64>,
    ) -> Result<R, CallError> {
        if let Some(error) = connection.closed.get() {
            return Err(error);
        }
        let length =
            encode(&mut self.ipc.msg_mut()[..MAX_MESSAGE_WORDS]).map_err(CallError::Payload)?;
        let info = MessageInfo::new(0, 0, length)
            .map_err(|_| CallError::Payload(PayloadError::TooLarge))?;
        let reply = match deadline {
            None => connection.endpoint.call(self.ipc, info),
            Some(deadline) => {
                crate::time::arm(deadline);
                let reply =
                    sel4::ipc::call_at_known_site(self.ipc, connection.endpoint.cptr(), info);
                crate::time::disarm();
                if reply.label() == ipc::abi::label::TIMED_OUT {
                    return Err(CallError::TimedOut);
                }
                reply
            }
        };
        if reply.label() != 0 {
            // The kernel answered: the cap no longer reaches the service. Ask the broker why.
            let error = self.why_unreachable(connection.id);
            let closed = matches!(
                error,
                CallError::Disconnected(_)
                    | CallError::ServiceRestarted { .. }
                    | CallError::ServiceRestarting
            );
            if closed {
                connection.closed.set(Some(error));
            }
            return Err(error);
        }
        match decode(self.ipc.message(reply)).map_err(CallError::Payload)? {
            (Status::Ok, Some(response)) => Ok(response),
            (Status::BadRequest, _) => Err(CallError::Rejected),
            _ => Err(CallError::Payload(PayloadError::TooLarge)),
        }
    }

    fn why_unreachable(&mut self, connection: ConnectionId) -> CallError {
        match self.broker_request(Request::Status { connection }) {
            Err(Error::Refused(ipc::Error::Disconnected { reason })) => {
                CallError::Disconnected(reason)
            }
            Err(Error::Refused(ipc::Error::ServiceRestarted { generation })) => {
                CallError::ServiceRestarted { generation }
            }
            Err(Error::Refused(ipc::Error::ServiceRestarting)) => CallError::ServiceRestarting,
            Err(error) => CallError::Unreachable(error),
            Ok(_) => CallError::BadReply,
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
            let caller =
                ipc::Badge::connection(received.badge).ok().map(|connection| Caller { connection });
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
