//! The rules of a system description, written once: one engine that checks a [`SystemConfig`]
//! and yields [`Finding`]s (the [`Rule`] broken, the [`Item`] it concerns, the figures its
//! sentence needs).
//!
//! Both sides run exactly this engine. At boot, [`CheckedConfig::new`] (called by
//! [`decode`](crate::decode)) stops at the first finding and refuses the configuration with
//! it. On the host, `parse` builds the model from the file, runs the engine, and
//! points every finding at a file, line and column through the side table it recorded while
//! reading (which [`Item`] was written where). Only what cannot exist in a model stays in the
//! parser: text that is not UTF-8 or not TOML, unknown fields, wrong types, memory sizes that
//! do not read, names that resolve to nothing, a realm tree that is not one tree, lists over
//! their bounds. The engine has the model's version of each of those (an index out of range,
//! a parent stored after its child...), under the same rule code, so that a model broken
//! after the build is refused at boot for the rule its text would have broken.
//!
//! The engine needs no allocation and never panics, whatever the model: every index is
//! looked up, every sum is taken in `u128`.

use core::fmt;
use core::ops::{ControlFlow, Deref};

use crate::model::{
    AllowedClients, MAX_CONNECTIONS, MAX_NAME_BYTES, MAX_PROGRAM_NAME_BYTES, MAX_REALM_PRIORITY,
    MAX_REALM_SERVICES, MAX_REGISTERED_SERVICES, MAX_THREADS_PER_REALM, PAGE_BYTES, RealmId,
    Service, ServiceId, SystemConfig,
};
use vocabulary::name::{is_name_byte, is_program_name_byte};
use vocabulary::{Name, ProgramName};

/// Every rule a `system.toml` must follow, each with a stable kebab-case [`code`](Rule::code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The file is not UTF-8 text.
    NotText,
    /// The text is not valid TOML.
    TomlSyntax,
    /// A key that the format does not have (top level or inside a table).
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong TOML type (a string where an integer belongs...).
    WrongType,
    /// A realm, service, interface or program name is empty, too long, or has a character
    /// outside the allowed set.
    BadName,
    /// Two realms have the same name.
    DuplicateRealm,
    /// Two services have the same name.
    DuplicateService,
    /// A realm's `parent` is not a declared realm.
    UnknownParent,
    /// No realm is without a parent (or no realm is declared at all).
    NoRootRealm,
    /// More than one realm is without a parent.
    MultipleRootRealms,
    /// Following `parent` links from a realm leads back to it.
    RealmCycle,
    /// A service's `realm` is not a declared realm.
    UnknownServiceRealm,
    /// A grant's `client` is not a declared realm.
    UnknownGrantClient,
    /// A grant's `service` is not a declared service.
    UnknownGrantService,
    /// An entry of `allowed_clients` is not a declared realm.
    UnknownAllowedClient,
    /// A realm is listed twice in one `allowed_clients`.
    DuplicateAllowedClient,
    /// The same client is granted the same service twice.
    DuplicateGrant,
    /// A grant names a client that the service's own `allowed_clients` leaves out.
    GrantDeniedByService,
    /// A realm's memory budget is above its parent's.
    MemoryAboveParent,
    /// A realm's priority is above its parent's.
    PriorityAboveParent,
    /// A realm's `program` is not one of the programs the build has.
    UnknownProgram,
    /// A memory size that is malformed, zero, too large or not whole pages.
    BadMemorySize,
    /// More realms than [`MAX_REALMS`](crate::MAX_REALMS).
    TooManyRealms,
    /// More services than [`MAX_DECLARED_SERVICES`](crate::MAX_DECLARED_SERVICES).
    TooManyServices,
    /// More grants than [`MAX_DECLARED_GRANTS`](crate::MAX_DECLARED_GRANTS).
    TooManyGrants,
    /// More allowed clients than [`MAX_ALLOWED_CLIENTS`](crate::MAX_ALLOWED_CLIENTS).
    TooManyAllowedClients,
    /// A priority outside 0 to [`MAX_REALM_PRIORITY`].
    PriorityOutOfRange,
    /// `max_connections` outside 0 to 255, `max_services` outside 0 to
    /// [`MAX_REALM_SERVICES`], or `max_threads` outside 1 to [`MAX_THREADS_PER_REALM`].
    QuotaOutOfRange,
    /// A realm provides more services than its `max_services`.
    ServiceQuotaExceeded,
    /// The realms' `max_services` (or `max_connections`) add up to more than the broker holds.
    QuotasExceedBroker,
    /// A setting outside its choices: `run` or `log` of `[system]`, a realm's
    /// `on_thread_fault`.
    BadSetting,
    /// A grant or an allowed client has a higher priority than the service's provider (and
    /// the service does not set `allow_priority_inversion`).
    PriorityInversion,
    /// The realms' memory budgets add up to more than the machine's memory.
    BudgetsExceedMemory,
}

