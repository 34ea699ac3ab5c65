//! A one-page window in the root task's own address space through which it reads and writes
//! frames it made (to load a realm's program into the realm's frames, for example).
//!
//! The window's virtual address, [`ScratchWindow::ADDRESS`], is reserved for it here: the
//! root task's image is linked at 4 MiB and is far smaller than this, and nothing else in
//! Switchboard maps there. The caller provides the paging structures that cover it.

use core::sync::atomic::{AtomicBool, Ordering};

use sel4::cap::Rights;
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{Frame, init};
use sel4::ipc_buffer::IpcBuffer;

/// The one window; `claim` hands it out once.
static CLAIMED: AtomicBool = AtomicBool::new(false);

/// The root task's window onto one frame at a time.
pub struct ScratchWindow(());

/// The size of the window: one page ([`sel4::kernel::PAGE_BYTES`]).
const WINDOW_BYTES: usize = sel4::kernel::PAGE_BYTES as usize;

impl ScratchWindow {
    /// Where the window is, in the root task's address space (2 GiB).
    pub const ADDRESS: u64 = 0x8000_0000;

    /// The window, once: later calls return `None`.
    pub fn claim() -> Option<Self> {
        (!CLAIMED.swap(true, Ordering::AcqRel)).then_some(Self(()))
    }

    /// Maps `frame` at the window, lets `work` read and write its bytes, and unmaps it.
    pub fn with_frame<R>(
        &mut self,
        ipc: &mut IpcBuffer,
        frame: Frame,
        work: impl FnOnce(&mut [u8; WINDOW_BYTES]) -> R,
    ) -> Result<R, sel4::Error> {
        frame.map(ipc, init::VSPACE, Self::ADDRESS, Rights::READ_WRITE, VmAttributes::DEFAULT)?;
        // SAFETY: `frame` was just mapped read-write at the window's address, which nothing
        // else uses (this type is a singleton and the address is reserved for it), and the
        // reference does not outlive `work`: the frame is unmapped right after.
        let bytes = unsafe { &mut *(Self::ADDRESS as *mut [u8; WINDOW_BYTES]) };
        let result = work(bytes);
        frame.unmap()?;
        Ok(result)
    }
}
