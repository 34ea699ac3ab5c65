//! Scenario tests of the broker, on this system (`SYSTEM`, checked by `system_config::parse`):
//!
//! ```text
//! 0 init ── 1 store (the declared provider of "kv"; allowed clients: app, plugin)
//!   (init: the declared provider of "vault"; allowed clients: store)
//!        └─ 2 app ── 3 plugin
//!                 └─ 4 guest
//! ```
//! The system description grants "kv" to app. Every realm may have 2 services and 3
//! connections; realm i's broker slots are 100 * (i + 1) to 100 * (i + 1) + 3.

use ipc::{
    Badge, CloseReason, ConnectionId, Error, InterfaceId, Missing, Resource, Response, Rule,
    ServiceIndex,
};
use service_registry::CapSlot;
use system_config::Rule as ConfigRule;

use super::*;
use crate::ops::Unavailable;

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const APP: RealmId = RealmId(2);
const PLUGIN: RealmId = RealmId(3);
const GUEST: RealmId = RealmId(4);

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

/// One `[[realm]]` (priority 100, 1 MiB, 2 services, 3 connections).
fn realm_toml(name: &str, parent: Option<&str>) -> String {
    let parent = parent.map_or(String::new(), |parent| format!("parent = \"{parent}\"\n"));
    format!(
        "[[realm]]\nname = \"{name}\"\nprogram = \"p\"\n{parent}priority = 100\n\
         memory = \"1 MiB\"\nmax_services = 2\nmax_connections = 3\n"
    )
}

/// The realm tree of the module documentation.
fn realms_toml() -> String {
    [
        ("init", None),
        ("store", Some("init")),
        ("app", Some("init")),
        ("plugin", Some("app")),
        ("guest", Some("app")),
    ]
    .iter()
    .map(|&(name, parent)| realm_toml(name, parent))
    .collect()
}

const KV: &str = "[[service]]\nname = \"kv\"\nrealm = \"store\"\nallowed_clients = [\"app\", \"plugin\"]\n\
                  [[grant]]\nclient = \"app\"\nservice = \"kv\"\n";
const VAULT: &str =
    "[[service]]\nname = \"vault\"\nrealm = \"init\"\nallowed_clients = [\"store\"]\n";

fn parse(text: &str) -> Result<system_config::CheckedConfig, Vec<system_config::ConfigError>> {
    system_config::parse("system.toml", text, &["p"])
}

/// `text`, checked, for the rest of the test run (a test's broker borrows it).
fn checked(text: &str) -> &'static system_config::CheckedConfig {
    let config = parse(text).unwrap_or_else(|errors| panic!("{errors:?}\n{text}"));
    Box::leak(Box::new(config))
}

/// The rule the checker refuses `text` with (among others, perhaps).
fn refused_with(text: &str, rule: ConfigRule) {
    let errors = parse(text).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == rule), "{rule:?} expected: {errors:?}\n{text}");
}

/// Realm i's broker slots, 100 * (i + 1) to 100 * (i + 1) + 3.
const REALM_SLOTS: [SlotRange; 5] = [
    SlotRange { start: 100, count: 4 },
    SlotRange { start: 200, count: 4 },
    SlotRange { start: 300, count: 4 },
    SlotRange { start: 400, count: 4 },
    SlotRange { start: 500, count: 4 },
];

const LAYOUT: Layout<'static> =
    Layout { realm_slots: &REALM_SLOTS, broker_slots: SlotRange { start: 1000, count: 8 } };

fn broker() -> Box<Broker<'static>> {
    let config = checked(&format!("{}{KV}{VAULT}", realms_toml()));
    let mut broker = Box::new(Broker::empty());
    broker.configure(config, &LAYOUT).unwrap();
    broker
}

/// What one call produced: its kernel ops, and its log events and their lines.
#[derive(Default, Debug)]
struct Output {
    ops: Vec<KernelOp>,
    events: Vec<Event>,
    lines: Vec<String>,
    /// Each event's record: its kind, then `key=value` for each field.
    records: Vec<String>,
}

impl OpSink for Output {
    fn run(&mut self, op: KernelOp) {
        self.ops.push(op);
    }

    fn log(&mut self, line: LogLine<'_>) {
        self.events.push(*line.event());
        self.lines.push(line.to_string());
        let mut record = line.kind().to_string();
        line.fields(&mut |key, value| {
            record += &format!(" {key}={value}");
            Ok(())
        })
        .unwrap();
        self.records.push(record);
    }
}

impl Output {
    fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.events.is_empty()
    }
}

fn handle(broker: &mut Broker<'_>, caller: RealmId, request: Request) -> (Reply, Output) {
    let mut output = Output::default();
    let reply = broker.handle(caller, &request, &mut output);
    (reply, output)
}

fn register(broker: &mut Broker<'_>, owner: RealmId, service: &str) -> (Reply, Output) {
    handle(
        broker,
        owner,
        Request::Register { service: name(service), interface: None, share: None },
    )
}

fn connect(broker: &mut Broker<'_>, client: RealmId, service: &str) -> (Reply, Output) {
    handle(broker, client, Request::Connect { service: name(service), interface: None })
}

fn died(broker: &mut Broker<'_>, realm: RealmId) -> Output {
    let mut output = Output::default();
    broker.realm_died(realm, &mut output);
    output
}

fn connection_of(reply: Reply) -> ConnectionId {
    match reply {
        Ok(Response::Connected { connection, .. }) => connection,
        other => panic!("not connected: {other:?}"),
    }
}

fn realm_slot(realm: RealmId, slot: u64) -> RealmSlot {
    RealmSlot { realm, slot: CapSlot(slot) }
}

#[test]
fn register_creates_an_endpoint_and_hands_out_a_receive_cap() {
    let mut broker = broker();
    let (reply, out) = register(&mut broker, STORE, "kv");
    assert_eq!(
        reply,
        Ok(Response::Registered {
            endpoint_slot: 200,
            generation: 1,
            index: ipc::ServiceIndex::FIRST
        })
    );
    assert_eq!(
        out.ops[..3],
        [
            KernelOp::CreateEndpoint { slot: CapSlot(1000) },
            KernelOp::DeleteInRealm { slot: realm_slot(STORE, 200) },
            KernelOp::CopyToRealm {
                from: CapSlot(1000),
                into: realm_slot(STORE, 200),
                rights: rights::RECEIVE
            },
        ]
    );
    assert_eq!(
        out.lines,
        ["register allowed: realm \"store\" -> service \"kv\" (generation 1): \
             declared as the service's provider in the init configuration"]
    );
}

#[test]
fn register_refusals() {
    let mut broker = broker();
    let (reply, out) = register(&mut broker, APP, "kv");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NotDeclaredProvider }));
    assert_eq!(
        out.lines,
        ["register denied: realm \"app\" -> service \"kv\": \
             the init configuration declares another realm as the provider"]
    );
    register(&mut broker, STORE, "kv").0.unwrap();
    assert_eq!(register(&mut broker, STORE, "kv").0, Err(Error::AlreadyRegistered));
    register(&mut broker, STORE, "db").0.unwrap();
    assert_eq!(
        register(&mut broker, STORE, "log").0,
        Err(Error::QuotaExceeded { what: Resource::RealmServices })
    );
}

