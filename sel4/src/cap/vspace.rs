//! x86_64 address spaces: the paging structures below a PML4 (PDPT, page directory, page
//! table), frames, and ASID pools.
//!
//! To map a frame at an address, each level above it must be mapped there first: a PDPT for
//! the 512 GiB region, a page directory for the 1 GiB region, a page table for the 2 MiB
//! region. Mapping a structure where one already is fails with [`Error::DeleteFirst`]; a
//! missing level fails with [`Error::FailedLookup`]. A VSpace root must be assigned to an ASID
//! pool before anything can be mapped into it. The three levels below the PML4 share one
//! trait, [`PagingStructure`] (their [`PagingLevel`], object type, map and unmap), so code
//! that builds address spaces is written once for all of them. On 5.0.0 a frame capability maps one place at
//! a time: copy the capability to map the frame twice.

use crate::cap::cnode::CSlot;
use crate::cap::rights::Rights;
use crate::cap::{AsidControl, AsidPool, Cap, Invocation, ObjectType, Untyped, VSpace, kind};
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

/// The levels of paging structure below the PML4, top down. Each entry of a structure at a
/// level covers `2^entry_bits()` bytes of address space, and the whole structure (512
/// entries) `2^covers_bits()`: to map a frame at an address, the structure of each level that
/// covers the address must be mapped there first, top down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PagingLevel {
    /// A page-directory pointer table: 512 GiB, 1 GiB per entry.
    Pdpt,
    /// A page directory: 1 GiB, 2 MiB per entry.
    PageDirectory,
    /// A page table: 2 MiB, 4 KiB per entry.
    PageTable,
}

impl PagingLevel {
    /// Every level, top down: the order in which they must be mapped.
    pub const TOP_DOWN: [PagingLevel; 3] =
        [PagingLevel::Pdpt, PagingLevel::PageDirectory, PagingLevel::PageTable];

    /// The address bits one structure of this level covers: `address >> covers_bits()`
    /// names the structure that maps `address` (39, 30, 21).
    pub const fn covers_bits(self) -> u32 {
        match self {
            PagingLevel::Pdpt => 39,
            PagingLevel::PageDirectory => 30,
            PagingLevel::PageTable => 21,
        }
    }

    /// The address bits one entry covers (30, 21, 12).
    pub const fn entry_bits(self) -> u32 {
        self.covers_bits() - 9
    }

    /// The object to make from untyped memory for a structure of this level.
    pub const fn object_type(self) -> ObjectType {
        match self {
            PagingLevel::Pdpt => ObjectType::Pdpt,
            PagingLevel::PageDirectory => ObjectType::PageDirectory,
            PagingLevel::PageTable => ObjectType::PageTable,
        }
    }

    /// What the structure is called, for messages ("page directory").
    pub const fn name(self) -> &'static str {
        match self {
            PagingLevel::Pdpt => "PDPT",
            PagingLevel::PageDirectory => "page directory",
            PagingLevel::PageTable => "page table",
        }
    }

    /// The invocation labels that map and unmap a structure of this level.
    const fn labels(self) -> (u64, u64) {
        match self {
            PagingLevel::Pdpt => (label::X86_PDPT_MAP, label::X86_PDPT_UNMAP),
            PagingLevel::PageDirectory => {
                (label::X86_PAGE_DIRECTORY_MAP, label::X86_PAGE_DIRECTORY_UNMAP)
            }
            PagingLevel::PageTable => (label::X86_PAGE_TABLE_MAP, label::X86_PAGE_TABLE_UNMAP),
        }
    }
}

/// The kinds of capability to a paging structure below the PML4 ([`kind::Pdpt`],
/// [`kind::PageDirectory`], [`kind::PageTable`]): each knows its [`PagingLevel`], and so its
/// object type and its map and unmap invocations, which `Cap<K>` offers for every such `K`
/// ([`Cap::map`], [`Cap::unmap`]). Code that makes and maps structures is written once,
/// generic over `K: PagingStructure`.
pub trait PagingStructure: kind::Kind {
    /// The level a structure of this kind maps.
    const LEVEL: PagingLevel;
    /// The object to retype for one.
    const OBJECT_TYPE: ObjectType = Self::LEVEL.object_type();
}

impl PagingStructure for kind::Pdpt {
    const LEVEL: PagingLevel = PagingLevel::Pdpt;
}

impl PagingStructure for kind::PageDirectory {
    const LEVEL: PagingLevel = PagingLevel::PageDirectory;
}

impl PagingStructure for kind::PageTable {
    const LEVEL: PagingLevel = PagingLevel::PageTable;
}

impl<K: PagingStructure> Cap<K> {
    /// Maps the structure into `vspace` so that it covers `address` (rounded down by the
    /// kernel to the region the structure covers). Fails with [`Error::DeleteFirst`] when a
    /// structure is there already, [`Error::FailedLookup`] when the level above is missing.
    pub fn map(
        self,
        ipc: &mut IpcBuffer,
        vspace: VSpace,
        address: u64,
        attributes: VmAttributes,
    ) -> Result<(), Error> {
        map_table(K::LEVEL.labels().0, vspace, address, attributes).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Unmaps the structure (and so everything mapped through it).
    pub fn unmap(self) -> Result<(), Error> {
        Invocation::words(K::LEVEL.labels().1, []).call_in_registers(self)?;
        Ok(())
    }
}

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
    fn paging_levels() {
        use crate::cap::kind;
        fn level<K: PagingStructure>() -> (PagingLevel, ObjectType) {
            (K::LEVEL, K::OBJECT_TYPE)
        }
        assert_eq!(level::<kind::Pdpt>(), (PagingLevel::Pdpt, ObjectType::Pdpt));
        assert_eq!(
            level::<kind::PageDirectory>(),
            (PagingLevel::PageDirectory, ObjectType::PageDirectory)
        );
        assert_eq!(level::<kind::PageTable>(), (PagingLevel::PageTable, ObjectType::PageTable));
        let covers = PagingLevel::TOP_DOWN.map(PagingLevel::covers_bits);
        assert_eq!(covers, [39, 30, 21]);
        assert_eq!(PagingLevel::TOP_DOWN.map(PagingLevel::entry_bits), [30, 21, 12]);
        assert_eq!(
            PagingLevel::TOP_DOWN.map(PagingLevel::labels),
            [
                (label::X86_PDPT_MAP, label::X86_PDPT_UNMAP),
                (label::X86_PAGE_DIRECTORY_MAP, label::X86_PAGE_DIRECTORY_UNMAP),
                (label::X86_PAGE_TABLE_MAP, label::X86_PAGE_TABLE_UNMAP),
            ]
        );
        // Each paging structure is one 4 KiB page of 512 entries.
        for level in PagingLevel::TOP_DOWN {
            assert_eq!(level.object_type().size_bits(), 12);
        }
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
