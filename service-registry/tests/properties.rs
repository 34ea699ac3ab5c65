//! Property tests of the registry over random sequences of changes: generations only grow,
//! an id never names two connections, the tables never exceed their bounds, every service is
//! found by name through the sorted index, the per-realm and per-service counts match
//! the tables, a reserved client slot is handed back exactly once (when released), a
//! record that reserves one is never overwritten, and services sharing an endpoint each have
//! their own index on it, the endpoint being freed exactly when its last service goes.

use std::collections::{HashMap, HashSet};

use ipc::{CloseReason, ConnectionId, Name, RealmId, ServiceIndex};
use proptest::prelude::*;
use service_registry::{
    CapSlot, ConnectionLookup, MAX_CONNECTIONS, MAX_REGISTERED_SERVICES, Registry, RegistryError,
    ReservedSlot,
};

#[derive(Clone, Debug)]
enum Change {
    AddService { name: u8, owner: u8 },
    AddShared { name: u8, share: u8 },
    RemoveService { name: u8 },
    Connect { client: u8, service: u8 },
    Close { pick: usize, reserve: bool },
    Release { pick: usize },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        2 => (0u8..40, 0u8..4).prop_map(|(name, owner)| Change::AddService { name, owner }),
        2 => (0u8..40, 0u8..40).prop_map(|(name, share)| Change::AddShared { name, share }),
        1 => (0u8..40).prop_map(|name| Change::RemoveService { name }),
        4 => (0u8..4, 0u8..40).prop_map(|(client, service)| Change::Connect { client, service }),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(pick, reserve)| Change::Close { pick, reserve }),
        2 => any::<usize>().prop_map(|pick| Change::Release { pick }),
    ]
}