impl Rule {
    /// Every rule, in the order of the format's documentation.
    pub const ALL: [Rule; 34] = [
        Rule::NotText,
        Rule::TomlSyntax,
        Rule::UnknownField,
        Rule::MissingField,
        Rule::WrongType,
        Rule::BadName,
        Rule::DuplicateRealm,
        Rule::DuplicateService,
        Rule::UnknownParent,
        Rule::NoRootRealm,
        Rule::MultipleRootRealms,
        Rule::RealmCycle,
        Rule::UnknownServiceRealm,
        Rule::UnknownGrantClient,
        Rule::UnknownGrantService,
        Rule::UnknownAllowedClient,
        Rule::DuplicateAllowedClient,
        Rule::DuplicateGrant,
        Rule::GrantDeniedByService,
        Rule::MemoryAboveParent,
        Rule::PriorityAboveParent,
        Rule::UnknownProgram,
        Rule::BadMemorySize,
        Rule::TooManyRealms,
        Rule::TooManyServices,
        Rule::TooManyGrants,
        Rule::TooManyAllowedClients,
        Rule::PriorityOutOfRange,
        Rule::QuotaOutOfRange,
        Rule::ServiceQuotaExceeded,
        Rule::QuotasExceedBroker,
        Rule::BadSetting,
        Rule::PriorityInversion,
        Rule::BudgetsExceedMemory,
    ];

    /// The rule's stable code, as printed in `error[code]`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::NotText => "not-text",
            Rule::TomlSyntax => "toml-syntax",
            Rule::UnknownField => "unknown-field",
            Rule::MissingField => "missing-field",
            Rule::WrongType => "wrong-type",
            Rule::BadName => "bad-name",
            Rule::DuplicateRealm => "duplicate-realm",
            Rule::DuplicateService => "duplicate-service",
            Rule::UnknownParent => "unknown-parent",
            Rule::NoRootRealm => "no-root-realm",
            Rule::MultipleRootRealms => "multiple-root-realms",
            Rule::RealmCycle => "realm-cycle",
            Rule::UnknownServiceRealm => "unknown-service-realm",
            Rule::UnknownGrantClient => "unknown-grant-client",
            Rule::UnknownGrantService => "unknown-grant-service",
            Rule::UnknownAllowedClient => "unknown-allowed-client",
            Rule::DuplicateAllowedClient => "duplicate-allowed-client",
            Rule::DuplicateGrant => "duplicate-grant",
            Rule::GrantDeniedByService => "grant-denied-by-service",
            Rule::MemoryAboveParent => "memory-above-parent",
            Rule::PriorityAboveParent => "priority-above-parent",
            Rule::UnknownProgram => "unknown-program",
            Rule::BadMemorySize => "bad-memory-size",
            Rule::TooManyRealms => "too-many-realms",
            Rule::TooManyServices => "too-many-services",
            Rule::TooManyGrants => "too-many-grants",
            Rule::TooManyAllowedClients => "too-many-allowed-clients",
            Rule::PriorityOutOfRange => "priority-out-of-range",
            Rule::QuotaOutOfRange => "quota-out-of-range",
            Rule::ServiceQuotaExceeded => "service-quota-exceeded",
            Rule::QuotasExceedBroker => "quotas-exceed-broker",
            Rule::BadSetting => "bad-setting",
            Rule::PriorityInversion => "priority-inversion",
            Rule::BudgetsExceedMemory => "budgets-exceed-memory",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The part of a system description a [`Finding`] points at: on the host, the side table of
/// the parser turns it into a file, line and column. Realms and services by id, grants by
/// their position in [`SystemConfig::grants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// The description as a whole.
    System,
    /// `memory` of `[system]`.
    MachineMemory,
    /// A `[[realm]]` table (its header).
    Realm(RealmId),
    RealmName(RealmId),
    RealmProgram(RealmId),
    RealmParent(RealmId),
    RealmPriority(RealmId),
    RealmMemory(RealmId),
    RealmMaxServices(RealmId),
    RealmMaxThreads(RealmId),
    /// A `[[service]]` table (its header).
    Service(ServiceId),
    ServiceName(ServiceId),
    ServiceRealm(ServiceId),
    /// A service's `interface` (only when it sets one).
    ServiceInterface(ServiceId),
    /// Entry `position` (from 0) of a service's `allowed_clients`.
    AllowedClient {
        service: ServiceId,
        position: usize,
    },
    /// A `[[grant]]` table (its header), by position in the grants.
    Grant(usize),
    GrantClient(usize),
    GrantService(usize),
}

/// Which quota a [`Problem::QuotasExceedBroker`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quota {
    MaxServices,
    MaxConnections,
}

/// What is wrong, with the figures its sentence needs. Its [`rule`](Problem::rule) is the
/// stable rule code; the item is in the [`Finding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Problem {
    /// No realm at all.
    NoRealms,
    /// The first realm, which must be the root, has a parent.
    RootHasParent,
    /// A realm other than the first has no parent.
    SecondRoot,
    /// A realm's parent is stored at or after it (a cycle, once names are indices).
    ParentNotBeforeChild {
        parent: RealmId,
    },
    /// A realm's parent is no realm.
    ParentMissing {
        parent: RealmId,
    },
    /// A realm, service or interface name, or a program name (by the item), is malformed.
    BadName,
    /// A realm's budget, or the machine's memory, is 0 or not whole pages.
    BadMemorySize {
        bytes: u64,
    },
    PriorityOutOfRange,
    MaxServicesOutOfRange,
    /// A realm's `max_threads` is 0 or above [`MAX_THREADS_PER_REALM`].
    MaxThreadsOutOfRange,
    DuplicateRealm {
        first: RealmId,
    },
    DuplicateService {
        first: ServiceId,
    },
    MemoryAboveParent {
        parent: RealmId,
    },
    PriorityAboveParent {
        parent: RealmId,
    },
    ServiceRealmMissing,
    /// The service is number `number` (from 1) of its realm, above its `max_services`.
    ServiceQuotaExceeded {
        number: usize,
    },
    /// The quota's running sum, in storage order, first exceeds the broker's table at the
    /// realm of the item.
    QuotasExceedBroker {
        quota: Quota,
        sum: usize,
    },
    AllowedClientMissing,
    DuplicateAllowedClient,
    GrantClientMissing,
    GrantServiceMissing,
    DuplicateGrant {
        first: usize,
    },
    GrantDeniedByService,
    /// A client (of a grant, or an allowed client) above its service's provider.
    PriorityInversion {
        client_priority: u8,
        provider_priority: u8,
    },
    /// The budgets' running sum, in storage order, first exceeds the machine's memory at the
    /// realm of the item.
    BudgetsExceedMemory {
        sum: u128,
    },
}

