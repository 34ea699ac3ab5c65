//! `broker`: the memory manager's service broker, sans-IO.
//!
//! Requests come in with the caller's realm (taken by the memory manager from the badge the
//! kernel delivered, never from the message); out go a [`Reply`] for the caller and a list of
//! [`KernelOp`]s the memory manager runs against seL4 in order, interleaved with [`Event`]s
//! for the log. The broker never touches the kernel, so all of its logic is tested on the host.
//!
//! The broker ties together the `policy` (decisions), the `service-registry` (tables), a
//! bounded slot allocator per CSpace (the broker's own and one range per realm), and per-realm
//! quotas. See [`ops`] for which caps exist and how they are revoked.
//!
//! Every kernel op is expected to succeed. The one that needs kernel memory is
//! `CreateEndpoint`: if it fails, the memory manager runs [`Broker::withdraw_service`] for the
//! new service (and replies with an error of its own).
#![cfg_attr(not(test), no_std)]

mod config;
mod log;
pub mod ops;
mod requests;
mod slots;
mod teardown;

pub use config::{BrokerConfig, ConfigError, Quota, RealmSpec};
pub use ipc::{Reply, Request};
pub use log::LogLine;
pub use ops::{Action, Event, KernelOp, MAX_OPS, Ops, RealmSlot, Rights};
pub use policy::MAX_REALMS;
pub use slots::{MAX_SLOTS_PER_RANGE, SlotRange, SlotRangeError};

use ipc::{Error, Missing, Name, RealmId};
use policy::{Policy, PolicyConfig};
use service_registry::Registry;

use crate::ops::emit;
use crate::slots::SlotAllocator;

/// What the broker knows of one realm.
#[derive(Clone, Debug)]
struct Realm {
    name: Name,
    alive: bool,
    slots: SlotAllocator,
    quota: Quota,
}

/// The broker's whole state (about 17 KiB): the memory manager keeps it in a static.
#[derive(Clone, Debug)]
pub struct Broker {
    realms: heapless::Vec<Realm, MAX_REALMS>,
    policy: Policy,
    registry: Registry,
    broker_slots: SlotAllocator,
}

/// Why the memory manager named a realm the broker cannot act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownRealm(pub RealmId);

impl Broker {
    /// Checks `config` and starts the broker, every realm alive.
    pub fn new(config: &BrokerConfig<'_>) -> Result<Self, ConfigError> {
        let mut parents = heapless::Vec::<_, MAX_REALMS>::new();
        let mut realms = heapless::Vec::new();
        for (index, spec) in config.realms.iter().enumerate() {
            let id = RealmId(index as u8);
            if config.realms.iter().take(index).any(|r| r.name == spec.name) {
                return Err(ConfigError::DuplicateRealmName { name: spec.name });
            }
            let slots = SlotAllocator::new(spec.slots)
                .map_err(|error| ConfigError::RealmSlots { realm: id, error })?;
            let realm = Realm { name: spec.name, alive: true, slots, quota: spec.quota };
            let too_many = ConfigError::Policy(policy::ConfigError::TooManyRealms {
                count: config.realms.len(),
            });
            parents.push(spec.parent).map_err(|_| too_many)?;
            realms.push(realm).map_err(|_| too_many)?;
        }
        let policy = Policy::new(&PolicyConfig {
            parents: &parents,
            grants: config.grants,
            services: config.services,
        })
        .map_err(ConfigError::Policy)?;
        let broker_slots = SlotAllocator::new(config.broker_slots)
            .map_err(|error| ConfigError::BrokerSlots { error })?;
        Ok(Self { realms, policy, registry: Registry::new(), broker_slots })
    }

    /// Handles one request from `caller`.
    pub fn handle(&mut self, caller: RealmId, request: &Request) -> (Reply, Ops) {
        let mut ops = Ops::new();
        let reply = match self.live_realm(caller) {
            Err(error) => Err(error),
            Ok(()) => self.dispatch(caller, request, &mut ops),
        };
        (reply, ops)
    }

