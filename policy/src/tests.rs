//! Unit tests of each rule, on a small realm tree, written as `system.toml` text and checked
//! by `system_config::parse` (the rule engine the boot check runs too):
//!
//! ```text
//! 0 init ── 1 store (provides "kv")
//!        ├─ 2 app ── 3 plugin ── 4 sandbox
//!        └─ 5 metrics
//! ```

use super::*;
use system_config::Rule as ConfigRule;
use vocabulary::limits::{
    MAX_ALLOWED_CLIENTS, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_REALMS,
};

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const APP: RealmId = RealmId(2);
const PLUGIN: RealmId = RealmId(3);
const SANDBOX: RealmId = RealmId(4);
const METRICS: RealmId = RealmId(5);

const REALMS: [(&str, Option<&str>); 6] = [
    ("init", None),
    ("store", Some("init")),
    ("app", Some("init")),
    ("plugin", Some("app")),
    ("sandbox", Some("plugin")),
    ("metrics", Some("init")),
];

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

/// One `[[realm]]` table (every realm at priority 100, 1 MiB).
fn realm_toml(name: &str, parent: Option<&str>) -> String {
    let parent = parent.map_or(String::new(), |parent| format!("parent = \"{parent}\"\n"));
    format!(
        "[[realm]]\nname = \"{name}\"\nprogram = \"p\"\n{parent}priority = 100\nmemory = \"1 MiB\"\n"
    )
}

/// The test tree plus `extra` (`[[service]]` and `[[grant]]` tables), parsed and checked.
fn config(extra: &str) -> system_config::CheckedConfig {
    let mut text: String = REALMS.iter().map(|&(name, parent)| realm_toml(name, parent)).collect();
    text.push_str(extra);
    parse(&text).unwrap_or_else(|errors| panic!("{errors:?}\n{text}"))
}

fn parse(text: &str) -> Result<system_config::CheckedConfig, Vec<system_config::ConfigError>> {
    system_config::parse("system.toml", text, &["p"])
}

/// `kv`, provided by store, with these extra lines (`allowed_clients = [...]`).
const KV: &str = "[[service]]\nname = \"kv\"\nrealm = \"store\"\n";

fn grant(client: &str, service: &str) -> String {
    format!("[[grant]]\nclient = \"{client}\"\nservice = \"{service}\"\n")
}

fn allowed(rule: Rule) -> Decision {
    Decision::Allowed { rule }
}

fn denied(rule: Rule) -> Decision {
    Decision::Denied { rule }
}

#[test]
fn hierarchy_rules() {
    let c = config("");
    let p = Policy::new(&c);
    let kv = name("kv");
    assert_eq!(p.decide_connect(STORE, &kv, STORE), allowed(Rule::SameRealm));
    assert_eq!(p.decide_connect(APP, &kv, INIT), allowed(Rule::ParentService));
    assert_eq!(p.decide_connect(APP, &kv, STORE), denied(Rule::SiblingNeedsGrant));
    assert_eq!(p.decide_connect(METRICS, &kv, STORE), denied(Rule::SiblingNeedsGrant));
    // Only the direct parent's services, and never a child's.
    assert_eq!(p.decide_connect(PLUGIN, &kv, INIT), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(APP, &kv, PLUGIN), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NoRoute));
}

/// Two top-level realms (which the policy once treated as siblings) are no system: the
/// checker refuses them, so the policy only ever sees one tree.
#[test]
fn a_second_top_level_realm_is_refused_by_the_checker() {
    let mut text: String = REALMS.iter().map(|&(name, parent)| realm_toml(name, parent)).collect();
    text.push_str(&realm_toml("other", None));
    let errors = parse(&text).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == ConfigRule::MultipleRootRealms), "{errors:?}");
}