impl Problem {
    /// The rule this problem breaks.
    pub fn rule(self) -> Rule {
        use Problem::*;
        match self {
            NoRealms | RootHasParent => Rule::NoRootRealm,
            SecondRoot => Rule::MultipleRootRealms,
            ParentNotBeforeChild { .. } => Rule::RealmCycle,
            ParentMissing { .. } => Rule::UnknownParent,
            BadName => Rule::BadName,
            BadMemorySize { .. } => Rule::BadMemorySize,
            PriorityOutOfRange => Rule::PriorityOutOfRange,
            MaxServicesOutOfRange | MaxThreadsOutOfRange => Rule::QuotaOutOfRange,
            DuplicateRealm { .. } => Rule::DuplicateRealm,
            DuplicateService { .. } => Rule::DuplicateService,
            MemoryAboveParent { .. } => Rule::MemoryAboveParent,
            PriorityAboveParent { .. } => Rule::PriorityAboveParent,
            ServiceRealmMissing => Rule::UnknownServiceRealm,
            ServiceQuotaExceeded { .. } => Rule::ServiceQuotaExceeded,
            QuotasExceedBroker { .. } => Rule::QuotasExceedBroker,
            AllowedClientMissing => Rule::UnknownAllowedClient,
            DuplicateAllowedClient => Rule::DuplicateAllowedClient,
            GrantClientMissing => Rule::UnknownGrantClient,
            GrantServiceMissing => Rule::UnknownGrantService,
            DuplicateGrant { .. } => Rule::DuplicateGrant,
            GrantDeniedByService => Rule::GrantDeniedByService,
            PriorityInversion { .. } => Rule::PriorityInversion,
            BudgetsExceedMemory { .. } => Rule::BudgetsExceedMemory,
        }
    }
}

/// One broken rule of a [`SystemConfig`]: what is wrong and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Where the finding points.
    pub at: Item,
    pub problem: Problem,
}

impl Finding {
    /// The rule broken.
    pub fn rule(&self) -> Rule {
        self.problem.rule()
    }

    /// The finding as a sentence, naming realms and services of `config` (the configuration
    /// it was found in); `lines` tells where other items are written, for the sentences
    /// that point back at them (`first at line 4`).
    pub fn sentence<'a>(
        &'a self,
        config: &'a SystemConfig,
        lines: &'a dyn Lines,
    ) -> impl fmt::Display + 'a {
        Sentence { finding: self, config, lines }
    }
}

/// Where an item is written, as far as the caller knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// At this 1-based line.
    At(usize),
    /// Not written: the default applies.
    Absent,
    /// Nobody knows (at boot, the text is gone).
    Unknown,
}

/// Tells where the items of a configuration are written: the host's side table; at boot,
/// [`NoLines`].
pub trait Lines {
    fn line(&self, item: Item) -> Line;
}

/// At boot: no text, no lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLines;

impl Lines for NoLines {
    fn line(&self, _item: Item) -> Line {
        Line::Unknown
    }
}

/// Runs every rule over `config`, in a fixed order (the tree, each realm, each service, the
/// quotas, each grant, the memory), and hands each finding to `found`, which says whether to
/// go on. Findings about items that depend on a broken one (a service of a realm that does
/// not exist...) are not made up: what cannot be looked up is skipped.
pub fn check(config: &SystemConfig, found: &mut dyn FnMut(Finding) -> ControlFlow<()>) {
    let _ = run(config, found);
}

/// The first finding of [`check`], if any.
pub fn first_finding(config: &SystemConfig) -> Option<Finding> {
    let mut first = None;
    check(config, &mut |finding| {
        first = Some(finding);
        ControlFlow::Break(())
    });
    first
}

type Found<'f> = &'f mut dyn FnMut(Finding) -> ControlFlow<()>;

fn run(config: &SystemConfig, found: Found<'_>) -> ControlFlow<()> {
    check_tree(config, found)?;
    for id in config.realm_ids() {
        check_realm(config, id, found)?;
    }
    for id in service_ids(config) {
        check_service(config, id, found)?;
    }
    check_service_quotas(config, found)?;
    check_quota_sums(config, found)?;
    for index in 0..config.grants.len() {
        check_grant(config, index, found)?;
    }
    check_memory(config, found)
}

