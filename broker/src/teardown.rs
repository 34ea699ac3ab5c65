//! Taking access away: closing connections and removing services, with the kernel ops that
//! make the caps go away (see [`crate::ops`] for why these ops, in this order), and giving
//! back the client slots that closed connections reserve.
//!
//! When a connection closes for a reason its client did not choose (its service closed it,
//! a grant it relied on was revoked, its service is gone), its caps go as for any closure,
//! but the client's slot stays reserved, empty: the client still holds a handle naming that
//! slot, and a newer connection in the same slot would make a call through the stale handle
//! reach another service. The slot is freed only when the client lets go (a `Disconnect` of
//! the closed connection) or dies; until then the closed connection's record keeps its
//! table entry too (the registry does not reuse it, however many connections come and go),
//! and the reservation counts against the client's `max_connections`.
//!
//! Nothing is collected on the way: closing a connection never moves another in the
//! connection table, so teardowns walk the table by index and close as they go, and stop as
//! soon as the registry's counts say nothing is left to close.

use ipc::{CloseReason, ConnectionId, Name, RealmId};
use service_registry::{Connection, ReservedSlot};
use vocabulary::limits::MAX_CONNECTIONS;

use crate::Broker;
use crate::ops::{Event, KernelOp, OpSink, RealmSlot};

fn closed_event(connection: &Connection, reason: CloseReason) -> Event {
    Event::ConnectionClosed {
        connection: connection.id,
        client: connection.client,
        service: connection.service,
        reason,
    }
}

const fn client_slot(connection: &Connection) -> RealmSlot {
    RealmSlot { realm: connection.client, slot: connection.client_slot }
}

/// Whether a connection closed for `reason` keeps its client's slot reserved: only when the
/// client did not choose the closure (and is alive to hold a stale handle).
pub(crate) const fn reserves_client_slot(reason: CloseReason) -> bool {
    match reason {
        CloseReason::ByService | CloseReason::AccessRevoked | CloseReason::ServiceGone => true,
        CloseReason::ByClient | CloseReason::ClientDied | CloseReason::Unknown => false,
    }
}

