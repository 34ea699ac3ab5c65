//! Badge layout: what the badge of a delivered message says about its sender.
//!
//! seL4 5.0.0 keeps 28 badge bits. Switchboard uses them as:
//!
//! ```text
//!  27..24  kind      1 = realm       (badge of a realm's cap to the broker endpoint)
//!                    2 = connection  (badge of a client's cap to a service endpoint)
//!                    3 = fault       (badge of a realm thread's fault endpoint)
//!                    4 = timer       (badge of the memory manager's timer notification)
//!                    0, 5..=15 reserved (0 would also be "unbadged")
//!  23..0   payload   realm, fault: bits 23..8 zero, bits 7..0 the realm id
//!                    connection: the connection word (bits 23..10 generation, 9..0 index)
//!                    timer: zero
//! ```
//!
//! The timer badge arrives differently: the memory manager's notification is bound to its
//! thread, so a timer interrupt wakes its `Recv` on its endpoint with the notification word
//! as the badge. That word is the OR of every signal's badge since the last receive; only the
//! timer signals that notification, so it is exactly [`Badge::TIMER`].
//!
//! Every badge this layout produces is non-zero, so a minted cap is always badged.
//!
//! The connection word used to be a 16-bit generation over an 8-bit index (256 connections).
//! It is now a 14-bit generation over a 10-bit index, so that a broker can track 1024
//! connections, as many as it tracks services. The number of ids a broker can issue before it
//! runs out (2^24, less the never-issued generation 0 of each slot) is the same in both
//! layouts: fewer reuses of each slot, but four times the slots.

use core::fmt;

use crate::ids::{ConnectionId, RealmId};

/// The badge bits the kernel keeps (28 on seL4 5.0.0): the width of
/// [`sel4::kernel::MAX_BADGE`].
pub const BADGE_BITS: u32 = u64::BITS - sel4::kernel::MAX_BADGE.leading_zeros();
const KIND_SHIFT: u32 = 24;
const PAYLOAD_MASK: u64 = (1 << KIND_SHIFT) - 1;
const REALM_KIND: u64 = 1;
const CONNECTION_KIND: u64 = 2;
const FAULT_KIND: u64 = 3;
const TIMER_KIND: u64 = 4;

/// A badge value, as minted into a cap and as delivered by the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Badge(u64);

/// The one conversion to the kernel's badge type, for minting. Every badge of this layout is
/// below `2^BADGE_BITS` (a kind below 16 over a 24-bit payload), so the kernel's check never
/// refuses it; the `NONE` fallback is unreachable.
impl From<Badge> for sel4::cap::Badge {
    fn from(badge: Badge) -> Self {
        sel4::cap::Badge::new(badge.value()).unwrap_or(sel4::cap::Badge::NONE)
    }
}

/// What a badge identifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadgeKind {
    Realm(RealmId),
    Connection(ConnectionId),
    /// A fault of a thread of this realm (the kernel sends faults on the thread's fault
    /// endpoint, the broker endpoint minted with this badge).
    Fault(RealmId),
    /// A tick of the memory manager's timer (its notification's word, delivered on its
    /// endpoint because the notification is bound to its thread).
    Timer,
}

/// Why a delivered badge does not fit the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadgeError {
    /// Badge 0: the message came through an unbadged cap.
    Unbadged,
    /// Bits above the 28 the kernel keeps are set.
    TooWide { badge: u64 },
    /// The kind field names no kind Switchboard uses.
    UnknownKind { kind: u8 },
    /// A realm badge with bits set between the kind and the realm id.
    BadRealmPayload { payload: u64 },
    /// A connection badge whose payload is not a connection word.
    BadConnectionPayload { payload: u64 },
    /// A timer badge with payload bits set.
    BadTimerPayload { payload: u64 },
    /// A valid badge of another kind than the one expected here.
    WrongKind { found: BadgeKind },
}

impl fmt::Display for BadgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unbadged => write!(f, "unbadged cap"),
            Self::TooWide { badge } => write!(f, "badge {badge:#x} is wider than 28 bits"),
            Self::UnknownKind { kind } => write!(f, "badge kind {kind} is not used"),
            Self::BadRealmPayload { payload } => {
                write!(f, "realm badge payload {payload:#x} has bits above the realm id")
            }
            Self::BadConnectionPayload { payload } => {
                write!(f, "connection badge payload {payload:#x} is not a connection id")
            }
            Self::BadTimerPayload { payload } => {
                write!(f, "timer badge payload {payload:#x} is not zero")
            }
            Self::WrongKind { found } => write!(f, "unexpected badge of kind {found:?}"),
        }
    }
}

impl Badge {
    /// The badge of the memory manager's timer notification.
    pub const TIMER: Self = Self(TIMER_KIND << KIND_SHIFT);

    /// The badge of `realm`'s cap to the broker endpoint.
    pub const fn for_realm(realm: RealmId) -> Self {
        Self((REALM_KIND << KIND_SHIFT) | realm.0 as u64)
    }

    /// The badge of the fault endpoint of `realm`'s threads.
    pub const fn for_fault(realm: RealmId) -> Self {
        Self((FAULT_KIND << KIND_SHIFT) | realm.0 as u64)
    }

    /// The badge of the client's cap for `connection`.
    pub const fn for_connection(connection: ConnectionId) -> Self {
        Self((CONNECTION_KIND << KIND_SHIFT) | connection.to_word())
    }

