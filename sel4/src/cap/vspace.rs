//! x86_64 address spaces: the paging structures below a PML4 (PDPT, page directory, page
//! table), frames, and ASID pools.
//!
//! To map a frame at an address, each level above it must be mapped there first: a PDPT for
//! the 512 GiB region, a page directory for the 1 GiB region, a page table for the 2 MiB
//! region. Mapping a structure where one already is fails with [`Error::DeleteFirst`]; a
//! missing level fails with [`Error::FailedLookup`]. A VSpace root must be assigned to an ASID
//! pool before anything can be mapped into it. On 5.0.0 a frame capability maps one place at
//! a time: copy the capability to map the frame twice.

use crate::cap::cnode::CSlot;
use crate::cap::rights::Rights;
use crate::cap::{AsidControl, AsidPool, Cap, Invocation, Untyped, VSpace, kind};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::{label, object_size_bits};

/// Caching attributes of a mapping (`seL4_X86_VMAttributes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmAttributes(u64);

impl VmAttributes {
    /// Write-back caching, for RAM.
    pub const DEFAULT: VmAttributes = VmAttributes(0);
    pub const WRITE_THROUGH: VmAttributes = VmAttributes(1);
    pub const CACHE_DISABLED: VmAttributes = VmAttributes(2);
    /// For device memory.
    pub const UNCACHEABLE: VmAttributes = VmAttributes(3);
    pub const WRITE_COMBINING: VmAttributes = VmAttributes(4);

    pub const fn word(self) -> u64 {
        self.0
    }
}

/// Map of a paging structure: the address (rounded down by the kernel to the region the
/// structure covers) and the attributes; the VSpace root.
pub const fn map_table(
    label: u64,
    vspace: VSpace,
    address: u64,
    attributes: VmAttributes,
) -> Invocation<2, 1> {
    Invocation { label, words: [address, attributes.word()], caps: [vspace.cptr()] }
}

/// Map of a frame: the address (aligned to the frame's size), the rights, the attributes; the
/// VSpace root.
pub const fn map_frame(
    vspace: VSpace,
    address: u64,
    rights: Rights,
    attributes: VmAttributes,
) -> Invocation<3, 1> {
    Invocation {
        label: label::X86_PAGE_MAP,
        words: [address, rights.word(), attributes.word()],
        caps: [vspace.cptr()],
    }
}

/// ASIDControl_MakePool: destination index and depth; the untyped (4 KiB) and the
/// destination root.
pub const fn make_pool(untyped: Untyped, dest: CSlot) -> Invocation<2, 2> {
    Invocation {
        label: label::X86_ASID_CONTROL_MAKE_POOL,
        words: [dest.index, dest.depth as u64],
        caps: [untyped.cptr(), dest.root.cptr()],
    }
}

/// ASIDPool_Assign: no words; the VSpace root.
pub const fn assign(vspace: VSpace) -> Invocation<0, 1> {
    Invocation { label: label::X86_ASID_POOL_ASSIGN, words: [], caps: [vspace.cptr()] }
}

/// Map and unmap for the paging structures, one impl per kind (with its labels).
macro_rules! paging_structure {
    ($kind:ident, $map:path, $unmap:path) => {
        impl Cap<kind::$kind> {
            /// Maps the structure into `vspace` so that it covers `address`.
            pub fn map(
                self,
                ipc: &mut IpcBuffer,
                vspace: VSpace,
                address: u64,
                attributes: VmAttributes,
            ) -> Result<(), Error> {
                map_table($map, vspace, address, attributes).call_with_buffer(ipc, self)?;
                Ok(())
            }

            /// Unmaps the structure (and so everything mapped through it).
            pub fn unmap(self) -> Result<(), Error> {
                Invocation::words($unmap, []).call_in_registers(self)?;
                Ok(())
            }
        }
    };
}

paging_structure!(Pdpt, label::X86_PDPT_MAP, label::X86_PDPT_UNMAP);
paging_structure!(PageDirectory, label::X86_PAGE_DIRECTORY_MAP, label::X86_PAGE_DIRECTORY_UNMAP);
paging_structure!(PageTable, label::X86_PAGE_TABLE_MAP, label::X86_PAGE_TABLE_UNMAP);

