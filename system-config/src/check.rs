//! The boot-time re-check: every rule of a system description, on the decoded model.
//!
//! The memory manager trusts nothing it is handed, not even the output of our own build, so
//! [`SystemConfig::check`] re-establishes every invariant that the rest of the system relies on:
//! indices in range, one tree with the root first and parents before children, names unique
//! and well-formed, children within their parent's budget and priority, quotas respected,
//! grants that make sense, no declared client above its service's provider (unless the service
//! allows it), and budgets that together fit in the machine's memory. It needs no allocation and never panics.

use core::fmt;

use crate::model::{
    AllowedClients, Grant, MAX_CONNECTIONS, MAX_REALM_PRIORITY, MAX_REALM_SERVICES,
    MAX_REGISTERED_SERVICES, PAGE_BYTES, Realm, RealmId, Service, SystemConfig,
};
use vocabulary::{Name, ProgramName};

/// Why a configuration was refused at boot. Indices are positions in the decoded lists
/// (`realm` in `realms`, `service` in `services`, `grant` in `grants`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootCheckError {
    /// The bytes start with a format version this code does not read.
    UnsupportedVersion { found: u8, expected: u8 },
    /// postcard could not decode the bytes (truncated, bad UTF-8, a list over its bound...).
    Malformed(postcard::Error),
    /// Bytes were left over after the configuration.
    TrailingBytes { count: usize },
    /// The configuration declares no realm at all.
    NoRealms,
    /// The first realm, which must be the root, has a parent.
    RootHasParent,
    /// A realm other than the first has no parent: a second root.
    SecondRoot { realm: usize },
    /// A realm's parent is not stored before it (out of range, itself, or later: a cycle).
    ParentNotBeforeChild { realm: usize, parent: usize },
    /// A realm name is empty or has a character outside `a-z`, `0-9`, `-`.
    BadRealmName { realm: usize },
    /// Two realms have the same name.
    DuplicateRealmName { realm: usize, first: usize },
    /// A program name is empty or has a character outside `a-z`, `0-9`, `-`, `_`.
    BadProgramName { realm: usize },
    /// A memory budget is zero or not a whole number of pages.
    BadMemorySize { realm: usize },
    /// A realm's memory budget is larger than its parent's.
    MemoryAboveParent { realm: usize, parent: usize },
    /// A realm's priority is higher than its parent's.
    PriorityAboveParent { realm: usize, parent: usize },
    /// A realm's priority is above [`MAX_REALM_PRIORITY`].
    PriorityOutOfRange { realm: usize },
    /// A realm's `max_services` is above [`MAX_REALM_SERVICES`].
    MaxServicesOutOfRange { realm: usize },
    /// A service name is empty or has a character outside `a-z`, `0-9`, `-`.
    BadServiceName { service: usize },
    /// Two services have the same name.
    DuplicateServiceName { service: usize, first: usize },
    /// A service names a realm that does not exist.
    ServiceRealmOutOfRange { service: usize },
    /// A realm provides more services than its `max_services`.
    ServiceQuotaExceeded { realm: usize },
    /// The realms' `max_services` or `max_connections` add up to more than the broker holds.
    QuotasExceedBroker,
    /// An entry of a service's allowed clients names a realm that does not exist.
    AllowedClientOutOfRange { service: usize, position: usize },
    /// A realm appears twice in a service's allowed clients.
    DuplicateAllowedClient { service: usize, position: usize },
    /// A grant names a client realm that does not exist.
    GrantClientOutOfRange { grant: usize },
    /// A grant names a service that does not exist.
    GrantServiceOutOfRange { grant: usize },
    /// Two grants are the same.
    DuplicateGrant { grant: usize, first: usize },
    /// A grant's client is not in the service's own allowed clients.
    GrantDeniedByService { grant: usize },
    /// A grant's client has a higher priority than the service's provider, and the service
    /// does not allow priority inversion.
    GrantPriorityInversion { grant: usize, client_priority: u8, provider_priority: u8 },
    /// An allowed client of a service has a higher priority than the service's provider, and
    /// the service does not allow priority inversion.
    AllowedClientPriorityInversion {
        service: usize,
        position: usize,
        client_priority: u8,
        provider_priority: u8,
    },
    /// The machine's memory (`[system] memory`) is zero or not a whole number of pages.
    BadMachineMemory,
    /// The realms' budgets, up to realm `realm`, add up to more than the machine's memory.
    BudgetsExceedMemory { realm: usize, machine_bytes: u64 },
}

