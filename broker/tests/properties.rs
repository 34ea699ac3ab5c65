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
//! - a mint happens only for a connect that a literal model of the policy allows, decided
//!   before looking for the service, and every open connection is still allowed by it;
//!   denials carry the model's verdict and are logged; a denied connect is denied the same in
//!   a copy of the broker where the service's registration is undone (or made, by any realm
//!   that may register it): connect is no oracle;
//! - an allowed connect to a service not registered says why: unknown (declared nowhere; in
//!   the model only, a checked system grants no such name), not registered yet, restarting,
//!   or gone, as the model of the provider's life says;
//! - a grant is accepted exactly when the model says it could be used (the granter is the
//!   parent, reaches the service itself, and the service's list accepts the grantee), and a
//!   refusal names the rule;
//! - a connection closed for a reason its client did not choose (by its service, a revoked
//!   grant, its service gone) keeps its client's slot reserved and empty, and its connection
//!   table entry: no later connect or register gets either, however many connections come
//!   and go (churn steps reuse the table thousands of times), until the client lets go
//!   (`Disconnect` answers `Done` once) or dies; open and reserved together stay within the
//!   client's `max_connections`;
//! - a register with `share` puts the service on the endpoint of another service of the same
//!   realm (no kernel op; refused with `NotFound` otherwise, whether the shared name is
//!   registered by another realm or by none), and every
//!   connection's badge carries the index of its service on its endpoint; removing a service
//!   that shares its endpoint leaves the endpoint and the owner's cap to the others, and the
//!   endpoint goes exactly with its last service;
//! - a typed connect to a service registered with another interface never succeeds (it is
//!   refused with `InterfaceMismatch`, logged); a register of a service that `system.toml`
//!   declares with an interface succeeds only with an interface of that name;
//! - generations only grow; slot accounting (reserved slots included) matches; nothing panics.
//!
//! The kernel model (the `cap-model` crate, shared with the supervisor's tests) is the
//! broker's [`OpSink`]: each op runs against it the moment the broker produces it, as in the
//! memory manager.

use std::collections::{HashMap, HashSet};

use broker::{Broker, Event, KernelOp, Layout, LogLine, OpSink, SlotRange, rights};
use cap_model::{Kernel, Node, Output, Record, Space};
use ipc::{
    Badge, CloseReason, ConnectionId, Error, InterfaceId, Missing, Name, RealmId, Reply, Request,
    Resource, Response,
};
use proptest::prelude::*;
use service_registry::CapSlot;
use system_config::CheckedConfig;
use vocabulary::limits::{MAX_CONNECTIONS, MAX_REGISTERED_SERVICES};

// ---------------------------------------------------------------------------------------------
// The system under test and a literal model of its policy.
//
// 0 ── 1 ── 5
//   └─ 2 ── 3 ── 4
//
// Written as `system.toml` text and checked by `system_config::parse`, as every system the
// broker takes. (5 was once a second top-level realm: the checker refuses that, see
// `a_second_top_level_realm_is_refused`.)

const PARENTS: [Option<u8>; 6] = [None, Some(0), Some(0), Some(2), Some(3), Some(1)];
const REALMS: u8 = PARENTS.len() as u8;
/// Services `s0`..`s5`; the first [`DECLARED`] are declared (`[[service]]`, with their
/// provider) in the system description, the others nowhere.
const SERVICES: u8 = 6;
const DECLARED: u8 = 4;
const MAX_CONNECTIONS_PER_REALM: usize = 4;
/// `max_services` of every realm.
const MAX_SERVICES_PER_REALM: usize = 2;
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

/// The interfaces steps use: `i0` and `i1`, each with fingerprints 0 and 1.
type InterfaceSeed = (u8, u8);

fn interface_name(n: u8) -> Name {
    Name::new(&format!("i{n}")).unwrap()
}

fn interface((n, fingerprint): InterfaceSeed) -> InterfaceId {
    InterfaceId { name: interface_name(n), fingerprint: u64::from(fingerprint) }
}

fn interface_seed() -> impl Strategy<Value = Option<InterfaceSeed>> {
    proptest::option::of((0u8..2, 0u8..2))
}

/// The system description: `[[grant]]`s (of declared services), the provider of each
/// declared service, and its allowed-clients list if it has one.
#[derive(Clone, Debug)]
struct Setup {
    static_grants: Vec<(u8, u8)>,
    providers: Vec<u8>,
    lists: Vec<Option<Vec<u8>>>,
    /// The interface name (`i0`, `i1`) each declared service is declared with, if any.
    interfaces: Vec<Option<u8>>,
}

