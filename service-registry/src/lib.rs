//! `service-registry`: the broker's bounded tables of registered services and connections.
//!
//! It records facts and hands out identities; it decides nothing (that is `policy`) and
//! touches no kernel object (that is the memory manager, driven by `broker`). Cap slots are
//! opaque [`CapSlot`] handles here.
//!
//! - Services are found by name. Each registration gets a new generation from one counter
//!   that only grows, so a restarted service is always newer than the one it replaces.
//! - Connections live in a fixed table of [`MAX_CONNECTIONS`] slots. A slot's generation
//!   grows each time it is reused, so a [`ConnectionId`] (slot index + generation) never names
//!   a later connection. A slot whose 16-bit generation is used up is retired, never reused.
//!   A closed connection stays on record in its slot (for [`Registry::connection`]) until the
//!   slot is reused; free slots are reused before closed ones.
//!
//! Running out of room is an error, never a panic.
#![cfg_attr(not(test), no_std)]

use ipc::{CloseReason, ConnectionId, Name, RealmId};

/// How many services can be registered at once.
pub const MAX_SERVICES: usize = 32;
/// How many connections can be open at once (at most 256: the badge keeps an 8-bit index).
pub const MAX_CONNECTIONS: usize = 64;
const _: () = assert!(MAX_CONNECTIONS <= 256);

/// A slot in some CSpace, opaque to the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapSlot(pub u64);

/// A registered service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: Name,
    pub owner: RealmId,
    /// This instance's generation; a later registration of the same name has a larger one.
    pub generation: u32,
    /// The broker's original cap to the service's endpoint.
    pub endpoint: CapSlot,
    /// Where the owner's Receive cap to the endpoint is, in the owner's CSpace.
    pub owner_slot: CapSlot,
}

/// An open connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub client: RealmId,
    pub service: Name,
    /// The generation of the service instance it reaches.
    pub service_generation: u32,
    /// The broker's copy of the badged cap (the parent of the client's cap).
    pub broker_copy: CapSlot,
    /// Where the client's Send cap is, in the client's CSpace.
    pub client_slot: CapSlot,
}

/// What is remembered of a closed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedConnection {
    pub id: ConnectionId,
    pub client: RealmId,
    pub service: Name,
    pub service_generation: u32,
    pub reason: CloseReason,
}

/// What a connection id names now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionLookup<'a> {
    Open(&'a Connection),
    Closed(&'a ClosedConnection),
    /// The id was issued, but its slot has been reused (or retired) since: it is closed, and
    /// why is forgotten.
    Superseded,
    /// The id was never issued.
    Unknown,
}

/// Why the registry refused a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryError {
    AlreadyRegistered,
    /// [`MAX_SERVICES`] services are registered.
    ServicesFull,
    /// Every connection slot is open or retired.
    ConnectionsFull,
    /// The service generation counter is used up.
    GenerationsExhausted,
    /// No service of that name is registered.
    NoSuchService,
}

/// What a connection slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    Open(Connection),
    Closed(ClosedConnection),
}

/// One slot of the connection table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ConnectionSlot {
    /// The generation of the last connection issued here (0: never used).
    generation: u16,
    state: SlotState,
}

impl ConnectionSlot {
    const UNUSED: Self = Self { generation: 0, state: SlotState::Free };

    /// Whether a new connection may take this slot.
    const fn reusable(&self) -> bool {
        !matches!(self.state, SlotState::Open(_)) && self.generation < u16::MAX
    }
}

/// The tables.
#[derive(Clone, Debug)]
pub struct Registry {
    services: heapless::Vec<Service, MAX_SERVICES>,
    connections: [ConnectionSlot; MAX_CONNECTIONS],
    /// The generation the next registration gets.
    next_service_generation: u32,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub const fn new() -> Self {
        Self {
            services: heapless::Vec::new(),
            connections: [ConnectionSlot::UNUSED; MAX_CONNECTIONS],
            next_service_generation: 1,
        }
    }

