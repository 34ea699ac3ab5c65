//! The demo system, the binary round trip, and one boot-check test per way a decoded
//! configuration can be wrong.

use system_config::{
    AllowedClients, CheckedConfig, DecodeError, EncodeError, FORMAT_VERSION, Finding, Grant, Item,
    NameText, Problem, RealmId, Refusal, Rule, ServiceId, SystemConfig, ThreadFaultPolicy, decode,
    encode, parse,
};

const DEMO: &str = include_str!("../../system.toml");
const DEMO_PROGRAMS: &[&str] = &["init", "logger", "kv-store", "app", "plugin"];

fn demo() -> SystemConfig {
    match parse("demo.toml", DEMO, DEMO_PROGRAMS) {
        Ok(config) => config.into_inner(),
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

/// The first finding with which `decode` refuses `config`.
fn decode_error(config: &SystemConfig) -> Finding {
    match decode(&encode_unchecked(config)) {
        Err(DecodeError::Refused(finding)) => finding,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn finding(at: Item, problem: Problem) -> Finding {
    Finding { at, problem }
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
    assert_eq!(kv.max_threads, system_config::DEFAULT_MAX_THREADS);
    assert_eq!(kv.on_thread_fault, ThreadFaultPolicy::StopRealm);

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
    assert_eq!(decode(&bytes).map(CheckedConfig::into_inner), Ok(config));
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
        Err(EncodeError::Invalid(finding(
            Item::RealmPriority(RealmId(1)),
            Problem::PriorityAboveParent { parent: RealmId(0) }
        )))
    );
}

#[test]
fn decode_refuses_empty_truncated_versioned_and_padded_bytes() {
    let bytes = encode(&demo()).expect("encodes");
    assert!(matches!(decode(&[]), Err(DecodeError::Malformed(_))));
    assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(DecodeError::Malformed(_))));
    let mut other_version = bytes.clone();
    other_version[0] = FORMAT_VERSION + 1;
    assert_eq!(
        decode(&other_version),
        Err(DecodeError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            expected: FORMAT_VERSION
        })
    );
    let mut padded = bytes;
    padded.extend_from_slice(&[0, 0]);
    assert_eq!(decode(&padded), Err(DecodeError::TrailingBytes { count: 2 }));
}

#[test]
fn decode_refuses_lists_over_their_bounds() {
    // 33 realms: postcard writes the length first, and heapless refuses the 33rd element.
    let mut bytes = vec![FORMAT_VERSION, 33];
    bytes.extend(std::iter::repeat_n(0, 1000));
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}

/// Applies `break_it` to the demo and expects `decode` to refuse it with `expected`.
fn assert_refused(break_it: impl FnOnce(&mut SystemConfig), expected: Finding) {
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
        finding(Item::System, Problem::NoRealms),
    );
}

#[test]
fn decode_refuses_a_broken_tree() {
    assert_refused(
        |c| c.realms[0].parent = Some(RealmId(1)),
        finding(Item::RealmParent(RealmId(0)), Problem::RootHasParent),
    );
    assert_refused(
        |c| c.realms[3].parent = None,
        finding(Item::Realm(RealmId(3)), Problem::SecondRoot),
    );
    assert_refused(
        |c| c.realms[1].parent = Some(RealmId(1)),
        finding(
            Item::RealmParent(RealmId(1)),
            Problem::ParentNotBeforeChild { parent: RealmId(1) },
        ),
    );
    assert_refused(
        |c| c.realms[1].parent = Some(RealmId(200)),
        finding(Item::RealmParent(RealmId(1)), Problem::ParentMissing { parent: RealmId(200) }),
    );
}

#[test]
fn decode_refuses_bad_and_duplicate_names() {
    assert_refused(
        |c| c.realms[2].name = name("KV"),
        finding(Item::RealmName(RealmId(2)), Problem::BadName),
    );
    assert_refused(
        |c| c.realms[2].name = name(""),
        finding(Item::RealmName(RealmId(2)), Problem::BadName),
    );
    assert_refused(
        |c| c.realms[3].name = name("logger"),
        finding(Item::RealmName(RealmId(3)), Problem::DuplicateRealm { first: RealmId(1) }),
    );
    assert_refused(
        |c| c.realms[1].program = name("a b"),
        finding(Item::RealmProgram(RealmId(1)), Problem::BadName),
    );
    assert_refused(
        |c| c.services[2].name = name("kv."),
        finding(Item::ServiceName(ServiceId(2)), Problem::BadName),
    );
    assert_refused(
        |c| c.services[2].name = name("log"),
        finding(Item::ServiceName(ServiceId(2)), Problem::DuplicateService { first: ServiceId(0) }),
    );
    assert_refused(
        |c| c.services[1].interface = Some(name("Kv")),
        finding(Item::ServiceInterface(ServiceId(1)), Problem::BadName),
    );
    assert_refused(
        |c| c.services[1].interface = Some(name("")),
        finding(Item::ServiceInterface(ServiceId(1)), Problem::BadName),
    );
}

