//! The errors a broker request can end in, and the precise reasons a message was malformed.

use core::fmt;

use crate::name::NameError;
use crate::rule::Rule;
use crate::wire::{Message, Reader};

/// Why the broker refused or could not carry out a request.
///
/// # What a refused connect means
///
/// The policy is checked before the service is looked up, so a realm that may not reach a
/// service hears [`Error::Denied`] whether or not the service exists. A realm that may reach
/// it hears, when there is nothing to connect to yet, one of:
///
/// | answer | the service | retry? |
/// |---|---|---|
/// | [`Error::NotFound`] (`Missing::Service`) | is declared nowhere and registered by no realm | only if some realm will register it |
/// | [`Error::NotYetRegistered`] | is declared; its provider runs but has not registered it (yet, or again) | yes, later |
/// | [`Error::ServiceRestarting`] | its provider died and is being restarted | yes, once it is back |
/// | [`Error::ServiceGone`] | its provider stopped for good (exited, gave up after `max_restarts`) | no |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The named thing does not exist (or the calling realm is not alive). For a connect: no
    /// realm registered the service and no declaration says one will.
    NotFound { what: Missing },
    /// The policy refused; `rule` says which mechanism decided.
    Denied { rule: Rule },
    /// A service of that name is already registered.
    AlreadyRegistered,
    /// A bounded resource (the realm's quota or one of the broker's tables) is used up.
    QuotaExceeded { what: Resource },
    /// The request could not be decoded.
    MalformedRequest { reason: Malformed },
    /// The connection was closed; `reason` says why, when the broker still knows.
    Disconnected { reason: CloseReason },
    /// The connection's service died and a new instance registered under the same name
    /// with `generation`: connect again to reach it.
    ServiceRestarted { generation: u32 },
    /// The connection's service died and its realm is being restarted: connect again once
    /// it has registered the service anew.
    ServiceRestarting,
    /// The connection belongs to another realm.
    NotOwner,
    /// Connect: the service is declared, and its provider is running but has not registered
    /// it (yet, or again): connect again later.
    NotYetRegistered,
    /// Connect: the service's provider stopped for good (it exited, or died more often than
    /// its `max_restarts`): it will not be back.
    ServiceGone,
    /// The interfaces differ. Connect: the service was registered with one typed interface
    /// and the client asked for another (another name or another fingerprint); neither side
    /// without an interface is ever refused for this. Register: `system.toml` declares the
    /// service with `interface = "..."` and the register named another interface, or none.
    InterfaceMismatch,
}

impl Error {
    /// Whether the same request may succeed later without anything changing in the system
    /// description: the service is not registered yet, or is restarting, or a quota or
    /// table is full for now.
    pub const fn may_succeed_later(&self) -> bool {
        matches!(
            self,
            Self::NotYetRegistered
                | Self::ServiceRestarting
                | Self::ServiceRestarted { .. }
                | Self::QuotaExceeded { .. }
        )
    }
}

wire_codes! {
    /// What a [`Error::NotFound`] did not find.
    pub enum Missing {
        /// No service of that name is registered.
        Service = 1,
        /// No realm of that name (or the calling realm is unknown or dead).
        Realm = 2,
        /// No connection with that id was ever issued.
        Connection = 3,
        /// No such run-time grant to revoke.
        Grant = 4,
        /// The realm has no bound notification (a `SignalAfter` before `BindNotification`).
        Notification = 5,
        /// No thread of that id to join or detach: it was never spawned, or it ended and was
        /// joined or detached already, or it is the caller itself or the main thread, or
        /// another thread is joining it already.
        Thread = 6,
    }
}

wire_codes! {
    /// What ran out, for [`Error::QuotaExceeded`].
    pub enum Resource {
        /// The realm's quota of registered services.
        RealmServices = 1,
        /// The realm's quota of open connections.
        RealmConnections = 2,
        /// The realm's CSpace slots set aside for the broker's caps.
        RealmSlots = 3,
        /// The broker's service table.
        BrokerServices = 4,
        /// The broker's connection table (including slots whose generations are used up).
        BrokerConnections = 5,
        /// The broker's own CSpace slots for endpoints and cap copies.
        BrokerSlots = 6,
        /// The table of run-time grants.
        RuntimeGrants = 7,
        /// Service generations (a 32-bit counter) are used up.
        ServiceGenerations = 8,
        /// The realm's memory budget.
        RealmMemory = 9,
        /// The part of the realm's address space where pages asked for at run time go
        /// (`abi::HEAP_MAX_PAGES` pages).
        RealmHeapWindow = 10,
        /// The memory manager's capability slots for the realm's objects (one per page,
        /// paging structure and kernel object).
        RealmObjectSlots = 11,
        /// The paging structures the memory manager keeps for one realm.
        RealmPagingStructures = 12,
        /// The services one endpoint carries (`ServiceIndex::LIMIT`): a register that shares
        /// an endpoint already carrying that many.
        EndpointServices = 13,
        /// The realm's `max_threads` (threads running and threads ended but not joined yet,
        /// its main thread included).
        Threads = 14,
    }
}

