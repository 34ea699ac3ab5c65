//! Time in the memory manager: realms' sleeps, their calls' deadlines and their timed
//! signals, checked on every tick of the timer (`timer.rs`).
//!
//! - **The clock** is the time-stamp counter in nanoseconds, with the frequency the kernel
//!   measured at boot (`RootResources::tsc_mhz`): the same clock realms read (`Realm::now` in
//!   realm-runtime), so a deadline means the same instant on both sides.
//! - **Sleep**: the memory manager keeps the thread's reply capability (`SaveCaller` into
//!   the thread's parked slot, one per thread, taken when the realm is built for the main
//!   thread and with the index for a spawned one, so that a sleep takes nothing) and a
//!   deadline in a bounded queue; the tick that finds it expired replies. A `Join` parks its
//!   reply in the same slot ([`park`]): a thread waits in one of them at most. A realm that
//!   stops while asleep loses its slots and its place in the queue; a thread sent to abort
//!   or ended is no longer parked, and a sleep that falls due then answers nobody.
//! - **Call deadlines**: a realm that asked (`WatchDeadlines`) writes each thread's call
//!   deadline (a time-stamp counter reading, word `control::call_deadline(thread)`) and the
//!   address of the `syscall` instruction every thread waits in to its control page
//!   (`ipc::abi::control`). Every running thread that is not parked is looked at on each
//!   tick. A tick that finds a thread's deadline passed reads that thread's registers (without suspending it: the memory manager runs, the thread does
//!   not). A thread anywhere but at that instruction (it armed the deadline and has not
//!   reached the call yet, or has returned and not disarmed it, or wrote nonsense) is left
//!   alone, its system calls untouched, and looked at again on the next tick. A thread at
//!   the instruction is suspended (seL4's `TCB_Suspend` cancels its IPC: on 5.0.0
//!   `cancelIPC` deletes the reply capability the service holds, so a late reply reaches
//!   nobody, `src/object/endpoint.c`), given registers that make the system call return
//!   [`label::TIMED_OUT`] past the instruction, and resumed. A thread parked (asleep or
//!   joining) is not looked at (its wait is the memory manager's own). A realm that writes nonsense there can only
//!   cancel its own calls, at the cost of one register read per tick for the memory
//!   manager. Nothing is allocated for a call: a cancelled call leaves nothing behind.
//! - **Timed signals** ([`TimedSignals`]): a realm with a bound notification
//!   (`Realm::bind_notification`) asks for a signal after a delay; the tick that finds it
//!   due signals the notification with the timer's bit through the memory manager's badged
//!   cap. One per realm, a new one replacing the old; nothing is allocated for it. A sleep
//!   ends after every timed signal due by its end has been signalled (the tick signals
//!   before the sleeper runs, and a sleep answered at once signals the due ones first), so
//!   a realm that sleeps past its signal's time finds the signal pending when it wakes.

use ::console::Class;
use deadlines::{Duration, Instant};
use heapless::Vec;
use ipc::abi::{control, label};
use ipc::{Message, ThreadId};
use sel4::MessageInfo;
use sel4::cap::Reply;
use sel4::syscall::SYSCALL_INSTRUCTION_BYTES;
use vocabulary::limits::{MAX_REALMS, MAX_THREADS_PER_REALM};

use crate::mm_println;
use crate::realm::Realm;
use crate::resources::{RootResources, own_slot};

/// The clock now, in nanoseconds since the machine started: the realms' clock
/// (`Realm::now`), from the time-stamp counter at the frequency the kernel measured.
pub fn now_ns(root: &RootResources<'_>) -> u64 {
    match root.tsc_mhz {
        0 => 0,
        mhz => clock::tsc::cycles_to_ns(sel4::timestamp::now(), mhz),
    }
}

/// The threads asleep and when each wakes: at most one sleep per thread (a thread waits in
/// one request at a time), so the table is bounded by the realms and their threads.
#[derive(Default)]
pub struct Sleepers {
    /// (realm index in `realms`, thread, wake-up time in ns).
    waiting: Vec<(usize, ThreadId, u64), { MAX_REALMS * MAX_THREADS_PER_REALM }>,
}

/// Why a sleep could not be arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepError {
    /// The thread has no slot for the reply capability (the realm is not built).
    NoSlot,
    /// The kernel refused to save the reply capability.
    Kernel(sel4::Error),
}

impl core::fmt::Display for SleepError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SleepError::NoSlot => write!(f, "the thread has no slot for the reply"),
            SleepError::Kernel(error) => write!(f, "saving the reply capability: {error}"),
        }
    }
}

/// Keeps the reply to the request being handled (thread `thread` of `realm`'s) in the
/// thread's parked slot (`ThreadObjects::parked`, taken with its index, so that parking
/// takes nothing), and marks the thread parked. A `Sleep` and a `Join` park here; a thread
/// waits in one of them at most.
pub fn park(realm: &mut Realm, thread: ThreadId) -> Result<(), SleepError> {
    let slot = realm.thread_objects(thread).ok_or(SleepError::NoSlot)?.parked;
    // A reply left from an earlier wait cannot be there (it was used), but make sure.
    let _ = own_slot(slot).delete();
    own_slot(slot).save_caller().map_err(SleepError::Kernel)?;
    realm.parked.insert(thread);
    Ok(())
}

/// Answers thread `thread` of `realm`, parked by [`park`], with `reply`; nothing if it is not
/// parked (it was sent to abort, or ended, which cancelled its wait).
pub fn unpark(root: &mut RootResources<'_>, realm: &mut Realm, thread: ThreadId, reply: &Message) {
    if !realm.parked.remove(thread) {
        return;
    }
    let Some(objects) = realm.thread_objects(thread) else { return };
    match root.ipc.set_message(reply.label(), reply.words(), &[]) {
        Ok(info) => Reply::from_cptr(objects.parked).send(root.ipc, info),
        Err(_) => mm_println!(Class::System, "memory manager: cannot encode a parked reply"),
    }
}

