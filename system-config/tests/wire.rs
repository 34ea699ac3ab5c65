//! The demo system, the binary round trip, and one boot-check test per way a decoded
//! configuration can be wrong.

use system_config::{
    AllowedClients, BootCheckError, EncodeError, FORMAT_VERSION, Grant, NameText, RealmId,
    ServiceId, SystemConfig, decode, encode, parse,
};

const DEMO: &str = include_str!("../../system.toml");
const DEMO_PROGRAMS: &[&str] = &["init", "logger", "kv-store", "app", "plugin"];

fn demo() -> SystemConfig {
    match parse("demo.toml", DEMO, DEMO_PROGRAMS) {
        Ok(config) => config,
        Err(errors) => panic!("demo.toml does not parse: {errors:#?}"),
    }
}

fn name(text: &str) -> NameText {
    NameText::try_from(text).expect("test names fit")
}

/// What `encode` would write, without its check: lets a test hand `decode` a broken config.
fn encode_unchecked(config: &SystemConfig) -> Vec<u8> {
    let mut bytes = vec![FORMAT_VERSION];
    bytes.extend(postcard::to_allocvec(config).expect("serialises"));
    bytes
}

fn decode_error(config: &SystemConfig) -> BootCheckError {
    decode(&encode_unchecked(config)).expect_err("the config is broken")
}

#[test]
fn demo_parses_into_the_expected_system() {
    let config = demo();
    let realm_names: Vec<&str> = config.realms.iter().map(|realm| realm.name.as_str()).collect();
    assert_eq!(realm_names, ["init", "logger", "kv", "app", "plugin"]);
    let init = config.realm(RealmId::ROOT).expect("root");
    assert_eq!(init.parent, None);
    assert_eq!(init.memory_bytes, 16 * 1024 * 1024);
    let app = config.find_realm("app").expect("app");
    let plugin = config.realm(config.find_realm("plugin").expect("plugin")).expect("plugin");
    assert_eq!(plugin.parent, Some(app));
    assert_eq!(plugin.memory_bytes, 512 * 1024);
    assert_eq!(plugin.max_connections, 1);
    let kv = config.realm(config.find_realm("kv").expect("kv")).expect("kv");
    assert!(kv.restartable);
    assert_eq!(kv.max_connections, system_config::DEFAULT_MAX_CONNECTIONS);
    assert_eq!(kv.program, "kv-store");

    let log = config.find_service("log").expect("log");
    let logger = config.find_realm("logger").expect("logger");
    assert_eq!(config.services_of(logger).collect::<Vec<_>>(), [log]);
    let kv_realm = config.find_realm("kv").expect("kv");
    assert_eq!(
        config.service(log).expect("log").allowed_clients,
        AllowedClients::Only(heapless::Vec::from_slice(&[kv_realm, app]).expect("fits"))
    );
    assert!(config.is_granted(app, log));
    assert!(!config.is_granted(config.find_realm("plugin").expect("plugin"), log));
    assert_eq!(config.grants.len(), 3);
    assert_eq!(config.children(RealmId::ROOT).collect::<Vec<_>>(), [logger, kv_realm, app]);
}

#[test]
fn crate_docs_show_the_demo_file_as_it_is() {
    let docs = include_str!("../src/lib.rs");
    let quoted: String = DEMO
        .lines()
        .map(|line| if line.is_empty() { "//!\n".to_string() } else { format!("//! {line}\n") })
        .collect();
    assert!(
        docs.contains(&quoted),
        "update the example in lib.rs from system.toml at the repository root"
    );
}

#[test]
fn demo_round_trips_through_encode_and_decode() {
    let config = demo();
    let bytes = encode(&config).expect("encodes");
    assert_eq!(bytes[0], FORMAT_VERSION);
    assert_eq!(decode(&bytes), Ok(config));
}

#[test]
fn realms_declared_before_their_parent_are_stored_after_it() {
    let text = r#"
[[realm]]
name = "plugin"
program = "plugin"
parent = "app"
priority = 1
memory = "4 KiB"

[[realm]]
name = "app"
program = "app"
parent = "init"
priority = 2
memory = "8 KiB"

[[realm]]
name = "init"
program = "init"
priority = 3
memory = 16384

[[grant]]
client = "plugin"
service = "api"

[[service]]
name = "api"
realm = "app"
"#;
    let config = parse("system.toml", text, DEMO_PROGRAMS).expect("valid");
    let names: Vec<&str> = config.realms.iter().map(|realm| realm.name.as_str()).collect();
    assert_eq!(names, ["init", "app", "plugin"]);
    assert_eq!(config.realms[1].parent, Some(RealmId(0)));
    assert_eq!(config.realms[2].parent, Some(RealmId(1)));
    assert_eq!(config.services[0].realm, RealmId(1));
    assert_eq!(config.grants.as_slice(), [Grant { client: RealmId(2), service: ServiceId(0) }]);
    assert_eq!(config.check(), Ok(()));
}

