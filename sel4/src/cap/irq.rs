//! Interrupts on x86 with the IOAPIC: issuing an IRQ handler capability for an IOAPIC pin
//! ([`IrqControl::issue_ioapic_handler`]), pointing it at a notification
//! ([`IrqHandler::set_notification`]), acknowledging ([`IrqHandler::ack`]) and clearing
//! ([`IrqHandler::clear`]).
//!
//! How seL4 5.0.0 delivers an interrupt (`src/object/interrupt.c`, `handleInterrupt`): it
//! signals the handler's notification with that notification capability's badge, then
//! **masks** the line until the handler is acknowledged. Issuing a handler leaves the pin
//! masked too (`ioapic_map_pin_to_vector` in `src/plat/pc99/machine/ioapic.c` writes the
//! redirection entry with the mask bit set), so the first [`IrqHandler::ack`] is what turns
//! the interrupt on. An edge that arrives while the pin is masked is lost, and signals that
//! arrive before a wait are ORed into one notification word: a waiter counts wake-ups, not
//! edges.
//!
//! The IRQ number the kernel files the handler under, and the CPU vector, come from the
//! invocation's last argument, an offset into the user range ([`UserIrq`],
//! [`crate::kernel::irq`]). The generic `IRQIssueIRQHandler` (ISA IRQs 0..16 through the
//! legacy PIC) is refused on a kernel configured for the IOAPIC, as ours is, so it has no
//! method here.

use crate::cap::{CSlot, Invocation, IrqControl, IrqHandler, Notification};
use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::kernel::{irq, label};

/// How the signal on an IOAPIC pin is read (the redirection entry's trigger mode bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Edge-triggered (ISA devices such as the PIT): the kernel's `level` argument 0.
    Edge,
    /// Level-triggered (PCI INTx): `level` 1.
    Level,
}

/// Which level of the pin is active (the redirection entry's polarity bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Active high (ISA): the kernel's `polarity` argument 0.
    ActiveHigh,
    /// Active low (PCI INTx): `polarity` 1.
    ActiveLow,
}

/// One input pin of an IOAPIC and how it signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicPin {
    /// Which IOAPIC, in the order the kernel found them in the ACPI MADT (0: the first).
    pub ioapic: u64,
    /// The pin, `0..24` (`IOAPIC_IRQ_LINES`), the ACPI global system interrupt less the
    /// IOAPIC's base.
    pub pin: u64,
    pub trigger: Trigger,
    pub polarity: Polarity,
}

impl IoApicPin {
    /// The pin of the first IOAPIC that an ISA interrupt arrives on: edge-triggered, active
    /// high, as ISA lines are unless the ACPI MADT's interrupt source override says otherwise.
    pub const fn isa(pin: u64) -> Self {
        Self { ioapic: 0, pin, trigger: Trigger::Edge, polarity: Polarity::ActiveHigh }
    }
}

/// An IRQ of the user range: the kernel's `vector` argument, an offset `0..USER_IRQS`. The
/// kernel files the handler under IRQ `FIRST_USER_IRQ + offset` and routes the pin to CPU
/// vector `IRQ_INT_OFFSET + FIRST_USER_IRQ + offset` (48 + offset on pc99).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserIrq(u64);

impl UserIrq {
    /// The user IRQ at `offset`, or [`Error::RangeError`] outside `0..USER_IRQS` (the
    /// kernel's own answer to such an offset).
    pub const fn new(offset: u64) -> Result<Self, Error> {
        if offset < irq::USER_IRQS { Ok(Self(offset)) } else { Err(Error::RangeError) }
    }

    /// The offset, as the kernel's `vector` argument takes it.
    pub const fn offset(self) -> u64 {
        self.0
    }

    /// The kernel's IRQ number for it.
    pub const fn irq_number(self) -> u64 {
        irq::FIRST_USER_IRQ + self.0
    }

    /// The CPU (IDT) vector the pin is routed to.
    pub const fn cpu_vector(self) -> u64 {
        irq::IRQ_INT_OFFSET + self.irq_number()
    }
}

/// `X86IRQIssueIRQHandlerIOAPIC`, in the kernel's argument order
/// (`Arch_decodeIRQControlInvocation`): destination index, depth, ioapic, pin, level,
/// polarity, vector; the destination CNode as the one extra cap.
pub const fn issue_ioapic_handler(
    destination: CSlot,
    pin: IoApicPin,
    irq: UserIrq,
) -> Invocation<7, 1> {
    let level = match pin.trigger {
        Trigger::Edge => 0,
        Trigger::Level => 1,
    };
    let polarity = match pin.polarity {
        Polarity::ActiveHigh => 0,
        Polarity::ActiveLow => 1,
    };
    Invocation {
        label: label::X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC,
        words: [
            destination.index,
            destination.depth as u64,
            pin.ioapic,
            pin.pin,
            level,
            polarity,
            irq.offset(),
        ],
        caps: [destination.root.cptr()],
    }
}