#[test]
fn init_config_grants_open_a_route() {
    let kv = name("kv");
    let c = config(&format!("{KV}{}", grant("app", "kv")));
    let p = Policy::new(&c);
    assert_eq!(p.decide_connect(APP, &kv, STORE), allowed(Rule::InitConfigGrant));
    assert!(p.has_config_grant(APP, &kv));
    // The grant is for "kv" only.
    assert_eq!(p.decide_connect(APP, &name("db"), STORE), denied(Rule::SiblingNeedsGrant));
    assert!(!p.has_config_grant(APP, &name("db")));
}

#[test]
fn parent_grants_delegate_what_the_parent_reaches() {
    let kv = name("kv");
    let c = config(&format!("{KV}{}", grant("app", "kv")));
    let mut p = Policy::new(&c);
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
    let c = config("");
    let mut p = Policy::new(&c);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::GranterCannotReach));
}

#[test]
fn allowed_clients_restrict_but_never_grant() {
    let kv = name("kv");
    let c =
        config(&format!("{KV}allowed_clients = [\"app\", \"sandbox\"]\n{}", grant("app", "kv")));
    let mut p = Policy::new(&c);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(APP, &kv, STORE), allowed(Rule::InitConfigGrant));
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NotInAllowedClients));
    assert_eq!(p.decide_connect(METRICS, &kv, STORE), denied(Rule::SiblingNeedsGrant));
    // The owner itself is subject to its list too.
    assert_eq!(p.decide_connect(STORE, &kv, STORE), denied(Rule::NotInAllowedClients));
    assert_eq!(p.allowed_clients(&kv), Some(&[APP, SANDBOX][..]));
    assert_eq!(p.allowed_clients(&name("db")), None);
}

#[test]
fn declared_providers_own_their_names() {
    let kv = name("kv");
    let c = config(KV);
    let p = Policy::new(&c);
    assert_eq!(p.provider(&kv), Some(STORE));
    assert_eq!(p.decide_register(STORE, &kv), allowed(Rule::DeclaredProvider));
    assert_eq!(p.decide_register(APP, &kv), denied(Rule::NotDeclaredProvider));
    assert_eq!(p.decide_register(APP, &name("open")), allowed(Rule::OpenRegistration));
    assert_eq!(p.decide_register(APP, &name("anything")), allowed(Rule::OpenRegistration));
    // A service declared without its provider is refused by the checker: a name open to any
    // realm is one the system description does not declare.
    let mut text: String = REALMS.iter().map(|&(name, parent)| realm_toml(name, parent)).collect();
    text.push_str("[[service]]\nname = \"open\"\n");
    let errors = parse(&text).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == ConfigRule::MissingField), "{errors:?}");
}

#[test]
fn only_the_parent_may_grant() {
    let c = config("");
    let p = Policy::new(&c);
    assert_eq!(p.decide_grant(APP, PLUGIN), allowed(Rule::ParentOfGrantee));
    assert_eq!(p.decide_grant(INIT, PLUGIN), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(STORE, APP), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(PLUGIN, PLUGIN), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(METRICS, INIT), denied(Rule::NotParent));
    assert_eq!(p.decide_grant(RealmId(40), INIT), denied(Rule::NotParent));
}

#[test]
fn runtime_grants_are_bounded_and_idempotent() {
    let c = config("");
    let mut p = Policy::new(&c);
    p.add_grant(PLUGIN, &name("kv")).unwrap();
    p.add_grant(PLUGIN, &name("kv")).unwrap();
    assert_eq!(p.runtime_grants().len(), 1);
    for i in 1..MAX_RUNTIME_GRANTS {
        p.add_grant(PLUGIN, &Name::new(&format!("s{i}")).unwrap()).unwrap();
    }
    assert_eq!(p.add_grant(PLUGIN, &name("one-more")), Err(GrantTableFull));
}

/// The rule the checker refuses `text` (the test tree plus `extra`) with.
fn refused_with(extra: &str, rule: ConfigRule) {
    let mut text: String = REALMS.iter().map(|&(name, parent)| realm_toml(name, parent)).collect();
    text.push_str(extra);
    let errors = parse(&text).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == rule), "{rule:?} expected: {errors:?}\n{text}");
}

