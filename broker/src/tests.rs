//! Scenario tests of the broker, on this system:
//!
//! ```text
//! 0 init ── 1 store (the declared provider of "kv"; allowed clients: app, plugin)
//!        └─ 2 app ── 3 plugin
//! 4 guest (top level)
//! ```
//! The init configuration grants "kv" to app.

use ipc::{Badge, CloseReason, ConnectionId, Error, Missing, Resource, Response, Rule};
use policy::{AllowedClients, Grant, ServiceDecl};
use service_registry::CapSlot;

use super::*;

const INIT: RealmId = RealmId(0);
const STORE: RealmId = RealmId(1);
const APP: RealmId = RealmId(2);
const PLUGIN: RealmId = RealmId(3);
const GUEST: RealmId = RealmId(4);

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn realm(text: &str, parent: Option<RealmId>, start: u64) -> RealmSpec {
    RealmSpec {
        name: name(text),
        parent,
        slots: SlotRange { start, count: 4 },
        quota: Quota { max_services: 2, max_connections: 3 },
    }
}

fn broker() -> Box<Broker> {
    let realms = [
        realm("init", None, 100),
        realm("store", Some(INIT), 200),
        realm("app", Some(INIT), 300),
        realm("plugin", Some(APP), 400),
        realm("guest", None, 500),
    ];
    let services = [ServiceDecl {
        service: name("kv"),
        provider: Some(STORE),
        allowed_clients: Some(AllowedClients::from_slice(&[APP, PLUGIN]).unwrap()),
    }];
    let mut broker = Box::new(Broker::empty());
    broker
        .configure(&BrokerConfig {
            realms: &realms,
            grants: &[Grant { client: APP, service: name("kv") }],
            services: &services,
            broker_slots: SlotRange { start: 1000, count: 8 },
        })
        .unwrap();
    broker
}

/// What one call produced: its kernel ops, and its log events and their lines.
#[derive(Default, Debug)]
struct Output {
    ops: Vec<KernelOp>,
    events: Vec<Event>,
    lines: Vec<String>,
}

impl OpSink for Output {
    fn run(&mut self, op: KernelOp) {
        self.ops.push(op);
    }

    fn log(&mut self, line: LogLine<'_>) {
        self.events.push(*line.event());
        self.lines.push(line.to_string());
    }
}

impl Output {
    fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.events.is_empty()
    }
}

fn handle(broker: &mut Broker, caller: RealmId, request: Request) -> (Reply, Output) {
    let mut output = Output::default();
    let reply = broker.handle(caller, &request, &mut output);
    (reply, output)
}

fn register(broker: &mut Broker, owner: RealmId, service: &str) -> (Reply, Output) {
    handle(broker, owner, Request::Register { service: name(service) })
}

fn connect(broker: &mut Broker, client: RealmId, service: &str) -> (Reply, Output) {
    handle(broker, client, Request::Connect { service: name(service) })
}

fn died(broker: &mut Broker, realm: RealmId) -> Output {
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
    assert_eq!(reply, Ok(Response::Registered { endpoint_slot: 200, generation: 1 }));
    assert_eq!(
        out.ops[..3],
        [
            KernelOp::CreateEndpoint { slot: CapSlot(1000) },
            KernelOp::DeleteInRealm { slot: realm_slot(STORE, 200) },
            KernelOp::CopyToRealm {
                from: CapSlot(1000),
                into: realm_slot(STORE, 200),
                rights: Rights::RECEIVE
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
                badge: Badge::for_connection(connection),
                rights: Rights::ALL
            },
            KernelOp::DeleteInRealm { slot: realm_slot(APP, 300) },
            KernelOp::CopyToRealm {
                from: CapSlot(1001),
                into: realm_slot(APP, 300),
                rights: Rights::CLIENT
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
    let (reply, out) = connect(&mut broker, INIT, "guestbook");
    assert_eq!(reply, Err(Error::Denied { rule: Rule::SiblingNeedsGrant }));
    assert_eq!(
        out.lines,
        ["connect denied: realm \"init\" -> service \"guestbook\": siblings need a grant"]
    );
    assert_eq!(
        connect(&mut broker, APP, "nothing").0,
        Err(Error::NotFound { what: Missing::Service })
    );
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
        Err(Error::NotOwner)
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
    assert_eq!(handle(&mut broker, PLUGIN, let_go).0, Err(Error::NotOwner));
    assert_eq!(handle(&mut broker, STORE, let_go).0, Err(Error::NotOwner));
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

#[test]
fn reusing_a_closed_connections_table_entry_frees_the_slot_it_reserved() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let grant = Request::Grant { child: name("plugin"), service: name("kv") };
    handle(&mut broker, APP, grant).0.unwrap();
    // plugin's connection takes table entry 0 and keeps plugin's slot 400 once kicked.
    let kicked = connection_of(connect(&mut broker, PLUGIN, "kv").0);
    assert_eq!(kicked.index(), 0);
    handle(&mut broker, STORE, Request::Disconnect { connection: kicked }).0.unwrap();
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 1);
    // app uses every other entry once; entry 0, the least recently closed, comes next.
    for _ in 1..MAX_CONNECTIONS {
        let connection = connection_of(connect(&mut broker, APP, "kv").0);
        handle(&mut broker, APP, Request::Disconnect { connection }).0.unwrap();
    }
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 1);
    let reuse = connection_of(connect(&mut broker, APP, "kv").0);
    assert_eq!(reuse.index(), 0);
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 0);
    assert_eq!(broker.registry().reserved_slots_of(PLUGIN), 0);
    assert_eq!(broker.realm_slots_in_use(APP), 1);
    // The old id is superseded: letting go of it now is an error and frees nothing twice.
    let let_go = Request::Disconnect { connection: kicked };
    assert_eq!(
        handle(&mut broker, PLUGIN, let_go).0,
        Err(Error::Disconnected { reason: CloseReason::Unknown })
    );
    let (reply, _) = connect(&mut broker, PLUGIN, "kv");
    assert!(matches!(reply, Ok(Response::Connected { slot: 400, .. })), "{reply:?}");
    assert_eq!(broker.realm_slots_in_use(PLUGIN), 1);
}