#[test]
fn connect_mints_a_badged_copy_and_gives_the_client_a_send_cap() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let (reply, out) = connect(&mut broker, APP, "kv");
    let connection = ConnectionId::new(0, 1).unwrap();
    assert_eq!(reply, Ok(Response::Connected { connection, slot: 300, service_generation: 1 }));
    assert_eq!(
        out.ops[..3],
        [
            KernelOp::Mint {
                from: CapSlot(1000),
                into: CapSlot(1001),
                badge: Badge::for_connection(connection, ipc::ServiceIndex::FIRST),
                rights: rights::BROKER_COPY
            },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::CopyToRealm {
                from: CapSlot(1001),
                into: realm_slot(APP, 300),
                rights: rights::CLIENT
            },
        ]
    );
    assert_eq!(
        out.lines,
        ["connect allowed: realm \"app\" -> service \"kv\" as connection 0.1: \
             granted in the init configuration"]
    );
    assert_eq!(
        handle(&mut broker, APP, Request::Status { connection }).0,
        Ok(Response::Live { service_generation: 1 })
    );
}

#[test]
fn denied_connects_are_loud_and_mint_nothing() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    register(&mut broker, GUEST, "guestbook").0.unwrap();
    let (reply, out) = connect(&mut broker, INIT, "kv");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NoRoute }));
    assert!(out.ops.is_empty());
    assert_eq!(out.events.len(), 1);
    // "guestbook" is declared nowhere: plugin (guest's sibling) is denied as if it were not
    // registered, not told that a sibling has it.
    let (reply, out) = connect(&mut broker, PLUGIN, "guestbook");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NoRoute }));
    assert_eq!(
        out.events,
        [Event::Denied {
            realm: PLUGIN,
            action: Action::Connect,
            service: name("guestbook"),
            grantee: None,
            rule: Rule::NoRoute
        }]
    );
    assert_eq!(
        out.lines,
        ["connect denied: realm \"plugin\" -> service \"guestbook\": \
             no grant, and the service is neither its own nor its parent's"]
    );
    assert_eq!(
        broker.policy().decide_connect(PLUGIN, &name("guestbook"), GUEST),
        policy::Decision::Denied { rule: Rule::SiblingNeedsGrant }
    );
    assert_eq!(connect(&mut broker, APP, "nothing").0, Err(Error::Denied { rule: Rule::NoRoute }));
}

/// A realm that may not reach a service is denied the same before it is registered, while
/// it is, after its provider died, and after it is gone: connect is no oracle.
#[test]
fn a_denial_is_the_same_whether_or_not_the_service_exists() {
    let mut broker = broker();
    let denials = |broker: &mut Broker<'_>| {
        [(GUEST, "kv"), (INIT, "kv"), (PLUGIN, "kv"), (GUEST, "guestbook"), (INIT, "ghost")]
            .map(|(realm, service)| connect(broker, realm, service).0)
    };
    let before = denials(&mut broker);
    assert_eq!(
        before,
        [
            Err(Error::Denied { rule: Rule::NoRoute }),
            Err(Error::Denied { rule: Rule::NoRoute }),
            Err(Error::Denied { rule: Rule::NoRoute }),
            Err(Error::Denied { rule: Rule::NoRoute }),
            Err(Error::Denied { rule: Rule::NoRoute }),
        ]
    );
    // The provider itself is not on kv's list, registered or not.
    let not_listed = Err(Error::Denied { rule: Rule::NotInAllowedClients });
    assert_eq!(connect(&mut broker, STORE, "kv").0, not_listed);
    register(&mut broker, STORE, "kv").0.unwrap();
    assert_eq!(connect(&mut broker, STORE, "kv").0, not_listed);
    register(&mut broker, INIT, "guestbook").0.unwrap();
    register(&mut broker, STORE, "ghost").0.unwrap();
    assert_eq!(denials(&mut broker), before);
    died(&mut broker, STORE);
    broker.set_restarting(STORE, true).unwrap();
    assert_eq!(denials(&mut broker), before);
    broker.set_restarting(STORE, false).unwrap();
    assert_eq!(denials(&mut broker), before);
}

/// A realm that may reach a service and finds nothing to connect to hears why, logged as a
/// refusal: unknown, not registered yet, restarting, gone.
#[test]
fn connect_says_why_there_is_nothing_to_connect_to() {
    let mut broker = broker();
    // A name declared nowhere is reached by nobody until some realm registers it (a grant
    // of it, which once let a realm ask for it and hear "no such service", is refused by the
    // checker: `unknown-grant-service`).
    refused_with(
        &format!("{}{KV}[[grant]]\nclient = \"app\"\nservice = \"ghost\"\n", realms_toml()),
        ConfigRule::UnknownGrantService,
    );
    let (reply, out) = connect(&mut broker, APP, "ghost");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NoRoute }));
    assert_eq!(
        out.events,
        [Event::Denied {
            realm: APP,
            action: Action::Connect,
            service: name("ghost"),
            grantee: None,
            rule: Rule::NoRoute
        }]
    );
    assert_eq!(broker.unavailable(&name("ghost")), Unavailable::Unknown);
    assert_eq!(
        broker
            .log_line(&Event::Unavailable {
                realm: APP,
                service: name("ghost"),
                state: Unavailable::Unknown
            })
            .to_string(),
        "connect refused: realm \"app\" -> service \"ghost\": not found: no such service"
    );
    let (reply, out) = connect(&mut broker, APP, "kv");
    assert_eq!(reply, Err(Error::NotYetRegistered));
    assert!(out.ops.is_empty());
    assert_eq!(
        out.lines,
        ["connect refused: realm \"app\" -> service \"kv\": the service is declared but its \
          provider has not registered it yet: connect again later"]
    );
    register(&mut broker, STORE, "kv").0.unwrap();
    connection_of(connect(&mut broker, APP, "kv").0);
    died(&mut broker, STORE);
    broker.set_restarting(STORE, true).unwrap();
    assert_eq!(connect(&mut broker, APP, "kv").0, Err(Error::ServiceRestarting));
    broker.realm_started(STORE).unwrap();
    assert_eq!(connect(&mut broker, APP, "kv").0, Err(Error::ServiceRestarting));
    register(&mut broker, STORE, "kv").0.unwrap();
    connection_of(connect(&mut broker, APP, "kv").0);
    // It dies for good: gone, and the answers say whether to try again.
    died(&mut broker, STORE);
    let (reply, out) = connect(&mut broker, APP, "kv");
    assert_eq!(reply, Err(Error::ServiceGone));
    assert!(
        out.lines[0]
            .ends_with("the service is gone for good: its provider stopped and will not be back")
    );
    assert!(!Error::ServiceGone.may_succeed_later());
    assert!(Error::NotYetRegistered.may_succeed_later());
    assert!(Error::ServiceRestarting.may_succeed_later());
    // Withdrawn while its provider runs: not registered (again) yet.
    broker.realm_started(STORE).unwrap();
    register(&mut broker, STORE, "kv").0.unwrap();
    broker.withdraw_service(&name("kv"), &mut Output::default());
    assert_eq!(connect(&mut broker, APP, "kv").0, Err(Error::NotYetRegistered));
}