/// Map, unmap and the physical address for frames, one impl per frame size.
macro_rules! frame {
    ($kind:ident, $size_bits:path) => {
        impl Cap<kind::$kind> {
            /// Maps the frame at `address` (aligned to its size) in `vspace` with at most
            /// `rights` (read, write).
            pub fn map(
                self,
                ipc: &mut IpcBuffer,
                vspace: VSpace,
                address: u64,
                rights: Rights,
                attributes: VmAttributes,
            ) -> Result<(), Error> {
                map_frame(vspace, address, rights, attributes).call_with_buffer(ipc, self)?;
                Ok(())
            }

            /// Unmaps the frame.
            pub fn unmap(self) -> Result<(), Error> {
                Invocation::words(label::X86_PAGE_UNMAP, []).call_in_registers(self)?;
                Ok(())
            }

            /// The frame's physical address.
            pub fn physical_address(self) -> Result<u64, Error> {
                let reply =
                    Invocation::words(label::X86_PAGE_GET_ADDRESS, []).call_in_registers(self)?;
                Ok(reply.message[0])
            }

            /// The frame's size in bytes.
            pub const fn bytes(self) -> u64 {
                1 << $size_bits
            }
        }
    };
}

frame!(Frame, object_size_bits::PAGE);
frame!(LargePage, object_size_bits::LARGE_PAGE);

impl AsidControl {
    /// Makes an ASID pool from `untyped` (exactly 4 KiB) and puts its capability at `dest`.
    pub fn make_pool(
        self,
        ipc: &mut IpcBuffer,
        untyped: Untyped,
        dest: CSlot,
    ) -> Result<(), Error> {
        make_pool(untyped, dest).call_with_buffer(ipc, self)?;
        Ok(())
    }
}

impl AsidPool {
    /// Gives `vspace` an address-space identifier from this pool, so things can be mapped
    /// into it and threads can run in it.
    pub fn assign(self, ipc: &mut IpcBuffer, vspace: VSpace) -> Result<(), Error> {
        assign(vspace).call_with_buffer(ipc, self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{Frame, LargePage, init};

    #[test]
    fn table_map_arguments() {
        let invocation =
            map_table(label::X86_PAGE_TABLE_MAP, init::VSPACE, 0x1000_0000, VmAttributes::DEFAULT);
        assert_eq!(invocation.label, label::X86_PAGE_TABLE_MAP);
        assert_eq!(invocation.words, [0x1000_0000, 0]);
        assert_eq!(invocation.caps, [init::VSPACE.cptr()]);
    }

    #[test]
    fn frame_map_arguments() {
        let invocation =
            map_frame(init::VSPACE, 0x80_0000_0000, Rights::READ_WRITE, VmAttributes::UNCACHEABLE);
        assert_eq!(invocation.label, label::X86_PAGE_MAP);
        assert_eq!(invocation.words, [0x80_0000_0000, 0b011, 3]);
        assert_eq!(invocation.caps, [init::VSPACE.cptr()]);
        let frame: Frame = Cap::from_cptr(1);
        let large: LargePage = Cap::from_cptr(1);
        assert_eq!(frame.bytes(), 4096);
        assert_eq!(large.bytes(), 2 << 20);
    }

    #[test]
    fn asid_arguments() {
        let pool = make_pool(Cap::from_cptr(50), init::CNODE.slot(51));
        assert_eq!(pool.label, label::X86_ASID_CONTROL_MAKE_POOL);
        assert_eq!(pool.words, [51, 64]);
        assert_eq!(pool.caps, [50, init::CNODE.cptr()]);
        let assigned = assign(Cap::from_cptr(60));
        assert_eq!(assigned.label, label::X86_ASID_POOL_ASSIGN);
        assert_eq!(assigned.caps, [60]);
        assert_eq!(assigned.info().length(), 0);
    }
}