impl Setup {
    /// Made valid the way the checker wants it, keeping the draw's intent: a realm provides
    /// at most `max_services` declared services (others move to the next realm), lists have
    /// no repeats, grants name declared services, once, and clients their lists accept.
    fn checkable(mut self) -> Self {
        let mut provided = [0usize; REALMS as usize];
        for provider in &mut self.providers {
            while provided[*provider as usize] >= MAX_SERVICES_PER_REALM {
                *provider = (*provider + 1) % REALMS;
            }
            provided[*provider as usize] += 1;
        }
        for list in self.lists.iter_mut().flatten() {
            list.sort_unstable();
            list.dedup();
        }
        let lists = self.lists.clone();
        self.static_grants.retain(|&(client, s)| {
            s < DECLARED && lists[s as usize].as_ref().is_none_or(|list| list.contains(&client))
        });
        let mut seen = HashSet::new();
        self.static_grants.retain(|grant| seen.insert(*grant));
        self
    }

    /// The system as `system.toml` text: every realm at priority 100, with 2 services and 4
    /// connections.
    fn toml(&self) -> String {
        let mut text = String::new();
        for r in 0..REALMS {
            text += &format!("[[realm]]\nname = \"{}\"\nprogram = \"p\"\n", realm_name(r));
            if let Some(parent) = PARENTS[r as usize] {
                text += &format!("parent = \"{}\"\n", realm_name(parent));
            }
            text += &format!(
                "priority = 100\nmemory = \"1 MiB\"\nmax_services = {MAX_SERVICES_PER_REALM}\n\
                 max_connections = {MAX_CONNECTIONS_PER_REALM}\n"
            );
        }
        for s in 0..DECLARED {
            text += &format!(
                "[[service]]\nname = \"{}\"\nrealm = \"{}\"\n",
                service(s),
                realm_name(self.providers[s as usize])
            );
            if let Some(Some(n)) = self.interfaces.get(s as usize) {
                text += &format!("interface = \"{}\"\n", interface_name(*n));
            }
            if let Some(list) = &self.lists[s as usize] {
                let names: Vec<String> =
                    list.iter().map(|&r| format!("\"{}\"", realm_name(r))).collect();
                text += &format!("allowed_clients = [{}]\n", names.join(", "));
            }
        }
        for &(client, s) in &self.static_grants {
            text += &format!(
                "[[grant]]\nclient = \"{}\"\nservice = \"{}\"\n",
                realm_name(client),
                service(s)
            );
        }
        text
    }

    /// The system, checked (for the rest of the test run: the broker borrows it).
    fn config(&self) -> &'static CheckedConfig {
        let text = self.toml();
        let config = system_config::parse("system.toml", &text, &["p"])
            .unwrap_or_else(|errors| panic!("{errors:?}\n{text}"));
        Box::leak(Box::new(config))
    }
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        proptest::collection::vec((0..REALMS, 0..SERVICES), 0..6),
        proptest::collection::vec(0..REALMS, DECLARED as usize),
        proptest::collection::vec(
            proptest::option::weighted(0.3, proptest::collection::vec(0..REALMS, 0..4)),
            DECLARED as usize,
        ),
        proptest::collection::vec(proptest::option::weighted(0.4, 0u8..2), DECLARED as usize),
    )
        .prop_map(|(static_grants, providers, lists, interfaces)| {
            Setup { static_grants, providers, lists, interfaces }.checkable()
        })
}

struct Model {
    setup: Setup,
    runtime_grants: HashSet<(u8, u8)>,
    /// Realms the memory manager said it is restarting (until they register again).
    restarting: HashSet<u8>,
}

impl Model {
    fn parent(realm: u8) -> Option<u8> {
        PARENTS[realm as usize]
    }

    fn provider(&self, s: u8) -> Option<u8> {
        self.setup.providers.get(s as usize).copied()
    }

    /// Whether declared service `s` is gone for good: its provider stopped and is not being
    /// restarted (what the broker answers a connect with `ServiceGone`).
    fn gone(&self, broker: &Broker<'_>, s: u8) -> bool {
        s < DECLARED
            && self
                .provider(s)
                .is_some_and(|p| !self.restarting.contains(&p) && !broker.is_alive(RealmId(p)))
    }

    fn list(&self, s: u8) -> Option<&Vec<u8>> {
        self.setup.lists.get(s as usize).and_then(|list| list.as_ref())
    }

    fn reaches(&self, realm: u8, s: u8, owner: u8) -> bool {
        realm == owner
            || Self::parent(realm) == Some(owner)
            || self.setup.static_grants.contains(&(realm, s))
            || (self.runtime_grants.contains(&(realm, s))
                && Self::parent(realm).is_some_and(|p| self.reaches(p, s, owner)))
    }

    /// Reach that needs no owner: a static grant, directly or at the top of run-time grants.
    fn reaches_without_owner(&self, realm: u8, s: u8) -> bool {
        self.setup.static_grants.contains(&(realm, s))
            || (self.runtime_grants.contains(&(realm, s))
                && Self::parent(realm).is_some_and(|p| self.reaches_without_owner(p, s)))
    }

    fn listed(&self, client: u8, s: u8) -> bool {
        self.list(s).is_none_or(|list| list.contains(&client))
    }

