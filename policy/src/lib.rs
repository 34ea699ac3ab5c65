//! `policy`: who may register, connect to and grant which service. Pure decisions over the
//! checked system description (`system_config::CheckedConfig`, borrowed: the realm tree, the
//! `[[service]]`s with their providers and allowed clients, the `[[grant]]`s, the realms'
//! priorities) and the one state of its own, the grants parents made at run time.
//!
//! # Reaching a service
//!
//! A realm *reaches* a service owned by realm `O` by the first of these that applies:
//! 1. it is `O` itself ([`Rule::SameRealm`]);
//! 2. `O` is its parent: a child may reach its parent's services ([`Rule::ParentService`]);
//! 3. the system description grants it the service ([`Rule::InitConfigGrant`]);
//! 4. its parent granted it the service at run time **and the parent reaches the service
//!    itself** ([`Rule::ParentGrant`]). A grant is delegation: a parent can pass on only what
//!    it has, checked at every connect, so revoking a grant higher up also cuts off every
//!    realm below that relied on it. If the parent cannot reach it the connect is denied with
//!    [`Rule::GranterCannotReach`].
//!
//! Otherwise it is denied: [`Rule::SiblingNeedsGrant`] when client and owner share a parent
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
//! - a declared service (every `[[service]]` names its provider, its `realm`): the provider,
//!   registered or not (only it may register the service), so the answer never depends on
//!   the registry;
//! - any other name (declared nowhere): nobody can know its owner
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
//! A declared service may be registered only by its provider ([`Rule::DeclaredProvider`],
//! [`Rule::NotDeclaredProvider`]): no realm can squat a name another realm's clients expect.
//! A name declared nowhere may be registered by any realm ([`Rule::OpenRegistration`]).
//!
//! # Priority inversion
//!
//! [`Policy::inversion`] decides which allowed connects put a client above its service's provider
//! and were not checked by the system description (see its module): the broker warns about
//! those. It never refuses a connect.
//!
//! # Where the rules come from
//!
//! Everything but the run-time grants is read from the [`CheckedConfig`] the policy borrows
//! ([`Policy::configure`]), where it is: nothing is copied, and nothing is checked again.
//! The rule engine of `system-config` made that value (at boot, `decode`; on the host,
//! `parse`), so the realms form one tree with one root, stored parents first, and every
//! index, provider, allowed client and grant is in range and consistent. Configurations the
//! checker refuses never reach the policy: several top-level realms
//! (`multiple-root-realms`), a `[[service]]` without its `realm` (`missing-field`), a
//! `[[grant]]` of a service declared nowhere (`unknown-grant-service`).
//!
//! # Bounds and costs
//!
//! Declarations and `[[grant]]`s are found by a linear scan of the configuration (at most 64
//! services and 128 grants: a few hundred comparisons of short names); run-time grants are
//! kept sorted, bounded by [`MAX_RUNTIME_GRANTS`] (running out is an error), and found by
//! binary search. A decision costs a few of these lookups (plus one climb of the realm tree
//! for delegated grants), whatever the number of services registered.
//!
//! The [`Policy`] is a reference and the run-time grant table (about 9 KiB). It is made by the
//! `const` [`Policy::empty`] and filled in place by [`Policy::configure`], so that its owner
//! (the broker, in a static of the memory manager) never builds it on the stack.
#![forbid(unsafe_code)]
// On the broker's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

mod priority;

pub use priority::Inversion;

pub use ipc::Rule;
use ipc::{Name, RealmId};
use system_config::{AllowedClients, CheckedConfig, Service, ServiceId};

/// The run-time grant table holds [`MAX_RUNTIME_GRANTS`] grants (`vocabulary::limits`).
use vocabulary::limits::MAX_RUNTIME_GRANTS;

