//! Priority inversion at connect time: a pure decision on the realms' seL4 priorities.
//!
//! seL4 5.0.0 (without MCS) runs a service's thread at its own priority while it answers a
//! call, so a client above the provider waits while every ready realm between the two
//! priorities runs. The system description's check refuses such clients where it can see
//! them (a `[[grant]]`, an `allowed_clients` entry) unless the service sets
//! `allow_priority_inversion`. What only the run time decides (a parent's run-time grant, and
//! the hierarchy) is not refused: the broker logs a warning naming both priorities, and this
//! module decides when.

use ipc::{RealmId, Rule};

use vocabulary::limits::MAX_REALMS;

use crate::ConfigError;

/// A connect whose client runs above the service's provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inversion {
    pub client_priority: u8,
    pub provider_priority: u8,
}

/// The realms' priorities, indexed by realm id. Empty (no realm known) until
/// [`Priorities::set`]: then no connect is an inversion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Priorities {
    by_realm: heapless::Vec<u8, MAX_REALMS>,
}

impl Priorities {
    /// No priorities: nothing is an inversion. `const`, for statics.
    pub const fn empty() -> Self {
        Self { by_realm: heapless::Vec::new() }
    }

    /// Takes `priorities[i]` as the priority of realm `i`. If there are more than
    /// [`MAX_REALMS`], nothing is taken.
    pub fn set(&mut self, priorities: &[u8]) -> Result<(), ConfigError> {
        self.by_realm.clear();
        self.by_realm
            .extend_from_slice(priorities)
            .map_err(|_| ConfigError::TooManyRealms { count: priorities.len() })
    }

    /// Forgets every priority.
    pub fn clear(&mut self) {
        self.by_realm.clear();
    }

    /// The priority of `realm`, if known.
    pub fn of(&self, realm: RealmId) -> Option<u8> {
        self.by_realm.get(usize::from(realm.0)).copied()
    }

    /// Whether an allowed connect of `client` to a service of `provider`, allowed by `rule`,
    /// is a priority inversion to warn about: the client runs above the provider, and the
    /// system description's check did not see it (a connect by [`Rule::InitConfigGrant`] was
    /// checked at build time and at boot, and accepted by the service's
    /// `allow_priority_inversion`). Unknown realms are no inversion.
    pub fn inversion(&self, client: RealmId, provider: RealmId, rule: Rule) -> Option<Inversion> {
        if rule == Rule::InitConfigGrant {
            return None;
        }
        let (client_priority, provider_priority) = (self.of(client)?, self.of(provider)?);
        (client_priority > provider_priority)
            .then_some(Inversion { client_priority, provider_priority })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIGH: RealmId = RealmId(0);
    const LOW: RealmId = RealmId(1);

    fn priorities() -> Priorities {
        let mut priorities = Priorities::empty();
        priorities.set(&[150, 120, 120]).unwrap();
        priorities
    }

    #[test]
    fn a_client_above_its_provider_by_a_run_time_decision_is_an_inversion() {
        let inversion = Inversion { client_priority: 150, provider_priority: 120 };
        for rule in [Rule::ParentGrant, Rule::ParentService, Rule::SameRealm] {
            assert_eq!(priorities().inversion(HIGH, LOW, rule), Some(inversion), "{rule:?}");
        }
    }

    #[test]
    fn equal_or_lower_clients_static_grants_and_unknown_realms_are_not() {
        let priorities = priorities();
        assert_eq!(priorities.inversion(LOW, HIGH, Rule::ParentGrant), None);
        assert_eq!(priorities.inversion(LOW, RealmId(2), Rule::ParentGrant), None);
        assert_eq!(priorities.inversion(HIGH, LOW, Rule::InitConfigGrant), None);
        assert_eq!(priorities.inversion(RealmId(9), LOW, Rule::ParentGrant), None);
        assert_eq!(Priorities::empty().inversion(HIGH, LOW, Rule::ParentGrant), None);
    }

    #[test]
    fn too_many_priorities_are_refused_and_leave_none() {
        let mut priorities = priorities();
        let refused = priorities.set(&[1; MAX_REALMS + 1]);
        assert_eq!(refused, Err(ConfigError::TooManyRealms { count: MAX_REALMS + 1 }));
        assert_eq!(priorities.of(HIGH), None);
    }
}
