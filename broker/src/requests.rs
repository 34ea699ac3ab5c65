//! One handler per request kind: check, decide, record, and say what the kernel must do.

use ipc::{
    CloseReason, ConnectionId, Error, InterfaceId, Missing, Name, RealmId, Reply, Resource,
    Response, Rule,
};
use policy::Decision;
use service_registry::{CapSlot, ConnectionLookup, RegistryError};

use crate::ops::{Action, Event, KernelOp, OpSink, RealmSlot, Unavailable, rights};
use crate::{Broker, Quota};

/// The error for a registry refusal.
fn registry_error(error: RegistryError) -> Error {
    match error {
        RegistryError::AlreadyRegistered => Error::AlreadyRegistered,
        RegistryError::ServicesFull => Error::QuotaExceeded { what: Resource::BrokerServices },
        RegistryError::ConnectionsFull => {
            Error::QuotaExceeded { what: Resource::BrokerConnections }
        }
        RegistryError::GenerationsExhausted => {
            Error::QuotaExceeded { what: Resource::ServiceGenerations }
        }
        RegistryError::NoSuchService => Error::NotFound { what: Missing::Service },
        RegistryError::EndpointFull => Error::QuotaExceeded { what: Resource::EndpointServices },
    }
}

const fn quota_exceeded(what: Resource) -> Error {
    Error::QuotaExceeded { what }
}

