//! A root task that panics: the run must fail, showing the message and its location.
#![no_std]
#![no_main]

use sel4::{BootInfo, debug_println};

sel4_root_task::main!(main);

fn main(bootinfo: &'static BootInfo) -> ! {
    debug_println!("probe-panic: {} untyped caps, about to panic", bootinfo.untypeds().count());
    panic!("deliberate panic number {}", bootinfo.untypeds().count().min(1) + 41)
}
