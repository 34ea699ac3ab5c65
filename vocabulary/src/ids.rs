//! The ids of realms and declared services: small indices, never names.

use core::fmt;

/// A realm, by its index in the system description's realm list, which is also its index in
/// the memory manager's realm table and the payload of its realm badge (`ipc::Badge`).
///
/// Realms are stored parents first: the root is always [`RealmId::ROOT`], and every other
/// realm's parent has a smaller index than the realm itself. Below
/// [`limits::MAX_REALMS`](crate::limits::MAX_REALMS) in a checked system. The broker learns a
/// caller's id from the badge the kernel delivered, never from a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RealmId(pub u8);

impl RealmId {
    /// The root of the realm tree (the realm without a parent).
    pub const ROOT: RealmId = RealmId(0);

    /// This id as an index into the realm list.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for RealmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "realm #{}", self.0)
    }
}

/// A service **declared** in `system.toml`, by its index in the description's service list
/// (file order); below [`limits::MAX_DECLARED_SERVICES`](crate::limits::MAX_DECLARED_SERVICES).
///
/// This is the only service id there is: a service registered at run time is known by its
/// [`Name`](crate::Name) (the registry adds a generation to tell one registration of a name
/// from the next), whether or not the description declares it. Grants refer to declared
/// services by this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServiceId(pub u8);

impl ServiceId {
    /// This id as an index into the service list.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service #{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_and_print() {
        assert_eq!(RealmId::ROOT, RealmId(0));
        assert_eq!(RealmId(7).index(), 7);
        assert_eq!(RealmId(7).to_string(), "realm #7");
        assert_eq!(ServiceId(3).index(), 3);
        assert_eq!(ServiceId(3).to_string(), "service #3");
    }
}