/// What the policy once checked itself is the checker's now; the policy relies on it.
#[test]
fn bad_configurations_are_refused_by_the_checker_precisely() {
    refused_with(&realm_toml("lost", Some("nowhere")), ConfigRule::UnknownParent);
    refused_with(&realm_toml("narcissus", Some("narcissus")), ConfigRule::RealmCycle);
    let cycle = format!("{}{}", realm_toml("a", Some("b")), realm_toml("b", Some("a")));
    refused_with(&cycle, ConfigRule::RealmCycle);
    let many: String =
        (0..MAX_REALMS).map(|i| realm_toml(&format!("r{i}"), Some("init"))).collect();
    refused_with(&many, ConfigRule::TooManyRealms);
    refused_with(&format!("{KV}{}", grant("nobody", "kv")), ConfigRule::UnknownGrantClient);
    refused_with(&grant("app", "ghost"), ConfigRule::UnknownGrantService);
    refused_with(&format!("{KV}{KV}"), ConfigRule::DuplicateService);
    refused_with(
        "[[service]]\nname = \"kv\"\nrealm = \"nobody\"\n",
        ConfigRule::UnknownServiceRealm,
    );
    refused_with(
        &format!("{KV}allowed_clients = [\"init\", \"nobody\"]\n"),
        ConfigRule::UnknownAllowedClient,
    );
}

/// A configuration at every bound of the system description at once: 32 realms, 128 grants,
/// 64 declared services with 16 allowed clients each.
#[test]
fn accepts_the_largest_system_description() {
    let realms = MAX_REALMS;
    let realm_name = |i: usize| if i == 0 { "init".to_string() } else { format!("r{i}") };
    let mut text = realm_toml("init", None);
    for i in 1..realms {
        text.push_str(&realm_toml(&realm_name(i), Some("init")));
    }
    // Service i is provided by realm i % 32 and lists the 16 realms after it (not its
    // provider); each is granted to the first two of them.
    let service = |i: usize| Name::new(&format!("service-{i}")).unwrap();
    for i in 0..MAX_DECLARED_SERVICES {
        let list: Vec<String> = (1..=MAX_ALLOWED_CLIENTS)
            .map(|c| format!("\"{}\"", realm_name((i + c) % realms)))
            .collect();
        text.push_str(&format!(
            "[[service]]\nname = \"service-{i}\"\nrealm = \"{}\"\nallowed_clients = [{}]\n",
            realm_name(i % realms),
            list.join(", ")
        ));
    }
    for i in 0..MAX_DECLARED_GRANTS {
        let (s, c) = (i / 2, 1 + i % 2);
        text.push_str(&grant(&realm_name((s + c) % realms), &format!("service-{s}")));
    }
    let c = parse(&text).unwrap_or_else(|errors| panic!("{errors:?}"));
    assert_eq!(c.grants.len(), MAX_DECLARED_GRANTS);
    let p = Policy::new(&c);
    assert_eq!(p.realm_count(), realms);
    // service-1 is provided by realm 1, lists realms 2 to 17 and is granted to 2 and 3;
    // service-10 is granted to 11 and 12 only.
    assert_eq!(
        p.decide_connect(RealmId(3), &service(1), RealmId(1)),
        allowed(Rule::InitConfigGrant)
    );
    assert_eq!(
        p.decide_connect(RealmId(1), &service(1), RealmId(1)),
        denied(Rule::NotInAllowedClients)
    );
    assert_eq!(
        p.decide_connect(RealmId(13), &service(10), RealmId(10)),
        denied(Rule::SiblingNeedsGrant)
    );
    assert_eq!(p.decide_register(RealmId(1), &service(1)), allowed(Rule::DeclaredProvider));
    assert_eq!(p.decide_register(RealmId(2), &service(1)), denied(Rule::NotDeclaredProvider));
    assert_eq!(p.allowed_clients(&service(63)).map(<[RealmId]>::len), Some(16));
    // Every declaration is found, with its provider.
    for i in 0..MAX_DECLARED_SERVICES {
        assert_eq!(p.provider(&service(i)), Some(RealmId((i % realms) as u8)));
    }
    assert_eq!(p.declaration(&service(64)), None);
}

