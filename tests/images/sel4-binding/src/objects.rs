//! Checks of the invocations on kernel objects: retype, CNode operations, revoke, errors,
//! paging and frames, ASID pools, I/O ports and notifications.

use sel4::Error;
use sel4::cap::vspace::VmAttributes;
use sel4::cap::{
    self, Badge, CNode, CNodeGuard, CSlot, Cap, Endpoint, Frame, LargePage, Notification,
    ObjectType, PageDirectory, PageTable, Pdpt, Pml4, RetypeTarget, Rights, init, kind,
};
use sel4::debug::CapType;

use crate::{Root, expect_error, expect_type};

/// Retypes every object type and checks what the kernel made; returns the 2 MiB page (made
/// first, while the untyped's first 2 MiB are free) for the mapping check.
pub fn retype(root: &mut Root) -> LargePage {
    let large_page: LargePage = root.make(ObjectType::LargePage);
    expect_type(large_page.cptr(), CapType::Frame, "a retyped 2 MiB page");

    let cases = [
        (ObjectType::Untyped { size_bits: 16 }, CapType::Untyped),
        (ObjectType::Tcb, CapType::Tcb),
        (ObjectType::Endpoint, CapType::Endpoint),
        (ObjectType::Notification, CapType::Notification),
        (ObjectType::CNode { slot_bits: 4 }, CapType::CNode),
        (ObjectType::Pml4, CapType::Pml4),
        (ObjectType::Pdpt, CapType::Pdpt),
        (ObjectType::PageDirectory, CapType::PageDirectory),
        (ObjectType::PageTable, CapType::PageTable),
        (ObjectType::Frame, CapType::Frame),
    ];
    for (object, expected) in cases {
        let made: Cap<kind::Null> = root.make(object);
        expect_type(made.cptr(), expected, "a retyped object");
    }

    let first = root.slots(3);
    root.untyped
        .retype(root.ipc, ObjectType::Endpoint, RetypeTarget::slots_of(init::CNODE, first), 3)
        .unwrap_or_else(|error| panic!("retyping 3 endpoints at once: {error}"));
    for slot in first..first + 3 {
        expect_type(slot, CapType::Endpoint, "one of 3 endpoints retyped at once");
    }

    let child: cap::Untyped = root.make(ObjectType::Untyped { size_bits: 16 });
    let first = root.slots(4);
    child
        .retype(root.ipc, ObjectType::Notification, RetypeTarget::slots_of(init::CNODE, first), 4)
        .unwrap_or_else(|error| panic!("retyping from a child untyped: {error}"));
    for slot in first..first + 4 {
        expect_type(slot, CapType::Notification, "a notification from a child untyped");
    }

    root.pass(
        "retype",
        format_args!(
            "all {} object types identified by DebugCapIdentify; 3 endpoints in one call; 4 \
             notifications from a 64 KiB child untyped",
            cases.len() + 1
        ),
    );
    large_page
}

