//! Property tests: `decode` never panics on any bytes, every valid configuration survives
//! both round trips (model -> bytes -> model, and model -> system.toml -> model), and a broken
//! configuration is refused for the same rules by the host (its text) and at boot (its bytes).

use std::fmt::Write as _;

use proptest::collection::vec;
use proptest::prelude::*;
use system_config::{
    AllowedClients, DecodeError, FORMAT_VERSION, Grant, MAX_ALLOWED_CLIENTS, MAX_DECLARED_GRANTS,
    MAX_DECLARED_SERVICES, MAX_REALM_PRIORITY, MAX_REALM_SERVICES, MAX_REALMS,
    MAX_THREADS_PER_REALM, NameText, PAGE_BYTES, Realm, RealmId, Rule, Service, ServiceId,
    SystemConfig, ThreadFaultPolicy, decode, encode, parse,
};

/// One way to break a valid configuration that its text can still say (names still resolve
/// to the same items): the indices are taken modulo the list they pick from.
#[derive(Clone, Debug)]
enum Break {
    Priority {
        realm: usize,
        priority: u8,
    },
    Memory {
        realm: usize,
        pages: u32,
    },
    MaxServices {
        realm: usize,
        quota: u16,
    },
    MaxConnections {
        realm: usize,
        quota: u8,
    },
    /// In range: the thread fields break nothing, but must reach the model from either side.
    Threads {
        realm: usize,
        quota: u8,
        policy: ThreadFaultPolicy,
    },
    MachineMemory {
        pages: u32,
    },
    AllowInversion {
        service: usize,
        allow: bool,
    },
    RepeatGrant {
        grant: usize,
    },
    RepeatAllowedClient {
        service: usize,
        position: usize,
    },
    AddAllowedClients {
        service: usize,
        clients: Vec<u8>,
    },
    AddGrant {
        client: u8,
        service: usize,
    },
}

fn a_break() -> impl Strategy<Value = Break> {
    prop_oneof![
        (any::<usize>(), 0..=MAX_REALM_PRIORITY)
            .prop_map(|(realm, priority)| Break::Priority { realm, priority }),
        (any::<usize>(), 1..=1u32 << 20).prop_map(|(realm, pages)| Break::Memory { realm, pages }),
        (any::<usize>(), 0..=MAX_REALM_SERVICES as u16)
            .prop_map(|(realm, quota)| Break::MaxServices { realm, quota }),
        (any::<usize>(), any::<u8>())
            .prop_map(|(realm, quota)| Break::MaxConnections { realm, quota }),
        (any::<usize>(), 1..=MAX_THREADS_PER_REALM as u8, thread_fault_policy())
            .prop_map(|(realm, quota, policy)| Break::Threads { realm, quota, policy }),
        (1..=1u32 << 22).prop_map(|pages| Break::MachineMemory { pages }),
        (any::<usize>(), any::<bool>())
            .prop_map(|(service, allow)| Break::AllowInversion { service, allow }),
        any::<usize>().prop_map(|grant| Break::RepeatGrant { grant }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(service, position)| Break::RepeatAllowedClient { service, position }),
        (any::<usize>(), vec(any::<u8>(), 0..4))
            .prop_map(|(service, clients)| Break::AddAllowedClients { service, clients }),
        (any::<u8>(), any::<usize>())
            .prop_map(|(client, service)| Break::AddGrant { client, service }),
    ]
}

