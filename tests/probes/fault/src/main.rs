//! A root task that reads an unmapped address: the kernel reports the fault (the root task
//! has no fault handler) and the runner must fail the run with that report.
#![no_std]
#![no_main]

use sel4::BootInfo;
use sel4_root_task::println;

sel4_root_task::main!(main);

/// An address below the root task's image, never mapped.
const UNMAPPED: usize = 0x1000;

fn main(_bootinfo: &'static BootInfo) -> ! {
    println!("probe-fault: reading {UNMAPPED:#x}");
    let pointer = core::hint::black_box(UNMAPPED) as *const u64;
    // SAFETY: deliberately unsound: this probe exists to fault. The read goes to an address
    // nothing maps, so the kernel stops the thread before any value is produced.
    let value = unsafe { core::ptr::read_volatile(pointer) };
    panic!("probe-fault: the read of {UNMAPPED:#x} returned {value} instead of faulting")
}
