//! Unit tests of each rule, on a small realm tree:
//!
//! ```text
//! 0 init ── 1 store (provides "kv")
//!        ├─ 2 app ── 3 plugin ── 4 sandbox
//!        └─ 5 metrics
//! 6 other (top level)
//! ```

use super::*;

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const APP: RealmId = RealmId(2);
const PLUGIN: RealmId = RealmId(3);
const SANDBOX: RealmId = RealmId(4);
const METRICS: RealmId = RealmId(5);
const OTHER: RealmId = RealmId(6);

const PARENTS: [Option<RealmId>; 7] =
    [None, Some(INIT), Some(INIT), Some(APP), Some(PLUGIN), Some(INIT), None];

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn clients(list: &[RealmId]) -> Option<AllowedClients> {
    Some(heapless::Vec::from_slice(list).unwrap())
}

fn policy(grants: &[Grant], services: &[ServiceDecl]) -> Policy {
    Policy::new(&PolicyConfig { parents: &PARENTS, grants, services }).unwrap()
}

fn allowed(rule: Rule) -> Decision {
    Decision::Allowed { rule }
}

fn denied(rule: Rule) -> Decision {
    Decision::Denied { rule }
}

#[test]
fn hierarchy_rules() {
    let p = policy(&[], &[]);
    let kv = name("kv");
    assert_eq!(p.decide_connect(STORE, &kv, STORE), allowed(Rule::SameRealm));
    assert_eq!(p.decide_connect(APP, &kv, INIT), allowed(Rule::ParentService));
    assert_eq!(p.decide_connect(APP, &kv, STORE), denied(Rule::SiblingNeedsGrant));
    assert_eq!(p.decide_connect(INIT, &kv, OTHER), denied(Rule::SiblingNeedsGrant));
    // Only the direct parent's services, and never a child's.
    assert_eq!(p.decide_connect(PLUGIN, &kv, INIT), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(APP, &kv, PLUGIN), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NoRoute));
}

#[test]
fn init_config_grants_open_a_route() {
    let kv = name("kv");
    let p = policy(&[Grant { client: APP, service: kv }], &[]);
    assert_eq!(p.decide_connect(APP, &kv, STORE), allowed(Rule::InitConfigGrant));
    // The grant is for "kv" only.
    assert_eq!(p.decide_connect(APP, &name("db"), STORE), denied(Rule::SiblingNeedsGrant));
}

#[test]
fn parent_grants_delegate_what_the_parent_reaches() {
    let kv = name("kv");
    let mut p = policy(&[Grant { client: APP, service: kv }], &[]);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), allowed(Rule::ParentGrant));
    p.add_grant(SANDBOX, &kv).unwrap();
    assert_eq!(p.decide_connect(SANDBOX, &kv, STORE), allowed(Rule::ParentGrant));
    // Revoking the middle grant cuts off the level below too.
    assert!(p.remove_grant(PLUGIN, &kv));
    assert!(!p.remove_grant(PLUGIN, &kv));
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(SANDBOX, &kv, STORE), denied(Rule::GranterCannotReach));
}

#[test]
fn a_parent_grant_of_something_the_parent_cannot_reach_is_void() {
    let kv = name("kv");
    let mut p = policy(&[], &[]);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::GranterCannotReach));
}

#[test]
fn allowed_clients_restrict_but_never_grant() {
    let kv = name("kv");
    let declaration =
        ServiceDecl { service: kv, provider: Some(STORE), allowed_clients: clients(&[APP, OTHER]) };
    let mut p = policy(&[Grant { client: APP, service: kv }], &[declaration]);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(APP, &kv, STORE), allowed(Rule::InitConfigGrant));
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NotInAllowedClients));
    assert_eq!(p.decide_connect(METRICS, &kv, STORE), denied(Rule::SiblingNeedsGrant));
    // The owner itself is subject to its list too.
    assert_eq!(p.decide_connect(STORE, &kv, STORE), denied(Rule::NotInAllowedClients));
    assert_eq!(p.allowed_clients(&kv), Some(&[APP, OTHER][..]));
    assert_eq!(p.allowed_clients(&name("db")), None);
}