impl fmt::Display for BootCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BootCheckError::*;
        match self {
            UnsupportedVersion { found, expected } => {
                write!(f, "format version {found}, expected {expected}")
            }
            Malformed(error) => write!(f, "malformed configuration: {error}"),
            TrailingBytes { count } => write!(f, "{count} bytes after the configuration"),
            NoRealms => f.write_str("no realm is declared"),
            RootHasParent => f.write_str("the first realm (the root) has a parent"),
            SecondRoot { realm } => write!(f, "realm {realm} has no parent: a second root"),
            ParentNotBeforeChild { realm, parent } => {
                write!(f, "realm {realm} has parent {parent}, which is not stored before it")
            }
            BadRealmName { realm } => write!(f, "realm {realm} has a malformed name"),
            DuplicateRealmName { realm, first } => {
                write!(f, "realm {realm} has the same name as realm {first}")
            }
            BadProgramName { realm } => write!(f, "realm {realm} has a malformed program name"),
            BadMemorySize { realm } => {
                write!(f, "realm {realm} has a memory budget that is 0 or not whole pages")
            }
            MemoryAboveParent { realm, parent } => {
                write!(f, "realm {realm} has more memory than its parent {parent}")
            }
            PriorityAboveParent { realm, parent } => {
                write!(f, "realm {realm} has a higher priority than its parent {parent}")
            }
            Self::PriorityOutOfRange { realm } => {
                write!(f, "realm {realm} has a priority above {MAX_REALM_PRIORITY}")
            }
            MaxServicesOutOfRange { realm } => {
                write!(f, "realm {realm} has max_services above {MAX_REALM_SERVICES}")
            }
            BadServiceName { service } => write!(f, "service {service} has a malformed name"),
            DuplicateServiceName { service, first } => {
                write!(f, "service {service} has the same name as service {first}")
            }
            ServiceRealmOutOfRange { service } => {
                write!(f, "service {service} names a realm that does not exist")
            }
            QuotasExceedBroker => {
                write!(f, "the realms' quotas add up to more than the broker's tables hold")
            }
            ServiceQuotaExceeded { realm } => {
                write!(f, "realm {realm} provides more services than its max_services")
            }
            AllowedClientOutOfRange { service, position } => write!(
                f,
                "allowed client {position} of service {service} is a realm that does not exist"
            ),
            DuplicateAllowedClient { service, position } => {
                write!(f, "allowed client {position} of service {service} is listed before")
            }
            GrantClientOutOfRange { grant } => {
                write!(f, "grant {grant} names a client realm that does not exist")
            }
            GrantServiceOutOfRange { grant } => {
                write!(f, "grant {grant} names a service that does not exist")
            }
            DuplicateGrant { grant, first } => write!(f, "grant {grant} repeats grant {first}"),
            GrantDeniedByService { grant } => {
                write!(f, "grant {grant} names a client that the service does not allow")
            }
            GrantPriorityInversion { grant, client_priority, provider_priority } => write!(
                f,
                "grant {grant} lets a client at priority {client_priority} call a service whose \
                 provider has priority {provider_priority}, and the service does not allow \
                 priority inversion"
            ),
            AllowedClientPriorityInversion {
                service,
                position,
                client_priority,
                provider_priority,
            } => write!(
                f,
                "allowed client {position} of service {service} has priority {client_priority}, \
                 above its provider's {provider_priority}, and the service does not allow \
                 priority inversion"
            ),
            BadMachineMemory => {
                f.write_str("the machine's memory is 0 or not a whole number of pages")
            }
            BudgetsExceedMemory { realm, machine_bytes } => write!(
                f,
                "the memory budgets of realms 0 to {realm} add up to more than the machine's \
                 {machine_bytes} bytes"
            ),
        }
    }
}