fn service_ids(config: &SystemConfig) -> impl Iterator<Item = ServiceId> + '_ {
    (0..config.services.len()).filter_map(|index| u8::try_from(index).ok().map(ServiceId))
}

fn report(found: Found<'_>, at: Item, problem: Problem) -> ControlFlow<()> {
    found(Finding { at, problem })
}

/// The root first, then every realm's parent stored before it: one tree, no cycle.
fn check_tree(config: &SystemConfig, found: Found<'_>) -> ControlFlow<()> {
    let Some(root) = config.realms.first() else {
        return report(found, Item::System, Problem::NoRealms);
    };
    if root.parent.is_some() {
        report(found, Item::RealmParent(RealmId::ROOT), Problem::RootHasParent)?;
    }
    for id in config.realm_ids().skip(1) {
        let Some(realm) = config.realm(id) else { continue };
        match realm.parent {
            None => report(found, Item::Realm(id), Problem::SecondRoot)?,
            Some(parent) if config.realm(parent).is_none() => {
                report(found, Item::RealmParent(id), Problem::ParentMissing { parent })?
            }
            Some(parent) if parent >= id => {
                report(found, Item::RealmParent(id), Problem::ParentNotBeforeChild { parent })?
            }
            Some(_) => {}
        }
    }
    ControlFlow::Continue(())
}

/// One realm's own fields, its name against the realms before it, and its budget and
/// priority against its parent's.
fn check_realm(config: &SystemConfig, id: RealmId, found: Found<'_>) -> ControlFlow<()> {
    let Some(realm) = config.realm(id) else { return ControlFlow::Continue(()) };
    if Name::new(&realm.name).is_err() {
        report(found, Item::RealmName(id), Problem::BadName)?;
    }
    if let Some(first) = config
        .realm_ids()
        .take_while(|&other| other < id)
        .find(|&other| config.realm(other).is_some_and(|other| other.name == realm.name))
    {
        report(found, Item::RealmName(id), Problem::DuplicateRealm { first })?;
    }
    if ProgramName::new(&realm.program).is_err() {
        report(found, Item::RealmProgram(id), Problem::BadName)?;
    }
    if !is_whole_pages(realm.memory_bytes) {
        let problem = Problem::BadMemorySize { bytes: realm.memory_bytes };
        report(found, Item::RealmMemory(id), problem)?;
    }
    if usize::from(realm.max_services) > MAX_REALM_SERVICES {
        report(found, Item::RealmMaxServices(id), Problem::MaxServicesOutOfRange)?;
    }
    if !(1..=MAX_THREADS_PER_REALM).contains(&usize::from(realm.max_threads)) {
        report(found, Item::RealmMaxThreads(id), Problem::MaxThreadsOutOfRange)?;
    }
    if realm.priority > MAX_REALM_PRIORITY {
        report(found, Item::RealmPriority(id), Problem::PriorityOutOfRange)?;
    }
    let Some(parent_id) = realm.parent else { return ControlFlow::Continue(()) };
    let Some(parent) = config.realm(parent_id) else { return ControlFlow::Continue(()) };
    if realm.memory_bytes > parent.memory_bytes {
        let problem = Problem::MemoryAboveParent { parent: parent_id };
        report(found, Item::RealmMemory(id), problem)?;
    }
    if realm.priority > parent.priority {
        let problem = Problem::PriorityAboveParent { parent: parent_id };
        report(found, Item::RealmPriority(id), problem)?;
    }
    ControlFlow::Continue(())
}

fn is_whole_pages(bytes: u64) -> bool {
    bytes != 0 && bytes.is_multiple_of(PAGE_BYTES)
}

/// A service's name, its realm, and its allowed clients (each a realm, listed once, not
/// above the provider unless the service allows it).
fn check_service(config: &SystemConfig, id: ServiceId, found: Found<'_>) -> ControlFlow<()> {
    let Some(service) = config.service(id) else { return ControlFlow::Continue(()) };
    if Name::new(&service.name).is_err() {
        report(found, Item::ServiceName(id), Problem::BadName)?;
    }
    if let Some(first) = service_ids(config)
        .take_while(|&other| other < id)
        .find(|&other| config.service(other).is_some_and(|other| other.name == service.name))
    {
        report(found, Item::ServiceName(id), Problem::DuplicateService { first })?;
    }
    if service.interface.as_ref().is_some_and(|interface| Name::new(interface).is_err()) {
        report(found, Item::ServiceInterface(id), Problem::BadName)?;
    }
    if config.realm(service.realm).is_none() {
        report(found, Item::ServiceRealm(id), Problem::ServiceRealmMissing)?;
    }
    let AllowedClients::Only(clients) = &service.allowed_clients else {
        return ControlFlow::Continue(());
    };
    for (position, &client) in clients.iter().enumerate() {
        let at = Item::AllowedClient { service: id, position };
        if config.realm(client).is_none() {
            report(found, at, Problem::AllowedClientMissing)?;
        } else if clients.iter().take(position).any(|&other| other == client) {
            report(found, at, Problem::DuplicateAllowedClient)?;
        } else if let Some(problem) = inversion(config, service, client) {
            report(found, at, problem)?;
        }
    }
    ControlFlow::Continue(())
}

