//! [`DeadlineQueue`]: a bounded set of keys, each with the [`Instant`] it is due, that gives
//! them back in deadline order once they expire.
//!
//! # Shape and costs
//!
//! One `heapless::Vec` of `(deadline, key)` kept sorted with the entry due first at the end,
//! so that finding and taking it is `O(1)`:
//!
//! | operation | cost |
//! | --- | --- |
//! | [`DeadlineQueue::next_deadline`], [`DeadlineQueue::pop_expired`], `len` | `O(1)` |
//! | [`DeadlineQueue::insert`] | `O(log N)` to find the place, `O(N)` to shift entries |
//! | [`DeadlineQueue::remove`], [`DeadlineQueue::get`] | `O(N)`: a scan by key |
//!
//! Meant for `N` up to a few hundred (one entry per realm, per sleeping thread, per call
//! with a deadline): shifting a few hundred entries of a few words each is cheaper than
//! keeping a heap and an index by key, and it keeps ties in insertion order for free.
//!
//! # Ties and duplicate keys
//!
//! Entries with the same deadline come out in the order they were inserted. The queue does
//! not require keys to be unique: a key inserted twice is there twice, and
//! [`DeadlineQueue::remove`] and [`DeadlineQueue::get`] take the entry of that key that
//! would come out first.

use core::fmt;

use crate::Instant;

/// [`DeadlineQueue::insert`] found the queue holding its capacity `N` of entries; nothing
/// was inserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the deadline queue is full")
    }
}

/// Up to `N` keys `K`, each due at a deadline (an [`Instant`], nanoseconds since boot).
///
/// Never allocates and never panics; running out of room is [`Full`].
#[derive(Clone, Debug)]
pub struct DeadlineQueue<K, const N: usize> {
    /// Sorted by deadline, latest first; among equal deadlines, latest inserted first. So the
    /// entry due next is the last one.
    entries: heapless::Vec<(Instant, K), N>,
}

impl<K: Copy + Eq, const N: usize> Default for DeadlineQueue<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq, const N: usize> DeadlineQueue<K, N> {
    /// An empty queue. `const`, so that a static can hold it.
    pub const fn new() -> Self {
        Self { entries: heapless::Vec::new() }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many entries it can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether it holds `N` entries, so that [`DeadlineQueue::insert`] would fail.
    pub fn is_full(&self) -> bool {
        self.entries.is_full()
    }

    /// Adds `key`, due at `deadline`. It comes out after every entry due earlier or at the
    /// same instant that is already in the queue. A deadline already past is allowed: the
    /// entry comes out at the next [`DeadlineQueue::pop_expired`].
    ///
    /// Errors: [`Full`] if the queue holds `N` entries (nothing changes).
    pub fn insert(&mut self, deadline: Instant, key: K) -> Result<(), Full> {
        // Entries due strictly later stay in front; equal ones stay behind, to come out first.
        let index = self.entries.partition_point(|&(due, _)| due > deadline);
        self.entries.insert(index, (deadline, key)).map_err(|_| Full)
    }

    /// Removes `key` (the entry of that key that would come out first) and returns its
    /// deadline, or `None` if the key is not in the queue.
    pub fn remove(&mut self, key: K) -> Option<Instant> {
        let index = self.entries.iter().rposition(|&(_, k)| k == key)?;
        // `index` is in bounds: `rposition` found it.
        Some(self.entries.remove(index).0)
    }

    /// The deadline of `key` (the entry of that key that would come out first), or `None` if
    /// the key is not in the queue.
    pub fn get(&self, key: K) -> Option<Instant> {
        self.entries.iter().rev().find(|&&(_, k)| k == key).map(|&(due, _)| due)
    }

    /// The earliest deadline in the queue (what to program the timer for), or `None` if it is
    /// empty.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.last().map(|&(due, _)| due)
    }

