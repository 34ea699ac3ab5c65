//! `policy`: who may register, connect to and grant which service. Pure decisions, no state
//! beyond the rules themselves.
//!
//! # Reaching a service
//!
//! A realm *reaches* a service owned by realm `O` by the first of these that applies:
//! 1. it is `O` itself ([`Rule::SameRealm`]);
//! 2. `O` is its parent: a child may reach its parent's services ([`Rule::ParentService`]);
//! 3. the init configuration grants it the service ([`Rule::InitConfigGrant`]);
//! 4. its parent granted it the service at run time **and the parent reaches the service
//!    itself** ([`Rule::ParentGrant`]). A grant is delegation: a parent can pass on only what
//!    it has, checked at every connect, so revoking a grant higher up also cuts off every
//!    realm below that relied on it. If the parent cannot reach it the connect is denied with
//!    [`Rule::GranterCannotReach`].
//!
//! Otherwise it is denied: [`Rule::SiblingNeedsGrant`] when client and owner share a parent
//! (top-level realms count as siblings: the memory manager is their common parent),
//! [`Rule::NoRoute`] in every other case (a parent does not reach its child's services by
//! hierarchy: the configuration must grant it).
//!
//! # Connecting
//!
//! A connect is allowed when the client reaches the service **and**, if the service's
//! declaration lists allowed clients, the client is on the list (else
//! [`Rule::NotInAllowedClients`]). The list only restricts; it never grants.
//!
//! # Deciding before looking
//!
//! The broker decides a connect before it looks for the service
//! ([`Policy::decide_connect_by_name`]), so that a realm that may not reach a service gets the
//! same denial whether or not the service is registered: connect is no oracle of what other
//! realms registered. Which owner the rules above use:
//! - a service declared with a provider: the provider, registered or not (only it may
//!   register the service), so the answer never depends on the registry;
//! - any other name (undeclared, or declared without a provider): nobody can know its owner
//!   before some realm registers it. The rules that need no owner (a grant of the init
//!   configuration, reached directly or through run-time grants) decide alone while it is not
//!   registered. Once it is registered, its owner lets the owner's children and the owner
//!   itself in as well; but a denial is always the one decided without an owner
//!   ([`Rule::NoRoute`], [`Rule::GranterCannotReach`] or [`Rule::NotInAllowedClients`], never
//!   [`Rule::SiblingNeedsGrant`], which would tell where the owner sits in the tree). So a
//!   child cannot tell its parent's undeclared service that is not registered yet from one it
//!   may not reach: declare a service (with its provider) for clients to hear "not
//!   registered yet" instead.
//!
//! What the system description says (declarations, providers, grants) is not secret: a
//! denial may reflect it, never the run-time state of the registry.
//!
//! # Granting
//!
//! Only a realm's direct parent may grant to it or revoke its grants ([`Rule::ParentOfGrantee`],
//! [`Rule::NotParent`]). Not any ancestor: the parent started the child and is the one that
//! knows what it needs, and an ancestor reaches a grandchild by granting down each level,
//! every level checked against the granter's own reach. Grants name a service, not an
//! instance: they survive a service restart.
//!
//! A grant that could never be used is refused when it is made, with its rule
//! ([`Policy::decide_grant_of_service`]): the granter must reach the service itself
//! ([`Rule::GranterDoesNotReach`], decided before looking, as for a connect), and the
//! service's allowed clients, if listed, must include the grantee
//! ([`Rule::GranteeNotInAllowedClients`]). Connects still check the whole chain every time:
//! a granter that loses its own access later takes its grantees' access with it.
//!
//! # Registering
//!
//! If the init configuration names a provider for a service, only that realm may register it
//! ([`Rule::DeclaredProvider`], [`Rule::NotDeclaredProvider`]): no realm can squat a name
//! another realm's clients expect. A service without a declared provider may be registered by
//! any realm ([`Rule::OpenRegistration`]).
//!
//! # Priority inversion
//!
//! [`Priorities`] decides which allowed connects put a client above its service's provider
//! and were not checked by the system description (see its module): the broker warns about
//! those. It never refuses a connect.
//!
//! # Bounds and costs
//!
//! The tables are bounded (`heapless`) and at least as large as everything the system
//! description (`system-config`) accepts: 32 realms, 64 declared services, 128 grants, 16
//! allowed clients per service. Run-time grants are bounded by [`MAX_RUNTIME_GRANTS`];
//! running out is an error. Grants and declarations are kept sorted, so a decision costs a
//! few binary searches (plus one climb of the realm tree for delegated grants), whatever the
//! number of services registered.
//!
//! The [`Policy`] is about 18 KiB. It is made by the `const` [`Policy::empty`] and filled in
//! place by [`Policy::configure`], so that its owner (the broker, in a static of the memory
//! manager) never builds it on the stack.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), no_std)]