    fn may_connect(&self, client: u8, s: u8, owner: u8) -> bool {
        self.reaches(client, s, owner) && self.listed(client, s)
    }

    /// Reach decided before looking: with the declared provider, else the realm that
    /// registered the service (if any), else with no owner.
    fn reaches_by_name(&self, realm: u8, s: u8, registered: Option<u8>) -> bool {
        match self.provider(s).or(registered) {
            Some(owner) => self.reaches(realm, s, owner),
            None => self.reaches_without_owner(realm, s),
        }
    }

    fn may_connect_by_name(&self, client: u8, s: u8, registered: Option<u8>) -> bool {
        self.reaches_by_name(client, s, registered) && self.listed(client, s)
    }

    fn may_register(&self, realm: u8, s: u8) -> bool {
        self.provider(s).is_none_or(|p| p == realm)
    }

    /// The interface name `system.toml` declares service `s` with, if any.
    fn declared_interface(&self, s: u8) -> Option<Name> {
        self.setup.interfaces.get(s as usize).copied().flatten().map(interface_name)
    }
}

fn build(setup: &Setup) -> Box<Broker<'static>> {
    let realm_slots: Vec<SlotRange> =
        (0..REALMS).map(|r| SlotRange { start: realm_slot_start(r), count: REALM_SLOTS }).collect();
    let layout =
        Layout { realm_slots: &realm_slots, broker_slots: SlotRange { start: 1, count: 14 } };
    let mut broker = Box::new(Broker::empty());
    broker.configure(setup.config(), &layout).unwrap();
    broker
}

/// The system this file once tested with realm 5 at the top level (a second root) is refused
/// by the checker, and so is a declared service without its provider: neither reaches the
/// broker.
#[test]
fn a_second_top_level_realm_is_refused() {
    let setup = Setup {
        static_grants: vec![],
        providers: vec![0, 1, 2, 3],
        lists: vec![None; 4],
        interfaces: vec![None; 4],
    };
    let text = setup.toml().replace(
        "name = \"r5\"\nprogram = \"p\"\nparent = \"r1\"\n",
        "name = \"r5\"\nprogram = \"p\"\n",
    );
    assert_ne!(text, setup.toml());
    let errors = system_config::parse("system.toml", &text, &["p"]).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == system_config::Rule::MultipleRootRealms), "{errors:?}");
    let text = setup.toml().replace("realm = \"r3\"\n", "");
    let errors = system_config::parse("system.toml", &text, &["p"]).unwrap_err();
    assert!(errors.iter().any(|e| e.rule == system_config::Rule::MissingField), "{errors:?}");
    setup.config();
}

// ---------------------------------------------------------------------------------------------
// Steps.

