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

/// The limits the model is bounded by, defined once in `vocabulary::limits` (see there for
/// why each is that number). Memory budgets are whole pages of [`PAGE_BYTES`].
pub use vocabulary::limits::{
    MAX_ALLOWED_CLIENTS, MAX_CONNECTIONS, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES,
    MAX_NAME_BYTES, MAX_PROGRAM_NAME_BYTES, MAX_REALM_SERVICES, MAX_REALMS,
    MAX_REGISTERED_SERVICES, MAX_THREADS_PER_REALM, PAGE_BYTES,
};
/// The ids, from `vocabulary`: a realm's index in [`SystemConfig::realms`] (parents first,
/// the root is [`RealmId::ROOT`]) and a declared service's index in
/// [`SystemConfig::services`] (file order).
pub use vocabulary::{RealmId, ServiceId};

/// The highest priority a realm may have. Above it, 254 is the memory manager's console
/// thread while it drains the memory manager's own lines, and 255 the memory manager: a realm
/// at either could keep them from the processor.
pub const MAX_REALM_PRIORITY: u8 = 253;
/// The machine's memory when `[system] memory` is not set: what the `qemu` tool gives QEMU
/// (`-m 512`, in MiB).
pub const DEFAULT_MACHINE_MEMORY: u64 = 512 * 1024 * 1024;
/// `max_restarts` of a realm that does not set it.
pub const DEFAULT_MAX_RESTARTS: u8 = 3;
/// `max_connections` of a realm that does not set it.
pub const DEFAULT_MAX_CONNECTIONS: u8 = 16;
/// `max_services` of a realm that does not set it.
pub const DEFAULT_MAX_SERVICES: u16 = 4;
/// `max_threads` of a realm that does not set it: the main thread only. A realm that wants
/// threads says so, where the reader of the system description sees it (Microkit's protection
/// domains, one thread each, are the precedent).
pub const DEFAULT_MAX_THREADS: u8 = 1;

/// The text of a realm or service name ([`vocabulary::Name`]) or of a program name
/// ([`vocabulary::ProgramName`]) as the encoded description carries it. Kept as text, not as
/// those types, so that the boot check can re-check it with their rules
/// ([`vocabulary::Name::new`], [`vocabulary::ProgramName::new`]) and say precisely which
/// realm or service is wrong.
pub type NameText = String<MAX_NAME_BYTES>;
// Program names are stored in the same text type.
const _: () = assert!(MAX_PROGRAM_NAME_BYTES == MAX_NAME_BYTES);

/// One realm: an address space, a CSpace and its threads, started from one program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Realm {
    /// Unique name: a [`vocabulary::Name`] (1 to 32 of `a-z`, `0-9`, `-`).
    pub name: NameText,
    /// The program the realm runs: a [`vocabulary::ProgramName`] (1 to 32 of ASCII letters,
    /// digits, `-`, `_`).
    pub program: NameText,
    /// The realm that starts this one; `None` only for the root.
    pub parent: Option<RealmId>,
    /// seL4 priority of the realm's threads: at most [`MAX_REALM_PRIORITY`] and at most the
    /// parent's.
    pub priority: u8,
    /// Memory budget in bytes: more than 0, a multiple of [`PAGE_BYTES`], at most the parent's.
    pub memory_bytes: u64,
    /// Whether the memory manager restarts the realm when it dies.
    pub restartable: bool,
    /// How many times a restartable realm is started again after it died; then it stays
    /// stopped.
    pub max_restarts: u8,
    /// Most connections to services this realm may hold at once.
    pub max_connections: u8,
    /// Most services this realm may register at once; at most [`MAX_DECLARED_SERVICES`].
    pub max_services: u16,
    /// Most threads that may exist in the realm at once (`max_threads`), counting the main
    /// thread and threads that ended but were not joined yet: 1 to [`MAX_THREADS_PER_REALM`]
    /// (16); default [`DEFAULT_MAX_THREADS`] (the main thread only).
    pub max_threads: u8,
    /// What a fault or a panic of a spawned thread does (`on_thread_fault`). A fault or
    /// panic of the main thread always stops the realm.
    pub on_thread_fault: ThreadFaultPolicy,
}

/// What happens when a spawned thread (thread 1 to 15) of a realm faults or panics: a
/// realm's `on_thread_fault`. The main thread (thread 0) faulting or panicking always stops
/// the realm, as `main` returning ends it, whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ThreadFaultPolicy {
    /// `"stop-realm"` (the default): the realm stops as if its main thread had faulted (its
    /// threads answer what they owe, then it is reclaimed, and restarted if `restartable`).
    #[default]
    StopRealm,
    /// `"stop-thread"`: only that thread stops: it answers the client it owed a reply with
    /// `ABORTED` and ends (its joiner hears `Faulted` or `Panicked`); the realm goes on.
    StopThread,
}

impl ThreadFaultPolicy {
    /// The value as written in `system.toml`: `stop-realm`, `stop-thread`.
    pub const fn name(self) -> &'static str {
        match self {
            ThreadFaultPolicy::StopRealm => "stop-realm",
            ThreadFaultPolicy::StopThread => "stop-thread",
        }
    }
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
    /// Unique name: a [`vocabulary::Name`] (1 to 32 of `a-z`, `0-9`, `-`).
    pub name: NameText,
    /// The realm that provides it.
    pub realm: RealmId,
    /// The service's own client policy.
    pub allowed_clients: AllowedClients,
    /// Whether the service accepts declared clients (grants, allowed clients) at a higher
    /// priority than its provider's (`allow_priority_inversion`); without it such a client is
    /// refused by the checks.
    pub allow_priority_inversion: bool,
    /// The typed interface the service must be registered with (`interface`): an interface
    /// name under the same rule as service names ([`vocabulary::Name`]). `Some`: the broker
    /// refuses a register of this service that declares another interface name, or none
    /// (`InterfaceMismatch`); the build compares it with the interfaces recorded in the
    /// programs. `None`: any interface, or none, is accepted.
    pub interface: Option<NameText>,
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
    pub services: Vec<Service, MAX_DECLARED_SERVICES>,
    /// All grants, in file order, no two alike.
    pub grants: Vec<Grant, MAX_DECLARED_GRANTS>,
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
