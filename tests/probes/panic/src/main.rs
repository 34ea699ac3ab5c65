//! A root task that panics: the run must fail, showing the message and its location.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use sel4::BootInfo;
use sel4_root_task::println;

sel4_root_task::main!(main);

fn main(bootinfo: &'static BootInfo) -> ! {
    println!("probe-panic: {} untyped caps, about to panic", bootinfo.untypeds().count());
    panic!("deliberate panic number {}", bootinfo.untypeds().count().min(1) + 41)
}