#[test]
fn allowed_clients_apply_on_top_of_grants() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    register(&mut broker, INIT, "log").0.unwrap();
    // "log" has no list: app reaches its parent's service.
    connect(&mut broker, APP, "log").0.unwrap();
    // plugin is on kv's list and reaches kv through app's grant.
    let grant = Request::Grant { child: name("plugin"), service: name("kv") };
    assert_eq!(handle(&mut broker, APP, grant).0, Ok(Response::Done));
    let (reply, _) = connect(&mut broker, PLUGIN, "kv");
    connection_of(reply);
    // store reaches its own service, but is not on its list.
    let (reply, out) = connect(&mut broker, STORE, "kv");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NotInAllowedClients }));
    assert_eq!(
        out.lines,
        ["connect denied: realm \"store\" -> service \"kv\": \
             not in the service's allowed clients"]
    );
}

#[test]
fn the_service_owner_may_close_one_clients_connection() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let kicked = connection_of(connect(&mut broker, APP, "kv").0);
    let kept = connection_of(connect(&mut broker, APP, "kv").0);
    let (reply, out) = handle(&mut broker, STORE, Request::Disconnect { connection: kicked });
    assert_eq!(reply, Ok(Response::Done));
    assert_eq!(out.ops[0], KernelOp::Revoke { slot: CapSlot(1001) });
    assert_eq!(
        out.lines,
        ["connection 0.1 closed: realm \"app\" -> service \"kv\": closed by the service"]
    );
    let closed = Err(Error::Disconnected { reason: CloseReason::ByService });
    assert_eq!(handle(&mut broker, APP, Request::Status { connection: kicked }).0, closed);
    assert!(handle(&mut broker, APP, Request::Status { connection: kept }).0.is_ok());
    // Anyone else is still refused.
    assert_eq!(
        handle(&mut broker, PLUGIN, Request::Disconnect { connection: kept }).0,
        Err(Error::NotFound { what: Missing::Connection })
    );
}

#[test]
fn a_connection_closed_by_its_service_keeps_the_client_slot_until_the_client_lets_go() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let (reply, _) = connect(&mut broker, APP, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 300, .. })));
    let kicked = connection_of(reply);
    let (reply, out) = handle(&mut broker, STORE, Request::Disconnect { connection: kicked });
    assert_eq!(reply, Ok(Response::Done));
    // The caps go exactly as for any closure; the broker copy's slot is free again.
    assert_eq!(
        out.ops,
        [
            KernelOp::Revoke { slot: CapSlot(1001) },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::CancelBadgedSends { slot: CapSlot(1001) },
            KernelOp::Delete { slot: CapSlot(1001) },
        ]
    );
    assert_eq!(broker.broker_slots_in_use(), 1);
    // app's slot 300 is still taken: its stale handle names it, so a new connection goes
    // elsewhere.
    assert_eq!(broker.realm_slots_in_use(APP), 1);
    let (reply, _) = connect(&mut broker, APP, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 301, .. })), "{reply:?}");
    // Status reads and releases nothing.
    let status = Request::Status { connection: kicked };
    let closed = Err(Error::Disconnected { reason: CloseReason::ByService });
    assert_eq!(handle(&mut broker, APP, status).0, closed);
    assert_eq!(broker.realm_slots_in_use(APP), 2);
    // Only the client lets go, once, with no kernel op.
    let let_go = Request::Disconnect { connection: kicked };
    assert_eq!(
        handle(&mut broker, PLUGIN, let_go).0,
        Err(Error::NotFound { what: Missing::Connection })
    );
    assert_eq!(
        handle(&mut broker, STORE, let_go).0,
        Err(Error::NotFound { what: Missing::Connection })
    );
    let (reply, out) = handle(&mut broker, APP, let_go);
    assert_eq!(reply, Ok(Response::Done));
    assert!(out.is_empty());
    assert_eq!(broker.realm_slots_in_use(APP), 1);
    assert_eq!(broker.registry().reserved_slots_of(APP), 0);
    assert_eq!(handle(&mut broker, APP, let_go).0, closed);
    assert_eq!(handle(&mut broker, APP, status).0, closed);
    assert_eq!(broker.realm_slots_in_use(APP), 1);
    // Now slot 300 is free for the next connection.
    let (reply, _) = connect(&mut broker, APP, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 300, .. })), "{reply:?}");
}

#[test]
fn closures_the_client_chose_or_its_death_free_the_slot_at_once() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let mine = connection_of(connect(&mut broker, APP, "kv").0);
    assert_eq!(
        handle(&mut broker, APP, Request::Disconnect { connection: mine }).0,
        Ok(Response::Done)
    );
    assert_eq!(broker.realm_slots_in_use(APP), 0);
    assert_eq!(broker.registry().reserved_slots_of(APP), 0);
    connect(&mut broker, APP, "kv").0.unwrap();
    died(&mut broker, APP);
    assert_eq!(broker.realm_slots_in_use(APP), 0);
    assert_eq!(broker.registry().reserved_slots_of(APP), 0);
}

#[test]
fn a_dead_client_realm_frees_the_slots_its_closed_connections_reserved() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    register(&mut broker, INIT, "log").0.unwrap();
    let kicked = connection_of(connect(&mut broker, APP, "kv").0);
    connect(&mut broker, APP, "log").0.unwrap();
    handle(&mut broker, STORE, Request::Disconnect { connection: kicked }).0.unwrap();
    let mut out = Output::default();
    broker.withdraw_service(&name("log"), &mut out);
    assert_eq!(broker.realm_slots_in_use(APP), 2);
    assert_eq!(broker.registry().reserved_slots_of(APP), 2);
    let out = died(&mut broker, APP);
    // Nothing of app's was left to close: releasing needs no kernel op.
    assert!(out.ops.is_empty());
    assert_eq!(broker.realm_slots_in_use(APP), 0);
    assert_eq!(broker.registry().reserved_slots_of(APP), 0);
    // Restarted, app has its whole range and the old connection is reported as closed.
    broker.realm_started(APP).unwrap();
    let let_go = Request::Disconnect { connection: kicked };
    assert_eq!(
        handle(&mut broker, APP, let_go).0,
        Err(Error::Disconnected { reason: CloseReason::ByService })
    );
    let (reply, _) = connect(&mut broker, APP, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 300, .. })), "{reply:?}");
}

