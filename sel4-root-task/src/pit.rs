//! The PC's 8254 PIT as a periodic timer interrupt for a root task: counter 0 in rate-generator
//! mode, programmed through the root task's IOPort capability
//! (`sel4::kernel::init_slot::IO_PORT`), its interrupt taken through an IOAPIC IRQ handler
//! issued from the IRQ control capability, signalling a notification.
//!
//! The arithmetic (divisor, period, control words, datasheet references) is in the
//! kernel-free `clock` crate ([`clock::pit`]); this module only performs it.
//!
//! Routing: the PIT's counter 0 drives ISA IRQ 0, which a PC with an IOAPIC delivers on the
//! first IOAPIC's pin 2, edge-triggered and active high (the ACPI MADT's interrupt source
//! override; QEMU's `pc` machine has it, and seL4's debug kernel prints it at boot as
//! `ACPI: MADT_ISO bus=0 source=0 gsi=2 flags=0x0`). seL4 5.0.0 does not apply overrides
//! itself: the pin is ours to name ([`PIT_PIN`]).
//!
//! The kernel programmed the PIT too, before the root task started: it calibrates the TSC
//! against it (`tsc_init`, `src/plat/pc99/machine/hardware.c`) and leaves counter 0 running.
//! Its edges reach nothing while the pin is masked, as the kernel leaves every pin.

use clock::pit::{self, Divisor};
use sel4::Error;
use sel4::cap::irq::{IoApicPin, UserIrq};
use sel4::cap::{CSlot, IoPort, IrqControl, IrqHandler, Notification};
use sel4::ipc_buffer::IpcBuffer;

/// The IOAPIC pin ISA IRQ 0 (the PIT) arrives on: pin 2 of the first IOAPIC, edge-triggered,
/// active high.
pub const PIT_PIN: IoApicPin = IoApicPin::isa(2);

/// Programs counter 0 as a rate generator: one interrupt every `divisor` input clocks,
/// starting once the count's high byte is written.
pub fn program_rate_generator(io_port: IoPort, divisor: Divisor) -> Result<(), Error> {
    let [low, high] = divisor.reload_bytes();
    io_port.out8(pit::COMMAND_PORT, pit::RATE_GENERATOR_CHANNEL0)?;
    io_port.out8(pit::CHANNEL0_PORT, low)?;
    io_port.out8(pit::CHANNEL0_PORT, high)
}

/// Counter 0's current count (latched, then read low byte first): it runs down from the
/// divisor's count to 1 and reloads. A count of 2^16 reads as 0.
pub fn read_count(io_port: IoPort) -> Result<u16, Error> {
    io_port.out8(pit::COMMAND_PORT, pit::LATCH_CHANNEL0)?;
    let low = io_port.in8(pit::CHANNEL0_PORT)?;
    let high = io_port.in8(pit::CHANNEL0_PORT)?;
    Ok(u16::from_le_bytes([low, high]))
}

/// A running PIT interrupt: counter 0 programmed, its IOAPIC pin routed to an IRQ handler
/// that signals a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PitTimer {
    handler: IrqHandler,
    divisor: Divisor,
}

impl PitTimer {
    /// Programs counter 0 with `divisor`, issues an IRQ handler for [`PIT_PIN`] as user IRQ
    /// `irq` into the empty slot `handler_slot`, and makes it signal `notification` (whose
    /// badge the signals carry). The pin is left masked: the first [`PitTimer::ack`] starts
    /// the ticks.
    pub fn start(
        ipc: &mut IpcBuffer,
        io_port: IoPort,
        irq_control: IrqControl,
        handler_slot: CSlot,
        irq: UserIrq,
        notification: Notification,
        divisor: Divisor,
    ) -> Result<Self, Error> {
        program_rate_generator(io_port, divisor)?;
        let handler = irq_control.issue_ioapic_handler(ipc, handler_slot, PIT_PIN, irq)?;
        handler.set_notification(ipc, notification)?;
        Ok(Self { handler, divisor })
    }

    /// Acknowledges the interrupt: unmasks the pin so that the next period's edge is
    /// delivered. An edge while the pin is masked is lost.
    pub fn ack(&self) -> Result<(), Error> {
        self.handler.ack()
    }

    /// The IRQ handler capability.
    pub fn handler(&self) -> IrqHandler {
        self.handler
    }

    /// The divisor counter 0 runs with.
    pub fn divisor(&self) -> Divisor {
        self.divisor
    }
}