wire_codes! {
    /// Why a connection was closed.
    pub enum CloseReason {
        /// The client disconnected it.
        ByClient = 1,
        /// A run-time grant it relied on was revoked.
        AccessRevoked = 2,
        /// Its service was withdrawn or the service's realm died.
        ServiceGone = 3,
        /// The client realm died.
        ClientDied = 4,
        /// The broker no longer remembers: the connection's table slot was reused since.
        Unknown = 5,
        /// The service's realm closed it (it revoked this one client's access).
        ByService = 6,
    }
}

wire_codes! {
    /// Which field of a message was malformed.
    pub enum Field {
        ServiceName = 1,
        RealmName = 2,
        Connection = 3,
        Rule = 4,
        Missing = 5,
        Resource = 6,
        CloseReason = 7,
        MalformedReason = 8,
        Field = 9,
        NameError = 10,
        Generation = 11,
        WordCount = 12,
        NameByte = 13,
        PageCount = 14,
        Text = 15,
        /// The presence word of an optional interface (0 or 1).
        Interface = 16,
        /// The name of an interface.
        InterfaceName = 17,
        /// The presence word of a register's `share` (0 or 1).
        Share = 18,
        /// The name of the service whose endpoint a register shares.
        SharedService = 19,
        /// A service index (below `ServiceIndex::LIMIT`).
        ServiceIndex = 20,
        /// A duration in nanoseconds (`SignalAfter`).
        Duration = 21,
        /// A thread id (below `MAX_THREADS_PER_REALM`).
        Thread = 22,
        /// How a thread ended (`ThreadEnding`'s word).
        ThreadEnding = 23,
    }
}

/// Exactly what was wrong with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The label names no request (or reply) kind.
    UnknownLabel { label: u64 },
    /// The message ended early: `needed` words at least, `actual` present.
    Truncated { needed: u32, actual: u32 },
    /// The message has words after its last field.
    TrailingWords { expected: u32, actual: u32 },
    /// A name field is not a valid name.
    BadName { field: Field, error: NameError },
    /// A name field has non-zero bytes after the name's end.
    NamePadding { field: Field },
    /// A connection field is not a connection id (see `ConnectionId`).
    BadConnectionId { value: u64 },
    /// A field that holds a code holds an unknown one.
    UnknownCode { field: Field, value: u64 },
    /// A numeric field is too large for its type.
    OutOfRange { field: Field, value: u64 },
}

/// Wire codes of the [`Malformed`] variants.
mod malformed_code {
    pub const UNKNOWN_LABEL: u64 = 1;
    pub const TRUNCATED: u64 = 2;
    pub const TRAILING_WORDS: u64 = 3;
    pub const BAD_NAME: u64 = 4;
    pub const NAME_PADDING: u64 = 5;
    pub const BAD_CONNECTION_ID: u64 = 6;
    pub const UNKNOWN_CODE: u64 = 7;
    pub const OUT_OF_RANGE: u64 = 8;
}

/// Wire codes of the [`NameError`] variants.
mod name_error_code {
    pub const EMPTY: u64 = 1;
    pub const TOO_LONG: u64 = 2;
    pub const INVALID_BYTE: u64 = 3;
}

impl Malformed {
    /// Appends the reason: its code, then its fields, one word each.
    pub(crate) fn write(&self, message: &mut Message) {
        use malformed_code::*;
        match *self {
            Self::UnknownLabel { label } => {
                message.push(UNKNOWN_LABEL);
                message.push(label);
            }
            Self::Truncated { needed, actual } => {
                message.push(TRUNCATED);
                message.push(needed.into());
                message.push(actual.into());
            }
            Self::TrailingWords { expected, actual } => {
                message.push(TRAILING_WORDS);
                message.push(expected.into());
                message.push(actual.into());
            }
            Self::BadName { field, error } => {
                message.push(BAD_NAME);
                message.push(field.code());
                write_name_error(error, message);
            }
            Self::NamePadding { field } => {
                message.push(NAME_PADDING);
                message.push(field.code());
            }
            Self::BadConnectionId { value } => {
                message.push(BAD_CONNECTION_ID);
                message.push(value);
            }
            Self::UnknownCode { field, value } => {
                message.push(UNKNOWN_CODE);
                message.push(field.code());
                message.push(value);
            }
            Self::OutOfRange { field, value } => {
                message.push(OUT_OF_RANGE);
                message.push(field.code());
                message.push(value);
            }
        }
    }