/// Applies `broken` to `config` (nothing when the list it picks from is empty or full).
fn apply(config: &mut SystemConfig, broken: &Break) {
    let realms = config.realms.len();
    let services = config.services.len();
    match *broken {
        Break::Priority { realm, priority } => config.realms[realm % realms].priority = priority,
        Break::Memory { realm, pages } => {
            config.realms[realm % realms].memory_bytes = u64::from(pages) * PAGE_BYTES;
        }
        Break::MaxServices { realm, quota } => config.realms[realm % realms].max_services = quota,
        Break::MaxConnections { realm, quota } => {
            config.realms[realm % realms].max_connections = quota;
        }
        Break::Threads { realm, quota, policy } => {
            config.realms[realm % realms].max_threads = quota;
            config.realms[realm % realms].on_thread_fault = policy;
        }
        Break::MachineMemory { pages } => {
            config.settings.memory_bytes = u64::from(pages) * PAGE_BYTES;
        }
        Break::AllowInversion { service, allow } if services > 0 => {
            config.services[service % services].allow_priority_inversion = allow;
        }
        Break::RepeatGrant { grant } if !config.grants.is_empty() => {
            let copy = config.grants[grant % config.grants.len()];
            let _ = config.grants.push(copy);
        }
        Break::RepeatAllowedClient { service, position } if services > 0 => {
            if let AllowedClients::Only(clients) =
                &mut config.services[service % services].allowed_clients
                && !clients.is_empty()
            {
                let copy = clients[position % clients.len()];
                let _ = clients.push(copy);
            }
        }
        Break::AddAllowedClients { service, ref clients } if services > 0 => {
            let list = &mut config.services[service % services].allowed_clients;
            if let AllowedClients::Any = list {
                *list = AllowedClients::Only(heapless::Vec::new());
            }
            if let AllowedClients::Only(list) = list {
                for &client in clients {
                    let _ = list.push(RealmId((usize::from(client) % realms) as u8));
                }
            }
        }
        Break::AddGrant { client, service } if services > 0 => {
            let client = RealmId((usize::from(client) % realms) as u8);
            let _ = config
                .grants
                .push(Grant { client, service: ServiceId((service % services) as u8) });
        }
        _ => {}
    }
}

/// What `encode` would write, without its check.
fn encode_unchecked(config: &SystemConfig) -> Vec<u8> {
    let mut bytes = vec![FORMAT_VERSION];
    bytes.extend(postcard::to_allocvec(config).expect("serialises"));
    bytes
}

/// Random numbers from which [`build_config`] derives a valid configuration.
#[derive(Clone, Debug)]
struct Seeds {
    realms: Vec<RealmSeed>,
    services: Vec<ServiceSeed>,
    grants: Vec<(u8, u8)>,
}

#[derive(Clone, Debug)]
struct RealmSeed {
    name: String,
    program: String,
    parent: u8,
    priority: u8,
    pages: u32,
    restartable: bool,
    max_connections: u8,
    spare_services: u8,
    max_threads: u8,
    on_thread_fault: ThreadFaultPolicy,
}

#[derive(Clone, Debug)]
struct ServiceSeed {
    name: String,
    realm: u8,
    allowed_clients: Option<Vec<u8>>,
    allow_priority_inversion: bool,
    interface: Option<String>,
}

fn realm_seed() -> impl Strategy<Value = RealmSeed> {
    (
        "[a-z0-9-]{1,28}",
        "[a-z0-9_-]{1,32}",
        any::<u8>(),
        any::<u8>(),
        1..=1u32 << 20,
        any::<bool>(),
        // At most 32 each, and at most 30 spare services each: 32 realms' quotas then fit
        // the broker's 1024 connections and services (with the at most 64 declared).
        0u8..=32,
        any::<u8>(),
        (1..=MAX_THREADS_PER_REALM as u8, thread_fault_policy()),
    )
        .prop_map(
            |(
                name,
                program,
                parent,
                priority,
                pages,
                restartable,
                max_connections,
                spare,
                (max_threads, on_thread_fault),
            )| {
                RealmSeed {
                    name,
                    program,
                    parent,
                    priority,
                    pages,
                    restartable,
                    max_connections,
                    spare_services: spare,
                    max_threads,
                    on_thread_fault,
                }
            },
        )
}

fn thread_fault_policy() -> impl Strategy<Value = ThreadFaultPolicy> {
    prop_oneof![Just(ThreadFaultPolicy::StopRealm), Just(ThreadFaultPolicy::StopThread)]
}