mod priority;

use core::fmt;

pub use priority::{Inversion, Priorities};

pub use ipc::Rule;
use ipc::{Name, RealmId};

/// The policy's tables are sized by the project's limits (`vocabulary::limits`): the realms,
/// declared grants, declared services and allowed clients of a system description, and
/// [`MAX_RUNTIME_GRANTS`] run-time grants.
use vocabulary::limits::{
    MAX_ALLOWED_CLIENTS, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_REALMS, MAX_RUNTIME_GRANTS,
};

/// A service's allowed-clients list.
pub type AllowedClients = heapless::Vec<RealmId, MAX_ALLOWED_CLIENTS>;

/// A grant: `client` may reach `service` (whoever provides it). Grants are ordered by client,
/// then service, so that the policy can keep them sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub client: RealmId,
    pub service: Name,
}

/// What the init configuration says about one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceDecl {
    pub service: Name,
    /// The only realm that may register it, if set.
    pub provider: Option<RealmId>,
    /// If set, only these realms may connect (on top of reaching it).
    pub allowed_clients: Option<AllowedClients>,
}

/// The init configuration's policy, indexed by realm id.
#[derive(Clone, Copy, Debug)]
pub struct PolicyConfig<'a> {
    /// `parents[i]` is the parent of realm `i` (`None`: a top-level realm).
    pub parents: &'a [Option<RealmId>],
    pub grants: &'a [Grant],
    pub services: &'a [ServiceDecl],
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    TooManyRealms { count: usize },
    UnknownParent { realm: RealmId, parent: RealmId },
    ParentCycle { realm: RealmId },
    TooManyGrants { count: usize },
    UnknownGrantClient { service: Name, client: RealmId },
    TooManyServices { count: usize },
    DuplicateService { service: Name },
    UnknownProvider { service: Name, provider: RealmId },
    UnknownAllowedClient { service: Name, client: RealmId },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyRealms { count } => {
                write!(f, "{count} realms, at most {MAX_REALMS} supported")
            }
            Self::UnknownParent { realm, parent } => {
                write!(f, "{realm} names {parent} as parent, which does not exist")
            }
            Self::ParentCycle { realm } => write!(f, "{realm} is its own ancestor"),
            Self::TooManyGrants { count } => {
                write!(f, "{count} grants, at most {MAX_DECLARED_GRANTS} supported")
            }
            Self::UnknownGrantClient { service, client } => {
                write!(f, "grant of service \"{service}\" to {client}, which does not exist")
            }
            Self::TooManyServices { count } => {
                write!(f, "{count} services declared, at most {MAX_DECLARED_SERVICES} supported")
            }
            Self::DuplicateService { service } => {
                write!(f, "service \"{service}\" is declared twice")
            }
            Self::UnknownProvider { service, provider } => {
                write!(
                    f,
                    "service \"{service}\" names {provider} as provider, which does not exist"
                )
            }
            Self::UnknownAllowedClient { service, client } => write!(
                f,
                "service \"{service}\" lists {client} as allowed client, which does not exist"
            ),
        }
    }
}

/// The run-time grant table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantTableFull;

/// A decision and the rule that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed { rule: Rule },
    Denied { rule: Rule },
}

impl Decision {
    pub const fn rule(self) -> Rule {
        match self {
            Self::Allowed { rule } | Self::Denied { rule } => rule,
        }
    }

    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

/// The rules: the realm tree, the init configuration's grants and declarations, and the
/// grants parents made at run time.
#[derive(Clone, Debug)]
pub struct Policy {
    parents: heapless::Vec<Option<RealmId>, MAX_REALMS>,
    /// Sorted, so that a lookup is a binary search.
    static_grants: heapless::Vec<Grant, MAX_DECLARED_GRANTS>,
    /// Sorted by service name.
    declarations: heapless::Vec<ServiceDecl, MAX_DECLARED_SERVICES>,
    /// Sorted, no duplicates.
    runtime_grants: heapless::Vec<Grant, MAX_RUNTIME_GRANTS>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::empty()
    }
}

