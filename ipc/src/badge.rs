//! Badge layout: what the badge of a delivered message says about its sender.
//!
//! seL4 5.0.0 keeps 28 badge bits. Switchboard uses them as:
//!
//! ```text
//!  27..24  kind      1 = realm          (badge of a realm's cap to the broker endpoint)
//!                    3 = fault          (badge of a realm thread's fault endpoint)
//!                    4 = timer          (badge of the memory manager's timer notification)
//!                    5 = notification   (badge of a signal to a realm's bound notification)
//!                    6 = inbox          (badge of a thread's inbox: an intra-realm message)
//!                    8..=15 = connection to service `kind - 8` of its endpoint (a client's
//!                             cap to a service endpoint; see [`ServiceIndex`])
//!                    0, 2, 7 reserved (0 would also be "unbadged")
//!  23..0   payload   realm, fault: bits 23..12 zero, bits 11..8 the thread id, bits 7..0
//!                    the realm id (each thread has its own broker and fault caps)
//!                    inbox: bits 23..4 zero, bits 3..0 the receiving thread's id
//!                    connection: the connection word (bits 23..10 generation, 9..0 index)
//!                    timer: zero
//!                    notification: the signal bits (non-zero)
//! ```
//!
//! Notification badges arrive differently: a notification bound to a thread wakes its `Recv`
//! on its endpoint with the notification word as the badge, the OR of every signal's badge
//! since the last receive. So the kinds are chosen to survive an OR: every notification
//! badge of a realm has kind 5, and the OR of several is kind 5 with the OR of their bits;
//! the memory manager's timer is the only signaller of its notification, so its word is
//! exactly [`Badge::TIMER`]. A connection kind has bit 27 set and no notification kind
//! does, so a wake-up is never taken for a request.
//!
//! Several services of one realm may share one endpoint (so that one thread serves them in
//! one loop): the kind of a connection badge says which of them a connection reaches, up to
//! [`ServiceIndex::LIMIT`] per endpoint.
//!
//! Every badge this layout produces is non-zero, so a minted cap is always badged.
//!
//! The connection word used to be a 16-bit generation over an 8-bit index (256 connections).
//! It is now a 14-bit generation over a 10-bit index, so that a broker can track 1024
//! connections, as many as it tracks services. The number of ids a broker can issue before it
//! runs out (2^24, less the never-issued generation 0 of each slot) is the same in both
//! layouts: fewer reuses of each slot, but four times the slots.

use core::fmt;

use crate::ids::{ConnectionId, RealmId, ThreadId};

/// The badge bits the kernel keeps (28 on seL4 5.0.0): the width of
/// [`sel4::kernel::MAX_BADGE`].
pub const BADGE_BITS: u32 = u64::BITS - sel4::kernel::MAX_BADGE.leading_zeros();
const KIND_SHIFT: u32 = 24;
const PAYLOAD_MASK: u64 = (1 << KIND_SHIFT) - 1;
const REALM_KIND: u64 = 1;
const FAULT_KIND: u64 = 3;
const TIMER_KIND: u64 = 4;
const NOTIFICATION_KIND: u64 = 5;
const INBOX_KIND: u64 = 6;
/// Where the thread id sits in a realm or fault badge's payload.
const THREAD_SHIFT: u32 = 8;
/// The payload bits a realm or fault badge may use: a thread id over a realm id.
const REALM_PAYLOAD_MASK: u64 = (1 << (THREAD_SHIFT + 4)) - 1;
const _: () = assert!(ThreadId::LIMIT <= 1 << 4, "a thread id fits 4 bits");
/// Connection kinds are `CONNECTION_KINDS + service index`.
const CONNECTION_KINDS: u64 = 8;

/// Which of the services sharing one endpoint a connection reaches: `0..LIMIT`. A service
/// with an endpoint of its own is index 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceIndex(u8);

