//! The broker inside the memory manager: its configuration taken from the system
//! description, and the kernel operations it decides on carried out against seL4.
//!
//! The broker itself (`broker` crate) never touches the kernel; this module is the only
//! place where its decisions become capabilities.

use crate::mm_println;
use ::console::Class;
use broker::{Broker, KernelOp, Layout, LogLine, OpSink, SlotRange};
use heapless::Vec;
use ipc::abi;
use sel4::cap::ObjectType;

use system_config::CheckedConfig;
use vocabulary::limits::MAX_REALMS;

use crate::realm::{Realm, RealmError};
use crate::resources::{RootResources, own_slot};

/// Slots of a realm's CNode where the broker places caps (its services' endpoints and its
/// connections): from `abi::slot::FIRST_FREE` to the end of the CNode.
pub const REALM_BROKER_SLOTS: u16 = (1 << abi::REALM_CNODE_BITS) - abi::slot::FIRST_FREE as u16;
/// Slots of the memory manager's CNode for the broker's own caps: enough for every service
/// and connection the broker can hold.
pub const BROKER_SLOTS: u16 = broker::BROKER_SLOTS_NEEDED as u16;

/// Configures `broker` (held in a static: it is large) with `config`, which only the rule
/// engine of `system-config` makes (at boot, `decode`) and which the memory manager keeps in
/// a static: the broker borrows it, nothing is copied or checked again. Every realm's
/// CNode gives the broker the same slots ([`REALM_BROKER_SLOTS`] from
/// `abi::slot::FIRST_FREE`); the broker's own caps go in the memory manager's slots from
/// `first_slot` on. The error is the broker's refusal of that layout.
pub fn configure_broker(
    broker: &mut Broker<'static>,
    config: &'static CheckedConfig,
    first_slot: u64,
) -> Result<(), broker::ConfigError> {
    let range = SlotRange { start: abi::slot::FIRST_FREE, count: REALM_BROKER_SLOTS };
    // One range per realm: a checked configuration has at most MAX_REALMS realms.
    let realm_slots: Vec<SlotRange, MAX_REALMS> = config.realms.iter().map(|_| range).collect();
    let layout = Layout {
        realm_slots: &realm_slots,
        broker_slots: SlotRange { start: first_slot, count: BROKER_SLOTS },
    };
    broker.configure(config, &layout)
}

/// Carries out the broker's operations as it produces them, and logs its events. A failed
/// operation is logged and the rest go on: the broker's tables already say what should
/// exist, and the next revoke of the same caps cleans up.
pub struct Executor<'k, 'a> {
    pub kernel: &'k mut RootResources<'a>,
    pub realms: &'k mut [Realm],
    /// The realm whose request is being carried out: a service endpoint is made from its
    /// budget (so it is charged to it, and destroyed with it).
    pub caller: Option<usize>,
    /// The first operation that failed, if any.
    pub failure: Option<RealmError>,
    /// Whether making a service endpoint failed: the broker must then withdraw the service.
    pub endpoint_failed: bool,
}

impl OpSink for Executor<'_, '_> {
    fn run(&mut self, op: KernelOp) {
        let creates_endpoint = matches!(op, KernelOp::CreateEndpoint { .. });
        if let Err(error) = self.execute(op) {
            mm_println!(Class::System, "memory manager: a broker operation failed: {error}");
            self.failure.get_or_insert(error);
            self.endpoint_failed |= creates_endpoint;
        }
    }

    /// Prints the broker's decision: its sentence and its event line. Refusals and warnings
    /// (priority inversion) always print; refusals are summarised when they repeat (see
    /// `console::refusal`).
    fn log(&mut self, line: LogLine<'_>) {
        let class =
            if line.is_refusal() || line.is_warning() { Class::Denial } else { Class::Decision };
        let shown = match line.event() {
            broker::Event::Denied { service, action, rule, .. } => {
                let refusal = refusal_of(&line);
                refusal.is_none_or(|refusal| {
                    crate::console::refusal(
                        refusal,
                        format_args!("{action} of service \"{service}\" denied ({})", rule.name()),
                    )
                })
            }
            broker::Event::Malformed { reason, .. } => refusal_of(&line).is_none_or(|refusal| {
                crate::console::refusal(refusal, format_args!("a malformed request ({reason})"))
            }),
            broker::Event::Unavailable { service, state, .. } => {
                refusal_of(&line).is_none_or(|refusal| {
                    crate::console::refusal(
                        refusal,
                        format_args!("connect of service \"{service}\": {}", state.error()),
                    )
                })
            }
            broker::Event::InterfaceMismatch { service, .. } => {
                refusal_of(&line).is_none_or(|refusal| {
                    crate::console::refusal(
                        refusal,
                        format_args!("connect of service \"{service}\": interface mismatch"),
                    )
                })
            }
            broker::Event::DeclaredInterfaceMismatch { service, .. } => refusal_of(&line)
                .is_none_or(|refusal| {
                    crate::console::refusal(
                        refusal,
                        format_args!("register of service \"{service}\": interface mismatch"),
                    )
                }),
            _ => true,
        };
        if !shown {
            return;
        }
        mm_println!(class, "broker: {line}");
        crate::console::broker_event(class, &line);
    }
}

