//! CNode slots and the operations on them.
//!
//! A [`CSlot`] names one slot absolutely: a CNode capability (the root, looked up in the
//! invoker's CSpace), an index resolved from that root, and how many bits of the index to
//! resolve. The slot of CPtr `c` in a CSpace whose root is `root` is `root.slot(c)` (depth
//! 64). Every operation is an invocation of the root CNode; for the two-slot operations the
//! destination is `self` and the source travels as an extra cap plus two words.

use crate::cap::rights::{CapData, Rights};
use crate::cap::{CNode, CPtr, Invocation, WORD_BITS};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::label;

/// A slot, named absolutely: `index` resolved through `root` over `depth` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSlot {
    pub root: CNode,
    pub index: CPtr,
    pub depth: u8,
}

impl CNode {
    /// The slot that CPtr `cptr` names in the CSpace rooted at this CNode.
    pub const fn slot(self, cptr: CPtr) -> CSlot {
        CSlot { root: self, index: cptr, depth: WORD_BITS }
    }
}

impl CSlot {
    pub const fn new(root: CNode, index: CPtr, depth: u8) -> Self {
        Self { root, index, depth }
    }

    /// The CNode `root` itself, as a depth-0 reference (a retype destination, a receive
    /// slot's CNode).
    pub const fn node_itself(root: CNode) -> Self {
        Self { root, index: 0, depth: 0 }
    }

    /// Copy the capability in `source` here, with at most `rights`.
    pub fn copy_from(
        self,
        ipc: &mut IpcBuffer,
        source: CSlot,
        rights: Rights,
    ) -> Result<(), Error> {
        copy(self, source, rights).call_with_buffer(ipc, self.root)?;
        Ok(())
    }

    /// Derive a capability here from `source`, with at most `rights` and with `data` (a badge
    /// for an endpoint or notification, a guard for a CNode).
    pub fn mint_from(
        self,
        ipc: &mut IpcBuffer,
        source: CSlot,
        rights: Rights,
        data: impl Into<CapData>,
    ) -> Result<(), Error> {
        mint(self, source, rights, data.into()).call_with_buffer(ipc, self.root)?;
        Ok(())
    }

    /// Move the capability in `source` here.
    pub fn move_from(self, ipc: &mut IpcBuffer, source: CSlot) -> Result<(), Error> {
        move_(self, source).call_with_buffer(ipc, self.root)?;
        Ok(())
    }

    /// Move the capability in `source` here, setting its badge or guard to `data`.
    pub fn mutate_from(
        self,
        ipc: &mut IpcBuffer,
        source: CSlot,
        data: impl Into<CapData>,
    ) -> Result<(), Error> {
        mutate(self, source, data.into()).call_with_buffer(ipc, self.root)?;
        Ok(())
    }

    /// Empty this slot.
    pub fn delete(self) -> Result<(), Error> {
        on_slot(label::CNODE_DELETE, self).call_in_registers(self.root)?;
        Ok(())
    }

    /// Delete every capability derived from the one in this slot (which stays).
    pub fn revoke(self) -> Result<(), Error> {
        on_slot(label::CNODE_REVOKE, self).call_in_registers(self.root)?;
        Ok(())
    }

    /// Release every thread blocked sending on the endpoint with this slot's badge: each
    /// retries its send (and, should its capability be gone, fails). The slot must hold a
    /// badged endpoint capability with all rights (read, write, grant), or the kernel refuses
    /// with [`Error::IllegalOperation`].
    pub fn cancel_badged_sends(self) -> Result<(), Error> {
        on_slot(label::CNODE_CANCEL_BADGED_SENDS, self).call_in_registers(self.root)?;
        Ok(())
    }

    /// Move the reply capability of the caller's last received Call into this slot.
    pub fn save_caller(self) -> Result<(), Error> {
        on_slot(label::CNODE_SAVE_CALLER, self).call_in_registers(self.root)?;
        Ok(())
    }
}

