//! Realms' timed signals (`ipc::realm`, `SignalAfter`), without the kernel: when each realm's
//! signal is due, in deadline order, one per realm at most.
//!
//! A realm that asks for a signal after a delay replaces the one it asked for before, if
//! that is still pending: so the table holds one entry per realm id, and a realm that asks
//! in a loop costs one entry whatever it does. The root task (`deadline.rs`) arms an entry
//! for a request and, on each tick of its timer, signals the realms whose entries
//! [`TimedSignals::pop_due`] returns, after checking that the realm still waits for that
//! signal (an entry outlives a realm that stopped or restarted: the realm's own record,
//! cleared when it stops, says whether the entry is still its).

use deadlines::{DeadlineQueue, Duration, Full, Instant};
use ipc::RealmId;
use vocabulary::limits::MAX_REALMS;

/// The realms' pending timed signals.
#[derive(Default)]
pub struct TimedSignals {
    queue: DeadlineQueue<RealmId, MAX_REALMS>,
}

impl TimedSignals {
    /// No signal pending.
    pub const fn new() -> Self {
        Self { queue: DeadlineQueue::new() }
    }

    /// Arms `realm`'s timed signal for `after` past `now` (saturating at the end of time),
    /// replacing the one it had pending; returns when it is due.
    ///
    /// # Errors
    ///
    /// [`Full`] when [`MAX_REALMS`] other realms have a signal pending: never, for realms
    /// of one system (it has at most that many), whatever they ask.
    pub fn arm(&mut self, realm: RealmId, now: Instant, after: Duration) -> Result<Instant, Full> {
        let due = now.saturating_add(after);
        self.queue.remove(realm);
        self.queue.insert(due, realm)?;
        Ok(due)
    }

    /// The realm whose timed signal is due soonest, if it is due at `now`, and when it was
    /// due; its entry is taken out.
    pub fn pop_due(&mut self, now: Instant) -> Option<(RealmId, Instant)> {
        self.queue.pop_expired(now).map(|(due, realm)| (realm, due))
    }

    /// When `realm`'s timed signal is due, if one is pending.
    pub fn due(&self, realm: RealmId) -> Option<Instant> {
        self.queue.get(realm)
    }

    /// How many realms have a signal pending.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no realm has a signal pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(millis: u64) -> Instant {
        Instant::from_nanos(millis * 1_000_000)
    }

    #[test]
    fn a_signal_is_due_after_its_delay_not_before() {
        let mut signals = TimedSignals::new();
        assert_eq!(signals.arm(RealmId(3), at(100), 20 * MS), Ok(at(120)));
        assert_eq!(signals.pop_due(at(119)), None);
        assert_eq!(signals.pop_due(at(120)), Some((RealmId(3), at(120))));
        // Taken out once due: it is signalled once.
        assert_eq!(signals.pop_due(at(500)), None);
        assert!(signals.is_empty());
        // A zero delay is due at once.
        assert_eq!(signals.arm(RealmId(3), at(7), Duration::ZERO), Ok(at(7)));
        assert_eq!(signals.pop_due(at(7)), Some((RealmId(3), at(7))));
    }

    #[test]
    fn a_new_request_replaces_the_pending_one_both_ways() {
        let mut signals = TimedSignals::new();
        signals.arm(RealmId(1), at(0), 50 * MS).unwrap();
        signals.arm(RealmId(1), at(0), 10 * MS).unwrap();
        assert_eq!(signals.len(), 1);
        assert_eq!(signals.pop_due(at(10)), Some((RealmId(1), at(10))));
        assert_eq!(signals.pop_due(at(60)), None, "the 50 ms one was replaced");

        signals.arm(RealmId(1), at(100), 10 * MS).unwrap();
        signals.arm(RealmId(1), at(100), 40 * MS).unwrap();
        assert_eq!(signals.pop_due(at(139)), None, "the 10 ms one was replaced");
        assert_eq!(signals.pop_due(at(140)), Some((RealmId(1), at(140))));
    }

    #[test]
    fn a_flood_takes_one_entry_and_others_keep_theirs() {
        let mut signals = TimedSignals::new();
        signals.arm(RealmId(0), at(0), 20 * MS).unwrap();
        for step in 0..100_000u64 {
            signals.arm(RealmId(9), Instant::from_nanos(step * 1_000), 5 * MS).unwrap();
        }
        assert_eq!(signals.len(), 2);
        assert_eq!(signals.due(RealmId(0)), Some(at(20)));
        assert_eq!(signals.pop_due(at(20)), Some((RealmId(0), at(20))));
        assert_eq!(signals.due(RealmId(9)), Some(Instant::from_nanos(99_999_000 + 5_000_000)));
    }

    #[test]
    fn every_realm_of_a_system_fits_and_due_ones_come_in_deadline_order() {
        let mut signals = TimedSignals::new();
        for id in 0..MAX_REALMS as u8 {
            // Later ids first: the order out is the deadlines', not the requests'.
            let after = Duration::from_millis(u64::from(MAX_REALMS as u8 - id));
            signals.arm(RealmId(id), at(0), after).unwrap();
            // Asking again never needs room.
            signals.arm(RealmId(id), at(0), after).unwrap();
        }
        assert_eq!(signals.len(), MAX_REALMS);
        // One more realm than a system can have: refused, nothing changed.
        assert_eq!(signals.arm(RealmId(MAX_REALMS as u8), at(0), MS), Err(Full));
        assert_eq!(signals.len(), MAX_REALMS);
        let order: Vec<u8> =
            std::iter::from_fn(|| signals.pop_due(at(1_000))).map(|(realm, _)| realm.0).collect();
        let expected: Vec<u8> = (0..MAX_REALMS as u8).rev().collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn the_longest_delay_cannot_overflow_the_clock() {
        let mut signals = TimedSignals::new();
        let longest = Duration::from_nanos(ipc::realm::MAX_SIGNAL_AFTER_NS);
        let late = Instant::from_nanos(u64::MAX - 5);
        assert_eq!(signals.arm(RealmId(2), late, longest), Ok(Instant::from_nanos(u64::MAX)));
        assert_eq!(signals.pop_due(late), None);
    }
}