impl SystemConfig {
    /// Checks every rule of a system description; the first broken one is the error.
    pub fn check(&self) -> Result<(), BootCheckError> {
        check_tree(&self.realms)?;
        for (index, realm) in self.realms.iter().enumerate() {
            check_realm(&self.realms, index, realm)?;
        }
        for (index, service) in self.services.iter().enumerate() {
            check_service(self, index, service)?;
        }
        check_service_quotas(self)?;
        let services: usize = self.realms.iter().map(|realm| usize::from(realm.max_services)).sum();
        let connections: usize =
            self.realms.iter().map(|realm| usize::from(realm.max_connections)).sum();
        if services > MAX_REGISTERED_SERVICES || connections > MAX_CONNECTIONS {
            return Err(BootCheckError::QuotasExceedBroker);
        }
        for (index, grant) in self.grants.iter().enumerate() {
            check_grant(self, index, grant)?;
        }
        check_memory(self)
    }
}

/// The machine's memory is whole pages, and the realms' budgets together fit in it (summed
/// in `u128`: no sum wraps).
fn check_memory(config: &SystemConfig) -> Result<(), BootCheckError> {
    let machine_bytes = config.settings.memory_bytes;
    if machine_bytes == 0 || !machine_bytes.is_multiple_of(PAGE_BYTES) {
        return Err(BootCheckError::BadMachineMemory);
    }
    let mut sum: u128 = 0;
    for (realm, spec) in config.realms.iter().enumerate() {
        sum += u128::from(spec.memory_bytes);
        if sum > u128::from(machine_bytes) {
            return Err(BootCheckError::BudgetsExceedMemory { realm, machine_bytes });
        }
    }
    Ok(())
}

/// The priorities of `client` and of `service`'s provider, if the client is above the
/// provider and the service does not allow priority inversion (both realms exist).
fn inversion(config: &SystemConfig, service: &Service, client: RealmId) -> Option<(u8, u8)> {
    if service.allow_priority_inversion {
        return None;
    }
    let client_priority = config.realm(client)?.priority;
    let provider_priority = config.realm(service.realm)?.priority;
    (client_priority > provider_priority).then_some((client_priority, provider_priority))
}

/// The root first, then every realm's parent stored before it: one tree, no cycle.
fn check_tree(realms: &[Realm]) -> Result<(), BootCheckError> {
    let root = realms.first().ok_or(BootCheckError::NoRealms)?;
    if root.parent.is_some() {
        return Err(BootCheckError::RootHasParent);
    }
    for (index, realm) in realms.iter().enumerate().skip(1) {
        let parent = realm.parent.ok_or(BootCheckError::SecondRoot { realm: index })?;
        if parent.index() >= index {
            return Err(BootCheckError::ParentNotBeforeChild {
                realm: index,
                parent: parent.index(),
            });
        }
    }
    Ok(())
}

