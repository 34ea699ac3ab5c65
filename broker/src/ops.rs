//! What the broker asks of the memory manager: kernel operations to run in order, and events
//! to log, delivered one at a time to an [`OpSink`] as they are produced.
//!
//! # The caps of a service and its connections
//!
//! ```text
//! endpoint (broker slot, the original)            CreateEndpoint
//! ├─ owner's Receive cap (owner's CSpace)          CopyToRealm, rights RECEIVE
//! └─ broker copy, badged (broker slot)             Mint, rights ALL, badge = connection
//!    └─ client's cap (client's CSpace)             CopyToRealm, rights CLIENT
//! ```
//!
//! Before each `CopyToRealm` the broker emits `DeleteInRealm` of the target slot: a realm
//! that parked a cap in a free slot of its broker range loses that cap, instead of making
//! the copy fail.
//!
//! Each arrow is seL4's derivation (a copy of a badged cap is its child), so:
//! - closing one connection is `Revoke` of its broker copy (which deletes the client's cap
//!   wherever the client moved or copied it), `DeleteInRealm` of the client's slot (so the
//!   slot is empty for reuse whatever the client put there), `CancelBadgedSends` on the copy
//!   (client threads blocked sending on it restart and fail: the cap is gone), and `Delete`
//!   of the copy;
//! - removing a service is `Revoke` of the endpoint (deletes every cap above), then `Delete`
//!   of it: the last cap, so the kernel cancels all IPC on the endpoint and no client blocks
//!   forever, then `DeleteInRealm` of each slot the broker had filled.
//!
//! # Services sharing an endpoint
//!
//! A register with `share` puts a service on the endpoint of another service of the same
//! realm: no kernel op at all (the owner already holds its Receive cap, whose slot the reply
//! names again). Its connections are minted from the same endpoint with its own
//! [`ipc::ServiceIndex`] in the badge's kind. Removing a service that is not the endpoint's
//! last closes each of its connections as a disconnect does (4 ops each: the endpoint, the
//! owner's cap and the other services' connections stay); removing the last one is the
//! removal above.
//!
//! The broker copy has all rights because seL4 5.0.0 CancelBadgedSends requires Read, Write
//! and Grant on the cap. The client's cap has Write and Grant because on seL4 5.0.0 a `Call`
//! through a cap without Grant leaves the caller Inactive instead of waiting for a reply (no
//! GrantReply right before seL4 10). Grant also lets a client send caps to the service, which
//! the service only accepts if it sets a receive slot.
//!
//! # How many
//!
//! A register emits 3 kernel ops (0 when it shares an endpoint), a connect 3, a disconnect 4.
//! A realm's death emits 4 per connection it held as a client, 3 per endpoint of its
//! services plus 1 per connection to the last service of an endpoint and 4 per connection to
//! another one, and one log event per connection, per service and for the death: with the
//! tables full, several thousand. They are never collected: each goes to the sink at once.

use ipc::{
    Badge, CloseReason, ConnectionId, Error, InterfaceId, Malformed, Missing, Name, RealmId, Rule,
    ServiceIndex,
};
use service_registry::CapSlot;

use crate::log::LogLine;

/// Capability rights: the seL4 binding's own type (`read` = receive, `write` = send), which
/// builds on the host like this crate, so the memory manager mints exactly what the broker
/// decided, with no conversion.
pub use sel4::cap::Rights;

/// The rights of each cap the broker makes (see the tree above).
pub mod rights {
    use super::Rights;

    /// The service owner's cap: receive only.
    pub const RECEIVE: Rights = Rights::READ;
    /// A client's cap: send, and grant so that `Call` gets a reply on seL4 5.0.0 (the
    /// kernel's [`sel4::kernel::CALL_RIGHTS`]).
    pub const CLIENT: Rights = sel4::kernel::CALL_RIGHTS;
    /// The broker's badged copies: everything (CancelBadgedSends needs it).
    pub const BROKER_COPY: Rights = Rights::ALL;
}

/// A slot in a realm's CSpace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RealmSlot {
    pub realm: RealmId,
    pub slot: CapSlot,
}

/// One thing the memory manager must do. `CapSlot`s without a realm are in the memory
/// manager's own CSpace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelOp {
    /// Retype a new endpoint object into `slot`.
    CreateEndpoint { slot: CapSlot },
    /// CNode Mint: a copy of the cap in `from` with `badge` and `rights`, into `into`.
    Mint { from: CapSlot, into: CapSlot, badge: Badge, rights: Rights },
    /// CNode Copy: the cap in `from`, with `rights`, into a realm's CSpace.
    CopyToRealm { from: CapSlot, into: RealmSlot, rights: Rights },
    /// CNode Revoke: delete every cap derived from the cap in `slot`.
    Revoke { slot: CapSlot },
    /// CNode CancelBadgedSends on the (badged, all-rights) cap in `slot`.
    CancelBadgedSends { slot: CapSlot },
    /// CNode Delete of `slot` in the memory manager's CSpace.
    Delete { slot: CapSlot },
    /// CNode Delete of a slot in a realm's CSpace (empty already, normally).
    DeleteInRealm { slot: RealmSlot },
}