impl<'k, 'a> Executor<'k, 'a> {
    /// An executor for the operations of a request of realm `caller` (or of none).
    pub fn new(
        kernel: &'k mut RootResources<'a>,
        realms: &'k mut [Realm],
        caller: Option<usize>,
    ) -> Self {
        Self { kernel, realms, caller, failure: None, endpoint_failed: false }
    }

    fn realm(&self, id: ipc::RealmId) -> Option<&Realm> {
        self.realms.iter().find(|realm| realm.id.0 == id.0 && realm.built)
    }

    fn execute(&mut self, op: KernelOp) -> Result<(), RealmError> {
        let kernel = &mut *self.kernel;
        let failed = |step| move |error| RealmError::Kernel { step, error };
        match op {
            KernelOp::CreateEndpoint { slot } => {
                match self.caller.and_then(|index| self.realms.get_mut(index)) {
                    Some(realm) => realm.make_into(kernel, ObjectType::Endpoint, slot.0),
                    None => Err(RealmError::Kernel {
                        step: "making an endpoint for no realm",
                        error: sel4::Error::InvalidArgument,
                    }),
                }
            }
            KernelOp::Mint { from, into, badge: minted, rights: allowed } => own_slot(into.0)
                .mint_from(kernel.ipc, own_slot(from.0), allowed, sel4::cap::Badge::from(minted))
                .map_err(failed("minting a connection")),
            KernelOp::CopyToRealm { from, into, rights: allowed } => match self.realm(into.realm) {
                Some(realm) => realm
                    .slot(into.slot.0)
                    .copy_from(self.kernel.ipc, own_slot(from.0), allowed)
                    .map_err(failed("copying a cap into a realm")),
                None => Ok(()),
            },
            KernelOp::Revoke { slot } => own_slot(slot.0).revoke().map_err(failed("revoking")),
            KernelOp::CancelBadgedSends { slot } => {
                own_slot(slot.0).cancel_badged_sends().map_err(failed("cancelling badged sends"))
            }
            KernelOp::Delete { slot } => own_slot(slot.0).delete().map_err(failed("deleting")),
            KernelOp::DeleteInRealm { slot } => match self.realm(slot.realm) {
                Some(realm) => {
                    realm.slot(slot.slot.0).delete().map_err(failed("deleting in a realm"))
                }
                None => Ok(()),
            },
        }
    }
}

/// A refusal of the broker as the console tells repeats apart: the realm, what it asked,
/// about which service (for a malformed request, what was wrong; for a connect that found
/// nothing to connect to, with its state as the rule; for an interface mismatch, 0 for a
/// connect and 1 for a register) and the rule. `None` for other events.
fn refusal_of<'l>(line: &'l LogLine<'_>) -> Option<crate::console::Refusal<'l>> {
    match line.event() {
        broker::Event::Denied { realm, service, rule, .. } => Some(crate::console::Refusal {
            realm: *realm,
            kind: line.kind(),
            subject: service.as_str(),
            rule: rule.code() as u8,
        }),
        broker::Event::Unavailable { realm, service, state } => Some(crate::console::Refusal {
            realm: *realm,
            kind: line.kind(),
            subject: service.as_str(),
            rule: *state as u8,
        }),
        // A connect (rule 0) or a register (rule 1) refused for its interface.
        broker::Event::InterfaceMismatch { client, service, .. } => Some(crate::console::Refusal {
            realm: *client,
            kind: line.kind(),
            subject: service.as_str(),
            rule: 0,
        }),
        broker::Event::DeclaredInterfaceMismatch { realm, service, .. } => {
            Some(crate::console::Refusal {
                realm: *realm,
                kind: line.kind(),
                subject: service.as_str(),
                rule: 1,
            })
        }
        broker::Event::Malformed { realm, reason } => Some(crate::console::Refusal {
            realm: *realm,
            kind: line.kind(),
            subject: reason.name(),
            rule: 0,
        }),
        _ => None,
    }
}