    /// Decodes and handles one message from `caller` (`label` from its message-info word).
    /// A malformed message gets `MalformedRequest` and a log event.
    pub fn handle_message(&mut self, caller: RealmId, label: u64, words: &[u64]) -> (Reply, Ops) {
        match Request::decode(label, words) {
            Ok(request) => self.handle(caller, &request),
            Err(reason) => {
                let mut ops = Ops::new();
                emit(&mut ops, KernelOp::Log(Event::Malformed { realm: caller, reason }));
                (Err(Error::MalformedRequest { reason }), ops)
            }
        }
    }

    fn dispatch(&mut self, caller: RealmId, request: &Request, ops: &mut Ops) -> Reply {
        match *request {
            Request::Register { service } => self.register(caller, service, ops),
            Request::Connect { service } => self.connect(caller, service, ops),
            Request::Disconnect { connection } => self.disconnect(caller, connection, ops),
            Request::Status { connection } => self.status(caller, connection),
            Request::Grant { child, service } => self.grant(caller, child, service, ops),
            Request::RevokeGrant { child, service } => {
                self.revoke_grant(caller, child, service, ops)
            }
        }
    }

    /// `realm` died: close its connections, remove its services (closing every connection to
    /// them) and refuse its requests until [`Broker::realm_started`]. Run the ops before
    /// tearing down the realm's CSpace. A realm already dead (or unknown) yields no ops.
    pub fn realm_died(&mut self, realm: RealmId) -> Ops {
        let mut ops = Ops::new();
        match self.realm_mut(realm) {
            Some(state) if state.alive => state.alive = false,
            _ => return ops,
        }
        self.close_connections_of(realm, &mut ops);
        self.remove_services_of(realm, &mut ops);
        emit(&mut ops, KernelOp::Log(Event::RealmDied { realm }));
        ops
    }

    /// `realm` was started again (with a fresh CSpace, the same broker slot range).
    pub fn realm_started(&mut self, realm: RealmId) -> Result<(), UnknownRealm> {
        let state = self.realm_mut(realm).ok_or(UnknownRealm(realm))?;
        state.alive = true;
        Ok(())
    }

    /// Removes the service `service` as if its realm had died: every connection to it is
    /// closed. For the memory manager when creating its endpoint failed. No ops if there is
    /// no such service.
    pub fn withdraw_service(&mut self, service: &Name) -> Ops {
        let mut ops = Ops::new();
        self.remove_service(service, &mut ops);
        ops
    }

    /// The registry (read only).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The policy (read only).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn realm_name(&self, realm: RealmId) -> Option<&Name> {
        self.realm(realm).map(|r| &r.name)
    }

    pub fn realm_id(&self, name: &Name) -> Option<RealmId> {
        let index = self.realms.iter().position(|r| r.name == *name)?;
        Some(RealmId(index as u8))
    }

    pub fn is_alive(&self, realm: RealmId) -> bool {
        self.realm(realm).is_some_and(|r| r.alive)
    }

    /// How many of `realm`'s broker slots hold a cap the broker placed.
    pub fn realm_slots_in_use(&self, realm: RealmId) -> usize {
        self.realm(realm).map_or(0, |r| r.slots.in_use())
    }

    /// How many of the broker's own slots are in use.
    pub fn broker_slots_in_use(&self) -> usize {
        self.broker_slots.in_use()
    }

    /// `event` as one log line, with realm names.
    pub fn log_line<'a>(&'a self, event: &'a Event) -> LogLine<'a> {
        LogLine { broker: self, event }
    }

    fn realm(&self, realm: RealmId) -> Option<&Realm> {
        self.realms.get(usize::from(realm.0))
    }

    fn realm_mut(&mut self, realm: RealmId) -> Option<&mut Realm> {
        self.realms.get_mut(usize::from(realm.0))
    }

    /// Requests are only taken from known, live realms.
    fn live_realm(&self, realm: RealmId) -> Result<(), Error> {
        if self.is_alive(realm) { Ok(()) } else { Err(Error::NotFound { what: Missing::Realm }) }
    }
}

#[cfg(test)]
mod tests;