fn service_seed() -> impl Strategy<Value = ServiceSeed> {
    (
        "[a-z0-9-]{1,28}",
        any::<u8>(),
        proptest::option::of(vec(any::<u8>(), 0..=MAX_ALLOWED_CLIENTS)),
        any::<bool>(),
        proptest::option::of("[a-z0-9-]{1,32}"),
    )
        .prop_map(|(name, realm, allowed_clients, allow_priority_inversion, interface)| {
            ServiceSeed { name, realm, allowed_clients, allow_priority_inversion, interface }
        })
}

fn seeds() -> impl Strategy<Value = Seeds> {
    (
        vec(realm_seed(), 1..=MAX_REALMS),
        vec(service_seed(), 0..=MAX_DECLARED_SERVICES),
        vec((any::<u8>(), any::<u8>()), 0..=MAX_DECLARED_GRANTS + 20),
    )
        .prop_map(|(realms, services, grants)| Seeds { realms, services, grants })
}

fn to_name(text: &str) -> NameText {
    NameText::try_from(text).expect("generated names fit")
}

/// A unique name: the seed's text, cut to leave room for `-<index>`.
fn unique_name(seed: &str, index: usize) -> NameText {
    to_name(&format!("{}-{index}", &seed[..seed.len().min(28)]))
}

fn build_realms(seeds: &[RealmSeed]) -> Vec<Realm> {
    let mut realms: Vec<Realm> = Vec::new();
    for (index, seed) in seeds.iter().enumerate() {
        let parent = (index > 0).then(|| usize::from(seed.parent) % index);
        let (priority, memory_bytes) = match parent {
            None => (
                seed.priority.min(system_config::MAX_REALM_PRIORITY),
                u64::from(seed.pages) * PAGE_BYTES,
            ),
            Some(parent) => (
                seed.priority.min(realms[parent].priority),
                (u64::from(seed.pages) * PAGE_BYTES).min(realms[parent].memory_bytes),
            ),
        };
        realms.push(Realm {
            name: unique_name(&seed.name, index),
            program: to_name(&seed.program),
            parent: parent.map(|parent| RealmId(parent as u8)),
            priority,
            memory_bytes,
            restartable: seed.restartable,
            max_restarts: 3,
            max_connections: seed.max_connections,
            max_services: 0,
            max_threads: seed.max_threads,
            on_thread_fault: seed.on_thread_fault,
        });
    }
    realms
}