/// Copy with fewer rights, Move, Mutate of a CNode guard (proved by a lookup through the
/// guarded capability), Delete.
pub fn cnode_operations(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    let copy = root.copy(endpoint, Rights::READ);
    expect_type(copy.cptr(), CapType::Endpoint, "a copied endpoint");

    let moved = root.slot();
    init::CNODE
        .slot(moved)
        .move_from(root.ipc, init::CNODE.slot(copy.cptr()))
        .unwrap_or_else(|error| panic!("Move: {error}"));
    expect_type(moved, CapType::Endpoint, "the moved capability");
    expect_type(copy.cptr(), CapType::Null, "the slot a capability moved out of");

    // A CNode of 16 slots resolves 4 bits. Mutated with a 60-bit guard of 0, its capability
    // resolves a whole 64-bit CPtr, so it can serve as the root of a depth-64 lookup.
    let cnode: CNode = root.make(ObjectType::CNode { slot_bits: 4 });
    let unguarded = root.copy(cnode, Rights::ALL);
    let guarded = root.slot();
    let guard = CNodeGuard::new(0, 60).unwrap_or_else(|error| panic!("{error}"));
    init::CNODE
        .slot(guarded)
        .mutate_from(root.ipc, init::CNODE.slot(unguarded.cptr()), guard)
        .unwrap_or_else(|error| panic!("Mutate with a guard: {error}"));
    let guarded: CNode = Cap::from_cptr(guarded);
    expect_error(
        CSlot::new(cnode, 3, 64).copy_from(
            root.ipc,
            init::CNODE.slot(endpoint.cptr()),
            Rights::ALL,
        ),
        Error::FailedLookup,
        "a depth-64 lookup through a CNode without a guard",
    );
    CSlot::new(guarded, 3, 64)
        .copy_from(root.ipc, init::CNODE.slot(endpoint.cptr()), Rights::ALL)
        .unwrap_or_else(|error| panic!("a depth-64 copy through the guarded CNode: {error}"));
    // The same slot, named through the unguarded capability with its own 4 bits.
    CSlot::new(cnode, 3, 4)
        .delete()
        .unwrap_or_else(|error| panic!("deleting through the 4-bit path: {error}"));
    expect_error(
        CSlot::new(cnode, 3, 4).move_from(root.ipc, CSlot::new(guarded, 3, 64)),
        Error::FailedLookup,
        "moving out of the slot just deleted",
    );

    init::CNODE.slot(moved).delete().unwrap_or_else(|error| panic!("Delete: {error}"));
    expect_type(moved, CapType::Null, "a deleted slot");
    root.pass(
        "cnode",
        format_args!(
            "Copy with read-only rights, Move, Mutate to a 60-bit guard (a depth-64 lookup \
             goes through it, not through the unguarded copy), Delete"
        ),
    );
}

/// Revoke removes every capability derived from a slot and keeps the slot's own.
pub fn revoke(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    let child = root.mint(endpoint, Rights::ALL, 5);
    let grandchild = root.copy(child, Rights::WRITE);
    expect_type(grandchild.cptr(), CapType::Endpoint, "a copy of a minted endpoint");

    init::CNODE.slot(endpoint.cptr()).revoke().unwrap_or_else(|error| panic!("Revoke: {error}"));
    expect_type(endpoint.cptr(), CapType::Endpoint, "the revoked capability itself");
    expect_type(child.cptr(), CapType::Null, "a minted child after Revoke");
    expect_type(grandchild.cptr(), CapType::Null, "a grandchild after Revoke");
    let target = root.slot();
    expect_error(
        init::CNODE.slot(target).copy_from(root.ipc, init::CNODE.slot(child.cptr()), Rights::ALL),
        Error::FailedLookup,
        "copying from a revoked slot",
    );
    root.pass(
        "revoke",
        format_args!(
            "minted child and its copy gone (DebugCapIdentify: Null; Copy from them: \
             FailedLookup), the original kept"
        ),
    );
}