/// `IRQSetIRQHandler`: the notification as the one extra cap (it needs the write right).
pub const fn set_notification(notification: Notification) -> Invocation<0, 1> {
    Invocation { label: label::IRQ_SET_IRQ_HANDLER, words: [], caps: [notification.cptr()] }
}

/// `IRQAckIRQ`: no arguments.
pub const fn ack() -> Invocation<0, 0> {
    Invocation::words(label::IRQ_ACK_IRQ, [])
}

/// `IRQClearIRQHandler`: no arguments.
pub const fn clear() -> Invocation<0, 0> {
    Invocation::words(label::IRQ_CLEAR_IRQ_HANDLER, [])
}

impl IrqControl {
    /// Routes IOAPIC `pin` to user IRQ `irq` and puts a handler capability for it in
    /// `destination` (an empty slot). The pin stays masked until the first
    /// [`IrqHandler::ack`]. Errors as the kernel gives them: [`Error::RevokeFirst`] when `irq`
    /// already has a handler, [`Error::RangeError`] for a pin, IOAPIC or IRQ out of range,
    /// [`Error::DeleteFirst`] when the slot is full.
    pub fn issue_ioapic_handler(
        self,
        ipc: &mut IpcBuffer,
        destination: CSlot,
        pin: IoApicPin,
        irq: UserIrq,
    ) -> Result<IrqHandler, Error> {
        issue_ioapic_handler(destination, pin, irq).call_with_buffer(ipc, self)?;
        Ok(IrqHandler::from_cptr(destination.index))
    }
}

impl IrqHandler {
    /// Makes the interrupt signal `notification` (with that capability's badge) from now on,
    /// replacing any notification set before.
    pub fn set_notification(
        self,
        ipc: &mut IpcBuffer,
        notification: Notification,
    ) -> Result<(), Error> {
        set_notification(notification).call_with_buffer(ipc, self)?;
        Ok(())
    }

    /// Unmasks the line: the next interrupt will be delivered. Call it once after setting
    /// the notification, then after handling each interrupt.
    pub fn ack(self) -> Result<(), Error> {
        ack().call_in_registers(self)?;
        Ok(())
    }

    /// Removes the notification: interrupts that arrive are no longer delivered.
    pub fn clear(self) -> Result<(), Error> {
        clear().call_in_registers(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{Cap, init};

    #[test]
    fn ioapic_handler_arguments_follow_the_kernel_decoder() {
        let destination = init::CNODE.slot(300);
        let irq = UserIrq::new(2).unwrap();
        let invocation = issue_ioapic_handler(destination, IoApicPin::isa(2), irq);
        assert_eq!(invocation.label, label::X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC);
        assert_eq!(invocation.words, [300, 64, 0, 2, 0, 0, 2]);
        assert_eq!(invocation.caps, [init::CNODE.cptr()]);
        assert_eq!(invocation.info().length(), 7);
        assert_eq!(invocation.info().extra_caps(), 1);

        let pci = IoApicPin {
            ioapic: 0,
            pin: 11,
            trigger: Trigger::Level,
            polarity: Polarity::ActiveLow,
        };
        let invocation = issue_ioapic_handler(CSlot::new(init::CNODE, 7, 12), pci, irq);
        assert_eq!(invocation.words, [7, 12, 0, 11, 1, 1, 2]);
    }

    #[test]
    fn user_irqs_cover_the_kernels_range() {
        let first = UserIrq::new(0).unwrap();
        assert_eq!((first.irq_number(), first.cpu_vector()), (16, 48));
        let last = UserIrq::new(irq::USER_IRQS - 1).unwrap();
        // int_irq_user_max in include/plat/pc99/plat/machine.h.
        assert_eq!((last.irq_number(), last.cpu_vector()), (123, 155));
        assert_eq!(UserIrq::new(irq::USER_IRQS), Err(Error::RangeError));
    }

    #[test]
    fn handler_invocations() {
        let notification: Notification = Cap::from_cptr(41);
        let set = set_notification(notification);
        assert_eq!(set.label, label::IRQ_SET_IRQ_HANDLER);
        assert_eq!(set.caps, [41]);
        assert_eq!(set.info().extra_caps(), 1);
        assert_eq!(ack().label, label::IRQ_ACK_IRQ);
        assert_eq!(ack().info().length(), 0);
        assert_eq!(clear().label, label::IRQ_CLEAR_IRQ_HANDLER);
    }
}
