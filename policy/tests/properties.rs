//! Property tests: the policy agrees with a direct, recursive reading of the rules on random
//! realm trees, declared services (with their providers and allowed-clients lists), grants
//! of the system description and run-time grants; every decision's rule matches its verdict;
//! a connect decided before looking denies the same whether or not (and by whom) the service
//! is registered; grants that could never be used are refused; and the checker the policy
//! relies on accepts exactly the realm descriptions that form one acyclic tree.
//!
//! Each random world is written as `system.toml` text and checked by `system_config::parse`
//! (the rule engine the boot check runs too): the policy only ever sees checked
//! configurations.

use ipc::{Name, RealmId};
use policy::{Decision, Policy, Rule};
use proptest::prelude::*;
use system_config::CheckedConfig;

/// Services `s0` to `s2` are declared (`[[service]]`, with a provider); `u0` to `u2` are not.
const DECLARED: u8 = 3;
const SERVICES: u8 = 2 * DECLARED;

fn service(n: u8) -> Name {
    if n < DECLARED {
        Name::new(&format!("s{n}")).unwrap()
    } else {
        Name::new(&format!("u{}", n - DECLARED)).unwrap()
    }
}

fn realm_name(realm: RealmId) -> String {
    format!("r{}", realm.0)
}

/// A random tree: realm 0 is the root, realm i's parent a lower-numbered realm.
fn tree() -> impl Strategy<Value = Vec<Option<RealmId>>> {
    (2usize..9).prop_flat_map(|count| {
        (0..count)
            .map(|i| {
                if i == 0 {
                    Just(None).boxed()
                } else {
                    (0..i as u8).prop_map(|p| Some(RealmId(p))).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

#[derive(Debug, Clone)]
struct World {
    parents: Vec<Option<RealmId>>,
    /// The provider of each declared service.
    providers: Vec<RealmId>,
    /// The allowed-clients list of each declared service (no repeats), if it has one.
    lists: Vec<Option<Vec<RealmId>>>,
    /// `[[grant]]`s: of declared services, to listed clients, no repeats.
    static_grants: Vec<(RealmId, u8)>,
    runtime_grants: Vec<(RealmId, u8)>,
}

fn world() -> impl Strategy<Value = World> {
    tree().prop_flat_map(|parents| {
        let realms = parents.len() as u8;
        let realm = move || (0..realms).prop_map(RealmId);
        let list = proptest::option::of(proptest::collection::vec(realm(), 0..4));
        (
            Just(parents),
            proptest::collection::vec(realm(), DECLARED as usize),
            proptest::collection::vec(list, DECLARED as usize),
            proptest::collection::vec((realm(), 0..DECLARED), 0..5),
            proptest::collection::vec((realm(), 0..SERVICES), 0..8),
        )
            .prop_map(
                |(parents, providers, mut lists, mut static_grants, runtime_grants)| {
                    for list in lists.iter_mut().flatten() {
                        list.sort();
                        list.dedup();
                    }
                    // A grant never contradicts its service's list (the checker refuses that).
                    static_grants.retain(|&(client, s)| {
                        lists[s as usize].as_ref().is_none_or(|list| list.contains(&client))
                    });
                    static_grants.sort();
                    static_grants.dedup();
                    World { parents, providers, lists, static_grants, runtime_grants }
                },
            )
    })
}

impl World {
    fn parent(&self, realm: RealmId) -> Option<RealmId> {
        self.parents[realm.0 as usize]
    }

    fn provider(&self, s: u8) -> Option<RealmId> {
        self.providers.get(s as usize).copied()
    }

    /// The rules of reach, read literally (recursion instead of the policy's loop).
    fn reaches(&self, realm: RealmId, s: u8, owner: RealmId) -> bool {
        realm == owner
            || self.parent(realm) == Some(owner)
            || self.static_grants.contains(&(realm, s))
            || (self.runtime_grants.contains(&(realm, s))
                && self.parent(realm).is_some_and(|p| self.reaches(p, s, owner)))
    }

    /// Reach with no owner known: only grants of the system description, directly or at the
    /// top of a chain of run-time grants.
    fn reaches_without_owner(&self, realm: RealmId, s: u8) -> bool {
        self.static_grants.contains(&(realm, s))
            || (self.runtime_grants.contains(&(realm, s))
                && self.parent(realm).is_some_and(|p| self.reaches_without_owner(p, s)))
    }

    fn listed(&self, client: RealmId, s: u8) -> bool {
        self.lists
            .get(s as usize)
            .and_then(Option::as_ref)
            .is_none_or(|list| list.contains(&client))
    }

    fn may_connect(&self, client: RealmId, s: u8, owner: RealmId) -> bool {
        self.reaches(client, s, owner) && self.listed(client, s)
    }

    /// The world as `system.toml`, checked.
    fn config(&self) -> CheckedConfig {
        let mut text = String::new();
        for (index, parent) in self.parents.iter().enumerate() {
            let name = realm_name(RealmId(index as u8));
            text += &format!("[[realm]]\nname = \"{name}\"\nprogram = \"p\"\n");
            if let Some(parent) = parent {
                text += &format!("parent = \"{}\"\n", realm_name(*parent));
            }
            text += "priority = 100\nmemory = \"1 MiB\"\n";
        }
        for s in 0..DECLARED {
            let provider = realm_name(self.providers[s as usize]);
            text += &format!("[[service]]\nname = \"{}\"\nrealm = \"{provider}\"\n", service(s));
            if let Some(list) = &self.lists[s as usize] {
                let names: Vec<String> =
                    list.iter().map(|&r| format!("\"{}\"", realm_name(r))).collect();
                text += &format!("allowed_clients = [{}]\n", names.join(", "));
            }
        }
        for &(client, s) in &self.static_grants {
            text += &format!(
                "[[grant]]\nclient = \"{}\"\nservice = \"{}\"\n",
                realm_name(client),
                service(s)
            );
        }
        system_config::parse("system.toml", &text, &["p"])
            .unwrap_or_else(|errors| panic!("{errors:?}\n{text}"))
    }

    fn policy<'c>(&self, config: &'c CheckedConfig) -> Policy<'c> {
        let mut policy = Policy::new(config);
        for &(client, s) in &self.runtime_grants {
            policy.add_grant(client, &service(s)).unwrap();
        }
        policy
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn connect_decisions_match_the_rules(world in world()) {
        let config = world.config();
        let policy = world.policy(&config);
        let realms = world.parents.len() as u8;
        for client in (0..realms).map(RealmId) {
            for owner in (0..realms).map(RealmId) {
                for s in 0..SERVICES {
                    let decision = policy.decide_connect(client, &service(s), owner);
                    prop_assert_eq!(
                        decision.is_allowed(),
                        world.may_connect(client, s, owner),
                        "{:?} -> {} of {:?}: {:?}", client, service(s), owner, decision
                    );
                    prop_assert_eq!(decision.rule().allows(), decision.is_allowed());
                    match decision {
                        Decision::Denied { rule: Rule::NotInAllowedClients } => {
                            prop_assert!(world.reaches(client, s, owner));
                        }
                        Decision::Denied { rule: Rule::GranterCannotReach } |
                        Decision::Allowed { rule: Rule::ParentGrant } => {
                            prop_assert!(world.runtime_grants.contains(&(client, s)));
                        }
                        Decision::Denied { rule: Rule::SiblingNeedsGrant } => {
                            prop_assert_eq!(world.parent(client), world.parent(owner));
                        }
                        Decision::Allowed { rule: Rule::InitConfigGrant } => {
                            prop_assert!(world.static_grants.contains(&(client, s)));
                        }
                        Decision::Allowed { rule: Rule::ParentService } => {
                            prop_assert_eq!(world.parent(client), Some(owner));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Decided before looking: a declared service is decided with its provider, whoever
    /// registered it and whether anyone did; an undeclared one is allowed exactly when the
    /// rules allow it with the registered owner, or without any owner; and a denial is the
    /// same whoever registered the service, and whether anyone did.
    #[test]
    fn a_denial_never_tells_whether_or_by_whom_a_service_is_registered(world in world()) {
        let config = world.config();
        let policy = world.policy(&config);
        let realms = world.parents.len() as u8;
        for client in (0..realms).map(RealmId) {
            for s in 0..SERVICES {
                let unregistered = policy.decide_connect_by_name(client, &service(s), None);
                let provider = world.provider(s);
                let expected = match provider {
                    Some(provider) => world.may_connect(client, s, provider),
                    None => world.reaches_without_owner(client, s) && world.listed(client, s),
                };
                prop_assert_eq!(unregistered.is_allowed(), expected);
                if provider.is_none() {
                    prop_assert_ne!(unregistered.rule(), Rule::SiblingNeedsGrant);
                }
                for owner in (0..realms).map(RealmId) {
                    let decision = policy.decide_connect_by_name(client, &service(s), Some(owner));
                    let decided_by = provider.unwrap_or(owner);
                    prop_assert_eq!(decision.is_allowed(), world.may_connect(client, s, decided_by));
                    if !decision.is_allowed() {
                        prop_assert_eq!(decision, unregistered);
                    }
                    let reach = policy.decide_reach_by_name(client, &service(s), Some(owner));
                    prop_assert_eq!(reach.is_allowed(), world.reaches(client, s, decided_by));
                }
            }
        }
    }

    /// A grant is accepted exactly when the granter is the grantee's parent, reaches the
    /// service itself, and the service's list (if any) accepts the grantee.
    #[test]
    fn grants_that_could_never_be_used_are_refused(world in world()) {
        let config = world.config();
        let policy = world.policy(&config);
        let realms = world.parents.len() as u8;
        let owners = std::iter::once(None).chain((0..realms).map(|o| Some(RealmId(o))));
        for registered in owners {
            for granter in (0..realms).map(RealmId) {
                for grantee in (0..realms).map(RealmId) {
                    for s in 0..SERVICES {
                        let decision =
                            policy.decide_grant_of_service(granter, grantee, &service(s), registered);
                        let parent = world.parent(grantee) == Some(granter);
                        let reaches = match (world.provider(s), registered) {
                            (Some(provider), _) => world.reaches(granter, s, provider),
                            (None, Some(owner)) => world.reaches(granter, s, owner),
                            (None, None) => world.reaches_without_owner(granter, s),
                        };
                        let expected = if !parent {
                            Decision::Denied { rule: Rule::NotParent }
                        } else if !reaches {
                            Decision::Denied { rule: Rule::GranterDoesNotReach }
                        } else if !world.listed(grantee, s) {
                            Decision::Denied { rule: Rule::GranteeNotInAllowedClients }
                        } else {
                            Decision::Allowed { rule: Rule::ParentOfGrantee }
                        };
                        prop_assert_eq!(decision, expected);
                    }
                }
            }
        }
    }

    #[test]
    fn only_parents_may_grant(world in world()) {
        let config = world.config();
        let policy = world.policy(&config);
        let realms = world.parents.len() as u8;
        for granter in (0..realms).map(RealmId) {
            for grantee in (0..realms).map(RealmId) {
                let decision = policy.decide_grant(granter, grantee);
                prop_assert_eq!(decision.is_allowed(), world.parent(grantee) == Some(granter));
            }
        }
    }

    /// The checker the policy relies on accepts a realm description exactly when every
    /// parent is a realm, no realm is its own ancestor and exactly one realm has no parent
    /// (several top-level realms are `multiple-root-realms`).
    #[test]
    fn only_acyclic_trees_with_one_root_are_accepted(
        parents in proptest::collection::vec(proptest::option::of(0u8..6), 1..6)
    ) {
        let acyclic_and_known = (0..parents.len()).all(|start| {
            let mut current = Some(start);
            for _ in 0..=parents.len() {
                current = match current {
                    None => return true,
                    Some(i) if i >= parents.len() => return false,
                    Some(i) => parents[i].map(usize::from),
                };
            }
            false
        });
        let roots = parents.iter().filter(|p| p.is_none()).count();
        let mut text = String::new();
        for (index, parent) in parents.iter().enumerate() {
            text += &format!("[[realm]]\nname = \"r{index}\"\nprogram = \"p\"\n");
            if let Some(parent) = parent {
                text += &format!("parent = \"r{parent}\"\n");
            }
            text += "priority = 100\nmemory = \"1 MiB\"\n";
        }
        let result = system_config::parse("system.toml", &text, &["p"]);
        prop_assert_eq!(result.is_ok(), acyclic_and_known && roots == 1, "{:?}", result.err());
        if let Err(errors) = result
            && acyclic_and_known
            && roots > 1
        {
            prop_assert!(errors.iter().any(|e| e.rule == system_config::Rule::MultipleRootRealms));
        }
    }
}
