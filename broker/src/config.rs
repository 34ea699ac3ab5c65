//! What the memory manager tells the broker at start: the realms (filled from the init
//! configuration plus the CSpace layout the memory manager chose), the policy inputs, and the
//! broker's own slot range.

use core::fmt;

use ipc::{Name, RealmId};
use policy::{Grant, ServiceDecl};

use slots::{SlotRange, SlotRangeError};

/// Per-realm limits. A realm's slot range needs `max_services + max_connections` slots for
/// the realm never to run out of slots before it runs out of quota: a connection closed for
/// it (by its service, a revoked grant, its service gone) keeps its slot reserved until the
/// realm lets go of it (`Disconnect`), and counts against `max_connections` until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// How many services the realm may have registered at once.
    pub max_services: u16,
    /// How many connections the realm may hold at once, as a client: open ones, and closed
    /// ones it has not let go of yet (each keeps its slot reserved).
    pub max_connections: u16,
}

/// One realm. Its id is its index in [`BrokerConfig::realms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmSpec {
    pub name: Name,
    pub parent: Option<RealmId>,
    /// The free slots of the realm's CSpace where the broker may place caps (service
    /// endpoints it registered, connections it opened). The realm must leave them alone.
    pub slots: SlotRange,
    pub quota: Quota,
}

/// Everything the broker starts from.
#[derive(Clone, Copy, Debug)]
pub struct BrokerConfig<'a> {
    pub realms: &'a [RealmSpec],
    /// Grants in the init configuration.
    pub grants: &'a [Grant],
    /// Services the init configuration declares (provider, allowed clients).
    pub services: &'a [ServiceDecl],
    /// Free slots of the memory manager's own CSpace for the broker's caps (one per service
    /// endpoint and one per connection: [`crate::BROKER_SLOTS_NEEDED`] is always enough).
    pub broker_slots: SlotRange,
}

/// Why the broker refused its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    Policy(policy::ConfigError),
    DuplicateRealmName {
        name: Name,
    },
    RealmSlots {
        realm: RealmId,
        error: SlotRangeError,
    },
    BrokerSlots {
        error: SlotRangeError,
    },
    /// [`crate::Broker::set_priorities`] got a number of priorities other than one per realm.
    PrioritiesMismatch {
        priorities: usize,
        realms: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Policy(error) => write!(f, "{error}"),
            Self::DuplicateRealmName { name } => write!(f, "two realms are called \"{name}\""),
            Self::RealmSlots { realm, error } => {
                write!(f, "the broker slot range of {realm}: {error}")
            }
            Self::BrokerSlots { error } => write!(f, "the broker's own slot range: {error}"),
            Self::PrioritiesMismatch { priorities, realms } => {
                write!(f, "{priorities} priorities for {realms} realms: one per realm is needed")
            }
        }
    }
}