/// The issue-10 recipe, for each closure the client did not choose: its slot stays reserved
/// across two thousand reuses of the connection table, so no newer connection gets it.
#[test]
fn a_reserved_slot_outlives_any_number_of_connection_table_reuses() {
    for closure in [CloseReason::ByService, CloseReason::AccessRevoked, CloseReason::ServiceGone] {
        let mut broker = broker();
        register(&mut broker, STORE, "kv").0.unwrap();
        register(&mut broker, INIT, "log").0.unwrap();
        handle(&mut broker, APP, Request::Grant { child: name("plugin"), service: name("kv") })
            .0
            .unwrap();
        // plugin's connection to kv, in plugin's slot 400, closes without plugin asking.
        let (reply, _) = connect(&mut broker, PLUGIN, "kv");
        assert!(matches!(reply, Ok(Response::Connected { slot: 400, .. })), "{reply:?}");
        let stale = connection_of(reply);
        let revoke = Request::RevokeGrant { child: name("plugin"), service: name("kv") };
        match closure {
            CloseReason::ByService => {
                handle(&mut broker, STORE, Request::Disconnect { connection: stale }).0.unwrap();
            }
            CloseReason::AccessRevoked => handle(&mut broker, APP, revoke).0.map(|_| ()).unwrap(),
            _ => broker.withdraw_service(&name("kv"), &mut Output::default()),
        }
        assert_eq!(broker.registry().reserved_slots_of(PLUGIN), 1);
        // plugin reaches its parent app's... nothing; app's own cycles reuse every entry.
        for _ in 0..2 * MAX_CONNECTIONS + 50 {
            let (reply, _) = connect(&mut broker, APP, "log");
            let connection = connection_of(reply);
            assert_ne!(connection.index(), stale.index(), "{closure:?}");
            handle(&mut broker, APP, Request::Disconnect { connection }).0.unwrap();
        }
        assert_eq!(broker.realm_slots_in_use(PLUGIN), 1);
        let status = Request::Status { connection: stale };
        assert_eq!(
            handle(&mut broker, PLUGIN, status).0,
            Err(Error::Disconnected { reason: closure })
        );
        // Its next connection takes another slot; letting go frees 400 for the one after.
        register(&mut broker, PLUGIN, "mine").0.unwrap_or_else(|e| panic!("{e}"));
        let (reply, _) = connect(&mut broker, PLUGIN, "mine");
        assert!(matches!(reply, Ok(Response::Connected { slot: 402, .. })), "{reply:?}");
        let let_go = Request::Disconnect { connection: stale };
        assert_eq!(handle(&mut broker, PLUGIN, let_go).0, Ok(Response::Done));
        let (reply, _) = connect(&mut broker, PLUGIN, "mine");
        assert!(matches!(reply, Ok(Response::Connected { slot: 400, .. })), "{reply:?}");
    }
}

/// A slot reserved for a closed connection counts against its client's connection quota
/// until the client lets go of it.
#[test]
fn reserved_slots_count_against_the_connection_quota() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let kicked = connection_of(connect(&mut broker, APP, "kv").0);
    handle(&mut broker, STORE, Request::Disconnect { connection: kicked }).0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    // 2 open and 1 reserved: app's quota of 3 is used up.
    assert_eq!(
        connect(&mut broker, APP, "kv").0,
        Err(Error::QuotaExceeded { what: Resource::RealmConnections })
    );
    handle(&mut broker, APP, Request::Disconnect { connection: kicked }).0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
}

#[test]
fn disconnect_revokes_exactly_one_connection() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let first = connection_of(connect(&mut broker, APP, "kv").0);
    let second = connection_of(connect(&mut broker, APP, "kv").0);
    assert_eq!(
        handle(&mut broker, PLUGIN, Request::Disconnect { connection: first }).0,
        Err(Error::NotFound { what: Missing::Connection })
    );
    let (reply, out) = handle(&mut broker, APP, Request::Disconnect { connection: first });
    assert_eq!(reply, Ok(Response::Done));
    assert_eq!(
        out.ops[..4],
        [
            KernelOp::Revoke { slot: CapSlot(1001) },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::CancelBadgedSends { slot: CapSlot(1001) },
            KernelOp::Delete { slot: CapSlot(1001) },
        ]
    );
    assert_eq!(
        out.lines,
        ["connection 0.1 closed: realm \"app\" -> service \"kv\": closed by the client"]
    );
    let disconnected = Err(Error::Disconnected { reason: CloseReason::ByClient });
    assert_eq!(handle(&mut broker, APP, Request::Disconnect { connection: first }).0, disconnected);
    assert_eq!(handle(&mut broker, APP, Request::Status { connection: first }).0, disconnected);
    assert!(handle(&mut broker, APP, Request::Status { connection: second }).0.is_ok());
    assert_eq!(
        handle(&mut broker, APP, Request::Status { connection: ConnectionId::new(9, 1).unwrap() })
            .0,
        Err(Error::NotFound { what: Missing::Connection })
    );
    // The freed slots are reused.
    let (reply, _) = connect(&mut broker, APP, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 300, .. })));
}

#[test]
fn connection_quotas_and_slots_run_out_cleanly() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    for _ in 0..3 {
        connect(&mut broker, APP, "kv").0.unwrap();
    }
    assert_eq!(
        connect(&mut broker, APP, "kv").0,
        Err(Error::QuotaExceeded { what: Resource::RealmConnections })
    );
    // app has 4 slots: 3 connections and a service use them up.
    register(&mut broker, APP, "ui").0.unwrap();
    assert_eq!(broker.realm_slots_in_use(APP), 4);
    assert_eq!(
        register(&mut broker, APP, "ui2").0,
        Err(Error::QuotaExceeded { what: Resource::RealmSlots })
    );
    // The refused register returned the broker slot it had taken.
    assert_eq!(broker.broker_slots_in_use(), 5);
}