    /// The badge's value, as seL4 takes it in a mint.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// Reads a badge the kernel delivered.
    pub const fn decode(badge: u64) -> Result<BadgeKind, BadgeError> {
        if badge == 0 {
            return Err(BadgeError::Unbadged);
        }
        if badge >> BADGE_BITS != 0 {
            return Err(BadgeError::TooWide { badge });
        }
        let payload = badge & PAYLOAD_MASK;
        match badge >> KIND_SHIFT {
            kind @ (REALM_KIND | FAULT_KIND) => {
                if payload > u8::MAX as u64 {
                    Err(BadgeError::BadRealmPayload { payload })
                } else if kind == REALM_KIND {
                    Ok(BadgeKind::Realm(RealmId(payload as u8)))
                } else {
                    Ok(BadgeKind::Fault(RealmId(payload as u8)))
                }
            }
            CONNECTION_KIND => match ConnectionId::from_word(payload) {
                Some(connection) => Ok(BadgeKind::Connection(connection)),
                None => Err(BadgeError::BadConnectionPayload { payload }),
            },
            TIMER_KIND => {
                if payload == 0 {
                    Ok(BadgeKind::Timer)
                } else {
                    Err(BadgeError::BadTimerPayload { payload })
                }
            }
            kind => Err(BadgeError::UnknownKind { kind: kind as u8 }),
        }
    }

    /// Reads the badge of a message on the broker endpoint: the calling realm.
    pub const fn realm(badge: u64) -> Result<RealmId, BadgeError> {
        match Self::decode(badge) {
            Ok(BadgeKind::Realm(realm)) => Ok(realm),
            Ok(found) => Err(BadgeError::WrongKind { found }),
            Err(error) => Err(error),
        }
    }

    /// Reads the badge of a message on a service endpoint: the connection it came on.
    pub const fn connection(badge: u64) -> Result<ConnectionId, BadgeError> {
        match Self::decode(badge) {
            Ok(BadgeKind::Connection(connection)) => Ok(connection),
            Ok(found) => Err(BadgeError::WrongKind { found }),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_badge_converts_to_the_same_kernel_badge() {
        assert_eq!(BADGE_BITS, 28);
        let last = ConnectionId::new(1023, ConnectionId::MAX_GENERATION).unwrap();
        for badge in [
            Badge::for_realm(RealmId(255)),
            Badge::for_fault(RealmId(0)),
            Badge::for_connection(last),
            Badge::TIMER,
        ] {
            let kernel = sel4::cap::Badge::from(badge);
            assert_eq!(kernel.value(), badge.value());
            assert_ne!(kernel, sel4::cap::Badge::NONE);
        }
    }

    #[test]
    fn realm_badge_layout() {
        let badge = Badge::for_realm(RealmId(7));
        assert_eq!(badge.value(), 0x100_0007);
        assert_eq!(Badge::realm(badge.value()), Ok(RealmId(7)));
    }

    #[test]
    fn fault_badge_layout() {
        let badge = Badge::for_fault(RealmId(7));
        assert_eq!(badge.value(), 0x300_0007);
        assert_eq!(Badge::decode(badge.value()), Ok(BadgeKind::Fault(RealmId(7))));
        assert_eq!(
            Badge::realm(badge.value()),
            Err(BadgeError::WrongKind { found: BadgeKind::Fault(RealmId(7)) })
        );
    }

    #[test]
    fn connection_badge_layout() {
        let id = ConnectionId::new(3, ConnectionId::MAX_GENERATION).unwrap();
        let badge = Badge::for_connection(id);
        assert_eq!(badge.value(), 0x2ff_fc03);
        assert_eq!(Badge::connection(badge.value()), Ok(id));
        assert!(badge.value() < 1 << BADGE_BITS);
    }

    #[test]
    fn timer_badge_layout() {
        assert_eq!(Badge::TIMER.value(), 0x400_0000);
        assert_eq!(Badge::decode(Badge::TIMER.value()), Ok(BadgeKind::Timer));
        assert_eq!(Badge::decode(0x400_0001), Err(BadgeError::BadTimerPayload { payload: 1 }));
        assert_eq!(
            Badge::realm(Badge::TIMER.value()),
            Err(BadgeError::WrongKind { found: BadgeKind::Timer })
        );
        // Every other badge differs from it, so no realm's message can pass for a tick.
        assert_ne!(Badge::for_realm(RealmId(0)), Badge::TIMER);
    }

    #[test]
    fn rejects_badges_outside_the_layout() {
        assert_eq!(Badge::decode(0), Err(BadgeError::Unbadged));
        assert_eq!(Badge::decode(1 << 28), Err(BadgeError::TooWide { badge: 1 << 28 }));
        assert_eq!(Badge::decode(0x500_0000), Err(BadgeError::UnknownKind { kind: 5 }));
        assert_eq!(Badge::decode(0x5), Err(BadgeError::UnknownKind { kind: 0 }));
        assert_eq!(Badge::decode(0x100_0100), Err(BadgeError::BadRealmPayload { payload: 0x100 }));
        assert_eq!(Badge::decode(0x200_0009), Err(BadgeError::BadConnectionPayload { payload: 9 }));
        assert_eq!(
            Badge::realm(0x200_0409),
            Err(BadgeError::WrongKind {
                found: BadgeKind::Connection(ConnectionId::new(9, 1).unwrap())
            })
        );
        assert_eq!(
            Badge::connection(0x100_0001),
            Err(BadgeError::WrongKind { found: BadgeKind::Realm(RealmId(1)) })
        );
    }
}