#[test]
fn configure_replaces_everything_and_clear_leaves_it_empty() {
    let kv = name("kv");
    let mut p = Policy::empty();
    assert_eq!(p.realm_count(), 0);
    assert_eq!(p.decide_grant(APP, PLUGIN), denied(Rule::NotParent));
    let c = config(&format!("{KV}{}", grant("app", "kv")));
    p.configure(&c);
    p.add_grant(PLUGIN, &kv).unwrap();
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), allowed(Rule::ParentGrant));
    // Configuring again forgets the run-time grants.
    p.configure(&c);
    assert!(p.runtime_grants().is_empty());
    assert_eq!(p.decide_connect(PLUGIN, &kv, STORE), denied(Rule::NoRoute));
    p.add_grant(PLUGIN, &kv).unwrap();
    p.clear();
    assert_eq!(p.realm_count(), 0);
    assert!(p.runtime_grants().is_empty());
    assert_eq!(p.decide_connect(APP, &kv, STORE), denied(Rule::SiblingNeedsGrant));
}

#[test]
fn a_declared_provider_decides_whether_or_not_the_service_is_registered() {
    let kv = name("kv");
    let c = config(KV);
    let p = Policy::new(&c);
    for registered in [None, Some(STORE)] {
        assert_eq!(p.decide_connect_by_name(APP, &kv, registered), denied(Rule::SiblingNeedsGrant));
        assert_eq!(p.decide_connect_by_name(STORE, &kv, registered), allowed(Rule::SameRealm));
        assert_eq!(p.decide_connect_by_name(PLUGIN, &kv, registered), denied(Rule::NoRoute));
    }
}

/// (A `[[grant]]` always names a declared service: one of an undeclared name is refused by
/// the checker, `unknown-grant-service`, see above.)
#[test]
fn an_undeclared_service_is_decided_without_its_owner_until_it_is_registered() {
    let log = name("log");
    let c = config("");
    let mut p = Policy::new(&c);
    // Not registered: nothing reaches it, not even the realms that will once it is.
    assert_eq!(p.decide_connect_by_name(METRICS, &log, None), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect_by_name(APP, &log, None), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect_by_name(INIT, &log, None), denied(Rule::NoRoute));
    // Registered by init: its child app reaches it.
    assert_eq!(p.decide_connect_by_name(APP, &log, Some(INIT)), allowed(Rule::ParentService));
    // Registered by store: metrics, store's sibling, is denied as if nothing were
    // registered, not with "siblings need a grant" (which would say by whom).
    assert_eq!(p.decide_connect_by_name(METRICS, &log, Some(STORE)), denied(Rule::NoRoute));
    assert_eq!(p.decide_connect(METRICS, &log, STORE), denied(Rule::SiblingNeedsGrant));
    // A run-time grant whose granter reaches it only once it is registered.
    p.add_grant(PLUGIN, &log).unwrap();
    assert_eq!(p.decide_connect_by_name(PLUGIN, &log, Some(INIT)), allowed(Rule::ParentGrant));
    assert_eq!(p.decide_connect_by_name(PLUGIN, &log, None), denied(Rule::GranterCannotReach));
    assert_eq!(
        p.decide_connect_by_name(PLUGIN, &log, Some(METRICS)),
        denied(Rule::GranterCannotReach)
    );
}

#[test]
fn grants_that_could_never_be_used_are_refused() {
    let kv = name("kv");
    let c = config(&format!(
        "{KV}allowed_clients = [\"init\", \"app\", \"plugin\"]\n{}",
        grant("init", "kv")
    ));
    let mut p = Policy::new(&c);
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
