//! Property test of [`DeadlineQueue`] against a simple model: a `Vec` sorted by deadline and
//! insertion number. Any sequence of inserts, removes, lookups and pops gives the same answers
//! from both, never panics, and `insert` fails with `Full` exactly when the queue holds `N`
//! entries.

use deadlines::{DeadlineQueue, Full, Instant};
use proptest::prelude::*;

const N: usize = 8;

#[derive(Clone, Debug)]
enum Step {
    Insert {
        deadline: Instant,
        key: u8,
    },
    Remove {
        key: u8,
    },
    Get {
        key: u8,
    },
    Pop {
        now: Instant,
    },
    /// Pops until nothing more has expired.
    Drain {
        now: Instant,
    },
}

/// Few distinct deadlines and keys, so that ties and duplicate keys are common; the ends of
/// the clock now and then.
fn instant() -> impl Strategy<Value = Instant> {
    prop_oneof![
        8 => (0u64..20).prop_map(Instant::from_nanos),
        1 => Just(Instant::ZERO),
        1 => Just(Instant::MAX),
        1 => any::<u64>().prop_map(Instant::from_nanos),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let key = || 0u8..6;
    prop_oneof![
        6 => (instant(), key()).prop_map(|(deadline, key)| Step::Insert { deadline, key }),
        2 => key().prop_map(|key| Step::Remove { key }),
        1 => key().prop_map(|key| Step::Get { key }),
        3 => instant().prop_map(|now| Step::Pop { now }),
        1 => instant().prop_map(|now| Step::Drain { now }),
    ]
}

/// The model: `(deadline, insertion number, key)`, sorted, the entry due first first.
#[derive(Default)]
struct Model {
    entries: Vec<(Instant, u64, u8)>,
    inserted: u64,
}

impl Model {
    fn insert(&mut self, deadline: Instant, key: u8) -> Result<(), Full> {
        if self.entries.len() == N {
            return Err(Full);
        }
        self.entries.push((deadline, self.inserted, key));
        self.inserted += 1;
        self.entries.sort();
        Ok(())
    }

    fn first_of(&self, key: u8) -> Option<usize> {
        self.entries.iter().position(|&(_, _, k)| k == key)
    }

    fn remove(&mut self, key: u8) -> Option<Instant> {
        let index = self.first_of(key)?;
        Some(self.entries.remove(index).0)
    }

    fn get(&self, key: u8) -> Option<Instant> {
        self.first_of(key).map(|index| self.entries[index].0)
    }

    fn pop_expired(&mut self, now: Instant) -> Option<(Instant, u8)> {
        match self.entries.first() {
            Some(&(due, _, key)) if due <= now => {
                self.entries.remove(0);
                Some((due, key))
            }
            _ => None,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_answers_like_a_sorted_vector(steps in proptest::collection::vec(step(), 0..80)) {
        let mut queue = DeadlineQueue::<u8, N>::new();
        let mut model = Model::default();
        for step in steps {
            match step {
                Step::Insert { deadline, key } => {
                    let was_full = queue.len() == N;
                    let result = queue.insert(deadline, key);
                    prop_assert_eq!(result.is_err(), was_full, "Full exactly when len == N");
                    prop_assert_eq!(result, model.insert(deadline, key));
                }
                Step::Remove { key } => prop_assert_eq!(queue.remove(key), model.remove(key)),
                Step::Get { key } => prop_assert_eq!(queue.get(key), model.get(key)),
                Step::Pop { now } => prop_assert_eq!(queue.pop_expired(now), model.pop_expired(now)),
                Step::Drain { now } => {
                    let ours: Vec<_> = std::iter::from_fn(|| queue.pop_expired(now)).collect();
                    let theirs: Vec<_> = std::iter::from_fn(|| model.pop_expired(now)).collect();
                    prop_assert_eq!(ours, theirs);
                    prop_assert!(queue.next_deadline().is_none_or(|due| due > now));
                }
            }
            prop_assert_eq!(queue.len(), model.entries.len());
            prop_assert_eq!(queue.is_empty(), model.entries.is_empty());
            prop_assert_eq!(queue.is_full(), model.entries.len() == N);
            prop_assert_eq!(queue.next_deadline(), model.entries.first().map(|e| e.0));
            let order: Vec<_> = model.entries.iter().map(|&(due, _, key)| (due, key)).collect();
            prop_assert_eq!(queue.iter().collect::<Vec<_>>(), order);
        }
    }
}