#[test]
fn revoking_a_grant_closes_what_relied_on_it() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let grant = Request::Grant { child: name("plugin"), service: name("kv") };
    let (reply, out) = handle(&mut broker, INIT, grant);
    assert_eq!(reply, Err(Error::Denied { rule: Rule::NotParent }));
    assert_eq!(
        out.lines,
        ["grant denied: realm \"init\" -> realm \"plugin\", service \"kv\": \
             only a realm's parent may grant to it or revoke its grants"]
    );
    assert_eq!(handle(&mut broker, APP, grant).0, Ok(Response::Done));
    let (reply, out) = connect(&mut broker, PLUGIN, "kv");
    let plugin_connection = connection_of(reply);
    assert!(out.lines[0].ends_with("granted at run time by the client's parent"));
    let app_connection = connection_of(connect(&mut broker, APP, "kv").0);

    let revoke = Request::RevokeGrant { child: name("plugin"), service: name("kv") };
    let (reply, out) = handle(&mut broker, APP, revoke);
    assert_eq!(reply, Ok(Response::Done));
    assert!(out.ops.contains(&KernelOp::Revoke { slot: CapSlot(1001) }));
    assert_eq!(
        out.lines,
        [
            "grant revoked: realm \"app\" no longer lets realm \"plugin\" reach service \"kv\"",
            "connection 0.1 closed: realm \"plugin\" -> service \"kv\": \
             the grant it relied on was revoked"
        ]
    );
    assert_eq!(
        handle(&mut broker, PLUGIN, Request::Status { connection: plugin_connection }).0,
        Err(Error::Disconnected { reason: CloseReason::AccessRevoked })
    );
    assert!(handle(&mut broker, APP, Request::Status { connection: app_connection }).0.is_ok());
    // plugin's slot stays reserved until it lets go of the connection.
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 1);
    let let_go = Request::Disconnect { connection: plugin_connection };
    assert_eq!(handle(&mut broker, PLUGIN, let_go).0, Ok(Response::Done));
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 0);
    assert_eq!(handle(&mut broker, APP, revoke).0, Err(Error::NotFound { what: Missing::Grant }));
    assert_eq!(
        handle(&mut broker, APP, Request::Grant { child: name("nobody"), service: name("kv") }).0,
        Err(Error::NotFound { what: Missing::Realm })
    );
}

/// A grant that could never be used is refused at grant time with its rule, logged like every
/// denial, and records nothing; whether the service is registered makes no difference.
#[test]
fn grants_that_could_never_be_used_are_refused() {
    let mut broker = broker();
    for registered in [false, true] {
        if registered {
            register(&mut broker, STORE, "kv").0.unwrap();
            register(&mut broker, INIT, "vault").0.unwrap();
        }
        // init cannot reach kv itself: it has nothing to pass on to app.
        let grant = Request::Grant { child: name("app"), service: name("kv") };
        let (reply, out) = handle(&mut broker, INIT, grant);
        assert_eq!(reply, Err(Error::Denied { rule: Rule::GranterDoesNotReach }));
        assert_eq!(
            out.lines,
            ["grant denied: realm \"init\" -> realm \"app\", service \"kv\": the granter cannot \
              reach the service itself, and a grant passes on only what the granter has"]
        );
        assert!(out.ops.is_empty());
        // init owns vault, but vault accepts only store.
        let grant = Request::Grant { child: name("app"), service: name("vault") };
        let (reply, out) = handle(&mut broker, INIT, grant);
        assert_eq!(reply, Err(Error::Denied { rule: Rule::GranteeNotInAllowedClients }));
        assert_eq!(
            out.events,
            [Event::Denied {
                realm: INIT,
                action: Action::Grant,
                service: name("vault"),
                grantee: Some(APP),
                rule: Rule::GranteeNotInAllowedClients
            }]
        );
        assert_eq!(broker.log_line(&out.events[0]).kind(), "grant-denied");
        let refused = [
            policy::RuntimeGrant { client: APP, service: name("kv") },
            policy::RuntimeGrant { client: APP, service: name("vault") },
        ];
        assert!(broker.policy().runtime_grants().iter().all(|grant| !refused.contains(grant)));
        // What may be used is accepted.
        let grant = Request::Grant { child: name("store"), service: name("vault") };
        assert_eq!(handle(&mut broker, INIT, grant).0, Ok(Response::Done));
        let grant = Request::Grant { child: name("plugin"), service: name("kv") };
        assert_eq!(handle(&mut broker, APP, grant).0, Ok(Response::Done));
    }
    // An undeclared service: its granter reaches it once it has registered it.
    let grant = Request::Grant { child: name("plugin"), service: name("ui") };
    assert_eq!(
        handle(&mut broker, APP, grant).0,
        Err(Error::Denied { rule: Rule::GranterDoesNotReach })
    );
    register(&mut broker, APP, "ui").0.unwrap();
    assert_eq!(handle(&mut broker, APP, grant).0, Ok(Response::Done));
    connection_of(connect(&mut broker, PLUGIN, "ui").0);
}

#[test]
fn a_dead_service_realm_takes_its_connections_and_a_restart_is_reported() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let connection = connection_of(connect(&mut broker, APP, "kv").0);
    let out = died(&mut broker, STORE);
    assert_eq!(
        out.ops,
        [
            KernelOp::Revoke { slot: CapSlot(1000) },
            KernelOp::Delete { slot: CapSlot(1000) },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::DeleteInRealm { slot: realm_slot(STORE, 200) },
        ]
    );
    assert_eq!(
        out.lines,
        [
            "connection 0.1 closed: realm \"app\" -> service \"kv\": the service is gone",
            "service \"kv\" (generation 1) of realm \"store\" removed",
            "realm \"store\" died: its services and connections are closed",
        ]
    );
    assert!(died(&mut broker, STORE).is_empty());
    assert_eq!(broker.broker_slots_in_use(), 0);
    // app's slot stays reserved until it lets go of the connection.
    assert_eq!(broker.realm_slots_in_use(APP), 1);
    assert_eq!(broker.registry().reserved_slots_of(APP), 1);
    assert_eq!(broker.realm_slots_in_use(STORE), 0);
    let status = Request::Status { connection };
    assert_eq!(
        handle(&mut broker, APP, status).0,
        Err(Error::Disconnected { reason: CloseReason::ServiceGone })
    );
    assert_eq!(register(&mut broker, STORE, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    // The memory manager restarts store: until kv is registered again, it is restarting.
    broker.set_restarting(STORE, true).unwrap();
    assert_eq!(handle(&mut broker, APP, status).0, Err(Error::ServiceRestarting));
    broker.realm_started(STORE).unwrap();
    assert_eq!(handle(&mut broker, APP, status).0, Err(Error::ServiceRestarting));
    register(&mut broker, STORE, "kv").0.unwrap();
    assert_eq!(handle(&mut broker, APP, status).0, Err(Error::ServiceRestarted { generation: 2 }));
    assert_eq!(broker.realm_started(RealmId(9)), Err(UnknownRealm(RealmId(9))));
}

#[test]
fn a_dead_client_realm_loses_its_connections() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    let out = died(&mut broker, APP);
    assert_eq!(
        out.ops[..4],
        [
            KernelOp::Revoke { slot: CapSlot(1001) },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::CancelBadgedSends { slot: CapSlot(1001) },
            KernelOp::Delete { slot: CapSlot(1001) },
        ]
    );
    assert!(out.lines[0].ends_with("the client realm died"));
    assert_eq!(broker.registry().connections().count(), 0);
    assert!(broker.registry().service(&name("kv")).is_some());
}

#[test]
fn withdrawing_a_service_is_a_death_of_one_service() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    let mut out = Output::default();
    broker.withdraw_service(&name("kv"), &mut out);
    assert_eq!(out.ops[0], KernelOp::Revoke { slot: CapSlot(1000) });
    assert!(broker.registry().service(&name("kv")).is_none());
    let mut again = Output::default();
    broker.withdraw_service(&name("kv"), &mut again);
    assert!(again.is_empty());
    assert!(broker.is_alive(STORE));
}

