//! Output on the first serial port (COM1), written by the root task itself.
//!
//! A release kernel prints nothing and has no `DebugPutChar`, so the root task drives the
//! UART: a 16550 at I/O ports 0x3F8..0x3FF, reached through the root task's IOPort capability
//! (`sel4::kernel::init_slot::IO_PORT`, one `IOPort` invocation per register access). This
//! works the same on the debug kernel, whose own reports go to the same port.
//!
//! Registers and bits are those of the 16550 datasheet (National Semiconductor / TI
//! "PC16550D UART with FIFOs", register table; offsets from the base port):
//! - 0 data (THR on write), 1 interrupt enable; with the divisor latch access bit (DLAB) of
//!   the line control register set, 0 and 1 are the divisor's low and high byte;
//! - 2 FIFO control (write) / interrupt identification (read: bits 7..6 = 0b11 when the
//!   FIFOs are on);
//! - 3 line control, 4 modem control, 5 line status (bit 5, THRE: the transmit holding
//!   register, or in FIFO mode the whole transmit FIFO, is empty).
//!
//! [`init`] programs 115200 baud 8N1 with the FIFOs on (the root task's entry calls it before
//! main). QEMU's emulated 16550 needs none of it for output, but a real board does. Before
//! writing, [`Serial`] waits for THRE, then writes up to a FIFO's worth (16 bytes; 1 without
//! a FIFO) before it looks again, so under QEMU (where THRE is always set) it costs one extra
//! invocation per 16 bytes. The wait is bounded ([`POLL_LIMIT`] reads): a UART that never
//! becomes ready loses bytes instead of hanging the root task.
//!
//! Threads of the root task that print at once may interleave their bytes; nothing breaks.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

use sel4::Error;
use sel4::cap::IoPort;
use sel4::kernel::init_slot;

/// The base I/O port of COM1 on a PC (QEMU's `-serial` device).
pub const COM1: u16 = 0x3f8;

/// 16550 register offsets from the base port (datasheet register table).
mod register {
    /// Transmit holding register on write; with DLAB set, the divisor's low byte.
    pub const DATA: u16 = 0;
    /// Interrupt enable; with DLAB set, the divisor's high byte.
    pub const INTERRUPT_ENABLE: u16 = 1;
    /// FIFO control on write, interrupt identification on read.
    pub const FIFO_CONTROL: u16 = 2;
    pub const LINE_CONTROL: u16 = 3;
    pub const MODEM_CONTROL: u16 = 4;
    pub const LINE_STATUS: u16 = 5;
}

/// Line control: divisor latch access bit.
const LINE_CONTROL_DLAB: u8 = 1 << 7;
/// Line control: 8 data bits, no parity, 1 stop bit.
const LINE_CONTROL_8N1: u8 = 0b11;
/// The divisor for 115200 baud from the PC's 1.8432 MHz UART clock: 1843200 / (16 * 115200).
const DIVISOR_115200: u16 = 1;
/// FIFO control: enable, clear receive and transmit FIFOs, receive trigger at 14 bytes.
const FIFO_ENABLE_AND_CLEAR: u8 = 0xc7;
/// Modem control: DTR and RTS asserted (no OUT2: the root task takes no UART interrupts).
const MODEM_CONTROL_DTR_RTS: u8 = 0b11;
/// Interrupt identification bits 7..6: both set when the FIFOs are enabled (16550A).
const FIFOS_ENABLED: u8 = 0b1100_0000;
/// Line status: transmit holding register (in FIFO mode, transmit FIFO) empty.
const LINE_STATUS_THRE: u8 = 1 << 5;
/// The 16550's transmit FIFO depth.
const FIFO_BYTES: u8 = 16;

/// How many line-status reads [`Serial`] makes while waiting for THRE before it writes anyway.
/// At 115200 baud a full 16-byte FIFO drains in about 1.4 ms; this bound is far above that on
/// any machine and still ends a wait on a missing UART in well under a second.
pub const POLL_LIMIT: u32 = 100_000;