/// A [`Problem::PriorityInversion`] if `client` runs above `service`'s provider and the
/// service does not allow it (both realms exist).
fn inversion(config: &SystemConfig, service: &Service, client: RealmId) -> Option<Problem> {
    if service.allow_priority_inversion {
        return None;
    }
    let client_priority = config.realm(client)?.priority;
    let provider_priority = config.realm(service.realm)?.priority;
    (client_priority > provider_priority)
        .then_some(Problem::PriorityInversion { client_priority, provider_priority })
}

/// No realm provides more services than its `max_services`: every service past the quota is
/// a finding, at its `realm`.
fn check_service_quotas(config: &SystemConfig, found: Found<'_>) -> ControlFlow<()> {
    for realm_id in config.realm_ids() {
        let Some(realm) = config.realm(realm_id) else { continue };
        let provided = service_ids(config)
            .filter(|&id| config.service(id).is_some_and(|service| service.realm == realm_id));
        for (count, id) in provided.enumerate() {
            let number = count + 1;
            if number > usize::from(realm.max_services) {
                let problem = Problem::ServiceQuotaExceeded { number };
                report(found, Item::ServiceRealm(id), problem)?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// All realms' quotas together fit the broker's tables: a finding at the realm whose quota
/// makes the running sum exceed the table.
fn check_quota_sums(config: &SystemConfig, found: Found<'_>) -> ControlFlow<()> {
    for (quota, capacity) in
        [(Quota::MaxServices, MAX_REGISTERED_SERVICES), (Quota::MaxConnections, MAX_CONNECTIONS)]
    {
        let mut sum = 0usize;
        for id in config.realm_ids() {
            let Some(realm) = config.realm(id) else { continue };
            sum += match quota {
                Quota::MaxServices => usize::from(realm.max_services),
                Quota::MaxConnections => usize::from(realm.max_connections),
            };
            if sum > capacity {
                report(found, Item::Realm(id), Problem::QuotasExceedBroker { quota, sum })?;
                break;
            }
        }
    }
    ControlFlow::Continue(())
}

/// A grant names a realm and a service, is not repeated, is not contradicted by the
/// service's `allowed_clients`, and puts no client above the provider (unless allowed).
fn check_grant(config: &SystemConfig, index: usize, found: Found<'_>) -> ControlFlow<()> {
    let Some(grant) = config.grants.get(index) else { return ControlFlow::Continue(()) };
    let client_known = config.realm(grant.client).is_some();
    if !client_known {
        report(found, Item::GrantClient(index), Problem::GrantClientMissing)?;
    }
    let Some(service) = config.service(grant.service) else {
        return report(found, Item::GrantService(index), Problem::GrantServiceMissing);
    };
    if !client_known {
        return ControlFlow::Continue(());
    }
    if let Some(first) = config.grants.iter().take(index).position(|other| other == grant) {
        return report(found, Item::Grant(index), Problem::DuplicateGrant { first });
    }
    if !service.allowed_clients.permits(grant.client) {
        return report(found, Item::GrantClient(index), Problem::GrantDeniedByService);
    }
    match inversion(config, service, grant.client) {
        Some(problem) => report(found, Item::GrantClient(index), problem),
        None => ControlFlow::Continue(()),
    }
}

/// The machine's memory is whole pages, and the realms' budgets together fit in it (summed
/// in `u128`: no sum wraps): a finding at the budget that makes the running sum exceed it.
fn check_memory(config: &SystemConfig, found: Found<'_>) -> ControlFlow<()> {
    let machine = config.settings.memory_bytes;
    if !is_whole_pages(machine) {
        return report(found, Item::MachineMemory, Problem::BadMemorySize { bytes: machine });
    }
    let mut sum: u128 = 0;
    for id in config.realm_ids() {
        let Some(realm) = config.realm(id) else { continue };
        sum += u128::from(realm.memory_bytes);
        if sum > u128::from(machine) {
            return report(found, Item::RealmMemory(id), Problem::BudgetsExceedMemory { sum });
        }
    }
    ControlFlow::Continue(())
}

impl SystemConfig {
    /// Runs every rule: `Ok` if none is broken, else the first finding ([`first_finding`]).
    pub fn check(&self) -> Result<(), Finding> {
        first_finding(self).map_or(Ok(()), Err)
    }
}

/// A [`SystemConfig`] that passed every rule: only [`CheckedConfig::new`] makes one. The
/// broker and the policy can rely on its indices being in range, its names unique, its realms
/// one tree stored parents first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedConfig(SystemConfig);

impl CheckedConfig {
    /// Runs every rule over `config`: the checked configuration, or the first finding (whose
    /// [`sentence`](Finding::sentence) needs the configuration: check a borrowed one with
    /// [`SystemConfig::check`] to keep it).
    pub fn new(config: SystemConfig) -> Result<Self, Finding> {
        match first_finding(&config) {
            None => Ok(CheckedConfig(config)),
            Some(finding) => Err(finding),
        }
    }

    /// `config`, which [`check`] just ran over without a finding (the host side, which
    /// collects every finding rather than the first).
    #[cfg(feature = "host")]
    pub(crate) fn engine_passed(config: SystemConfig) -> Self {
        CheckedConfig(config)
    }

    /// The configuration itself.
    pub fn get(&self) -> &SystemConfig {
        &self.0
    }

    /// The configuration, no longer marked as checked.
    pub fn into_inner(self) -> SystemConfig {
        self.0
    }
}

impl Deref for CheckedConfig {
    type Target = SystemConfig;

    fn deref(&self) -> &SystemConfig {
        &self.0
    }
}

/// `16 MiB`, `12 KiB`, `4097 bytes`: the largest unit that divides the size exactly. Takes any
/// size up to `u128`, so that a sum of budgets prints as what it is, never wrapped.
#[derive(Clone, Copy, Debug)]
pub struct MemorySize(pub u128);

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        for (unit, name) in [(1u128 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
            if bytes != 0 && bytes.is_multiple_of(unit) {
                return write!(f, "{} {name}", bytes / unit);
            }
        }
        write!(f, "{bytes} bytes")
    }
}

/// The sentence of a name that is not valid (`realm name "Kv" has the character 'K': use 1
/// to 32 characters of a-z, 0-9 and -`); `kind` is `realm`, `service`, `interface` or
/// `program`.
pub(crate) struct BadNameSentence<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

impl fmt::Display for BadNameSentence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = self.kind == "program";
        // The rule itself is the vocabulary's: `Name`, or `ProgramName` for a program.
        let allowed = |c: char| {
            u8::try_from(c).is_ok_and(|byte| {
                if program { is_program_name_byte(byte) } else { is_name_byte(byte) }
            })
        };
        write!(f, "{} name \"{}\" ", self.kind, self.name)?;
        if self.name.is_empty() {
            f.write_str("is empty")?;
        } else if let Some(c) = self.name.chars().find(|&c| !allowed(c)) {
            write!(f, "has the character {c:?}")?;
        } else {
            write!(f, "is {} characters long", self.name.len())?;
        }
        if program {
            write!(f, ": use 1 to {MAX_PROGRAM_NAME_BYTES} characters of A-Z, a-z, 0-9, - and _")
        } else {
            write!(f, ": use 1 to {MAX_NAME_BYTES} characters of a-z, 0-9 and -")
        }
    }
}

/// The sentence of a priority out of range; `priority` as written, `realm` its label.
pub(crate) fn priority_out_of_range(
    f: &mut dyn fmt::Write,
    priority: &dyn fmt::Display,
    realm: &dyn fmt::Display,
) -> fmt::Result {
    write!(
        f,
        "priority {priority} of {realm} is out of range: realms have priorities 0 to \
         {MAX_REALM_PRIORITY} (254 is the memory manager's console thread, 255 the memory \
         manager)"
    )
}

/// The sentence of a quota out of range: `key` of `subject` is `value`, outside `min` to
/// `max`.
pub(crate) fn quota_out_of_range(
    f: &mut dyn fmt::Write,
    key: &str,
    subject: &dyn fmt::Display,
    value: &dyn fmt::Display,
    min: usize,
    max: usize,
) -> fmt::Result {
    write!(f, "`{key}` of {subject} is {value}, outside {min} to {max}")
}

/// `realm "kv"` (or `realm number 7` when there is none).
struct RealmLabel<'a>(&'a SystemConfig, RealmId);

