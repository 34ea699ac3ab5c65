//! Host tests of the paging plan: level crossings (2 MiB, 1 GiB, 512 GiB), structures a
//! realm has, the table limit reached exactly and passed, zero pages, unaligned starts and
//! ranges past the address space or the address numbers.

use super::*;
use PagingLevel::{PageDirectory, PageTable, Pdpt};

const KIB4: u64 = 1 << 12;
const MIB2: u64 = 1 << 21;
const GIB1: u64 = 1 << 30;
const GIB512: u64 = 1 << 39;

fn table(level: PagingLevel, address: u64) -> Table {
    Table::covering(level, address)
}

/// A realm that has the structures that map `addresses`.
fn with_tables_for(addresses: &[u64]) -> PagingStructures {
    let mut tables = PagingStructures::new();
    for &address in addresses {
        for table in tables.plan(address, 1).unwrap().new_tables().to_vec() {
            tables.record(table).unwrap();
        }
    }
    tables
}

#[test]
fn zero_pages_need_nothing() {
    let plan = PagingStructures::new().plan(0x2000_0000, 0).unwrap();
    assert_eq!(plan.new_tables(), &[]);
    assert_eq!(plan.objects(), 0);
    assert_eq!(plan.page_addresses().count(), 0);
    // Even where no page could go: nothing is mapped.
    assert!(PagingStructures::new().plan(1 << ADDRESS_BITS, 0).is_ok());
}

#[test]
fn a_first_page_needs_every_level_top_down() {
    let plan = PagingStructures::new().plan(0x1000_0000, 1).unwrap();
    assert_eq!(
        plan.new_tables(),
        &[
            Table { level: Pdpt, index: 0 },
            Table { level: PageDirectory, index: 0 },
            Table { level: PageTable, index: 0x1000_0000 / MIB2 },
        ]
    );
    assert_eq!(plan.objects(), 4);
    assert_eq!(plan.page_addresses().collect::<std::vec::Vec<_>>(), [0x1000_0000]);
    assert_eq!(plan.new_tables()[2].address(), 0x1000_0000);
    assert_eq!(plan.new_tables_at(PageTable).count(), 1);
}

#[test]
fn structures_the_realm_has_are_not_made_again() {
    let tables = with_tables_for(&[0x1000_0000]);
    assert_eq!(tables.len(), 3);
    let same_table = tables.plan(0x1000_0000 + KIB4, 8).unwrap();
    assert_eq!(same_table.new_tables(), &[]);
    assert_eq!(same_table.objects(), 8);
    let next_region = tables.plan(0x1000_0000 + MIB2, 1).unwrap();
    assert_eq!(next_region.new_tables(), &[table(PageTable, 0x1000_0000 + MIB2)]);
}

#[test]
fn a_range_crossing_2_mib_needs_two_page_tables() {
    let tables = with_tables_for(&[0]);
    let plan = tables.plan(4 * MIB2 - KIB4, 2).unwrap();
    assert_eq!(plan.new_tables(), &[table(PageTable, 4 * MIB2 - KIB4), table(PageTable, 4 * MIB2)]);
    assert_eq!(plan.objects(), 4);
    assert_eq!(plan.page_addresses().collect::<std::vec::Vec<_>>(), [4 * MIB2 - KIB4, 4 * MIB2]);
}

#[test]
fn a_range_crossing_1_gib_needs_two_page_directories() {
    let plan = PagingStructures::new().plan(GIB1 - KIB4, 2).unwrap();
    assert_eq!(
        plan.new_tables(),
        &[
            table(Pdpt, 0),
            table(PageDirectory, GIB1 - KIB4),
            table(PageDirectory, GIB1),
            table(PageTable, GIB1 - KIB4),
            table(PageTable, GIB1),
        ]
    );
    assert_eq!(
        plan.new_tables_at(PageDirectory).map(Table::address).collect::<std::vec::Vec<_>>(),
        [0, GIB1]
    );
}

#[test]
fn a_range_crossing_512_gib_needs_two_pdpts() {
    let plan = PagingStructures::new().plan(GIB512 - KIB4, 2).unwrap();
    assert_eq!(
        plan.new_tables_at(Pdpt).map(Table::address).collect::<std::vec::Vec<_>>(),
        [0, GIB512]
    );
    assert_eq!(plan.new_tables().len(), 6);
}