#[test]
fn malformed_messages_are_refused_and_logged() {
    let mut broker = broker();
    let mut out = Output::default();
    let reply = broker.handle_message(PLUGIN, 2, &[40], &mut out);
    let reason = ipc::Malformed::BadName {
        field: ipc::Field::ServiceName,
        error: ipc::NameError::TooLong { length: 40 },
    };
    assert_eq!(reply, Err(Error::MalformedRequest { reason }));
    assert_eq!(
        out.lines,
        ["malformed request from realm \"plugin\": the service name: \
             the name is 40 bytes, more than 32"]
    );
    let message = Request::Register { service: name("kv"), interface: None, share: None }.encode();
    let reply = broker.handle_message(STORE, message.label(), message.words(), &mut out);
    assert!(reply.is_ok());
    // Decoding first and handling after is the same.
    let decoded = Request::decode(2, &[40]);
    let mut again = Output::default();
    assert_eq!(
        broker.handle_decoded(PLUGIN, decoded, &mut again),
        Err(Error::MalformedRequest { reason })
    );
    assert_eq!(again.lines, out.lines[..1]);
    let connect = Request::decode(
        2,
        Request::Connect { service: name("kv"), interface: None }.encode().words(),
    );
    assert!(broker.handle_decoded(APP, connect, &mut again).is_ok());
}

#[test]
fn unknown_callers_are_refused() {
    let mut broker = broker();
    assert_eq!(
        register(&mut broker, RealmId(7), "kv").0,
        Err(Error::NotFound { what: Missing::Realm })
    );
    assert!(died(&mut broker, RealmId(7)).is_empty());
}