#[test]
fn disconnect_revokes_exactly_one_connection() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let first = connection_of(connect(&mut broker, APP, "kv").0);
    let second = connection_of(connect(&mut broker, APP, "kv").0);
    assert_eq!(
        handle(&mut broker, PLUGIN, Request::Disconnect { connection: first }).0,
        Err(Error::NotOwner)
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
    let message = Request::Register { service: name("kv") }.encode();
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
    let connect = Request::decode(2, Request::Connect { service: name("kv") }.encode().words());
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

#[test]
fn bad_configurations_are_refused_and_leave_the_broker_empty() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    let twice = [realm("a", None, 0), realm("a", None, 0)];
    let config = |realms| BrokerConfig {
        realms,
        grants: &[],
        services: &[],
        broker_slots: SlotRange { start: 0, count: 8 },
    };
    assert_eq!(
        broker.configure(&config(&twice)),
        Err(ConfigError::DuplicateRealmName { name: name("a") })
    );
    // Refused: nothing of the old configuration is left.
    assert_eq!(broker.realm_id(&name("store")), None);
    assert_eq!(broker.registry().service_count(), 0);
    assert_eq!(broker.policy().realm_count(), 0);
    assert_eq!(register(&mut broker, STORE, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    let too_large = MAX_SLOTS_PER_RANGE as u16 + 1;
    let mut wide = realm("a", None, 0);
    wide.slots.count = too_large;
    let wide = [wide];
    assert_eq!(
        broker.configure(&config(&wide)),
        Err(ConfigError::RealmSlots {
            realm: RealmId(0),
            error: SlotRangeError::TooLarge { count: too_large }
        })
    );
    let cyclic = [realm("a", Some(RealmId(0)), 0)];
    assert_eq!(
        broker.configure(&config(&cyclic)),
        Err(ConfigError::Policy(policy::ConfigError::ParentCycle { realm: RealmId(0) }))
    );
    let many: Vec<RealmSpec> = (0..=MAX_REALMS).map(|i| realm(&format!("r{i}"), None, 0)).collect();
    assert_eq!(
        broker.configure(&config(&many)),
        Err(ConfigError::Policy(policy::ConfigError::TooManyRealms { count: MAX_REALMS + 1 }))
    );
    let mut wide_broker = config(&[]);
    wide_broker.broker_slots.count = too_large;
    assert_eq!(
        broker.configure(&wide_broker),
        Err(ConfigError::BrokerSlots { error: SlotRangeError::TooLarge { count: too_large } })
    );
}

#[test]
fn configure_starts_over_in_place() {
    let mut broker = broker();
    register(&mut broker, STORE, "kv").0.unwrap();
    connect(&mut broker, APP, "kv").0.unwrap();
    let grant = Request::Grant { child: name("plugin"), service: name("kv") };
    handle(&mut broker, APP, grant).0.unwrap();
    assert!(died(&mut broker, GUEST).events.len() == 1);
    let fresh = self::broker();
    let realms: Vec<RealmSpec> = (0..5)
        .map(|i| {
            let id = RealmId(i as u8);
            RealmSpec {
                name: *fresh.realm_name(id).unwrap(),
                parent: fresh.policy().parent(id),
                slots: SlotRange { start: 100 * (i + 1), count: 4 },
                quota: Quota { max_services: 2, max_connections: 3 },
            }
        })
        .collect();
    let services = [ServiceDecl {
        service: name("kv"),
        provider: Some(STORE),
        allowed_clients: Some(AllowedClients::from_slice(&[APP, PLUGIN]).unwrap()),
    }];
    broker
        .configure(&BrokerConfig {
            realms: &realms,
            grants: &[Grant { client: APP, service: name("kv") }],
            services: &services,
            broker_slots: SlotRange { start: 1000, count: 8 },
        })
        .unwrap();
    assert!(broker.is_alive(GUEST));
    assert_eq!(broker.registry().service_count(), 0);
    assert_eq!(broker.registry().connections().count(), 0);
    assert!(broker.policy().runtime_grants().is_empty());
    assert_eq!((broker.broker_slots_in_use(), broker.realm_slots_in_use(APP)), (0, 0));
    // The same as a broker configured once: the same slots, generations from 1 again.
    let (reply, out) = register(&mut broker, STORE, "kv");
    assert_eq!(reply, Ok(Response::Registered { endpoint_slot: 200, generation: 1 }));
    assert_eq!(out.ops[0], KernelOp::CreateEndpoint { slot: CapSlot(1000) });
}

#[test]
fn the_broker_is_an_empty_static_until_configured() {
    static EMPTY: Broker = Broker::empty();
    assert_eq!(EMPTY.realm_name(INIT), None);
    assert_eq!(EMPTY.registry().service_count(), 0);
    let mut broker = Box::new(EMPTY.clone());
    assert_eq!(register(&mut broker, INIT, "kv").0, Err(Error::NotFound { what: Missing::Realm }));
    assert!(died(&mut broker, INIT).is_empty());
}
