//! A typed view of the boot information the kernel hands the root task.
//!
//! The layout itself is version-specific and lives in [`crate::kernel`]; this module gives
//! every kernel the same accessors.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::cap::CPtr;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::{RawBootInfo, SlotRegion, UntypedDesc};

/// Whether the root task's IPC buffer has been handed out.
static ROOT_IPC_BUFFER_TAKEN: AtomicBool = AtomicBool::new(false);

/// The boot information page.
#[repr(transparent)]
pub struct BootInfo(RawBootInfo);

/// One untyped capability handed to the root task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untyped {
    /// The slot holding the capability.
    pub cptr: CPtr,
    pub paddr: u64,
    pub size_bits: u8,
    /// Device memory (MMIO) rather than RAM.
    pub is_device: bool,
}

impl Untyped {
    pub const fn bytes(&self) -> u64 {
        1u64 << self.size_bits
    }
}

fn slots(region: SlotRegion) -> Range<CPtr> {
    region.start..region.end
}

impl BootInfo {
    /// Views the page at `address` as the boot info.
    ///
    /// # Safety
    /// `address` must be the boot-info address the kernel passed to the root task, mapped
    /// read-only for the life of the program.
    pub unsafe fn from_address(address: usize) -> &'static BootInfo {
        // SAFETY: per this function's contract the kernel wrote a `seL4_BootInfo` there
        // and keeps it mapped; `BootInfo` is packed (alignment 1) and has the kernel's layout.
        unsafe { &*(address as *const BootInfo) }
    }

    /// The address of the initial thread's IPC buffer.
    pub fn ipc_buffer_address(&self) -> u64 {
        self.0.ipc_buffer
    }

    /// The root task's IPC buffer, for its initial thread: the first call returns it, every
    /// later call `None` (so there is only ever one `&mut` to it).
    pub fn take_ipc_buffer(&self) -> Option<&'static mut IpcBuffer> {
        if ROOT_IPC_BUFFER_TAKEN.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: a `BootInfo` only exists through `from_address`, whose contract makes this
        // the kernel's boot info: `ipc_buffer` is then the root task's IPC buffer, mapped
        // read-write for the program's life, and the flag above hands it out only once.
        unsafe { IpcBuffer::from_address(self.0.ipc_buffer as usize) }
    }

    /// Slots of the root CNode that hold no capability.
    pub fn empty_slots(&self) -> Range<CPtr> {
        slots(self.0.empty)
    }

    /// Slots holding the frames of the root task's own image.
    pub fn user_image_frames(&self) -> Range<CPtr> {
        slots(self.0.user_image_frames)
    }

    /// Slots holding the paging structures (PDPTs, page directories, page tables) of the root
    /// task's address space.
    pub fn user_image_paging(&self) -> Range<CPtr> {
        slots(self.0.user_image_paging)
    }

    /// Slots holding the untyped capabilities.
    pub fn untyped_slots(&self) -> Range<CPtr> {
        slots(self.0.untyped)
    }

    /// The root CNode has `2^cnode_size_bits` slots.
    pub fn cnode_size_bits(&self) -> u8 {
        self.0.init_thread_cnode_size_bits
    }

    /// The time-stamp counter's frequency in MHz.
    pub fn tsc_mhz(&self) -> u64 {
        self.0.arch_info
    }

    /// Every untyped capability, with its slot.
    pub fn untypeds(&self) -> impl Iterator<Item = Untyped> + '_ {
        let count = self.untyped_slots().count().min(self.0.untyped_list.len());
        let first = self.0.untyped.start;
        (0..count).map(move |index| {
            let desc: UntypedDesc = self.0.untyped_list[index];
            Untyped {
                cptr: first + index as u64,
                paddr: desc.paddr,
                size_bits: desc.size_bits,
                is_device: desc.is_device != 0,
            }
        })
    }
}