    /// The registered service called `name`.
    pub fn service(&self, name: &Name) -> Option<&Service> {
        self.services.iter().find(|service| service.name == *name)
    }

    /// Every registered service.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// How many services `realm` has registered.
    pub fn services_owned_by(&self, realm: RealmId) -> usize {
        self.services().filter(|s| s.owner == realm).count()
    }

    /// Whether one more service fits.
    pub fn has_room_for_service(&self) -> bool {
        !self.services.is_full()
    }

    /// Records a new service with the next generation.
    pub fn add_service(
        &mut self,
        name: Name,
        owner: RealmId,
        endpoint: CapSlot,
        owner_slot: CapSlot,
    ) -> Result<Service, RegistryError> {
        if self.service(&name).is_some() {
            return Err(RegistryError::AlreadyRegistered);
        }
        if !self.has_room_for_service() {
            return Err(RegistryError::ServicesFull);
        }
        let generation = self.next_service_generation;
        let next = generation.checked_add(1).ok_or(RegistryError::GenerationsExhausted)?;
        let service = Service { name, owner, generation, endpoint, owner_slot };
        self.services.push(service).map_err(|_| RegistryError::ServicesFull)?;
        self.next_service_generation = next;
        Ok(service)
    }

    /// Forgets the service called `name` (its connections are the caller's to close first).
    pub fn remove_service(&mut self, name: &Name) -> Option<Service> {
        let index = self.services.iter().position(|s| s.name == *name)?;
        Some(self.services.swap_remove(index))
    }

