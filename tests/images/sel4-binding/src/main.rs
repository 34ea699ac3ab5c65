//! The `sel4` binding on the real kernel: a root task that exercises every invocation family
//! and syscall of the binding and prints one `check <name>: ok (...)` line per check. A failed
//! check panics, which fails the run with its message; the run passes only after the last.
//!
//! Objects come from the smallest RAM untyped of at least 4 MiB (the first retype zeroes the
//! whole untyped, so a small one keeps that quick). Other threads share the root task's
//! CSpace and VSpace (see `threads`).
#![no_std]
#![no_main]

mod faults;
mod ipc_checks;
mod objects;
mod threads;

use core::fmt;

use sel4::cap::kind::Kind;
use sel4::cap::{self, CPtr, Cap, ObjectType, RetypeTarget, Rights, init};
use sel4::debug::{self, CapType};
use sel4::{BootInfo, Error, IpcBuffer};
use sel4_root_task::Verdict;
use sel4_root_task::println;

sel4_root_task::main!(main);

/// The size of the untyped the test takes its objects from (at least).
const UNTYPED_SIZE_BITS: u8 = 22;

/// The root task's state: its IPC buffer, the untyped it allocates from, its free slots.
pub struct Root {
    pub ipc: &'static mut IpcBuffer,
    pub bootinfo: &'static BootInfo,
    pub untyped: cap::Untyped,
    pub untyped_info: sel4::bootinfo::Untyped,
    next_slot: CPtr,
    slots_end: CPtr,
    pub threads_started: usize,
    checks_passed: usize,
}

impl Root {
    fn new(bootinfo: &'static BootInfo) -> Self {
        let ipc = bootinfo.take_ipc_buffer().expect("the root task's IPC buffer is taken once");
        assert!(
            bootinfo.take_ipc_buffer().is_none(),
            "the root task's IPC buffer was handed out twice"
        );
        let untyped_info = bootinfo
            .untypeds()
            .filter(|untyped| !untyped.is_device && untyped.size_bits >= UNTYPED_SIZE_BITS)
            .min_by_key(|untyped| untyped.size_bits)
            .expect("a RAM untyped of at least 4 MiB");
        let slots = bootinfo.empty_slots();
        Root {
            ipc,
            bootinfo,
            untyped: Cap::from_cptr(untyped_info.cptr),
            untyped_info,
            next_slot: slots.start,
            slots_end: slots.end,
            threads_started: 0,
            checks_passed: 0,
        }
    }

    /// A free slot of the root CNode.
    pub fn slot(&mut self) -> CPtr {
        self.slots(1)
    }

    /// `count` consecutive free slots; the first is returned.
    pub fn slots(&mut self, count: u64) -> CPtr {
        let first = self.next_slot;
        assert!(first + count <= self.slots_end, "out of free slots");
        self.next_slot += count;
        first
    }

    /// A new object of type `object` from the test's untyped, in a new slot.
    pub fn make<K: Kind>(&mut self, object: ObjectType) -> Cap<K> {
        self.make_from(self.untyped, object)
    }

    /// A new object of type `object` from `untyped`, in a new slot, checked to be a `K`
    /// (unless `K` is `Null`, for callers that check the type themselves).
    pub fn make_from<K: Kind>(&mut self, untyped: cap::Untyped, object: ObjectType) -> Cap<K> {
        let slot = self.slot();
        untyped
            .retype(self.ipc, object, RetypeTarget::slots_of(init::CNODE, slot), 1)
            .unwrap_or_else(|error| panic!("retyping {object:?}: {error}"));
        if K::CAP_TYPE != CapType::Null {
            expect_type(slot, K::CAP_TYPE, K::NAME);
        }
        Cap::from_cptr(slot)
    }

