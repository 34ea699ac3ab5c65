//! What the memory manager tells the broker at start, besides the checked system description
//! (`system_config::CheckedConfig`, which the broker borrows for realms, services, grants,
//! quotas and priorities): the CSpace [`Layout`] it chose, one free slot range per realm and
//! one of its own; and why a layout is refused ([`ConfigError`]).

use core::fmt;

use ipc::RealmId;

use slots::{SlotRange, SlotRangeError};

/// A realm's limits, read from its `[[realm]]` (`max_services`, `max_connections`). A realm's
/// slot range needs `max_services + max_connections` slots for the realm never to run out of
/// slots before it runs out of quota: a connection closed for it (by its service, a revoked
/// grant, its service gone) keeps its slot reserved until the realm lets go of it
/// (`Disconnect`), and counts against `max_connections` until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// How many services the realm may have registered at once.
    pub max_services: u16,
    /// How many connections the realm may hold at once, as a client: open ones, and closed
    /// ones it has not let go of yet (each keeps its slot reserved).
    pub max_connections: u16,
}

/// Where the broker may place caps: the CSpace layout the memory manager chose.
#[derive(Clone, Copy, Debug)]
pub struct Layout<'a> {
    /// `realm_slots[i]`: the free slots of realm `i`'s CSpace where the broker may place caps
    /// (service endpoints it registered, connections it opened); one range per realm of the
    /// configuration, in its order. The realm must leave them alone.
    pub realm_slots: &'a [SlotRange],
    /// Free slots of the memory manager's own CSpace for the broker's caps (one per service
    /// endpoint and one per connection: [`crate::BROKER_SLOTS_NEEDED`] is always enough).
    pub broker_slots: SlotRange,
}

/// Why the broker refused a [`Layout`]. (The system description itself was checked by the
/// rule engine of `system-config` before the broker saw it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Not one slot range per realm.
    SlotRangesMismatch { ranges: usize, realms: usize },
    /// A realm's slot range is not one the slot allocator can hold.
    RealmSlots { realm: RealmId, error: SlotRangeError },
    /// The broker's own slot range is not one the slot allocator can hold.
    BrokerSlots { error: SlotRangeError },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SlotRangesMismatch { ranges, realms } => {
                write!(f, "{ranges} slot ranges for {realms} realms: one per realm is needed")
            }
            Self::RealmSlots { realm, error } => {
                write!(f, "the broker slot range of {realm}: {error}")
            }
            Self::BrokerSlots { error } => write!(f, "the broker's own slot range: {error}"),
        }
    }
}
