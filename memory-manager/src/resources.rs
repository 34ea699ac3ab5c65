//! What the memory manager owns and lends to the code that builds and serves realms
//! ([`RootResources`]), and the kernel side of its own memory: carrying out the untyped
//! pool's carving plans ([`take_block`]; the plans are `memory_manager::memory`'s, tested on
//! the host), making objects from a budget into a slot, and the memory manager's own objects
//! (its endpoint, the scratch window's paging structures).
//!
//! Every slot here is a slot of the memory manager's root CNode, handed out by the one slot
//! allocator (`slots::RootSlots`) over the free range the kernel reported at boot.

use memory_manager::memory::{Block, Budget, MemoryError, MemoryPool, Source, object_bits};
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{
    CPtr, CSlot, Cap, Endpoint, ObjectType, PageDirectory, PageTable, RetypeTarget, Untyped, init,
};
use sel4::ipc_buffer::IpcBuffer;
use sel4_root_task::scratch::ScratchWindow;
use slots::RootSlots;

use crate::realm::RealmError;

/// What the memory manager owns and lends to realm building and serving: its IPC buffer,
/// its own memory, the pool of untyped RAM, the free slots of its root CNode, the scratch
/// window, its endpoint, and the clock's frequency. One exists, made in `main`.
pub struct RootResources<'a> {
    /// The memory manager's IPC buffer (every invocation with more than four words or a cap
    /// goes through it).
    pub ipc: &'a mut IpcBuffer,
    /// Memory for the memory manager's own objects (its endpoint, the scratch window's
    /// tables, the console thread, the timer's notification).
    pub own: Budget,
    /// The untyped RAM not given to any realm.
    pub pool: &'a mut MemoryPool,
    /// The free range of the root CNode (below the broker's and the realms' fixed ranges).
    pub slots: &'a mut RootSlots,
    /// Where the memory manager maps a frame for a moment to write into it.
    pub window: &'a mut ScratchWindow,
    /// The memory manager's endpoint (the original, unbadged cap).
    pub endpoint: Endpoint,
    /// The time-stamp counter's frequency in MHz (seL4's boot info: the kernel measured it
    /// against the PIT at boot).
    pub tsc_mhz: u64,
}

/// Tags a kernel result with the step it belongs to.
pub trait Step<T> {
    fn step(self, step: &'static str) -> Result<T, RealmError>;
}

impl<T> Step<T> for Result<T, sel4::Error> {
    fn step(self, step: &'static str) -> Result<T, RealmError> {
        self.map_err(|error| RealmError::Kernel { step, error })
    }
}

/// Slot `cptr` of the memory manager's own CNode.
pub fn own_slot(cptr: CPtr) -> CSlot {
    init::CNODE.slot(cptr)
}

/// Obtains a block of `2^size_bits` bytes from the pool: a spare one, or one carved from a
/// boot untyped as the pool plans it (each carved block in a new slot of the root CNode; the
/// alignment gap's blocks go back to the pool as spares).
pub fn take_block(root: &mut RootResources<'_>, size_bits: u8) -> Result<Block, RealmError> {
    match root.pool.take(size_bits)? {
        Source::Spare(block) => Ok(block),
        Source::Carve { parent, blocks } => {
            let parent: Untyped = Cap::from_cptr(parent);
            let mut last = None;
            for (index, &bits) in blocks.iter().enumerate() {
                let slot = root.slots.allocate()?;
                parent
                    .retype(
                        root.ipc,
                        ObjectType::Untyped { size_bits: bits },
                        RetypeTarget::slots_of(init::CNODE, slot),
                        1,
                    )
                    .step("carving untyped memory")?;
                let block = Block { cptr: slot, size_bits: bits };
                if index + 1 == blocks.len() {
                    last = Some(block);
                } else {
                    root.pool.add_spare(block)?;
                }
            }
            last.ok_or(RealmError::Memory(MemoryError::OutOfMemory { size_bits }))
        }
    }
}

/// Makes one object from `budget` into slot `slot` of the memory manager's CNode; `step`
/// names it if the kernel refuses.
pub fn retype_from(
    ipc: &mut IpcBuffer,
    budget: &mut Budget,
    object: ObjectType,
    slot: CPtr,
    step: &'static str,
) -> Result<(), RealmError> {
    let untyped: Untyped = Cap::from_cptr(budget.allocate(object_bits(object))?);
    untyped.retype(ipc, object, RetypeTarget::slots_of(init::CNODE, slot), 1).step(step)
}

/// Makes one object for the memory manager itself into a new slot, and returns the slot.
pub fn make_own_in_new_slot(
    root: &mut RootResources<'_>,
    object: ObjectType,
) -> Result<CPtr, RealmError> {
    let slot = root.slots.allocate()?;
    retype_from(root.ipc, &mut root.own, object, slot, "making an object for the memory manager")?;
    Ok(slot)
}

/// Maps the paging structures that cover the scratch window in the memory manager's own
/// address space (its image sits in the first 2 MiB region of the first GiB; the window is
/// at 2 GiB and needs a page directory and a page table).
pub fn map_scratch_tables(root: &mut RootResources<'_>) -> Result<(), RealmError> {
    let address = ScratchWindow::ADDRESS;
    let directory: PageDirectory =
        Cap::from_cptr(make_own_in_new_slot(root, ObjectType::PageDirectory)?);
    directory
        .map(root.ipc, init::VSPACE, address, VmAttributes::DEFAULT)
        .step("mapping the scratch page directory")?;
    let table: PageTable = Cap::from_cptr(make_own_in_new_slot(root, ObjectType::PageTable)?);
    table
        .map(root.ipc, init::VSPACE, address, VmAttributes::DEFAULT)
        .step("mapping the scratch page table")?;
    Ok(())
}