#[test]
fn a_service_interface_survives_encode_and_decode_and_prints_at_boot() {
    let mut config = demo();
    config.services[0].interface = None;
    config.services[1].interface = Some(name("kv"));
    let decoded = decode(&encode(&config).expect("encodes")).expect("decodes");
    assert_eq!(decoded.services[1].interface.as_deref(), Some("kv"));
    assert_eq!(decoded.services[0].interface, None);
    config.services[1].interface = Some(name("kv v2"));
    let bytes = encode_unchecked(&config);
    let Err(DecodeError::Refused(finding)) = decode(&bytes) else { panic!("refused") };
    assert_eq!(
        Refusal { bytes: &bytes, finding }.to_string(),
        "error[bad-name]: interface name \"kv v2\" has the character ' ': use 1 to 32 \
         characters of a-z, 0-9 and -"
    );
}

#[test]
fn decode_refuses_budgets_outside_the_rules() {
    assert_refused(
        |c| c.realms[0].memory_bytes = 0,
        finding(Item::RealmMemory(RealmId(0)), Problem::BadMemorySize { bytes: 0 }),
    );
    assert_refused(
        |c| c.realms[4].memory_bytes = 4097,
        finding(Item::RealmMemory(RealmId(4)), Problem::BadMemorySize { bytes: 4097 }),
    );
    assert_refused(
        |c| c.realms[4].memory_bytes = 64 * 1024 * 1024,
        finding(Item::RealmMemory(RealmId(4)), Problem::MemoryAboveParent { parent: RealmId(3) }),
    );
    assert_refused(
        |c| c.realms[4].priority = 101,
        finding(
            Item::RealmPriority(RealmId(4)),
            Problem::PriorityAboveParent { parent: RealmId(3) },
        ),
    );
    assert_refused(
        |c| c.realms[3].max_services = 1025,
        finding(Item::RealmMaxServices(RealmId(3)), Problem::MaxServicesOutOfRange),
    );
    assert_refused(
        |c| c.realms[1].max_services = 0,
        finding(Item::ServiceRealm(ServiceId(0)), Problem::ServiceQuotaExceeded { number: 1 }),
    );
}

#[test]
fn decode_refuses_max_threads_outside_1_to_16_and_carries_the_thread_fields() {
    assert_refused(
        |c| c.realms[2].max_threads = 0,
        finding(Item::RealmMaxThreads(RealmId(2)), Problem::MaxThreadsOutOfRange),
    );
    assert_refused(
        |c| c.realms[2].max_threads = 17,
        finding(Item::RealmMaxThreads(RealmId(2)), Problem::MaxThreadsOutOfRange),
    );
    let mut config = demo();
    config.realms[2].max_threads = 16;
    config.realms[2].on_thread_fault = ThreadFaultPolicy::StopThread;
    config.realms[3].max_threads = 1;
    let decoded = decode(&encode(&config).expect("encodes")).expect("decodes");
    assert_eq!(decoded.realms[2].max_threads, 16);
    assert_eq!(decoded.realms[2].on_thread_fault, ThreadFaultPolicy::StopThread);
    assert_eq!(decoded.realms[3].on_thread_fault, ThreadFaultPolicy::StopRealm);
    config.realms[2].max_threads = 200;
    let bytes = encode_unchecked(&config);
    let Err(DecodeError::Refused(finding)) = decode(&bytes) else { panic!("refused") };
    assert_eq!(
        Refusal { bytes: &bytes, finding }.to_string(),
        "error[quota-out-of-range]: `max_threads` of realm \"kv\" is 200, outside 1 to 16"
    );
}

#[test]
fn decode_refuses_a_thread_fault_policy_that_is_not_one() {
    // The policy is postcard's variant index, the last byte of the last realm (plugin) before
    // the services: 0 stop-realm, 1 stop-thread, and no other.
    let config = demo();
    let mut plugin = config.clone();
    plugin.services.clear();
    plugin.grants.clear();
    let bytes = encode_unchecked(&plugin);
    let last = bytes.len() - 3; // then the services' and the grants' lengths, 0 and 0
    assert_eq!(bytes[last], 0, "plugin stops the realm on a thread fault");
    let mut stop_thread = bytes.clone();
    stop_thread[last] = 1;
    let decoded = decode(&stop_thread).expect("a valid policy");
    assert_eq!(decoded.realms[4].on_thread_fault, ThreadFaultPolicy::StopThread);
    let mut unknown = bytes;
    unknown[last] = 2;
    assert!(matches!(decode(&unknown), Err(DecodeError::Malformed(_))));
}

