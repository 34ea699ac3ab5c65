//! Property test: the allocator against a model (a sorted set of free slots), over random
//! sequences of allocations, frees (of slots in use, free, or outside the range) and resets.

use proptest::prelude::*;
use slots::{RangeSlots, RootSlots, SlotAllocator, SlotError, SlotRange};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
enum Step {
    Allocate,
    /// Frees the slot at this offset from the range's start (may be outside the range).
    Free(u32),
    Reset,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            6 => Just(Step::Allocate),
            4 => (0u32..5000).prop_map(Step::Free),
            1 => Just(Step::Reset),
        ],
        0..600,
    )
}

/// Runs `steps` on an allocator of `range` and on the model; they must agree on every
/// answer and count.
fn check<const W: usize, const S: usize>(range: SlotRange, steps: &[Step]) {
    let mut slots = SlotAllocator::<W, S>::new(range).unwrap();
    let all: BTreeSet<u64> = (range.start..range.end()).collect();
    let mut free = all.clone();
    for step in steps {
        match *step {
            Step::Allocate => {
                let expected = free.pop_first().ok_or(SlotError::Exhausted);
                assert_eq!(slots.allocate(), expected);
            }
            Step::Free(offset) => {
                let slot = range.start + u64::from(offset);
                let expected = if !all.contains(&slot) {
                    Err(SlotError::OutOfRange(slot))
                } else if free.contains(&slot) {
                    Err(SlotError::NotInUse(slot))
                } else {
                    free.insert(slot);
                    Ok(())
                };
                assert_eq!(slots.free(slot), expected);
            }
            Step::Reset => {
                slots.reset();
                free = all.clone();
            }
        }
        assert_eq!(slots.free_count(), free.len());
        assert_eq!(slots.in_use(), all.len() - free.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn range_slots_agree_with_the_model(start in 0u64..100_000, count in 0u16..=4096, steps in steps()) {
        check::<64, 1>(SlotRange { start, count }, &steps);
    }
}

proptest! {
    // Fewer cases: each reset rebuilds a model of thousands of slots.
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Ranges past 4,096 slots, so that allocations and frees cross summary words.
    #[test]
    fn root_slots_agree_with_the_model(start in 0u64..100, count in 4000u16..=4800, steps in steps()) {
        check::<1024, 16>(SlotRange { start, count }, &steps);
    }
}

#[test]
fn the_aliases_are_the_shapes_the_property_test_runs() {
    assert_eq!(RangeSlots::CAPACITY, 4096);
    assert_eq!(RootSlots::CAPACITY, 65_536);
}