#[test]
fn encode_refuses_a_config_the_boot_check_would_refuse() {
    let mut config = demo();
    config.realms[1].priority = 250;
    assert_eq!(
        encode(&config),
        Err(EncodeError::Invalid(BootCheckError::PriorityAboveParent { realm: 1, parent: 0 }))
    );
}

#[test]
fn decode_refuses_empty_truncated_versioned_and_padded_bytes() {
    let bytes = encode(&demo()).expect("encodes");
    assert!(matches!(decode(&[]), Err(BootCheckError::Malformed(_))));
    assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(BootCheckError::Malformed(_))));
    let mut other_version = bytes.clone();
    other_version[0] = FORMAT_VERSION + 1;
    assert_eq!(
        decode(&other_version),
        Err(BootCheckError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            expected: FORMAT_VERSION
        })
    );
    let mut padded = bytes;
    padded.extend_from_slice(&[0, 0]);
    assert_eq!(decode(&padded), Err(BootCheckError::TrailingBytes { count: 2 }));
}

#[test]
fn decode_refuses_lists_over_their_bounds() {
    // 33 realms: postcard writes the length first, and heapless refuses the 33rd element.
    let mut bytes = vec![FORMAT_VERSION, 33];
    bytes.extend(std::iter::repeat_n(0, 1000));
    assert!(matches!(decode(&bytes), Err(BootCheckError::Malformed(_))));
}

/// Applies `break_it` to the demo and expects `decode` to refuse it with `expected`.
fn assert_refused(break_it: impl FnOnce(&mut SystemConfig), expected: BootCheckError) {
    let mut config = demo();
    break_it(&mut config);
    assert_eq!(decode_error(&config), expected);
}

#[test]
fn decode_refuses_an_empty_system() {
    assert_refused(
        |config| {
            config.realms.clear();
            config.services.clear();
            config.grants.clear();
        },
        BootCheckError::NoRealms,
    );
}

#[test]
fn decode_refuses_a_broken_tree() {
    assert_refused(|c| c.realms[0].parent = Some(RealmId(1)), BootCheckError::RootHasParent);
    assert_refused(|c| c.realms[3].parent = None, BootCheckError::SecondRoot { realm: 3 });
    assert_refused(
        |c| c.realms[1].parent = Some(RealmId(1)),
        BootCheckError::ParentNotBeforeChild { realm: 1, parent: 1 },
    );
    assert_refused(
        |c| c.realms[1].parent = Some(RealmId(200)),
        BootCheckError::ParentNotBeforeChild { realm: 1, parent: 200 },
    );
}

#[test]
fn decode_refuses_bad_and_duplicate_names() {
    assert_refused(|c| c.realms[2].name = name("KV"), BootCheckError::BadRealmName { realm: 2 });
    assert_refused(|c| c.realms[2].name = name(""), BootCheckError::BadRealmName { realm: 2 });
    assert_refused(
        |c| c.realms[3].name = name("logger"),
        BootCheckError::DuplicateRealmName { realm: 3, first: 1 },
    );
    assert_refused(
        |c| c.realms[1].program = name("a b"),
        BootCheckError::BadProgramName { realm: 1 },
    );
    assert_refused(
        |c| c.services[2].name = name("kv."),
        BootCheckError::BadServiceName { service: 2 },
    );
    assert_refused(
        |c| c.services[2].name = name("log"),
        BootCheckError::DuplicateServiceName { service: 2, first: 0 },
    );
}