    /// Reads a reason written by [`Malformed::write`].
    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        use malformed_code::*;
        let field = |reader: &mut Reader<'_>| reader.code(Field::Field, Field::from_code);
        Ok(match reader.word()? {
            UNKNOWN_LABEL => Self::UnknownLabel { label: reader.word()? },
            TRUNCATED => Self::Truncated {
                needed: reader.u32(Field::WordCount)?,
                actual: reader.u32(Field::WordCount)?,
            },
            TRAILING_WORDS => Self::TrailingWords {
                expected: reader.u32(Field::WordCount)?,
                actual: reader.u32(Field::WordCount)?,
            },
            BAD_NAME => Self::BadName { field: field(reader)?, error: read_name_error(reader)? },
            NAME_PADDING => Self::NamePadding { field: field(reader)? },
            BAD_CONNECTION_ID => Self::BadConnectionId { value: reader.word()? },
            UNKNOWN_CODE => Self::UnknownCode { field: field(reader)?, value: reader.word()? },
            OUT_OF_RANGE => Self::OutOfRange { field: field(reader)?, value: reader.word()? },
            value => {
                return Err(Malformed::UnknownCode { field: Field::MalformedReason, value });
            }
        })
    }
}

fn write_name_error(error: NameError, message: &mut Message) {
    use name_error_code::*;
    match error {
        NameError::Empty => message.push(EMPTY),
        NameError::TooLong { length } => {
            message.push(TOO_LONG);
            message.push(length);
        }
        NameError::InvalidByte { index, byte } => {
            message.push(INVALID_BYTE);
            message.push(index.into());
            message.push(byte.into());
        }
    }
}

fn read_name_error(reader: &mut Reader<'_>) -> Result<NameError, Malformed> {
    use name_error_code::*;
    Ok(match reader.word()? {
        EMPTY => NameError::Empty,
        TOO_LONG => NameError::TooLong { length: reader.word()? },
        INVALID_BYTE => NameError::InvalidByte {
            index: reader.u8(Field::NameByte)?,
            byte: reader.u8(Field::NameByte)?,
        },
        value => {
            return Err(Malformed::UnknownCode { field: Field::NameError, value });
        }
    })
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Service => "no such service",
            Self::Realm => "no such realm",
            Self::Connection => "no such connection",
            Self::Grant => "no such grant",
            Self::Notification => "the realm has no bound notification (ask for one first)",
            Self::Thread => {
                "no such thread to wait for (never spawned, already joined or detached, the \
                 caller itself, the main thread, or joined by another thread)"
            }
        })
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RealmServices => "the realm's service quota",
            Self::RealmConnections => "the realm's connection quota",
            Self::RealmSlots => "the realm's CSpace slots for broker caps",
            Self::BrokerServices => "the broker's service table",
            Self::BrokerConnections => "the broker's connection table",
            Self::BrokerSlots => "the broker's CSpace slots",
            Self::RuntimeGrants => "the table of run-time grants",
            Self::ServiceGenerations => "service generations",
            Self::RealmMemory => "the realm's memory budget",
            Self::RealmHeapWindow => "the realm's address range for pages asked for at run time",
            Self::RealmObjectSlots => {
                "the memory manager's capability slots for the realm's objects"
            }
            Self::RealmPagingStructures => "the paging structures one realm may have",
            Self::EndpointServices => "the services one endpoint can carry",
            Self::Threads => "the realm's max_threads",
        })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ByClient => "closed by the client",
            Self::AccessRevoked => "the grant it relied on was revoked",
            Self::ServiceGone => "the service is gone",
            Self::ClientDied => "the client realm died",
            Self::Unknown => "closed (no longer remembered why)",
            Self::ByService => "closed by the service",
        })
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownLabel { label } => write!(f, "unknown label {label}"),
            Self::Truncated { needed, actual } => {
                write!(f, "truncated: needs at least {needed} words, has {actual}")
            }
            Self::TrailingWords { expected, actual } => {
                write!(f, "{actual} words where {expected} were expected")
            }
            Self::BadName { field, error } => write!(f, "{field}: {error}"),
            Self::NamePadding { field: Field::Text } => {
                write!(f, "the text: non-zero bytes after its end")
            }
            Self::NamePadding { field } => {
                write!(f, "{field}: non-zero bytes after the name's end")
            }
            Self::BadConnectionId { value } => {
                write!(f, "{value:#x} is not a connection id")
            }
            Self::UnknownCode { field, value } => write!(f, "{field}: unknown code {value}"),
            Self::OutOfRange { field, value } => write!(f, "{field}: {value} is out of range"),
        }
    }
}

