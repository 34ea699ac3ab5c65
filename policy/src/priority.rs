//! Priority inversion at connect time: a pure decision on the realms' seL4 priorities, which
//! the policy reads from the system description (`[[realm]] priority`).
//!
//! seL4 5.0.0 (without MCS) runs a service's thread at its own priority while it answers a
//! call, so a client above the provider waits while every ready realm between the two
//! priorities runs. The system description's check refuses such clients where it can see
//! them (a `[[grant]]`, an `allowed_clients` entry) unless the service sets
//! `allow_priority_inversion`. What only the run time decides (a parent's run-time grant, and
//! the hierarchy) is not refused: the broker logs a warning naming both priorities, and this
//! module decides when.

use ipc::{RealmId, Rule};

use crate::Policy;

/// A connect whose client runs above the service's provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inversion {
    pub client_priority: u8,
    pub provider_priority: u8,
}

impl Policy<'_> {
    /// The seL4 priority of `realm` (its `[[realm]] priority`), if the realm exists.
    pub fn priority(&self, realm: RealmId) -> Option<u8> {
        Some(self.config()?.realm(realm)?.priority)
    }

    /// Whether an allowed connect of `client` to a service of `provider`, allowed by `rule`,
    /// is a priority inversion to warn about: the client runs above the provider, and the
    /// system description's check did not see it (a connect by [`Rule::InitConfigGrant`] was
    /// checked at build time and at boot, and accepted by the service's
    /// `allow_priority_inversion`). Unknown realms (and an unconfigured policy) are no
    /// inversion.
    pub fn inversion(&self, client: RealmId, provider: RealmId, rule: Rule) -> Option<Inversion> {
        if rule == Rule::InitConfigGrant {
            return None;
        }
        let (client_priority, provider_priority) =
            (self.priority(client)?, self.priority(provider)?);
        (client_priority > provider_priority)
            .then_some(Inversion { client_priority, provider_priority })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use system_config::CheckedConfig;

    const HIGH: RealmId = RealmId(0);
    const LOW: RealmId = RealmId(1);

    /// Realm 0 at 150, realms 1 and 2 at 120.
    fn config() -> CheckedConfig {
        let text = r#"
            [[realm]]
            name = "high"
            program = "p"
            priority = 150
            memory = "64 KiB"
            [[realm]]
            name = "low"
            program = "p"
            parent = "high"
            priority = 120
            memory = "64 KiB"
            [[realm]]
            name = "low-too"
            program = "p"
            parent = "high"
            priority = 120
            memory = "64 KiB"
        "#;
        system_config::parse("system.toml", text, &["p"]).unwrap()
    }

    #[test]
    fn a_client_above_its_provider_by_a_run_time_decision_is_an_inversion() {
        let config = config();
        let policy = Policy::new(&config);
        let inversion = Inversion { client_priority: 150, provider_priority: 120 };
        for rule in [Rule::ParentGrant, Rule::ParentService, Rule::SameRealm] {
            assert_eq!(policy.inversion(HIGH, LOW, rule), Some(inversion), "{rule:?}");
        }
    }

    #[test]
    fn equal_or_lower_clients_static_grants_and_unknown_realms_are_not() {
        let config = config();
        let policy = Policy::new(&config);
        assert_eq!(policy.inversion(LOW, HIGH, Rule::ParentGrant), None);
        assert_eq!(policy.inversion(LOW, RealmId(2), Rule::ParentGrant), None);
        assert_eq!(policy.inversion(HIGH, LOW, Rule::InitConfigGrant), None);
        assert_eq!(policy.inversion(RealmId(9), LOW, Rule::ParentGrant), None);
        assert_eq!(Policy::empty().inversion(HIGH, LOW, Rule::ParentGrant), None);
    }

    #[test]
    fn priorities_are_the_configurations_and_go_with_it() {
        let config = config();
        let mut policy = Policy::new(&config);
        assert_eq!(policy.priority(HIGH), Some(150));
        assert_eq!(policy.priority(LOW), Some(120));
        assert_eq!(policy.priority(RealmId(3)), None);
        policy.clear();
        assert_eq!(policy.priority(HIGH), None);
    }
}