/// Delete, Revoke, CancelBadgedSends, SaveCaller: the slot's index and depth.
pub const fn on_slot(label: u64, slot: CSlot) -> Invocation<2, 0> {
    Invocation::words(label, [slot.index, slot.depth as u64])
}

/// CNode_Copy: destination index and depth, source index and depth, rights; the source root.
pub const fn copy(dest: CSlot, source: CSlot, rights: Rights) -> Invocation<5, 1> {
    Invocation {
        label: label::CNODE_COPY,
        words: [dest.index, dest.depth as u64, source.index, source.depth as u64, rights.word()],
        caps: [source.root.cptr()],
    }
}

/// CNode_Mint: as Copy, plus the badge or guard.
pub const fn mint(dest: CSlot, source: CSlot, rights: Rights, data: CapData) -> Invocation<6, 1> {
    Invocation {
        label: label::CNODE_MINT,
        words: [
            dest.index,
            dest.depth as u64,
            source.index,
            source.depth as u64,
            rights.word(),
            data.word(),
        ],
        caps: [source.root.cptr()],
    }
}

/// CNode_Move: destination and source, no rights.
pub const fn move_(dest: CSlot, source: CSlot) -> Invocation<4, 1> {
    Invocation {
        label: label::CNODE_MOVE,
        words: [dest.index, dest.depth as u64, source.index, source.depth as u64],
        caps: [source.root.cptr()],
    }
}

/// CNode_Mutate: as Move, plus the badge or guard.
pub const fn mutate(dest: CSlot, source: CSlot, data: CapData) -> Invocation<5, 1> {
    Invocation {
        label: label::CNODE_MUTATE,
        words: [dest.index, dest.depth as u64, source.index, source.depth as u64, data.word()],
        caps: [source.root.cptr()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::rights::{Badge, CNodeGuard};
    use crate::cap::{Cap, init};

    #[test]
    fn slots_resolve_cptrs_over_the_whole_word() {
        let slot = init::CNODE.slot(300);
        assert_eq!(slot, CSlot::new(init::CNODE, 300, 64));
        assert_eq!(CSlot::node_itself(init::CNODE).depth, 0);
    }

    #[test]
    fn mint_arguments() {
        let root = init::CNODE;
        let other: CNode = Cap::from_cptr(77);
        let invocation = mint(
            root.slot(400),
            CSlot::new(other, 5, 10),
            Rights::WRITE,
            Badge::new(0x1234).unwrap().into(),
        );
        assert_eq!(invocation.label, label::CNODE_MINT);
        assert_eq!(invocation.words, [400, 64, 5, 10, 0b001, 0x1234]);
        assert_eq!(invocation.caps, [77]);
        assert_eq!(invocation.info().length(), 6);
        assert_eq!(invocation.info().extra_caps(), 1);
    }

    #[test]
    fn copy_move_mutate_arguments() {
        let root = init::CNODE;
        let copied = copy(root.slot(1), root.slot(2), Rights::READ);
        assert_eq!(copied.label, label::CNODE_COPY);
        assert_eq!(copied.words, [1, 64, 2, 64, 0b010]);
        assert_eq!(copied.caps, [root.cptr()]);

        let moved = move_(root.slot(3), root.slot(4));
        assert_eq!(moved.label, label::CNODE_MOVE);
        assert_eq!(moved.words, [3, 64, 4, 64]);

        let guard = CNodeGuard::new(0, 4).unwrap();
        let mutated = mutate(root.slot(5), root.slot(6), guard.into());
        assert_eq!(mutated.label, label::CNODE_MUTATE);
        assert_eq!(mutated.words, [5, 64, 6, 64, (1 << 31) | (4 << 2)]);
    }

    #[test]
    fn single_slot_operations() {
        let slot = CSlot::new(init::CNODE, 9, 12);
        for label in [
            label::CNODE_DELETE,
            label::CNODE_REVOKE,
            label::CNODE_CANCEL_BADGED_SENDS,
            label::CNODE_SAVE_CALLER,
        ] {
            let invocation = on_slot(label, slot);
            assert_eq!(invocation.label, label);
            assert_eq!(invocation.words, [9, 12]);
        }
    }
}
