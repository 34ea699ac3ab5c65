//! Untyped memory and Untyped_Retype, which makes every other kernel object.

use crate::cap::cnode::CSlot;
use crate::cap::{CNode, CPtr, Invocation, Untyped};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::{label, object_size_bits as bits, object_type};

/// A kind of object to make from untyped memory, with its size where the caller chooses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectType {
    /// Untyped memory of `2^size_bits` bytes.
    Untyped {
        size_bits: u8,
    },
    Tcb,
    Endpoint,
    Notification,
    /// A CNode of `2^slot_bits` slots.
    CNode {
        slot_bits: u8,
    },
    Pml4,
    Pdpt,
    PageDirectory,
    PageTable,
    /// A 4 KiB frame.
    Frame,
    /// A 2 MiB frame.
    LargePage,
}

impl ObjectType {
    /// The kernel's number for this type.
    pub const fn number(self) -> u64 {
        match self {
            ObjectType::Untyped { .. } => object_type::UNTYPED,
            ObjectType::Tcb => object_type::TCB,
            ObjectType::Endpoint => object_type::ENDPOINT,
            ObjectType::Notification => object_type::NOTIFICATION,
            ObjectType::CNode { .. } => object_type::CNODE,
            ObjectType::Pml4 => object_type::X64_PML4,
            ObjectType::Pdpt => object_type::X86_PDPT,
            ObjectType::PageDirectory => object_type::X86_PAGE_DIRECTORY,
            ObjectType::PageTable => object_type::X86_PAGE_TABLE,
            ObjectType::Frame => object_type::X86_4K_PAGE,
            ObjectType::LargePage => object_type::X86_LARGE_PAGE,
        }
    }

    /// The `size_bits` argument of Retype: the untyped size or the CNode's slot bits; 0 for
    /// fixed-size objects (the kernel ignores it).
    pub const fn size_argument(self) -> u64 {
        match self {
            ObjectType::Untyped { size_bits } => size_bits as u64,
            ObjectType::CNode { slot_bits } => slot_bits as u64,
            _ => 0,
        }
    }

    /// Log2 of the memory one object takes (objects are aligned to their size).
    pub const fn size_bits(self) -> u32 {
        match self {
            ObjectType::Untyped { size_bits } => size_bits as u32,
            ObjectType::Tcb => bits::TCB as u32,
            ObjectType::Endpoint => bits::ENDPOINT as u32,
            ObjectType::Notification => bits::NOTIFICATION as u32,
            ObjectType::CNode { slot_bits } => slot_bits as u32 + bits::SLOT as u32,
            ObjectType::Pml4 => bits::PML4 as u32,
            ObjectType::Pdpt => bits::PDPT as u32,
            ObjectType::PageDirectory => bits::PAGE_DIRECTORY as u32,
            ObjectType::PageTable => bits::PAGE_TABLE as u32,
            ObjectType::Frame => bits::PAGE as u32,
            ObjectType::LargePage => bits::LARGE_PAGE as u32,
        }
    }
}

/// Where Retype puts the new capabilities: slots `offset..offset + count` of the CNode that
/// `node` resolves to (with depth 0, the root CNode of `node` itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetypeTarget {
    pub node: CSlot,
    pub offset: CPtr,
}

impl RetypeTarget {
    /// Slots `first..` of CNode `cnode` itself. For the root task's CNode the slot numbers
    /// are the new capabilities' CPtrs.
    pub const fn slots_of(cnode: CNode, first: CPtr) -> Self {
        Self { node: CSlot::node_itself(cnode), offset: first }
    }
}

impl Untyped {
    /// Makes `count` objects of type `object` and puts their capabilities at `target`.
    pub fn retype(
        self,
        ipc: &mut IpcBuffer,
        object: ObjectType,
        target: RetypeTarget,
        count: u64,
    ) -> Result<(), Error> {
        retype(object, target, count).call_with_buffer(ipc, self)?;
        Ok(())
    }
}

/// Untyped_Retype: type, size, destination node index and depth, offset, count; the
/// destination root.
pub const fn retype(object: ObjectType, target: RetypeTarget, count: u64) -> Invocation<6, 1> {
    Invocation {
        label: label::UNTYPED_RETYPE,
        words: [
            object.number(),
            object.size_argument(),
            target.node.index,
            target.node.depth as u64,
            target.offset,
            count,
        ],
        caps: [target.node.root.cptr()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{Cap, init};

    #[test]
    fn retype_arguments() {
        let invocation =
            retype(ObjectType::CNode { slot_bits: 4 }, RetypeTarget::slots_of(init::CNODE, 500), 3);
        assert_eq!(invocation.label, label::UNTYPED_RETYPE);
        assert_eq!(invocation.words, [object_type::CNODE, 4, 0, 0, 500, 3]);
        assert_eq!(invocation.caps, [init::CNODE.cptr()]);

        let nested = RetypeTarget { node: CSlot::new(Cap::from_cptr(8), 0x30, 12), offset: 7 };
        let invocation = retype(ObjectType::Untyped { size_bits: 16 }, nested, 1);
        assert_eq!(invocation.words, [object_type::UNTYPED, 16, 0x30, 12, 7, 1]);
        assert_eq!(invocation.caps, [8]);
    }

    #[test]
    fn object_numbers_and_sizes() {
        assert_eq!(ObjectType::Tcb.number(), 1);
        assert_eq!(ObjectType::Pml4.number(), 6);
        assert_eq!(ObjectType::Frame.number(), 7);
        assert_eq!(ObjectType::PageDirectory.number(), 10);
        assert_eq!(ObjectType::Tcb.size_argument(), 0);
        assert_eq!(ObjectType::Tcb.size_bits(), 11);
        assert_eq!(ObjectType::Endpoint.size_bits(), 4);
        assert_eq!(ObjectType::CNode { slot_bits: 4 }.size_bits(), 9);
        assert_eq!(ObjectType::LargePage.size_bits(), 21);
        assert_eq!(ObjectType::Untyped { size_bits: 20 }.size_bits(), 20);
    }
}
