//! Priority-inversion warnings (issue 10, item 4): a connect that run time allows and that
//! puts the client above the service's provider is logged as a warning naming both
//! priorities; a connect by a `[[grant]]` (which the system description's check saw) and a
//! client at or below the provider are not. Nothing is refused.
//!
//! ```text
//! 0 init (200) ─┬─ 1 store (120)   provides "kv"; init holds a [[grant]] to it
//!               ├─ 2 high  (150)   granted "kv" by init at run time: above the store
//!               └─ 3 low   (100)   granted "kv" by init at run time: below the store
//! ```
//!
//! The priorities are the system description's (`[[realm]] priority`); "kv" sets
//! `allow_priority_inversion`, without which the checker refuses init's grant.

use broker::{Broker, Event, KernelOp, Layout, LogLine, OpSink, Reply, Request, SlotRange};
use ipc::{Name, RealmId, Rule};
use system_config::CheckedConfig;

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const HIGH: RealmId = RealmId(2);
const LOW: RealmId = RealmId(3);
const PRIORITIES: [u8; 4] = [200, 120, 150, 100];
/// Every realm at one priority: nobody is above anybody.
const FLAT: [u8; 4] = [120; 4];

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

/// The system of the module documentation, with these priorities (and `kv` opting out of
/// the inversion check if `allow` is set).
fn system(priorities: [u8; 4], allow: bool) -> String {
    let realm = |text: &str, parent: Option<&str>, priority: u8| {
        let parent = parent.map_or(String::new(), |parent| format!("parent = \"{parent}\"\n"));
        format!(
            "[[realm]]\nname = \"{text}\"\nprogram = \"p\"\n{parent}priority = {priority}\n\
             memory = \"1 MiB\"\nmax_services = 2\nmax_connections = 4\n"
        )
    };
    let mut text = realm("init", None, priorities[0]);
    text += &realm("store", Some("init"), priorities[1]);
    text += &realm("high", Some("init"), priorities[2]);
    text += &realm("low", Some("init"), priorities[3]);
    text += &format!(
        "[[service]]\nname = \"kv\"\nrealm = \"store\"\nallow_priority_inversion = {allow}\n\
         [[grant]]\nclient = \"init\"\nservice = \"kv\"\n"
    );
    text
}

fn checked(priorities: [u8; 4]) -> &'static CheckedConfig {
    let config = system_config::parse("system.toml", &system(priorities, true), &["p"]).unwrap();
    Box::leak(Box::new(config))
}

const REALM_SLOTS: [SlotRange; 4] = [
    SlotRange { start: 100, count: 8 },
    SlotRange { start: 200, count: 8 },
    SlotRange { start: 300, count: 8 },
    SlotRange { start: 400, count: 8 },
];
const LAYOUT: Layout<'static> =
    Layout { realm_slots: &REALM_SLOTS, broker_slots: SlotRange { start: 1000, count: 16 } };

fn broker(priorities: [u8; 4]) -> Box<Broker<'static>> {
    let mut broker = Box::new(Broker::empty());
    broker.configure(checked(priorities), &LAYOUT).unwrap();
    broker
}

#[derive(Default)]
struct Output {
    events: Vec<Event>,
    lines: Vec<(String, &'static str, String)>,
}

impl OpSink for Output {
    fn run(&mut self, _op: KernelOp) {}