impl fmt::Display for RealmLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.realm(self.1) {
            Some(realm) => write!(f, "realm \"{}\"", realm.name),
            None => write!(f, "realm number {}", self.1.index()),
        }
    }
}

/// `service "log"` (or `service number 7` when there is none).
struct ServiceLabel<'a>(&'a SystemConfig, ServiceId);

impl fmt::Display for ServiceLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.service(self.1) {
            Some(service) => write!(f, "service \"{}\"", service.name),
            None => write!(f, "service number {}", self.1.index()),
        }
    }
}

/// Just the quoted name of a realm (`"kv"`).
struct RealmName<'a>(&'a SystemConfig, RealmId);

impl fmt::Display for RealmName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.realm(self.1) {
            Some(realm) => write!(f, "\"{}\"", realm.name),
            None => write!(f, "number {}", self.1.index()),
        }
    }
}

/// `(first at line 4)`, or where it is stored when the lines are not known.
struct First<'a> {
    lines: &'a dyn Lines,
    item: Item,
    kind: &'a str,
    index: usize,
}

impl fmt::Display for First<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lines.line(self.item) {
            Line::At(line) => write!(f, "(first at line {line})"),
            Line::Absent | Line::Unknown => {
                write!(f, "(first as {} number {})", self.kind, self.index)
            }
        }
    }
}

/// Which realms would run before the provider answers a client at `client` priority:
/// `priority 150`, `priorities 121 to 150`.
struct PrioritiesBetween {
    provider: u8,
    client: u8,
}

impl fmt::Display for PrioritiesBetween {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.provider.saturating_add(1);
        if first >= self.client {
            write!(f, "priority {}", self.client)
        } else {
            write!(f, "priorities {first} to {}", self.client)
        }
    }
}

struct Sentence<'a> {
    finding: &'a Finding,
    config: &'a SystemConfig,
    lines: &'a dyn Lines,
}

