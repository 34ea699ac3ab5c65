//! `sel4-root-task`: what a program needs to run as seL4's root task.
//!
//! - `_start`: the kernel starts the root task with the boot-info address in rdi and no
//!   stack (rsp = 0); the entry code points rsp at a static stack, sets up the serial port
//!   ([`serial::init`]) and calls the program's main, declared with [`main!`].
//! - [`serial`], [`print!`] and [`println!`]: output on COM1, written by the root task itself
//!   through its IOPort capability. A release kernel prints nothing and has no debug system
//!   calls, so this is how a root task talks on either kernel.
//! - [`exit`]: prints the run's verdict line on serial and ends the QEMU run through the
//!   `isa-debug-exit` device (I/O port 0xf4), which the `qemu` tool turns into its exit code.
//! - [`stop`]: stops the root task without a debug system call.
//! - The panic handler: prints the message and location, then exits with a failure verdict.
//!
//! - [`pit`]: the PC's 8254 PIT as a periodic interrupt: counter 0 programmed through the
//!   IOPort capability, its IOAPIC pin routed to an IRQ handler that signals a notification.
//! - [`scratch`]: a window in the root task's address space for reading and writing frames.
//!
//! Every seL4 program of the workspace is linked with this crate's `root-task.ld` (named in
//! `.cargo/config.toml`).
#![no_std]

pub mod pit;
pub mod scratch;
pub mod serial;
pub mod shared;

#[cfg(target_os = "none")]
use core::sync::atomic::{AtomicBool, Ordering};

pub use sel4;
#[cfg(target_os = "none")]
use sel4::BootInfo;
use sel4::cap::{IoPort, Tcb};
use sel4::kernel::init_slot;

/// The size of the root task's initial stack.
pub const STACK_BYTES: usize = 256 * 1024;

/// The prefix of the verdict line the `qemu` tool watches for on serial.
pub const VERDICT_PREFIX: &str = "SWITCHBOARD-VERDICT:";

/// The I/O port of QEMU's `isa-debug-exit` device, as the `qemu` tool configures it.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// How a run ended. QEMU exits with status `(code << 1) | 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    /// The value written to the debug-exit port: QEMU then exits with 33 (pass) or 35 (fail).
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0x10,
            Verdict::Fail => 0x11,
        }
    }

    pub const fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        }
    }
}

#[cfg(target_os = "none")]
#[repr(C, align(16))]
struct Stack([u8; STACK_BYTES]);

#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
static mut SWITCHBOARD_ROOT_TASK_STACK: Stack = Stack([0; STACK_BYTES]);

// The entry point: the kernel passes the boot-info address in rdi and leaves rsp = 0.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    "    lea rsp, [rip + {stack} + {stack_bytes}]",
    "    xor rbp, rbp",
    "    call {entry}",
    "    ud2",
    stack = sym SWITCHBOARD_ROOT_TASK_STACK,
    stack_bytes = const STACK_BYTES,
    entry = sym root_task_entry,
);

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// The program's main, defined by [`main!`].
    fn __switchboard_root_task_main(bootinfo: &'static BootInfo) -> !;
}

#[cfg(target_os = "none")]
extern "C" fn root_task_entry(bootinfo_address: usize) -> ! {
    // SAFETY: `_start` passes on the boot-info address the kernel gave the root task in rdi;
    // the kernel maps that page for the root task's whole life.
    let bootinfo = unsafe { BootInfo::from_address(bootinfo_address) };
    // Without the IOPort capability nothing can be printed, nor the run ended: go on, and
    // let the run end on its timeout.
    let _ = serial::init();
    // SAFETY: `main!` defines this symbol with exactly this signature; a program that does
    // not use `main!` fails to link rather than reaching here.
    unsafe { __switchboard_root_task_main(bootinfo) }
}

/// Declares the root task's main: `fn(&'static BootInfo) -> !`.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __switchboard_root_task_main(bootinfo: &'static $crate::sel4::BootInfo) -> ! {
            let main: fn(&'static $crate::sel4::BootInfo) -> ! = $main;
            main(bootinfo)
        }
    };
}

/// Prints the verdict line and ends the QEMU run with it. Should QEMU not exit (no
/// `isa-debug-exit` device, or no IOPort capability), the root task [`stop`]s.
pub fn exit(verdict: Verdict) -> ! {
    println!("{VERDICT_PREFIX} {}", verdict.word());
    let io_port = IoPort::from_cptr(init_slot::IO_PORT);
    if let Err(error) = io_port.out8(DEBUG_EXIT_PORT, verdict.exit_code()) {
        println!("cannot reach the debug-exit port: {error}; stopping the root task");
    }
    stop()
}

/// Stops the root task for good: suspends its initial thread (`init_slot::TCB`), then, should
/// that return (a thread other than the initial one calling this, or a missing capability),
/// yields for ever. Unlike `sel4::debug::halt`, this needs no debug system call: on a release
/// kernel `DebugHalt` does not exist, and the root task, which has no fault handler, would just
/// fault.
pub fn stop() -> ! {
    let _ = Tcb::from_cptr(init_slot::TCB).suspend();
    loop {
        sel4::ipc::yield_now();
    }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::Relaxed) {
        // A panic while reporting a panic: stop without formatting anything more.
        stop();
    }
    match info.location() {
        Some(location) => println!(
            "root task panicked at {}:{}:{}: {}",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => println!("root task panicked: {}", info.message()),
    }
    exit(Verdict::Fail)
}
