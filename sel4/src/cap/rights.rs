//! What a derived capability may do, and the data a Mint or Mutate attaches to it: rights, a
//! badge (endpoints and notifications), or a guard (CNodes). The words the kernel reads are
//! version-specific and built in [`crate::kernel`] (`rights_word`, `cap_data_word`).

use core::fmt;

use crate::kernel;

/// Access rights of a capability. A derived capability has at most its source's rights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    /// Receive on an endpoint or notification; read a frame.
    pub read: bool,
    /// Send on an endpoint or notification; write a frame.
    pub write: bool,
    /// Send capabilities through an endpoint; on 5.0.0 also needed to Call through it or to
    /// serve as a fault endpoint (see [`kernel::CALL_RIGHTS`]).
    pub grant: bool,
}

impl Rights {
    pub const NONE: Rights = Rights { read: false, write: false, grant: false };
    pub const READ: Rights = Rights { read: true, write: false, grant: false };
    pub const WRITE: Rights = Rights { read: false, write: true, grant: false };
    pub const READ_WRITE: Rights = Rights { read: true, write: true, grant: false };
    pub const ALL: Rights = Rights { read: true, write: true, grant: true };

    /// The same rights plus grant.
    pub const fn with_grant(self) -> Rights {
        Rights { grant: true, ..self }
    }

    /// The word the kernel reads.
    pub const fn word(self) -> u64 {
        kernel::rights_word(self)
    }
}

/// A badge: the number an endpoint receiver (or a notification waiter) sees for a minted
/// capability. At most 28 bits; 0 means "no badge".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Badge(u64);

/// A badge or guard that does not fit the kernel's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapDataError {
    /// The badge is wider than [`Badge::MAX`].
    BadgeTooLarge { badge: u64 },
    /// The guard size is 64 or more bits.
    GuardSizeTooLarge { size: u8 },
    /// The guard does not fit in its size or in the kernel's guard field.
    GuardTooLarge { guard: u64, size: u8 },
}

impl fmt::Display for CapDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapDataError::BadgeTooLarge { badge } => {
                write!(f, "badge {badge:#x} is wider than {:#x}", Badge::MAX)
            }
            CapDataError::GuardSizeTooLarge { size } => {
                write!(f, "guard size {size} is not below 64")
            }
            CapDataError::GuardTooLarge { guard, size } => write!(
                f,
                "guard {guard:#x} does not fit in {size} bits (at most {} bits)",
                kernel::MAX_GUARD_BITS
            ),
        }
    }
}

impl Badge {
    /// The largest badge the kernel keeps.
    pub const MAX: u64 = kernel::MAX_BADGE;
    /// No badge.
    pub const NONE: Badge = Badge(0);

    pub const fn new(badge: u64) -> Result<Badge, CapDataError> {
        if badge > Self::MAX {
            return Err(CapDataError::BadgeTooLarge { badge });
        }
        Ok(Badge(badge))
    }

    pub const fn value(self) -> u64 {
        self.0
    }
}

/// The guard of a CNode capability: `size` bits that must equal `guard` in a CPtr before
/// the CNode's own index bits are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CNodeGuard {
    guard: u64,
    size: u8,
}

impl CNodeGuard {
    pub const fn new(guard: u64, size: u8) -> Result<CNodeGuard, CapDataError> {
        if size >= 64 {
            return Err(CapDataError::GuardSizeTooLarge { size });
        }
        if guard >= 1 << kernel::MAX_GUARD_BITS || guard >> size != 0 {
            return Err(CapDataError::GuardTooLarge { guard, size });
        }
        Ok(CNodeGuard { guard, size })
    }

    pub const fn guard(self) -> u64 {
        self.guard
    }

    pub const fn size(self) -> u8 {
        self.size
    }
}

/// The data of a Mint or Mutate: a badge for endpoint and notification capabilities, a
/// guard for CNode capabilities (other kinds ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapData {
    Badge(Badge),
    Guard(CNodeGuard),
}

impl CapData {
    /// The word the kernel reads.
    pub const fn word(self) -> u64 {
        kernel::cap_data_word(self)
    }
}

impl From<Badge> for CapData {
    fn from(badge: Badge) -> Self {
        CapData::Badge(badge)
    }
}

impl From<CNodeGuard> for CapData {
    fn from(guard: CNodeGuard) -> Self {
        CapData::Guard(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_keep_to_28_bits() {
        assert_eq!(Badge::new(0).unwrap(), Badge::NONE);
        assert_eq!(Badge::new(0x0fff_ffff).unwrap().value(), 0x0fff_ffff);
        assert_eq!(
            Badge::new(0x1000_0000),
            Err(CapDataError::BadgeTooLarge { badge: 0x1000_0000 })
        );
        assert_eq!(Badge::new(u64::MAX), Err(CapDataError::BadgeTooLarge { badge: u64::MAX }));
        // Mint data of a badge has bit 31 clear: it is the badge itself.
        assert_eq!(CapData::from(Badge::new(0x1234).unwrap()).word(), 0x1234);
    }

    #[test]
    fn guards_fit_their_size_and_field() {
        assert!(CNodeGuard::new(0, 0).is_ok());
        assert!(CNodeGuard::new(0b101, 3).is_ok());
        assert_eq!(
            CNodeGuard::new(0b1000, 3),
            Err(CapDataError::GuardTooLarge { guard: 0b1000, size: 3 })
        );
        assert_eq!(
            CNodeGuard::new(1 << 18, 40),
            Err(CapDataError::GuardTooLarge { guard: 1 << 18, size: 40 })
        );
        assert_eq!(CNodeGuard::new(0, 64), Err(CapDataError::GuardSizeTooLarge { size: 64 }));
        let guard = CNodeGuard::new(3, 2).unwrap();
        assert_eq!(CapData::from(guard).word(), (1 << 31) | (3 << 8) | (2 << 2));
    }

    #[test]
    fn rights_combine() {
        assert_eq!(Rights::WRITE.with_grant().word(), 0b101);
        assert_eq!(Rights::default(), Rights::NONE);
        assert_eq!(Rights::ALL.word(), 0b111);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let message = CapDataError::BadgeTooLarge { badge: 1 << 28 }.to_string();
        assert!(message.contains("0x10000000"), "{message}");
    }
}
