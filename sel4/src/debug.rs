//! The debug syscalls of a debug kernel: printing through the kernel's console (its serial
//! port), halting, identifying the capability in a slot, and naming a thread (the name shows
//! in the kernel's error and fault reports).
//!
//! Only a debug kernel (`CONFIG_DEBUG_BUILD`) has them. On a release kernel each is an unknown
//! syscall (seL4 5.0.0 `src/api/syscall.c`, `handleUnknownSyscall`): the calling thread takes
//! an `UnknownSyscall` fault to its fault handler, or, without one (the root task), stops for
//! good with nothing printed. Root tasks print with `sel4_root_task::println!` instead.

use core::fmt;

use crate::cap::{CPtr, Tcb};
use crate::ipc_buffer::{IpcBuffer, NameError};
use crate::kernel::{self, syscall_number};
use crate::syscall::{self, Registers};

/// The type of the capability in a slot, as `DebugCapIdentify` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapType {
    Null,
    Untyped,
    Endpoint,
    Notification,
    Reply,
    CNode,
    Tcb,
    IrqControl,
    IrqHandler,
    Zombie,
    Domain,
    /// A frame of any size.
    Frame,
    PageTable,
    PageDirectory,
    Pdpt,
    Pml4,
    AsidControl,
    AsidPool,
    IoSpace,
    IoPageTable,
    IoPort,
    /// A tag this binding does not name.
    Other(u64),
}

/// The type of the capability at `cptr` in the caller's CSpace ([`CapType::Null`] for an
/// empty slot or a CPtr that resolves to none).
pub fn cap_identify(cptr: CPtr) -> CapType {
    let out = syscall::syscall(
        syscall_number::DEBUG_CAP_IDENTIFY,
        Registers { cap_or_badge: cptr, ..Registers::default() },
    );
    kernel::cap_type_from_tag(out.cap_or_badge)
}

/// Names thread `tcb` for the kernel's reports. The name goes through the caller's IPC
/// buffer. The kernel halts the system when `tcb` is not a TCB capability; the name is
/// checked here (at most 959 bytes, no NUL) so that it cannot make the kernel halt.
pub fn name_thread(ipc: &mut IpcBuffer, tcb: Tcb, name: &str) -> Result<(), NameError> {
    ipc.write_c_string(name)?;
    syscall::syscall_with_buffer(
        syscall_number::DEBUG_NAME_THREAD,
        Registers { cap_or_badge: tcb.cptr(), ..Registers::default() },
        core::ptr::from_mut(ipc),
    );
    Ok(())
}

/// Writes one byte to the kernel's debug console.
pub fn put_char(byte: u8) {
    syscall::syscall(
        syscall_number::DEBUG_PUT_CHAR,
        Registers { cap_or_badge: byte as u64, ..Registers::default() },
    );
}

/// Stops the whole system (debug kernels only).
pub fn halt() -> ! {
    syscall::syscall(syscall_number::DEBUG_HALT, Registers::default());
    // A debug kernel does not return from a halt; a release kernel faults the caller, and
    // should its fault handler resume it here, spin.
    loop {
        core::hint::spin_loop();
    }
}

/// A [`fmt::Write`] onto the debug console.
#[derive(Clone, Copy, Debug, Default)]
pub struct DebugConsole;

impl fmt::Write for DebugConsole {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        text.bytes().for_each(put_char);
        Ok(())
    }
}

/// Prints to the kernel's debug console.
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::debug::DebugConsole, format_args!($($arg)*));
    }};
}

/// Prints a line to the kernel's debug console.
#[macro_export]
macro_rules! debug_println {
    () => { $crate::debug_print!("\n") };
    ($($arg:tt)*) => {{
        $crate::debug_print!($($arg)*);
        $crate::debug_print!("\n");
    }};
}