impl Policy {
    /// A policy without realms, grants or declarations. `const`, so that a static can hold
    /// it without building it on the stack first.
    pub const fn empty() -> Self {
        Self {
            parents: heapless::Vec::new(),
            static_grants: heapless::Vec::new(),
            declarations: heapless::Vec::new(),
            runtime_grants: heapless::Vec::new(),
        }
    }

    /// Checks `config` and builds the policy from it. The policy is returned by value (about
    /// 18 KiB): on the root task's stack, prefer [`Policy::configure`] on a static.
    pub fn new(config: &PolicyConfig<'_>) -> Result<Self, ConfigError> {
        let mut policy = Self::empty();
        policy.configure(config)?;
        Ok(policy)
    }

    /// Checks `config` and replaces the whole policy with it, in place (run-time grants
    /// included). If `config` is refused, the policy is left empty.
    pub fn configure(&mut self, config: &PolicyConfig<'_>) -> Result<(), ConfigError> {
        self.clear();
        let result = self.fill(config);
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Forgets everything, in place: the policy is [`Policy::empty`] again.
    pub fn clear(&mut self) {
        self.parents.clear();
        self.static_grants.clear();
        self.declarations.clear();
        self.runtime_grants.clear();
    }

    fn fill(&mut self, config: &PolicyConfig<'_>) -> Result<(), ConfigError> {
        self.parents
            .extend_from_slice(config.parents)
            .map_err(|_| ConfigError::TooManyRealms { count: config.parents.len() })?;
        self.static_grants
            .extend_from_slice(config.grants)
            .map_err(|_| ConfigError::TooManyGrants { count: config.grants.len() })?;
        self.declarations
            .extend_from_slice(config.services)
            .map_err(|_| ConfigError::TooManyServices { count: config.services.len() })?;
        self.check_tree()?;
        self.check_grants()?;
        self.check_declarations()?;
        self.static_grants.sort_unstable();
        self.declarations.sort_unstable_by_key(|d| d.service);
        self.check_no_duplicate_declarations()
    }

    fn check_tree(&self) -> Result<(), ConfigError> {
        for (index, parent) in self.parents.iter().enumerate() {
            let realm = RealmId(index as u8);
            if let Some(parent) = *parent
                && !self.contains(parent)
            {
                return Err(ConfigError::UnknownParent { realm, parent });
            }
            // An acyclic chain of ancestors is shorter than the number of realms.
            let mut ancestor = *parent;
            for _ in 0..self.parents.len() {
                ancestor = ancestor.and_then(|a| self.parent(a));
            }
            if ancestor.is_some() {
                return Err(ConfigError::ParentCycle { realm });
            }
        }
        Ok(())
    }

    fn check_grants(&self) -> Result<(), ConfigError> {
        match self.static_grants.iter().find(|g| !self.contains(g.client)) {
            Some(grant) => Err(ConfigError::UnknownGrantClient {
                service: grant.service,
                client: grant.client,
            }),
            None => Ok(()),
        }
    }

    /// Providers and allowed clients must be realms (checked in the configuration's order).
    fn check_declarations(&self) -> Result<(), ConfigError> {
        for declaration in &self.declarations {
            let service = declaration.service;
            if let Some(provider) = declaration.provider
                && !self.contains(provider)
            {
                return Err(ConfigError::UnknownProvider { service, provider });
            }
            let clients = declaration.allowed_clients.iter().flatten();
            if let Some(&client) = clients.clone().find(|&&c| !self.contains(c)) {
                return Err(ConfigError::UnknownAllowedClient { service, client });
            }
        }
        Ok(())
    }

    /// No service is declared twice (checked once the declarations are sorted).
    fn check_no_duplicate_declarations(&self) -> Result<(), ConfigError> {
        match self.declarations.windows(2).find(|pair| pair[0].service == pair[1].service) {
            Some(pair) => Err(ConfigError::DuplicateService { service: pair[0].service }),
            None => Ok(()),
        }
    }

    /// How many realms there are (their ids are `0..count`).
    pub fn realm_count(&self) -> usize {
        self.parents.len()
    }

    /// Whether `realm` exists.
    pub fn contains(&self, realm: RealmId) -> bool {
        usize::from(realm.0) < self.parents.len()
    }

    /// `realm`'s parent (`None` for a top-level or unknown realm).
    pub fn parent(&self, realm: RealmId) -> Option<RealmId> {
        self.parents.get(usize::from(realm.0)).copied().flatten()
    }

    /// The declaration of `service`, if the init configuration has one.
    pub fn declaration(&self, service: &Name) -> Option<&ServiceDecl> {
        let index = self.declarations.binary_search_by(|d| d.service.cmp(service)).ok()?;
        self.declarations.get(index)
    }

    /// The allowed-clients list of `service`, if it has one.
    pub fn allowed_clients(&self, service: &Name) -> Option<&[RealmId]> {
        self.declaration(service)?.allowed_clients.as_deref()
    }

    /// The grants parents made at run time, sorted (by client, then service).
    pub fn runtime_grants(&self) -> &[Grant] {
        &self.runtime_grants
    }

    /// May `realm` register `service`?
    pub fn decide_register(&self, realm: RealmId, service: &Name) -> Decision {
        match self.declaration(service).and_then(|d| d.provider) {
            Some(provider) if provider == realm => {
                Decision::Allowed { rule: Rule::DeclaredProvider }
            }
            Some(_) => Decision::Denied { rule: Rule::NotDeclaredProvider },
            None => Decision::Allowed { rule: Rule::OpenRegistration },
        }
    }

    /// May `client` connect to `service`, registered by `owner`? The rules alone, for a
    /// service whose owner is known; the broker asks [`Policy::decide_connect_by_name`].
    pub fn decide_connect(&self, client: RealmId, service: &Name, owner: RealmId) -> Decision {
        self.connect_with_owner(client, service, Some(owner))
    }

    /// May `client` connect to `service`, decided before anyone looks for the service:
    /// `registered` is the realm that registered it, if one did. See "Deciding before
    /// looking" in the crate documentation: a denial is the same whether or not the service
    /// is registered.
    pub fn decide_connect_by_name(
        &self,
        client: RealmId,
        service: &Name,
        registered: Option<RealmId>,
    ) -> Decision {
        self.by_name(service, registered, |owner| self.connect_with_owner(client, service, owner))
    }

    /// Does `realm` reach `service`, owned by `owner` (the allowed-clients list aside)?
    pub fn decide_reach(&self, realm: RealmId, service: &Name, owner: RealmId) -> Decision {
        self.reach_with_owner(realm, service, Some(owner))
    }

    /// Does `realm` reach `service` (the allowed-clients list aside), decided as
    /// [`Policy::decide_connect_by_name`] decides: `registered` is the realm that registered
    /// it, if one did.
    pub fn decide_reach_by_name(
        &self,
        realm: RealmId,
        service: &Name,
        registered: Option<RealmId>,
    ) -> Decision {
        self.by_name(service, registered, |owner| self.reach_with_owner(realm, service, owner))
    }

    /// Runs `decide` with the owner the policy may use for `service`: its declared provider;
    /// else, for an undeclared (or provider-less) service, the realm that registered it, but
    /// a denial is then decided again without any owner, so that it does not depend on
    /// whether, or by whom, the service is registered.
    fn by_name(
        &self,
        service: &Name,
        registered: Option<RealmId>,
        decide: impl Fn(Option<RealmId>) -> Decision,
    ) -> Decision {
        if let Some(provider) = self.declaration(service).and_then(|d| d.provider) {
            return decide(Some(provider));
        }
        match registered {
            Some(owner) => match decide(Some(owner)) {
                allowed @ Decision::Allowed { .. } => allowed,
                Decision::Denied { .. } => decide(None),
            },
            None => decide(None),
        }
    }

    /// [`Policy::decide_connect`] with the owner known (`Some`) or not (`None`: only the
    /// rules that do not depend on the owner can let the client in).
    fn connect_with_owner(
        &self,
        client: RealmId,
        service: &Name,
        owner: Option<RealmId>,
    ) -> Decision {
        let reach = self.reach_with_owner(client, service, owner);
        if !reach.is_allowed() {
            return reach;
        }
        if self.allowed_clients_refuse(service, client) {
            return Decision::Denied { rule: Rule::NotInAllowedClients };
        }
        reach
    }

    /// Whether `service` lists its allowed clients and `client` is not one of them.
    fn allowed_clients_refuse(&self, service: &Name, client: RealmId) -> bool {
        self.allowed_clients(service).is_some_and(|list| !list.contains(&client))
    }

    /// [`Policy::decide_reach`] with the owner known (`Some`) or not (`None`: only grants of
    /// the init configuration, directly or through a chain of run-time grants, reach).
    fn reach_with_owner(&self, realm: RealmId, service: &Name, owner: Option<RealmId>) -> Decision {
        let mut current = realm;
        let mut delegated = false;
        // Each round climbs one level of a run-time grant; the tree is acyclic, so this ends
        // within the number of realms.
        for _ in 0..=self.parents.len() {
            if let Some(rule) = self.direct_reach(current, service, owner) {
                let rule = if delegated { Rule::ParentGrant } else { rule };
                return Decision::Allowed { rule };
            }
            match self.parent(current) {
                Some(parent) if self.has_runtime_grant(current, service) => {
                    delegated = true;
                    current = parent;
                }
                _ => break,
            }
        }
        let rule = match owner {
            _ if delegated => Rule::GranterCannotReach,
            Some(owner) if self.parent(realm) == self.parent(owner) => Rule::SiblingNeedsGrant,
            _ => Rule::NoRoute,
        };
        Decision::Denied { rule }
    }

    /// The rule by which `realm` reaches `service` without a run-time grant, if any. With no
    /// owner known, only a grant of the init configuration can.
    fn direct_reach(&self, realm: RealmId, service: &Name, owner: Option<RealmId>) -> Option<Rule> {
        if owner == Some(realm) {
            Some(Rule::SameRealm)
        } else if owner.is_some() && self.parent(realm) == owner {
            Some(Rule::ParentService)
        } else if self
            .static_grants
            .binary_search(&Grant { client: realm, service: *service })
            .is_ok()
        {
            Some(Rule::InitConfigGrant)
        } else {
            None
        }
    }

    fn has_runtime_grant(&self, client: RealmId, service: &Name) -> bool {
        self.runtime_grants.binary_search(&Grant { client, service: *service }).is_ok()
    }

    /// May `granter` revoke a grant of `grantee`? (Granting is
    /// [`Policy::decide_grant_of_service`].)
    pub fn decide_grant(&self, granter: RealmId, grantee: RealmId) -> Decision {
        if self.contains(granter) && self.parent(grantee) == Some(granter) {
            Decision::Allowed { rule: Rule::ParentOfGrantee }
        } else {
            Decision::Denied { rule: Rule::NotParent }
        }
    }

    /// May `granter` grant `service` to `grantee`? Only its parent may
    /// ([`Rule::NotParent`]), only what it reaches itself ([`Rule::GranterDoesNotReach`],
    /// decided as [`Policy::decide_reach_by_name`] with `registered`, the realm that
    /// registered the service if one did), and only to a realm the service's allowed
    /// clients accept ([`Rule::GranteeNotInAllowedClients`]): a grant that could never be
    /// used is refused when it is made, not at the grantee's connect.
    pub fn decide_grant_of_service(
        &self,
        granter: RealmId,
        grantee: RealmId,
        service: &Name,
        registered: Option<RealmId>,
    ) -> Decision {
        let parent = self.decide_grant(granter, grantee);
        if !parent.is_allowed() {
            return parent;
        }
        if !self.decide_reach_by_name(granter, service, registered).is_allowed() {
            return Decision::Denied { rule: Rule::GranterDoesNotReach };
        }
        if self.allowed_clients_refuse(service, grantee) {
            return Decision::Denied { rule: Rule::GranteeNotInAllowedClients };
        }
        parent
    }

    /// Records a run-time grant (already checked with [`Policy::decide_grant_of_service`]). Granting
    /// twice is the same as once.
    pub fn add_grant(&mut self, grantee: RealmId, service: &Name) -> Result<(), GrantTableFull> {
        let grant = Grant { client: grantee, service: *service };
        match self.runtime_grants.binary_search(&grant) {
            Ok(_) => Ok(()),
            Err(position) => {
                self.runtime_grants.insert(position, grant).map_err(|_| GrantTableFull)
            }
        }
    }

    /// Removes a run-time grant; whether there was one.
    pub fn remove_grant(&mut self, grantee: RealmId, service: &Name) -> bool {
        let grant = Grant { client: grantee, service: *service };
        match self.runtime_grants.binary_search(&grant) {
            Ok(position) => {
                self.runtime_grants.remove(position);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests;
