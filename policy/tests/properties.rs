//! Property tests: the policy agrees with a direct, recursive reading of the rules on random
//! realm trees, grants and allowed-clients lists; every decision's rule matches its verdict;
//! a connect decided before looking denies the same whether or not (and by whom) the service
//! is registered; grants that could never be used are refused; and only acyclic realm trees
//! are accepted.

use ipc::{Name, RealmId};
use policy::{AllowedClients, Decision, Grant, Policy, PolicyConfig, Rule, ServiceDecl};
use proptest::prelude::*;

const SERVICES: u8 = 3;

fn service(n: u8) -> Name {
    Name::new(&format!("s{n}")).unwrap()
}

/// A random forest: realm i's parent is a lower-numbered realm or none.
fn forest() -> impl Strategy<Value = Vec<Option<RealmId>>> {
    (2usize..9).prop_flat_map(|count| {
        (0..count)
            .map(|i| {
                if i == 0 {
                    Just(None).boxed()
                } else {
                    proptest::option::weighted(0.8, (0..i as u8).prop_map(RealmId)).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

#[derive(Debug, Clone)]
struct World {
    parents: Vec<Option<RealmId>>,
    static_grants: Vec<Grant>,
    runtime_grants: Vec<Grant>,
    lists: Vec<Option<Vec<RealmId>>>,
}

fn world() -> impl Strategy<Value = World> {
    forest().prop_flat_map(|parents| {
        let realms = parents.len() as u8;
        let grant = move || {
            (0..realms, 0..SERVICES)
                .prop_map(|(client, s)| Grant { client: RealmId(client), service: service(s) })
        };
        let list =
            proptest::option::of(proptest::collection::vec((0..realms).prop_map(RealmId), 0..4));
        (
            Just(parents),
            proptest::collection::vec(grant(), 0..5),
            proptest::collection::vec(grant(), 0..8),
            proptest::collection::vec(list, SERVICES as usize),
        )
            .prop_map(|(parents, static_grants, runtime_grants, lists)| World {
                parents,
                static_grants,
                runtime_grants,
                lists,
            })
    })
}

impl World {
    fn parent(&self, realm: RealmId) -> Option<RealmId> {
        self.parents[realm.0 as usize]
    }

    /// The rules of reach, read literally (recursion instead of the policy's loop).
    fn reaches(&self, realm: RealmId, s: u8, owner: RealmId) -> bool {
        let grant = Grant { client: realm, service: service(s) };
        realm == owner
            || self.parent(realm) == Some(owner)
            || self.static_grants.contains(&grant)
            || (self.runtime_grants.contains(&grant)
                && self.parent(realm).is_some_and(|p| self.reaches(p, s, owner)))
    }

    /// Reach with no owner known: only grants of the init configuration, directly or at the
    /// top of a chain of run-time grants.
    fn reaches_without_owner(&self, realm: RealmId, s: u8) -> bool {
        let grant = Grant { client: realm, service: service(s) };
        self.static_grants.contains(&grant)
            || (self.runtime_grants.contains(&grant)
                && self.parent(realm).is_some_and(|p| self.reaches_without_owner(p, s)))
    }

    fn listed(&self, client: RealmId, s: u8) -> bool {
        self.lists[s as usize].as_ref().is_none_or(|list| list.contains(&client))
    }

    fn may_connect(&self, client: RealmId, s: u8, owner: RealmId) -> bool {
        self.reaches(client, s, owner)
            && self.lists[s as usize].as_ref().is_none_or(|list| list.contains(&client))
    }

    fn policy(&self) -> Policy {
        let declarations: Vec<ServiceDecl> = (0..SERVICES)
            .map(|s| ServiceDecl {
                service: service(s),
                provider: None,
                allowed_clients: self.lists[s as usize]
                    .as_ref()
                    .map(|list| AllowedClients::from_slice(list).unwrap()),
            })
            .collect();
        let mut policy = Policy::new(&PolicyConfig {
            parents: &self.parents,
            grants: &self.static_grants,
            services: &declarations,
        })
        .unwrap();
        for grant in &self.runtime_grants {
            policy.add_grant(grant.client, &grant.service).unwrap();
        }
        policy
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn connect_decisions_match_the_rules(world in world()) {
        let policy = world.policy();
        let realms = world.parents.len() as u8;
        for client in (0..realms).map(RealmId) {
            for owner in (0..realms).map(RealmId) {
                for s in 0..SERVICES {
                    let decision = policy.decide_connect(client, &service(s), owner);
                    prop_assert_eq!(
                        decision.is_allowed(),
                        world.may_connect(client, s, owner),
                        "{:?} -> s{} of {:?}: {:?}", client, s, owner, decision
                    );
                    prop_assert_eq!(decision.rule().allows(), decision.is_allowed());
                    let grant = Grant { client, service: service(s) };
                    match decision {
                        Decision::Denied { rule: Rule::NotInAllowedClients } => {
                            prop_assert!(world.reaches(client, s, owner));
                        }
                        Decision::Denied { rule: Rule::GranterCannotReach } |
                        Decision::Allowed { rule: Rule::ParentGrant } => {
                            prop_assert!(world.runtime_grants.contains(&grant));
                        }
                        Decision::Denied { rule: Rule::SiblingNeedsGrant } => {
                            prop_assert_eq!(world.parent(client), world.parent(owner));
                        }
                        Decision::Allowed { rule: Rule::InitConfigGrant } => {
                            prop_assert!(world.static_grants.contains(&grant));
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

    /// Decided before looking (no service here has a declared provider): allowed exactly
    /// when the rules allow it with the registered owner, or without any owner; and a denial
    /// is the same whoever registered the service, and whether anyone did.
    #[test]
    fn a_denial_never_tells_whether_or_by_whom_a_service_is_registered(world in world()) {
        let policy = world.policy();
        let realms = world.parents.len() as u8;
        for client in (0..realms).map(RealmId) {
            for s in 0..SERVICES {
                let unregistered = policy.decide_connect_by_name(client, &service(s), None);
                prop_assert_eq!(
                    unregistered.is_allowed(),
                    world.reaches_without_owner(client, s) && world.listed(client, s)
                );
                prop_assert_ne!(unregistered.rule(), Rule::SiblingNeedsGrant);
                for owner in (0..realms).map(RealmId) {
                    let decision = policy.decide_connect_by_name(client, &service(s), Some(owner));
                    prop_assert_eq!(decision.is_allowed(), world.may_connect(client, s, owner));
                    if !decision.is_allowed() {
                        prop_assert_eq!(decision, unregistered);
                    }
                    let reach = policy.decide_reach_by_name(client, &service(s), Some(owner));
                    prop_assert_eq!(reach.is_allowed(), world.reaches(client, s, owner));
                }
            }
        }
    }

    /// A grant is accepted exactly when the granter is the grantee's parent, reaches the
    /// service itself, and the service's list (if any) accepts the grantee.
    #[test]
    fn grants_that_could_never_be_used_are_refused(world in world()) {
        let policy = world.policy();
        let realms = world.parents.len() as u8;
        let owners = std::iter::once(None).chain((0..realms).map(|o| Some(RealmId(o))));
        for registered in owners {
            for granter in (0..realms).map(RealmId) {
                for grantee in (0..realms).map(RealmId) {
                    for s in 0..SERVICES {
                        let decision =
                            policy.decide_grant_of_service(granter, grantee, &service(s), registered);
                        let parent = world.parent(grantee) == Some(granter);
                        let reaches = match registered {
                            Some(owner) => world.reaches(granter, s, owner),
                            None => world.reaches_without_owner(granter, s),
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
        let policy = world.policy();
        let realms = world.parents.len() as u8;
        for granter in (0..realms).map(RealmId) {
            for grantee in (0..realms).map(RealmId) {
                let decision = policy.decide_grant(granter, grantee);
                prop_assert_eq!(decision.is_allowed(), world.parent(grantee) == Some(granter));
            }
        }
    }

    #[test]
    fn only_acyclic_trees_are_accepted(
        parents in proptest::collection::vec(proptest::option::of(0u8..6), 1..6)
    ) {
        let parents: Vec<Option<RealmId>> = parents.into_iter().map(|p| p.map(RealmId)).collect();
        let acyclic_and_known = (0..parents.len()).all(|start| {
            let mut current = Some(start);
            for _ in 0..=parents.len() {
                current = match current {
                    None => return true,
                    Some(i) if i >= parents.len() => return false,
                    Some(i) => parents[i].map(|p| p.0 as usize),
                };
            }
            false
        });
        let result = Policy::new(&PolicyConfig { parents: &parents, grants: &[], services: &[] });
        prop_assert_eq!(result.is_ok(), acyclic_and_known, "{:?}", result.err());
    }
}
