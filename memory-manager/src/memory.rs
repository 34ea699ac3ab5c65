//! Untyped memory: the RAM the kernel handed over at boot, the blocks carved from it, and
//! each realm's budget.
//!
//! Every realm gets its memory as a few untyped **blocks** (power-of-two child untypeds),
//! and every kernel object of the realm (CNode, paging structures, frames, TCB) is retyped
//! from those blocks. That makes the budget a hard limit, and it makes reclaiming exact:
//! revoking a block destroys everything made from it, and the block goes back to the pool.
//!
//! The pool carves blocks from the boot untypeds the way a buddy allocator would: the kernel
//! places each retyped object at the next offset aligned to its size, so an alignment gap is
//! itself carved into naturally aligned blocks that go to the spare list. No byte is lost to
//! alignment, so free memory is exactly what it was once every realm has been stopped.
//!
//! Nothing here calls the kernel: [`MemoryPool::take`] returns a plan that the root task
//! carries out with `Untyped_Retype`, in order.

use heapless::Vec;
use sel4::CPtr;

/// The smallest block: one page.
pub const MIN_BLOCK_BITS: u8 = 12;
/// The largest block a realm budget is made of (1 GiB).
pub const MAX_BLOCK_BITS: u8 = 30;
/// Boot untypeds tracked (the kernel reports at most 230).
pub const MAX_BOOT_UNTYPEDS: usize = 256;
/// Spare blocks tracked.
pub const MAX_SPARE_BLOCKS: usize = 512;
/// Blocks one realm budget is made of.
pub const MAX_BUDGET_BLOCKS: usize = 8;
/// Blocks one carve can produce (gap blocks plus the requested one).
pub const MAX_CARVE_BLOCKS: usize = 2 * MAX_BLOCK_BITS as usize;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryError {
    /// No free untyped memory can hold a block of `2^size_bits` bytes.
    OutOfMemory { size_bits: u8 },
    /// A block size outside `MIN_BLOCK_BITS..=MAX_BLOCK_BITS`.
    BadBlockSize { size_bits: u8 },
    /// The spare list is full: the block's memory cannot be tracked.
    TooManySpareBlocks,
    /// A budget is made of at most [`MAX_BUDGET_BLOCKS`] blocks.
    TooManyBudgetBlocks,
    /// The realm's budget has no room for an object of `2^size_bits` bytes.
    BudgetExhausted { size_bits: u8, free_bytes: u64 },
}

impl core::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MemoryError::OutOfMemory { size_bits } => write!(
                f,
                "no free RAM can hold a block of {}: what is left is smaller or cut in smaller \
                 pieces",
                BlockSize(size_bits)
            ),
            MemoryError::BadBlockSize { size_bits } => write!(
                f,
                "a block of {} is outside the block sizes {} to {}",
                BlockSize(size_bits),
                BlockSize(MIN_BLOCK_BITS),
                BlockSize(MAX_BLOCK_BITS)
            ),
            MemoryError::TooManySpareBlocks => write!(
                f,
                "the memory manager's list of spare blocks is full ({MAX_SPARE_BLOCKS} blocks)"
            ),
            MemoryError::TooManyBudgetBlocks => {
                write!(f, "a memory budget is made of at most {MAX_BUDGET_BLOCKS} blocks")
            }
            MemoryError::BudgetExhausted { size_bits, free_bytes } => write!(
                f,
                "the realm's memory budget has no room for {} more ({} of it free)",
                BlockSize(size_bits),
                Bytes(free_bytes)
            ),
        }
    }
}

/// `2^bits` bytes for messages (`16 MiB`, `4 KiB`, `2^70 bytes`): never overflows, whatever
/// `bits` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSize(pub u8);

impl core::fmt::Display for BlockSize {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match 1u64.checked_shl(u32::from(self.0)) {
            Some(bytes) => Bytes(bytes).fmt(f),
            None => write!(f, "2^{} bytes", self.0),
        }
    }
}