/// A grant a parent made at run time: `client` may reach `service` (whoever provides it).
/// Ordered by client, then service, so that the policy can keep them sorted. The grants of
/// the system description are its `[[grant]]`s ([`system_config::Grant`]), read from the
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuntimeGrant {
    pub client: RealmId,
    pub service: Name,
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

/// The rules: the checked system description (the realm tree, its `[[service]]`s and
/// `[[grant]]`s, the realms' priorities), borrowed, and the grants parents made at run time.
#[derive(Clone, Debug)]
pub struct Policy<'c> {
    /// `None` until [`Policy::configure`]: no realm, no declaration, no grant.
    config: Option<&'c CheckedConfig>,
    /// Sorted, no duplicates.
    runtime_grants: heapless::Vec<RuntimeGrant, MAX_RUNTIME_GRANTS>,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'c> Policy<'c> {
    /// A policy without realms, grants or declarations. `const`, so that a static can hold
    /// it without building it on the stack first.
    pub const fn empty() -> Self {
        Self { config: None, runtime_grants: heapless::Vec::new() }
    }

    /// The policy of `config`, without run-time grants. Returned by value (about 9 KiB of
    /// run-time grants): on the root task's stack, prefer [`Policy::configure`] on a static.
    pub fn new(config: &'c CheckedConfig) -> Self {
        let mut policy = Self::empty();
        policy.configure(config);
        policy
    }

    /// Replaces the whole policy with the one of `config`, in place (run-time grants
    /// forgotten). `config` passed the rule engine of `system-config`, so there is nothing
    /// left to check: its realms are one tree stored parents first, every index is in range,
    /// every declared service has its provider.
    pub fn configure(&mut self, config: &'c CheckedConfig) {
        self.runtime_grants.clear();
        self.config = Some(config);
    }

    /// Forgets everything, in place: the policy is [`Policy::empty`] again.
    pub fn clear(&mut self) {
        self.config = None;
        self.runtime_grants.clear();
    }

    /// The configuration the policy decides by, if configured.
    pub fn config(&self) -> Option<&'c CheckedConfig> {
        self.config
    }

    /// How many realms there are (their ids are `0..count`).
    pub fn realm_count(&self) -> usize {
        self.config.map_or(0, |config| config.realms.len())
    }

    /// Whether `realm` exists.
    pub fn contains(&self, realm: RealmId) -> bool {
        usize::from(realm.0) < self.realm_count()
    }

    /// `realm`'s parent (`None` for the root or an unknown realm).
    pub fn parent(&self, realm: RealmId) -> Option<RealmId> {
        self.config?.realm(realm)?.parent
    }

    /// The declaration (`[[service]]`) of `service` and its id, if the system description
    /// has one. A linear scan of at most `MAX_DECLARED_SERVICES` (64) names.
    pub fn declaration(&self, service: &Name) -> Option<(ServiceId, &'c Service)> {
        let config = self.config?;
        let id = config.find_service(service.as_str())?;
        Some((id, config.service(id)?))
    }

    /// The declared provider of `service` (a `[[service]]`'s `realm`), if it is declared.
    pub fn provider(&self, service: &Name) -> Option<RealmId> {
        self.declaration(service).map(|(_, declaration)| declaration.realm)
    }

    /// The allowed-clients list of `service`, if it has one.
    pub fn allowed_clients(&self, service: &Name) -> Option<&'c [RealmId]> {
        match &self.declaration(service)?.1.allowed_clients {
            AllowedClients::Any => None,
            AllowedClients::Only(clients) => Some(clients),
        }
    }

    /// Whether a `[[grant]]` of the system description lets `client` reach `service`. A
    /// linear scan of at most `MAX_DECLARED_GRANTS` (128) grants.
    pub fn has_config_grant(&self, client: RealmId, service: &Name) -> bool {
        match (self.config, self.declaration(service)) {
            (Some(config), Some((id, _))) => config.is_granted(client, id),
            _ => false,
        }
    }

    /// The grants parents made at run time, sorted (by client, then service).
    pub fn runtime_grants(&self) -> &[RuntimeGrant] {
        &self.runtime_grants
    }

    /// May `realm` register `service`?
    pub fn decide_register(&self, realm: RealmId, service: &Name) -> Decision {
        match self.provider(service) {
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
    /// else, for a service declared nowhere, the realm that registered it, but
    /// a denial is then decided again without any owner, so that it does not depend on
    /// whether, or by whom, the service is registered.
    fn by_name(
        &self,
        service: &Name,
        registered: Option<RealmId>,
        decide: impl Fn(Option<RealmId>) -> Decision,
    ) -> Decision {
        if let Some(provider) = self.provider(service) {
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
    /// the system description, directly or through a chain of run-time grants, reach).
    fn reach_with_owner(&self, realm: RealmId, service: &Name, owner: Option<RealmId>) -> Decision {
        let mut current = realm;
        let mut delegated = false;
        // Each round climbs one level of a run-time grant; the tree is acyclic, so this ends
        // within the number of realms.
        for _ in 0..=self.realm_count() {
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
    /// owner known, only a grant of the system description can.
    fn direct_reach(&self, realm: RealmId, service: &Name, owner: Option<RealmId>) -> Option<Rule> {
        if owner == Some(realm) {
            Some(Rule::SameRealm)
        } else if owner.is_some() && self.parent(realm) == owner {
            Some(Rule::ParentService)
        } else if self.has_config_grant(realm, service) {
            Some(Rule::InitConfigGrant)
        } else {
            None
        }
    }

    fn has_runtime_grant(&self, client: RealmId, service: &Name) -> bool {
        self.runtime_grants.binary_search(&RuntimeGrant { client, service: *service }).is_ok()
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
        let grant = RuntimeGrant { client: grantee, service: *service };
        match self.runtime_grants.binary_search(&grant) {
            Ok(_) => Ok(()),
            Err(position) => {
                self.runtime_grants.insert(position, grant).map_err(|_| GrantTableFull)
            }
        }
    }

    /// Removes a run-time grant; whether there was one.
    pub fn remove_grant(&mut self, grantee: RealmId, service: &Name) -> bool {
        let grant = RuntimeGrant { client: grantee, service: *service };
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
