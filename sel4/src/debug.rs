//! Printing through the kernel's debug console (a debug kernel's serial port), and halting.

use core::fmt;

use crate::kernel::syscall_number;
use crate::syscall::{self, Registers};

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
    // The kernel does not return from a halt; should a non-debug kernel ignore it, spin.
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
