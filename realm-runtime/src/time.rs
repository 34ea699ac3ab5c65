//! Time for realms: the clock, sleeping, and calls with a deadline.
//!
//! - [`Realm::now`] reads the clock with no IPC: the time-stamp counter (`rdtsc`, which seL4
//!   lets user threads run) divided by its frequency, which the memory manager writes into
//!   the realm's control page before the realm starts (`ipc::abi::control::TSC_MHZ`; the
//!   kernel measured it against the PIT at boot). The memory manager's timer reads the same
//!   counter, so a deadline a realm computes means the same instant to both. A request per
//!   read would cost a round trip to the memory manager for every `now`; a page the memory
//!   manager kept current would need it to write the page on every tick.
//! - [`Realm::sleep`] asks the memory manager to answer at the wake-up time.
//! - [`Realm::with_deadline`] runs typed calls with a deadline: before them the realm writes
//!   the deadline (a time-stamp counter reading) to its control page, where it wrote once
//!   the address of the `syscall` instruction every typed call waits in; the memory
//!   manager's timer cancels a call if the thread is still there at the deadline, and the
//!   call returns [`CallError::TimedOut`]. Each thread has its own deadline word
//!   (`ipc::abi::control::call_deadline(thread)`), checked against that thread's registers;
//!   the call site is one word, as every thread runs the same code. No IPC is added to the calls (the first deadline
//!   of a realm tells the memory manager, once, to watch its control page).

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use crate::client::CallError;
use crate::{Error, Realm};
use ipc::abi::{CONTROL, control};
use ipc::realm::{RealmRequest, RealmResponse};

/// A point of the realm clock: nanoseconds since the machine started (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// Nanoseconds since the machine started.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + duration`, saturating at the end of time.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }

    /// The time from `earlier` to `self` (zero if `earlier` is later).
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Whether the memory manager already watches this realm's call deadlines.
static WATCHED: AtomicBool = AtomicBool::new(false);

/// The control page's words (see `ipc::abi::control`).
#[inline(always)]
fn control_word(index: usize) -> *mut u64 {
    (CONTROL as *mut u64).wrapping_add(index)
}

#[inline(always)]
fn read_control(index: usize) -> u64 {
    // SAFETY: the memory manager maps the control page read-write at `CONTROL` in every
    // realm before it starts, for the realm's whole life, and `index` < `control::WORDS`;
    // the memory manager may write it concurrently, hence the volatile read.
    unsafe { core::ptr::read_volatile(control_word(index)) }
}

#[inline(always)]
pub(crate) fn write_control(index: usize, value: u64) {
    // SAFETY: as in `read_control`; the memory manager reads these words concurrently,
    // hence the volatile write.
    unsafe { core::ptr::write_volatile(control_word(index), value) }
}

impl Realm {
    /// The realm clock now: monotonic nanoseconds since the machine started, read with no
    /// IPC (see the module doc). Zero if the memory manager did not say the counter's
    /// frequency.
    pub fn now(&self) -> Instant {
        match read_control(control::TSC_MHZ) {
            0 => Instant(0),
            mhz => Instant(clock::tsc::cycles_to_ns(sel4::timestamp::now(), mhz)),
        }
    }

    /// Sleeps for `duration`: one request, which the memory manager answers when the realm
    /// clock reaches now + `duration` (on its timer tick, 1 ms apart).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] with `QuotaExceeded` (the memory manager's table of sleepers is
    /// full) or another refusal; the realm then did not sleep.
    pub fn sleep(&mut self, duration: Duration) -> Result<(), Error> {
        let until = self.now().saturating_add(duration);
        match self.request(RealmRequest::Sleep { until_ns: until.0 }.encode())? {
            RealmResponse::Done => Ok(()),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Runs `calls` (typed calls on any clients) with a deadline `timeout` from now: a call
    /// still waiting for its reply at the deadline is cancelled by the memory manager and
    /// returns [`CallError::TimedOut`]; so is every later call in `calls` (at the memory
    /// manager's next tick, 1 ms apart). Within an enclosing `with_deadline`, the earlier
    /// deadline holds. Costs the calls nothing: every typed call waits in the one known
    /// `syscall` instruction, and the deadline is a word written to the control page before
    /// and after `calls` (see the module doc).
    ///
    /// ```ignore
    /// let answer = realm.with_deadline(Duration::from_millis(50), |realm| kv.get(realm, key));
    /// ```
    ///
    /// # Errors
    ///
    /// `calls`' own result; or, before running it, `CallError::Unreachable` when the memory
    /// manager refuses to watch this realm's deadlines (asked once per realm).
    #[inline(always)]
    pub fn with_deadline<T, E: From<CallError>>(
        &mut self,
        timeout: Duration,
        calls: impl FnOnce(&mut Realm) -> Result<T, E>,
    ) -> Result<T, E> {
        // Inlined into the caller with `calls`: on the way, one flag read, one counter
        // read, a multiplication and a division by a constant, two control-page stores.
        self.watched()?;
        let word = control::call_deadline(self.thread);
        let outer = read_control(word);
        let deadline = sel4::timestamp::now().saturating_add(cycles(timeout));
        arm(word, if outer == 0 { deadline } else { deadline.min(outer) });
        let result = calls(self);
        write_control(word, outer);
        result
    }

    /// Makes sure the memory manager watches this realm's call deadlines: a flag read, and
    /// on the realm's first deadline a request to the memory manager, which uses the IPC
    /// buffer (so before a call's words are written there).
    #[inline(always)]
    pub(crate) fn watched(&mut self) -> Result<(), CallError> {
        if WATCHED.load(Ordering::Relaxed) { Ok(()) } else { self.watch_deadlines() }
    }

    /// Tells the memory manager, once, to watch this realm's call deadlines.
    #[cold]
    #[inline(never)]
    fn watch_deadlines(&mut self) -> Result<(), CallError> {
        if !WATCHED.load(Ordering::Relaxed) {
            // The call site never changes: written once.
            write_control(control::CALL_SITE, sel4::syscall::known_call_site());
            match self.request(RealmRequest::WatchDeadlines.encode()) {
                Ok(_) => WATCHED.store(true, Ordering::Relaxed),
                Err(error) => return Err(CallError::Unreachable(error)),
            }
        }
        Ok(())
    }
}

/// `duration` in time-stamp counter cycles (saturating), with the counter's frequency from
/// the control page: divisions by constants only.
#[inline(always)]
fn cycles(duration: Duration) -> u64 {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    clock::tsc::ns_to_cycles(nanos, read_control(control::TSC_MHZ))
}

/// Arms the deadline of the calls about to be made by the thread whose control word is
/// `word`, in time-stamp counter cycles (see the module doc).
#[inline(always)]
fn arm(word: usize, deadline_cycles: u64) {
    write_control(word, deadline_cycles.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_saturate() {
        assert_eq!(Instant(u64::MAX - 1).saturating_add(Duration::from_secs(1)), Instant(u64::MAX));
        assert_eq!(Instant(5).saturating_duration_since(Instant(9)), Duration::ZERO);
    }
}
