//! Pages the root task shares with the threads it runs: a frame mapped both in a realm's
//! address space and, for as long as a [`SharedPage`] lives, in the root task's own, where
//! the root task reads and writes it as words, with atomics (the other side may write it at
//! any time).
//!
//! The pages lie at [`SHARED_BASE`] and above, one slot per index ([`SHARED_SLOTS`] of them),
//! in the 2 MiB region the scratch window's page table covers (1 MiB above the window). The
//! caller provides that page table (it maps the scratch window's).

use core::sync::atomic::AtomicU64;

use sel4::cap::Rights;
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{Frame, init};
use sel4::ipc_buffer::IpcBuffer;

use crate::scratch::ScratchWindow;

/// Where shared page 0 is mapped in the root task's address space.
pub const SHARED_BASE: u64 = ScratchWindow::ADDRESS + (1 << 20);
/// How many shared pages there can be at once (one per index).
pub const SHARED_SLOTS: usize = 64;
/// Words of a page ([`sel4::kernel::PAGE_BYTES`] in 8-byte words).
pub const PAGE_WORDS: usize = sel4::kernel::PAGE_BYTES as usize / 8;

/// A frame mapped at shared slot `index`. Unmap it with [`SharedPage::unmap`] before the frame
/// is destroyed: the root task would fault on the next access otherwise.
pub struct SharedPage {
    frame: Frame,
    words: &'static [AtomicU64; PAGE_WORDS],
}

impl SharedPage {
    /// Maps `frame` (a copy of the capability: a frame capability maps once) read-write at
    /// slot `index`. Fails when `index` is not below [`SHARED_SLOTS`]
    /// ([`sel4::Error::RangeError`]) or the kernel refuses the mapping (a slot already in use
    /// is [`sel4::Error::DeleteFirst`]).
    pub fn map(ipc: &mut IpcBuffer, frame: Frame, index: usize) -> Result<Self, sel4::Error> {
        if index >= SHARED_SLOTS {
            return Err(sel4::Error::RangeError);
        }
        let address = SHARED_BASE + (index as u64) * sel4::kernel::PAGE_BYTES;
        frame.map(ipc, init::VSPACE, address, Rights::READ_WRITE, VmAttributes::DEFAULT)?;
        // SAFETY: `frame` was just mapped read-write at `address`, a page-aligned address
        // reserved for shared slot `index` (below `SHARED_SLOTS`, inside the 2 MiB the
        // scratch window's page table covers, clear of the window itself). It stays mapped
        // until `unmap` consumes this value, which ends the reference's use. Every access is
        // atomic, so the other side writing the page at any time is no data race.
        let words = unsafe { &*(address as *const [AtomicU64; PAGE_WORDS]) };
        Ok(Self { frame, words })
    }

    /// Word `index` of the page (`None` past its end).
    pub fn word(&self, index: usize) -> Option<&AtomicU64> {
        self.words.get(index)
    }

    /// Unmaps the page from the root task's address space and gives the frame capability back.
    pub fn unmap(self) -> Result<Frame, sel4::Error> {
        self.frame.unmap()?;
        Ok(self.frame)
    }
}