#[test]
fn declared_providers_own_their_names() {
    let kv = name("kv");
    let p = policy(
        &[],
        &[
            ServiceDecl { service: kv, provider: Some(STORE), allowed_clients: None },
            ServiceDecl { service: name("open"), provider: None, allowed_clients: None },
        ],
    );
    assert_eq!(p.decide_register(STORE, &kv), allowed(Rule::DeclaredProvider));
    assert_eq!(p.decide_register(APP, &kv), denied(Rule::NotDeclaredProvider));
    assert_eq!(p.decide_register(APP, &name("open")), allowed(Rule::OpenRegistration));
    assert_eq!(p.decide_register(APP, &name("anything")), allowed(Rule::OpenRegistration));
}

#[test]
fn only_the_parent_may_grant() {
    let p = policy(&[], &[]);
    assert_eq!(p.decide_grant(APP, PLUGIN), allowed(Rule::ParentOfGrantee));
    assert_eq!(p.decide_grant(INIT, PLUGIN), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(STORE, APP), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(PLUGIN, PLUGIN), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(OTHER, INIT), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(RealmId(40), INIT), denied(Rule::NotParent));
}

#[test]
fn runtime_grants_are_bounded_and_idempotent() {
    let mut p = policy(&[], &[]);
    p.add_grant(PLUGIN, &name("kv")).unwrap();
    p.add_grant(PLUGIN, &name("kv")).unwrap();
    assert_eq!(p.runtime_grants().len(), 1);
    for i in 1..MAX_RUNTIME_GRANTS {
        p.add_grant(PLUGIN, &Name::new(&format!("s{i}")).unwrap()).unwrap();
    }
    assert_eq!(p.add_grant(PLUGIN, &name("one-more")), Err(GrantTableFull));
}

fn config_error(
    parents: &[Option<RealmId>],
    grants: &[Grant],
    services: &[ServiceDecl],
) -> ConfigError {
    Policy::new(&PolicyConfig { parents, grants, services }).unwrap_err()
}

#[test]
fn bad_configurations_are_refused_precisely() {
    assert_eq!(
        config_error(&[None, Some(RealmId(5))], &[], &[]),
        ConfigError::UnknownParent { realm: RealmId(1), parent: RealmId(5) }
    );
    assert_eq!(
        config_error(&[Some(RealmId(0))], &[], &[]),
        ConfigError::ParentCycle { realm: RealmId(0) }
    );
    assert_eq!(
        config_error(&[None, Some(RealmId(2)), Some(RealmId(1))], &[], &[]),
        ConfigError::ParentCycle { realm: RealmId(1) }
    );
    assert_eq!(
        config_error(&[None; MAX_REALMS + 1], &[], &[]),
        ConfigError::TooManyRealms { count: MAX_REALMS + 1 }
    );
    let kv = name("kv");
    assert_eq!(
        config_error(&[None], &[Grant { client: RealmId(1), service: kv }], &[]),
        ConfigError::UnknownGrantClient { service: kv, client: RealmId(1) }
    );
    let declaration =
        |provider, allowed_clients| ServiceDecl { service: kv, provider, allowed_clients };
    assert_eq!(
        config_error(&[None], &[], &[declaration(None, None), declaration(None, None)]),
        ConfigError::DuplicateService { service: kv }
    );
    assert_eq!(
        config_error(&[None], &[], &[declaration(Some(RealmId(3)), None)]),
        ConfigError::UnknownProvider { service: kv, provider: RealmId(3) }
    );
    assert_eq!(
        config_error(&[None], &[], &[declaration(None, clients(&[RealmId(0), RealmId(9)]))]),
        ConfigError::UnknownAllowedClient { service: kv, client: RealmId(9) }
    );
}