    /// A copy of `source` with at most `rights`, in a new slot.
    pub fn copy<K: Kind>(&mut self, source: Cap<K>, rights: Rights) -> Cap<K> {
        let slot = self.slot();
        init::CNODE
            .slot(slot)
            .copy_from(self.ipc, init::CNODE.slot(source.cptr()), rights)
            .unwrap_or_else(|error| panic!("copying slot {}: {error}", source.cptr()));
        Cap::from_cptr(slot)
    }

    /// A capability derived from `source` with at most `rights` and `badge`, in a new slot.
    pub fn mint<K: Kind>(&mut self, source: Cap<K>, rights: Rights, badge: u64) -> Cap<K> {
        let slot = self.slot();
        let badge = cap::Badge::new(badge).unwrap_or_else(|error| panic!("{error}"));
        init::CNODE
            .slot(slot)
            .mint_from(self.ipc, init::CNODE.slot(source.cptr()), rights, badge)
            .unwrap_or_else(|error| panic!("minting from slot {}: {error}", source.cptr()));
        Cap::from_cptr(slot)
    }

    /// The addresses of the root task's own image.
    pub fn image(&self) -> core::ops::Range<u64> {
        let start = 0x40_0000;
        start..start + self.bootinfo.user_image_frames().count() as u64 * 4096
    }

    /// Prints the line of a passed check.
    pub fn pass(&mut self, name: &str, details: fmt::Arguments<'_>) {
        self.checks_passed += 1;
        println!("check {name}: ok ({details})");
    }
}

/// Asserts that the slot `cptr` holds a capability of type `expected`.
pub fn expect_type(cptr: CPtr, expected: CapType, what: &str) {
    let found = debug::cap_identify(cptr);
    assert_eq!(found, expected, "{what} (slot {cptr}) holds a {found:?} capability");
}

/// Asserts that `result` is the kernel error `expected`.
pub fn expect_error<T: fmt::Debug>(result: Result<T, Error>, expected: Error, what: &str) {
    assert_eq!(
        result.as_ref().err(),
        Some(&expected),
        "{what}: expected {expected}, got {result:?}"
    );
}

fn main(bootinfo: &'static BootInfo) -> ! {
    let mut root = Root::new(bootinfo);
    println!(
        "sel4-binding: objects from untyped slot {} ({} KiB at {:#x}); free slots {}..{}",
        root.untyped_info.cptr,
        root.untyped_info.bytes() / 1024,
        root.untyped_info.paddr,
        root.next_slot,
        root.slots_end
    );

    let large_page = objects::retype(&mut root);
    objects::cnode_operations(&mut root);
    objects::revoke(&mut root);
    objects::errors(&mut root);
    objects::map_frames(&mut root, large_page);
    objects::asid_pools(&mut root);
    objects::io_ports(&mut root);
    objects::notifications(&mut root);

    ipc_checks::prepare_thread_area(&mut root);
    let server = ipc_checks::start_server(&mut root);
    ipc_checks::long_messages(&mut root, &server);
    ipc_checks::reply_syscall(&mut root, &server);
    ipc_checks::badges(&mut root, &server);
    ipc_checks::send_and_nb_send(&mut root, &server);
    ipc_checks::nb_recv(&mut root);
    ipc_checks::cap_transfer(&mut root, &server);
    ipc_checks::cap_unwrap(&mut root, &server);
    ipc_checks::save_caller(&mut root, &server);
    ipc_checks::bound_notification(&mut root, &server);
    ipc_checks::set_ipc_buffer(&mut root, &server);
    let worker = ipc_checks::start_worker(&mut root);
    ipc_checks::priorities(&mut root, &worker);
    ipc_checks::mc_priority(&mut root, &server);
    ipc_checks::suspend_resume(&mut root, &worker);
    ipc_checks::registers(&mut root, &worker);
    ipc_checks::yield_to_equal_priority(&mut root);
    ipc_checks::cancel_badged_sends(&mut root);

    faults::faults(&mut root);

    println!("sel4-binding: all {} checks passed", root.checks_passed);
    sel4_root_task::exit(Verdict::Pass)
}