/// The request an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Register,
    Connect,
    Grant,
    RevokeGrant,
}

/// Why a connect the policy allowed found no service to connect to: the answer tells the
/// client whether to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The name is declared nowhere and no realm registered it
    /// (`Error::NotFound { what: Missing::Service }`).
    Unknown,
    /// The service is declared; its provider is running but has not registered it, yet or
    /// again (`Error::NotYetRegistered`).
    NotYetRegistered,
    /// Its provider died and is being restarted (`Error::ServiceRestarting`).
    Restarting,
    /// Its provider stopped for good: it exited, or died more often than its `max_restarts`
    /// (`Error::ServiceGone`).
    Gone,
}

impl Unavailable {
    /// The error the client gets.
    pub const fn error(self) -> Error {
        match self {
            Self::Unknown => Error::NotFound { what: Missing::Service },
            Self::NotYetRegistered => Error::NotYetRegistered,
            Self::Restarting => Error::ServiceRestarting,
            Self::Gone => Error::ServiceGone,
        }
    }

    /// The stable kebab-case name used in machine-readable event lines.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::NotYetRegistered => "not-yet-registered",
            Self::Restarting => "restarting",
            Self::Gone => "gone",
        }
    }
}

/// Something worth a log line. [`crate::Broker::log_line`] formats it with realm names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Registered {
        owner: RealmId,
        service: Name,
        generation: u32,
        rule: Rule,
        /// The typed interface it was registered with.
        interface: Option<InterfaceId>,
        /// Its index on its endpoint ([`ServiceIndex::FIRST`] unless it shares one).
        index: ServiceIndex,
        /// The service whose endpoint it shares, if it was registered with `share`.
        shares: Option<Name>,
    },
    Connected {
        client: RealmId,
        service: Name,
        connection: ConnectionId,
        rule: Rule,
    },
    /// The policy refused: who asked, for what, and which rule refused.
    Denied {
        realm: RealmId,
        action: Action,
        service: Name,
        /// The realm a grant or revoke was for.
        grantee: Option<RealmId>,
        rule: Rule,
    },
    GrantAdded {
        granter: RealmId,
        grantee: RealmId,
        service: Name,
    },
    GrantRevoked {
        granter: RealmId,
        grantee: RealmId,
        service: Name,
    },
    ConnectionClosed {
        connection: ConnectionId,
        client: RealmId,
        service: Name,
        reason: CloseReason,
    },
    ServiceRemoved {
        owner: RealmId,
        service: Name,
        generation: u32,
    },
    RealmDied {
        realm: RealmId,
    },
    /// A connect the policy allowed found no service to connect to (a refusal: it is
    /// always printed, and repeats are summarised).
    Unavailable {
        realm: RealmId,
        service: Name,
        state: Unavailable,
    },
    Malformed {
        realm: RealmId,
        reason: Malformed,
    },
    /// A connect refused (`Error::InterfaceMismatch`): the service was registered with one
    /// typed interface, the client asked for another.
    InterfaceMismatch {
        client: RealmId,
        service: Name,
        provider: RealmId,
        /// The interface the service was registered with.
        service_interface: InterfaceId,
        /// The interface the client asked for.
        client_interface: InterfaceId,
    },
    /// A register refused (`Error::InterfaceMismatch`): `system.toml` declares the service
    /// with `interface = "declared"`, and the register named another interface, or none.
    DeclaredInterfaceMismatch {
        realm: RealmId,
        service: Name,
        declared: Name,
        /// The interface the register named.
        interface: Option<InterfaceId>,
    },
    /// A warning, after [`Event::Connected`]: the connect that run time allowed (not a
    /// `[[grant]]`, which the system description's check saw) puts the client above the
    /// service's provider (`policy::Policy::inversion`, from the configuration's
    /// priorities). Nothing is refused.
    PriorityInversion {
        client: RealmId,
        service: Name,
        provider: RealmId,
        connection: ConnectionId,
        client_priority: u8,
        provider_priority: u8,
        rule: Rule,
    },
}

/// Where the broker's output goes, one item at a time, as it is produced.
///
/// The memory manager implements it on its executor: [`OpSink::run`] runs the op against
/// seL4 at once, [`OpSink::log`] prints the line. The ops of one call arrive in the order they
/// must run. Every op is expected to succeed; the one that can fail for want of resources is
/// `CreateEndpoint` (kernel memory): the sink notes it, and once the call has returned the
/// memory manager runs [`crate::Broker::withdraw_service`] for the service and replies with
/// its own error. The register's later ops then fail or do nothing, harmlessly, so a sink may
/// simply run every op it gets. Tests implement it on a recorder or a model of the kernel.
pub trait OpSink {
    /// Runs one kernel operation.
    fn run(&mut self, op: KernelOp);
    /// Logs one event; `line` formats it with realm names and gives the [`Event`] itself.
    fn log(&mut self, line: LogLine<'_>);
}