#[test]
fn decode_refuses_bad_service_references() {
    assert_refused(
        |c| c.services[1].realm = RealmId(5),
        finding(Item::ServiceRealm(ServiceId(1)), Problem::ServiceRealmMissing),
    );
    let only = |ids: &[u8]| {
        let ids: Vec<RealmId> = ids.iter().map(|&id| RealmId(id)).collect();
        AllowedClients::Only(heapless::Vec::from_slice(&ids).expect("fits"))
    };
    assert_refused(
        |c| c.services[0].allowed_clients = only(&[2, 3, 9]),
        finding(
            Item::AllowedClient { service: ServiceId(0), position: 2 },
            Problem::AllowedClientMissing,
        ),
    );
    assert_refused(
        |c| c.services[0].allowed_clients = only(&[2, 3, 2]),
        finding(
            Item::AllowedClient { service: ServiceId(0), position: 2 },
            Problem::DuplicateAllowedClient,
        ),
    );
}

#[test]
fn decode_refuses_bad_grants() {
    assert_refused(
        |c| c.grants[0].client = RealmId(32),
        finding(Item::GrantClient(0), Problem::GrantClientMissing),
    );
    assert_refused(
        |c| c.grants[0].service = ServiceId(3),
        finding(Item::GrantService(0), Problem::GrantServiceMissing),
    );
    assert_refused(
        |c| c.grants[2] = c.grants[1],
        finding(Item::Grant(2), Problem::DuplicateGrant { first: 1 }),
    );
    // The plugin is not in the log service's allowed clients.
    assert_refused(
        |c| c.grants[0].client = RealmId(4),
        finding(Item::GrantClient(0), Problem::GrantDeniedByService),
    );
}

#[test]
fn decode_refuses_clients_above_their_provider_unless_the_service_allows_it() {
    // kv (realm 2) at 160 is above the logger (150), whose "log" lists kv first.
    assert_refused(
        |c| c.realms[2].priority = 160,
        finding(
            Item::AllowedClient { service: ServiceId(0), position: 0 },
            Problem::PriorityInversion { client_priority: 160, provider_priority: 150 },
        ),
    );
    // Without the list, it is kv's grant (the first) that is refused.
    assert_refused(
        |c| {
            c.realms[2].priority = 160;
            c.services[0].allowed_clients = AllowedClients::Any;
        },
        finding(
            Item::GrantClient(0),
            Problem::PriorityInversion { client_priority: 160, provider_priority: 150 },
        ),
    );
    let mut config = demo();
    config.realms[2].priority = 160;
    config.services[0].allow_priority_inversion = true;
    assert_eq!(*decode(&encode(&config).expect("allowed")).expect("decodes"), config);
}

#[test]
fn decode_refuses_budgets_beyond_the_machine_memory() {
    // The demo's budgets add up to 28.5 MiB: the root's 16 MiB fits in 16 MiB, the logger's
    // 2 MiB more does not.
    assert_refused(
        |c| c.settings.memory_bytes = 16 << 20,
        finding(Item::RealmMemory(RealmId(1)), Problem::BudgetsExceedMemory { sum: 18 << 20 }),
    );
    assert_refused(
        |c| c.settings.memory_bytes = 0,
        finding(Item::MachineMemory, Problem::BadMemorySize { bytes: 0 }),
    );
    assert_refused(
        |c| c.settings.memory_bytes = (1 << 30) + 1,
        finding(Item::MachineMemory, Problem::BadMemorySize { bytes: (1 << 30) + 1 }),
    );
    // Budgets whose sum does not fit in 64 bits are refused, not wrapped.
    assert_refused(
        |c| {
            c.settings.memory_bytes = u64::MAX - 4095;
            for realm in c.realms.iter_mut() {
                realm.memory_bytes = 1 << 62;
            }
        },
        finding(Item::RealmMemory(RealmId(3)), Problem::BudgetsExceedMemory { sum: 1 << 64 }),
    );
}

#[test]
fn boot_refusals_print_the_rule_and_what_is_wrong() {
    let mut config = demo();
    config.realms[4].memory_bytes = 64 * 1024 * 1024;
    let bytes = encode_unchecked(&config);
    let Err(DecodeError::Refused(finding)) = decode(&bytes) else { panic!("refused") };
    assert_eq!(finding.rule(), Rule::MemoryAboveParent);
    let refusal = Refusal { bytes: &bytes, finding };
    assert_eq!(
        refusal.to_string(),
        "error[memory-above-parent]: realm \"plugin\" has a memory budget of 64 MiB, more than \
         its parent realm \"app\" has (6 MiB)"
    );
    // At boot the lines are gone: a duplicate names the item it repeats by its number.
    let mut config = demo();
    config.realms[3].name = name("logger");
    let bytes = encode_unchecked(&config);
    let Err(DecodeError::Refused(finding)) = decode(&bytes) else { panic!("refused") };
    assert_eq!(
        Refusal { bytes: &bytes, finding }.to_string(),
        "error[duplicate-realm]: realm \"logger\" is declared twice (first as realm number 1)"
    );
}