impl Sleepers {
    /// Whether anyone sleeps.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Keeps the reply to thread `thread` of realm `index`'s current request until
    /// `until_ns`.
    pub fn sleep(
        &mut self,
        realm: &mut Realm,
        index: usize,
        thread: ThreadId,
        until_ns: u64,
    ) -> Result<(), SleepError> {
        park(realm, thread)?;
        self.waiting.retain(|&(sleeper, each, _)| (sleeper, each) != (index, thread));
        // One entry per thread of each realm index: it always fits.
        let _ = self.waiting.push((index, thread, until_ns));
        Ok(())
    }

    /// Forgets realm `index`'s sleeps (it stopped).
    pub fn forget(&mut self, index: usize) {
        self.waiting.retain(|&(sleeper, _, _)| sleeper != index);
    }

    /// Forgets thread `thread` of realm `index`'s sleep (it ended or was sent to abort).
    pub fn forget_thread(&mut self, index: usize, thread: ThreadId) {
        self.waiting.retain(|&(sleeper, each, _)| (sleeper, each) != (index, thread));
    }

    /// Answers every sleep that is due at `now`.
    pub fn wake_due(&mut self, root: &mut RootResources<'_>, realms: &mut [Realm], now: u64) {
        let mut index = 0;
        while let Some(&(sleeper, thread, until)) = self.waiting.get(index) {
            if until > now {
                index += 1;
                continue;
            }
            self.waiting.swap_remove(index);
            let Some(realm) = realms.get_mut(sleeper) else { continue };
            let done = ipc::realm::encode_realm_reply(&Ok(ipc::realm::RealmResponse::Done));
            unpark(root, realm, thread, &done);
        }
    }
}

/// Cancels thread `thread` of `realm`'s call if its deadline (a time-stamp counter reading,
/// `control::call_deadline(thread)`) has passed at counter reading `now` and the thread
/// waits in it (see the module doc). Returns whether it cancelled one.
///
/// The thread's registers are read first, without suspending it (the memory manager runs,
/// so the thread does not): a thread anywhere but at the call site is left alone, its
/// system calls untouched. Only a thread at the site is suspended (which cancels its IPC),
/// given registers that make its call return [`label::TIMED_OUT`], and resumed.
pub fn cancel_if_overdue(
    root: &mut RootResources<'_>,
    realm: &Realm,
    thread: ThreadId,
    now: u64,
) -> bool {
    let word = control::call_deadline(thread);
    let deadline = realm.control_word(word);
    if deadline == 0 || now < deadline {
        return false;
    }
    let site = realm.control_word(control::CALL_SITE);
    let Some(tcb) = realm.thread_objects(thread).map(|objects| objects.tcb) else { return false };
    let Ok(mut registers) = tcb.read_registers(root.ipc, false) else { return false };
    if registers.rip != site {
        return false;
    }
    if tcb.suspend().is_err() {
        return false;
    }
    let timed_out = MessageInfo::new(label::TIMED_OUT, 0, 0).unwrap_or(MessageInfo::from_word(0));
    registers.rip = site.wrapping_add(SYSCALL_INSTRUCTION_BYTES);
    registers.rsi = timed_out.word();
    let cancelled = tcb.write_registers(root.ipc, false, &registers).is_ok();
    if cancelled {
        realm.set_control_word(word, 0);
    }
    let _ = tcb.resume();
    cancelled
}

/// The realms' timed signals (`ipc::realm`, `SignalAfter`), as the host-tested table
/// `memory_manager::timed_signals` keeps them, carried out: a realm without a notification is
/// refused, and a due entry is signalled only if the realm still waits for it.
///
/// The realm itself says which one is pending (`Realm::timed_signal`, cleared when it stops
/// or restarts); an entry that no longer matches it (the realm stopped, or was restarted as
/// a new instance) is dropped when it falls due, and replaced when the realm asks again.
#[derive(Default)]
pub struct TimedSignals {
    table: memory_manager::timed_signals::TimedSignals,
}

/// Why a timed signal could not be arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalError {
    /// The realm has no bound notification (it did not ask for one first).
    NotBound,
    /// The table is full: it has room for every realm of a system, so this is a bug.
    TableFull,
}

impl TimedSignals {
    /// Signals `realm`'s notification once the realm clock reaches `now_ns + after_ns`,
    /// replacing its pending timed signal, if any.
    pub fn signal_after(
        &mut self,
        realm: &mut Realm,
        now_ns: u64,
        after_ns: u64,
    ) -> Result<(), SignalError> {
        if !realm.has_notification() {
            return Err(SignalError::NotBound);
        }
        let now = Instant::from_nanos(now_ns);
        let due = self
            .table
            .arm(realm.id, now, Duration::from_nanos(after_ns))
            .map_err(|_| SignalError::TableFull)?;
        realm.timed_signal = Some(due.as_nanos());
        Ok(())
    }

    /// Signals every realm whose timed signal is due at `now_ns`.
    pub fn signal_due(&mut self, realms: &mut [Realm], now_ns: u64) {
        while let Some((id, due)) = self.table.pop_due(Instant::from_nanos(now_ns)) {
            let realm = realms.iter_mut().find(|realm| realm.built && realm.id.0 == id.0);
            if let Some(realm) = realm
                && realm.timed_signal == Some(due.as_nanos())
            {
                realm.timed_signal = None;
                realm.signal_timer();
            }
        }
    }
}
