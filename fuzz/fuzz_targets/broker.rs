//! The broker as a whole (`broker::Broker`, sans-IO): a sequence of messages from realms
//! (raw labels and words, and well-formed requests over a small pool of names, so that deep
//! states are reached) interleaved with deaths, restarts and withdrawals, run through a broker
//! with a small fixed configuration. Every kernel op goes to the model of seL4's capability
//! derivation tree (`cap-model`) the moment the broker produces it. After every step:
//!
//! - the model accepted every op (no copy into an occupied slot, no mint of a badged cap,
//!   no revoke or delete of an empty slot, ...);
//! - a malformed message is answered `MalformedRequest` with the decoder's reason, and every
//!   reply travels (`encode_reply`, `decode_reply`) intact;
//! - the broker's CSpace holds exactly the live services' endpoints and the open
//!   connections' badged copies, and its slot count says so;
//! - each realm's CSpace holds only the receive caps of services it owns and the client caps
//!   of its open connections (none once it is dead), its slot count is its receive caps
//!   (one per endpoint: services sharing one share it) + open + reserved, within its quotas;
//!   no cap anywhere reaches a removed endpoint; every open connection's client is alive;
//! - every badge carries the index of its connection's service on the endpoint, and a typed
//!   connect to a service registered with another interface never succeeds.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use broker::{Broker, Layout, Quota, Rights, SlotRange, rights};
use cap_model::{Kernel, Output, Space};
use ipc::{
    Badge, BadgeKind, ConnectionId, Error, InterfaceId, Name, RealmId, Reply, Request, Response,
    decode_reply, encode_reply,
};
use libfuzzer_sys::fuzz_target;
use service_registry::{ConnectionLookup, Service};
use switchboard_fuzz::RawMessage;
use system_config::CheckedConfig;

/// Realms: r0 is the root; r1 and r2 its children; r3 the child of r2. Id 4 is no realm.
const PARENTS: [Option<u8>; 4] = [None, Some(0), Some(0), Some(2)];
const REALM_SLOTS: u16 = 5;
const QUOTA: Quota = Quota { max_services: 2, max_connections: 3 };
/// Names requests are made of: the realms', the services' and one nobody uses.
const NAMES: [&str; 9] = ["r0", "r1", "r2", "r3", "s0", "s1", "s2", "s3", "x"];

/// The broker lives in a static, as in the memory manager (it is about 235 KiB), and is
/// configured afresh for every input, from the fixed system description it borrows.
static BROKER: Mutex<Broker<'static>> = Mutex::new(Broker::empty());
static CONFIG: OnceLock<CheckedConfig> = OnceLock::new();

#[derive(Arbitrary, Debug)]
enum Step {
    /// Any message from a realm (or from the id no realm has).
    Message { realm: u8, message: RawMessage },
    /// A well-formed request: `kind` picks the request, `a` and `b` the names or the
    /// connection (one the broker issued, or any connection word); for a register or a
    /// connect, bits of `connection` pick the interface (named `b`) and the shared service
    /// (`b`).
    Request { realm: u8, kind: u8, a: u8, b: u8, connection: u32 },
    /// The realm died: the memory manager withdraws its caps and tears its CSpace down.
    Died { realm: u8, restarting: bool },
    /// The realm was started again.
    Started { realm: u8 },
    /// The memory manager withdraws a service (creating its endpoint failed).
    Withdraw { name: u8 },
}

fn name(index: u8) -> Name {
    Name::new(NAMES[usize::from(index) % NAMES.len()]).expect("a valid name")
}

/// The fixed system: r0 to r3 as in [`PARENTS`], each with [`QUOTA`]; s0 provided by r1
/// (granted to r3, declared with the interface `x`), s1 by r2 (only r3 and r0 may use it),
/// s2 by r1 (only r1 may use it, granted to r1); s3 and x are declared nowhere.
fn system() -> String {
    let mut text = String::new();
    for (index, parent) in PARENTS.iter().enumerate() {
        text += &format!("[[realm]]\nname = \"{}\"\nprogram = \"p\"\n", name(index as u8));
        if let Some(parent) = parent {
            text += &format!("parent = \"{}\"\n", name(*parent));
        }
        text += &format!(
            "priority = 100\nmemory = \"1 MiB\"\nmax_services = {}\nmax_connections = {}\n",
            QUOTA.max_services, QUOTA.max_connections
        );
    }
    text += "[[service]]\nname = \"s0\"\nrealm = \"r1\"\ninterface = \"x\"\n\
             [[service]]\nname = \"s1\"\nrealm = \"r2\"\nallowed_clients = [\"r3\", \"r0\"]\n\
             [[service]]\nname = \"s2\"\nrealm = \"r1\"\nallowed_clients = [\"r1\"]\n\
             [[grant]]\nclient = \"r3\"\nservice = \"s0\"\n\
             [[grant]]\nclient = \"r1\"\nservice = \"s2\"\n";
    text
}