impl ServiceIndex {
    /// The most services one endpoint can carry (the connection kinds 8..=15).
    pub const LIMIT: usize = 8;
    /// The first (or only) service of an endpoint.
    pub const FIRST: Self = Self(0);

    /// The index, if it is below [`ServiceIndex::LIMIT`].
    pub const fn new(index: u8) -> Option<Self> {
        if (index as usize) < Self::LIMIT { Some(Self(index)) } else { None }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

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
    /// A request of `thread` of `realm` to the memory manager (its cap to the broker
    /// endpoint).
    Realm { realm: RealmId, thread: ThreadId },
    /// A client's call on `connection`, to the service at `service` on the endpoint.
    Connection { connection: ConnectionId, service: ServiceIndex },
    /// A fault of `thread` of `realm` (the kernel sends faults on the thread's fault
    /// endpoint, the broker endpoint minted with this badge).
    Fault { realm: RealmId, thread: ThreadId },
    /// A message from a thread of the realm to `thread`'s inbox (every thread's cap to that
    /// inbox carries this badge: the sender is not told apart).
    Inbox { thread: ThreadId },
    /// A tick of the memory manager's timer (its notification's word, delivered on its
    /// endpoint because the notification is bound to its thread).
    Timer,
    /// Signals to a realm's bound notification: the OR of the bits of every signal since the
    /// last receive (never zero).
    Notification { bits: u32 },
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
    /// A realm or fault badge whose payload is not a thread id over a realm id.
    BadRealmPayload { payload: u64 },
    /// An inbox badge whose payload is not a thread id.
    BadInboxPayload { payload: u64 },
    /// A connection badge whose payload is not a connection word.
    BadConnectionPayload { payload: u64 },
    /// A timer badge with payload bits set.
    BadTimerPayload { payload: u64 },
    /// A notification badge with no signal bit set.
    EmptyNotification,
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
            Self::BadInboxPayload { payload } => {
                write!(f, "inbox badge payload {payload:#x} is not a thread id")
            }
            Self::BadConnectionPayload { payload } => {
                write!(f, "connection badge payload {payload:#x} is not a connection id")
            }
            Self::BadTimerPayload { payload } => {
                write!(f, "timer badge payload {payload:#x} is not zero")
            }
            Self::EmptyNotification => write!(f, "notification badge with no signal bit set"),
            Self::WrongKind { found } => write!(f, "unexpected badge of kind {found:?}"),
        }
    }
}

impl Badge {
    /// The badge of the memory manager's timer notification.
    pub const TIMER: Self = Self(TIMER_KIND << KIND_SHIFT);

    /// The badge of `realm`'s main thread's cap to the broker endpoint.
    pub const fn for_realm(realm: RealmId) -> Self {
        Self::for_realm_thread(realm, ThreadId::MAIN)
    }

    /// The badge of thread `thread` of `realm`'s cap to the broker endpoint.
    pub const fn for_realm_thread(realm: RealmId, thread: ThreadId) -> Self {
        Self((REALM_KIND << KIND_SHIFT) | (thread.get() as u64) << THREAD_SHIFT | realm.0 as u64)
    }

    /// The badge of the fault endpoint of `realm`'s main thread.
    pub const fn for_fault(realm: RealmId) -> Self {
        Self::for_fault_thread(realm, ThreadId::MAIN)
    }

    /// The badge of the fault endpoint of thread `thread` of `realm`.
    pub const fn for_fault_thread(realm: RealmId, thread: ThreadId) -> Self {
        Self((FAULT_KIND << KIND_SHIFT) | (thread.get() as u64) << THREAD_SHIFT | realm.0 as u64)
    }

    /// The badge of every cap to thread `thread`'s inbox.
    pub const fn for_inbox(thread: ThreadId) -> Self {
        Self((INBOX_KIND << KIND_SHIFT) | thread.get() as u64)
    }