impl Malformed {
    /// The stable kebab-case name of what was wrong, for machine-readable event lines.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::UnknownLabel { .. } => "unknown-label",
            Self::Truncated { .. } => "truncated",
            Self::TrailingWords { .. } => "trailing-words",
            Self::BadName { .. } => "bad-name",
            Self::NamePadding { .. } => "padding",
            Self::BadConnectionId { .. } => "bad-connection-id",
            Self::UnknownCode { .. } => "unknown-code",
            Self::OutOfRange { .. } => "out-of-range",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ServiceName => "the service name",
            Self::RealmName => "the realm name",
            Self::Connection => "the connection",
            Self::Rule => "the rule",
            Self::Missing => "what was not found",
            Self::Resource => "the resource",
            Self::CloseReason => "the close reason",
            Self::MalformedReason => "the malformed reason",
            Self::Field => "the field",
            Self::NameError => "the name error",
            Self::Generation => "the generation",
            Self::WordCount => "a word count",
            Self::NameByte => "a name byte",
            Self::PageCount => "the page count",
            Self::Text => "the text",
            Self::Interface => "the interface's presence word",
            Self::InterfaceName => "the interface name",
            Self::Share => "the share's presence word",
            Self::SharedService => "the shared service's name",
            Self::ServiceIndex => "the service index",
            Self::Duration => "the duration",
            Self::Thread => "the thread id",
            Self::ThreadEnding => "the thread's ending",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { what } => write!(f, "not found: {what}"),
            Self::Denied { rule } => write!(f, "denied: {rule}"),
            Self::AlreadyRegistered => write!(f, "a service of that name is already registered"),
            Self::QuotaExceeded { what } => write!(f, "quota exceeded: {what}"),
            Self::MalformedRequest { reason } => write!(f, "malformed request: {reason}"),
            Self::Disconnected { reason } => write!(f, "disconnected: {reason}"),
            Self::ServiceRestarted { generation } => {
                write!(f, "the service restarted (now generation {generation}): connect again")
            }
            Self::ServiceRestarting => {
                write!(f, "the service is restarting: connect again once it is back")
            }
            Self::NotOwner => write!(f, "the connection belongs to another realm"),
            Self::NotYetRegistered => write!(
                f,
                "the service is declared but its provider has not registered it yet: connect \
                 again later"
            ),
            Self::ServiceGone => {
                write!(f, "the service is gone for good: its provider stopped and will not be back")
            }
            Self::InterfaceMismatch => write!(
                f,
                "interface mismatch: the service is registered with (or declared for) another \
                 typed interface than the one asked for"
            ),
        }
    }
}

impl CloseReason {
    /// The stable kebab-case name used in machine-readable event lines.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ByClient => "by-client",
            Self::AccessRevoked => "access-revoked",
            Self::ServiceGone => "service-gone",
            Self::ClientDied => "client-died",
            Self::Unknown => "unknown",
            Self::ByService => "by-service",
        }
    }
}

impl Resource {
    /// The stable kebab-case name used in machine-readable event lines.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RealmServices => "realm-services",
            Self::RealmConnections => "realm-connections",
            Self::RealmSlots => "realm-slots",
            Self::BrokerServices => "broker-services",
            Self::BrokerConnections => "broker-connections",
            Self::BrokerSlots => "broker-slots",
            Self::RuntimeGrants => "runtime-grants",
            Self::ServiceGenerations => "service-generations",
            Self::RealmMemory => "realm-memory",
            Self::RealmHeapWindow => "realm-heap-window",
            Self::RealmObjectSlots => "realm-object-slots",
            Self::RealmPagingStructures => "realm-paging-structures",
            Self::EndpointServices => "endpoint-services",
            Self::Threads => "threads",
        }
    }
}
