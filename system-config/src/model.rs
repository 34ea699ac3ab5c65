//! The checked system description: realms, services and grants, bounded with `heapless`.
//!
//! This module owns the data model that the memory manager decodes at boot, its bounds
//! (the `MAX_*` constants) and its defaults. Realms and services refer to each other by index
//! ([`RealmId`], [`ServiceId`]), never by name. The invariants that make those indices safe to
//! use are checked by the rule engine ([`crate::rules`]); every value that comes out of
//! [`decode`](crate::decode) (a [`CheckedConfig`](crate::CheckedConfig)) or `parse` has
//! passed it.

use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

/// Most realms one system may declare.
pub const MAX_REALMS: usize = 32;
/// Most services one system may declare.
pub const MAX_SERVICES: usize = 64;
/// Most grants one system may declare.
pub const MAX_GRANTS: usize = 128;
/// Most entries in one service's `allowed_clients` list.
pub const MAX_ALLOWED_CLIENTS: usize = 16;
/// Longest realm, service or program name, in bytes (names are ASCII, so also in characters).
pub const MAX_NAME_LEN: usize = 32;
/// The highest priority a realm may have. Above it, 254 is the memory manager's console
/// thread while it drains the memory manager's own lines, and 255 the memory manager: a realm
/// at either could keep them from the processor.
pub const MAX_REALM_PRIORITY: u8 = 253;
/// Memory budgets are whole pages of this size (the x86_64 small page).
pub const PAGE_SIZE: u64 = 4096;
/// The machine's memory when `[system] memory` is not set: what the `qemu` tool gives QEMU
/// (`-m 512`, in MiB).
pub const DEFAULT_MACHINE_MEMORY: u64 = 512 * 1024 * 1024;
/// The most services one realm may have registered at once (`max_services`): declared ones
/// and those it registers at run time under names the configuration does not declare.
pub const MAX_REALM_SERVICES: usize = 1024;
/// The broker's tables: every realm's `max_services` together, and every realm's
/// `max_connections` together, must fit in them, so that no realm can starve the others.
pub const BROKER_SERVICES: usize = 1024;
pub const BROKER_CONNECTIONS: usize = 1024;
/// `max_restarts` of a realm that does not set it.
pub const DEFAULT_MAX_RESTARTS: u8 = 3;
/// `max_connections` of a realm that does not set it.
pub const DEFAULT_MAX_CONNECTIONS: u8 = 16;
/// `max_services` of a realm that does not set it.
pub const DEFAULT_MAX_SERVICES: u16 = 4;

/// A realm, service or program name: 1 to [`MAX_NAME_LEN`] ASCII characters.
pub type Name = String<MAX_NAME_LEN>;

/// The index of a realm in [`SystemConfig::realms`].
///
/// Realms are stored parents first: the root is always `RealmId(0)`, and every other realm's
/// parent has a smaller index than the realm itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RealmId(pub u8);

impl RealmId {
    /// The root of the realm tree (the realm without a parent).
    pub const ROOT: RealmId = RealmId(0);

    /// This id as an index into [`SystemConfig::realms`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The index of a service in [`SystemConfig::services`] (file order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServiceId(pub u8);

impl ServiceId {
    /// This id as an index into [`SystemConfig::services`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// One realm: an address space, a CSpace and its threads, started from one program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Realm {
    /// Unique name: 1 to 32 of `a-z`, `0-9`, `-`.
    pub name: Name,
    /// The program the realm runs: 1 to 32 of `a-z`, `0-9`, `-`, `_`.
    pub program: Name,
    /// The realm that starts this one; `None` only for the root.
    pub parent: Option<RealmId>,
    /// seL4 priority of the realm's threads: at most [`MAX_REALM_PRIORITY`] and at most the
    /// parent's.
    pub priority: u8,
    /// Memory budget in bytes: more than 0, a multiple of [`PAGE_SIZE`], at most the parent's.
    pub memory_bytes: u64,
    /// Whether the memory manager restarts the realm when it dies.
    pub restartable: bool,
    /// How many times a restartable realm is started again after it died; then it stays
    /// stopped.
    pub max_restarts: u8,
    /// Most connections to services this realm may hold at once.
    pub max_connections: u8,
    /// Most services this realm may register at once; at most [`MAX_SERVICES`].
    pub max_services: u16,
}

/// Which realms a service itself accepts, on top of the system's grant policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllowedClients {
    /// No list: every realm that the grant policy lets through.
    Any,
    /// Only these realms (no duplicates); an empty list accepts nobody.
    Only(Vec<RealmId, MAX_ALLOWED_CLIENTS>),
}