impl Sentence<'_> {
    fn realm(&self, id: RealmId) -> RealmLabel<'_> {
        RealmLabel(self.config, id)
    }

    fn service(&self, id: ServiceId) -> ServiceLabel<'_> {
        ServiceLabel(self.config, id)
    }

    /// The realm an item belongs to, if it is about one.
    fn realm_of(item: Item) -> RealmId {
        match item {
            Item::Realm(id)
            | Item::RealmName(id)
            | Item::RealmProgram(id)
            | Item::RealmParent(id)
            | Item::RealmPriority(id)
            | Item::RealmMemory(id)
            | Item::RealmMaxServices(id)
            | Item::RealmMaxThreads(id) => id,
            _ => RealmId::ROOT,
        }
    }

    fn service_of(item: Item) -> ServiceId {
        match item {
            Item::Service(id)
            | Item::ServiceName(id)
            | Item::ServiceRealm(id)
            | Item::ServiceInterface(id) => id,
            Item::AllowedClient { service, .. } => service,
            _ => ServiceId(0),
        }
    }

    fn grant_of(item: Item) -> usize {
        match item {
            Item::Grant(index) | Item::GrantClient(index) | Item::GrantService(index) => index,
            _ => 0,
        }
    }

    fn allowed_client(&self, item: Item) -> Option<RealmId> {
        let Item::AllowedClient { service, position } = item else { return None };
        match &self.config.service(service)?.allowed_clients {
            AllowedClients::Only(clients) => clients.get(position).copied(),
            AllowedClients::Any => None,
        }
    }

    fn machine_memory(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lines.line(Item::MachineMemory) {
            Line::At(line) => write!(f, "`memory` of [system], line {line}"),
            Line::Absent => f.write_str(
                "the default when [system] sets no `memory`: what the qemu tool gives QEMU",
            ),
            Line::Unknown => f.write_str("`memory` of [system]"),
        }
    }
}

