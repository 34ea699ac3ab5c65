//! Property tests of the broker over random sequences of register, connect, disconnect,
//! status, grant, revoke, death, restart, garbage messages, and realms shuffling the caps they
//! hold. Every kernel op is run against a small model of seL4's capability derivation tree
//! (mint, copy, move, revoke, delete), and after every step:
//!
//! - every op was valid for the kernel (no copy into an occupied slot, no mint of a badged cap,
//!   CancelBadgedSends only on a badged all-rights cap, ...);
//! - the broker's CSpace holds exactly the endpoints of live services and the badged copies of
//!   open connections; every cap in a realm's CSpace derives from a live service and is either
//!   the owner's receive cap or a client cap of one of that realm's open connections; so after
//!   a revoke or a death nothing refers to a dead service or connection;
//! - a mint happens only for a connect that a literal model of the policy allows, and every
//!   open connection is still allowed by it; denials carry the model's verdict and are logged;
//! - a connection closed for a reason its client did not choose (by its service, a revoked
//!   grant, its service gone) keeps its client's slot reserved and empty: no later connect or
//!   register gets it, until the client lets go (`Disconnect` answers `Done` once), the
//!   record's table entry is reused, or the client dies;
//! - generations only grow; slot accounting (reserved slots included) matches; nothing panics.
//!
//! The kernel model (the `cap-model` crate, shared with the supervisor's tests) is the
//! broker's [`OpSink`]: each op runs against it the moment the broker produces it, as in the
//! memory manager.

use std::collections::{HashMap, HashSet};

use broker::{Broker, BrokerConfig, Event, KernelOp, OpSink, Quota, RealmSpec, Rights, SlotRange};
use cap_model::{Kernel, Node, Output, Record, Space};
use ipc::{
    Badge, CloseReason, ConnectionId, Error, Missing, Name, RealmId, Reply, Request, Response,
};
use policy::{AllowedClients, Grant, ServiceDecl};
use proptest::prelude::*;
use service_registry::CapSlot;

// ---------------------------------------------------------------------------------------------
// The system under test and a literal model of its policy.
//
// 0 ── 1
//   └─ 2 ── 3 ── 4
// 5 (top level)

const PARENTS: [Option<u8>; 6] = [None, Some(0), Some(0), Some(2), Some(3), None];
const REALMS: u8 = PARENTS.len() as u8;
const SERVICES: u8 = 4;
const REALM_SLOTS: u16 = 5;
const PRIVATE_SLOTS: std::ops::Range<u64> = 10_000..10_004;

fn realm_slot_start(realm: u8) -> u64 {
    100 * (u64::from(realm) + 1)
}

fn service(n: u8) -> Name {
    Name::new(&format!("s{n}")).unwrap()
}

fn realm_name(r: u8) -> Name {
    Name::new(&format!("r{r}")).unwrap()
}

#[derive(Clone, Debug)]
struct Setup {
    static_grants: Vec<(u8, u8)>,
    providers: Vec<Option<u8>>,
    lists: Vec<Option<Vec<u8>>>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        proptest::collection::vec((0..REALMS, 0..SERVICES), 0..6),
        proptest::collection::vec(proptest::option::weighted(0.3, 0..REALMS), SERVICES as usize),
        proptest::collection::vec(
            proptest::option::weighted(0.3, proptest::collection::vec(0..REALMS, 0..4)),
            SERVICES as usize,
        ),
    )
        .prop_map(|(static_grants, providers, lists)| Setup {
            static_grants,
            providers,
            lists,
        })
}

struct Model {
    setup: Setup,
    runtime_grants: HashSet<(u8, u8)>,
}

impl Model {
    fn parent(realm: u8) -> Option<u8> {
        PARENTS[realm as usize]
    }

    fn reaches(&self, realm: u8, s: u8, owner: u8) -> bool {
        realm == owner
            || Self::parent(realm) == Some(owner)
            || self.setup.static_grants.contains(&(realm, s))
            || (self.runtime_grants.contains(&(realm, s))
                && Self::parent(realm).is_some_and(|p| self.reaches(p, s, owner)))
    }