#[test]
fn decode_refuses_budgets_outside_the_rules() {
    assert_refused(|c| c.realms[0].memory_bytes = 0, BootCheckError::BadMemorySize { realm: 0 });
    assert_refused(|c| c.realms[4].memory_bytes = 4097, BootCheckError::BadMemorySize { realm: 4 });
    assert_refused(
        |c| c.realms[4].memory_bytes = 64 * 1024 * 1024,
        BootCheckError::MemoryAboveParent { realm: 4, parent: 3 },
    );
    assert_refused(
        |c| c.realms[4].priority = 101,
        BootCheckError::PriorityAboveParent { realm: 4, parent: 3 },
    );
    assert_refused(
        |c| c.realms[3].max_services = 1025,
        BootCheckError::MaxServicesOutOfRange { realm: 3 },
    );
    assert_refused(
        |c| c.realms[1].max_services = 0,
        BootCheckError::ServiceQuotaExceeded { realm: 1 },
    );
}

#[test]
fn decode_refuses_bad_service_references() {
    assert_refused(
        |c| c.services[1].realm = RealmId(5),
        BootCheckError::ServiceRealmOutOfRange { service: 1 },
    );
    let only = |ids: &[u8]| {
        let ids: Vec<RealmId> = ids.iter().map(|&id| RealmId(id)).collect();
        AllowedClients::Only(heapless::Vec::from_slice(&ids).expect("fits"))
    };
    assert_refused(
        |c| c.services[0].allowed_clients = only(&[2, 3, 9]),
        BootCheckError::AllowedClientOutOfRange { service: 0, position: 2 },
    );
    assert_refused(
        |c| c.services[0].allowed_clients = only(&[2, 3, 2]),
        BootCheckError::DuplicateAllowedClient { service: 0, position: 2 },
    );
}

#[test]
fn decode_refuses_bad_grants() {
    assert_refused(
        |c| c.grants[0].client = RealmId(32),
        BootCheckError::GrantClientOutOfRange { grant: 0 },
    );
    assert_refused(
        |c| c.grants[0].service = ServiceId(3),
        BootCheckError::GrantServiceOutOfRange { grant: 0 },
    );
    assert_refused(
        |c| c.grants[2] = c.grants[1],
        BootCheckError::DuplicateGrant { grant: 2, first: 1 },
    );
    // The plugin is not in the log service's allowed clients.
    assert_refused(
        |c| c.grants[0].client = RealmId(4),
        BootCheckError::GrantDeniedByService { grant: 0 },
    );
}

#[test]
fn decode_refuses_clients_above_their_provider_unless_the_service_allows_it() {
    // kv (realm 2) at 160 is above the logger (150), whose "log" lists kv first.
    assert_refused(
        |c| c.realms[2].priority = 160,
        BootCheckError::AllowedClientPriorityInversion {
            service: 0,
            position: 0,
            client_priority: 160,
            provider_priority: 150,
        },
    );
    // Without the list, it is kv's grant (the first) that is refused.
    assert_refused(
        |c| {
            c.realms[2].priority = 160;
            c.services[0].allowed_clients = AllowedClients::Any;
        },
        BootCheckError::GrantPriorityInversion {
            grant: 0,
            client_priority: 160,
            provider_priority: 150,
        },
    );
    let mut config = demo();
    config.realms[2].priority = 160;
    config.services[0].allow_priority_inversion = true;
    assert_eq!(decode(&encode(&config).expect("allowed")).expect("decodes"), config);
}

#[test]
fn decode_refuses_budgets_beyond_the_machine_memory() {
    // The demo's budgets add up to 28.5 MiB: the root's 16 MiB fits in 16 MiB, the logger's
    // 2 MiB more does not.
    assert_refused(
        |c| c.settings.memory_bytes = 16 << 20,
        BootCheckError::BudgetsExceedMemory { realm: 1, machine_bytes: 16 << 20 },
    );
    assert_refused(|c| c.settings.memory_bytes = 0, BootCheckError::BadMachineMemory);
    assert_refused(|c| c.settings.memory_bytes = (1 << 30) + 1, BootCheckError::BadMachineMemory);
    // Budgets whose sum does not fit in 64 bits are refused, not wrapped.
    assert_refused(
        |c| {
            c.settings.memory_bytes = u64::MAX - 4095;
            for realm in c.realms.iter_mut() {
                realm.memory_bytes = 1 << 62;
            }
        },
        BootCheckError::BudgetsExceedMemory { realm: 3, machine_bytes: u64::MAX - 4095 },
    );
}

#[test]
fn boot_check_errors_print_what_is_wrong() {
    let error = BootCheckError::MemoryAboveParent { realm: 4, parent: 3 };
    assert_eq!(error.to_string(), "realm 4 has more memory than its parent 3");
}