/// A number of bytes for messages: in the largest of GiB, MiB and KiB that divides it
/// exactly, else in bytes (`1536 KiB`, `4097 bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl core::fmt::Display for Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let bytes = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if bytes != 0 && bytes.trailing_zeros() >= shift {
                return write!(f, "{} {unit}", bytes >> shift);
            }
        }
        write!(f, "{bytes} bytes")
    }
}

/// An untyped capability and the kernel's placement state for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untyped {
    pub cptr: CPtr,
    pub size_bits: u8,
    /// Where the next object goes, while the untyped has children.
    next_offset: u64,
    /// Whether some object made from it is alive. The kernel starts again from offset 0
    /// when an untyped has no children.
    has_children: bool,
}

impl Untyped {
    pub const fn new(cptr: CPtr, size_bits: u8) -> Self {
        Self { cptr, size_bits, next_offset: 0, has_children: false }
    }

    fn start(&self) -> u64 {
        if self.has_children { self.next_offset } else { 0 }
    }

    /// Where the kernel would place one object of `2^object_bits` bytes, if it fits.
    fn place(&self, object_bits: u8) -> Option<u64> {
        let size = 1u64.checked_shl(object_bits.into())?;
        let offset = self.start().checked_next_multiple_of(size)?;
        (offset.checked_add(size)? <= 1u64 << self.size_bits).then_some(offset)
    }

    /// Records that an object of `2^object_bits` bytes was placed at `offset`.
    fn commit(&mut self, offset: u64, object_bits: u8) {
        self.next_offset = offset + (1 << object_bits);
        self.has_children = true;
    }

    /// Bytes not yet handed out.
    pub fn free_bytes(&self) -> u64 {
        (1u64 << self.size_bits) - self.start()
    }

    /// The kernel destroyed every object made from this untyped (it was revoked).
    pub fn revoked(&mut self) {
        self.has_children = false;
        self.next_offset = 0;
    }
}

/// A child untyped made by the memory manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub cptr: CPtr,
    pub size_bits: u8,
}

/// How to obtain a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A spare block, ready to use.
    Spare(Block),
    /// Retype, from `parent`, one untyped of each size in `blocks`, in order. All but the
    /// last fill an alignment gap and go to [`MemoryPool::add_spare`]; the last is the block
    /// asked for.
    Carve { parent: CPtr, blocks: Vec<u8, MAX_CARVE_BLOCKS> },
}

/// All untyped RAM the memory manager has not given to a realm.
pub struct MemoryPool {
    boot: Vec<Untyped, MAX_BOOT_UNTYPEDS>,
    spare: Vec<Block, MAX_SPARE_BLOCKS>,
}

impl MemoryPool {
    /// Tracks the RAM untypeds among `untypeds` (device memory is left alone). Beyond
    /// [`MAX_BOOT_UNTYPEDS`] the smallest are ignored.
    pub fn new(untypeds: impl IntoIterator<Item = sel4::bootinfo::Untyped>) -> Self {
        let mut boot: Vec<Untyped, MAX_BOOT_UNTYPEDS> = Vec::new();
        for untyped in untypeds.into_iter().filter(|untyped| !untyped.is_device) {
            let entry = Untyped::new(untyped.cptr, untyped.size_bits);
            if boot.push(entry).is_err() {
                let smallest = boot.iter_mut().min_by_key(|tracked| tracked.size_bits);
                if let Some(tracked) =
                    smallest.filter(|tracked| tracked.size_bits < entry.size_bits)
                {
                    *tracked = entry;
                }
            }
        }
        Self { boot, spare: Vec::new() }
    }

