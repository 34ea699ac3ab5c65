//! The identity of a typed interface, as `register` declares it and `connect` checks it.

use core::fmt;

use crate::name::Name;

/// A typed interface's identity: its name (the one name rule) and a fingerprint derived from
/// its whole definition (operation names, numbers, argument and result types, idempotence),
/// computed when the interface is compiled (the `interface` crate). Two builds of the same
/// definition have the same fingerprint; any change to the definition changes it.
///
/// A service registered with an identity is connected to only by clients built against the
/// same identity: another name or another fingerprint is refused at connect with
/// `InterfaceMismatch`, before any call can send words the service would misread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InterfaceId {
    pub name: Name,
    pub fingerprint: u64,
}

impl fmt::Display for InterfaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interface \"{}\" (fingerprint {:016x})", self.name, self.fingerprint)
    }
}
