//! `realm-runtime`: what a Switchboard realm program links against.
//!
//! The start-up contract with the memory manager, which builds every realm:
//! - the realm's thread starts at the ELF entry `_start` with rsp at the top of a stack the
//!   memory manager mapped (an unmapped guard page lies below it) and rdi holding the
//!   address of the thread's IPC buffer;
//! - its CSpace is a single CNode whose slots are addressed by plain indices.
//!
//! A program declares its main with [`main!`]; printing goes through the kernel's debug
//! console ([`sel4::debug_println`]). A panic prints its message and location, then stops
//! the realm with an invalid instruction, which the kernel reports to the memory manager as
//! a fault of this realm.
#![no_std]

pub use sel4;

// The entry point: rsp and rdi were set by the memory manager.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    "    and rsp, -16",
    "    xor rbp, rbp",
    "    call {entry}",
    "    ud2",
    entry = sym realm_entry,
);

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// The program's main, defined by [`main!`].
    fn __switchboard_realm_main();
}

#[cfg(target_os = "none")]
extern "C" fn realm_entry(_ipc_buffer: usize) -> ! {
    // SAFETY: `main!` defines this symbol with exactly this signature; a program that does
    // not use `main!` fails to link rather than reaching here.
    unsafe { __switchboard_realm_main() };
    stop()
}

/// Declares the realm's main: `fn()`. When it returns, the realm stops.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __switchboard_realm_main() {
            let main: fn() = $main;
            main()
        }
    };
}

/// Stops this realm's thread: the invalid instruction is reported to the memory manager.
pub fn stop() -> ! {
    loop {
        // SAFETY: `ud2` only raises an invalid-opcode exception; the kernel turns it into a
        // fault message to the memory manager and never resumes this thread.
        unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(location) => sel4::debug_println!(
            "realm panicked at {}:{}:{}: {}",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => sel4::debug_println!("realm panicked: {}", info.message()),
    }
    stop()
}