impl Broker<'_> {
    /// Logs a denial (who asked, for what, which rule refused) and returns the reply's error.
    fn deny(
        &self,
        ops: &mut dyn OpSink,
        realm: RealmId,
        action: Action,
        service: Name,
        grantee: Option<RealmId>,
        rule: Rule,
    ) -> Error {
        self.log(ops, Event::Denied { realm, action, service, grantee, rule });
        Error::Denied { rule }
    }

    /// One slot from the broker's range and one from `realm`'s, or neither.
    fn allocate_slot_pair(&mut self, realm: RealmId) -> Result<(CapSlot, RealmSlot), Error> {
        let broker_slot = CapSlot(
            self.broker_slots.allocate().map_err(|_| quota_exceeded(Resource::BrokerSlots))?,
        );
        let realm_slot = self.realm_mut(realm).and_then(|r| r.slots.allocate().ok());
        match realm_slot {
            Some(slot) => Ok((broker_slot, RealmSlot { realm, slot: CapSlot(slot) })),
            None => {
                let _ = self.broker_slots.free(broker_slot.0);
                Err(quota_exceeded(Resource::RealmSlots))
            }
        }
    }

    /// Returns a slot pair from [`Broker::allocate_slot_pair`].
    pub(crate) fn free_slot_pair(&mut self, broker_slot: CapSlot, realm_slot: RealmSlot) {
        // A slot the broker gave out is in its range and in use: the frees cannot fail.
        let _ = self.broker_slots.free(broker_slot.0);
        if let Some(realm) = self.realm_mut(realm_slot.realm) {
            let _ = realm.slots.free(realm_slot.slot.0);
        }
    }

    /// `realm`'s limits; none for a realm the broker does not know.
    fn quota_of(&self, realm: RealmId) -> Quota {
        self.quota(realm).unwrap_or(Quota { max_services: 0, max_connections: 0 })
    }

    /// Registers `service` for `caller`, with the typed `interface` it serves, on a new
    /// endpoint or, with `share`, on the endpoint of another service of the caller. In order:
    /// the policy (`Denied`, logged), `AlreadyRegistered`, the interface `system.toml`
    /// declares for the service (`InterfaceMismatch`, logged), the shared service
    /// (`NotFound` when it is not one of the caller's registered services: not registered,
    /// or another realm's, the same answer, so that `share` tells nothing of what other
    /// realms registered, as a denied connect does not), the
    /// realm's and the broker's service quotas, then the endpoint's room (`QuotaExceeded {
    /// EndpointServices }` when it carries `ServiceIndex::LIMIT` services) or slots.
    pub(crate) fn register(
        &mut self,
        caller: RealmId,
        service: Name,
        interface: Option<InterfaceId>,
        share: Option<Name>,
        ops: &mut dyn OpSink,
    ) -> Reply {
        let rule = match self.policy.decide_register(caller, &service) {
            Decision::Allowed { rule } => rule,
            Decision::Denied { rule } => {
                return Err(self.deny(ops, caller, Action::Register, service, None, rule));
            }
        };
        if self.registry.service(&service).is_some() {
            return Err(Error::AlreadyRegistered);
        }
        // A restarted realm registering again: its services are back, not restarting.
        if let Some(realm) = self.realm_mut(caller) {
            realm.restarting = false;
        }
        if let Some(declared) = self.declared_interface(&service)
            && interface.is_none_or(|interface| interface.name != declared)
        {
            let event =
                Event::DeclaredInterfaceMismatch { realm: caller, service, declared, interface };
            self.log(ops, event);
            return Err(Error::InterfaceMismatch);
        }
        let shared = match share {
            None => None,
            Some(share) => {
                // Another realm's service is answered as a missing one: naming any service
                // in `share` must not be a way to learn whether it is registered.
                let own = |key| self.registry.get(key).is_some_and(|shared| shared.owner == caller);
                let key = self.registry.find(&share).filter(|&key| own(key));
                Some(key.ok_or(Error::NotFound { what: Missing::Service })?)
            }
        };
        let owned = self.registry.services_owned_by(caller);
        if owned >= usize::from(self.quota_of(caller).max_services) {
            return Err(quota_exceeded(Resource::RealmServices));
        }
        if !self.registry.has_room_for_service() {
            return Err(quota_exceeded(Resource::BrokerServices));
        }
        let registered = match shared {
            // The owner holds the endpoint's Receive cap already: nothing for the kernel.
            Some(key) => {
                self.registry.add_shared_service(service, key, interface).map_err(registry_error)?
            }
            None => self.register_endpoint(caller, service, interface, ops)?,
        };
        let event = Event::Registered {
            owner: caller,
            service,
            generation: registered.generation,
            rule,
            interface,
            index: registered.index,
            shares: share,
        };
        self.log(ops, event);
        Ok(Response::Registered {
            endpoint_slot: registered.owner_slot.0,
            generation: registered.generation,
            index: registered.index,
        })
    }

    /// Records `service` with an endpoint of its own: a broker slot for the endpoint and a
    /// slot of `caller`'s for its Receive cap, then the ops that make them.
    fn register_endpoint(
        &mut self,
        caller: RealmId,
        service: Name,
        interface: Option<InterfaceId>,
        ops: &mut dyn OpSink,
    ) -> Result<service_registry::Service, Error> {
        let (endpoint, owner_slot) = self.allocate_slot_pair(caller)?;
        let added =
            self.registry.add_service(service, caller, endpoint, owner_slot.slot, interface);
        let registered = match added {
            Ok(registered) => registered,
            Err(error) => {
                self.free_slot_pair(endpoint, owner_slot);
                return Err(registry_error(error));
            }
        };
        ops.run(KernelOp::CreateEndpoint { slot: endpoint });
        ops.run(KernelOp::DeleteInRealm { slot: owner_slot });
        ops.run(KernelOp::CopyToRealm {
            from: endpoint,
            into: owner_slot,
            rights: rights::RECEIVE,
        });
        Ok(registered)
    }

    /// The interface name `system.toml` declares for `service` (`interface = "..."`), if it
    /// is declared with one. (The rule engine checked that it is a valid name.)
    fn declared_interface(&self, service: &Name) -> Option<Name> {
        let config = self.config()?;
        let declared = config.service(config.find_service(service.as_str())?)?;
        Name::new(declared.interface.as_deref()?).ok()
    }

    /// Connects `caller` to `service`, as a client of `interface`. The policy decides first,
    /// before the service is looked up, so a realm that may not reach it is denied the same
    /// whether or not it exists (`policy`, "Deciding before looking"); a realm that may reach
    /// it and finds nothing to connect to hears why ([`Broker::unavailable`]). Then, when
    /// both the service's registered interface and `interface` are given and differ (name or
    /// fingerprint), `InterfaceMismatch` (logged); either one absent is no check. Open
    /// connections and the client slots that closed ones still reserve both count against
    /// `max_connections`. The connection's badge carries the service's index on its
    /// endpoint.
    pub(crate) fn connect(
        &mut self,
        caller: RealmId,
        service: Name,
        interface: Option<InterfaceId>,
        ops: &mut dyn OpSink,
    ) -> Reply {
        // The only lookup by name: the key reaches the service again in O(1).
        let key = self.registry.find(&service);
        let target = key.and_then(|key| self.registry.get(key)).copied();
        let registered = target.map(|target| target.owner);
        let rule = match self.policy.decide_connect_by_name(caller, &service, registered) {
            Decision::Allowed { rule } => rule,
            Decision::Denied { rule } => {
                return Err(self.deny(ops, caller, Action::Connect, service, None, rule));
            }
        };
        let (Some(key), Some(target)) = (key, target) else {
            let state = self.unavailable(&service);
            self.log(ops, Event::Unavailable { realm: caller, service, state });
            return Err(state.error());
        };
        if let (Some(service_interface), Some(client_interface)) = (target.interface, interface)
            && service_interface != client_interface
        {
            let event = Event::InterfaceMismatch {
                client: caller,
                service,
                provider: target.owner,
                service_interface,
                client_interface,
            };
            self.log(ops, event);
            return Err(Error::InterfaceMismatch);
        }
        let held = self.registry.connections_of(caller) + self.registry.reserved_slots_of(caller);
        if held >= usize::from(self.quota_of(caller).max_connections) {
            return Err(quota_exceeded(Resource::RealmConnections));
        }
        if !self.registry.has_room_for_connection() {
            return Err(quota_exceeded(Resource::BrokerConnections));
        }
        let (broker_copy, client_slot) = self.allocate_slot_pair(caller)?;
        let added = self.registry.add_connection(caller, key, broker_copy, client_slot.slot);
        let connection = match added {
            Ok(connection) => connection,
            Err(error) => {
                self.free_slot_pair(broker_copy, client_slot);
                return Err(registry_error(error));
            }
        };
        ops.run(KernelOp::Mint {
            from: target.endpoint,
            into: broker_copy,
            badge: ipc::Badge::for_connection(connection.id, target.index),
            rights: rights::BROKER_COPY,
        });
        ops.run(KernelOp::DeleteInRealm { slot: client_slot });
        ops.run(KernelOp::CopyToRealm {
            from: broker_copy,
            into: client_slot,
            rights: rights::CLIENT,
        });
        let id = connection.id;
        self.log(ops, Event::Connected { client: caller, service, connection: id, rule });
        if let Some(inversion) = self.policy.inversion(caller, target.owner, rule) {
            let warning = Event::PriorityInversion {
                client: caller,
                service,
                provider: target.owner,
                connection: id,
                client_priority: inversion.client_priority,
                provider_priority: inversion.provider_priority,
                rule,
            };
            self.log(ops, warning);
        }
        Ok(Response::Connected {
            connection: connection.id,
            slot: client_slot.slot.0,
            service_generation: target.generation,
        })
    }

    /// Why there is no registered `service` to connect to: its declared provider's state
    /// (restarting, stopped for good, or running but not registered yet); for a name declared
    /// nowhere, that it is unknown. (A connect to a name declared nowhere and not registered
    /// is denied before this is asked, since only a `[[grant]]`, always of a declared
    /// service, reaches a service without its owner: `Unknown` is the answer of last resort.)
    pub(crate) fn unavailable(&self, service: &Name) -> Unavailable {
        let Some(provider) = self.policy.provider(service) else {
            return Unavailable::Unknown;
        };
        match self.realm(provider) {
            Some(provider) if provider.restarting => Unavailable::Restarting,
            Some(provider) if !provider.alive => Unavailable::Gone,
            _ => Unavailable::NotYetRegistered,
        }
    }

    /// The caller's open connection `id`, or the error that says what became of it.
    fn own_open_connection(&self, caller: RealmId, id: ConnectionId) -> Result<u32, Error> {
        match self.registry.connection(id) {
            ConnectionLookup::Open(connection) if connection.client == caller => {
                Ok(connection.service_generation)
            }
            // Another realm's connection gets the answer a connection that never existed
            // gets: asking is no way to map the connection table.
            ConnectionLookup::Open(_) => Err(Error::NotFound { what: Missing::Connection }),
            ConnectionLookup::Closed(closed) if closed.client != caller => {
                Err(Error::NotFound { what: Missing::Connection })
            }
            ConnectionLookup::Closed(closed) => {
                let restarted = self
                    .registry
                    .service(&closed.service)
                    .filter(|now| now.generation > closed.service_generation);
                // A declared service whose provider is being restarted will be back.
                let restarting = self
                    .policy
                    .provider(&closed.service)
                    .and_then(|provider| self.realm(provider))
                    .is_some_and(|provider| provider.restarting);
                Err(match (closed.reason, restarted) {
                    (CloseReason::ServiceGone, Some(now)) => {
                        Error::ServiceRestarted { generation: now.generation }
                    }
                    (CloseReason::ServiceGone, None) if restarting => Error::ServiceRestarting,
                    (reason, _) => Error::Disconnected { reason },
                })
            }
            ConnectionLookup::Superseded => {
                Err(Error::Disconnected { reason: CloseReason::Unknown })
            }
            ConnectionLookup::Unknown => Err(Error::NotFound { what: Missing::Connection }),
        }
    }

    /// Closes a connection: its client may, and so may the realm that owns its service (to
    /// revoke that one client's access). The client of a connection closed for it lets go of
    /// it the same way: the slot the connection still reserved is freed (once; after that,
    /// the closure is reported as for any closed connection).
    pub(crate) fn disconnect(
        &mut self,
        caller: RealmId,
        id: ConnectionId,
        ops: &mut dyn OpSink,
    ) -> Reply {
        let by_service = match self.registry.connection(id) {
            ConnectionLookup::Open(connection) if connection.client != caller => self
                .registry
                .service(&connection.service)
                .is_some_and(|service| service.owner == caller),
            ConnectionLookup::Closed(closed) if closed.client == caller && closed.reserved => {
                if let Some(released) = self.registry.release_reserved_slot(id) {
                    self.free_released_slot(released);
                }
                return Ok(Response::Done);
            }
            _ => false,
        };
        let reason = if by_service {
            CloseReason::ByService
        } else {
            self.own_open_connection(caller, id)?;
            CloseReason::ByClient
        };
        self.close_connection(id, reason, ops);
        Ok(Response::Done)
    }

    pub(crate) fn status(&self, caller: RealmId, id: ConnectionId) -> Reply {
        let service_generation = self.own_open_connection(caller, id)?;
        Ok(Response::Live { service_generation })
    }

    /// The realm called `child`, or `NotFound`.
    fn realm_called(&self, child: &Name) -> Result<RealmId, Error> {
        self.realm_id(child).ok_or(Error::NotFound { what: Missing::Realm })
    }

    /// Lets `caller`'s child `child` reach `service`, if the policy accepts the grant: the
    /// caller is the child's parent, reaches the service itself, and the service's allowed
    /// clients (if listed) include the child (`Policy::decide_grant_of_service`). A refusal
    /// is logged with its rule, like every denial.
    pub(crate) fn grant(
        &mut self,
        caller: RealmId,
        child: Name,
        service: Name,
        ops: &mut dyn OpSink,
    ) -> Reply {
        let grantee = self.realm_called(&child)?;
        let registered = self.registry.service(&service).map(|s| s.owner);
        let decision = self.policy.decide_grant_of_service(caller, grantee, &service, registered);
        if let Decision::Denied { rule } = decision {
            return Err(self.deny(ops, caller, Action::Grant, service, Some(grantee), rule));
        }
        // The granter reaches the service, so saying it is gone tells it nothing new.
        if registered.is_none() && self.unavailable(&service) == Unavailable::Gone {
            let rule = ipc::Rule::ServiceGone;
            return Err(self.deny(ops, caller, Action::Grant, service, Some(grantee), rule));
        }
        self.policy
            .add_grant(grantee, &service)
            .map_err(|_| quota_exceeded(Resource::RuntimeGrants))?;
        self.log(ops, Event::GrantAdded { granter: caller, grantee, service });
        Ok(Response::Done)
    }

    pub(crate) fn revoke_grant(
        &mut self,
        caller: RealmId,
        child: Name,
        service: Name,
        ops: &mut dyn OpSink,
    ) -> Reply {
        let grantee = self.realm_called(&child)?;
        if let Decision::Denied { rule } = self.policy.decide_grant(caller, grantee) {
            let action = Action::RevokeGrant;
            return Err(self.deny(ops, caller, action, service, Some(grantee), rule));
        }
        if !self.policy.remove_grant(grantee, &service) {
            return Err(Error::NotFound { what: Missing::Grant });
        }
        self.log(ops, Event::GrantRevoked { granter: caller, grantee, service });
        self.close_connections_no_longer_allowed(ops);
        Ok(Response::Done)
    }
}
