//! `broker`: the memory manager's service broker, sans-IO.
//!
//! Requests come in with the caller's realm (taken by the memory manager from the badge the
//! kernel delivered, never from the message); out go a [`Reply`] for the caller and, one at a
//! time as they are produced, the [`KernelOp`]s the memory manager runs against seL4 in order
//! and the [`Event`]s for the log, both through an [`OpSink`] the caller passes in. The
//! broker never touches the kernel, so all of its logic is tested on the host.
//!
//! The broker ties together the `policy` (decisions), the `service-registry` (tables), a
//! bounded slot allocator per CSpace (the broker's own and one range per realm: the `slots`
//! crate's [`slots::RangeSlots`], the allocator the memory manager uses too), and per-realm
//! quotas. See [`ops`] for which caps exist and how they are revoked.
//!
//! # Holding it
//!
//! The whole state is one [`Broker`] value of about 235 KiB (`size_of::<Broker>()`; the
//! tables for [`MAX_REGISTERED_SERVICES`] services and [`MAX_CONNECTIONS`] connections). It is made by
//! the `const fn` [`Broker::empty`], so the memory manager keeps it in a static without ever
//! building it on its stack, and fills it in place with [`Broker::configure`]:
//!
//! ```
//! # use std::sync::Mutex; // the memory manager would use `spin::Mutex`
//! use broker::{Broker, KernelOp, Layout, LogLine, OpSink, Request, SlotRange};
//! use ipc::{Name, RealmId};
//! use system_config::CheckedConfig;
//!
//! static BROKER: Mutex<Broker<'static>> = Mutex::new(Broker::empty());
//!
//! /// Runs each op against seL4 as it comes, prints each log line.
//! struct Executor;
//!
//! impl OpSink for Executor {
//!     fn run(&mut self, _op: KernelOp) {
//!         // CreateEndpoint: retype; Mint, CopyToRealm: CNode mint and copy; ...
//!     }
//!     fn log(&mut self, line: LogLine<'_>) {
//!         println!("{line}");
//!     }
//! }
//!
//! // At boot: the checked system description (the memory manager decodes it once and keeps
//! // it in a static, so the broker borrows it for 'static), and the CSpace layout the memory
//! // manager chose, one slot range per realm.
//! let text = r#"
//!     [[realm]]
//!     name = "init"
//!     program = "init"
//!     priority = 100
//!     memory = "1 MiB"
//! "#;
//! let config: &'static CheckedConfig =
//!     Box::leak(Box::new(system_config::parse("system.toml", text, &["init"]).unwrap()));
//! let layout = Layout {
//!     realm_slots: &[SlotRange { start: 100, count: 64 }],
//!     broker_slots: SlotRange { start: 5000, count: broker::BROKER_SLOTS_NEEDED as u16 },
//! };
//! let mut broker = BROKER.lock().unwrap();
//! broker.configure(config, &layout).unwrap();
//!
//! // For each message on the broker endpoint: the caller from the badge, then the message,
//! // decoded first when its words are in the IPC buffer that running the ops reuses.
//! let service = Name::new("kv").unwrap();
//! let message = Request::Register { service, interface: None, share: None }.encode();
//! let request = Request::decode(message.label(), message.words());
//! let reply = broker.handle_decoded(RealmId(0), request, &mut Executor);
//! assert!(reply.is_ok());
//! ```
//!
//! No call builds a large value on the stack: the ops go straight to the sink, and teardowns
//! walk the tables by index instead of collecting what they close. `handle_message` and the
//! largest `realm_died` (every table full) run in less than 16 KiB of stack, the sink's
//! formatting included (`tests/footprint.rs`).
//!
//! # Cost of a connect
//!
//! A connect finds the service by binary search (at most 11 name comparisons with 1000
//! services registered), decides with a few binary searches in the policy's sorted tables,
//! checks quotas against kept counts and takes two slots and a connection slot in O(1). None
//! of it scans the services: its cost does not grow with their number.
//!
//! Every kernel op is expected to succeed. The one that needs kernel memory is
//! `CreateEndpoint`: if it fails, the memory manager runs [`Broker::withdraw_service`] for the
//! new service (and replies with an error of its own).
#![forbid(unsafe_code)]
// On the memory manager's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

mod config;
mod log;
pub mod ops;
mod requests;
mod teardown;

pub use config::{ConfigError, Layout, Quota};
pub use ipc::{Reply, Request};
pub use log::LogLine;
pub use ops::{Action, Event, KernelOp, OpSink, RealmSlot, Rights, Unavailable, rights};
pub use slots::{SlotRange, SlotRangeError};

