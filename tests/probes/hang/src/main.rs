//! A root task that never gives a verdict: the runner must end the run on its timeout.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use sel4::BootInfo;
use sel4_root_task::println;

sel4_root_task::main!(main);

fn main(_bootinfo: &'static BootInfo) -> ! {
    println!("probe-hang: spinning forever");
    loop {
        core::hint::spin_loop();
    }
}
