//! Typed clients: `realm.connect::<Kv>("kv")` and the generated client's calls, each one seL4
//! Call with the operation's number as the label and the arguments' words (no header word),
//! and the two layers of error: the transport's ([`CallError`]) around the operation's own
//! result as declared.
//!
//! An operation declared `#[idempotent]` is retried once, transparently, when the call
//! finds the service restarted ([`CallError::ServiceRestarted`]) or restarting
//! ([`CallError::ServiceRestarting`]): the client connects again (waiting, while the service
//! is restarting, up to [`RECONNECT_ATTEMPTS`] times [`RECONNECT_WAIT`]) and calls again.
//! A second failure is returned as it is.

use core::marker::PhantomData;
use core::time::Duration;

use interface::{EncodeError, Interface, ReplyError, Response};
use ipc::{CloseReason, ConnectionId, InterfaceId, Request};
use sel4::MessageInfo;

use crate::service::{Connection, name};
use crate::{Error, Realm};

/// Why a call to a service failed: the transport layer, apart from the operation's own
/// application error (the inner `Result` of a generated client's method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The connection is closed; the reason, as the broker knows it.
    Disconnected(CloseReason),
    /// The service died and was registered again with this generation: connect again
    /// (an idempotent operation did, and failed again).
    ServiceRestarted { generation: u32 },
    /// The service died and its realm is being restarted: connect again once it is back.
    ServiceRestarting,
    /// The service did not reply by the call's deadline ([`Realm::with_deadline`]); the call
    /// was cancelled, and a late reply reaches nobody.
    TimedOut,
    /// The service refused the request, and said why (`BAD_REQUEST`).
    Rejected(interface::BadRequest),
    /// The reply is not one the runtime sends (a misbehaving service, another protocol), or
    /// its words do not decode as the operation's result.
    ReplyMalformed(interface::ReplyMalformed),
    /// The arguments do not fit in one message (nothing was sent).
    RequestTooLarge,
    /// The service's result did not fit in one message.
    ResponseTooLarge,
    /// The call did not reach a service and the broker could not say why (or a reconnect
    /// was refused). A reply labelled with a kernel error code or `ABORTED` while the broker
    /// says the connection is open is this, `Unreachable(Error::UnexpectedReply)`: a service
    /// sending those labels itself, or this realm's connection cap moved out of its slot
    /// (with the `ipc::abi::slot::CNODE` cap).
    Unreachable(Error),
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            CallError::ServiceRestarted { generation } => {
                write!(f, "the service restarted (generation {generation}): connect again")
            }
            CallError::ServiceRestarting => {
                write!(f, "the service is restarting: connect again once it is back")
            }
            CallError::TimedOut => write!(f, "the service did not reply by the deadline"),
            CallError::Rejected(reason) => write!(f, "the service refused the request: {reason}"),
            CallError::ReplyMalformed(reason) => write!(f, "the reply is malformed: {reason}"),
            CallError::RequestTooLarge => {
                write!(f, "the request does not fit in one seL4 message")
            }
            CallError::ResponseTooLarge => {
                write!(f, "the service's result does not fit in one seL4 message")
            }
            CallError::Unreachable(error) => write!(f, "the service is unreachable: {error}"),
        }
    }
}

/// How many times a reconnect of an idempotent retry asks the broker while the service is
/// restarting (or restarted but not registered yet), and how long it sleeps between: 2 s in
/// all, beyond the supervisor's longest back-off (1 s).
pub const RECONNECT_ATTEMPTS: u32 = 200;
pub const RECONNECT_WAIT: Duration = Duration::from_millis(10);

/// A typed connection: what a generated client (`KvClient`) wraps, and dereferences to.
pub struct Client<I> {
    connection: Connection,
    interface: PhantomData<fn() -> I>,
}

impl<I> Client<I> {
    pub(crate) fn new(connection: Connection) -> Self {
        Client { connection, interface: PhantomData }
    }

    /// The connection, for its id, its service's name, or raw calls.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The connection, to [`Realm::disconnect`] it.
    pub fn into_connection(self) -> Connection {
        self.connection
    }
}

impl Realm {
    /// Connects to the service `service` as a client of interface `I`: the broker checks
    /// the policy, then that the service was registered with the same interface (name and
    /// fingerprint).
    ///
    /// # Errors
    ///
    /// Those of [`Realm::connect_raw`], and `Refused(InterfaceMismatch)` when the service's
    /// registered interface differs from `I` (a client built against another version of
    /// the declaration).
    pub fn connect<I: Interface>(&mut self, service: &str) -> Result<I::Client, Error>
    where
        I::Client: From<Client<I>>,
    {
        let id = interface_id::<I>()?;
        let connection = self.connect_with(name(service)?, Some(id))?;
        Ok(Client { connection, interface: PhantomData }.into())
    }

    /// Connects with no interface check: for raw seL4 calls on the connection's endpoint
    /// (a service registered with [`Realm::register`] and a receive loop of its own).
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
    pub fn connect_raw(&mut self, service: &str) -> Result<Connection, Error> {
        let service = name(service)?;
        self.connect_with(service, None)
    }

