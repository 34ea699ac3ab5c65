//! The memory manager: Switchboard's seL4 root task.
//!
//! Today it reads the boot info, prints the banner (kernel version, untyped capabilities,
//! RAM, free slots) and ends the run with a success verdict. Realms and the broker come next.
#![no_std]
#![no_main]

use sel4::{BootInfo, debug_println};
use sel4_root_task::Verdict;

sel4_root_task::main!(main);

fn main(bootinfo: &'static BootInfo) -> ! {
    print_banner(bootinfo);
    sel4_root_task::exit(Verdict::Pass)
}

fn print_banner(bootinfo: &BootInfo) {
    let (mut ram_caps, mut ram_bytes, mut device_caps) = (0u64, 0u64, 0u64);
    for untyped in bootinfo.untypeds() {
        if untyped.is_device {
            device_caps += 1;
        } else {
            ram_caps += 1;
            ram_bytes += untyped.bytes();
        }
    }
    let empty = bootinfo.empty_slots();
    debug_println!("Switchboard memory manager");
    debug_println!("  kernel: seL4 {} (x86_64, pc99)", sel4::kernel::VERSION);
    debug_println!(
        "  untyped caps: {} ({} RAM, {} device)",
        ram_caps + device_caps,
        ram_caps,
        device_caps
    );
    debug_println!(
        "  RAM untyped: {} bytes ({} MiB)",
        ram_bytes,
        ram_bytes >> 20
    );
    debug_println!(
        "  free slots: {}..{} ({} slots)",
        empty.start,
        empty.end,
        empty.end - empty.start
    );
}