/// One realm's own fields, and its budget against its parent's (the tree is checked already).
fn check_realm(realms: &[Realm], index: usize, realm: &Realm) -> Result<(), BootCheckError> {
    if Name::new(&realm.name).is_err() {
        return Err(BootCheckError::BadRealmName { realm: index });
    }
    if let Some(first) = realms[..index].iter().position(|r| r.name == realm.name) {
        return Err(BootCheckError::DuplicateRealmName { realm: index, first });
    }
    if ProgramName::new(&realm.program).is_err() {
        return Err(BootCheckError::BadProgramName { realm: index });
    }
    if realm.memory_bytes == 0 || !realm.memory_bytes.is_multiple_of(PAGE_BYTES) {
        return Err(BootCheckError::BadMemorySize { realm: index });
    }
    if usize::from(realm.max_services) > MAX_REALM_SERVICES {
        return Err(BootCheckError::MaxServicesOutOfRange { realm: index });
    }
    if realm.priority > MAX_REALM_PRIORITY {
        return Err(BootCheckError::PriorityOutOfRange { realm: index });
    }
    let Some(parent_id) = realm.parent else {
        return Ok(());
    };
    let parent = realms
        .get(parent_id.index())
        .ok_or(BootCheckError::ParentNotBeforeChild { realm: index, parent: parent_id.index() })?;
    if realm.memory_bytes > parent.memory_bytes {
        return Err(BootCheckError::MemoryAboveParent { realm: index, parent: parent_id.index() });
    }
    if realm.priority > parent.priority {
        return Err(BootCheckError::PriorityAboveParent {
            realm: index,
            parent: parent_id.index(),
        });
    }
    Ok(())
}

fn check_service(
    config: &SystemConfig,
    index: usize,
    service: &Service,
) -> Result<(), BootCheckError> {
    if Name::new(&service.name).is_err() {
        return Err(BootCheckError::BadServiceName { service: index });
    }
    let earlier = &config.services[..index];
    if let Some(first) = earlier.iter().position(|s| s.name == service.name) {
        return Err(BootCheckError::DuplicateServiceName { service: index, first });
    }
    if config.realm(service.realm).is_none() {
        return Err(BootCheckError::ServiceRealmOutOfRange { service: index });
    }
    if let AllowedClients::Only(clients) = &service.allowed_clients {
        check_allowed_clients(config, index, clients)?;
        for (position, &client) in clients.iter().enumerate() {
            if let Some((client_priority, provider_priority)) = inversion(config, service, client) {
                return Err(BootCheckError::AllowedClientPriorityInversion {
                    service: index,
                    position,
                    client_priority,
                    provider_priority,
                });
            }
        }
    }
    Ok(())
}

fn check_allowed_clients(
    config: &SystemConfig,
    service: usize,
    clients: &[RealmId],
) -> Result<(), BootCheckError> {
    for (position, &client) in clients.iter().enumerate() {
        if config.realm(client).is_none() {
            return Err(BootCheckError::AllowedClientOutOfRange { service, position });
        }
        if clients[..position].contains(&client) {
            return Err(BootCheckError::DuplicateAllowedClient { service, position });
        }
    }
    Ok(())
}

/// No realm provides more services than its `max_services` (service realms are in range).
fn check_service_quotas(config: &SystemConfig) -> Result<(), BootCheckError> {
    for (index, realm) in config.realms.iter().enumerate() {
        let provided =
            config.services.iter().filter(|service| service.realm.index() == index).count();
        if provided > usize::from(realm.max_services) {
            return Err(BootCheckError::ServiceQuotaExceeded { realm: index });
        }
    }
    Ok(())
}

fn check_grant(config: &SystemConfig, index: usize, grant: &Grant) -> Result<(), BootCheckError> {
    if config.realm(grant.client).is_none() {
        return Err(BootCheckError::GrantClientOutOfRange { grant: index });
    }
    let service = config
        .service(grant.service)
        .ok_or(BootCheckError::GrantServiceOutOfRange { grant: index })?;
    if let Some(first) = config.grants[..index].iter().position(|g| g == grant) {
        return Err(BootCheckError::DuplicateGrant { grant: index, first });
    }
    if !service.allowed_clients.permits(grant.client) {
        return Err(BootCheckError::GrantDeniedByService { grant: index });
    }
    if let Some((client_priority, provider_priority)) = inversion(config, service, grant.client) {
        return Err(BootCheckError::GrantPriorityInversion {
            grant: index,
            client_priority,
            provider_priority,
        });
    }
    Ok(())
}

impl core::error::Error for BootCheckError {}
