//! The paging plan: which paging structures a range of pages needs before its frames can be
//! mapped, computed without the kernel (tested on the host).
//!
//! A realm's address space is a PML4 and the structures below it ([`PagingLevel`]: PDPTs,
//! page directories, page tables), each made from the realm's budget when a page first needs
//! it. [`PagingStructures`] records those a realm has (at most [`MAX_PAGING_STRUCTURES`]);
//! [`PagingStructures::plan`] says, for `pages` pages from `start`, which ones must be made,
//! level by level top down, or why the range cannot be mapped at all. The memory manager
//! (`address_space.rs`) checks a plan against the realm's budget and slots before it makes
//! any kernel object, so a request that cannot complete leaves nothing behind.
//!
//! Units: addresses and sizes in bytes, `pages` in 4 KiB pages ([`PAGE_BITS`]). A plan is
//! bounded: it never walks the range page by page, and it holds at most [`MAX_PAGING_STRUCTURES`]
//! structures.

use heapless::Vec;
use sel4::cap::vspace::PagingLevel;

/// Paging structures one realm may have.
pub use vocabulary::limits::MAX_PAGING_STRUCTURES;
/// The bits of a page's size: the address bits one page-table entry covers (4 KiB).
pub const PAGE_BITS: u32 = PagingLevel::PageTable.entry_bits();
/// A realm's addresses are below `2^ADDRESS_BITS` (the lower, user half of x86_64's
/// 48-bit canonical addresses).
pub const ADDRESS_BITS: u32 = 47;

/// One paging structure: its level and which region of that level's size it covers
/// (`index = address >> level.covers_bits()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub level: PagingLevel,
    pub index: u64,
}

impl Table {
    /// The structure of `level` that maps `address`.
    pub const fn covering(level: PagingLevel, address: u64) -> Self {
        Self { level, index: address >> level.covers_bits() }
    }

    /// The first address it covers (where to map it).
    pub const fn address(self) -> u64 {
        self.index << self.level.covers_bits()
    }
}

/// Why a range of pages cannot be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `start` is not at the start of a page.
    Unaligned { start: u64 },
    /// `pages` pages from `start` run past the realm's address space (`2^ADDRESS_BITS`
    /// bytes), or past the end of the address numbers.
    OutsideAddressSpace { start: u64, pages: u64 },
    /// The range needs `needed` new paging structures; the realm has `have` of its
    /// [`MAX_PAGING_STRUCTURES`].
    TooManyTables { have: usize, needed: u64 },
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PlanError::Unaligned { start } => {
                write!(f, "address {start:#x} is not at the start of a page")
            }
            PlanError::OutsideAddressSpace { start, pages } => write!(
                f,
                "{pages} pages from {start:#x} run past the end of the address space \
                 ({:#x})",
                1u64 << ADDRESS_BITS
            ),
            PlanError::TooManyTables { have, needed } => write!(
                f,
                "it has {have} paging structures and would need {needed} more, past the \
                 {MAX_PAGING_STRUCTURES} a realm may have"
            ),
        }
    }
}

/// What mapping `pages` pages from `start` takes: the paging structures to make first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagingPlan {
    /// The first page's address.
    pub start: u64,
    /// How many 4 KiB pages.
    pub pages: u64,
    /// The structures to make and map, top down (every PDPT before any page directory,
    /// every page directory before any page table), each level in address order.
    new_tables: Vec<Table, MAX_PAGING_STRUCTURES>,
}

impl PagingPlan {
    /// The structures to make, top down.
    pub fn new_tables(&self) -> &[Table] {
        &self.new_tables
    }

    /// The structures of `level` to make, in address order.
    pub fn new_tables_at(&self, level: PagingLevel) -> impl Iterator<Item = Table> + '_ {
        self.new_tables.iter().copied().filter(move |table| table.level == level)
    }

    /// Kernel objects the plan makes: one frame per page and one per new structure (each is
    /// one 4 KiB object, and each takes one slot).
    pub fn objects(&self) -> u64 {
        self.pages + self.new_tables.len() as u64
    }

    /// The address of each page, in order.
    pub fn page_addresses(&self) -> impl Iterator<Item = u64> {
        let start = self.start;
        (0..self.pages).map(move |page| start + (page << PAGE_BITS))
    }
}

/// The paging structures a realm has (below its PML4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PagingStructures {
    made: Vec<Table, MAX_PAGING_STRUCTURES>,
}

impl PagingStructures {
    /// None.
    pub const fn new() -> Self {
        Self { made: Vec::new() }
    }

    /// How many structures the realm has.
    pub fn len(&self) -> usize {
        self.made.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.made.is_empty()
    }

    /// Whether the realm has `table`.
    pub fn contains(&self, table: Table) -> bool {
        self.made.contains(&table)
    }

    /// Records a structure the memory manager made and mapped (one of a plan's); a structure
    /// already recorded is not counted twice.
    pub fn record(&mut self, table: Table) -> Result<(), PlanError> {
        if self.contains(table) {
            return Ok(());
        }
        self.made
            .push(table)
            .map_err(|_| PlanError::TooManyTables { have: self.made.len(), needed: 1 })
    }

    /// Forgets every structure (the realm's address space was destroyed).
    pub fn clear(&mut self) {
        self.made.clear();
    }

    /// Which structures must be made to map `pages` pages from `start`: those of every
    /// level that cover some page of the range and that the realm does not have yet. Zero
    /// pages need nothing. Refused when `start` is not page-aligned, the range leaves the
    /// address space, or the new structures would take the realm past [`MAX_PAGING_STRUCTURES`].
    pub fn plan(&self, start: u64, pages: u64) -> Result<PagingPlan, PlanError> {
        if start & ((1 << PAGE_BITS) - 1) != 0 {
            return Err(PlanError::Unaligned { start });
        }
        let mut plan = PagingPlan { start, pages, new_tables: Vec::new() };
        if pages == 0 {
            return Ok(plan);
        }
        let outside = PlanError::OutsideAddressSpace { start, pages };
        let end = pages
            .checked_mul(1 << PAGE_BITS)
            .and_then(|bytes| start.checked_add(bytes))
            .filter(|&end| end <= 1 << ADDRESS_BITS)
            .ok_or(outside)?;
        let last = end - 1;
        // Count first (arithmetic, bounded by what the realm has), so that a range that needs
        // millions of structures is refused without walking it.
        let mut needed: u64 = 0;
        for level in PagingLevel::TOP_DOWN {
            let (first, last) = (Table::covering(level, start), Table::covering(level, last));
            let present = self
                .made
                .iter()
                .filter(|table| {
                    table.level == level && (first.index..=last.index).contains(&table.index)
                })
                .count() as u64;
            needed += last.index - first.index + 1 - present;
        }
        let have = self.made.len();
        if have as u64 + needed > MAX_PAGING_STRUCTURES as u64 {
            return Err(PlanError::TooManyTables { have, needed });
        }
        for level in PagingLevel::TOP_DOWN {
            let (first, last) = (Table::covering(level, start), Table::covering(level, last));
            for index in first.index..=last.index {
                let table = Table { level, index };
                if !self.contains(table) {
                    // Fits: `have + needed <= MAX_PAGING_STRUCTURES` was checked above.
                    plan.new_tables
                        .push(table)
                        .map_err(|_| PlanError::TooManyTables { have, needed })?;
                }
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests;
