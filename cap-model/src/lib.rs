//! Test support (host only, `std`): a small model of seL4's capability derivation tree (CDT)
//! that runs the broker's [`KernelOp`]s, and an [`OpSink`] that runs them against it.
//!
//! Shared by the broker's and the supervisor's property tests, so both check the same
//! kernel. The model has CSpaces ([`Space`]) made of slots, each slot holding a node of the
//! derivation tree (an object, a badge, rights and the node it was derived from), and the
//! operations the broker asks for: retype an endpoint, mint, copy, revoke, delete,
//! CancelBadgedSends. Each refuses what seL4 refuses (a copy into an occupied slot, a mint of
//! a badged cap, a revoke of an empty slot, CancelBadgedSends on a cap that is not badged
//! with all rights) with a sentence saying why.
//!
//! Use it only as a dev-dependency.

#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use broker::{Event, KernelOp, LogLine, OpSink, RealmSlot, Rights};
use service_registry::CapSlot;

/// A CSpace: the memory manager's (where the broker's slots are) or a realm's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Space {
    Broker,
    Realm(u8),
}

/// A slot: its CSpace and its index there.
pub type Address = (Space, u64);

/// A node of the derivation tree: a cap to `object` with `badge` and `rights`, derived from
/// node `parent` (none for an original cap, made by a retype).
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub object: u32,
    pub badge: u64,
    pub rights: Rights,
    pub parent: Option<u32>,
}

/// The model of the kernel's caps: which node each slot holds, and the nodes.
#[derive(Default, Debug)]
pub struct Kernel {
    pub slots: HashMap<Address, u32>,
    pub nodes: HashMap<u32, Node>,
    next_node: u32,
    next_object: u32,
}

/// The rights of a copy made with `b` from a cap with `a`.
pub fn intersect(a: Rights, b: Rights) -> Rights {
    Rights { read: a.read && b.read, write: a.write && b.write, grant: a.grant && b.grant }
}

impl Kernel {
    /// The node in slot `at`, with its id.
    pub fn cap(&self, at: Address) -> Option<(u32, Node)> {
        let id = *self.slots.get(&at)?;
        Some((id, self.nodes[&id]))
    }

    /// Puts a new node into the empty slot `at`; refuses an occupied slot.
    pub fn insert(&mut self, at: Address, node: Node) -> Result<(), String> {
        if self.slots.contains_key(&at) {
            return Err(format!("slot {at:?} is occupied"));
        }
        self.next_node += 1;
        self.nodes.insert(self.next_node, node);
        self.slots.insert(at, self.next_node);
        Ok(())
    }

    /// CNode Copy (`badge` none) or Mint (`badge` some) from `from` into `into`.
    pub fn derive(
        &mut self,
        from: Address,
        into: Address,
        badge: Option<u64>,
        rights: Rights,
    ) -> Result<(), String> {
        let (parent, source) = self.cap(from).ok_or(format!("copy from empty slot {from:?}"))?;
        let badge = match badge {
            Some(_) if source.badge != 0 => return Err(format!("mint of badged cap {from:?}")),
            Some(badge) => badge,
            None => source.badge,
        };
        self.insert(
            into,
            Node {
                object: source.object,
                badge,
                rights: intersect(source.rights, rights),
                parent: Some(parent),
            },
        )
    }

    /// Whether node `node` was derived, directly or not, from node `ancestor`.
    pub fn descends_from(&self, mut node: u32, ancestor: u32) -> bool {
        while let Some(parent) = self.nodes[&node].parent {
            if parent == ancestor {
                return true;
            }
            node = parent;
        }
        false
    }

    /// seL4 Delete: the cap goes, its children stay (under its parent).
    pub fn delete(&mut self, at: Address) {
        if let Some(id) = self.slots.remove(&at) {
            let gone = self.nodes.remove(&id).unwrap();
            for node in self.nodes.values_mut() {
                if node.parent == Some(id) {
                    node.parent = gone.parent;
                }
            }
        }
    }