/// Bytes the transmitter takes without another look at THRE: [`FIFO_BYTES`] once [`init`]
/// found the FIFOs on, else 1.
static BURST: AtomicU8 = AtomicU8::new(1);
/// Bytes that may still be written before the next look at THRE.
static ROOM: AtomicU8 = AtomicU8::new(0);

fn port() -> IoPort {
    IoPort::from_cptr(init_slot::IO_PORT)
}

fn write_register(offset: u16, value: u8) -> Result<(), Error> {
    port().out8(COM1 + offset, value)
}

fn read_register(offset: u16) -> Result<u8, Error> {
    port().in8(COM1 + offset)
}

/// Programs COM1 for 115200 baud, 8N1, FIFOs on, no interrupts (nine IOPort invocations),
/// then writes a line break.
/// Fails with the kernel's error when the root task's IOPort capability cannot reach the port.
pub fn init() -> Result<(), Error> {
    write_register(register::INTERRUPT_ENABLE, 0)?;
    write_register(register::LINE_CONTROL, LINE_CONTROL_DLAB)?;
    let [low, high] = DIVISOR_115200.to_le_bytes();
    write_register(register::DATA, low)?;
    write_register(register::INTERRUPT_ENABLE, high)?;
    write_register(register::LINE_CONTROL, LINE_CONTROL_8N1)?;
    write_register(register::FIFO_CONTROL, FIFO_ENABLE_AND_CLEAR)?;
    write_register(register::MODEM_CONTROL, MODEM_CONTROL_DTR_RTS)?;
    let fifos = read_register(register::FIFO_CONTROL)? & FIFOS_ENABLED == FIFOS_ENABLED;
    BURST.store(if fifos { FIFO_BYTES } else { 1 }, Ordering::Relaxed);
    ROOM.store(0, Ordering::Relaxed);
    // The firmware leaves its last line open ("Booting from ROM.."), and a release kernel
    // prints nothing after it: start the root task's output on a line of its own.
    Serial.write_bytes(b"\n")
}

/// Waits (at most [`POLL_LIMIT`] reads) until the transmitter has room.
fn wait_for_room() -> Result<(), Error> {
    if ROOM.load(Ordering::Relaxed) > 0 {
        return Ok(());
    }
    for _ in 0..POLL_LIMIT {
        if read_register(register::LINE_STATUS)? & LINE_STATUS_THRE != 0 {
            ROOM.store(BURST.load(Ordering::Relaxed), Ordering::Relaxed);
            return Ok(());
        }
        core::hint::spin_loop();
    }
    // Never ready: write anyway, one byte at a time.
    ROOM.store(1, Ordering::Relaxed);
    Ok(())
}

/// COM1 as a [`fmt::Write`]: a newline goes out as CR LF (the terminal is in raw mode).
#[derive(Clone, Copy, Debug, Default)]
pub struct Serial;

impl Serial {
    /// Writes one byte as it is. Fails with the kernel's error when the root task's IOPort
    /// capability cannot reach COM1.
    pub fn write_byte(&mut self, byte: u8) -> Result<(), Error> {
        wait_for_room()?;
        // Saturating: another thread of the root task may have taken the last room.
        let _ = ROOM.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |room| {
            Some(room.saturating_sub(1))
        });
        write_register(register::DATA, byte)
    }

    /// Writes `bytes`, each `\n` as `\r\n`.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        for &byte in bytes {
            if byte == b'\n' {
                self.write_byte(b'\r')?;
            }
            self.write_byte(byte)?;
        }
        Ok(())
    }
}

impl fmt::Write for Serial {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_bytes(text.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Prints to COM1 through the root task's IOPort capability (see [`serial`](crate::serial)).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::serial::Serial, format_args!($($arg)*));
    }};
}

/// Prints a line to COM1 through the root task's IOPort capability.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        $crate::print!("{}\n", format_args!($($arg)*));
    }};
}