fn configure(broker: &mut Broker<'static>) {
    let config = CONFIG.get_or_init(|| {
        system_config::parse("system.toml", &system(), &["p"]).expect("the fixed system is valid")
    });
    let realm_slots: Vec<SlotRange> = (0..PARENTS.len() as u64)
        .map(|index| SlotRange { start: 100 * (index + 1), count: REALM_SLOTS })
        .collect();
    let layout =
        Layout { realm_slots: &realm_slots, broker_slots: SlotRange { start: 1, count: 10 } };
    broker.configure(config, &layout).expect("the fixed layout is valid");
}

/// A well-formed request from the fuzzer's choices.
fn request(kind: u8, a: u8, b: u8, connection: u32, issued: &[ConnectionId]) -> Request {
    let bits = connection;
    let connection = match issued.get(usize::from(a)) {
        Some(&id) if connection & 1 == 0 => id,
        _ => ConnectionId::from_word(u64::from(connection >> 1))
            .or_else(|| ConnectionId::new(0, 1))
            .expect("connection 0.1 is valid"),
    };
    match kind % 6 {
        0 => Request::Register {
            service: name(a),
            interface: interface(b, bits),
            share: (bits & 4 != 0).then(|| name(b)),
        },
        1 => Request::Connect { service: name(a), interface: interface(b, bits) },
        2 => Request::Disconnect { connection },
        3 => Request::Status { connection },
        4 => Request::Grant { child: name(a), service: name(b) },
        _ => Request::RevokeGrant { child: name(a), service: name(b) },
    }
}

/// No interface when bit 0 of `bits` is clear, else the interface named `b` with fingerprint
/// bit 1.
fn interface(b: u8, bits: u32) -> Option<InterfaceId> {
    (bits & 1 != 0).then(|| InterfaceId { name: name(b), fingerprint: u64::from(bits >> 1 & 1) })
}

fn check_reply(reply: &Reply) {
    let encoded = encode_reply(reply);
    assert_eq!(decode_reply(encoded.label(), encoded.words()), Ok(*reply));
}

