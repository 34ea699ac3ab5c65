//! The memory manager's timer: the PC's PIT at [`TICK_HZ`] and the monotonic clock.
//!
//! This file owns the timer's kernel objects and their set-up: a notification made from the
//! memory manager's own memory and bound to its thread (`sel4::cap::init::TCB`), a copy of it
//! badged [`Badge::TIMER`] that the IRQ handler signals, and the handler for the PIT's IOAPIC
//! pin (user IRQ [`TIMER_IRQ`]). Because the notification is bound, a tick wakes the memory
//! manager's `Recv` on its endpoint as a message with the timer badge: the server tells it
//! from realms' messages by the badge alone, as it tells everything else
//! (`BadgeKind::Timer`), and calls [`Timer::ack`] for it. Between a tick and its `ack` the
//! kernel keeps the pin masked, so ticks never queue up: a late `ack` loses periods, it does
//! not pile them up.
//!
//! Time itself comes from the TSC ([`Timer::now_ns`]), at the frequency the kernel measured
//! at boot against the PIT (`BootInfo::tsc_mhz`; `tsc_init` in seL4's
//! `src/plat/pc99/machine/hardware.c`), so reading the clock costs no system call. The ticks
//! are what wakes the memory manager to look at it. The arithmetic is the `clock` crate's;
//! programming the PIT and issuing the handler is `sel4_root_task::pit`.

use clock::pit::{DEFAULT_HZ, Divisor};
use clock::ticks::TickCount;
use clock::tsc::TscClock;
use ipc::Badge;
use sel4::cap::irq::UserIrq;
use sel4::cap::{Badge as MintBadge, Cap, Notification, ObjectType, Rights, init};
use sel4::{BootInfo, timestamp};
use sel4_root_task::pit::PitTimer;

use crate::realm::RealmError;
use crate::resources::{self, RootResources};

/// The timer's frequency, in Hz: one tick every 999,847 ns (a divisor of 1193).
pub const TICK_HZ: u32 = DEFAULT_HZ;

/// The user IRQ the PIT's pin is routed to: offset 0, the kernel's IRQ 16, CPU vector 48.
pub const TIMER_IRQ: u64 = 0;

/// The memory manager's timer and clock.
pub struct Timer {
    pit: PitTimer,
    clock: TscClock,
    ticks: TickCount,
}

impl Timer {
    /// Sets the timer up and starts it: the notification (bound to the memory manager's
    /// thread), its badged copy, the IRQ handler, the PIT at [`TICK_HZ`]; then unmasks the pin.
    /// The clock reads 0 ns now. Takes three slots and one notification's memory for good.
    pub fn start(root: &mut RootResources<'_>, bootinfo: &BootInfo) -> Result<Timer, RealmError> {
        let Some(clock) = TscClock::new(timestamp::now(), bootinfo.tsc_mhz()) else {
            // The kernel fails to boot rather than hand over 0 MHz; a boot info that says so
            // anyway cannot give a clock.
            return Err(RealmError::Kernel {
                step: "reading the TSC frequency from the boot info (0 MHz)",
                error: sel4::Error::RangeError,
            });
        };
        let divisor = match Divisor::for_hz(TICK_HZ) {
            Ok(divisor) => divisor,
            Err(_) => unreachable!("1 kHz is in the PIT's range"),
        };
        let irq = match UserIrq::new(TIMER_IRQ) {
            Ok(irq) => irq,
            Err(_) => unreachable!("user IRQ 0 is in the kernel's range"),
        };
        let notification: Notification =
            Cap::from_cptr(resources::make_own_in_new_slot(root, ObjectType::Notification)?);
        let badged: Notification = Cap::from_cptr(root.slots.allocate()?);
        let badge = MintBadge::new(Badge::TIMER.value()).map_err(|_| RealmError::Kernel {
            step: "making the timer badge",
            error: sel4::Error::InvalidArgument,
        })?;
        init::CNODE
            .slot(badged.cptr())
            .mint_from(root.ipc, init::CNODE.slot(notification.cptr()), Rights::WRITE, badge)
            .map_err(|error| RealmError::Kernel {
                step: "minting the timer's notification",
                error,
            })?;
        init::TCB.bind_notification(root.ipc, notification).map_err(|error| {
            RealmError::Kernel { step: "binding the timer's notification", error }
        })?;
        let handler_slot = root.slots.allocate()?;
        let pit = PitTimer::start(
            root.ipc,
            init::IO_PORT,
            init::IRQ_CONTROL,
            init::CNODE.slot(handler_slot),
            irq,
            badged,
            divisor,
        )
        .map_err(|error| RealmError::Kernel { step: "starting the PIT", error })?;
        pit.ack().map_err(|error| RealmError::Kernel { step: "unmasking the PIT's pin", error })?;
        Ok(Timer { pit, clock, ticks: TickCount::new(divisor) })
    }

    /// The monotonic clock: nanoseconds since [`Timer::start`].
    pub fn now_ns(&self) -> u64 {
        self.clock.ns_at(timestamp::now())
    }

    /// Counts a tick and acknowledges it, so that the next one is delivered.
    pub fn ack(&mut self) -> Result<(), RealmError> {
        self.ticks.record();
        self.pit.ack().map_err(|error| RealmError::Kernel { step: "acknowledging a tick", error })
    }

    /// The ticks received since [`Timer::start`] (a lower bound on the periods: see the
    /// module doc).
    pub fn ticks(&self) -> u64 {
        self.ticks.count()
    }
}
