//! What the first spawn into a thread index of a realm makes (`ipc::realm`, `Spawn`), so
//! that it is checked against the realm's budget and slot range before anything is made.
//!
//! A spawned thread `t` (1 to 15) needs, on the kernel: the page tables its stride of the
//! address space does not have yet (`ipc::abi::thread`: one page table covers every thread's
//! pages), [`ipc::abi::thread::THREAD_STACK_PAGES`] stack pages and its IPC buffer page (4 KiB
//! frames), its TCB (2 KiB on x86_64) and its inbox endpoint (16 bytes). The realm's first
//! spawn also makes the main thread's inbox endpoint. Each object's cap takes a slot of the
//! realm's range of the memory manager's CNode, and the thread's parked reply (a `Sleep`'s or
//! a `Join`'s, `CNode_SaveCaller`) one more. The caps in the realm's own CNode (its broker,
//! fault and inbox caps, `ipc::abi::slot::thread`) take no slot of the range.
//!
//! They are made in this order, largest first, so that the kernel's alignment wastes the
//! least of the budget, and [`memory::Budget::fits`](crate::memory::Budget::fits) tries the
//! same placements on a copy first. They are kept for the next thread in that index until
//! the realm stops: a later spawn into it makes nothing.

use sel4::cap::ObjectType;

use crate::memory::object_bits;

/// The objects of one thread index, and the main thread's inbox when the realm has none yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexObjects {
    /// Paging structures the index's pages need that the realm does not have yet (the
    /// paging plan's count, `paging_plan::PagingPlan::new_tables`).
    pub tables: u64,
    /// Whether the main thread's inbox endpoint must be made too (the realm's first spawn).
    pub main_inbox: bool,
}

/// The frames of a thread index: its stack and its IPC buffer.
pub const FRAMES: u64 = ipc::abi::thread::THREAD_STACK_PAGES + 1;

impl IndexObjects {
    /// The sizes (`2^bits` bytes) of the objects, in the order they are made: paging
    /// structures, the stack, the IPC buffer, the TCB, the inbox endpoint, then the main
    /// thread's inbox if it is made now.
    pub fn object_bits(&self) -> impl Iterator<Item = u8> + use<> {
        let tables = core::iter::repeat_n(object_bits(ObjectType::PageTable), self.tables as usize);
        let frames = core::iter::repeat_n(object_bits(ObjectType::Frame), FRAMES as usize);
        let endpoints = 1 + usize::from(self.main_inbox);
        tables
            .chain(frames)
            .chain(core::iter::once(object_bits(ObjectType::Tcb)))
            .chain(core::iter::repeat_n(object_bits(ObjectType::Endpoint), endpoints))
    }

    /// The slots of the realm's range they take: one per object, and the parked reply's.
    pub fn slots(&self) -> u64 {
        self.tables + FRAMES + 1 + 1 + u64::from(self.main_inbox) + 1
    }

    /// Their size in bytes, alignment aside (what `Usage` shows leaving the budget).
    pub fn bytes(&self) -> u64 {
        self.object_bits().map(|bits| 1u64 << bits).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Block, Budget, MemoryError};

    #[test]
    fn an_index_is_its_stack_its_buffer_its_tcb_and_its_inbox() {
        let first = IndexObjects { tables: 1, main_inbox: true };
        let bits: std::vec::Vec<u8> = first.object_bits().collect();
        // A page table, 16 stack pages, the IPC buffer, the TCB, two inboxes.
        assert_eq!(bits.len(), 1 + 16 + 1 + 1 + 2);
        assert!(bits[..18].iter().all(|&bits| bits == 12));
        assert_eq!(bits[18], 11);
        assert_eq!(&bits[19..], &[4, 4]);
        assert_eq!(first.slots(), 1 + 17 + 1 + 2 + 1);
        assert_eq!(first.bytes(), 18 * 4096 + 2048 + 32);

        let later = IndexObjects { tables: 0, main_inbox: false };
        assert_eq!(later.object_bits().count(), 17 + 1 + 1);
        assert_eq!(later.slots(), 17 + 1 + 1 + 1);
    }

    #[test]
    fn the_budget_check_is_exact_for_the_order_they_are_made_in() {
        // 76 KiB of whole pages plus a 4 KiB block: 20 pages in all. An index takes 18 pages
        // and 2 KiB + 32 bytes, which the 19th page holds after the frames.
        let mut budget = Budget::default();
        budget.add_block(Block { cptr: 1, size_bits: 16 }).unwrap();
        budget.add_block(Block { cptr: 2, size_bits: 14 }).unwrap();
        let first = IndexObjects { tables: 1, main_inbox: true };
        assert_eq!(budget.fits(first.object_bits()), Ok(()));
        for bits in first.object_bits() {
            budget.allocate(bits).unwrap();
        }
        // 20 pages - 19 used: a second index no longer fits, even without a table.
        let second = IndexObjects { tables: 0, main_inbox: false };
        assert!(matches!(
            budget.fits(second.object_bits()),
            Err(MemoryError::BudgetExhausted { size_bits: 12, .. })
        ));
    }
}