/// What the system description gets wrong is refused by the checker before the broker sees
/// it; what the memory manager's layout gets wrong, by the broker, which is then left empty.
#[test]
fn bad_configurations_are_refused_and_leave_the_broker_empty() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let twice = format!("{}{}", realm_toml("a", None), realm_toml("a", None));
    refused_with(&twice, ConfigRule::DuplicateRealm);
    refused_with(&realm_toml("a", Some("a")), ConfigRule::RealmCycle);
    let many: String = std::iter::once(realm_toml("r0", None))
        .chain((1..=MAX_REALMS).map(|i| realm_toml(&format!("r{i}"), Some("r0"))))
        .collect();
    refused_with(&many, ConfigRule::TooManyRealms);
    // Two top-level realms (guest once was one).
    let two_roots = format!("{}{KV}{}", realms_toml(), realm_toml("other", None));
    refused_with(&two_roots, ConfigRule::MultipleRootRealms);

    let one = checked(&realm_toml("a", None));
    let too_large = MAX_SLOTS_PER_RANGE as u16 + 1;
    let wide = [SlotRange { start: 0, count: too_large }];
    let layout =
        |realm_slots| Layout { realm_slots, broker_slots: SlotRange { start: 0, count: 8 } };
    assert_eq!(
        broker.configure(one, &layout(&wide)),
        Err(ConfigError::RealmSlots {
            realm: RealmId(0),
            error: SlotRangeError::TooLarge { count: too_large, capacity: MAX_SLOTS_PER_RANGE }
        })
    );
    // Refused: nothing of the old configuration is left.
    assert_eq!(broker.realm_id(&name("store")), None);
    assert_eq!(broker.realm_id(&name("a")), None);
    assert!(broker.config().is_none());
    assert_eq!(broker.registry().service_count(), 0);
    assert_eq!(broker.policy().realm_count(), 0);
    assert_eq!(register(&mut broker, STORE, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    assert_eq!(register(&mut broker, INIT, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    assert_eq!(
        broker.configure(one, &layout(&REALM_SLOTS)),
        Err(ConfigError::SlotRangesMismatch { ranges: 5, realms: 1 })
    );
    assert_eq!(broker.policy().realm_count(), 0);
    let mut wide_broker = layout(&REALM_SLOTS[..1]);
    wide_broker.broker_slots.count = too_large;
    assert_eq!(
        broker.configure(one, &wide_broker),
        Err(ConfigError::BrokerSlots {
            error: SlotRangeError::TooLarge { count: too_large, capacity: MAX_SLOTS_PER_RANGE }
        })
    );
    assert_eq!(broker.realm_id(&name("a")), None);
    broker.configure(one, &layout(&REALM_SLOTS[..1])).unwrap();
    assert_eq!(broker.realm_id(&name("a")), Some(RealmId(0)));
}

#[test]
fn configure_starts_over_in_place() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    let grant = Request::Grant { child: name("plugin"), service: name("kv") };
    handle(&mut broker, APP, grant).0.unwrap();
    assert!(died(&mut broker, GUEST).events.len() == 1);
    // The same realms (and slots), kv without vault.
    let config = checked(&format!("{}{KV}", realms_toml()));
    broker.configure(config, &LAYOUT).unwrap();
    assert!(broker.is_alive(GUEST));
    assert_eq!(broker.policy().declaration(&name("vault")), None);
    assert_eq!(broker.registry().service_count(), 0);
    assert_eq!(broker.registry().connections().count(), 0);
    assert!(broker.policy().runtime_grants().is_empty());
    assert_eq!((broker.broker_slots_in_use(), broker.realm_slots_in_use(APP)), (0, 0));
    // The same as a broker configured once: the same slots, generations from 1 again.
    let (reply, out) = register(&mut broker, STORE, "kv");
    assert_eq!(
        reply,
        Ok(Response::Registered {
            endpoint_slot: 200,
            generation: 1,
            index: ipc::ServiceIndex::FIRST
        })
    );
    assert_eq!(out.ops[0], KernelOp::CreateEndpoint { slot: CapSlot(1000) });
}

/// The quotas, names and priorities are the configuration's.
#[test]
fn realms_are_read_from_the_configuration() {
    let broker = broker();
    assert_eq!(broker.quota(APP), Some(Quota { max_services: 2, max_connections: 3 }));
    assert_eq!(broker.quota(RealmId(5)), None);
    assert_eq!(broker.realm_name(GUEST), Some("guest"));
    assert_eq!(broker.realm_id(&name("plugin")), Some(PLUGIN));
    assert_eq!(broker.policy().priority(STORE), Some(100));
}

#[test]
fn the_broker_is_an_empty_static_until_configured() {
    static EMPTY: Broker<'static> = Broker::empty();
    assert_eq!(EMPTY.realm_name(INIT), None);
    assert_eq!(EMPTY.registry().service_count(), 0);
    let mut broker = Box::new(EMPTY.clone());
    assert_eq!(register(&mut broker, INIT, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    assert!(died(&mut broker, INIT).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Typed interfaces and services sharing an endpoint.

/// The tree of the module documentation, with store allowed 10 services; "kv" declared with
/// `interface = "kv"`, "db" declared for store with no interface; app granted both.
fn typed_broker() -> Box<Broker<'static>> {
    let realms = realms_toml().replacen(
        "name = \"store\"\nprogram = \"p\"\nparent = \"init\"\npriority = 100\n\
         memory = \"1 MiB\"\nmax_services = 2",
        "name = \"store\"\nprogram = \"p\"\nparent = \"init\"\npriority = 100\n\
         memory = \"1 MiB\"\nmax_services = 10",
        1,
    );
    assert_ne!(realms, realms_toml());
    let services = "[[service]]\nname = \"kv\"\nrealm = \"store\"\ninterface = \"kv\"\n\
                    [[grant]]\nclient = \"app\"\nservice = \"kv\"\n\
                    [[service]]\nname = \"db\"\nrealm = \"store\"\n\
                    [[grant]]\nclient = \"app\"\nservice = \"db\"\n";
    let config = checked(&format!("{realms}{services}{VAULT}"));
    let mut broker = Box::new(Broker::empty());
    broker.configure(config, &LAYOUT).unwrap();
    broker
}

fn kv(fingerprint: u64) -> Option<InterfaceId> {
    Some(InterfaceId { name: name("kv"), fingerprint })
}

fn register_typed(
    broker: &mut Broker<'_>,
    owner: RealmId,
    service: &str,
    interface: Option<InterfaceId>,
    share: Option<&str>,
) -> (Reply, Output) {
    let request = Request::Register { service: name(service), interface, share: share.map(name) };
    handle(broker, owner, request)
}

fn connect_typed(
    broker: &mut Broker<'_>,
    client: RealmId,
    service: &str,
    interface: Option<InterfaceId>,
) -> (Reply, Output) {
    handle(broker, client, Request::Connect { service: name(service), interface })
}

fn index(n: u8) -> ServiceIndex {
    ServiceIndex::new(n).unwrap()
}

#[test]
fn a_shared_register_reuses_the_endpoint_and_its_connections_carry_the_index() {
    let mut broker = typed_broker();
    let (reply, out) = register_typed(&mut broker, STORE, "kv", kv(7), None);
    assert_eq!(
        reply,
        Ok(Response::Registered { endpoint_slot: 200, generation: 1, index: ServiceIndex::FIRST })
    );
    assert_eq!(out.ops.len(), 3);
    assert_eq!(
        out.records,
        ["service-registered realm=store service=kv generation=1 rule=declared-provider \
          interface=kv:0000000000000007"]
    );
    let (reply, out) = register_typed(&mut broker, STORE, "db", None, Some("kv"));
    assert_eq!(
        reply,
        Ok(Response::Registered { endpoint_slot: 200, generation: 2, index: index(1) })
    );
    // The owner holds the endpoint's receive cap already: nothing for the kernel.
    assert!(out.ops.is_empty());
    assert_eq!(
        out.lines,
        ["register allowed: realm \"store\" -> service \"db\" (generation 2, on the endpoint \
          of service \"kv\" as service 1): declared as the service's provider in the init \
          configuration"]
    );
    assert_eq!(
        out.records,
        ["service-registered realm=store service=db generation=2 rule=declared-provider \
          shares=kv index=1"]
    );
    // One broker slot (the endpoint) and one store slot (its receive cap) for both.
    assert_eq!((broker.broker_slots_in_use(), broker.realm_slots_in_use(STORE)), (1, 1));
    let registry = broker.registry();
    let (kv_service, db) =
        (registry.service(&name("kv")).unwrap(), registry.service(&name("db")).unwrap());
    assert_eq!(
        (db.endpoint, db.owner_slot, db.index),
        (kv_service.endpoint, kv_service.owner_slot, index(1))
    );
    assert_eq!(registry.endpoint_services(db), 2);
    // Each connection is minted from the one endpoint, with its own service's index.
    for (service, expected) in [("kv", ServiceIndex::FIRST), ("db", index(1))] {
        let (reply, out) = connect(&mut broker, APP, service);
        let connection = connection_of(reply);
        assert_eq!(
            out.ops[0],
            KernelOp::Mint {
                from: CapSlot(1000),
                into: out
                    .ops
                    .iter()
                    .find_map(|op| match op {
                        KernelOp::Mint { into, .. } => Some(*into),
                        _ => None,
                    })
                    .unwrap(),
                badge: Badge::for_connection(connection, expected),
                rights: rights::BROKER_COPY
            }
        );
        assert_eq!(
            Badge::decode(Badge::for_connection(connection, expected).value()),
            Ok(ipc::BadgeKind::Connection { connection, service: expected })
        );
    }
}

#[test]
fn a_shared_register_is_refused_for_a_missing_a_foreign_or_a_full_endpoint() {
    let mut broker = typed_broker();
    register_typed(&mut broker, STORE, "kv", kv(1), None).0.unwrap();
    register(&mut broker, INIT, "vault").0.unwrap();
    let (reply, out) = register_typed(&mut broker, STORE, "db", None, Some("nothing"));
    assert_eq!(reply, Err(Error::NotFound { what: Missing::Service }));
    assert!(out.is_empty());
    // Another realm's service is answered as a missing one (no oracle of the registry).
    let (reply, out) = register_typed(&mut broker, STORE, "db", None, Some("vault"));
    assert_eq!(reply, Err(Error::NotFound { what: Missing::Service }));
    assert!(out.is_empty());
    // Seven more on kv's endpoint fill it (8 services); a ninth does not fit.
    for (i, service) in ["db", "s2", "s3", "s4", "s5", "s6", "s7"].into_iter().enumerate() {
        let (reply, out) = register_typed(&mut broker, STORE, service, None, Some("kv"));
        assert!(
            matches!(reply, Ok(Response::Registered { index, .. }) if usize::from(index.get()) == i + 1),
            "{reply:?}"
        );
        assert!(out.ops.is_empty());
    }
    let (reply, out) = register_typed(&mut broker, STORE, "s8", None, Some("s3"));
    assert_eq!(reply, Err(Error::QuotaExceeded { what: Resource::EndpointServices }));
    assert!(out.is_empty());
    assert_eq!(broker.registry().service_count(), 9);
    // The realm's own quota still counts shared services: 10 at most.
    register(&mut broker, STORE, "s8").0.unwrap();
    register_typed(&mut broker, STORE, "s9", None, Some("s8")).0.unwrap();
    assert_eq!(broker.registry().services_owned_by(STORE), 10);
    assert_eq!(
        register_typed(&mut broker, STORE, "s10", None, Some("s8")).0,
        Err(Error::QuotaExceeded { what: Resource::RealmServices })
    );
}

#[test]
fn removing_one_shared_service_closes_only_its_connections_and_the_last_takes_the_endpoint() {
    let mut broker = typed_broker();
    register_typed(&mut broker, STORE, "kv", kv(1), None).0.unwrap();
    register_typed(&mut broker, STORE, "db", None, Some("kv")).0.unwrap();
    let to_kv = connection_of(connect(&mut broker, APP, "kv").0);
    let to_db = connection_of(connect(&mut broker, APP, "db").0);
    let db_copy = broker.registry().open_connection_at(usize::from(to_db.index())).unwrap();
    let (db_copy, db_client_slot) = (db_copy.broker_copy, db_copy.client_slot);
    // db goes: its connection closes as a disconnect closes one; the endpoint stays.
    let mut out = Output::default();
    broker.withdraw_service(&name("db"), &mut out);
    assert_eq!(
        out.ops,
        [
            KernelOp::Revoke { slot: db_copy },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, db_client_slot.0) },
            KernelOp::CancelBadgedSends { slot: db_copy },
            KernelOp::Delete { slot: db_copy },
        ]
    );
    assert_eq!(
        out.records,
        [
            format!(
                "connection-closed realm=app service=db connection={}.{} reason=service-gone",
                to_db.index(),
                to_db.generation()
            ),
            "service-removed realm=store service=db generation=2".to_string(),
        ]
    );
    assert_eq!(
        handle(&mut broker, APP, Request::Status { connection: to_kv }).0,
        Ok(Response::Live { service_generation: 1 })
    );
    assert_eq!(
        handle(&mut broker, APP, Request::Status { connection: to_db }).0,
        Err(Error::Disconnected { reason: CloseReason::ServiceGone })
    );
    // The endpoint and the owner's cap stay with kv.
    assert_eq!(broker.broker_slots_in_use(), 2);
    assert_eq!(broker.realm_slots_in_use(STORE), 1);
    // A new service on the endpoint takes the freed index.
    let (reply, _) = register_typed(&mut broker, STORE, "db", None, Some("kv"));
    assert!(matches!(reply, Ok(Response::Registered { index: i, .. }) if i == index(1)));
    // kv's death as the endpoint's first service keeps it for db; db's as the last frees it.
    let mut out = Output::default();
    broker.withdraw_service(&name("kv"), &mut out);
    assert!(!out.ops.iter().any(|op| matches!(op, KernelOp::Revoke { slot: CapSlot(1000) })));
    assert_eq!(out.ops.len(), 4);
    let mut out = Output::default();
    broker.withdraw_service(&name("db"), &mut out);
    assert_eq!(
        out.ops,
        [
            KernelOp::Revoke { slot: CapSlot(1000) },
            KernelOp::Delete { slot: CapSlot(1000) },
            KernelOp::DeleteInRealm { slot: realm_slot(STORE, 200) },
        ]
    );
    assert_eq!(broker.broker_slots_in_use(), 0);
    assert_eq!(broker.realm_slots_in_use(STORE), 0);
}

#[test]
fn a_realm_death_removes_every_service_of_a_shared_endpoint_and_the_endpoint_once() {
    let mut broker = typed_broker();
    register_typed(&mut broker, STORE, "kv", kv(1), None).0.unwrap();
    register_typed(&mut broker, STORE, "db", None, Some("kv")).0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    connect(&mut broker, APP, "db").0.unwrap();
    let out = died(&mut broker, STORE);
    let endpoint_ops = out
        .ops
        .iter()
        .filter(|op| {
            matches!(
                op,
                KernelOp::Revoke { slot: CapSlot(1000) } | KernelOp::Delete { slot: CapSlot(1000) }
            )
        })
        .count();
    assert_eq!(endpoint_ops, 2);
    // The first service removed closes its connection in 4 ops; the last one's goes with
    // the endpoint (1 op), and the endpoint and the owner's cap take 3.
    assert_eq!(out.ops.len(), 4 + 1 + 3);
    assert_eq!(broker.broker_slots_in_use(), 0);
    assert_eq!(broker.registry().service_count(), 0);
}

#[test]
fn a_typed_connect_to_another_interface_is_refused_and_logged() {
    let mut broker = typed_broker();
    register_typed(&mut broker, STORE, "kv", kv(1), None).0.unwrap();
    register(&mut broker, STORE, "db").0.unwrap();
    let (reply, out) = connect_typed(&mut broker, APP, "kv", kv(2));
    assert_eq!(reply, Err(Error::InterfaceMismatch));
    assert!(out.ops.is_empty());
    assert_eq!(
        out.lines,
        ["connect refused: realm \"app\" -> service \"kv\": interface mismatch: realm \"store\" \
          registered it with interface \"kv\" (fingerprint 0000000000000001), the client asked \
          for interface \"kv\" (fingerprint 0000000000000002)"]
    );
    assert_eq!(
        out.records,
        ["interface-mismatch realm=app action=connect service=kv provider=store \
          service-interface=kv:0000000000000001 client-interface=kv:0000000000000002"]
    );
    let other = Some(InterfaceId { name: name("kv2"), fingerprint: 1 });
    assert_eq!(connect_typed(&mut broker, APP, "kv", other).0, Err(Error::InterfaceMismatch));
    assert_eq!(broker.registry().connections().count(), 0);
    // The same interface, or a raw client, connects; so does any client of a service
    // registered without one.
    connection_of(connect_typed(&mut broker, APP, "kv", kv(1)).0);
    connection_of(connect_typed(&mut broker, APP, "kv", None).0);
    connection_of(connect_typed(&mut broker, APP, "db", kv(9)).0);
    // The policy decides first: a realm that may not reach kv hears `Denied`, whatever it asks.
    assert_eq!(
        connect_typed(&mut broker, GUEST, "kv", kv(2)).0,
        Err(Error::Denied { rule: Rule::NoRoute })
    );
}

#[test]
fn a_service_declared_with_an_interface_is_registered_only_with_it() {
    let mut broker = typed_broker();
    let (reply, out) = register_typed(&mut broker, STORE, "kv", None, None);
    assert_eq!(reply, Err(Error::InterfaceMismatch));
    assert!(out.ops.is_empty());
    assert_eq!(
        out.lines,
        ["register refused: realm \"store\" -> service \"kv\": interface mismatch: system.toml \
          declares it with interface \"kv\", the register named no interface"]
    );
    assert_eq!(
        out.records,
        ["interface-mismatch realm=store action=register service=kv declared=kv interface=none"]
    );
    let other = Some(InterfaceId { name: name("log"), fingerprint: 3 });
    let (reply, out) = register_typed(&mut broker, STORE, "kv", other, None);
    assert_eq!(reply, Err(Error::InterfaceMismatch));
    assert_eq!(
        out.records,
        ["interface-mismatch realm=store action=register service=kv declared=kv \
          interface=log:0000000000000003"]
    );
    assert_eq!(broker.registry().service_count(), 0);
    assert_eq!(broker.broker_slots_in_use(), 0);
    // Any fingerprint of the declared name: the build checks the rest.
    register_typed(&mut broker, STORE, "kv", kv(42), None).0.unwrap();
    assert_eq!(broker.registry().service(&name("kv")).unwrap().interface, kv(42));
    // A service declared without an interface takes any, or none.
    register_typed(&mut broker, STORE, "db", other, None).0.unwrap();
}