    /// seL4 Revoke: every cap derived from the one in `at` goes; it stays.
    pub fn revoke(&mut self, at: Address) -> Result<(), String> {
        let (id, _) = self.cap(at).ok_or(format!("revoke of empty slot {at:?}"))?;
        let doomed: HashSet<u32> =
            self.nodes.keys().copied().filter(|&n| self.descends_from(n, id)).collect();
        self.slots.retain(|_, node| !doomed.contains(node));
        self.nodes.retain(|node, _| !doomed.contains(node));
        Ok(())
    }

    /// Runs one of the broker's operations, or says why seL4 would refuse it.
    pub fn apply(&mut self, op: &KernelOp) -> Result<(), String> {
        let broker = |slot: CapSlot| (Space::Broker, slot.0);
        let realm = |slot: RealmSlot| (Space::Realm(slot.realm.0), slot.slot.0);
        match *op {
            KernelOp::CreateEndpoint { slot } => {
                self.next_object += 1;
                let node =
                    Node { object: self.next_object, badge: 0, rights: Rights::ALL, parent: None };
                self.insert(broker(slot), node)
            }
            KernelOp::Mint { from, into, badge, rights } => {
                self.derive(broker(from), broker(into), Some(badge.value()), rights)
            }
            KernelOp::CopyToRealm { from, into, rights } => {
                self.derive(broker(from), realm(into), None, rights)
            }
            KernelOp::Revoke { slot } => self.revoke(broker(slot)),
            KernelOp::CancelBadgedSends { slot } => match self.cap(broker(slot)) {
                Some((_, node)) if node.badge != 0 && node.rights == Rights::ALL => Ok(()),
                other => Err(format!("CancelBadgedSends on {other:?}")),
            },
            KernelOp::Delete { slot } => match self.cap(broker(slot)) {
                Some(_) => {
                    self.delete(broker(slot));
                    Ok(())
                }
                None => Err(format!("delete of empty broker slot {slot:?}")),
            },
            KernelOp::DeleteInRealm { slot } => {
                self.delete(realm(slot));
                Ok(())
            }
        }
    }

    /// The caps in `space`, by slot.
    pub fn caps_in(&self, space: Space) -> Vec<(u64, Node)> {
        let mut caps: Vec<_> = self
            .slots
            .iter()
            .filter(|((s, _), _)| *s == space)
            .map(|((_, slot), id)| (*slot, self.nodes[id]))
            .collect();
        caps.sort_by_key(|(slot, _)| *slot);
        caps
    }

    /// Whether any cap to `object` is left (once the last one is deleted, seL4 cancels every
    /// IPC on the object).
    pub fn object_exists(&self, object: u32) -> bool {
        self.nodes.values().any(|node| node.object == object)
    }

    /// The memory manager tears down a dead realm's CSpace.
    pub fn destroy(&mut self, space: Space) {
        let addresses: Vec<Address> =
            self.slots.keys().copied().filter(|(s, _)| *s == space).collect();
        for at in addresses {
            self.delete(at);
        }
    }
}

/// A broker sink for tests: runs every op against the kernel model at once, and records the
/// ops, the events, and the first op the model refused.
pub struct Output<'k> {
    pub kernel: &'k mut Kernel,
    ops: Vec<KernelOp>,
    events: Vec<Event>,
    refused: Option<String>,
}

impl<'k> Output<'k> {
    pub fn new(kernel: &'k mut Kernel) -> Self {
        Self { kernel, ops: Vec::new(), events: Vec::new(), refused: None }
    }

    /// What the call produced, or the kernel model's first refusal.
    pub fn finish(self) -> Result<Record, String> {
        match self.refused {
            Some(problem) => Err(problem),
            None => Ok(Record { ops: self.ops, events: self.events }),
        }
    }
}

impl OpSink for Output<'_> {
    fn run(&mut self, op: KernelOp) {
        if let Err(problem) = self.kernel.apply(&op)
            && self.refused.is_none()
        {
            self.refused = Some(format!("kernel refused {op:?}: {problem}"));
        }
        self.ops.push(op);
    }

    fn log(&mut self, line: LogLine<'_>) {
        // Every event can be formatted.
        assert!(!line.to_string().is_empty());
        self.events.push(*line.event());
    }
}

/// What one broker call produced.
pub struct Record {
    pub ops: Vec<KernelOp>,
    pub events: Vec<Event>,
}

impl Record {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.events.is_empty()
    }
}