    /// Chooses where a block of `2^size_bits` bytes comes from: a spare block of that size,
    /// or a carve from the smallest boot untyped with room (big untypeds stay whole for big
    /// requests, and the first retype from an untyped zeroes it, which costs time).
    pub fn take(&mut self, size_bits: u8) -> Result<Source, MemoryError> {
        if !(MIN_BLOCK_BITS..=MAX_BLOCK_BITS).contains(&size_bits) {
            return Err(MemoryError::BadBlockSize { size_bits });
        }
        if let Some(index) = self.spare.iter().position(|block| block.size_bits == size_bits) {
            return Ok(Source::Spare(self.spare.swap_remove(index)));
        }
        let chosen = self
            .boot
            .iter_mut()
            .filter(|untyped| untyped.place(size_bits).is_some())
            .min_by_key(|untyped| (untyped.size_bits, untyped.cptr));
        let Some(parent) = chosen else {
            return Err(MemoryError::OutOfMemory { size_bits });
        };
        let mut blocks = Vec::new();
        let mut offset = parent.start();
        let target = parent.place(size_bits).unwrap_or(offset);
        // Fill the gap [offset, target) with the largest naturally aligned blocks.
        while offset < target {
            let alignment_bits = offset.trailing_zeros().min(63) as u8;
            let fits_bits = (63 - (target - offset).leading_zeros()) as u8;
            let bits = alignment_bits.min(fits_bits);
            // Gap blocks are at least a page: offsets are page aligned.
            let _ = blocks.push(bits);
            parent.commit(offset, bits);
            offset += 1 << bits;
        }
        let _ = blocks.push(size_bits);
        parent.commit(target, size_bits);
        Ok(Source::Carve { parent: parent.cptr, blocks })
    }

    /// Returns a block to the pool (a carve's gap block, or a stopped realm's block after
    /// the root task revoked it).
    pub fn add_spare(&mut self, block: Block) -> Result<(), MemoryError> {
        self.spare.push(block).map_err(|_| MemoryError::TooManySpareBlocks)
    }

    /// How many spare blocks the pool holds (each in a slot of the memory manager).
    pub fn spare_blocks(&self) -> usize {
        self.spare.len()
    }

    /// Bytes of RAM not given to any realm.
    pub fn free_bytes(&self) -> u64 {
        let boot: u64 = self.boot.iter().map(Untyped::free_bytes).sum();
        let spare: u64 = self.spare.iter().map(|block| 1u64 << block.size_bits).sum();
        boot + spare
    }
}

/// The size of `object` as a power of two, for [`Budget::allocate`] (every object type the
/// memory manager makes is at most 2^47 bytes; a larger one reads as 255 and never fits).
pub fn object_bits(object: sel4::cap::ObjectType) -> u8 {
    u8::try_from(object.size_bits()).unwrap_or(u8::MAX)
}

/// The block sizes a budget of `bytes` is made of: its largest powers of two (at least a
/// page each, at most [`MAX_BUDGET_BLOCKS`] of them). The sum never exceeds `bytes`.
pub fn budget_blocks(bytes: u64) -> Vec<u8, MAX_BUDGET_BLOCKS> {
    let mut sizes = Vec::new();
    let mut rest = bytes.min((1u64 << (MAX_BLOCK_BITS + 1)) - 1);
    while rest >= 1 << MIN_BLOCK_BITS && !sizes.is_full() {
        let bits = (63 - rest.leading_zeros()) as u8;
        let _ = sizes.push(bits);
        rest -= 1 << bits;
    }
    sizes
}

/// A realm's memory: the blocks it was given, and what is made from them.
#[derive(Default)]
pub struct Budget {
    blocks: Vec<Untyped, MAX_BUDGET_BLOCKS>,
}

impl Budget {
    pub fn add_block(&mut self, block: Block) -> Result<(), MemoryError> {
        self.blocks
            .push(Untyped::new(block.cptr, block.size_bits))
            .map_err(|_| MemoryError::TooManyBudgetBlocks)
    }