    fn log(&mut self, line: LogLine<'_>) {
        self.events.push(*line.event());
        let mut fields = String::new();
        line.fields(&mut |key, value| {
            fields.push_str(&format!(" {key}={value}"));
            Ok(())
        })
        .unwrap();
        self.lines.push((line.to_string(), line.kind(), fields));
        assert_eq!(line.is_warning(), line.kind() == "priority-inversion");
    }
}

fn handle(broker: &mut Broker<'_>, caller: RealmId, request: Request) -> (Reply, Output) {
    let mut output = Output::default();
    let reply = broker.handle(caller, &request, &mut output);
    (reply, output)
}

fn connect(broker: &mut Broker<'_>, client: RealmId) -> (Reply, Output) {
    handle(broker, client, Request::Connect { service: name("kv"), interface: None })
}

/// The broker with the store serving "kv" and init's run-time grants to high and low.
fn serving(priorities: [u8; 4]) -> Box<Broker<'static>> {
    let mut broker = broker(priorities);
    handle(
        &mut broker,
        STORE,
        Request::Register { service: name("kv"), interface: None, share: None },
    )
    .0
    .unwrap();
    for child in [HIGH, LOW] {
        let grant = Request::Grant {
            child: name(["", "", "high", "low"][child.0 as usize]),
            service: name("kv"),
        };
        handle(&mut broker, INIT, grant).0.unwrap();
    }
    broker
}

fn inversions(output: &Output) -> Vec<Event> {
    output
        .events
        .iter()
        .copied()
        .filter(|event| matches!(event, Event::PriorityInversion { .. }))
        .collect()
}

#[test]
fn a_delegated_connect_above_the_provider_is_warned_about_with_both_priorities() {
    let mut broker = serving(PRIORITIES);
    let (reply, output) = connect(&mut broker, HIGH);
    reply.expect("allowed: a warning refuses nothing");
    let warnings = inversions(&output);
    assert_eq!(warnings.len(), 1, "{:?}", output.lines);
    let Event::PriorityInversion {
        client,
        service,
        provider,
        client_priority,
        provider_priority,
        rule,
        ..
    } = warnings[0]
    else {
        unreachable!()
    };
    assert_eq!((client, provider, service), (HIGH, STORE, name("kv")));
    assert_eq!((client_priority, provider_priority, rule), (150, 120, Rule::ParentGrant));
    // After the connect's own line; printed as a sentence and an event's fields.
    assert_eq!(output.lines[0].1, "connect-allowed");
    let (sentence, kind, fields) = &output.lines[1];
    assert_eq!(kind, &"priority-inversion");
    assert!(
        sentence.starts_with(
            "warning: priority inversion: realm \"high\" (priority 150) reaches service \"kv\" \
             of realm \"store\" (priority 120) as connection "
        ),
        "{sentence}"
    );
    assert!(fields.contains(" realm=high service=kv provider=store connection="), "{fields}");
    assert!(
        fields.ends_with(" client-priority=150 provider-priority=120 rule=parent-grant"),
        "{fields}"
    );
}

#[test]
fn static_grants_lower_clients_and_a_flat_system_warn_about_nothing() {
    let mut broker = serving(PRIORITIES);
    for client in [INIT, LOW] {
        let (reply, output) = connect(&mut broker, client);
        reply.expect("allowed");
        assert!(inversions(&output).is_empty(), "{:?}", output.lines);
    }
    let mut broker = serving(FLAT);
    let (reply, output) = connect(&mut broker, HIGH);
    reply.expect("allowed");
    assert!(inversions(&output).is_empty(), "{:?}", output.lines);
}

/// The priorities are the configuration's, and configuring again replaces them.
#[test]
fn priorities_are_the_configurations_and_configure_replaces_them() {
    let mut broker = broker(PRIORITIES);
    for realm in [INIT, STORE, HIGH, LOW] {
        assert_eq!(broker.policy().priority(realm), Some(PRIORITIES[usize::from(realm.0)]));
    }
    assert_eq!(broker.policy().priority(RealmId(4)), None);
    broker.configure(checked(FLAT), &LAYOUT).unwrap();
    assert_eq!(broker.policy().priority(HIGH), Some(120));
    assert_eq!(broker.policy().parent(HIGH), Some(INIT));
}

/// A `[[grant]]` from above the provider is the checker's to refuse (unless the service opts
/// out): the broker never warns about one.
#[test]
fn a_static_grant_above_the_provider_needs_the_services_opt_out() {
    let errors =
        system_config::parse("system.toml", &system(PRIORITIES, false), &["p"]).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == system_config::Rule::PriorityInversion), "{errors:?}");
    system_config::parse("system.toml", &system(FLAT, false), &["p"]).unwrap();
}