/// The most slots one range may hold (a realm CNode of 2^12 slots fits whole): the capacity
/// of the one slot allocator's [`slots::RangeSlots`], which the broker uses for its own range
/// and each realm's.
pub const MAX_SLOTS_PER_RANGE: usize = RangeSlots::CAPACITY;

use ipc::{Error, Malformed, Missing, Name, RealmId};
use policy::Policy;
use service_registry::Registry;
use system_config::CheckedConfig;
use vocabulary::limits::{MAX_CONNECTIONS, MAX_REALMS, MAX_REGISTERED_SERVICES};

use slots::RangeSlots;

/// A broker slot range of this many slots never runs out: one slot per service endpoint and
/// one per connection's badged copy.
pub const BROKER_SLOTS_NEEDED: usize = MAX_REGISTERED_SERVICES + MAX_CONNECTIONS;
const _: () = assert!(BROKER_SLOTS_NEEDED <= MAX_SLOTS_PER_RANGE);

/// What the broker knows of one realm at run time (the rest is the configuration's).
#[derive(Clone, Debug)]
struct Realm {
    alive: bool,
    /// It died and the memory manager is starting it again: its services will be back.
    restarting: bool,
    slots: RangeSlots,
}

/// The broker's whole state. Keep it in a static: see the crate documentation. It borrows
/// the checked system description it was configured with for `'c` (the memory manager's
/// `'static` one).
#[derive(Clone, Debug)]
pub struct Broker<'c> {
    realms: heapless::Vec<Realm, MAX_REALMS>,
    /// Holds the configuration too ([`Policy::config`]).
    policy: Policy<'c>,
    registry: Registry,
    broker_slots: RangeSlots,
}

/// Why the memory manager named a realm the broker cannot act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownRealm(pub RealmId);