/// A valid configuration made from `seeds`: parents first, children within their parent's
/// budget, quotas that fit, grants that the services' policies allow, no declared client
/// above its provider unless the service allows it, and a machine memory that holds every
/// budget.
fn build_config(seeds: &Seeds) -> SystemConfig {
    let mut realms = build_realms(&seeds.realms);
    let realm_count = realms.len();
    // Whether `client` may be declared a client of a service of `provider`.
    let priorities: Vec<u8> = realms.iter().map(|realm| realm.priority).collect();
    let fits = |seed: &ServiceSeed, provider: RealmId, client: RealmId| {
        seed.allow_priority_inversion || priorities[client.index()] <= priorities[provider.index()]
    };
    let services: Vec<Service> = seeds
        .services
        .iter()
        .enumerate()
        .map(|(index, seed)| {
            let provider = RealmId((usize::from(seed.realm) % realm_count) as u8);
            let allowed_clients = match &seed.allowed_clients {
                None => AllowedClients::Any,
                Some(clients) => {
                    let mut ids: Vec<RealmId> = Vec::new();
                    for &client in clients {
                        let id = RealmId((usize::from(client) % realm_count) as u8);
                        if !ids.contains(&id) && fits(seed, provider, id) {
                            ids.push(id);
                        }
                    }
                    AllowedClients::Only(heapless::Vec::from_slice(&ids).expect("at most 16"))
                }
            };
            Service {
                name: unique_name(&seed.name, index),
                realm: provider,
                allowed_clients,
                allow_priority_inversion: seed.allow_priority_inversion,
                interface: seed.interface.as_deref().map(|name| name.try_into().expect("32")),
            }
        })
        .collect();
    for (index, realm) in realms.iter_mut().enumerate() {
        let provided = services.iter().filter(|s| s.realm.index() == index).count();
        let spare = usize::from(seeds.realms[index].spare_services) % 31;
        realm.max_services = (provided + spare) as u16;
    }
    let mut grants: Vec<Grant> = Vec::new();
    if !services.is_empty() {
        for &(client, service) in &seeds.grants {
            let service_index = usize::from(service) % services.len();
            let client = match &services[service_index].allowed_clients {
                AllowedClients::Any => RealmId((usize::from(client) % realm_count) as u8),
                AllowedClients::Only(ids) if ids.is_empty() => continue,
                AllowedClients::Only(ids) => ids[usize::from(client) % ids.len()],
            };
            let service = &services[service_index];
            let inverted = !service.allow_priority_inversion
                && priorities[client.index()] > priorities[service.realm.index()];
            let grant = Grant { client, service: ServiceId(service_index as u8) };
            if !inverted && !grants.contains(&grant) && grants.len() < MAX_DECLARED_GRANTS {
                grants.push(grant);
            }
        }
    }
    let budgets: u64 = realms.iter().map(|realm| realm.memory_bytes).sum();
    let settings = system_config::Settings {
        memory_bytes: budgets.max(system_config::DEFAULT_MACHINE_MEMORY),
        ..system_config::Settings::default()
    };
    SystemConfig {
        settings,
        realms: heapless::Vec::from_slice(&realms).expect("at most 32"),
        services: heapless::Vec::from_slice(&services).expect("at most 64"),
        grants: heapless::Vec::from_slice(&grants).expect("at most 128"),
    }
}

