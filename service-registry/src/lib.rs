//! `service-registry`: the broker's bounded tables of registered services and connections.
//!
//! It records facts and hands out identities; it decides nothing (that is `policy`) and
//! touches no kernel object (that is the memory manager, driven by `broker`). Cap slots are
//! opaque [`CapSlot`] handles here.
//!
//! - Services are found by name with a binary search over an index sorted by name: a lookup
//!   compares at most 11 names with [`MAX_REGISTERED_SERVICES`] services registered
//!   ([`Registry::lookup_cost`] says how many exactly), never scans the table, and no choice
//!   of names by a realm can make it slower. Each registration gets a new generation from one
//!   counter that only grows, so a restarted service is always newer than the one it replaces.
//! - Connections live in a fixed table of [`MAX_CONNECTIONS`] slots. A slot's generation
//!   grows each time it is reused, so a [`ConnectionId`] (slot index + generation) never names
//!   a later connection. A slot whose generation reached [`ConnectionId::MAX_GENERATION`] is
//!   retired, never reused. A closed connection stays on record in its slot (for
//!   [`Registry::connection`]) until the slot is reused: never-used slots are taken first,
//!   then closed ones, least recently closed first, so records are kept as long as possible.
//! - A closed connection's record can keep its client's slot reserved (the broker does so
//!   when the client did not choose the closure, so that the client's stale handle never
//!   names a newer connection). Such a record keeps its table slot too: it is not reused,
//!   however many connections come and go, until [`Registry::release_reserved_slot`] gives
//!   the client slot back (the client let go, or died). Reserved slots are counted per
//!   client ([`Registry::reserved_slots_of`]) so that the broker can charge them to the
//!   client's connection quota.
//! - Per-realm counts (services owned, connections held) are kept up to date, so quota checks
//!   cost nothing.
//! - Several services of one realm may share one endpoint ([`Registry::add_shared_service`]):
//!   each has its own [`ServiceIndex`] on it (the connection badges carry it), and an
//!   endpoint record per endpoint says which indices are taken, so that the next free one is
//!   found, and the last service's removal known ([`RemovedService::endpoint_freed`]), in
//!   O(1). A service also records the typed interface it was registered with.
//!
//! Every operation on one service or connection is O(1) or O(log n); registering or removing
//! a service also moves at most [`MAX_REGISTERED_SERVICES`] two-byte index entries. Running out of room
//! is an error, never a panic.
//!
//! The [`Registry`] is about 210 KiB: keep it in a static (its constructor is `const`) and
//! reset it in place with [`Registry::clear`].
#![forbid(unsafe_code)]
// On the broker's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

use core::cmp::Ordering;

use ipc::{CloseReason, ConnectionId, InterfaceId, Name, RealmId, ServiceIndex};

/// The table sizes: how many services can be registered at once, and how many connections
/// can be open at once (one per index of a connection badge). Defined in `vocabulary::limits`.
pub use vocabulary::limits::{MAX_CONNECTIONS, MAX_REGISTERED_SERVICES};
const _: () = assert!(MAX_CONNECTIONS == ConnectionId::INDEX_LIMIT);
// Table positions are kept as u16.
const _: () = assert!(MAX_REGISTERED_SERVICES <= 1 << 16 && MAX_CONNECTIONS <= 1 << 16);

/// Realm ids are bytes: the per-realm counters cover them all.
const REALM_IDS: usize = 1 << u8::BITS;

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
    /// Which of the endpoint's services this is: the badge of each of its connections carries
    /// it. [`ServiceIndex::FIRST`] for a service with an endpoint of its own.
    pub index: ServiceIndex,
    /// The typed interface it was registered with (`None`: none, nothing is checked).
    pub interface: Option<InterfaceId>,
    /// How many open connections reach this instance.
    pub open_connections: u16,
    /// Its endpoint's record in [`Registry::endpoint_services`], shared by every service on
    /// the endpoint.
    endpoint_record: u16,
}

/// A service [`Registry::remove_service`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedService {
    pub service: Service,
    /// Whether it was the last service on its endpoint: the endpoint is the caller's to
    /// destroy (and the owner's cap to it to delete). `false`: other services of the owner
    /// are still served on it.
    pub endpoint_freed: bool,
}

/// A registered service instance as [`Registry::find`] found it: reaches it again in O(1),
/// without comparing names, until a service is removed (a removal may move it; the key then
/// finds nothing rather than another service, since generations are never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceKey {
    position: u16,
    generation: u32,
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
    /// Where the client's Send cap was, in the client's CSpace.
    pub client_slot: CapSlot,
    /// Whether `client_slot` is still reserved for this connection (empty, not to be reused
    /// until the client lets go or the client realm dies). While it is, the record stays
    /// where it is: its table slot is not reused.
    pub reserved: bool,
}

/// A client slot that a closed connection no longer reserves: the broker's to free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedSlot {
    pub client: RealmId,
    pub slot: CapSlot,
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
    /// [`MAX_REGISTERED_SERVICES`] services are registered.
    ServicesFull,
    /// Every connection slot is open or retired.
    ConnectionsFull,
    /// The service generation counter is used up.
    GenerationsExhausted,
    /// No service of that name is registered.
    NoSuchService,
    /// The endpoint to share already carries [`ServiceIndex::LIMIT`] services.
    EndpointFull,
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
}