    fn may_connect(&self, client: u8, s: u8, owner: u8) -> bool {
        self.reaches(client, s, owner)
            && self.setup.lists[s as usize].as_ref().is_none_or(|list| list.contains(&client))
    }

    fn may_register(&self, realm: u8, s: u8) -> bool {
        self.setup.providers[s as usize].is_none_or(|p| p == realm)
    }
}

fn build(setup: &Setup) -> Box<Broker> {
    let realms: Vec<RealmSpec> = (0..REALMS)
        .map(|r| RealmSpec {
            name: realm_name(r),
            parent: PARENTS[r as usize].map(RealmId),
            slots: SlotRange { start: realm_slot_start(r), count: REALM_SLOTS },
            quota: Quota { max_services: 2, max_connections: 4 },
        })
        .collect();
    let grants: Vec<Grant> = setup
        .static_grants
        .iter()
        .map(|&(client, s)| Grant { client: RealmId(client), service: service(s) })
        .collect();
    let services: Vec<ServiceDecl> = (0..SERVICES)
        .map(|s| ServiceDecl {
            service: service(s),
            provider: setup.providers[s as usize].map(RealmId),
            allowed_clients: setup.lists[s as usize].as_ref().map(|list| {
                let ids: Vec<RealmId> = list.iter().copied().map(RealmId).collect();
                AllowedClients::from_slice(&ids).unwrap()
            }),
        })
        .collect();
    let mut broker = Box::new(Broker::empty());
    broker
        .configure(&BrokerConfig {
            realms: &realms,
            grants: &grants,
            services: &services,
            broker_slots: SlotRange { start: 1, count: 14 },
        })
        .unwrap();
    broker
}

// ---------------------------------------------------------------------------------------------
// Steps.