impl Default for Broker<'_> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'c> Broker<'c> {
    /// A broker that knows no realm (so it refuses every request) until
    /// [`Broker::configure`]. `const`, so that a static can hold it.
    pub const fn empty() -> Self {
        Self {
            realms: heapless::Vec::new(),
            policy: Policy::empty(),
            registry: Registry::new(),
            broker_slots: RangeSlots::EMPTY,
        }
    }

    /// (Re)starts the broker from the checked system description `config` and the CSpace
    /// `layout`, in place: every realm alive, no service, no connection, no run-time grant.
    /// The realms, declared services, grants, quotas and priorities are `config`'s, read
    /// where they are (nothing is copied, nothing checked again: the rule engine did). If
    /// `layout` is refused, the broker is left empty.
    pub fn configure(
        &mut self,
        config: &'c CheckedConfig,
        layout: &Layout<'_>,
    ) -> Result<(), ConfigError> {
        self.clear();
        let result = self.fill(config, layout);
        if result.is_err() {
            self.clear();
        }
        result
    }

    /// Forgets everything, in place (no stack temporary of the tables' size).
    fn clear(&mut self) {
        self.realms.clear();
        self.policy.clear();
        self.registry.clear();
        let _ = self.broker_slots.configure(SlotRange { start: 0, count: 0 });
    }

    fn fill(&mut self, config: &'c CheckedConfig, layout: &Layout<'_>) -> Result<(), ConfigError> {
        let (ranges, realms) = (layout.realm_slots.len(), config.realms.len());
        if ranges != realms {
            return Err(ConfigError::SlotRangesMismatch { ranges, realms });
        }
        for (id, range) in config.realm_ids().zip(layout.realm_slots) {
            let realm = Realm { alive: true, restarting: false, slots: RangeSlots::EMPTY };
            // A checked configuration has at most MAX_REALMS realms.
            let mismatch = ConfigError::SlotRangesMismatch { ranges, realms };
            self.realms.push(realm).map_err(|_| mismatch)?;
            if let Some(realm) = self.realms.last_mut() {
                realm
                    .slots
                    .configure(*range)
                    .map_err(|error| ConfigError::RealmSlots { realm: id, error })?;
            }
        }
        self.policy.configure(config);
        self.broker_slots
            .configure(layout.broker_slots)
            .map_err(|error| ConfigError::BrokerSlots { error })
    }

    /// The checked system description the broker was configured with, if it was.
    pub fn config(&self) -> Option<&'c CheckedConfig> {
        self.policy.config()
    }

    /// `realm`'s limits, from its `[[realm]]` (none for an unknown realm).
    pub fn quota(&self, realm: RealmId) -> Option<Quota> {
        let realm = self.config()?.realm(realm)?;
        Some(Quota {
            max_services: realm.max_services,
            max_connections: u16::from(realm.max_connections),
        })
    }

    /// Handles one request from `caller`; the kernel ops and log events go to `ops`.
    pub fn handle(&mut self, caller: RealmId, request: &Request, ops: &mut dyn OpSink) -> Reply {
        self.live_realm(caller)?;
        match *request {
            Request::Register { service, interface, share } => {
                self.register(caller, service, interface, share, ops)
            }
            Request::Connect { service, interface } => {
                self.connect(caller, service, interface, ops)
            }
            Request::Disconnect { connection } => self.disconnect(caller, connection, ops),
            Request::Status { connection } => self.status(caller, connection),
            Request::Grant { child, service } => self.grant(caller, child, service, ops),
            Request::RevokeGrant { child, service } => {
                self.revoke_grant(caller, child, service, ops)
            }
        }
    }

    /// Decodes and handles one message from `caller` (`label` from its message-info word).
    /// A malformed message gets `MalformedRequest` and a log event.
    pub fn handle_message(
        &mut self,
        caller: RealmId,
        label: u64,
        words: &[u64],
        ops: &mut dyn OpSink,
    ) -> Reply {
        self.handle_decoded(caller, Request::decode(label, words), ops)
    }

    /// Handles a message from `caller` that was decoded with [`Request::decode`]: the same as
    /// [`Broker::handle_message`], for a caller whose message words live where the sink
    /// needs to write (the IPC buffer, which running kernel ops reuses): decode, then handle.
    pub fn handle_decoded(
        &mut self,
        caller: RealmId,
        decoded: Result<Request, Malformed>,
        ops: &mut dyn OpSink,
    ) -> Reply {
        match decoded {
            Ok(request) => self.handle(caller, &request, ops),
            Err(reason) => {
                self.log(ops, Event::Malformed { realm: caller, reason });
                Err(Error::MalformedRequest { reason })
            }
        }
    }

    /// `realm` died: close its connections, free the slots its closed connections reserved,
    /// remove its services (closing every connection to them) and refuse its requests until
    /// [`Broker::realm_started`]. Run the ops before tearing down the realm's CSpace. A realm
    /// already dead (or unknown) yields nothing.
    pub fn realm_died(&mut self, realm: RealmId, ops: &mut dyn OpSink) {
        match self.realm_mut(realm) {
            Some(state) if state.alive => state.alive = false,
            _ => return,
        }
        self.close_connections_of(realm, ops);
        self.release_reserved_slots_of(realm);
        self.remove_services_of(realm, ops);
        self.log(ops, Event::RealmDied { realm });
    }

    /// Whether `realm`, which died, is being restarted by the memory manager: until it
    /// registers a service again, clients of its closed connections hear
    /// `ServiceRestarting` rather than that the service is gone.
    pub fn set_restarting(&mut self, realm: RealmId, restarting: bool) -> Result<(), UnknownRealm> {
        let state = self.realm_mut(realm).ok_or(UnknownRealm(realm))?;
        state.restarting = restarting;
        Ok(())
    }

    /// `realm` was started again (with a fresh CSpace, the same broker slot range).
    pub fn realm_started(&mut self, realm: RealmId) -> Result<(), UnknownRealm> {
        let state = self.realm_mut(realm).ok_or(UnknownRealm(realm))?;
        state.alive = true;
        Ok(())
    }

    /// Removes the service `service` as if its realm had died: every connection to it is
    /// closed, and its endpoint destroyed if no other service shares it. For the memory
    /// manager when creating its endpoint failed. Nothing happens if there is no such
    /// service.
    pub fn withdraw_service(&mut self, service: &Name, ops: &mut dyn OpSink) {
        self.remove_service(service, ops);
    }

    /// The registry (read only).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The policy (read only).
    pub fn policy(&self) -> &Policy<'c> {
        &self.policy
    }

    /// The name of `realm` (its `[[realm]] name`), if the broker knows it.
    pub fn realm_name(&self, realm: RealmId) -> Option<&'c str> {
        Some(self.config()?.realm(realm)?.name.as_str())
    }

    /// The realm called `name`, if the broker knows it.
    pub fn realm_id(&self, name: &Name) -> Option<RealmId> {
        self.config()?.find_realm(name.as_str())
    }

    pub fn is_alive(&self, realm: RealmId) -> bool {
        self.realm(realm).is_some_and(|r| r.alive)
    }

    /// How many of `realm`'s broker slots are taken: those that hold a cap the broker placed,
    /// and the (empty) client slots that closed connections reserve.
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

    /// Hands `event` to the sink as a log line.
    fn log(&self, ops: &mut dyn OpSink, event: Event) {
        ops.log(self.log_line(&event));
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