    fn connect_with(
        &mut self,
        service: ipc::Name,
        interface: Option<InterfaceId>,
    ) -> Result<Connection, Error> {
        self.let_go_of_dropped();
        match self.broker_request(ipc::Request::Connect { service, interface })? {
            ipc::Response::Connected { connection, slot, .. } => {
                Ok(Connection::new(slot, connection, service))
            }
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// One operation of a typed client (the generated methods call it): `encode` writes the
    /// arguments' words, `operation` is the label. Retries once after a restart when
    /// `idempotent` (see the module doc).
    #[inline(always)]
    pub fn invoke<I: Interface, R: Response>(
        &mut self,
        client: &mut Client<I>,
        operation: u64,
        idempotent: bool,
        encode: &impl Fn(&mut [u64]) -> Result<usize, EncodeError>,
    ) -> Result<R, CallError> {
        match self.call_once(&client.connection, operation, encode) {
            Err(CallError::ServiceRestarted { .. } | CallError::ServiceRestarting)
                if idempotent =>
            {
                self.reconnect(client)?;
                self.call_once(&client.connection, operation, encode)
            }
            result => result,
        }
    }

    #[inline(always)]
    fn call_once<R: Response>(
        &mut self,
        connection: &Connection,
        operation: u64,
        encode: &impl Fn(&mut [u64]) -> Result<usize, EncodeError>,
    ) -> Result<R, CallError> {
        // A connection found closed has an empty slot (the broker keeps it reserved, empty,
        // until this realm lets go of it): the kernel answers the call at once, and the error
        // remembered then is returned (`transport_error`). No check on the way out.
        let Ok(length) = encode(self.ipc.msg_mut()) else {
            return Err(CallError::RequestTooLarge);
        };
        let Ok(info) = MessageInfo::new(operation, 0, length) else {
            return Err(CallError::RequestTooLarge);
        };
        // Every typed call waits in the one known `syscall` instruction, so that a deadline
        // armed around it (`Realm::with_deadline`) applies with no check here.
        let cap = connection.endpoint().cptr();
        let reply = sel4::ipc::call_at_known_site(self.ipc, cap, info);
        match R::decode_message(reply.word(), self.ipc.msg()) {
            Ok(result) => Ok(result),
            Err(error) => Err(self.transport_error(connection, error)),
        }
    }

    /// The [`CallError`] of a reply that carried no result.
    #[cold]
    #[inline(never)]
    pub(crate) fn transport_error(
        &mut self,
        connection: &Connection,
        error: ReplyError,
    ) -> CallError {
        match error {
            // The kernel answered (the cap reaches no service), or the service stopped
            // before answering: the broker says what became of the connection.
            ReplyError::Kernel { .. } | ReplyError::Aborted => self.unreachable(connection),
            ReplyError::TimedOut => CallError::TimedOut,
            ReplyError::BadRequest(reason) => CallError::Rejected(reason),
            ReplyError::ResponseTooLarge => CallError::ResponseTooLarge,
            ReplyError::Malformed(reason) => CallError::ReplyMalformed(reason),
        }
    }

    /// Asks the broker why `connection` reaches no service; remembers a closed connection.
    #[cold]
    pub(crate) fn unreachable(&mut self, connection: &Connection) -> CallError {
        if let Some(error) = connection.closed() {
            return error;
        }
        if connection.thread().is_some() {
            // A thread's inbox: no thread objects in the index, or the thread stopped
            // before answering.
            return CallError::Unreachable(Error::Refused(ipc::Error::NotFound {
                what: ipc::Missing::Thread,
            }));
        }
        let error = self.why_unreachable(connection.id);
        if matches!(
            error,
            CallError::Disconnected(_)
                | CallError::ServiceRestarted { .. }
                | CallError::ServiceRestarting
        ) {
            connection.close_with(error);
        }
        error
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
            // The broker says the connection is open, yet the call reached no service.
            Ok(_) => CallError::Unreachable(Error::UnexpectedReply),
        }
    }

    /// Connects `client` again to its service (an idempotent operation's retry), waiting
    /// while the service is restarting; lets go of the old connection.
    #[cold]
    #[inline(never)]
    fn reconnect<I: Interface>(&mut self, client: &mut Client<I>) -> Result<(), CallError> {
        let id = interface_id::<I>().map_err(CallError::Unreachable)?;
        let service = client.connection.service;
        for _ in 0..RECONNECT_ATTEMPTS {
            match self.connect_with(service, Some(id)) {
                Ok(connection) => {
                    let old = core::mem::replace(&mut client.connection, connection);
                    // Closed already: letting go of it only frees its slot.
                    let _ = self.disconnect(old);
                    return Ok(());
                }
                Err(Error::Refused(
                    ipc::Error::ServiceRestarting | ipc::Error::NotYetRegistered,
                )) => {
                    self.sleep(RECONNECT_WAIT).map_err(CallError::Unreachable)?;
                }
                Err(error) => return Err(CallError::Unreachable(error)),
            }
        }
        Err(CallError::ServiceRestarting)
    }
}

/// `I`'s identity; an interface whose name breaks the name rule (only a hand-written
/// `Interface` can have one) is refused as the broker would refuse the name.
fn interface_id<I: Interface>() -> Result<InterfaceId, Error> {
    I::id().map_err(|error| {
        Error::Refused(ipc::Error::MalformedRequest {
            reason: ipc::Malformed::BadName { field: ipc::Field::ServiceName, error },
        })
    })
}

/// The transport error of an encoding failure of the request.
impl From<EncodeError> for CallError {
    fn from(_: EncodeError) -> Self {
        CallError::RequestTooLarge
    }
}