impl Broker<'_> {
    /// The id of the open connection in slot `index` of the table, if `select` picks it.
    fn pick_connection(
        &self,
        index: usize,
        select: impl Fn(&Connection) -> bool,
    ) -> Option<ConnectionId> {
        self.registry.open_connection_at(index).filter(|c| select(c)).map(|c| c.id)
    }

    /// Closes one open connection: revoke the broker copy (and so the client's cap), clear
    /// the client's slot, unblock senders on that badge, delete the broker copy. The client's
    /// slot is freed, or kept reserved (see the module documentation).
    pub(crate) fn close_connection(
        &mut self,
        id: ConnectionId,
        reason: CloseReason,
        ops: &mut dyn OpSink,
    ) {
        let reserve = reserves_client_slot(reason);
        let Some(connection) = self.registry.close_connection(id, reason, reserve) else {
            return;
        };
        let copy = connection.broker_copy;
        ops.run(KernelOp::Revoke { slot: copy });
        ops.run(KernelOp::DeleteInRealm { slot: client_slot(&connection) });
        ops.run(KernelOp::CancelBadgedSends { slot: copy });
        ops.run(KernelOp::Delete { slot: copy });
        self.free_closed_connection_slots(&connection, reserve);
        self.log(ops, closed_event(&connection, reason));
    }

    /// Frees the broker copy's slot of a connection just closed, and its client's slot
    /// unless the closure reserved it.
    fn free_closed_connection_slots(&mut self, connection: &Connection, reserved: bool) {
        if reserved {
            let _ = self.broker_slots.free(connection.broker_copy.0);
        } else {
            self.free_slot_pair(connection.broker_copy, client_slot(connection));
        }
    }

    /// Frees a client slot that a closed connection no longer reserves.
    pub(crate) fn free_released_slot(&mut self, released: ReservedSlot) {
        if let Some(realm) = self.realm_mut(released.client) {
            let _ = realm.slots.free(released.slot.0);
        }
    }

    /// Frees every client slot that `realm`'s closed connections reserve (it died: no handle
    /// of it is left).
    pub(crate) fn release_reserved_slots_of(&mut self, realm: RealmId) {
        for index in 0..MAX_CONNECTIONS {
            if self.registry.reserved_slots_of(realm) == 0 {
                return;
            }
            let reserving = self.registry.reserving_connection_at(index);
            let Some(id) = reserving.filter(|closed| closed.client == realm).map(|c| c.id) else {
                continue;
            };
            if let Some(released) = self.registry.release_reserved_slot(id) {
                self.free_released_slot(released);
            }
        }
    }

    /// Closes every connection `realm` holds as a client.
    pub(crate) fn close_connections_of(&mut self, realm: RealmId, ops: &mut dyn OpSink) {
        for index in 0..MAX_CONNECTIONS {
            if self.registry.connections_of(realm) == 0 {
                return;
            }
            if let Some(id) = self.pick_connection(index, |c| c.client == realm) {
                self.close_connection(id, CloseReason::ClientDied, ops);
            }
        }
    }

    /// Closes every connection the policy no longer allows (after a grant was revoked).
    pub(crate) fn close_connections_no_longer_allowed(&mut self, ops: &mut dyn OpSink) {
        for index in 0..MAX_CONNECTIONS {
            let registry = &self.registry;
            let policy = &self.policy;
            let disallowed = self.pick_connection(index, |c| {
                registry.service(&c.service).is_none_or(|s| {
                    !policy.decide_connect(c.client, &c.service, s.owner).is_allowed()
                })
            });
            if let Some(id) = disallowed {
                self.close_connection(id, CloseReason::AccessRevoked, ops);
            }
        }
    }

    /// Removes the service `name` and closes every connection to it. When it was its
    /// endpoint's last service: revoke the endpoint (every cap derived from it goes), delete
    /// it (the last cap: the kernel cancels all IPC on it), then clear the slots the broker
    /// had filled in realms. When other services of its owner still share the endpoint, the
    /// endpoint and the owner's cap stay: each of its connections is closed as a disconnect
    /// closes one (its badged copy revoked, its senders cancelled). Whether there was such a
    /// service.
    pub(crate) fn remove_service(&mut self, name: &Name, ops: &mut dyn OpSink) -> bool {
        let Some(removed) = self.registry.remove_service(name) else {
            return false;
        };
        let service = removed.service;
        if removed.endpoint_freed {
            ops.run(KernelOp::Revoke { slot: service.endpoint });
            ops.run(KernelOp::Delete { slot: service.endpoint });
        }
        let mut left = service.open_connections;
        for index in 0..MAX_CONNECTIONS {
            if left == 0 {
                break;
            }
            let reaches_it =
                |c: &Connection| c.service == *name && c.service_generation == service.generation;
            let Some(id) = self.pick_connection(index, reaches_it) else {
                continue;
            };
            left -= 1;
            let reason = CloseReason::ServiceGone;
            if !removed.endpoint_freed {
                self.close_connection(id, reason, ops);
                continue;
            }
            let reserve = reserves_client_slot(reason);
            let Some(connection) = self.registry.close_connection(id, reason, reserve) else {
                continue;
            };
            ops.run(KernelOp::DeleteInRealm { slot: client_slot(&connection) });
            self.free_closed_connection_slots(&connection, reserve);
            self.log(ops, closed_event(&connection, reason));
        }
        if removed.endpoint_freed {
            let owner_slot = RealmSlot { realm: service.owner, slot: service.owner_slot };
            ops.run(KernelOp::DeleteInRealm { slot: owner_slot });
            self.free_slot_pair(service.endpoint, owner_slot);
        }
        let (owner, generation) = (service.owner, service.generation);
        self.log(ops, Event::ServiceRemoved { owner, service: service.name, generation });
        true
    }

    /// Removes every service `realm` owns, in one pass over the service table.
    pub(crate) fn remove_services_of(&mut self, realm: RealmId, ops: &mut dyn OpSink) {
        let mut from = 0;
        while let Some((position, name)) = self.registry.find_service_owned_by(realm, from) {
            // A removal moves the last service into `position`: look there again.
            from = if self.remove_service(&name, ops) { position } else { position + 1 };
        }
    }
}