    /// The untyped to retype one object of `2^object_bits` bytes from: the first block that
    /// has room (blocks are kept largest first).
    pub fn allocate(&mut self, object_bits: u8) -> Result<CPtr, MemoryError> {
        for block in self.blocks.iter_mut() {
            if let Some(offset) = block.place(object_bits) {
                block.commit(offset, object_bits);
                return Ok(block.cptr);
            }
        }
        Err(MemoryError::BudgetExhausted { size_bits: object_bits, free_bytes: self.free_bytes() })
    }

    /// Whether objects of these sizes (`2^bits` bytes each), made in this order, all fit:
    /// the placements [`Budget::allocate`] would make, tried on a copy. A request of several
    /// objects of mixed sizes checks with this before it makes any, so that a refusal leaves
    /// nothing behind. The error is the first object that would not fit, as
    /// [`Budget::allocate`] would report it.
    pub fn fits(&self, objects: impl IntoIterator<Item = u8>) -> Result<(), MemoryError> {
        let mut trial = Budget { blocks: self.blocks.clone() };
        for object_bits in objects {
            trial.allocate(object_bits).map_err(|_| MemoryError::BudgetExhausted {
                size_bits: object_bits,
                free_bytes: self.free_bytes(),
            })?;
        }
        Ok(())
    }

    pub fn total_bytes(&self) -> u64 {
        self.blocks.iter().map(|block| 1u64 << block.size_bits).sum()
    }

    /// How many more objects of `2^object_bits` bytes fit, counting the alignment each
    /// block's next placement needs.
    pub fn room_for(&self, object_bits: u8) -> u64 {
        let size = 1u64 << object_bits;
        let room = |block: &Untyped| {
            block.place(object_bits).map_or(0, |offset| ((1u64 << block.size_bits) - offset) / size)
        };
        self.blocks.iter().map(room).sum()
    }

    pub fn free_bytes(&self) -> u64 {
        self.blocks.iter().map(Untyped::free_bytes).sum()
    }