/// The invariants that hold between any two steps. Connections are looked up by the badges
/// of the caps that exist (walking the 1024-entry connection table at every step would make
/// this target several times slower), and counted against the registry's own counts.
fn check_state(broker: &Broker<'_>, kernel: &Kernel) {
    let registry = broker.registry();
    let endpoint_object = |slot: u64| {
        kernel.cap((Space::Broker, slot)).map(|(_, node)| node.object).expect("a live endpoint")
    };
    let open_connection = |badge: u64| {
        let id = Badge::connection(badge).expect("a connection badge");
        match registry.connection(id) {
            ConnectionLookup::Open(connection) => *connection,
            _ => panic!("a cap badged for {id}, which is not open"),
        }
    };
    let services: HashMap<u64, Service> =
        registry.services().map(|service| (service.endpoint.0, *service)).collect();
    let live: HashSet<u32> = services.keys().map(|&slot| endpoint_object(slot)).collect();
    assert!(kernel.nodes.values().all(|node| live.contains(&node.object)));

    // The broker's CSpace: exactly the live endpoints and the open connections' copies.
    let held = kernel.caps_in(Space::Broker);
    let mut copies = 0;
    for (slot, cap) in &held {
        assert_eq!(cap.rights, Rights::ALL);
        if cap.badge == 0 {
            assert!(services.contains_key(slot), "broker slot {slot} holds a removed endpoint");
            continue;
        }
        let connection = open_connection(cap.badge);
        assert_eq!(connection.broker_copy.0, *slot);
        let service = registry.service(&connection.service).expect("its service is registered");
        assert_eq!(cap.object, endpoint_object(service.endpoint.0));
        assert_eq!(
            Badge::decode(cap.badge),
            Ok(BadgeKind::Connection { connection: connection.id, service: service.index })
        );
        assert!(broker.is_alive(connection.client), "a dead realm holds {}", connection.id);
        copies += 1;
    }
    let open: usize = (0..=u8::MAX).map(|realm| registry.connections_of(RealmId(realm))).sum();
    assert_eq!(copies, open, "an open connection has no copy in the broker's CSpace");
    assert_eq!(held.len(), services.len() + copies);
    assert_eq!(broker.broker_slots_in_use(), held.len());

    let mut client_caps = 0;
    for index in 0..PARENTS.len() as u8 {
        let realm = RealmId(index);
        let caps = kernel.caps_in(Space::Realm(index));
        if !broker.is_alive(realm) {
            assert!(caps.is_empty());
        }
        for (slot, cap) in &caps {
            if cap.badge == 0 {
                assert_eq!(cap.rights, rights::RECEIVE);
                assert!(services.values().any(|service| service.owner == realm
                    && service.owner_slot.0 == *slot
                    && endpoint_object(service.endpoint.0) == cap.object));
            } else {
                assert_eq!(cap.rights, rights::CLIENT);
                let connection = open_connection(cap.badge);
                assert_eq!((connection.client, connection.client_slot.0), (realm, *slot));
                client_caps += 1;
            }
        }
        let owned = registry.services_owned_by(realm);
        let receive_caps: HashSet<u64> = registry
            .services()
            .filter(|service| service.owner == realm)
            .map(|service| service.owner_slot.0)
            .collect();
        let open = registry.connections_of(realm);
        let reserved = registry.reserved_slots_of(realm);
        assert_eq!(broker.realm_slots_in_use(realm), receive_caps.len() + open + reserved);
        assert!(owned <= usize::from(QUOTA.max_services));
        assert!(open + reserved <= usize::from(QUOTA.max_connections));
    }
    assert_eq!(client_caps, copies, "an open connection's client holds no cap");
}

fuzz_target!(|steps: Vec<Step>| {
    let mut broker = BROKER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    configure(&mut broker);
    let mut kernel = Kernel::default();
    let mut issued: Vec<ConnectionId> = Vec::new();
    for step in steps.iter().take(64) {
        let mut output = Output::new(&mut kernel);
        match *step {
            Step::Message { realm, ref message } => {
                let (label, words) = message.parts();
                let realm = RealmId(realm % 5);
                let reply = broker.handle_message(realm, label, &words, &mut output);
                if let Err(reason) = Request::decode(label, &words) {
                    assert_eq!(reply, Err(Error::MalformedRequest { reason }));
                }
                check_reply(&reply);
            }
            Step::Request { realm, kind, a, b, connection } => {
                let request = request(kind, a, b, connection, &issued);
                let reply = broker.handle(RealmId(realm % 5), &request, &mut output);
                if let Ok(Response::Connected { connection, .. }) = reply {
                    issued.push(connection);
                    // Never to a service registered with another interface.
                    if let Request::Connect { service, interface: Some(asked) } = request {
                        let registered = broker.registry().service(&service).expect("connected");
                        assert!(registered.interface.is_none_or(|theirs| theirs == asked));
                    }
                }
                check_reply(&reply);
            }
            Step::Died { realm, restarting } => {
                let realm = RealmId(realm % 5);
                broker.realm_died(realm, &mut output);
                let _ = broker.set_restarting(realm, restarting);
            }
            Step::Started { realm } => {
                let realm = RealmId(realm % 5);
                if !broker.is_alive(realm) {
                    let _ = broker.realm_started(realm);
                }
            }
            Step::Withdraw { name: index } => broker.withdraw_service(&name(index), &mut output),
        }
        if let Err(problem) = output.finish() {
            panic!("{problem}");
        }
        // The memory manager tears down the CSpace of a realm the broker knows dead.
        for index in 0..PARENTS.len() as u8 {
            if !broker.is_alive(RealmId(index)) {
                kernel.destroy(Space::Realm(index));
            }
        }
        check_state(&broker, &kernel);
    }
});