/// The tables.
#[derive(Clone, Debug)]
pub struct Registry {
    /// The services, in no particular order: a removal moves the last one into the gap.
    services: heapless::Vec<Service, MAX_REGISTERED_SERVICES>,
    /// Positions in `services`, sorted by the name of the service there.
    by_name: heapless::Vec<u16, MAX_REGISTERED_SERVICES>,
    /// The generation of the last registration (0: none yet).
    last_service_generation: u32,
    /// How many services each realm owns, by realm id.
    services_owned: [u16; REALM_IDS],
    /// One record per endpoint: bit `i` set when service index `i` on it is taken; 0 for a
    /// record no endpoint uses. An endpoint has at least one service, so there are never
    /// more endpoints than services.
    endpoint_services: [u8; MAX_REGISTERED_SERVICES],
    /// Records `endpoints_never_used..` have never been used.
    endpoints_never_used: u16,
    /// Records given back (their endpoint's last service was removed), to use again.
    free_endpoint_records: heapless::Vec<u16, MAX_REGISTERED_SERVICES>,
    connections: [ConnectionSlot; MAX_CONNECTIONS],
    /// Slots `never_used..MAX_CONNECTIONS` have never held a connection.
    never_used: u16,
    /// Slots whose connection was closed and that may be reused, least recently closed (or
    /// released) first. A closed connection that reserves its client slot is not here.
    reusable: heapless::Deque<u16, MAX_CONNECTIONS>,
    /// How many open connections each realm holds as a client, by realm id.
    connections_held: [u16; REALM_IDS],
    /// How many client slots closed connections reserve in each realm, by realm id.
    slots_reserved: [u16; REALM_IDS],
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds one to a counter of a bounded table (it never exceeds the table's size).
fn increment(counter: &mut u16) {
    *counter = counter.saturating_add(1);
}

fn decrement(counter: &mut u16) {
    *counter = counter.saturating_sub(1);
}

impl Registry {
    /// Empty tables. `const`, so that a static can hold them without a stack temporary.
    pub const fn new() -> Self {
        Self {
            services: heapless::Vec::new(),
            by_name: heapless::Vec::new(),
            last_service_generation: 0,
            services_owned: [0; REALM_IDS],
            endpoint_services: [0; MAX_REGISTERED_SERVICES],
            endpoints_never_used: 0,
            free_endpoint_records: heapless::Vec::new(),
            connections: [ConnectionSlot::UNUSED; MAX_CONNECTIONS],
            never_used: 0,
            reusable: heapless::Deque::new(),
            connections_held: [0; REALM_IDS],
            slots_reserved: [0; REALM_IDS],
        }
    }

    /// Empties the tables in place and starts generations over.
    pub fn clear(&mut self) {
        self.services.clear();
        self.by_name.clear();
        self.last_service_generation = 0;
        self.services_owned = [0; REALM_IDS];
        self.endpoint_services = [0; MAX_REGISTERED_SERVICES];
        self.endpoints_never_used = 0;
        self.free_endpoint_records.clear();
        for slot in &mut self.connections {
            *slot = ConnectionSlot::UNUSED;
        }
        self.never_used = 0;
        self.reusable.clear();
        self.connections_held = [0; REALM_IDS];
        self.slots_reserved = [0; REALM_IDS];
    }

    // -----------------------------------------------------------------------------------------
    // Services.

    /// Binary search of `by_name` for `name`: `Ok(i)` if `by_name[i]` is its position in
    /// `services`, else `Err(i)` where it would go. `on_compare` runs for each name compared.
    fn search(&self, name: &Name, mut on_compare: impl FnMut()) -> Result<usize, usize> {
        self.by_name.binary_search_by(|&position| {
            on_compare();
            self.services.get(usize::from(position)).map_or(Ordering::Less, |s| s.name.cmp(name))
        })
    }

    /// The position in `services` of the service called `name`.
    fn position(&self, name: &Name) -> Option<usize> {
        let entry = self.search(name, || {}).ok()?;
        self.by_name.get(entry).map(|&position| usize::from(position))
    }

    /// The registered service called `name`.
    pub fn service(&self, name: &Name) -> Option<&Service> {
        self.services.get(self.position(name)?)
    }

    /// The key of the registered service called `name`: one binary search.
    pub fn find(&self, name: &Name) -> Option<ServiceKey> {
        let position = self.position(name)?;
        let generation = self.services.get(position)?.generation;
        Some(ServiceKey { position: position as u16, generation })
    }

    /// The service `key` was made for, if it is still registered where the key says.
    pub fn get(&self, key: ServiceKey) -> Option<&Service> {
        self.services.get(usize::from(key.position)).filter(|s| s.generation == key.generation)
    }

    fn service_mut(&mut self, name: &Name) -> Option<&mut Service> {
        let position = self.position(name)?;
        self.services.get_mut(position)
    }

    /// How many registered names a lookup of `name` compares with: at most
    /// ⌈log2(n + 1)⌉ + 1 for n registered services (11 for 1000), whatever the names. For
    /// tests and benchmarks of what a connect costs.
    pub fn lookup_cost(&self, name: &Name) -> usize {
        let mut comparisons = 0;
        let _ = self.search(name, || comparisons += 1);
        comparisons
    }

    /// Every registered service, in no particular order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// How many services are registered.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// How many services `realm` has registered.
    pub fn services_owned_by(&self, realm: RealmId) -> usize {
        usize::from(counter(&self.services_owned, realm))
    }

    /// The first service owned by `realm` at or after position `from` of the service table,
    /// with its position. Positions are `0..service_count()`; removing a service moves the
    /// last one into its position, so to remove every service of a realm, search again from
    /// the position of the one just removed.
    pub fn find_service_owned_by(&self, realm: RealmId, from: usize) -> Option<(usize, Name)> {
        let rest = self.services.get(from..)?;
        let offset = rest.iter().position(|s| s.owner == realm)?;
        Some((from + offset, rest.get(offset)?.name))
    }

    /// Whether one more service fits.
    pub fn has_room_for_service(&self) -> bool {
        !self.services.is_full()
    }

    /// Records a new service with an endpoint of its own (index [`ServiceIndex::FIRST`]) and
    /// the next generation.
    pub fn add_service(
        &mut self,
        name: Name,
        owner: RealmId,
        endpoint: CapSlot,
        owner_slot: CapSlot,
        interface: Option<InterfaceId>,
    ) -> Result<Service, RegistryError> {
        let entry = self.entry_for_new(&name)?;
        let record = if let Some(record) = self.free_endpoint_records.pop() {
            record
        } else if usize::from(self.endpoints_never_used) < MAX_REGISTERED_SERVICES {
            self.endpoints_never_used += 1;
            self.endpoints_never_used - 1
        } else {
            // Never: a record is only in use while a service uses it.
            return Err(RegistryError::ServicesFull);
        };
        let service = Service {
            name,
            owner,
            generation: 0,
            endpoint,
            owner_slot,
            index: ServiceIndex::FIRST,
            interface,
            open_connections: 0,
            endpoint_record: record,
        };
        match self.insert(entry, service) {
            Ok(service) => Ok(service),
            Err(error) => {
                self.release_endpoint_record(record);
                Err(error)
            }
        }
    }

    /// Records a new service of the owner of `share` (found with [`Registry::find`]), on
    /// the same endpoint (and the same owner's cap to it), at the endpoint's lowest free
    /// index, with the next generation. Refused with `NoSuchService` if the key no longer
    /// finds `share`, `EndpointFull` if the endpoint carries [`ServiceIndex::LIMIT`]
    /// services. Whether the caller owns `share` is the broker's to check.
    pub fn add_shared_service(
        &mut self,
        name: Name,
        share: ServiceKey,
        interface: Option<InterfaceId>,
    ) -> Result<Service, RegistryError> {
        let shared = *self.get(share).ok_or(RegistryError::NoSuchService)?;
        let entry = self.entry_for_new(&name)?;
        let taken = self.endpoint_services_at(shared.endpoint_record);
        let free = (!taken).trailing_zeros();
        let index = u8::try_from(free)
            .ok()
            .and_then(ServiceIndex::new)
            .ok_or(RegistryError::EndpointFull)?;
        let service = Service {
            name,
            owner: shared.owner,
            generation: 0,
            endpoint: shared.endpoint,
            owner_slot: shared.owner_slot,
            index,
            interface,
            open_connections: 0,
            endpoint_record: shared.endpoint_record,
        };
        self.insert(entry, service)
    }

    /// Where a new service called `name` goes in `by_name`, if it may be added: not
    /// registered yet, room in the table, a generation left.
    fn entry_for_new(&self, name: &Name) -> Result<usize, RegistryError> {
        let Err(entry) = self.search(name, || {}) else {
            return Err(RegistryError::AlreadyRegistered);
        };
        if !self.has_room_for_service() {
            return Err(RegistryError::ServicesFull);
        }
        if self.last_service_generation == u32::MAX {
            return Err(RegistryError::GenerationsExhausted);
        }
        Ok(entry)
    }

    /// Adds `service` at `entry` of `by_name` (from [`Registry::entry_for_new`]) with the
    /// next generation, and takes its index on its endpoint.
    fn insert(&mut self, entry: usize, mut service: Service) -> Result<Service, RegistryError> {
        service.generation = self
            .last_service_generation
            .checked_add(1)
            .ok_or(RegistryError::GenerationsExhausted)?;
        let position = self.services.len() as u16;
        self.by_name.insert(entry, position).map_err(|_| RegistryError::ServicesFull)?;
        if self.services.push(service).is_err() {
            self.by_name.remove(entry);
            return Err(RegistryError::ServicesFull);
        }
        self.last_service_generation = service.generation;
        increment(of_realm(&mut self.services_owned, service.owner));
        if let Some(taken) = self.endpoint_services.get_mut(usize::from(service.endpoint_record)) {
            *taken |= 1 << service.index.get();
        }
        Ok(service)
    }

    /// The taken-index bits of endpoint record `record`.
    fn endpoint_services_at(&self, record: u16) -> u8 {
        self.endpoint_services.get(usize::from(record)).copied().unwrap_or(0)
    }

    /// Gives endpoint record `record` back for reuse (its endpoint has no service left).
    fn release_endpoint_record(&mut self, record: u16) {
        if let Some(taken) = self.endpoint_services.get_mut(usize::from(record)) {
            *taken = 0;
        }
        // At most one entry per record, so the list never overflows.
        let _ = self.free_endpoint_records.push(record);
    }

    /// How many services are registered on the endpoint of `service` (itself included,
    /// while it is registered): from 1 to [`ServiceIndex::LIMIT`].
    pub fn endpoint_services(&self, service: &Service) -> usize {
        self.endpoint_services_at(service.endpoint_record).count_ones() as usize
    }

    /// Forgets the service called `name` (its connections are the caller's to close first,
    /// or right after: see [`Service::open_connections`]) and frees its index on its
    /// endpoint; says whether that was the endpoint's last service.
    pub fn remove_service(&mut self, name: &Name) -> Option<RemovedService> {
        let entry = self.search(name, || {}).ok()?;
        let position = usize::from(*self.by_name.get(entry)?);
        let last = self.services.len().checked_sub(1)?;
        if position > last {
            return None;
        }
        if position != last {
            // The last service will move into `position`: point its index entry there, while
            // every entry still names the service it was made for.
            let moved = self.services.get(last)?.name;
            let moved_entry = self.search(&moved, || {}).ok()?;
            *self.by_name.get_mut(moved_entry)? = position as u16;
        }
        self.by_name.remove(entry);
        let service = self.services.swap_remove(position);
        decrement(of_realm(&mut self.services_owned, service.owner));
        let record = service.endpoint_record;
        let left = self.endpoint_services_at(record) & !(1 << service.index.get());
        if let Some(taken) = self.endpoint_services.get_mut(usize::from(record)) {
            *taken = left;
        }
        let endpoint_freed = left == 0;
        if endpoint_freed {
            self.release_endpoint_record(record);
        }
        Some(RemovedService { service, endpoint_freed })
    }

    // -----------------------------------------------------------------------------------------
    // Connections.

    /// Every open connection.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.connections.iter().filter_map(|slot| match &slot.state {
            SlotState::Open(connection) => Some(connection),
            _ => None,
        })
    }

    /// The open connection in slot `index` of the connection table (`0..MAX_CONNECTIONS`).
    /// Closing a connection never moves another, so a caller can walk the table by index
    /// while closing connections.
    pub fn open_connection_at(&self, index: usize) -> Option<&Connection> {
        match &self.connections.get(index)?.state {
            SlotState::Open(connection) => Some(connection),
            _ => None,
        }
    }

    /// How many connections `realm` has open as a client.
    pub fn connections_of(&self, realm: RealmId) -> usize {
        usize::from(counter(&self.connections_held, realm))
    }

    /// Whether one more connection fits.
    pub fn has_room_for_connection(&self) -> bool {
        usize::from(self.never_used) < MAX_CONNECTIONS || !self.reusable.is_empty()
    }

    /// The slot a new connection takes: a never-used one first, then the least recently
    /// closed one, so closed records are kept as long as possible.
    fn take_connection_slot(&mut self) -> Option<u16> {
        if usize::from(self.never_used) < MAX_CONNECTIONS {
            let index = self.never_used;
            self.never_used += 1;
            return Some(index);
        }
        self.reusable.pop_front()
    }

    /// Opens a connection from `client` to the registered service `service` (found with
    /// [`Registry::find`]; `NoSuchService` if the key no longer finds it). The table slot it
    /// takes never holds a closed connection that still reserves its client's slot.
    pub fn add_connection(
        &mut self,
        client: RealmId,
        service: ServiceKey,
        broker_copy: CapSlot,
        client_slot: CapSlot,
    ) -> Result<Connection, RegistryError> {
        let target = *self.get(service).ok_or(RegistryError::NoSuchService)?;
        let index = self.take_connection_slot().ok_or(RegistryError::ConnectionsFull)?;
        let slot =
            self.connections.get_mut(usize::from(index)).ok_or(RegistryError::ConnectionsFull)?;
        let generation = slot.generation + 1;
        // Only slots below the last generation are ever taken, so this always succeeds.
        let id = ConnectionId::new(index, generation).ok_or(RegistryError::ConnectionsFull)?;
        let connection = Connection {
            id,
            client,
            service: target.name,
            service_generation: target.generation,
            broker_copy,
            client_slot,
        };
        *slot = ConnectionSlot { generation, state: SlotState::Open(connection) };
        increment(of_realm(&mut self.connections_held, client));
        if let Some(target) = self.services.get_mut(usize::from(service.position)) {
            increment(&mut target.open_connections);
        }
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

    /// Closes the open connection `id`, remembering `reason` and, if `reserve_client_slot`,
    /// keeping its client slot reserved (see [`ClosedConnection::reserved`]); returns what
    /// it was.
    pub fn close_connection(
        &mut self,
        id: ConnectionId,
        reason: CloseReason,
        reserve_client_slot: bool,
    ) -> Option<Connection> {
        let index = id.index();
        let slot = self.connections.get_mut(usize::from(index))?;
        let connection = match slot.state {
            SlotState::Open(connection) if connection.id == id => connection,
            _ => return None,
        };
        slot.state = SlotState::Closed(ClosedConnection {
            id,
            client: connection.client,
            service: connection.service,
            service_generation: connection.service_generation,
            reason,
            client_slot: connection.client_slot,
            reserved: reserve_client_slot,
        });
        if reserve_client_slot {
            // The record stays, unreused, until the reservation is released.
            increment(of_realm(&mut self.slots_reserved, connection.client));
        } else {
            self.queue_for_reuse(index);
        }
        decrement(of_realm(&mut self.connections_held, connection.client));
        if let Some(service) = self.service_mut(&connection.service)
            && service.generation == connection.service_generation
        {
            decrement(&mut service.open_connections);
        }
        Some(connection)
    }

    /// Queues table slot `index`, whose connection is closed and reserves nothing, for
    /// reuse, unless its generations are used up (then it is retired). Each slot is queued
    /// at most once per connection: when it closes, or when its reservation is released.
    fn queue_for_reuse(&mut self, index: u16) {
        let usable = self
            .connections
            .get(usize::from(index))
            .is_some_and(|slot| slot.generation < ConnectionId::MAX_GENERATION);
        if usable {
            // The queue holds every table slot at most once, so it never overflows.
            let _ = self.reusable.push_back(index);
        }
    }

    /// Stops reserving the client slot of the closed connection `id`; returns it if it was
    /// reserved (the caller's to free), else nothing (so it is released at most once). The
    /// record stays on record, and its table slot may now be reused.
    pub fn release_reserved_slot(&mut self, id: ConnectionId) -> Option<ReservedSlot> {
        let slot = self.connections.get_mut(usize::from(id.index()))?;
        let released = match &mut slot.state {
            SlotState::Closed(closed) if closed.id == id && closed.reserved => {
                closed.reserved = false;
                decrement(of_realm(&mut self.slots_reserved, closed.client));
                ReservedSlot { client: closed.client, slot: closed.client_slot }
            }
            _ => return None,
        };
        self.queue_for_reuse(id.index());
        Some(released)
    }

    /// The closed connection in slot `index` of the connection table, if it still reserves
    /// its client slot. Releasing a slot never moves a record, so a caller can walk the
    /// table by index while releasing.
    pub fn reserving_connection_at(&self, index: usize) -> Option<&ClosedConnection> {
        match &self.connections.get(index)?.state {
            SlotState::Closed(closed) if closed.reserved => Some(closed),
            _ => None,
        }
    }

    /// How many client slots of `realm` closed connections reserve.
    pub fn reserved_slots_of(&self, realm: RealmId) -> usize {
        usize::from(counter(&self.slots_reserved, realm))
    }
}