    /// The blocks, for the root task to revoke; afterwards call [`Budget::into_blocks`].
    pub fn block_cptrs(&self) -> impl Iterator<Item = CPtr> + '_ {
        self.blocks.iter().map(|block| block.cptr)
    }

    /// Ends the budget after its blocks were revoked, handing them back for the pool.
    pub fn into_blocks(self) -> impl Iterator<Item = Block> {
        self.blocks.into_iter().map(|block| Block { cptr: block.cptr, size_bits: block.size_bits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_sizes_as_budgets_count_them() {
        use sel4::cap::ObjectType;
        assert_eq!(object_bits(ObjectType::Frame), 12);
        assert_eq!(object_bits(ObjectType::PageTable), 12);
        assert_eq!(object_bits(ObjectType::Untyped { size_bits: 30 }), 30);
        assert_eq!(object_bits(ObjectType::CNode { slot_bits: 12 }), 12 + 5);
    }

    fn untyped(cptr: CPtr, size_bits: u8) -> sel4::bootinfo::Untyped {
        sel4::bootinfo::Untyped { cptr, paddr: 0, size_bits, is_device: false }
    }

    /// Carries out a carve the way the root task does, with made-up slots.
    fn obtain(pool: &mut MemoryPool, size_bits: u8, next_slot: &mut CPtr) -> Block {
        match pool.take(size_bits).unwrap() {
            Source::Spare(block) => block,
            Source::Carve { blocks, .. } => {
                let (last, gaps) = blocks.split_last().unwrap();
                for &bits in gaps {
                    *next_slot += 1;
                    pool.add_spare(Block { cptr: *next_slot, size_bits: bits }).unwrap();
                }
                *next_slot += 1;
                Block { cptr: *next_slot, size_bits: *last }
            }
        }
    }

    #[test]
    fn device_memory_is_not_ram() {
        let mut device = untyped(5, 20);
        device.is_device = true;
        let pool = MemoryPool::new([untyped(4, 16), device]);
        assert_eq!(pool.free_bytes(), 1 << 16);
    }

    #[test]
    fn takes_from_the_smallest_untyped_that_fits() {
        let mut pool = MemoryPool::new([untyped(10, 27), untyped(11, 16), untyped(12, 20)]);
        assert_eq!(
            pool.take(16).unwrap(),
            Source::Carve { parent: 11, blocks: Vec::from_slice(&[16]).unwrap() }
        );
        assert!(matches!(pool.take(16).unwrap(), Source::Carve { parent: 12, .. }));
        assert_eq!(pool.take(31), Err(MemoryError::BadBlockSize { size_bits: 31 }));
        assert_eq!(pool.take(28), Err(MemoryError::OutOfMemory { size_bits: 28 }));
    }

    #[test]
    fn alignment_gaps_become_spare_blocks_so_no_byte_is_lost() {
        let mut pool = MemoryPool::new([untyped(1, 20)]);
        let before = pool.free_bytes();
        let mut slot = 100;
        let page = obtain(&mut pool, 12, &mut slot);
        // The next 64 KiB block must be 64 KiB aligned: 4 KiB + 8 KiB + 16 KiB + 32 KiB fill the gap.
        match pool.take(16).unwrap() {
            Source::Carve { blocks, .. } => assert_eq!(&blocks[..], &[12, 13, 14, 15, 16]),
            other => panic!("{other:?}"),
        }
        let carved = (1 << 12) + (1 << 16);
        assert_eq!(
            pool.free_bytes(),
            before - carved - ((1 << 12) + (1 << 13) + (1 << 14) + (1 << 15))
        );
        assert_eq!(page.size_bits, 12);
    }

    #[test]
    fn free_memory_is_exactly_back_after_blocks_return() {
        let mut pool = MemoryPool::new([untyped(1, 22), untyped(2, 24)]);
        let before = pool.free_bytes();
        let mut slot = 100;
        let blocks: std::vec::Vec<Block> =
            [12, 16, 13, 20, 12].iter().map(|&bits| obtain(&mut pool, bits, &mut slot)).collect();
        let given: u64 = blocks.iter().map(|block| 1u64 << block.size_bits).sum();
        assert_eq!(pool.free_bytes(), before - given);
        for block in blocks {
            pool.add_spare(block).unwrap();
        }
        assert_eq!(pool.free_bytes(), before);
        // And a block of a size that was returned is reused, not carved again.
        assert!(matches!(pool.take(20).unwrap(), Source::Spare(Block { size_bits: 20, .. })));
    }

    #[test]
    fn budgets_decompose_into_at_most_the_budget() {
        assert_eq!(&budget_blocks(16 << 20)[..], &[24]);
        assert_eq!(&budget_blocks((2 << 20) + (64 << 10) + 100)[..], &[21, 16]);
        assert_eq!(&budget_blocks(4095)[..], &[] as &[u8]);
        let odd = budget_blocks(u64::MAX);
        assert!(odd.len() <= MAX_BUDGET_BLOCKS);
        assert!(odd.iter().map(|&bits| 1u64 << bits).sum::<u64>() < 1 << (MAX_BLOCK_BITS + 1));
    }

    #[test]
    fn a_budget_is_a_hard_limit_and_revoking_it_resets_it() {
        let mut budget = Budget::default();
        budget.add_block(Block { cptr: 7, size_bits: 14 }).unwrap();
        assert_eq!(budget.total_bytes(), 16 << 10);
        // A TCB (2 KiB) then pages: the kernel aligns each to its size.
        assert_eq!(budget.allocate(11), Ok(7));
        for _ in 0..3 {
            assert_eq!(budget.allocate(12), Ok(7));
        }
        assert_eq!(
            budget.allocate(12),
            Err(MemoryError::BudgetExhausted { size_bits: 12, free_bytes: 0 })
        );
        let mut blocks = budget.into_blocks();
        assert_eq!(blocks.next(), Some(Block { cptr: 7, size_bits: 14 }));
    }

    #[test]
    fn room_counts_whole_aligned_objects() {
        let mut budget = Budget::default();
        budget.add_block(Block { cptr: 7, size_bits: 14 }).unwrap();
        budget.add_block(Block { cptr: 8, size_bits: 12 }).unwrap();
        assert_eq!(budget.room_for(12), 5);
        // A 2 KiB TCB leaves the first block room for only three more pages, not 3.5.
        budget.allocate(11).unwrap();
        assert_eq!(budget.room_for(12), 4);
        assert_eq!(budget.room_for(11), 9);
        for _ in 0..4 {
            budget.allocate(12).unwrap();
        }
        assert_eq!(budget.room_for(12), 0);
    }

    #[test]
    fn fits_tries_the_placements_in_order_and_changes_nothing() {
        let mut budget = Budget::default();
        budget.add_block(Block { cptr: 7, size_bits: 14 }).unwrap();
        budget.add_block(Block { cptr: 8, size_bits: 12 }).unwrap();
        // Five pages fit in the two blocks, and a TCB after four of them too.
        assert_eq!(budget.fits([12; 5]), Ok(()));
        assert_eq!(budget.fits([12, 12, 12, 12, 11]), Ok(()));
        // A TCB first costs the first block half a page: five pages no longer fit.
        assert_eq!(
            budget.fits([11, 12, 12, 12, 12, 12]),
            Err(MemoryError::BudgetExhausted { size_bits: 12, free_bytes: 20 << 10 })
        );
        assert_eq!(budget.fits([]), Ok(()));
        // Nothing was placed: the whole budget is still free.
        assert_eq!(budget.free_bytes(), 20 << 10);
        assert_eq!(budget.room_for(12), 5);
        // What fits is exactly what allocate then places.
        let objects = [12, 12, 11, 4, 12, 12];
        assert_eq!(budget.fits(objects), Ok(()));
        for bits in objects {
            assert!(budget.allocate(bits).is_ok());
        }
        // 16 KiB: page, page, TCB, endpoint, (alignment gap), page; 4 KiB: page. Full.
        assert_eq!(budget.free_bytes(), 0);
        assert!(budget.fits([4]).is_err());
    }

    #[test]
    fn errors_are_sentences_with_figures_that_never_overflow() {
        assert_eq!(
            MemoryError::OutOfMemory { size_bits: 30 }.to_string(),
            "no free RAM can hold a block of 1 GiB: what is left is smaller or cut in smaller \
             pieces"
        );
        assert_eq!(
            MemoryError::BudgetExhausted { size_bits: u8::MAX, free_bytes: 12288 }.to_string(),
            "the realm's memory budget has no room for 2^255 bytes more (12 KiB of it free)"
        );
        assert_eq!(
            MemoryError::BadBlockSize { size_bits: 64 }.to_string(),
            "a block of 2^64 bytes is outside the block sizes 4 KiB to 1 GiB"
        );
        assert_eq!(Bytes(4097).to_string(), "4097 bytes");
        assert_eq!(Bytes(0).to_string(), "0 bytes");
        assert_eq!(Bytes(u64::MAX).to_string(), "18446744073709551615 bytes");
        assert_eq!(BlockSize(63).to_string(), "8589934592 GiB");
        for error in [
            MemoryError::TooManySpareBlocks,
            MemoryError::TooManyBudgetBlocks,
            MemoryError::OutOfMemory { size_bits: 0 },
        ] {
            let text = error.to_string();
            assert!(!text.contains('{') && !text.contains("size_bits"), "{text}");
        }
    }

    #[test]
    fn a_revoked_untyped_starts_again_at_zero() {
        let mut block = Untyped::new(3, 13);
        block.commit(block.place(12).unwrap(), 12);
        block.commit(block.place(12).unwrap(), 12);
        assert_eq!(block.place(12), None);
        block.revoked();
        assert_eq!(block.place(13), Some(0));
    }
}