    /// Every open connection.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.connections.iter().filter_map(|slot| match &slot.state {
            SlotState::Open(connection) => Some(connection),
            _ => None,
        })
    }

    /// How many connections `realm` has open as a client.
    pub fn connections_of(&self, realm: RealmId) -> usize {
        self.connections().filter(|c| c.client == realm).count()
    }

    /// Whether one more connection fits.
    pub fn has_room_for_connection(&self) -> bool {
        self.connections.iter().any(ConnectionSlot::reusable)
    }

    /// The slot a new connection takes: a never-used or freed one first, so closed records
    /// are kept as long as possible.
    fn slot_for_new_connection(&self) -> Option<usize> {
        let free = self
            .connections
            .iter()
            .position(|slot| slot.reusable() && slot.state == SlotState::Free);
        free.or_else(|| self.connections.iter().position(ConnectionSlot::reusable))
    }

    /// Opens a connection from `client` to the registered service `service`.
    pub fn add_connection(
        &mut self,
        client: RealmId,
        service: &Name,
        broker_copy: CapSlot,
        client_slot: CapSlot,
    ) -> Result<Connection, RegistryError> {
        let service_generation =
            self.service(service).ok_or(RegistryError::NoSuchService)?.generation;
        let index = self.slot_for_new_connection().ok_or(RegistryError::ConnectionsFull)?;
        let slot = self.connections.get_mut(index).ok_or(RegistryError::ConnectionsFull)?;
        let generation = slot.generation + 1;
        let id =
            ConnectionId::new(index as u8, generation).ok_or(RegistryError::ConnectionsFull)?;
        let connection = Connection {
            id,
            client,
            service: *service,
            service_generation,
            broker_copy,
            client_slot,
        };
        *slot = ConnectionSlot { generation, state: SlotState::Open(connection) };
        Ok(connection)
    }

    /// What `id` names now.
    pub fn connection(&self, id: ConnectionId) -> ConnectionLookup<'_> {
        let Some(slot) = self.connections.get(usize::from(id.index())) else {
            return ConnectionLookup::Unknown;
        };
        if id.generation() > slot.generation {
            return ConnectionLookup::Unknown;
        }
        if id.generation() < slot.generation {
            return ConnectionLookup::Superseded;
        }
        match &slot.state {
            SlotState::Open(connection) => ConnectionLookup::Open(connection),
            SlotState::Closed(closed) => ConnectionLookup::Closed(closed),
            SlotState::Free => ConnectionLookup::Unknown,
        }
    }

    /// Closes the open connection `id`, remembering `reason`; returns what it was.
    pub fn close_connection(
        &mut self,
        id: ConnectionId,
        reason: CloseReason,
    ) -> Option<Connection> {
        let slot = self.connections.get_mut(usize::from(id.index()))?;
        match slot.state {
            SlotState::Open(connection) if connection.id == id => {
                slot.state = SlotState::Closed(ClosedConnection {
                    id,
                    client: connection.client,
                    service: connection.service,
                    service_generation: connection.service_generation,
                    reason,
                });
                Some(connection)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    #[test]
    fn services_are_found_by_name_and_generations_grow() {
        let mut registry = Registry::new();
        let kv = registry.add_service(name("kv"), RealmId(1), CapSlot(10), CapSlot(20)).unwrap();
        assert_eq!(kv.generation, 1);
        assert_eq!(registry.service(&name("kv")), Some(&kv));
        assert_eq!(
            registry.add_service(name("kv"), RealmId(2), CapSlot(11), CapSlot(21)),
            Err(RegistryError::AlreadyRegistered)
        );
        assert_eq!(registry.remove_service(&name("kv")), Some(kv));
        let again = registry.add_service(name("kv"), RealmId(1), CapSlot(10), CapSlot(20)).unwrap();
        assert_eq!(again.generation, 2);
    }

    #[test]
    fn service_table_is_bounded() {
        let mut registry = Registry::new();
        for i in 0..MAX_SERVICES {
            let service = Name::new(&format!("s{i}")).unwrap();
            registry.add_service(service, RealmId(0), CapSlot(i as u64), CapSlot(0)).unwrap();
        }
        assert!(!registry.has_room_for_service());
        assert_eq!(
            registry.add_service(name("one-more"), RealmId(0), CapSlot(99), CapSlot(0)),
            Err(RegistryError::ServicesFull)
        );
    }

    #[test]
    fn connection_ids_are_never_reused() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1)).unwrap();
        let first =
            registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)).unwrap();
        assert_eq!(registry.connection(first.id), ConnectionLookup::Open(&first));
        registry.close_connection(first.id, CloseReason::ByClient).unwrap();
        assert!(matches!(
            registry.connection(first.id),
            ConnectionLookup::Closed(closed) if closed.reason == CloseReason::ByClient
        ));
        assert_eq!(registry.close_connection(first.id, CloseReason::ByClient), None);
        // Fill every slot: the closed one is reused last, with a newer generation.
        let mut ids = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let c =
                registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)).unwrap();
            ids.push(c.id);
        }
        let reused = ids.last().unwrap();
        assert_eq!(reused.index(), first.id.index());
        assert!(reused.generation() > first.id.generation());
        assert_eq!(registry.connection(first.id), ConnectionLookup::Superseded);
        assert_eq!(
            registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)),
            Err(RegistryError::ConnectionsFull)
        );
        let never = ConnectionId::new(1, 9).unwrap();
        assert_eq!(registry.connection(never), ConnectionLookup::Unknown);
    }

    #[test]
    fn a_slot_with_its_generations_used_up_is_retired() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1)).unwrap();
        registry.connections[0].generation = u16::MAX - 1;
        let last =
            registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)).unwrap();
        assert_eq!((last.id.index(), last.id.generation()), (0, u16::MAX));
        registry.close_connection(last.id, CloseReason::ByClient).unwrap();
        let next =
            registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)).unwrap();
        assert_eq!(next.id.index(), 1);
        for slot in registry.connections.iter_mut().skip(1) {
            slot.generation = u16::MAX;
            slot.state = SlotState::Free;
        }
        assert!(!registry.has_room_for_connection());
    }

    #[test]
    fn connecting_needs_a_registered_service() {
        let mut registry = Registry::new();
        assert_eq!(
            registry.add_connection(RealmId(2), &name("kv"), CapSlot(2), CapSlot(3)),
            Err(RegistryError::NoSuchService)
        );
    }
}
