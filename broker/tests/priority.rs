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

use broker::{
    Broker, BrokerConfig, ConfigError, Event, KernelOp, LogLine, OpSink, Quota, RealmSpec, Reply,
    Request, SlotRange,
};
use ipc::{Name, RealmId, Rule};
use policy::{Grant, ServiceDecl};

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const HIGH: RealmId = RealmId(2);
const LOW: RealmId = RealmId(3);
const PRIORITIES: [u8; 4] = [200, 120, 150, 100];

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn broker() -> Box<Broker> {
    let realm = |text, parent, start| RealmSpec {
        name: name(text),
        parent,
        slots: SlotRange { start, count: 8 },
        quota: Quota { max_services: 2, max_connections: 4 },
    };
    let realms = [
        realm("init", None, 100),
        realm("store", Some(INIT), 200),
        realm("high", Some(INIT), 300),
        realm("low", Some(INIT), 400),
    ];
    let services =
        [ServiceDecl { service: name("kv"), provider: Some(STORE), allowed_clients: None }];
    let mut broker = Box::new(Broker::empty());
    broker
        .configure(&BrokerConfig {
            realms: &realms,
            grants: &[Grant { client: INIT, service: name("kv") }],
            services: &services,
            broker_slots: SlotRange { start: 1000, count: 16 },
        })
        .unwrap();
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

fn handle(broker: &mut Broker, caller: RealmId, request: Request) -> (Reply, Output) {
    let mut output = Output::default();
    let reply = broker.handle(caller, &request, &mut output);
    (reply, output)
}

fn connect(broker: &mut Broker, client: RealmId) -> (Reply, Output) {
    handle(broker, client, Request::Connect { service: name("kv") })
}

/// The broker with the store serving "kv" and init's run-time grants to high and low.
fn serving(priorities: bool) -> Box<Broker> {
    let mut broker = broker();
    if priorities {
        broker.set_priorities(&PRIORITIES).unwrap();
    }
    handle(&mut broker, STORE, Request::Register { service: name("kv") }).0.unwrap();
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
    let mut broker = serving(true);
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
fn static_grants_lower_clients_and_a_broker_without_priorities_warn_about_nothing() {
    let mut broker = serving(true);
    for client in [INIT, LOW] {
        let (reply, output) = connect(&mut broker, client);
        reply.expect("allowed");
        assert!(inversions(&output).is_empty(), "{:?}", output.lines);
    }
    let mut broker = serving(false);
    let (reply, output) = connect(&mut broker, HIGH);
    reply.expect("allowed");
    assert!(inversions(&output).is_empty(), "{:?}", output.lines);
}

#[test]
fn priorities_must_match_the_realms_and_configure_forgets_them() {
    let mut broker = broker();
    assert_eq!(
        broker.set_priorities(&[1, 2]),
        Err(ConfigError::PrioritiesMismatch { priorities: 2, realms: 4 })
    );
    broker.set_priorities(&PRIORITIES).unwrap();
    assert_eq!(broker.policy().parent(HIGH), Some(INIT));
}