/// Wrong invocations come back as the kernel's specific error, not a hang.
pub fn errors(root: &mut Root) {
    let endpoint: Endpoint = root.make(ObjectType::Endpoint);
    let occupied: Endpoint = root.make(ObjectType::Endpoint);
    let badge = Badge::new(9).unwrap_or_else(|error| panic!("{error}"));
    expect_error(
        init::CNODE.slot(occupied.cptr()).mint_from(
            root.ipc,
            init::CNODE.slot(endpoint.cptr()),
            Rights::ALL,
            badge,
        ),
        Error::DeleteFirst,
        "Mint into an occupied slot",
    );
    let free = root.slot();
    let retype = |root: &mut Root, object: ObjectType, slot: u64, count: u64| {
        root.untyped.retype(root.ipc, object, RetypeTarget::slots_of(init::CNODE, slot), count)
    };
    expect_error(
        retype(root, ObjectType::Untyped { size_bits: 48 }, free, 1),
        Error::RangeError,
        "Retype of an untyped larger than the kernel allows",
    );
    expect_error(
        retype(root, ObjectType::CNode { slot_bits: 0 }, free, 1),
        Error::InvalidArgument,
        "Retype of a CNode with no slots",
    );
    expect_error(
        retype(root, ObjectType::Endpoint, occupied.cptr(), 1),
        Error::DeleteFirst,
        "Retype into an occupied slot",
    );
    expect_error(
        retype(root, ObjectType::Endpoint, free, 0),
        Error::RangeError,
        "Retype of zero objects",
    );
    expect_error(
        init::CNODE.slot(free).mutate_from(root.ipc, init::CNODE.slot(endpoint.cptr()), badge),
        Error::IllegalOperation,
        "Mutate that would badge an endpoint",
    );
    expect_error(
        init::TCB.cast::<kind::CNode>().slot(free).delete(),
        Error::IllegalOperation,
        "a CNode invocation sent to a TCB",
    );
    let empty: Cap<kind::Tcb> = Cap::from_cptr(free);
    expect_error(empty.suspend(), Error::InvalidCapability, "invoking an empty slot");
    expect_error(
        init::TCB.read_registers(root.ipc, false),
        Error::IllegalOperation,
        "ReadRegisters of the calling thread",
    );
    expect_type(free, CapType::Null, "the slot every failed call aimed at");
    assert!(Badge::new(1 << 28).is_err(), "a 29-bit badge was accepted");
    root.pass(
        "errors",
        format_args!(
            "Mint into occupied slot: DeleteFirst; Retype 2^48 untyped: RangeError; 0-slot \
             CNode: InvalidArgument; into occupied slot: DeleteFirst; 0 objects: RangeError; \
             badging Mutate: IllegalOperation; CNode call on a TCB: IllegalOperation; empty \
             slot: InvalidCapability; own ReadRegisters: IllegalOperation"
        ),
    );
}

/// Writes a pattern to the `words` 64-bit words at `address` (stride 512 bytes) and checks
/// it reads back.
fn write_and_check(address: u64, words: u64, seed: u64) {
    for index in 0..words {
        let pointer = (address + index * 512) as *mut u64;
        // SAFETY: the caller just mapped a frame read-write at `address` covering
        // `words * 512` bytes, at an address nothing else in this program uses.
        unsafe { pointer.write_volatile(seed ^ index) };
    }
    check_pattern(address, words, seed);
}

/// Checks the pattern [`write_and_check`] wrote.
fn check_pattern(address: u64, words: u64, seed: u64) {
    for index in 0..words {
        let pointer = (address + index * 512) as *const u64;
        // SAFETY: as in `write_and_check`: a frame mapped read-write there by the caller.
        let value = unsafe { pointer.read_volatile() };
        assert_eq!(value, seed ^ index, "word {index} at {address:#x}");
    }
}