    /// Takes out the entry due first if its deadline is at or before `now`, with its
    /// deadline. Called until it returns `None`, it yields every expired entry in deadline
    /// order, ties in insertion order.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Instant, K)> {
        match self.entries.last() {
            Some(&(due, _)) if due <= now => self.entries.pop(),
            _ => None,
        }
    }

    /// Every entry in the order they would come out: deadline order, ties in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (Instant, K)> + '_ {
        self.entries.iter().rev().copied()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(nanos: u64) -> Instant {
        Instant::from_nanos(nanos)
    }

    #[test]
    fn entries_come_out_in_deadline_order_once_expired() {
        let mut queue = DeadlineQueue::<u8, 4>::new();
        assert_eq!(queue.next_deadline(), None);
        assert_eq!(queue.pop_expired(Instant::MAX), None);
        queue.insert(at(30), 3).unwrap();
        queue.insert(at(10), 1).unwrap();
        queue.insert(at(20), 2).unwrap();
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.next_deadline(), Some(at(10)));
        assert_eq!(queue.pop_expired(at(9)), None, "nothing is due yet");
        assert_eq!(queue.pop_expired(at(10)), Some((at(10), 1)), "due at its deadline");
        assert_eq!(queue.pop_expired(at(25)), Some((at(20), 2)));
        assert_eq!(queue.pop_expired(at(25)), None);
        assert_eq!(queue.next_deadline(), Some(at(30)));
        assert_eq!(queue.pop_expired(at(100)), Some((at(30), 3)));
        assert!(queue.is_empty());
    }

    #[test]
    fn ties_come_out_in_insertion_order() {
        let mut queue = DeadlineQueue::<u8, 8>::new();
        for key in [5, 1, 7] {
            queue.insert(at(10), key).unwrap();
        }
        queue.insert(at(5), 9).unwrap();
        queue.insert(at(10), 2).unwrap();
        let order: Vec<u8> =
            core::iter::from_fn(|| queue.pop_expired(at(10)).map(|(_, k)| k)).collect();
        assert_eq!(order, [9, 5, 1, 7, 2]);
    }

    #[test]
    fn running_out_of_room_is_an_error_that_changes_nothing() {
        let mut queue = DeadlineQueue::<u8, 2>::new();
        assert_eq!(queue.capacity(), 2);
        queue.insert(at(2), 0).unwrap();
        queue.insert(at(1), 1).unwrap();
        assert!(queue.is_full());
        assert_eq!(queue.insert(at(0), 2), Err(Full));
        assert_eq!(queue.iter().collect::<Vec<_>>(), [(at(1), 1), (at(2), 0)]);
        assert_eq!(Full.to_string(), "the deadline queue is full");
        // Room again once one comes out.
        queue.pop_expired(at(1)).unwrap();
        queue.insert(at(0), 2).unwrap();
    }

    #[test]
    fn remove_takes_a_key_out_wherever_it_is() {
        let mut queue = DeadlineQueue::<u8, 4>::new();
        queue.insert(at(10), 1).unwrap();
        queue.insert(at(20), 2).unwrap();
        queue.insert(at(30), 3).unwrap();
        assert_eq!(queue.get(2), Some(at(20)));
        assert_eq!(queue.remove(2), Some(at(20)));
        assert_eq!(queue.remove(2), None);
        assert_eq!(queue.get(2), None);
        assert_eq!(queue.remove(1), Some(at(10)));
        assert_eq!(queue.next_deadline(), Some(at(30)));
        queue.clear();
        assert!(queue.is_empty());
    }

    #[test]
    fn a_duplicate_key_is_removed_first_where_it_comes_out_first() {
        let mut queue = DeadlineQueue::<u8, 4>::new();
        queue.insert(at(20), 1).unwrap();
        queue.insert(at(10), 1).unwrap();
        queue.insert(at(10), 2).unwrap();
        assert_eq!(queue.get(1), Some(at(10)));
        assert_eq!(queue.remove(1), Some(at(10)));
        assert_eq!(queue.iter().collect::<Vec<_>>(), [(at(10), 2), (at(20), 1)]);
    }

    #[test]
    fn extreme_deadlines_are_ordinary_entries() {
        let mut queue = DeadlineQueue::<u8, 2>::new();
        queue.insert(Instant::MAX, 1).unwrap();
        queue.insert(Instant::ZERO, 0).unwrap();
        assert_eq!(queue.pop_expired(Instant::ZERO), Some((Instant::ZERO, 0)));
        assert_eq!(queue.pop_expired(Instant::MAX), Some((Instant::MAX, 1)));
    }

    #[test]
    fn a_queue_of_no_room_is_always_full() {
        let mut queue = DeadlineQueue::<u8, 0>::new();
        assert!(queue.is_empty() && queue.is_full());
        assert_eq!(queue.insert(at(1), 1), Err(Full));
        assert_eq!(queue.pop_expired(Instant::MAX), None);
    }
}