#[test]
fn the_table_limit_may_be_reached_exactly_not_passed() {
    // 61 structures: a PDPT, a page directory and 59 page tables.
    let addresses: std::vec::Vec<u64> = (0..59).map(|region| region * MIB2).collect();
    let tables = with_tables_for(&addresses);
    assert_eq!(tables.len(), 61);
    // Three more page tables: 64 in all.
    let exactly = tables.plan(59 * MIB2, 3 * 512).unwrap();
    assert_eq!(exactly.new_tables().len(), 3);
    assert_eq!(tables.len() + exactly.new_tables().len(), MAX_PAGING_STRUCTURES);
    // One page more needs a 65th.
    assert_eq!(
        tables.plan(59 * MIB2, 3 * 512 + 1),
        Err(PlanError::TooManyTables { have: 61, needed: 4 })
    );
    // Pages under structures it has still fit when it is full.
    let mut full = tables.clone();
    for table in exactly.new_tables() {
        full.record(*table).unwrap();
    }
    assert_eq!(full.len(), MAX_PAGING_STRUCTURES);
    assert_eq!(full.plan(0, 62 * 512).unwrap().new_tables(), &[]);
    assert_eq!(full.plan(62 * MIB2, 1), Err(PlanError::TooManyTables { have: 64, needed: 1 }));
    assert_eq!(
        full.record(table(PageTable, 62 * MIB2)),
        Err(PlanError::TooManyTables { have: 64, needed: 1 })
    );
    // Recording one it has changes nothing.
    assert_eq!(full.record(table(PageTable, 0)), Ok(()));
    assert_eq!(full.len(), MAX_PAGING_STRUCTURES);
}

#[test]
fn a_huge_range_is_refused_by_counting() {
    // The whole address space: 2^8 PDPTs, 2^17 page directories, 2^26 page tables.
    let pages = 1 << (ADDRESS_BITS - PAGE_BITS);
    assert_eq!(
        PagingStructures::new().plan(0, pages),
        Err(PlanError::TooManyTables { have: 0, needed: (1 << 8) + (1 << 17) + (1 << 26) })
    );
}

#[test]
fn ranges_past_the_address_space_are_refused() {
    let top = 1u64 << ADDRESS_BITS;
    // The last page fits; one more does not.
    assert!(PagingStructures::new().plan(top - KIB4, 1).is_ok());
    assert_eq!(
        PagingStructures::new().plan(top - KIB4, 2),
        Err(PlanError::OutsideAddressSpace { start: top - KIB4, pages: 2 })
    );
    assert_eq!(
        PagingStructures::new().plan(top, 1),
        Err(PlanError::OutsideAddressSpace { start: top, pages: 1 })
    );
    // Overflow of the address numbers: of the size, and of the end.
    assert_eq!(
        PagingStructures::new().plan(0, u64::MAX),
        Err(PlanError::OutsideAddressSpace { start: 0, pages: u64::MAX })
    );
    let last_page = !(KIB4 - 1);
    assert_eq!(
        PagingStructures::new().plan(last_page, 2),
        Err(PlanError::OutsideAddressSpace { start: last_page, pages: 2 })
    );
    assert_eq!(
        PagingStructures::new().plan(0x1001, 1),
        Err(PlanError::Unaligned { start: 0x1001 })
    );
}

#[test]
fn clear_forgets_every_structure() {
    let mut tables = with_tables_for(&[0, GIB1]);
    assert_eq!(tables.len(), 5);
    tables.clear();
    assert!(tables.is_empty());
    assert_eq!(tables.plan(0, 1).unwrap().new_tables().len(), 3);
}

#[test]
fn errors_are_sentences() {
    assert_eq!(
        PlanError::TooManyTables { have: 62, needed: 3 }.to_string(),
        "it has 62 paging structures and would need 3 more, past the 64 a realm may have"
    );
    assert_eq!(
        PlanError::OutsideAddressSpace { start: 0x1000, pages: 2 }.to_string(),
        "2 pages from 0x1000 run past the end of the address space (0x800000000000)"
    );
    assert_eq!(
        PlanError::Unaligned { start: 0x1001 }.to_string(),
        "address 0x1001 is not at the start of a page"
    );
}