/// PDPT, page directory, page table and frames mapped in the root task's own VSpace at a
/// fresh 512 GiB region; memory written, read back, remapped, unmapped.
pub fn map_frames(root: &mut Root, large_page: LargePage) {
    const BASE: u64 = 0x80_0000_0000;
    const LARGE_AT: u64 = BASE + 0x20_0000;
    let pdpt: Pdpt = root.make(ObjectType::Pdpt);
    let directory: PageDirectory = root.make(ObjectType::PageDirectory);
    let table: PageTable = root.make(ObjectType::PageTable);
    let spare_table: PageTable = root.make(ObjectType::PageTable);
    let frame: Frame = root.make(ObjectType::Frame);
    let vspace = init::VSPACE;
    let attributes = VmAttributes::DEFAULT;

    expect_error(
        frame.map(root.ipc, vspace, BASE, Rights::READ_WRITE, attributes),
        Error::FailedLookup,
        "mapping a frame with no page table there",
    );
    pdpt.map(root.ipc, vspace, BASE, attributes)
        .unwrap_or_else(|error| panic!("PDPT map: {error}"));
    directory
        .map(root.ipc, vspace, BASE, attributes)
        .unwrap_or_else(|error| panic!("page directory map: {error}"));
    table
        .map(root.ipc, vspace, BASE, attributes)
        .unwrap_or_else(|error| panic!("page table map: {error}"));
    expect_error(
        spare_table.map(root.ipc, vspace, BASE, attributes),
        Error::DeleteFirst,
        "a second page table over the first",
    );
    frame
        .map(root.ipc, vspace, BASE, Rights::READ_WRITE, attributes)
        .unwrap_or_else(|error| panic!("frame map: {error}"));
    write_and_check(BASE, 8, 0x5eed_0000_0000_0001);

    let physical =
        frame.physical_address().unwrap_or_else(|error| panic!("frame GetAddress: {error}"));
    let untyped = root.untyped_info;
    assert!(
        (untyped.paddr..untyped.paddr + untyped.bytes()).contains(&physical),
        "frame at {physical:#x} is outside its untyped at {:#x}",
        untyped.paddr
    );
    expect_error(
        frame.map(root.ipc, vspace, BASE + 0x1000, Rights::READ_WRITE, attributes),
        Error::InvalidCapability,
        "mapping a frame that is already mapped",
    );
    frame.unmap().unwrap_or_else(|error| panic!("frame unmap: {error}"));
    frame
        .map(root.ipc, vspace, BASE + 0x1000, Rights::READ_WRITE, attributes)
        .unwrap_or_else(|error| panic!("frame remap: {error}"));
    check_pattern(BASE + 0x1000, 8, 0x5eed_0000_0000_0001);

    large_page
        .map(root.ipc, vspace, LARGE_AT, Rights::READ_WRITE, attributes)
        .unwrap_or_else(|error| panic!("2 MiB page map: {error}"));
    write_and_check(LARGE_AT, 4096, 0x1a26e);

    frame.unmap().unwrap_or_else(|error| panic!("frame unmap: {error}"));
    large_page.unmap().unwrap_or_else(|error| panic!("2 MiB page unmap: {error}"));
    table.unmap().unwrap_or_else(|error| panic!("page table unmap: {error}"));
    directory.unmap().unwrap_or_else(|error| panic!("page directory unmap: {error}"));
    pdpt.unmap().unwrap_or_else(|error| panic!("PDPT unmap: {error}"));
    root.pass(
        "map-frame",
        format_args!(
            "PDPT, page directory, page table and 4 KiB frame mapped at {BASE:#x}, written and \
             read back; frame at physical {physical:#x}; remapped at +0x1000 with its data; \
             2 MiB page at {LARGE_AT:#x} written over 2 MiB; all unmapped; double map: \
             InvalidCapability; table over table: DeleteFirst; no table: FailedLookup"
        ),
    );
}

/// A new VSpace gets an ASID from the initial pool and from a pool made with ASIDControl.
pub fn asid_pools(root: &mut Root) {
    let vspace: Pml4 = root.make(ObjectType::Pml4);
    let pdpt: Pdpt = root.make(ObjectType::Pdpt);
    expect_error(
        pdpt.map(root.ipc, vspace, 0, VmAttributes::DEFAULT),
        Error::InvalidCapability,
        "mapping into a VSpace without an ASID",
    );
    init::ASID_POOL
        .assign(root.ipc, vspace)
        .unwrap_or_else(|error| panic!("ASIDPool assign: {error}"));
    pdpt.map(root.ipc, vspace, 0, VmAttributes::DEFAULT)
        .unwrap_or_else(|error| panic!("mapping into the assigned VSpace: {error}"));

    let pool_memory: cap::Untyped = root.make(ObjectType::Untyped { size_bits: 12 });
    let pool_slot = root.slot();
    init::ASID_CONTROL
        .make_pool(root.ipc, pool_memory, init::CNODE.slot(pool_slot))
        .unwrap_or_else(|error| panic!("ASIDControl make pool: {error}"));
    expect_type(pool_slot, CapType::AsidPool, "a new ASID pool");
    let pool: cap::AsidPool = Cap::from_cptr(pool_slot);
    let second: Pml4 = root.make(ObjectType::Pml4);
    pool.assign(root.ipc, second)
        .unwrap_or_else(|error| panic!("assigning from the new pool: {error}"));
    root.pass(
        "asid-pool",
        format_args!(
            "unassigned VSpace refuses a PDPT (InvalidCapability), accepts it after \
             ASIDPool_Assign; ASIDControl_MakePool made a pool that assigns another VSpace"
        ),
    );
}