/// Writes `config` as a `system.toml`, with memory sizes in each accepted form.
fn to_toml(config: &SystemConfig) -> String {
    let mut text = String::from("# generated\n");
    writeln!(text, "[system]\nmemory = {}\n", config.settings.memory_bytes).unwrap();
    for (index, realm) in config.realms.iter().enumerate() {
        let memory = match index % 3 {
            0 => realm.memory_bytes.to_string(),
            1 => format!("\"{} KiB\"", realm.memory_bytes / 1024),
            _ => format!("\"{}\"", realm.memory_bytes),
        };
        writeln!(text, "[[realm]]\nname = \"{}\"\nprogram = \"{}\"", realm.name, realm.program)
            .unwrap();
        if let Some(parent) = realm.parent {
            writeln!(text, "parent = \"{}\"", config.realms[parent.index()].name).unwrap();
        }
        writeln!(
            text,
            "priority = {}\nmemory = {memory}\nrestartable = {}\nmax_connections = {}\n\
             max_services = {}",
            realm.priority, realm.restartable, realm.max_connections, realm.max_services
        )
        .unwrap();
        // Defaults are left out on every other realm, to check them too.
        let write_defaults = index % 2 == 0;
        if write_defaults || realm.max_threads != system_config::DEFAULT_MAX_THREADS {
            writeln!(text, "max_threads = {}", realm.max_threads).unwrap();
        }
        if write_defaults || realm.on_thread_fault != ThreadFaultPolicy::default() {
            writeln!(text, "on_thread_fault = \"{}\"", realm.on_thread_fault.name()).unwrap();
        }
        writeln!(text).unwrap();
    }
    for service in &config.services {
        let realm = &config.realms[service.realm.index()].name;
        writeln!(text, "[[service]]\nname = \"{}\"\nrealm = \"{realm}\"", service.name).unwrap();
        if service.allow_priority_inversion {
            writeln!(text, "allow_priority_inversion = true").unwrap();
        }
        if let Some(interface) = &service.interface {
            writeln!(text, "interface = \"{interface}\"").unwrap();
        }
        if let AllowedClients::Only(clients) = &service.allowed_clients {
            let names: Vec<String> = clients
                .iter()
                .map(|id| format!("\"{}\"", config.realms[id.index()].name))
                .collect();
            writeln!(text, "allowed_clients = [{}]", names.join(", ")).unwrap();
        }
    }
    for grant in &config.grants {
        let client = &config.realms[grant.client.index()].name;
        let service = &config.services[grant.service.index()].name;
        writeln!(text, "[[grant]]\nclient = \"{client}\"\nservice = \"{service}\"").unwrap();
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes_after_the_version(
        bytes in vec(any::<u8>(), 0..2048)
    ) {
        let mut input = vec![FORMAT_VERSION];
        input.extend(bytes);
        if let Ok(config) = decode(&input) {
            prop_assert_eq!(config.check(), Ok(()));
        }
    }

    #[test]
    fn decode_never_panics_on_a_corrupted_valid_config(
        seeds in seeds(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode(&build_config(&seeds)).expect("valid");
        for (position, value) in flips {
            let position = position.index(bytes.len());
            bytes[position] = value;
        }
        if let Ok(config) = decode(&bytes) {
            prop_assert_eq!(config.check(), Ok(()));
        }
    }

    #[test]
    fn valid_configs_round_trip_through_bytes(seeds in seeds()) {
        let config = build_config(&seeds);
        prop_assert_eq!(config.check(), Ok(()));
        let bytes = encode(&config).expect("valid configs encode");
        prop_assert_eq!(decode(&bytes).map(system_config::CheckedConfig::into_inner), Ok(config));
    }

    #[test]
    fn valid_configs_round_trip_through_system_toml(seeds in seeds()) {
        let config = build_config(&seeds);
        let text = to_toml(&config);
        let programs: Vec<&str> = config.realms.iter().map(|realm| realm.program.as_str()).collect();
        match parse("generated.toml", &text, &programs) {
            Ok(parsed) => prop_assert_eq!(parsed.into_inner(), config),
            Err(errors) => prop_assert!(false, "{}\n{:#?}", text, errors),
        }
    }

    /// The host's check of a broken configuration's text and the boot check of its bytes are
    /// one engine: the host reports exactly the rules of every finding the engine makes on
    /// the model, and the boot refuses the bytes for the engine's first one, which the host
    /// reports too.
    #[test]
    fn host_and_boot_refuse_a_broken_config_for_the_same_rules(
        seeds in seeds(),
        breaks in vec(a_break(), 1..4),
    ) {
        let mut config = build_config(&seeds);
        for broken in &breaks {
            apply(&mut config, broken);
        }
        let text = to_toml(&config);
        let programs: Vec<&str> = config.realms.iter().map(|realm| realm.program.as_str()).collect();
        let host = parse("broken.toml", &text, &programs);
        let mut engine: Vec<Rule> = Vec::new();
        system_config::rules::check(&config, &mut |finding| {
            engine.push(finding.rule());
            core::ops::ControlFlow::Continue(())
        });
        match (host, decode(&encode_unchecked(&config))) {
            (Ok(parsed), Ok(decoded)) => {
                prop_assert!(engine.is_empty());
                prop_assert_eq!(parsed.get(), &config);
                prop_assert_eq!(decoded.into_inner(), config);
            }
            (Err(errors), Err(DecodeError::Refused(first))) => {
                let mut host_rules: Vec<Rule> = errors.iter().map(|error| error.rule).collect();
                prop_assert!(host_rules.contains(&first.rule()), "{}\n{:#?}", text, errors);
                host_rules.sort_by_key(|rule| rule.code());
                engine.sort_by_key(|rule| rule.code());
                prop_assert_eq!(host_rules, engine, "{}", text);
            }
            (host, boot) => prop_assert!(false, "host {:#?}\nboot {:#?}\n{}", host, boot, text),
        }
    }
}