#[derive(Clone, Debug)]
enum Step {
    Register {
        realm: u8,
        service: u8,
    },
    Connect {
        realm: u8,
        service: u8,
    },
    Disconnect {
        realm: u8,
        pick: usize,
    },
    Status {
        realm: u8,
        pick: usize,
    },
    Grant {
        realm: u8,
        child: u8,
        service: u8,
    },
    Revoke {
        realm: u8,
        child: u8,
        service: u8,
    },
    Die {
        realm: u8,
    },
    Restart {
        realm: u8,
    },
    /// The realm copies or moves one of its caps to another slot of its CSpace.
    Shuffle {
        realm: u8,
        pick: usize,
        to: u64,
        moving: bool,
    },
    Garbage {
        realm: u8,
        label: u64,
        words: Vec<u64>,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let realm = || 0..REALMS;
    let svc = || 0..SERVICES;
    // Grants and revokes mostly come from the grantee's parent, sometimes from anyone.
    let granter = || (proptest::bool::weighted(0.8), 0..REALMS);
    fn pick_granter((by_parent, anyone): (bool, u8), child: u8) -> u8 {
        match Model::parent(child) {
            Some(parent) if by_parent => parent,
            _ => anyone,
        }
    }
    prop_oneof![
        4 => (realm(), svc()).prop_map(|(realm, service)| Step::Register { realm, service }),
        8 => (realm(), svc()).prop_map(|(realm, service)| Step::Connect { realm, service }),
        3 => (realm(), any::<usize>()).prop_map(|(realm, pick)| Step::Disconnect { realm, pick }),
        2 => (realm(), any::<usize>()).prop_map(|(realm, pick)| Step::Status { realm, pick }),
        4 => (granter(), realm(), svc()).prop_map(|(granter, child, service)| Step::Grant { realm: pick_granter(granter, child), child, service }),
        3 => (granter(), realm(), svc()).prop_map(|(granter, child, service)| Step::Revoke { realm: pick_granter(granter, child), child, service }),
        1 => realm().prop_map(|realm| Step::Die { realm }),
        2 => realm().prop_map(|realm| Step::Restart { realm }),
        2 => (realm(), any::<usize>(), prop_oneof![PRIVATE_SLOTS, 0u64..REALM_SLOTS as u64], any::<bool>())
            .prop_map(|(realm, pick, to, moving)| Step::Shuffle { realm, pick, to, moving }),
        1 => (realm(), 0u64..8, proptest::collection::vec(prop_oneof![0u64..5, any::<u64>()], 0..6))
            .prop_map(|(realm, label, words)| Step::Garbage { realm, label, words }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Run {
    broker: Box<Broker>,
    kernel: Kernel,
    model: Model,
    /// Every connection id ever issued, and a few never issued.
    issued: Vec<ConnectionId>,
    /// Endpoint object of each live service, by name.
    endpoints: HashMap<Name, u32>,
    last_service_generation: u32,
    last_connection_generation: HashMap<u16, u16>,
    /// Realms that moved caps around: their slots may be empty by their own doing.
    tampered: HashSet<u8>,
    /// The client realm and slot of each open connection, from the connect's reply.
    client_slots: HashMap<ConnectionId, (u8, u64)>,
    /// The client realm and slot that each closed connection still reserves.
    reserved: HashMap<ConnectionId, (u8, u64)>,
}

/// Whether a connection closed for `reason` keeps its client's slot reserved: when the
/// client did not choose the closure.
fn reserves_client_slot(reason: CloseReason) -> bool {
    matches!(reason, CloseReason::ByService | CloseReason::AccessRevoked | CloseReason::ServiceGone)
}

fn ops_contain_mint(record: &Record) -> bool {
    record.ops.iter().any(|op| matches!(op, KernelOp::Mint { .. }))
}

fn denial_rules(record: &Record) -> Vec<policy::Rule> {
    record
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Denied { rule, .. } => Some(*rule),
            _ => None,
        })
        .collect()
}

impl Run {
    fn new(setup: Setup) -> Self {
        Self {
            broker: build(&setup),
            kernel: Kernel::default(),
            model: Model { setup, runtime_grants: HashSet::new() },
            issued: vec![ConnectionId::new(7, 3).unwrap(), ConnectionId::new(63, 1).unwrap()],
            endpoints: HashMap::new(),
            last_service_generation: 0,
            last_connection_generation: HashMap::new(),
            tampered: HashSet::new(),
            client_slots: HashMap::new(),
            reserved: HashMap::new(),
        }
    }

    /// Runs one broker call with the kernel model as its sink.
    fn call<R>(
        &mut self,
        call: impl FnOnce(&mut Broker, &mut dyn OpSink) -> R,
    ) -> Result<(R, Record), TestCaseError> {
        let mut output = Output::new(&mut self.kernel);
        let result = call(&mut self.broker, &mut output);
        Ok((result, output.finish().map_err(TestCaseError::fail)?))
    }

    fn pick(&self, pick: usize) -> ConnectionId {
        self.issued[pick % self.issued.len()]
    }

    fn step(&mut self, step: Step) -> Result<(), TestCaseError> {
        match step {
            Step::Register { realm, service: s } => {
                self.request(realm, Request::Register { service: service(s) })
            }
            Step::Connect { realm, service: s } => {
                self.request(realm, Request::Connect { service: service(s) })
            }
            Step::Disconnect { realm, pick } => {
                let connection = self.pick(pick);
                self.request(realm, Request::Disconnect { connection })
            }
            Step::Status { realm, pick } => {
                let connection = self.pick(pick);
                self.request(realm, Request::Status { connection })
            }
            Step::Grant { realm, child, service: s } => self
                .request(realm, Request::Grant { child: realm_name(child), service: service(s) }),
            Step::Revoke { realm, child, service: s } => self.request(
                realm,
                Request::RevokeGrant { child: realm_name(child), service: service(s) },
            ),
            Step::Die { realm } => {
                let was_alive = self.broker.is_alive(RealmId(realm));
                let ((), record) =
                    self.call(|broker, ops| broker.realm_died(RealmId(realm), ops))?;
                prop_assert_eq!(record.is_empty(), !was_alive);
                prop_assert!(!ops_contain_mint(&record));
                self.track_closures(&record);
                // A dead client holds no handle: the slots its closed connections kept go.
                self.reserved.retain(|_, (client, _)| *client != realm);
                if was_alive {
                    self.kernel.destroy(Space::Realm(realm));
                    self.tampered.remove(&realm);
                }
                Ok(())
            }
            Step::Restart { realm } => {
                prop_assert!(self.broker.realm_started(RealmId(realm)).is_ok());
                Ok(())
            }
            Step::Shuffle { realm, pick, to, moving } => {
                self.shuffle(realm, pick, to, moving);
                Ok(())
            }
            Step::Garbage { realm, label, words } => {
                let decoded = Request::decode(label, &words);
                let (reply, record) = self.call(|broker, ops| {
                    broker.handle_message(RealmId(realm), label, &words, ops)
                })?;
                match decoded {
                    Ok(request) => self.check_request(realm, request, reply, record),
                    Err(reason) => {
                        prop_assert_eq!(reply, Err(Error::MalformedRequest { reason }));
                        prop_assert!(record.ops.is_empty());
                        prop_assert_eq!(
                            record.events,
                            vec![Event::Malformed { realm: RealmId(realm), reason }]
                        );
                        Ok(())
                    }
                }
            }
        }
    }

    fn shuffle(&mut self, realm: u8, pick: usize, to: u64, moving: bool) {
        let caps = self.kernel.caps_in(Space::Realm(realm));
        if caps.is_empty() {
            return;
        }
        let (from_slot, _) = caps[pick % caps.len()];
        let to = if PRIVATE_SLOTS.contains(&to) { to } else { realm_slot_start(realm) + to };
        let from = (Space::Realm(realm), from_slot);
        let into = (Space::Realm(realm), to);
        if self.kernel.slots.contains_key(&into) {
            return;
        }
        if moving {
            let id = self.kernel.slots.remove(&from).unwrap();
            self.kernel.slots.insert(into, id);
        } else {
            let (parent, node) = self.kernel.cap(from).unwrap();
            self.kernel.insert(into, Node { parent: Some(parent), ..node }).unwrap();
        }
        self.tampered.insert(realm);
    }

    fn request(&mut self, realm: u8, request: Request) -> Result<(), TestCaseError> {
        let (reply, record) =
            self.call(|broker, ops| broker.handle(RealmId(realm), &request, ops))?;
        self.check_request(realm, request, reply, record)
    }

    /// Follows the closures a call logged: each closed connection's client slot is freed or,
    /// if the client did not choose the closure, reserved.
    fn track_closures(&mut self, record: &Record) {
        for event in &record.events {
            if let Event::ConnectionClosed { connection, reason, .. } = *event
                && let Some(client_slot) = self.client_slots.remove(&connection)
                && reserves_client_slot(reason)
            {
                self.reserved.insert(connection, client_slot);
            }
        }
    }

    /// Checks one handled request (whose ops the kernel model ran) against the model.
    fn check_request(
        &mut self,
        realm: u8,
        request: Request,
        reply: Reply,
        record: Record,
    ) -> Result<(), TestCaseError> {
        let alive = self.broker.is_alive(RealmId(realm));
        // Whether this is the client of a closed connection that reserved its slot, letting go.
        let letting_go = match request {
            Request::Disconnect { connection } => {
                alive && self.reserved.get(&connection).is_some_and(|(client, _)| *client == realm)
            }
            _ => false,
        };
        self.track_closures(&record);
        // A mint only for an allowed connect.
        if ops_contain_mint(&record) {
            prop_assert!(matches!(request, Request::Connect { .. }), "mint for {:?}", request);
            prop_assert!(matches!(reply, Ok(Response::Connected { .. })), "mint with {:?}", reply);
        }
        // Every denial is logged with its rule.
        match reply {
            Err(Error::Denied { rule }) => prop_assert_eq!(denial_rules(&record), vec![rule]),
            _ => prop_assert!(denial_rules(&record).is_empty()),
        }
        if !alive {
            prop_assert_eq!(reply, Err(Error::NotFound { what: Missing::Realm }));
            prop_assert!(record.is_empty());
            return Ok(());
        }
        match request {
            Request::Register { service: name } => self.check_register(realm, name, reply)?,
            Request::Connect { service: name } => self.check_connect(realm, name, reply)?,
            Request::Grant { child, service: name }
            | Request::RevokeGrant { child, service: name } => self.check_grant(
                realm,
                child,
                name,
                matches!(request, Request::Grant { .. }),
                reply,
            )?,
            Request::Disconnect { connection } => {
                self.check_disconnect(connection, letting_go, &reply, &record)?;
            }
            Request::Status { .. } => {
                prop_assert!(!matches!(reply, Err(Error::Denied { .. })), "{:?}", reply);
            }
        }
        if let Ok(Response::Registered { generation, .. }) = reply {
            let Request::Register { service: name } = request else { unreachable!() };
            let endpoint = self.broker.registry().service(&name).unwrap().endpoint;
            let (_, node) = self.kernel.cap((Space::Broker, endpoint.0)).unwrap();
            self.endpoints.insert(name, node.object);
            prop_assert!(generation > self.last_service_generation);
            self.last_service_generation = generation;
        }
        Ok(())
    }

    /// A disconnect closes an open connection, or frees the slot a closed one reserved (once,
    /// with no kernel op), or changes nothing.
    fn check_disconnect(
        &mut self,
        connection: ConnectionId,
        letting_go: bool,
        reply: &Reply,
        record: &Record,
    ) -> Result<(), TestCaseError> {
        prop_assert!(!matches!(reply, Err(Error::Denied { .. })), "{:?}", reply);
        let closed_now = record.events.iter().any(|event| {
            matches!(event, Event::ConnectionClosed { connection: closed, .. } if *closed == connection)
        });
        if letting_go {
            prop_assert_eq!(reply, &Ok(Response::Done));
            prop_assert!(record.is_empty());
            self.reserved.remove(&connection);
        } else if *reply == Ok(Response::Done) {
            prop_assert!(
                closed_now,
                "disconnect of {} answered Done and closed nothing",
                connection
            );
        } else {
            prop_assert!(record.is_empty());
        }
        Ok(())
    }

    fn number(name: &Name) -> u8 {
        name.as_str()[1..].parse().unwrap()
    }

    fn check_register(&mut self, realm: u8, name: Name, reply: Reply) -> Result<(), TestCaseError> {
        let allowed = self.model.may_register(realm, Self::number(&name));
        match reply {
            Err(Error::Denied { .. }) => prop_assert!(!allowed),
            Ok(Response::Registered { .. }) => prop_assert!(allowed),
            Err(Error::AlreadyRegistered) | Err(Error::QuotaExceeded { .. }) => {
                prop_assert!(allowed)
            }
            other => prop_assert!(false, "register replied {:?}", other),
        }
        Ok(())
    }

    fn check_connect(&mut self, realm: u8, name: Name, reply: Reply) -> Result<(), TestCaseError> {
        let owner = self.broker.registry().service(&name).map(|s| s.owner.0);
        // The service is still registered after a connect: read the owner now.
        let Some(owner) = owner else {
            prop_assert_eq!(reply, Err(Error::NotFound { what: Missing::Service }));
            return Ok(());
        };
        let allowed = self.model.may_connect(realm, Self::number(&name), owner);
        match reply {
            Err(Error::Denied { .. }) => prop_assert!(!allowed),
            Ok(Response::Connected { connection, slot, .. }) => {
                prop_assert!(allowed, "connect r{} -> {} (owner r{}) minted", realm, name, owner);
                // Reusing a closed connection's table entry frees the slot it reserved.
                self.reserved.retain(|id, _| id.index() != connection.index());
                self.client_slots.insert(connection, (realm, slot));
                let previous = self
                    .last_connection_generation
                    .insert(connection.index(), connection.generation());
                prop_assert!(connection.generation() > previous.unwrap_or(0));
                self.issued.push(connection);
            }
            Err(Error::QuotaExceeded { .. }) => prop_assert!(allowed),
            other => prop_assert!(false, "connect replied {:?}", other),
        }
        Ok(())
    }

    fn check_grant(
        &mut self,
        realm: u8,
        child: Name,
        name: Name,
        granting: bool,
        reply: Reply,
    ) -> Result<(), TestCaseError> {
        let child = Self::number(&child);
        let s = Self::number(&name);
        let permitted = Model::parent(child) == Some(realm);
        match reply {
            Err(Error::Denied { .. }) => prop_assert!(!permitted),
            Ok(Response::Done) => {
                prop_assert!(permitted);
                if granting {
                    self.model.runtime_grants.insert((child, s));
                } else {
                    prop_assert!(self.model.runtime_grants.remove(&(child, s)));
                }
            }
            Err(Error::NotFound { what: Missing::Grant }) => {
                prop_assert!(
                    permitted && !granting && !self.model.runtime_grants.contains(&(child, s))
                );
            }
            Err(Error::QuotaExceeded { .. }) => prop_assert!(permitted && granting),
            other => prop_assert!(false, "grant replied {:?}", other),
        }
        Ok(())
    }

    /// The invariants that hold between any two steps.
    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let registry = self.broker.registry();
        let services: HashMap<Name, _> = registry.services().map(|s| (s.name, *s)).collect();
        let connections: HashMap<u64, _> =
            registry.connections().map(|c| (Badge::for_connection(c.id).value(), *c)).collect();
        self.endpoints_of_removed_services_are_gone(&services)?;

        // The broker's CSpace: exactly the live endpoints and open connections' copies.
        let mut expected = HashSet::new();
        for s in services.values() {
            expected.insert(s.endpoint.0);
        }
        for c in connections.values() {
            expected.insert(c.broker_copy.0);
            let copy = self.kernel.cap((Space::Broker, c.broker_copy.0));
            let Some((_, copy)) = copy else {
                return Err(TestCaseError::fail(format!("the broker copy of {} is gone", c.id)));
            };
            prop_assert_eq!(copy.badge, Badge::for_connection(c.id).value());
            prop_assert_eq!(copy.rights, Rights::ALL);
            prop_assert_eq!(copy.object, self.endpoints[&c.service]);
        }
        let held: HashSet<u64> =
            self.kernel.caps_in(Space::Broker).iter().map(|(slot, _)| *slot).collect();
        prop_assert_eq!(held, expected);
        prop_assert_eq!(self.broker.broker_slots_in_use(), services.len() + connections.len());

        for r in 0..REALMS {
            self.check_realm(r, &services, &connections)?;
        }

        // Every open connection is still allowed, from a live client to the live instance.
        for c in connections.values() {
            let s = &services[&c.service];
            prop_assert_eq!(c.service_generation, s.generation);
            prop_assert!(self.broker.is_alive(c.client));
            prop_assert!(self.model.may_connect(c.client.0, Self::number(&c.service), s.owner.0));
        }
        Ok(())
    }

    fn endpoints_of_removed_services_are_gone(
        &self,
        services: &HashMap<Name, service_registry::Service>,
    ) -> Result<(), TestCaseError> {
        let live: HashSet<u32> = services.keys().map(|n| self.endpoints[n]).collect();
        for node in self.kernel.nodes.values() {
            prop_assert!(live.contains(&node.object), "a cap to a removed endpoint survived");
        }
        Ok(())
    }

    fn check_realm(
        &self,
        r: u8,
        services: &HashMap<Name, service_registry::Service>,
        connections: &HashMap<u64, service_registry::Connection>,
    ) -> Result<(), TestCaseError> {
        let realm = RealmId(r);
        let caps = self.kernel.caps_in(Space::Realm(r));
        if !self.broker.is_alive(realm) {
            prop_assert!(caps.is_empty());
        }
        for (slot, cap) in &caps {
            if cap.badge == 0 {
                let owned = services
                    .values()
                    .any(|s| s.owner == realm && self.endpoints[&s.name] == cap.object);
                prop_assert!(
                    owned,
                    "r{} slot {} holds a receive cap of a service it does not own",
                    r,
                    slot
                );
                prop_assert_eq!(cap.rights, Rights::RECEIVE);
            } else {
                let connection = connections.get(&cap.badge);
                prop_assert!(
                    connection.is_some_and(
                        |c| c.client == realm && self.endpoints[&c.service] == cap.object
                    ),
                    "r{} slot {} holds a cap of a closed or foreign connection",
                    r,
                    slot
                );
                prop_assert_eq!(cap.rights, Rights::CLIENT);
            }
        }
        let owned = services.values().filter(|s| s.owner == realm).count();
        let open = connections.values().filter(|c| c.client == realm).count();
        let reserved: Vec<(ConnectionId, u64)> = self
            .reserved
            .iter()
            .filter(|(_, (client, _))| *client == r)
            .map(|(id, (_, slot))| (*id, *slot))
            .collect();
        prop_assert_eq!(self.broker.realm_slots_in_use(realm), owned + open + reserved.len());
        prop_assert_eq!(self.broker.registry().reserved_slots_of(realm), reserved.len());
        self.check_reserved_slots(r, &reserved, services, connections)?;
        if !self.tampered.contains(&r) {
            for s in services.values().filter(|s| s.owner == realm) {
                let cap =
                    self.kernel.cap((Space::Realm(r), s.owner_slot.0)).map(|(_, cap)| cap.object);
                prop_assert_eq!(cap, Some(self.endpoints[&s.name]), "r{} lost its receive cap", r);
            }
            for c in connections.values().filter(|c| c.client == realm) {
                let cap =
                    self.kernel.cap((Space::Realm(r), c.client_slot.0)).map(|(_, cap)| cap.badge);
                prop_assert_eq!(
                    cap,
                    Some(Badge::for_connection(c.id).value()),
                    "r{} lost its client cap",
                    r
                );
            }
        }
        Ok(())
    }
}

impl Run {
    /// The slots `r`'s closed connections reserve are recorded as reserved, held by no open
    /// connection or service, and (unless `r` moved caps around) empty.
    fn check_reserved_slots(
        &self,
        r: u8,
        reserved: &[(ConnectionId, u64)],
        services: &HashMap<Name, service_registry::Service>,
        connections: &HashMap<u64, service_registry::Connection>,
    ) -> Result<(), TestCaseError> {
        let realm = RealmId(r);
        for &(id, slot) in reserved {
            let lookup = self.broker.registry().connection(id);
            prop_assert!(
                matches!(
                    lookup,
                    service_registry::ConnectionLookup::Closed(closed)
                        if closed.reserved && closed.client_slot == CapSlot(slot)
                ),
                "{} should reserve r{} slot {}: {:?}",
                id,
                r,
                slot,
                lookup
            );
            let taken = connections.values().any(|c| c.client == realm && c.client_slot.0 == slot)
                || services.values().any(|s| s.owner == realm && s.owner_slot.0 == slot);
            prop_assert!(!taken, "r{} slot {} is reserved by {} and in use", r, slot, id);
            if !self.tampered.contains(&r) {
                prop_assert!(self.kernel.cap((Space::Realm(r), slot)).is_none());
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_broker_keeps_caps_and_policy_in_step(
        setup in setup(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut run = Run::new(setup);
        for step in steps {
            run.step(step)?;
            run.check_invariants()?;
        }
    }
}

/// The largest teardown: a realm with the most services and connections dies. Its parent
/// provides "base"; it owns every other service and holds half the connections (to "base");
/// its child holds the other half, to its services. Every op is valid for the kernel model,
/// nothing is left behind, and the op count is exactly the documented one.
#[test]
fn the_largest_teardown_leaves_nothing_behind() {
    use broker::{BROKER_SLOTS_NEEDED, MAX_CONNECTIONS, MAX_SERVICES};
    let held = MAX_CONNECTIONS / 2;
    let spec = |name: &str, parent, start, count: usize| RealmSpec {
        name: Name::new(name).unwrap(),
        parent,
        slots: SlotRange { start, count: count as u16 },
        quota: Quota { max_services: u16::MAX, max_connections: u16::MAX },
    };
    let realms = [
        spec("base", None, 10_000, 1),
        spec("heavy", Some(RealmId(0)), 20_000, MAX_SERVICES - 1 + held),
        spec("leaf", Some(RealmId(1)), 30_000, MAX_CONNECTIONS - held),
    ];
    let mut broker = Box::new(Broker::empty());
    broker
        .configure(&BrokerConfig {
            realms: &realms,
            grants: &[],
            services: &[],
            broker_slots: SlotRange { start: 1, count: BROKER_SLOTS_NEEDED as u16 },
        })
        .unwrap();
    let mut kernel = Kernel::default();
    let mut run = |broker: &mut Broker, realm: u8, request: Request| {
        let mut output = Output::new(&mut kernel);
        broker.handle(RealmId(realm), &request, &mut output).unwrap();
        output.finish().unwrap();
    };
    let service = |i: usize| Name::new(&format!("s{i}")).unwrap();
    run(&mut broker, 0, Request::Register { service: Name::new("base").unwrap() });
    for i in 1..MAX_SERVICES {
        run(&mut broker, 1, Request::Register { service: service(i) });
    }
    for i in 0..MAX_CONNECTIONS {
        if i < held {
            run(&mut broker, 1, Request::Connect { service: Name::new("base").unwrap() });
        } else {
            run(&mut broker, 2, Request::Connect { service: service(1 + i % (MAX_SERVICES - 1)) });
        }
    }
    assert_eq!(broker.broker_slots_in_use(), BROKER_SLOTS_NEEDED);

    let mut output = Output::new(&mut kernel);
    broker.realm_died(RealmId(1), &mut output);
    let record = output.finish().unwrap();
    let others = MAX_CONNECTIONS - held;
    assert_eq!(record.ops.len(), 4 * held + 3 * (MAX_SERVICES - 1) + others);
    assert_eq!(record.events.len(), held + (MAX_SERVICES - 1) + others + 1);
    kernel.destroy(Space::Realm(1));
    // Only base's endpoint and base's receive cap are left.
    assert_eq!(kernel.slots.len(), 2);
    assert_eq!(broker.broker_slots_in_use(), 1);
    assert_eq!(broker.registry().connections().count(), 0);
    assert_eq!(broker.registry().service_count(), 1);
    // leaf's connections were closed for it: their slots stay reserved until it lets go.
    assert_eq!(broker.realm_slots_in_use(RealmId(2)), others);
    assert_eq!(broker.registry().reserved_slots_of(RealmId(2)), others);
    for index in held..MAX_CONNECTIONS {
        let connection = ConnectionId::new(index as u16, 1).unwrap();
        let mut output = Output::new(&mut kernel);
        let reply = broker.handle(RealmId(2), &Request::Disconnect { connection }, &mut output);
        assert_eq!(reply, Ok(Response::Done));
        assert!(output.finish().unwrap().is_empty());
    }
    assert_eq!(broker.realm_slots_in_use(RealmId(2)), 0);
    assert_eq!(broker.registry().reserved_slots_of(RealmId(2)), 0);
}