impl fmt::Display for Sentence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        let config = self.config;
        let at = self.finding.at;
        let realm_id = Self::realm_of(at);
        let realm = self.realm(realm_id);
        let service_id = Self::service_of(at);
        let service = self.service(service_id);
        let grant_index = Self::grant_of(at);
        let grant = config.grants.get(grant_index);
        match self.finding.problem {
            NoRealms => f.write_str(
                "no realm is declared: a system needs at least a root realm, a [[realm]] \
                 without `parent`",
            ),
            RootHasParent => write!(
                f,
                "{realm}, stored first, has a parent: the root of the realm tree must come first"
            ),
            SecondRoot => {
                write!(f, "{realm} has no parent, but {}", self.realm(RealmId::ROOT))?;
                if let Line::At(line) = self.lines.line(Item::Realm(RealmId::ROOT)) {
                    write!(f, " (line {line})")?;
                }
                f.write_str(" is already the root; exactly one realm may have no `parent`")
            }
            ParentMissing { parent } => {
                write!(f, "parent number {} of {realm} is not a declared realm", parent.index())
            }
            ParentNotBeforeChild { parent } => write!(
                f,
                "the parent of {realm}, {}, is not stored before it: the parents form a cycle",
                self.realm(parent)
            ),
            BadName => {
                let (kind, name) = match at {
                    Item::ServiceName(id) => {
                        ("service", config.service(id).map_or("", |s| s.name.as_str()))
                    }
                    Item::ServiceInterface(id) => (
                        "interface",
                        config.service(id).and_then(|s| s.interface.as_deref()).unwrap_or(""),
                    ),
                    Item::RealmProgram(id) => {
                        ("program", config.realm(id).map_or("", |r| r.program.as_str()))
                    }
                    _ => ("realm", config.realm(realm_id).map_or("", |r| r.name.as_str())),
                };
                BadNameSentence { kind, name }.fmt(f)
            }
            BadMemorySize { bytes } => {
                let whose = if at == Item::MachineMemory { "the machine" } else { "a realm" };
                if bytes == 0 {
                    write!(f, "memory size {bytes} is zero: {whose} needs at least one 4 KiB page")
                } else {
                    write!(f, "memory size {bytes} is not a whole number of 4 KiB pages")
                }
            }
            PriorityOutOfRange => {
                let priority = config.realm(realm_id).map_or(0, |r| r.priority);
                priority_out_of_range(f, &priority, &realm)
            }
            MaxServicesOutOfRange => {
                let value = config.realm(realm_id).map_or(0, |r| r.max_services);
                quota_out_of_range(f, "max_services", &realm, &value, 0, MAX_REALM_SERVICES)
            }
            MaxThreadsOutOfRange => {
                let value = config.realm(realm_id).map_or(0, |r| r.max_threads);
                quota_out_of_range(f, "max_threads", &realm, &value, 1, MAX_THREADS_PER_REALM)
            }
            DuplicateRealm { first } => {
                let name = config.realm(realm_id).map_or("", |r| r.name.as_str());
                let first = First {
                    lines: self.lines,
                    item: Item::RealmName(first),
                    kind: "realm",
                    index: first.index(),
                };
                write!(f, "realm \"{name}\" is declared twice {first}")
            }
            DuplicateService { first } => {
                let name = config.service(service_id).map_or("", |s| s.name.as_str());
                let first = First {
                    lines: self.lines,
                    item: Item::ServiceName(first),
                    kind: "service",
                    index: first.index(),
                };
                write!(f, "service \"{name}\" is declared twice {first}")
            }
            MemoryAboveParent { parent } => {
                let memory = |id| config.realm(id).map_or(0, |r| r.memory_bytes);
                write!(
                    f,
                    "{realm} has a memory budget of {}, more than its parent {} has ({})",
                    MemorySize(memory(realm_id).into()),
                    self.realm(parent),
                    MemorySize(memory(parent).into())
                )
            }
            PriorityAboveParent { parent } => {
                let priority = |id| config.realm(id).map_or(0, |r| r.priority);
                write!(
                    f,
                    "{realm} has priority {}, above its parent {} ({}): a realm may not run \
                     above the realm that starts it",
                    priority(realm_id),
                    self.realm(parent),
                    priority(parent)
                )
            }
            ServiceRealmMissing => {
                let provider = config.service(service_id).map_or(0, |s| s.realm.index());
                write!(
                    f,
                    "{service} is provided by realm number {provider}, which is not a declared \
                     realm"
                )
            }
            ServiceQuotaExceeded { number } => {
                let provider = config.service(service_id).map_or(RealmId::ROOT, |s| s.realm);
                let quota = config.realm(provider).map_or(0, |r| r.max_services);
                write!(
                    f,
                    "{service} is service number {number} of {}, whose max_services is {quota}",
                    self.realm(provider)
                )
            }
            QuotasExceedBroker { quota, sum } => {
                let (field, capacity) = match quota {
                    Quota::MaxServices => ("max_services", MAX_REGISTERED_SERVICES),
                    Quota::MaxConnections => ("max_connections", MAX_CONNECTIONS),
                };
                write!(
                    f,
                    "the realms' {field} add up to {sum} at {realm}, more than the broker's \
                     {capacity}"
                )
            }
            AllowedClientMissing => {
                let Item::AllowedClient { position, .. } = at else { return Ok(()) };
                let client = self.allowed_client(at).map_or(0, RealmId::index);
                write!(
                    f,
                    "allowed client {position} of {service} is realm number {client}, which is \
                     not a declared realm"
                )
            }
            DuplicateAllowedClient => {
                let client = self.allowed_client(at).unwrap_or(RealmId::ROOT);
                write!(
                    f,
                    "realm {} is listed twice in the allowed_clients of {service}",
                    RealmName(config, client)
                )
            }
            GrantClientMissing => {
                let client = grant.map_or(0, |g| g.client.index());
                write!(f, "grant names client realm number {client}, which is not a declared realm")
            }
            GrantServiceMissing => {
                let number = grant.map_or(0, |g| g.service.index());
                write!(f, "grant names service number {number}, which is not a declared service")
            }
            DuplicateGrant { first } => {
                let (client, service) =
                    grant.map_or((RealmId::ROOT, ServiceId(0)), |g| (g.client, g.service));
                let service_name = config.service(service).map_or("", |s| s.name.as_str());
                let first = First {
                    lines: self.lines,
                    item: Item::Grant(first),
                    kind: "grant",
                    index: first,
                };
                write!(
                    f,
                    "realm {} is granted service \"{service_name}\" twice {first}",
                    RealmName(config, client)
                )
            }
            GrantDeniedByService => {
                let (client, service_id) =
                    grant.map_or((RealmId::ROOT, ServiceId(0)), |g| (g.client, g.service));
                let client = RealmName(config, client);
                write!(
                    f,
                    "grant lets realm {client} connect to {}, but that service ",
                    self.service(service_id)
                )?;
                match config.service(service_id).map(|s| &s.allowed_clients) {
                    Some(AllowedClients::Only(clients)) if !clients.is_empty() => {
                        f.write_str("accepts only ")?;
                        for (position, &allowed) in clients.iter().enumerate() {
                            if position > 0 {
                                f.write_str(", ")?;
                            }
                            RealmName(config, allowed).fmt(f)?;
                        }
                    }
                    _ => f.write_str("accepts no client")?,
                }
                write!(f, "; add {client} to its allowed_clients or remove this grant")
            }
            PriorityInversion { client_priority, provider_priority } => {
                let between =
                    PrioritiesBetween { provider: provider_priority, client: client_priority };
                let advice = "lower the client, raise the provider, or set \
                              allow_priority_inversion = true on the service";
                if let Some(grant) = grant.filter(|_| matches!(at, Item::GrantClient(_))) {
                    let provider = config.service(grant.service).map_or(RealmId::ROOT, |s| s.realm);
                    write!(
                        f,
                        "grant lets realm {} (priority {client_priority}) call {}, whose provider \
                         realm {} has priority {provider_priority}: its calls would wait while any \
                         realm at {between} runs; {advice}",
                        RealmName(config, grant.client),
                        self.service(grant.service),
                        RealmName(config, provider)
                    )
                } else {
                    let client = self.allowed_client(at).unwrap_or(RealmId::ROOT);
                    let provider = config.service(service_id).map_or(RealmId::ROOT, |s| s.realm);
                    write!(
                        f,
                        "allowed client {} of {service} has priority {client_priority}, above its \
                         provider realm {} (priority {provider_priority}): its calls would wait \
                         while any realm at {between} runs; {advice}",
                        RealmName(config, client),
                        RealmName(config, provider)
                    )
                }
            }
            BudgetsExceedMemory { sum } => {
                write!(
                    f,
                    "the realms' memory budgets add up to {} with {realm}, more than the \
                     machine's {} (",
                    MemorySize(sum),
                    MemorySize(config.settings.memory_bytes.into())
                )?;
                self.machine_memory(f)?;
                f.write_str("): the memory manager could not start every realm")
            }
        }
    }
}