/// A configuration at every bound of the system description at once: 32 realms, 128 grants,
/// 64 declared services with 16 allowed clients each.
#[test]
fn accepts_the_largest_system_description() {
    let realms = MAX_REALMS;
    let parents: Vec<Option<RealmId>> =
        (0..realms).map(|i| if i == 0 { None } else { Some(RealmId(0)) }).collect();
    let service = |i: usize| Name::new(&format!("service-{i}")).unwrap();
    let grants: Vec<Grant> = (0..MAX_DECLARED_GRANTS)
        .map(|i| Grant { client: RealmId((i % realms) as u8), service: service(i / realms) })
        .collect();
    let declarations: Vec<ServiceDecl> = (0..MAX_DECLARED_SERVICES)
        .map(|i| {
            let list: Vec<RealmId> =
                (0..MAX_ALLOWED_CLIENTS).map(|c| RealmId(((i + c) % realms) as u8)).collect();
            ServiceDecl {
                service: service(i),
                provider: Some(RealmId((i % realms) as u8)),
                allowed_clients: clients(&list),
            }
        })
        .collect();
    let p =
        Policy::new(&PolicyConfig { parents: &parents, grants: &grants, services: &declarations })
            .unwrap();
    assert_eq!(p.realm_count(), realms);
    // Services 0 to 3 are granted to every realm; service-1 is provided by realm 1 and lists
    // realms 1 to 16; service-10 is granted to nobody.
    assert_eq!(
        p.decide_connect(RealmId(5), &service(1), RealmId(1)),
        allowed(Rule::InitConfigGrant)
    );
    assert_eq!(
        p.decide_connect(RealmId(20), &service(1), RealmId(1)),
        denied(Rule::NotInAllowedClients)
    );
    assert_eq!(
        p.decide_connect(RealmId(12), &service(10), RealmId(10)),
        denied(Rule::SiblingNeedsGrant)
    );
    assert_eq!(p.decide_register(RealmId(1), &service(1)), allowed(Rule::DeclaredProvider));
    assert_eq!(p.decide_register(RealmId(2), &service(1)), denied(Rule::NotDeclaredProvider));
    assert_eq!(p.allowed_clients(&service(63)).map(<[RealmId]>::len), Some(16));
    // Kept sorted by name ("service-10" before "service-2"), every declaration is found.
    for i in 0..MAX_DECLARED_SERVICES {
        let declaration = p.declaration(&service(i)).unwrap();
        assert_eq!(declaration.provider, Some(RealmId((i % realms) as u8)));
    }
    assert_eq!(p.declaration(&service(64)), None);
}

#[test]
fn configure_replaces_everything_and_a_refused_configuration_leaves_it_empty() {
    let kv = name("kv");
    let mut p = Policy::empty();
    assert_eq!(p.realm_count(), 0);
    assert_eq!(p.decide_grant(APP, PLUGIN), denied(Rule::NotParent));
    let grants = [Grant { client: APP, service: kv }];
    p.configure(&PolicyConfig { parents: &PARENTS, grants: &grants, services: &[] }).unwrap();
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), allowed(Rule::ParentGrant));
    // Configuring again forgets the run-time grants.
    p.configure(&PolicyConfig { parents: &PARENTS, grants: &grants, services: &[] }).unwrap();
    assert!(p.runtime_grants().is_empty());
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NoRoute));
    let refused = [None, Some(RealmId(1)), Some(RealmId(1))];
    assert_eq!(
        p.configure(&PolicyConfig { parents: &refused, grants: &[], services: &[] }),
        Err(ConfigError::ParentCycle { realm: RealmId(1) })
    );
    assert_eq!(p.realm_count(), 0);
    assert_eq!(p.decide_connect(APP, &kv, STORE), denied(Rule::SiblingNeedsGrant));
}