/// `realm`'s counter in a table with one counter per possible realm id.
fn of_realm(table: &mut [u16; REALM_IDS], realm: RealmId) -> &mut u16 {
    // Never out of bounds: a realm id is a `u8`, and the table has an entry for each of the
    // 2^8 values.
    #[allow(clippy::indexing_slicing)]
    &mut table[usize::from(realm.0)]
}

/// `realm`'s counter in a table with one counter per possible realm id, to read.
fn counter(table: &[u16; REALM_IDS], realm: RealmId) -> u16 {
    // Never out of bounds, as in `of_realm`.
    #[allow(clippy::indexing_slicing)]
    table[usize::from(realm.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    /// The key of `text`, or one that finds nothing.
    fn key(registry: &Registry, text: &str) -> ServiceKey {
        registry.find(&name(text)).unwrap_or(ServiceKey { position: 0, generation: 0 })
    }

    #[test]
    fn services_are_found_by_name_and_generations_grow() {
        let mut registry = Registry::new();
        let kv =
            registry.add_service(name("kv"), RealmId(1), CapSlot(10), CapSlot(20), None).unwrap();
        assert_eq!(kv.generation, 1);
        assert_eq!(registry.service(&name("kv")), Some(&kv));
        assert_eq!(
            registry.add_service(name("kv"), RealmId(2), CapSlot(11), CapSlot(21), None),
            Err(RegistryError::AlreadyRegistered)
        );
        assert_eq!(registry.remove_service(&name("kv")).map(|removed| removed.service), Some(kv));
        let again =
            registry.add_service(name("kv"), RealmId(1), CapSlot(10), CapSlot(20), None).unwrap();
        assert_eq!(again.generation, 2);
    }

    #[test]
    fn service_table_is_bounded() {
        let mut registry = Registry::new();
        for i in 0..MAX_REGISTERED_SERVICES {
            let service = Name::new(&format!("s{i}")).unwrap();
            registry.add_service(service, RealmId(0), CapSlot(i as u64), CapSlot(0), None).unwrap();
        }
        assert!(!registry.has_room_for_service());
        assert_eq!(
            registry.add_service(name("one-more"), RealmId(0), CapSlot(99), CapSlot(0), None),
            Err(RegistryError::ServicesFull)
        );
    }

    #[test]
    fn connection_ids_are_never_reused() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        let first = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
            .unwrap();
        assert_eq!(registry.connection(first.id), ConnectionLookup::Open(&first));
        registry.close_connection(first.id, CloseReason::ByClient, false).unwrap();
        assert!(matches!(
            registry.connection(first.id),
            ConnectionLookup::Closed(closed) if closed.reason == CloseReason::ByClient
        ));
        assert_eq!(registry.close_connection(first.id, CloseReason::ByClient, false), None);
        // Fill every slot: the closed one is reused last, with a newer generation.
        let mut ids = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let c = registry
                .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
                .unwrap();
            ids.push(c.id);
        }
        let reused = ids.last().unwrap();
        assert_eq!(reused.index(), first.id.index());
        assert!(reused.generation() > first.id.generation());
        assert_eq!(registry.connection(first.id), ConnectionLookup::Superseded);
        assert_eq!(
            registry.add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3)),
            Err(RegistryError::ConnectionsFull)
        );
        let never = ConnectionId::new(1, 9).unwrap();
        assert_eq!(registry.connection(never), ConnectionLookup::Unknown);
    }

    #[test]
    fn a_slot_with_its_generations_used_up_is_retired() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        registry.connections[0].generation = ConnectionId::MAX_GENERATION - 1;
        let last = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
            .unwrap();
        assert_eq!((last.id.index(), last.id.generation()), (0, ConnectionId::MAX_GENERATION));
        registry.close_connection(last.id, CloseReason::ByClient, false).unwrap();
        let next = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
            .unwrap();
        assert_eq!(next.id.index(), 1);
        // Pretend every slot has been used: only closed slots below the last generation come
        // back, so slot 0 never does.
        registry.never_used = MAX_CONNECTIONS as u16;
        assert!(!registry.has_room_for_connection());
        registry.close_connection(next.id, CloseReason::ByClient, false).unwrap();
        assert!(registry.has_room_for_connection());
        let again = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
            .unwrap();
        assert_eq!((again.id.index(), again.id.generation()), (1, 2));
        assert!(!registry.has_room_for_connection());
    }

    /// The smallest k with 2^k > n: the depth of a binary search over n names.
    fn search_depth(n: usize) -> usize {
        (usize::BITS - n.leading_zeros()) as usize
    }

    #[test]
    fn a_lookup_compares_a_logarithmic_number_of_names() {
        for count in [1, 2, 100, 1000, MAX_REGISTERED_SERVICES] {
            let mut registry = Registry::new();
            // Names that share long prefixes, registered in an order that is not sorted.
            let service =
                |i: usize| name(&format!("a-long-common-prefix-{:05}", (i * 7919) % 100_000));
            for i in 0..count {
                registry
                    .add_service(service(i), RealmId(0), CapSlot(i as u64), CapSlot(0), None)
                    .unwrap();
            }
            let bound = search_depth(count) + 1;
            for i in 0..count {
                assert!(
                    registry.service(&service(i)).is_some_and(|s| s.endpoint == CapSlot(i as u64))
                );
                assert!(registry.lookup_cost(&service(i)) <= bound);
            }
            for absent in ["0", "a-long-common-prefix-", "zzz", "a-long-common-prefix-99999x"] {
                assert_eq!(registry.service(&name(absent)), None);
                assert!(registry.lookup_cost(&name(absent)) <= bound);
            }
        }
        // 1000 services: at most 11 comparisons, against 1 for one service.
        assert_eq!(search_depth(1000) + 1, 11);
        assert_eq!(search_depth(1) + 1, 2);
    }

    #[test]
    fn removals_keep_every_other_service_findable() {
        let mut registry = Registry::new();
        let service = |i: usize| name(&format!("s{i}"));
        for i in 0..50 {
            registry
                .add_service(
                    service(i),
                    RealmId((i % 3) as u8),
                    CapSlot(i as u64),
                    CapSlot(0),
                    None,
                )
                .unwrap();
        }
        for removed in [0, 49, 17, 18, 3, 48, 25] {
            assert_eq!(
                registry.remove_service(&service(removed)).unwrap().service.endpoint.0,
                removed as u64
            );
            assert_eq!(registry.remove_service(&service(removed)), None);
        }
        let gone = [0, 49, 17, 18, 3, 48, 25];
        for i in (0..50).filter(|i| !gone.contains(i)) {
            assert_eq!(registry.service(&service(i)).unwrap().endpoint.0, i as u64);
        }
        assert_eq!(registry.service_count(), 43);
        // A key finds its service until a removal moves it, and never finds another one.
        let moving = registry.services().last().unwrap().name;
        let stale = registry.find(&moving).unwrap();
        let first = registry.services().next().unwrap().name;
        let removed_key = registry.find(&first).unwrap();
        assert_eq!(registry.get(stale).unwrap().name, moving);
        registry.remove_service(&first).unwrap();
        assert_eq!(registry.get(stale), None);
        assert_eq!(registry.get(registry.find(&moving).unwrap()).unwrap().name, moving);
        registry.add_service(first, RealmId(0), CapSlot(0), CapSlot(0), None).unwrap();
        assert_eq!(registry.get(removed_key), None);
        registry.remove_service(&first).unwrap();
        // Removing every service of realm 1, searching again from each removed position.
        let mut from = 0;
        while let Some((position, found)) = registry.find_service_owned_by(RealmId(1), from) {
            assert_eq!(registry.remove_service(&found).unwrap().service.owner, RealmId(1));
            from = position;
        }
        assert_eq!(registry.services_owned_by(RealmId(1)), 0);
        assert!(registry.services().all(|s| s.owner != RealmId(1)));
        assert_eq!(
            registry.service_count(),
            registry.services_owned_by(RealmId(0)) + registry.services_owned_by(RealmId(2))
        );
    }

    #[test]
    fn counts_follow_every_change() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        let a = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3))
            .unwrap();
        registry.add_connection(RealmId(2), key(&registry, "kv"), CapSlot(4), CapSlot(5)).unwrap();
        registry.add_connection(RealmId(3), key(&registry, "kv"), CapSlot(6), CapSlot(7)).unwrap();
        assert_eq!(registry.services_owned_by(RealmId(1)), 1);
        assert_eq!(registry.connections_of(RealmId(2)), 2);
        assert_eq!(registry.service(&name("kv")).unwrap().open_connections, 3);
        registry.close_connection(a.id, CloseReason::ByClient, false).unwrap();
        assert_eq!(registry.connections_of(RealmId(2)), 1);
        assert_eq!(registry.service(&name("kv")).unwrap().open_connections, 2);
        // A connection to a removed instance does not count against its successor.
        let removed = registry.remove_service(&name("kv")).unwrap().service;
        assert_eq!(removed.open_connections, 2);
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        for index in 0..MAX_CONNECTIONS {
            if let Some(id) = registry.open_connection_at(index).map(|c| c.id) {
                registry.close_connection(id, CloseReason::ServiceGone, false).unwrap();
            }
        }
        assert_eq!(registry.service(&name("kv")).unwrap().open_connections, 0);
        assert_eq!(registry.connections_of(RealmId(2)), 0);
        assert_eq!(registry.connections_of(RealmId(3)), 0);
        registry.clear();
        assert_eq!(registry.service_count(), 0);
        assert_eq!(registry.services_owned_by(RealmId(1)), 0);
        assert_eq!(registry.connection(a.id), ConnectionLookup::Unknown);
        let fresh =
            registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        assert_eq!(fresh.generation, 1);
    }

    #[test]
    fn a_reserved_client_slot_is_handed_back_once() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        let add = |registry: &mut Registry, client: RealmId, client_slot: u64| {
            registry
                .add_connection(client, key(registry, "kv"), CapSlot(2), CapSlot(client_slot))
                .unwrap()
        };
        let kept = add(&mut registry, RealmId(2), 30);
        let let_go = add(&mut registry, RealmId(2), 31);
        let freed = add(&mut registry, RealmId(3), 40);
        registry.close_connection(kept.id, CloseReason::ByService, true).unwrap();
        registry.close_connection(let_go.id, CloseReason::ServiceGone, true).unwrap();
        registry.close_connection(freed.id, CloseReason::ByClient, false).unwrap();
        assert_eq!(registry.reserved_slots_of(RealmId(2)), 2);
        assert_eq!(registry.reserved_slots_of(RealmId(3)), 0);
        assert!(matches!(
            registry.connection(kept.id),
            ConnectionLookup::Closed(closed) if closed.reserved && closed.client_slot == CapSlot(30)
        ));
        assert_eq!(
            registry.reserving_connection_at(usize::from(kept.id.index())).unwrap().id,
            kept.id
        );
        assert_eq!(registry.reserving_connection_at(usize::from(freed.id.index())), None);
        // The client lets go: once.
        let slot = ReservedSlot { client: RealmId(2), slot: CapSlot(31) };
        assert_eq!(registry.release_reserved_slot(let_go.id), Some(slot));
        assert_eq!(registry.release_reserved_slot(let_go.id), None);
        assert_eq!(registry.release_reserved_slot(freed.id), None);
        assert_eq!(registry.reserved_slots_of(RealmId(2)), 1);
        // `clear` forgets reservations.
        registry.clear();
        assert_eq!(registry.reserved_slots_of(RealmId(2)), 0);
    }

    /// However many connections come and go, a record that reserves its client's slot keeps
    /// its table slot: only released records (and records that reserved nothing) are reused.
    #[test]
    fn a_reserving_record_is_never_reused_until_released() {
        let mut registry = Registry::new();
        registry.add_service(name("kv"), RealmId(1), CapSlot(1), CapSlot(1), None).unwrap();
        let add = |registry: &mut Registry| {
            registry.add_connection(RealmId(3), key(registry, "kv"), CapSlot(2), CapSlot(40))
        };
        let stale = registry
            .add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(30))
            .unwrap();
        registry.close_connection(stale.id, CloseReason::AccessRevoked, true).unwrap();
        for _ in 0..3 * MAX_CONNECTIONS {
            let connection = add(&mut registry).unwrap();
            assert_ne!(connection.id.index(), stale.id.index());
            registry.close_connection(connection.id, CloseReason::ByClient, false).unwrap();
        }
        assert!(matches!(
            registry.connection(stale.id),
            ConnectionLookup::Closed(closed) if closed.reserved && closed.id == stale.id
        ));
        // Every other table slot open: the reserving one is not room for another.
        let mut open = Vec::new();
        while let Ok(connection) = add(&mut registry) {
            open.push(connection);
        }
        assert_eq!(open.len(), MAX_CONNECTIONS - 1);
        assert!(!registry.has_room_for_connection());
        // Released, its table slot is the next one used, under a new generation.
        registry.release_reserved_slot(stale.id).unwrap();
        assert!(registry.has_room_for_connection());
        let reuse = add(&mut registry).unwrap();
        assert_eq!(reuse.id.index(), stale.id.index());
        assert!(reuse.id.generation() > stale.id.generation());
        assert_eq!(registry.connection(stale.id), ConnectionLookup::Superseded);
    }

    #[test]
    fn services_sharing_an_endpoint_take_the_next_free_index_and_free_it_last() {
        let mut registry = Registry::new();
        let kv = InterfaceId { name: name("kv"), fingerprint: 5 };
        let first = registry
            .add_service(name("a"), RealmId(1), CapSlot(10), CapSlot(20), Some(kv))
            .unwrap();
        assert_eq!((first.index, first.interface), (ServiceIndex::FIRST, Some(kv)));
        let mut shared = Vec::new();
        for (i, text) in ["b", "c", "d", "e", "f", "g", "h"].into_iter().enumerate() {
            let service =
                registry.add_shared_service(name(text), key(&registry, "a"), None).unwrap();
            assert_eq!(service.index.get() as usize, i + 1);
            assert_eq!((service.endpoint, service.owner_slot), (CapSlot(10), CapSlot(20)));
            assert_eq!((service.owner, service.interface), (RealmId(1), None));
            shared.push(service);
        }
        assert_eq!(registry.endpoint_services(&first), ServiceIndex::LIMIT);
        assert_eq!(registry.services_owned_by(RealmId(1)), 8);
        // Full: through any of its services.
        assert_eq!(
            registry.add_shared_service(name("i"), key(&registry, "c"), None),
            Err(RegistryError::EndpointFull)
        );
        assert_eq!(
            registry.add_shared_service(name("c"), key(&registry, "a"), None),
            Err(RegistryError::AlreadyRegistered)
        );
        assert_eq!(
            registry.add_shared_service(name("i"), key(&registry, "none"), None),
            Err(RegistryError::NoSuchService)
        );
        // Removing one frees its index (the lowest free one is taken next), not the endpoint.
        let removed = registry.remove_service(&name("c")).unwrap();
        assert_eq!((removed.service.index.get(), removed.endpoint_freed), (2, false));
        let again = registry.add_shared_service(name("i"), key(&registry, "h"), None).unwrap();
        assert_eq!(again.index.get(), 2);
        // A service with an endpoint of its own does not count on another's.
        let other =
            registry.add_service(name("z"), RealmId(1), CapSlot(11), CapSlot(21), None).unwrap();
        assert_eq!(registry.endpoint_services(&other), 1);
        // The first service may go: the endpoint stays with the others.
        assert!(!registry.remove_service(&name("a")).unwrap().endpoint_freed);
        for text in ["b", "d", "e", "f", "g", "h"] {
            assert!(!registry.remove_service(&name(text)).unwrap().endpoint_freed);
        }
        let last = registry.remove_service(&name("i")).unwrap();
        assert!(last.endpoint_freed);
        assert!(registry.remove_service(&name("z")).unwrap().endpoint_freed);
        // Endpoint records are reused: as many endpoints as services, again and again.
        for round in 0..3 {
            for i in 0..MAX_REGISTERED_SERVICES {
                let service = Name::new(&format!("s{i}")).unwrap();
                let slot = CapSlot((round * 10_000 + i) as u64);
                let added = registry.add_service(service, RealmId(0), slot, slot, None).unwrap();
                assert_eq!(registry.endpoint_services(&added), 1);
            }
            for i in 0..MAX_REGISTERED_SERVICES {
                let removed = registry.remove_service(&Name::new(&format!("s{i}")).unwrap());
                assert!(removed.unwrap().endpoint_freed);
            }
        }
    }

    #[test]
    fn connecting_needs_a_registered_service() {
        let mut registry = Registry::new();
        assert_eq!(
            registry.add_connection(RealmId(2), key(&registry, "kv"), CapSlot(2), CapSlot(3)),
            Err(RegistryError::NoSuchService)
        );
    }
}
