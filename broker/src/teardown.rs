//! Taking access away: closing connections and removing services, with the kernel ops that
//! make the caps go away (see [`crate::ops`] for why these ops, in this order).

use ipc::{CloseReason, ConnectionId, Name, RealmId};
use service_registry::{Connection, MAX_CONNECTIONS, MAX_SERVICES};

use crate::Broker;
use crate::ops::{Event, KernelOp, Ops, RealmSlot, emit};

/// Ids of connections picked for closing (collected first: closing changes the table).
type ConnectionIds = heapless::Vec<ConnectionId, MAX_CONNECTIONS>;

fn closed_event(connection: &Connection, reason: CloseReason) -> KernelOp {
    KernelOp::Log(Event::ConnectionClosed {
        connection: connection.id,
        client: connection.client,
        service: connection.service,
        reason,
    })
}

const fn client_slot(connection: &Connection) -> RealmSlot {
    RealmSlot { realm: connection.client, slot: connection.client_slot }
}

impl Broker {
    /// The open connections `select` picks.
    fn pick_connections(&self, select: impl Fn(&Connection) -> bool) -> ConnectionIds {
        let mut ids = ConnectionIds::new();
        for connection in self.registry.connections().filter(|c| select(c)) {
            // At most MAX_CONNECTIONS are open: this always fits.
            let _ = ids.push(connection.id);
        }
        ids
    }

    /// Closes one open connection: revoke the broker copy (and so the client's cap), clear
    /// the client's slot, unblock senders on that badge, delete the broker copy.
    pub(crate) fn close_connection(
        &mut self,
        id: ConnectionId,
        reason: CloseReason,
        ops: &mut Ops,
    ) {
        let Some(connection) = self.registry.close_connection(id, reason) else {
            return;
        };
        let copy = connection.broker_copy;
        emit(ops, KernelOp::Revoke { slot: copy });
        emit(ops, KernelOp::DeleteInRealm { slot: client_slot(&connection) });
        emit(ops, KernelOp::CancelBadgedSends { slot: copy });
        emit(ops, KernelOp::Delete { slot: copy });
        self.free_slot_pair(copy, client_slot(&connection));
        emit(ops, closed_event(&connection, reason));
    }

    /// Closes every connection `realm` holds as a client.
    pub(crate) fn close_connections_of(&mut self, realm: RealmId, ops: &mut Ops) {
        for id in self.pick_connections(|c| c.client == realm) {
            self.close_connection(id, CloseReason::ClientDied, ops);
        }
    }

    /// Closes every connection the policy no longer allows (after a grant was revoked).
    pub(crate) fn close_connections_no_longer_allowed(&mut self, ops: &mut Ops) {
        let registry = &self.registry;
        let policy = &self.policy;
        let disallowed = self.pick_connections(|c| {
            registry
                .service(&c.service)
                .is_none_or(|s| !policy.decide_connect(c.client, &c.service, s.owner).is_allowed())
        });
        for id in disallowed {
            self.close_connection(id, CloseReason::AccessRevoked, ops);
        }
    }

    /// Removes the service `name` and closes every connection to it: revoke the endpoint
    /// (every cap derived from it goes), delete it (the last cap: the kernel cancels all IPC
    /// on it), then clear the slots the broker had filled in realms.
    pub(crate) fn remove_service(&mut self, name: &Name, ops: &mut Ops) {
        let Some(service) = self.registry.remove_service(name) else {
            return;
        };
        emit(ops, KernelOp::Revoke { slot: service.endpoint });
        emit(ops, KernelOp::Delete { slot: service.endpoint });
        for id in self.pick_connections(|c| c.service == *name) {
            let Some(connection) = self.registry.close_connection(id, CloseReason::ServiceGone)
            else {
                continue;
            };
            emit(ops, KernelOp::DeleteInRealm { slot: client_slot(&connection) });
            self.free_slot_pair(connection.broker_copy, client_slot(&connection));
            emit(ops, closed_event(&connection, CloseReason::ServiceGone));
        }
        let owner_slot = RealmSlot { realm: service.owner, slot: service.owner_slot };
        emit(ops, KernelOp::DeleteInRealm { slot: owner_slot });
        self.free_slot_pair(service.endpoint, owner_slot);
        emit(
            ops,
            KernelOp::Log(Event::ServiceRemoved {
                owner: service.owner,
                service: service.name,
                generation: service.generation,
            }),
        );
    }

    /// Removes every service `realm` owns.
    pub(crate) fn remove_services_of(&mut self, realm: RealmId, ops: &mut Ops) {
        let mut names = heapless::Vec::<Name, MAX_SERVICES>::new();
        for service in self.registry.services().filter(|s| s.owner == realm) {
            // At most MAX_SERVICES are registered: this always fits.
            let _ = names.push(service.name);
        }
        for name in &names {
            self.remove_service(name, ops);
        }
    }
}