#[test]
fn a_declared_provider_decides_whether_or_not_the_service_is_registered() {
    let kv = name("kv");
    let declaration = ServiceDecl { service: kv, provider: Some(STORE), allowed_clients: None };
    let p = policy(&[], &[declaration]);
    for registered in [None, Some(STORE)] {
        assert_eq!(p.decide_connect_by_name(APP, &kv, registered), denied(Rule::SiblingNeedsGrant));
        assert_eq!(p.decide_connect_by_name(STORE, &kv, registered), allowed(Rule::SameRealm));
        assert_eq!(p.decide_connect_by_name(OTHER, &kv, registered), denied(Rule::NoRoute));
    }
}

#[test]
fn an_undeclared_service_is_decided_without_its_owner_until_it_is_registered() {
    let log = name("log");
    let mut p = policy(&[Grant { client: METRICS, service: log }], &[]);
    // Not registered: only the grant of the init configuration reaches it.
    assert_eq!(p.decide_connect_by_name(METRICS, &log, None), allowed(Rule::InitConfigGrant));
    assert_eq!(p.decide_connect_by_name(APP, &log, None), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect_by_name(INIT, &log, None), denied(Rule::NoRoute));
    // Registered by init: its child app reaches it. other, init's sibling, is denied as if
    // nothing were registered, not with "siblings need a grant" (which would say by whom).
    assert_eq!(p.decide_connect_by_name(APP, &log, Some(INIT)), allowed(Rule::ParentService));
    assert_eq!(p.decide_connect_by_name(OTHER, &log, Some(INIT)), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(OTHER, &log, INIT), denied(Rule::SiblingNeedsGrant));
    // A run-time grant whose granter reaches it only once it is registered.
    p.add_grant(PLUGIN, &log).unwrap();
    assert_eq!(p.decide_connect_by_name(PLUGIN, &log, Some(INIT)), allowed(Rule::ParentGrant));
    assert_eq!(p.decide_connect_by_name(PLUGIN, &log, None), denied(Rule::GranterCannotReach));
    assert_eq!(
        p.decide_connect_by_name(PLUGIN, &log, Some(OTHER)),
        denied(Rule::GranterCannotReach)
    );
}

#[test]
fn grants_that_could_never_be_used_are_refused() {
    let kv = name("kv");
    let declaration = ServiceDecl {
        service: kv,
        provider: Some(STORE),
        allowed_clients: clients(&[APP, PLUGIN]),
    };
    let mut p = policy(&[Grant { client: INIT, service: kv }], &[declaration]);
    // init reaches kv by its grant and may pass it on to app, on the list, but not metrics.
    assert_eq!(p.decide_grant_of_service(INIT, APP, &kv, None), allowed(Rule::ParentOfGrantee));
    assert_eq!(
        p.decide_grant_of_service(INIT, METRICS, &kv, Some(STORE)),
        denied(Rule::GranteeNotInAllowedClients)
    );
    // app cannot reach kv until init grants it: it has nothing to pass on to plugin.
    assert_eq!(
        p.decide_grant_of_service(APP, PLUGIN, &kv, None),
        denied(Rule::GranterDoesNotReach)
    );
    p.add_grant(APP, &kv).unwrap();
    assert_eq!(p.decide_grant_of_service(APP, PLUGIN, &kv, None), allowed(Rule::ParentOfGrantee));
    // Not the parent: refused first, whatever else holds.
    assert_eq!(p.decide_grant_of_service(INIT, PLUGIN, &kv, None), denied(Rule::NotParent));
    // An undeclared service: the granter must reach it, which takes its being registered.
    let db = name("db");
    assert_eq!(p.decide_grant_of_service(INIT, APP, &db, None), denied(Rule::GranterDoesNotReach));
    assert_eq!(
        p.decide_grant_of_service(INIT, APP, &db, Some(INIT)),
        allowed(Rule::ParentOfGrantee)
    );
    assert_eq!(
        p.decide_grant_of_service(INIT, APP, &db, Some(STORE)),
        denied(Rule::GranterDoesNotReach)
    );
}