/// COM1's scratch register (8 bits), the PCI configuration address (32) and the host
/// bridge's identifiers and command register (16).
pub fn io_ports(root: &mut Root) {
    const COM1_SCRATCH: u16 = 0x3ff;
    const PCI_ADDRESS: u16 = 0xcf8;
    const PCI_DATA: u16 = 0xcfc;
    let ports = init::IO_PORT;
    let fail = |what: &str, error: Error| -> ! { panic!("{what}: {error}") };

    for value in [0x5a, 0xa5] {
        ports.out8(COM1_SCRATCH, value).unwrap_or_else(|error| fail("Out8", error));
        let read = ports.in8(COM1_SCRATCH).unwrap_or_else(|error| fail("In8", error));
        assert_eq!(read, value, "COM1 scratch register");
    }

    let bridge_id = 0x8000_0000;
    ports.out32(PCI_ADDRESS, bridge_id).unwrap_or_else(|error| fail("Out32", error));
    let address = ports.in32(PCI_ADDRESS).unwrap_or_else(|error| fail("In32", error));
    assert_eq!(address, bridge_id, "PCI configuration address");
    let vendor = ports.in16(PCI_DATA).unwrap_or_else(|error| fail("In16", error));
    let device = ports.in16(PCI_DATA + 2).unwrap_or_else(|error| fail("In16", error));
    assert_eq!(vendor, 0x8086, "host bridge vendor");

    // Write the host bridge's command register back unchanged.
    ports.out32(PCI_ADDRESS, bridge_id | 0x04).unwrap_or_else(|error| fail("Out32", error));
    let command = ports.in16(PCI_DATA).unwrap_or_else(|error| fail("In16", error));
    ports.out16(PCI_DATA, command).unwrap_or_else(|error| fail("Out16", error));
    let again = ports.in16(PCI_DATA).unwrap_or_else(|error| fail("In16", error));
    assert_eq!(again, command, "host bridge command register");
    ports.out32(PCI_ADDRESS, 0).unwrap_or_else(|error| fail("Out32", error));
    root.pass(
        "ioport",
        format_args!(
            "Out8/In8 COM1 scratch 0x5a and 0xa5; Out32/In32 PCI address; In16 host bridge \
             {vendor:#06x}:{device:#06x}; Out16/In16 its command register {command:#06x}"
        ),
    );
}

/// Badged signals OR into the notification word; Poll and Wait read and clear it.
pub fn notifications(root: &mut Root) {
    let notification: Notification = root.make(ObjectType::Notification);
    let first = root.mint(notification, Rights::WRITE, 0b01);
    let second = root.mint(notification, Rights::WRITE, 0b10);
    assert_eq!(notification.poll(), 0, "a fresh notification is not empty");
    first.signal();
    second.signal();
    assert_eq!(notification.poll(), 0b11, "two badged signals");
    assert_eq!(notification.poll(), 0, "Poll did not clear the word");
    first.signal();
    let word = notification.wait();
    assert_eq!(word, 0b01, "Wait after one signal");
    root.pass(
        "notification",
        format_args!("signals with badges 0b01 and 0b10 poll as 0b11, then 0; Wait returns 0b01"),
    );
}