fn service_name(n: u8) -> Name {
    Name::new(&format!("s{n}")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generations_grow_and_ids_stay_unique(changes in proptest::collection::vec(change(), 1..400)) {
        let mut registry = Registry::new();
        let mut last_service_generation = 0;
        let mut issued: Vec<ConnectionId> = Vec::new();
        let mut closed: HashSet<ConnectionId> = HashSet::new();
        let mut slot_generation: HashMap<u16, u16> = HashMap::new();
        // Each connection's client slot is its position in `issued`; the reserved ones.
        let mut clients: HashMap<ConnectionId, ReservedSlot> = HashMap::new();
        let mut reserved: HashMap<ConnectionId, ReservedSlot> = HashMap::new();
        // The model of endpoints: each service's endpoint (a new slot per `add_service`).
        let mut endpoint_of: HashMap<u8, CapSlot> = HashMap::new();
        let mut next_endpoint = 0;

        for change in changes {
            match change {
                Change::AddService { name, owner } => {
                    next_endpoint += 1;
                    let endpoint = CapSlot(next_endpoint);
                    match registry.add_service(service_name(name), RealmId(owner), endpoint, CapSlot(0), None) {
                        Ok(service) => {
                            prop_assert!(service.generation > last_service_generation);
                            prop_assert_eq!(service.index, ServiceIndex::FIRST);
                            last_service_generation = service.generation;
                            endpoint_of.insert(name, endpoint);
                        }
                        Err(RegistryError::AlreadyRegistered) => {
                            prop_assert!(registry.service(&service_name(name)).is_some());
                        }
                        Err(RegistryError::ServicesFull) => {
                            prop_assert_eq!(registry.services().count(), MAX_REGISTERED_SERVICES);
                        }
                        Err(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                Change::AddShared { name, share } => {
                    let Some(key) = registry.find(&service_name(share)) else { continue };
                    let shared = *registry.get(key).unwrap();
                    let on_endpoint = registry.endpoint_services(&shared);
                    match registry.add_shared_service(service_name(name), key, None) {
                        Ok(service) => {
                            prop_assert!(service.generation > last_service_generation);
                            last_service_generation = service.generation;
                            prop_assert_eq!(service.endpoint, shared.endpoint);
                            prop_assert_eq!(service.owner, shared.owner);
                            prop_assert_eq!(registry.endpoint_services(&service), on_endpoint + 1);
                            endpoint_of.insert(name, shared.endpoint);
                        }
                        Err(RegistryError::AlreadyRegistered) => {
                            prop_assert!(registry.service(&service_name(name)).is_some());
                        }
                        Err(RegistryError::ServicesFull) => {
                            prop_assert_eq!(registry.services().count(), MAX_REGISTERED_SERVICES);
                        }
                        Err(RegistryError::EndpointFull) => {
                            prop_assert_eq!(on_endpoint, ServiceIndex::LIMIT);
                        }
                        Err(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                Change::RemoveService { name } => {
                    let had = registry.service(&service_name(name)).copied();
                    let removed = registry.remove_service(&service_name(name));
                    prop_assert_eq!(removed.map(|removed| removed.service), had);
                    if let Some(removed) = removed {
                        let endpoint = endpoint_of.remove(&name).unwrap();
                        let left = endpoint_of.values().filter(|&&e| e == endpoint).count();
                        prop_assert_eq!(removed.endpoint_freed, left == 0);
                    }
                }
                Change::Connect { client, service } => {
                    let Some(key) = registry.find(&service_name(service)) else {
                        prop_assert!(registry.service(&service_name(service)).is_none());
                        continue;
                    };
                    prop_assert_eq!(registry.get(key), registry.service(&service_name(service)));
                    let client_slot = CapSlot(issued.len() as u64);
                    match registry.add_connection(RealmId(client), key, CapSlot(1), client_slot) {
                        Ok(connection) => {
                            // A record that still reserves its client's slot is never replaced.
                            prop_assert!(
                                reserved.keys().all(|id| id.index() != connection.id.index()),
                                "{} took the table slot of a reserving record", connection.id
                            );
                            clients.insert(connection.id, ReservedSlot { client: RealmId(client), slot: client_slot });
                            let index = connection.id.index();
                            let previous = slot_generation.insert(index, connection.id.generation()).unwrap_or(0);
                            prop_assert!(connection.id.generation() > previous);
                            prop_assert!(!issued.contains(&connection.id));
                            issued.push(connection.id);
                        }
                        Err(RegistryError::ConnectionsFull) => {
                            prop_assert_eq!(
                                registry.connections().count() + reserved.len(),
                                MAX_CONNECTIONS
                            );
                        }
                        Err(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
                Change::Close { pick, reserve } => {
                    if issued.is_empty() {
                        continue;
                    }
                    let id = issued[pick % issued.len()];
                    let was_open = matches!(registry.connection(id), ConnectionLookup::Open(_));
                    let result = registry.close_connection(id, CloseReason::ByClient, reserve);
                    prop_assert_eq!(result.is_some(), was_open);
                    if was_open && reserve {
                        reserved.insert(id, clients[&id]);
                    }
                    closed.insert(id);
                }
                Change::Release { pick } => {
                    if issued.is_empty() {
                        continue;
                    }
                    let id = issued[pick % issued.len()];
                    prop_assert_eq!(registry.release_reserved_slot(id), reserved.remove(&id));
                }
            }
            // A closed id never comes back; every open connection is findable by its id.
            for id in &closed {
                prop_assert!(!matches!(registry.connection(*id), ConnectionLookup::Open(_)));
            }
            for connection in registry.connections() {
                prop_assert_eq!(registry.connection(connection.id), ConnectionLookup::Open(connection));
            }
            check_tables(&registry)?;
            check_endpoints(&registry, &endpoint_of)?;
            for owner in 0..4 {
                let realm = RealmId(owner);
                let count = reserved.values().filter(|r| r.client == realm).count();
                prop_assert_eq!(registry.reserved_slots_of(realm), count);
            }
            for (id, slot) in &reserved {
                let index = usize::from(id.index());
                let record = registry.reserving_connection_at(index);
                prop_assert!(record.is_some_and(|r| r.id == *id && r.client_slot == slot.slot));
            }
        }
    }
}

/// The services on each endpoint have distinct indices and count themselves right.
fn check_endpoints(
    registry: &Registry,
    endpoint_of: &HashMap<u8, CapSlot>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(registry.service_count(), endpoint_of.len());
    for service in registry.services() {
        let sharing: Vec<_> =
            registry.services().filter(|other| other.endpoint == service.endpoint).collect();
        prop_assert_eq!(registry.endpoint_services(service), sharing.len());
        let mut indices: Vec<u8> = sharing.iter().map(|other| other.index.get()).collect();
        indices.sort_unstable();
        indices.dedup();
        prop_assert_eq!(indices.len(), sharing.len());
        prop_assert!(sharing.iter().all(|other| other.owner == service.owner));
    }
    Ok(())
}

/// Every service is found by its name within a binary search's comparisons; nothing else is
/// found; the counts match the tables.
fn check_tables(registry: &Registry) -> Result<(), TestCaseError> {
    let count = registry.service_count();
    let depth = (usize::BITS - count.leading_zeros()) as usize;
    for n in 0..40 {
        let name = service_name(n);
        let found = registry.service(&name);
        prop_assert_eq!(found, registry.services().find(|s| s.name == name));
        prop_assert!(registry.lookup_cost(&name) <= depth + 1);
    }
    prop_assert_eq!(registry.services().count(), count);
    for owner in 0..4 {
        let realm = RealmId(owner);
        let owned = registry.services().filter(|s| s.owner == realm).count();
        prop_assert_eq!(registry.services_owned_by(realm), owned);
        let held = registry.connections().filter(|c| c.client == realm).count();
        prop_assert_eq!(registry.connections_of(realm), held);
    }
    for service in registry.services() {
        let open = registry
            .connections()
            .filter(|c| c.service == service.name && c.service_generation == service.generation)
            .count();
        prop_assert_eq!(usize::from(service.open_connections), open);
    }
    Ok(())
}
