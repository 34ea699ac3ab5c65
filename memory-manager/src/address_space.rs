//! A realm's address space on the kernel: its PML4, and the paging structures and frames
//! mapped below it, all made from the realm's budget into its slot range.
//!
//! Which structures a range of pages needs is decided without the kernel by the paging plan
//! (`memory_manager::paging_plan`, tested on the host); this module carries a plan out with
//! one loop, generic over the paging levels (`sel4::cap::vspace::PagingStructure`), top
//! down. Callers check a plan against the realm's budget and slots first
//! ([`AddressSpace::plan`], [`RealmObjects::fit`]), so a request that cannot complete is
//! refused before any kernel object is made.
//!
//! Nothing here unmaps or deletes: the address space goes when the realm's budget blocks are
//! revoked (`realm.rs`), and [`AddressSpace::forget`] then forgets the structures.

use memory_manager::paging_plan::{PagingPlan, PagingStructures, PlanError};
use sel4::cap::vspace::{PagingLevel, PagingStructure, VmAttributes};
use sel4::cap::{Cap, Frame, ObjectType, Rights, VSpace, init, kind};

use crate::realm::{RealmError, RealmObjects};
use crate::resources::{RootResources, Step};

/// A page's contents: bytes to write at an offset into the fresh (zeroed) frame.
pub type Contents<'a> = (usize, &'a [u8]);
/// A page whose contents are all zero (fresh frames are).
pub const NO_CONTENTS: Contents<'static> = (0, &[]);

/// A realm's PML4 and the paging structures made below it.
pub struct AddressSpace {
    vspace: VSpace,
    tables: PagingStructures,
}

impl AddressSpace {
    /// No address space yet (the realm is not built).
    pub const fn none() -> Self {
        Self { vspace: Cap::from_cptr(0), tables: PagingStructures::new() }
    }

    /// Makes the PML4 from the realm's budget and gives it an ASID, so pages can be mapped.
    pub fn make(
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
    ) -> Result<Self, RealmError> {
        let vspace: VSpace = objects.make(root, ObjectType::Pml4)?.cast();
        init::ASID_POOL.assign(root.ipc, vspace).step("assigning an ASID")?;
        Ok(Self { vspace, tables: PagingStructures::new() })
    }

    /// The PML4 (the thread's VSpace root).
    pub fn vspace(&self) -> VSpace {
        self.vspace
    }

    /// What mapping `pages` pages from `start` takes (see `memory_manager::paging_plan`):
    /// refused, with nothing made, when the realm's table limit or its address space cannot
    /// hold them.
    pub fn plan(&self, start: u64, pages: u64) -> Result<PagingPlan, RealmError> {
        self.tables.plan(start, pages).map_err(RealmError::from)
    }

    /// Makes a frame, writes `contents` into it, and maps it at `address` with `rights`,
    /// making the paging structures above it first if they do not exist yet. (A frame cap
    /// maps once: the contents go in through the scratch window before the frame is mapped
    /// into the realm.)
    pub fn map_page(
        &mut self,
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
        address: u64,
        rights: Rights,
        contents: Contents<'_>,
    ) -> Result<Frame, RealmError> {
        let plan = self.plan(address, 1)?;
        self.make_tables(root, objects, &plan)?;
        self.map_frame(root, objects, address, rights, contents)
    }

    /// Carries out `plan` (from [`AddressSpace::plan`], checked against the realm's budget
    /// and slots): its paging structures, then a zeroed frame for each page, mapped with
    /// `rights`. `mapped` is told the end of each page once it is mapped.
    pub fn map_zeroed(
        &mut self,
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
        plan: &PagingPlan,
        rights: Rights,
        mut mapped: impl FnMut(u64),
    ) -> Result<(), RealmError> {
        self.make_tables(root, objects, plan)?;
        for address in plan.page_addresses() {
            self.map_frame(root, objects, address, rights, NO_CONTENTS)?;
            mapped(address + ipc::abi::PAGE_BYTES);
        }
        Ok(())
    }

    /// Forgets the paging structures: the realm's blocks were revoked, which destroyed them.
    pub fn forget(&mut self) {
        self.tables.clear();
    }

    /// Makes and maps the plan's paging structures, top down.
    fn make_tables(
        &mut self,
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
        plan: &PagingPlan,
    ) -> Result<(), RealmError> {
        self.make_level::<kind::Pdpt>(root, objects, plan)?;
        self.make_level::<kind::PageDirectory>(root, objects, plan)?;
        self.make_level::<kind::PageTable>(root, objects, plan)
    }

    /// Makes and maps the plan's structures of one level.
    fn make_level<K: PagingStructure>(
        &mut self,
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
        plan: &PagingPlan,
    ) -> Result<(), RealmError> {
        for table in plan.new_tables_at(K::LEVEL) {
            let structure: Cap<K> = objects.make(root, K::OBJECT_TYPE)?.cast();
            structure
                .map(root.ipc, self.vspace, table.address(), VmAttributes::DEFAULT)
                .step(map_step(K::LEVEL))?;
            self.tables.record(table)?;
        }
        Ok(())
    }

    /// Makes one frame, writes `contents` into it and maps it at `address`.
    fn map_frame(
        &mut self,
        root: &mut RootResources<'_>,
        objects: &mut RealmObjects,
        address: u64,
        rights: Rights,
        (offset, bytes): Contents<'_>,
    ) -> Result<Frame, RealmError> {
        let frame: Frame = objects.make(root, ObjectType::Frame)?.cast();
        if !bytes.is_empty() {
            root.window
                .with_frame(root.ipc, frame, |page| {
                    if let Some(target) = page.get_mut(offset..offset + bytes.len()) {
                        target.copy_from_slice(bytes);
                    }
                })
                .step("loading the program")?;
        }
        frame
            .map(root.ipc, self.vspace, address, rights, VmAttributes::DEFAULT)
            .step("mapping a page")?;
        Ok(frame)
    }
}

/// The step named when the kernel refuses to map a structure of `level`.
const fn map_step(level: PagingLevel) -> &'static str {
    match level {
        PagingLevel::Pdpt => "mapping a PDPT",
        PagingLevel::PageDirectory => "mapping a page directory",
        PagingLevel::PageTable => "mapping a page table",
    }
}

impl From<PlanError> for RealmError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::TooManyTables { .. } => RealmError::TooManyTables,
            other => RealmError::AddressSpace(other),
        }
    }
}
