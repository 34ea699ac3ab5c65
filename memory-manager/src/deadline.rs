//! Time in the memory manager: realms' sleeps and their calls' deadlines, checked on every
//! tick of the timer (`timer.rs`).
//!
//! - **The clock** is the time-stamp counter in nanoseconds, with the frequency the kernel
//!   measured at boot (`Kernel::tsc_mhz`): the same clock realms read (`Realm::now` in
//!   realm-runtime), so a deadline means the same instant on both sides.
//! - **Sleep**: the memory manager keeps the realm's reply capability (`SaveCaller` into a
//!   slot of its own CNode, one per realm) and a deadline in a bounded queue; the tick that
//!   finds it expired replies. A realm that stops while asleep loses its slot and its place
//!   in the queue.
//! - **Call deadlines**: a realm that asked (`WatchDeadlines`) writes its call's deadline (a
//!   time-stamp counter reading) and the address of the `syscall` instruction it waits in to
//!   its control page (`ipc::abi::control`). A tick that finds the deadline passed suspends the
//!   thread (seL4's `TCB_Suspend` cancels its IPC: on 5.0.0 `cancelIPC` deletes the reply
//!   capability the service holds, so a late reply reaches nobody, `src/object/endpoint.c`),
//!   reads its registers, and if the thread is at that instruction with the same deadline
//!   still armed, writes registers that make the system call return [`TIMED_OUT_LABEL`] past the
//!   instruction; in every case it resumes the thread. A thread anywhere else (it armed the
//!   deadline and has not reached the call yet, or has returned and not disarmed it) is
//!   resumed untouched, and looked at again on the next tick. A realm that writes nonsense
//!   there can only cancel its own calls. Nothing is allocated for a call: a cancelled call
//!   leaves nothing behind.

use ::console::Class;
use heapless::Vec;
use ipc::abi::{TIMED_OUT_LABEL, control};
use sel4::MessageInfo;
use sel4::cap::Reply;
use sel4::syscall::SYSCALL_INSTRUCTION_BYTES;
use system_config::MAX_REALMS;

use crate::mm_println;
use crate::realm::{Kernel, Realm, own_slot};

/// The clock now, in nanoseconds since the machine started: the realms' clock
/// (`Realm::now`), from the time-stamp counter at the frequency the kernel measured.
pub fn now_ns(kernel: &Kernel<'_>) -> u64 {
    match kernel.tsc_mhz {
        0 => 0,
        mhz => clock::tsc::cycles_to_ns(sel4::timestamp::now(), mhz),
    }
}

/// The realms asleep and when each wakes: at most one sleep per realm (a realm has one
/// thread), so the table is bounded by the realms.
#[derive(Default)]
pub struct Sleepers {
    /// (realm index in `realms`, wake-up time in ns).
    waiting: Vec<(usize, u64), MAX_REALMS>,
}

/// Why a sleep could not be arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepError {
    /// No slot of the memory manager's CNode for the reply capability.
    NoSlot,
    /// The kernel refused to save the reply capability.
    Kernel(sel4::Error),
}

impl core::fmt::Display for SleepError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SleepError::NoSlot => write!(f, "the memory manager has no free slot for the reply"),
            SleepError::Kernel(error) => write!(f, "saving the reply capability: {error}"),
        }
    }
}

impl Sleepers {
    /// Whether anyone sleeps.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Keeps the reply to realm `index`'s current request until `until_ns`.
    pub fn sleep(
        &mut self,
        kernel: &mut Kernel<'_>,
        realm: &mut Realm,
        index: usize,
        until_ns: u64,
    ) -> Result<(), SleepError> {
        let slot = match realm.sleep_reply {
            Some(slot) => slot,
            None => {
                let slot = kernel.slots.allocate().map_err(|_| SleepError::NoSlot)?;
                realm.sleep_reply = Some(slot);
                slot
            }
        };
        // A reply left from an earlier sleep cannot be there (it was used), but make sure.
        let _ = own_slot(slot).delete();
        own_slot(slot).save_caller().map_err(SleepError::Kernel)?;
        self.waiting.retain(|&(sleeper, _)| sleeper != index);
        // One entry per realm index, and at most MAX_REALMS realms: it always fits.
        let _ = self.waiting.push((index, until_ns));
        Ok(())
    }

    /// Forgets realm `index`'s sleep (it stopped).
    pub fn forget(&mut self, index: usize) {
        self.waiting.retain(|&(sleeper, _)| sleeper != index);
    }

    /// Answers every sleep that is due at `now`.
    pub fn wake_due(&mut self, kernel: &mut Kernel<'_>, realms: &[Realm], now: u64) {
        let mut index = 0;
        while index < self.waiting.len() {
            let (sleeper, until) = self.waiting[index];
            if until > now {
                index += 1;
                continue;
            }
            self.waiting.swap_remove(index);
            let Some(slot) = realms.get(sleeper).and_then(|realm| realm.sleep_reply) else {
                continue;
            };
            let done = ipc::realm::encode_realm_reply(&Ok(ipc::realm::RealmResponse::Done));
            match kernel.ipc.set_message(done.label(), done.words(), &[]) {
                Ok(info) => Reply::from_cptr(slot).send(kernel.ipc, info),
                Err(_) => mm_println!(Class::System, "memory manager: cannot encode a wake-up"),
            }
        }
    }
}

/// Cancels realm `realm`'s call if its deadline (a time-stamp counter reading) has passed at
/// counter reading `now` and its thread waits in it (see the module doc). Returns whether it
/// cancelled one.
pub fn cancel_if_overdue(kernel: &mut Kernel<'_>, realm: &Realm, now: u64) -> bool {
    let deadline = realm.control_word(control::CALL_DEADLINE);
    if deadline == 0 || now < deadline {
        return false;
    }
    let site = realm.control_word(control::CALL_SITE);
    let tcb = realm.tcb();
    if tcb.suspend().is_err() {
        return false;
    }
    let mut cancelled = false;
    if let Ok(mut registers) = tcb.read_registers(kernel.ipc, false) {
        // No two calls share a deadline: the same one means the same call.
        let same_call = realm.control_word(control::CALL_DEADLINE) == deadline;
        if same_call && registers.rip == site {
            let timed_out =
                MessageInfo::new(TIMED_OUT_LABEL, 0, 0).unwrap_or(MessageInfo::from_word(0));
            registers.rip = site.wrapping_add(SYSCALL_INSTRUCTION_BYTES);
            registers.rsi = timed_out.word();
            if tcb.write_registers(kernel.ipc, false, &registers).is_ok() {
                realm.set_control_word(control::CALL_DEADLINE, 0);
                cancelled = true;
            }
        }
    }
    let _ = tcb.resume();
    cancelled
}