impl AllowedClients {
    /// Whether the service's own policy accepts `client`.
    pub fn permits(&self, client: RealmId) -> bool {
        match self {
            AllowedClients::Any => true,
            AllowedClients::Only(clients) => clients.contains(&client),
        }
    }
}

/// A named service that one realm provides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Unique name: 1 to 32 of `a-z`, `0-9`, `-`.
    pub name: Name,
    /// The realm that provides it.
    pub realm: RealmId,
    /// The service's own client policy.
    pub allowed_clients: AllowedClients,
    /// Whether the service accepts declared clients (grants, allowed clients) at a higher
    /// priority than its provider's (`allow_priority_inversion`); without it such a client is
    /// refused by the checks.
    pub allow_priority_inversion: bool,
}

/// Permission, given by the system description, for one realm to connect to one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The realm that may connect.
    pub client: RealmId,
    /// The service it may connect to.
    pub service: ServiceId,
}

/// How long the memory manager runs the system (`[system] run`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunPolicy {
    /// `"forever"` (the default): the memory manager serves its realms until the machine is
    /// switched off. Realms that exit or crash are stopped (and restarted if restartable);
    /// the rest go on.
    #[default]
    Forever,
    /// `"until-idle"`: once every realm has stopped or only serves, nothing can start new
    /// work, so the memory manager stops the servers, checks that every byte of memory and
    /// every capability slot is back, and ends the run with its verdict. For tests, demos and
    /// benchmarks.
    UntilIdle,
}

/// How much the console prints (`[system] log`). Denials, faults and panics always print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogLevel {
    /// `"all"` (the default): every decision of the broker and the memory manager, and the
    /// realms' own lines.
    #[default]
    All,
    /// `"denials"`: refusals (denied connects and grants, refused quotas), faults, panics and
    /// the realms' own lines; allowed decisions are not printed.
    Denials,
    /// `"quiet"`: only refusals, faults and panics; the realms' own lines are not printed.
    Quiet,
}

/// The system-wide settings of the `[system]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub run: RunPolicy,
    pub log: LogLevel,
    /// The machine's memory in bytes (`[system] memory`; default
    /// [`DEFAULT_MACHINE_MEMORY`]): the realms' budgets together must fit in it. Whole pages,
    /// more than 0.
    pub memory_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            run: RunPolicy::default(),
            log: LogLevel::default(),
            memory_bytes: DEFAULT_MACHINE_MEMORY,
        }
    }
}

/// The whole system: what the memory manager starts and which connections it allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemConfig {
    /// The `[system]` table (defaults when the file has none).
    pub settings: Settings,
    /// All realms, parents before children; the root is first.
    pub realms: Vec<Realm, MAX_REALMS>,
    /// All services, in file order.
    pub services: Vec<Service, MAX_SERVICES>,
    /// All grants, in file order, no two alike.
    pub grants: Vec<Grant, MAX_GRANTS>,
}

impl SystemConfig {
    /// The realm with this id, if it exists.
    pub fn realm(&self, id: RealmId) -> Option<&Realm> {
        self.realms.get(id.index())
    }

    /// The service with this id, if it exists.
    pub fn service(&self, id: ServiceId) -> Option<&Service> {
        self.services.get(id.index())
    }

    /// The id of the realm with this name.
    pub fn find_realm(&self, name: &str) -> Option<RealmId> {
        let index = self.realms.iter().position(|realm| realm.name == name)?;
        Some(RealmId(u8::try_from(index).ok()?))
    }

    /// The id of the service with this name.
    pub fn find_service(&self, name: &str) -> Option<ServiceId> {
        let index = self.services.iter().position(|service| service.name == name)?;
        Some(ServiceId(u8::try_from(index).ok()?))
    }

    /// Every realm id, parents before children.
    pub fn realm_ids(&self) -> impl Iterator<Item = RealmId> + '_ {
        (0..self.realms.len()).filter_map(|index| u8::try_from(index).ok().map(RealmId))
    }

    /// The direct children of `parent`, in storage order.
    pub fn children(&self, parent: RealmId) -> impl Iterator<Item = RealmId> + '_ {
        self.realm_ids()
            .filter(move |&id| self.realm(id).and_then(|realm| realm.parent) == Some(parent))
    }

    /// The services that `realm` provides, in file order.
    pub fn services_of(&self, realm: RealmId) -> impl Iterator<Item = ServiceId> + '_ {
        (0..self.services.len())
            .filter_map(|index| u8::try_from(index).ok().map(ServiceId))
            .filter(move |&id| self.service(id).map(|service| service.realm) == Some(realm))
    }

    /// Whether a `[[grant]]` lets `client` connect to `service`.
    pub fn is_granted(&self, client: RealmId, service: ServiceId) -> bool {
        self.grants.contains(&Grant { client, service })
    }
}