#[derive(Clone, Debug)]
enum Step {
    Register {
        realm: u8,
        service: u8,
        interface: Option<InterfaceSeed>,
        /// The service whose endpoint to share: `(true, k)` one the realm registered (the
        /// k-th, modulo their number; service `k` if it has none), `(false, k)` service `k`.
        share: Option<(bool, u8)>,
    },
    Connect {
        realm: u8,
        service: u8,
        interface: Option<InterfaceSeed>,
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
    /// The memory manager says whether the dead realm is being restarted.
    SetRestarting {
        realm: u8,
        restarting: bool,
    },
    /// `cycles` connects, each disconnected at once, while they succeed: reuses the
    /// connection table (thousands of times for the largest counts).
    Churn {
        realm: u8,
        service: u8,
        cycles: usize,
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
        4 => (realm(), svc(), interface_seed(), proptest::option::weighted(0.4, (proptest::bool::weighted(0.7), svc())))
            .prop_map(|(realm, service, interface, share)| Step::Register { realm, service, interface, share }),
        8 => (realm(), svc(), interface_seed())
            .prop_map(|(realm, service, interface)| Step::Connect { realm, service, interface }),
        3 => (realm(), any::<usize>()).prop_map(|(realm, pick)| Step::Disconnect { realm, pick }),
        2 => (realm(), any::<usize>()).prop_map(|(realm, pick)| Step::Status { realm, pick }),
        4 => (granter(), realm(), svc()).prop_map(|(granter, child, service)| Step::Grant { realm: pick_granter(granter, child), child, service }),
        3 => (granter(), realm(), svc()).prop_map(|(granter, child, service)| Step::Revoke { realm: pick_granter(granter, child), child, service }),
        1 => realm().prop_map(|realm| Step::Die { realm }),
        2 => realm().prop_map(|realm| Step::Restart { realm }),
        1 => (realm(), any::<bool>()).prop_map(|(realm, restarting)| Step::SetRestarting { realm, restarting }),
        1 => (realm(), svc(), prop_oneof![9 => 1usize..40, 1 => Just(2 * MAX_CONNECTIONS + 64)])
            .prop_map(|(realm, service, cycles)| Step::Churn { realm, service, cycles }),
        2 => (realm(), any::<usize>(), prop_oneof![PRIVATE_SLOTS, 0u64..REALM_SLOTS as u64], any::<bool>())
            .prop_map(|(realm, pick, to, moving)| Step::Shuffle { realm, pick, to, moving }),
        1 => (realm(), 0u64..8, proptest::collection::vec(prop_oneof![0u64..5, any::<u64>()], 0..6))
            .prop_map(|(realm, label, words)| Step::Garbage { realm, label, words }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Run {
    broker: Box<Broker<'static>>,
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
    /// How many connects took a connection table entry that had been used before.
    table_reuses: usize,
}

/// A sink that forgets everything: for the copies of the broker that answer "what if".
struct Nowhere;

impl OpSink for Nowhere {
    fn run(&mut self, _op: KernelOp) {}
    fn log(&mut self, _line: LogLine<'_>) {}
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
            model: Model { setup, runtime_grants: HashSet::new(), restarting: HashSet::new() },
            issued: vec![ConnectionId::new(7, 3).unwrap(), ConnectionId::new(63, 1).unwrap()],
            endpoints: HashMap::new(),
            last_service_generation: 0,
            last_connection_generation: HashMap::new(),
            tampered: HashSet::new(),
            client_slots: HashMap::new(),
            reserved: HashMap::new(),
            table_reuses: 0,
        }
    }

    /// Runs one broker call with the kernel model as its sink.
    fn call<R>(
        &mut self,
        call: impl FnOnce(&mut Broker<'_>, &mut dyn OpSink) -> R,
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
            Step::Register { realm, service: s, interface: seed, share } => {
                let share = share.map(|(own, k)| {
                    let mut owned: Vec<Name> = self
                        .broker
                        .registry()
                        .services()
                        .filter(|s| s.owner == RealmId(realm))
                        .map(|s| s.name)
                        .collect();
                    owned.sort_unstable();
                    match owned.len() {
                        n if own && n > 0 => owned[usize::from(k) % n],
                        _ => service(k),
                    }
                });
                let register = Request::Register {
                    service: service(s),
                    interface: seed.map(interface),
                    share,
                };
                self.request(realm, register)
            }
            Step::Connect { realm, service: s, interface: seed } => self.request(
                realm,
                Request::Connect { service: service(s), interface: seed.map(interface) },
            ),
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
            Step::SetRestarting { realm, restarting } => {
                prop_assert!(self.broker.set_restarting(RealmId(realm), restarting).is_ok());
                if restarting {
                    self.model.restarting.insert(realm);
                } else {
                    self.model.restarting.remove(&realm);
                }
                Ok(())
            }
            Step::Churn { realm, service: s, cycles } => {
                for _ in 0..cycles {
                    let before = self.issued.len();
                    self.request(realm, Request::Connect { service: service(s), interface: None })?;
                    if self.issued.len() == before {
                        break;
                    }
                    let connection = self.issued[before];
                    self.request(realm, Request::Disconnect { connection })?;
                }
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
            Request::Register { service: name, interface, share } => {
                self.check_register(realm, name, interface, share, reply, &record)?
            }
            Request::Connect { service: name, interface } => {
                self.check_connect(realm, name, interface, reply, &record)?
            }
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
        if let Ok(Response::Registered { generation, endpoint_slot, index }) = reply {
            let Request::Register { service: name, share, .. } = request else { unreachable!() };
            let registered = *self.broker.registry().service(&name).unwrap();
            prop_assert_eq!((registered.owner_slot.0, registered.index), (endpoint_slot, index));
            let (_, node) = self.kernel.cap((Space::Broker, registered.endpoint.0)).unwrap();
            if let Some(share) = share {
                // The same endpoint object, the same receive cap, no kernel op.
                prop_assert!(record.ops.is_empty());
                prop_assert_eq!(node.object, self.endpoints[&share]);
                let shared = self.broker.registry().service(&share).unwrap();
                prop_assert_eq!(shared.owner_slot.0, endpoint_slot);
                prop_assert_ne!(shared.index, index);
            } else {
                prop_assert_eq!(index, ipc::ServiceIndex::FIRST);
            }
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

    fn check_register(
        &mut self,
        realm: u8,
        name: Name,
        interface: Option<InterfaceId>,
        share: Option<Name>,
        reply: Reply,
        record: &Record,
    ) -> Result<(), TestCaseError> {
        let s = Self::number(&name);
        let allowed = self.model.may_register(realm, s);
        if !matches!(reply, Err(Error::Denied { .. }) | Err(Error::AlreadyRegistered)) {
            // A realm that registers (past the policy and the name check) is back.
            self.model.restarting.remove(&realm);
        }
        let declared = self.model.declared_interface(s);
        let interface_fits =
            declared.is_none_or(|declared| interface.is_some_and(|i| i.name == declared));
        // A failed register changes no registration: who holds `share` now, held it then.
        let shared_owner = share.and_then(|share| self.broker.registry().service(&share));
        let shared_owner = shared_owner.map(|shared| shared.owner.0);
        let mismatches = || {
            record.events.iter().filter(|event| {
                matches!(event, Event::DeclaredInterfaceMismatch { service, .. } if *service == name)
            })
        };
        match reply {
            Err(Error::Denied { .. }) => prop_assert!(!allowed),
            Ok(Response::Registered { .. }) => {
                prop_assert!(allowed && interface_fits);
                prop_assert!(share.is_none() || shared_owner == Some(realm));
            }
            Err(Error::AlreadyRegistered) => prop_assert!(allowed),
            Err(Error::InterfaceMismatch) => {
                prop_assert!(allowed && !interface_fits);
                prop_assert_eq!(mismatches().count(), 1);
            }
            Err(Error::NotFound { what: Missing::Service }) => {
                // Missing, or another realm's: the same answer.
                prop_assert!(allowed && interface_fits && share.is_some());
                prop_assert!(shared_owner != Some(realm));
            }
            Err(Error::QuotaExceeded { .. }) => prop_assert!(allowed && interface_fits),
            other => prop_assert!(false, "register replied {:?}", other),
        }
        if reply != Err(Error::InterfaceMismatch) {
            prop_assert_eq!(mismatches().count(), 0);
        }
        Ok(())
    }

    fn check_connect(
        &mut self,
        realm: u8,
        name: Name,
        interface: Option<InterfaceId>,
        reply: Reply,
        record: &Record,
    ) -> Result<(), TestCaseError> {
        let s = Self::number(&name);
        // A connect never changes who registered the service: read it now.
        let target = self.broker.registry().service(&name).copied();
        let registered = target.map(|s| s.owner.0);
        let allowed = self.model.may_connect_by_name(realm, s, registered);
        // Both sides typed, and not alike: never connected.
        let mismatch = target
            .and_then(|target| target.interface)
            .zip(interface)
            .is_some_and(|(theirs, ours)| theirs != ours);
        let logged = record
            .events
            .iter()
            .filter(|event| matches!(event, Event::InterfaceMismatch { .. }))
            .count();
        prop_assert_eq!(logged, usize::from(reply == Err(Error::InterfaceMismatch)));
        match reply {
            Err(Error::InterfaceMismatch) => prop_assert!(allowed && mismatch),
            Ok(_) | Err(Error::QuotaExceeded { .. }) => prop_assert!(!mismatch),
            _ => {}
        }
        match reply {
            Err(Error::InterfaceMismatch) => {}
            Err(Error::Denied { rule }) => {
                prop_assert!(
                    !allowed,
                    "r{} -> {} (owner {:?}) denied by {:?}",
                    realm,
                    name,
                    registered,
                    rule
                );
                self.denied_the_same_whoever_registered(realm, name, rule)?;
            }
            Ok(Response::Connected { connection, slot, .. }) => {
                prop_assert!(
                    allowed,
                    "connect r{} -> {} (owner {:?}) minted",
                    realm,
                    name,
                    registered
                );
                prop_assert!(registered.is_some());
                // A closed connection that reserves its client's slot keeps its entry too.
                prop_assert!(
                    self.reserved.keys().all(|id| id.index() != connection.index()),
                    "{} took the entry of a closed connection that reserves its slot",
                    connection
                );
                self.client_slots.insert(connection, (realm, slot));
                let previous = self
                    .last_connection_generation
                    .insert(connection.index(), connection.generation());
                if previous.is_some() {
                    self.table_reuses += 1;
                }
                prop_assert!(connection.generation() > previous.unwrap_or(0));
                self.issued.push(connection);
            }
            Err(Error::QuotaExceeded { what }) => {
                prop_assert!(allowed && registered.is_some());
                if what == Resource::RealmConnections {
                    let registry = self.broker.registry();
                    let held = registry.connections_of(RealmId(realm))
                        + registry.reserved_slots_of(RealmId(realm));
                    prop_assert!(held >= MAX_CONNECTIONS_PER_REALM);
                }
            }
            unavailable => {
                prop_assert!(allowed && registered.is_none(), "connect replied {:?}", unavailable);
                let expected = match (s < DECLARED, self.model.provider(s)) {
                    (false, _) => Error::NotFound { what: Missing::Service },
                    (true, Some(p)) if self.model.restarting.contains(&p) => {
                        Error::ServiceRestarting
                    }
                    (true, Some(p)) if !self.broker.is_alive(RealmId(p)) => Error::ServiceGone,
                    (true, _) => Error::NotYetRegistered,
                };
                prop_assert_eq!(unavailable, Err(expected));
            }
        }
        Ok(())
    }

    /// `realm` was denied `name`: in a copy of the broker where the service's registration
    /// is undone (or made, by each realm that may make it), the same connect is denied the
    /// same, or allowed only where the model allows it.
    fn denied_the_same_whoever_registered(
        &self,
        realm: u8,
        name: Name,
        rule: policy::Rule,
    ) -> Result<(), TestCaseError> {
        let connect = Request::Connect { service: name, interface: None };
        let s = Self::number(&name);
        // Registered as `system.toml` declares it, so that the register can succeed.
        let interface =
            self.model.declared_interface(s).map(|name| InterfaceId { name, fingerprint: 0 });
        let mut worlds: Vec<(Option<u8>, Box<Broker<'static>>)> = Vec::new();
        if self.broker.registry().service(&name).is_some() {
            let mut copy = Box::new((*self.broker).clone());
            copy.withdraw_service(&name, &mut Nowhere);
            worlds.push((None, copy));
        } else {
            for owner in 0..REALMS {
                let mut copy = Box::new((*self.broker).clone());
                let register = Request::Register { service: name, interface, share: None };
                if copy.handle(RealmId(owner), &register, &mut Nowhere).is_ok() {
                    worlds.push((Some(owner), copy));
                }
            }
        }
        for (owner, mut copy) in worlds {
            let reply = copy.handle(RealmId(realm), &connect, &mut Nowhere);
            match reply {
                Err(Error::Denied { rule: again }) => prop_assert_eq!(again, rule),
                other => prop_assert!(
                    owner.is_some_and(|o| self.model.may_connect(realm, s, o)),
                    "r{} denied {} ({:?}) but {:?} once r{:?} registered it",
                    realm,
                    name,
                    rule,
                    other,
                    owner
                ),
            }
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
        let parent = Model::parent(child) == Some(realm);
        let registered = self.broker.registry().service(&name).map(|s| s.owner.0);
        // A grant must be usable: the granter reaches the service, the grantee is listed.
        let expected_denial = if !parent {
            Some(policy::Rule::NotParent)
        } else if granting && !self.model.reaches_by_name(realm, s, registered) {
            Some(policy::Rule::GranterDoesNotReach)
        } else if granting && !self.model.listed(child, s) {
            Some(policy::Rule::GranteeNotInAllowedClients)
        } else if granting && registered.is_none() && self.model.gone(&self.broker, s) {
            Some(policy::Rule::ServiceGone)
        } else {
            None
        };
        match reply {
            Err(Error::Denied { rule }) => prop_assert_eq!(Some(rule), expected_denial),
            Ok(Response::Done) => {
                prop_assert_eq!(expected_denial, None);
                if granting {
                    self.model.runtime_grants.insert((child, s));
                } else {
                    prop_assert!(self.model.runtime_grants.remove(&(child, s)));
                }
            }
            Err(Error::NotFound { what: Missing::Grant }) => {
                prop_assert!(
                    parent && !granting && !self.model.runtime_grants.contains(&(child, s))
                );
            }
            Err(Error::QuotaExceeded { .. }) => {
                prop_assert!(granting && expected_denial.is_none())
            }
            other => prop_assert!(false, "grant replied {:?}", other),
        }
        Ok(())
    }

    /// The invariants that hold between any two steps.
    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let registry = self.broker.registry();
        let services: HashMap<Name, _> = registry.services().map(|s| (s.name, *s)).collect();
        // Each connection's badge carries its service's index on the endpoint.
        let connections: HashMap<u64, _> = registry
            .connections()
            .map(|c| (Badge::for_connection(c.id, services[&c.service].index).value(), *c))
            .collect();
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
            prop_assert_eq!(
                copy.badge,
                Badge::for_connection(c.id, services[&c.service].index).value()
            );
            prop_assert_eq!(copy.rights, rights::BROKER_COPY);
            prop_assert_eq!(copy.object, self.endpoints[&c.service]);
        }
        let held: HashSet<u64> =
            self.kernel.caps_in(Space::Broker).iter().map(|(slot, _)| *slot).collect();
        prop_assert_eq!(held, expected);
        // One endpoint per group of services sharing it, each service at its own index.
        let endpoints: HashSet<u64> = services.values().map(|s| s.endpoint.0).collect();
        prop_assert_eq!(self.broker.broker_slots_in_use(), endpoints.len() + connections.len());
        for s in services.values() {
            let sharing: Vec<_> =
                services.values().filter(|other| other.endpoint == s.endpoint).collect();
            prop_assert_eq!(registry.endpoint_services(s), sharing.len());
            prop_assert!(sharing.iter().all(|other| other.owner == s.owner
                && other.owner_slot == s.owner_slot
                && (other.name == s.name || other.index != s.index)));
            prop_assert_eq!(self.endpoints[&s.name], self.endpoints[&sharing[0].name]);
        }

        for r in 0..REALMS {
            self.check_realm(r, &services, &connections)?;
        }

        // Every open connection is still allowed, from a live client to the live instance.
        for c in connections.values() {
            let s = &services[&c.service];
            prop_assert_eq!(c.service_generation, s.generation);
            prop_assert!(self.broker.is_alive(c.client));
            let number = Self::number(&c.service);
            prop_assert!(self.model.may_connect_by_name(c.client.0, number, Some(s.owner.0)));
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
                prop_assert_eq!(cap.rights, rights::RECEIVE);
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
                prop_assert_eq!(cap.rights, rights::CLIENT);
            }
        }
        // Services sharing an endpoint share the owner's one receive cap, in one slot.
        let owned: HashSet<u64> =
            services.values().filter(|s| s.owner == realm).map(|s| s.owner_slot.0).collect();
        let owned = owned.len();
        let open = connections.values().filter(|c| c.client == realm).count();
        let reserved: Vec<(ConnectionId, u64)> = self
            .reserved
            .iter()
            .filter(|(_, (client, _))| *client == r)
            .map(|(id, (_, slot))| (*id, *slot))
            .collect();
        prop_assert_eq!(self.broker.realm_slots_in_use(realm), owned + open + reserved.len());
        prop_assert!(open + reserved.len() <= MAX_CONNECTIONS_PER_REALM);
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
                    Some(Badge::for_connection(c.id, services[&c.service].index).value()),
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

/// The issue-10 recipe, for each closure a client does not choose, checked by the same model
/// and invariants after every step: realm 3 holds three stale handles (kicked by its
/// service's owner, its grant revoked, its service gone), random steps follow, then another
/// realm reuses the connection table more than two thousand times. No reserved slot or table
/// entry is ever handed out again, and each stale handle still says how it closed.
fn stale_handle_scenario() -> Setup {
    Setup {
        // 2 reaches s0 (so it can grant it to 3); 3 reaches s3.
        static_grants: vec![(2, 0), (3, 3)],
        providers: vec![1, 2, 4, 1],
        lists: vec![None, None, None, None],
        interfaces: vec![None, None, None, None],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn stale_handles_survive_two_thousand_connection_table_reuses(
        middle in proptest::collection::vec(step(), 0..30),
    ) {
        let mut run = Run::new(stale_handle_scenario());
        let script = [
            Step::Register { realm: 1, service: 0, interface: None, share: None },
            Step::Register { realm: 2, service: 1, interface: None, share: None },
            Step::Register { realm: 1, service: 3, interface: None, share: None },
            Step::Grant { realm: 2, child: 3, service: 0 },
            Step::Connect { realm: 3, service: 1, interface: None },
            Step::Connect { realm: 3, service: 0, interface: None },
            Step::Connect { realm: 3, service: 3, interface: None },
        ];
        for step in script {
            run.step(step)?;
            run.check_invariants()?;
        }
        let [by_service, revoked, gone] = [1usize, 2, 3].map(|n| run.issued[run.issued.len() - 4 + n]);
        // Closures 3 did not choose: 2 kicks it off s1, revokes its grant of s0, 1 dies.
        for step in [
            Step::Disconnect { realm: 2, pick: run.issued.iter().position(|id| *id == by_service).unwrap() },
            Step::Revoke { realm: 2, child: 3, service: 0 },
            Step::Die { realm: 1 },
        ] {
            run.step(step)?;
            run.check_invariants()?;
        }
        prop_assert_eq!(run.broker.registry().reserved_slots_of(RealmId(3)), 3);
        for step in middle {
            run.step(step)?;
            run.check_invariants()?;
        }
        // Realm 5 registers s4 (declared nowhere) and churns on it, if the middle let it.
        for step in [
            Step::Restart { realm: 5 },
            Step::Register { realm: 5, service: 4, interface: None, share: None },
            Step::Churn { realm: 5, service: 4, cycles: 3 * MAX_CONNECTIONS + 64 },
        ] {
            run.step(step)?;
        }
        run.check_invariants()?;
        if run.broker.registry().service(&service(4)).is_some_and(|s| s.owner == RealmId(5)) {
            prop_assert!(run.table_reuses >= 2000, "only {} reuses", run.table_reuses);
        }
        for (id, reason) in [
            (by_service, CloseReason::ByService),
            (revoked, CloseReason::AccessRevoked),
            (gone, CloseReason::ServiceGone),
        ] {
            if run.reserved.contains_key(&id) {
                let status = run.broker.handle(RealmId(3), &Request::Status { connection: id }, &mut Nowhere);
                prop_assert!(
                    matches!(status, Err(Error::Disconnected { reason: r }) if r == reason)
                        || matches!(status, Err(Error::ServiceRestarted { .. }) | Err(Error::ServiceRestarting)),
                    "{} of r3: {:?}", id, status
                );
            }
        }
    }
}

/// The largest teardown: a realm with the most services and connections dies. Its parent
/// provides "base"; it owns every other service and holds as many connections as a realm may
/// (255, to "base"); its children, the leaves, hold all the others, to its services. Every op
/// is valid for the kernel model, nothing is left behind, and the op count is exactly the
/// documented one.
#[test]
fn the_largest_teardown_leaves_nothing_behind() {
    use broker::BROKER_SLOTS_NEEDED;
    let most = usize::from(u8::MAX);
    let held = most;
    let others = MAX_CONNECTIONS - held;
    let leaves: Vec<usize> =
        (0..others.div_ceil(most)).map(|i| (others - i * most).min(most)).collect();
    let realm = |name: &str, parent: Option<&str>, services: usize, connections: usize| {
        let parent = parent.map_or(String::new(), |parent| format!("parent = \"{parent}\"\n"));
        format!(
            "[[realm]]\nname = \"{name}\"\nprogram = \"p\"\n{parent}priority = 100\n\
             memory = \"1 MiB\"\nmax_services = {services}\nmax_connections = {connections}\n"
        )
    };
    let mut text = realm("base", None, 1, 0);
    text += &realm("heavy", Some("base"), MAX_REGISTERED_SERVICES - 1, held);
    let mut realm_slots = vec![
        SlotRange { start: 10_000, count: 1 },
        SlotRange { start: 20_000, count: (MAX_REGISTERED_SERVICES - 1 + held) as u16 },
    ];
    for (i, &connections) in leaves.iter().enumerate() {
        text += &realm(&format!("leaf-{i}"), Some("heavy"), 0, connections);
        realm_slots.push(SlotRange { start: 30_000 + 1_000 * i as u64, count: connections as u16 });
    }
    let config: &'static CheckedConfig =
        Box::leak(Box::new(system_config::parse("system.toml", &text, &["p"]).unwrap()));
    let mut broker = Box::new(Broker::empty());
    let broker_slots = SlotRange { start: 1, count: BROKER_SLOTS_NEEDED as u16 };
    broker.configure(config, &Layout { realm_slots: &realm_slots, broker_slots }).unwrap();
    let mut kernel = Kernel::default();
    let mut run = |broker: &mut Broker<'_>, realm: u8, request: Request| {
        let mut output = Output::new(&mut kernel);
        broker.handle(RealmId(realm), &request, &mut output).unwrap();
        output.finish().unwrap();
    };
    let service = |i: usize| Name::new(&format!("s{i}")).unwrap();
    run(
        &mut broker,
        0,
        Request::Register { service: Name::new("base").unwrap(), interface: None, share: None },
    );
    for i in 1..MAX_REGISTERED_SERVICES {
        run(
            &mut broker,
            1,
            Request::Register { service: service(i), interface: None, share: None },
        );
    }
    for _ in 0..held {
        run(
            &mut broker,
            1,
            Request::Connect { service: Name::new("base").unwrap(), interface: None },
        );
    }
    let mut i = 0;
    for (leaf, &connections) in leaves.iter().enumerate() {
        for _ in 0..connections {
            let service = service(1 + i % (MAX_REGISTERED_SERVICES - 1));
            run(&mut broker, 2 + leaf as u8, Request::Connect { service, interface: None });
            i += 1;
        }
    }
    assert_eq!(broker.registry().connections().count(), MAX_CONNECTIONS);
    assert_eq!(broker.broker_slots_in_use(), BROKER_SLOTS_NEEDED);

    let mut output = Output::new(&mut kernel);
    broker.realm_died(RealmId(1), &mut output);
    let record = output.finish().unwrap();
    assert_eq!(record.ops.len(), 4 * held + 3 * (MAX_REGISTERED_SERVICES - 1) + others);
    assert_eq!(record.events.len(), held + (MAX_REGISTERED_SERVICES - 1) + others + 1);
    kernel.destroy(Space::Realm(1));
    // Only base's endpoint and base's receive cap are left.
    assert_eq!(kernel.slots.len(), 2);
    assert_eq!(broker.broker_slots_in_use(), 1);
    assert_eq!(broker.registry().connections().count(), 0);
    assert_eq!(broker.registry().service_count(), 1);
    // The leaves' connections were closed for them: their slots stay reserved until they
    // let go. Connection i is the i-th connect: heavy's first, then each leaf's in turn.
    let mut index = held;
    for (leaf, &connections) in leaves.iter().enumerate() {
        let leaf = RealmId(2 + leaf as u8);
        assert_eq!(broker.realm_slots_in_use(leaf), connections);
        assert_eq!(broker.registry().reserved_slots_of(leaf), connections);
        for _ in 0..connections {
            let connection = ConnectionId::new(index as u16, 1).unwrap();
            let mut output = Output::new(&mut kernel);
            let reply = broker.handle(leaf, &Request::Disconnect { connection }, &mut output);
            assert_eq!(reply, Ok(Response::Done));
            assert!(output.finish().unwrap().is_empty());
            index += 1;
        }
        assert_eq!(broker.realm_slots_in_use(leaf), 0);
        assert_eq!(broker.registry().reserved_slots_of(leaf), 0);
    }
    assert_eq!(index, MAX_CONNECTIONS);
}