    /// The badge of the client's cap for `connection`, to the service at `service` on its
    /// endpoint.
    pub const fn for_connection(connection: ConnectionId, service: ServiceIndex) -> Self {
        Self(((CONNECTION_KINDS + service.0 as u64) << KIND_SHIFT) | connection.to_word())
    }

    /// The badge of a signal to a realm's bound notification carrying `bits` (24 bits at
    /// most, at least one set); `None` otherwise.
    pub const fn for_notification(bits: u32) -> Option<Self> {
        if bits == 0 || bits as u64 > PAYLOAD_MASK {
            None
        } else {
            Some(Self((NOTIFICATION_KIND << KIND_SHIFT) | bits as u64))
        }
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
                let thread = ThreadId::from_word(payload >> THREAD_SHIFT);
                match thread {
                    Some(thread) if payload & !REALM_PAYLOAD_MASK == 0 => {
                        let realm = RealmId((payload & 0xff) as u8);
                        if kind == REALM_KIND {
                            Ok(BadgeKind::Realm { realm, thread })
                        } else {
                            Ok(BadgeKind::Fault { realm, thread })
                        }
                    }
                    _ => Err(BadgeError::BadRealmPayload { payload }),
                }
            }
            INBOX_KIND => match ThreadId::from_word(payload) {
                Some(thread) => Ok(BadgeKind::Inbox { thread }),
                None => Err(BadgeError::BadInboxPayload { payload }),
            },
            kind @ CONNECTION_KINDS.. => match ConnectionId::from_word(payload) {
                Some(connection) => Ok(BadgeKind::Connection {
                    connection,
                    service: ServiceIndex((kind - CONNECTION_KINDS) as u8),
                }),
                None => Err(BadgeError::BadConnectionPayload { payload }),
            },
            NOTIFICATION_KIND => {
                if payload == 0 {
                    Err(BadgeError::EmptyNotification)
                } else {
                    Ok(BadgeKind::Notification { bits: payload as u32 })
                }
            }
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
        match Self::realm_thread(badge) {
            Ok((realm, _)) => Ok(realm),
            Err(error) => Err(error),
        }
    }

    /// Reads the badge of a message on the broker endpoint: the calling realm and thread.
    pub const fn realm_thread(badge: u64) -> Result<(RealmId, ThreadId), BadgeError> {
        match Self::decode(badge) {
            Ok(BadgeKind::Realm { realm, thread }) => Ok((realm, thread)),
            Ok(found) => Err(BadgeError::WrongKind { found }),
            Err(error) => Err(error),
        }
    }

    /// Reads the badge of a message on a service endpoint: the connection it came on.
    pub const fn connection(badge: u64) -> Result<ConnectionId, BadgeError> {
        match Self::decode(badge) {
            Ok(BadgeKind::Connection { connection, .. }) => Ok(connection),
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
            Badge::for_realm_thread(RealmId(255), ThreadId::new(15).unwrap()),
            Badge::for_fault(RealmId(0)),
            Badge::for_fault_thread(RealmId(255), ThreadId::new(15).unwrap()),
            Badge::for_inbox(ThreadId::new(15).unwrap()),
            Badge::for_connection(last, ServiceIndex::new(7).unwrap()),
            Badge::for_notification(0xff_ffff).unwrap(),
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
        assert_eq!(Badge::realm_thread(badge.value()), Ok((RealmId(7), ThreadId::MAIN)));
        // Each thread's cap says which thread calls.
        let thread = ThreadId::new(13).unwrap();
        let badge = Badge::for_realm_thread(RealmId(7), thread);
        assert_eq!(badge.value(), 0x100_0d07);
        assert_eq!(Badge::realm_thread(badge.value()), Ok((RealmId(7), thread)));
        assert_eq!(Badge::realm(badge.value()), Ok(RealmId(7)));
    }

    #[test]
    fn inbox_badge_layout() {
        let thread = ThreadId::new(3).unwrap();
        let badge = Badge::for_inbox(thread);
        assert_eq!(badge.value(), 0x600_0003);
        assert_eq!(Badge::decode(badge.value()), Ok(BadgeKind::Inbox { thread }));
        // An inbox message is neither a request to the broker nor a connection's call.
        assert!(Badge::realm(badge.value()).is_err());
        assert!(Badge::connection(badge.value()).is_err());
        assert_eq!(Badge::decode(0x600_0010), Err(BadgeError::BadInboxPayload { payload: 0x10 }));
    }

    #[test]
    fn fault_badge_layout() {
        let badge = Badge::for_fault(RealmId(7));
        assert_eq!(badge.value(), 0x300_0007);
        let fault = BadgeKind::Fault { realm: RealmId(7), thread: ThreadId::MAIN };
        assert_eq!(Badge::decode(badge.value()), Ok(fault));
        assert_eq!(Badge::realm(badge.value()), Err(BadgeError::WrongKind { found: fault }));
        let thread = ThreadId::new(15).unwrap();
        assert_eq!(
            Badge::decode(Badge::for_fault_thread(RealmId(7), thread).value()),
            Ok(BadgeKind::Fault { realm: RealmId(7), thread })
        );
    }

    #[test]
    fn connection_badge_layout() {
        let id = ConnectionId::new(3, ConnectionId::MAX_GENERATION).unwrap();
        let badge = Badge::for_connection(id, ServiceIndex::FIRST);
        assert_eq!(badge.value(), 0x8ff_fc03);
        assert_eq!(Badge::connection(badge.value()), Ok(id));
        assert!(badge.value() < 1 << BADGE_BITS);
        let third = ServiceIndex::new(2).unwrap();
        let badge = Badge::for_connection(id, third);
        assert_eq!(badge.value(), 0xaff_fc03);
        assert_eq!(
            Badge::decode(badge.value()),
            Ok(BadgeKind::Connection { connection: id, service: third })
        );
        assert_eq!(ServiceIndex::new(8), None);
    }

    #[test]
    fn notification_badges_survive_an_or() {
        let a = Badge::for_notification(0b01).unwrap();
        let b = Badge::for_notification(0b10).unwrap();
        assert_eq!(a.value(), 0x500_0001);
        assert_eq!(
            Badge::decode(a.value() | b.value()),
            Ok(BadgeKind::Notification { bits: 0b11 })
        );
        assert_eq!(Badge::for_notification(0), None);
        assert_eq!(Badge::for_notification(1 << 24), None);
        assert_eq!(Badge::decode(0x500_0000), Err(BadgeError::EmptyNotification));
        // No notification word has the bit every connection badge has.
        assert_eq!(a.value() & (1 << 27), 0);
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
        assert_eq!(Badge::decode(0x200_0000), Err(BadgeError::UnknownKind { kind: 2 }));
        assert_eq!(Badge::decode(0x700_0000), Err(BadgeError::UnknownKind { kind: 7 }));
        assert_eq!(Badge::decode(0x5), Err(BadgeError::UnknownKind { kind: 0 }));
        // Bits above the thread id, in a realm or a fault badge.
        assert_eq!(Badge::decode(0x100_1000), Err(BadgeError::BadRealmPayload { payload: 0x1000 }));
        assert_eq!(
            Badge::decode(0x380_0001),
            Err(BadgeError::BadRealmPayload { payload: 0x80_0001 })
        );
        assert_eq!(Badge::decode(0x800_0009), Err(BadgeError::BadConnectionPayload { payload: 9 }));
        assert_eq!(
            Badge::realm(0x800_0409),
            Err(BadgeError::WrongKind {
                found: BadgeKind::Connection {
                    connection: ConnectionId::new(9, 1).unwrap(),
                    service: ServiceIndex::FIRST,
                }
            })
        );
        assert_eq!(
            Badge::connection(0x100_0001),
            Err(BadgeError::WrongKind {
                found: BadgeKind::Realm { realm: RealmId(1), thread: ThreadId::MAIN }
            })
        );
    }
}
