//! Unit tests: those of the memory manager's root-CNode allocator and of the broker's range
//! allocator, which this crate replaces, run against the one allocator.

use super::*;

fn range(start: u64, end: u64) -> SlotRange {
    SlotRange::from_bounds(start, end).unwrap()
}

// The memory manager's root-CNode allocator's tests (were `memory-manager/src/slots.rs`).

#[test]
fn hands_out_every_slot_once_then_reports_exhaustion() {
    let mut slots = RootSlots::new(range(100, 164)).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..64 {
        let slot = slots.allocate().unwrap();
        assert!((100..164).contains(&slot));
        assert!(seen.insert(slot), "slot {slot} handed out twice");
    }
    assert_eq!(slots.free_count(), 0);
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
}

#[test]
fn freed_slots_come_back() {
    let mut slots = RootSlots::new(range(10, 13)).unwrap();
    let taken: Vec<_> = (0..3).map(|_| slots.allocate().unwrap()).collect();
    slots.free(taken[1]).unwrap();
    assert_eq!(slots.free_count(), 1);
    assert_eq!(slots.allocate(), Ok(taken[1]));
}

#[test]
fn errors_are_sentences() {
    assert_eq!(SlotError::Exhausted.to_string(), "every slot of the range is in use");
    assert_eq!(SlotError::OutOfRange(9).to_string(), "slot 9 is outside the range");
    assert_eq!(SlotError::NotInUse(12).to_string(), "slot 12 was given back but is not in use");
    assert_eq!(
        SlotRangeError::TooLarge { count: 4097, capacity: 4096 }.to_string(),
        "4097 slots is more than the 4096 a range may have"
    );
    assert_eq!(
        SlotRangeError::Overflows { start: u64::MAX, count: 2 }.to_string(),
        format!("2 slots from slot {} run past the last slot number", u64::MAX)
    );
}

#[test]
fn bad_frees_are_errors() {
    let mut slots = RootSlots::new(range(10, 20)).unwrap();
    assert_eq!(slots.free(9), Err(SlotError::OutOfRange(9)));
    assert_eq!(slots.free(20), Err(SlotError::OutOfRange(20)));
    assert_eq!(slots.free(12), Err(SlotError::NotInUse(12)));
    assert_eq!(slots.free_count(), 10);
}

// The broker's range allocator's tests (were `broker/src/slots.rs`).

#[test]
fn allocates_each_slot_once_until_freed() {
    let mut slots = RangeSlots::new(SlotRange { start: 100, count: 3 }).unwrap();
    assert_eq!(slots.allocate(), Ok(100));
    assert_eq!(slots.allocate(), Ok(101));
    assert_eq!(slots.allocate(), Ok(102));
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
    assert_eq!(slots.free(101), Ok(()));
    assert_eq!(slots.free(101), Err(SlotError::NotInUse(101)));
    assert_eq!(slots.free(99), Err(SlotError::OutOfRange(99)));
    assert_eq!(slots.free(103), Err(SlotError::OutOfRange(103)));
    assert_eq!(slots.in_use(), 2);
    assert_eq!(slots.allocate(), Ok(101));
    assert_eq!(slots.in_use(), 3);
}

#[test]
fn refuses_ranges_it_cannot_track() {
    let too_large = (RangeSlots::CAPACITY + 1) as u16;
    assert_eq!(
        RangeSlots::new(SlotRange { start: 0, count: too_large }),
        Err(SlotRangeError::TooLarge { count: too_large, capacity: RangeSlots::CAPACITY })
    );
    assert_eq!(
        RangeSlots::new(SlotRange { start: u64::MAX, count: 2 }),
        Err(SlotRangeError::Overflows { start: u64::MAX, count: 2 })
    );
    let mut refused = RangeSlots::new(SlotRange { start: 5, count: 5 }).unwrap();
    assert!(refused.configure(SlotRange { start: 0, count: too_large }).is_err());
    assert_eq!(refused.allocate(), Err(SlotError::Exhausted));
    assert_eq!(refused.range(), SlotRange { start: 0, count: 0 });
}

#[test]
fn a_full_range_hands_out_every_slot_lowest_first() {
    let count = RangeSlots::CAPACITY as u16;
    let mut full = RangeSlots::new(SlotRange { start: 7, count }).unwrap();
    for expected in 0..u64::from(count) {
        assert_eq!(full.allocate(), Ok(7 + expected));
    }
    assert_eq!(full.allocate(), Err(SlotError::Exhausted));
    assert_eq!(full.in_use(), RangeSlots::CAPACITY);
    // Freed slots come back lowest first, across bitmap words (slot 71 is the first of
    // the second word: the range starts at 7).
    for slot in [4000, 71, 3000, 70] {
        full.free(slot).unwrap();
    }
    for expected in [70, 71, 3000, 4000] {
        assert_eq!(full.allocate(), Ok(expected));
    }
    assert_eq!(full.allocate(), Err(SlotError::Exhausted));
}

#[test]
fn ranges_that_end_inside_a_word_stop_there() {
    let mut slots = RangeSlots::new(SlotRange { start: 0, count: 130 }).unwrap();
    for expected in 0..130 {
        assert_eq!(slots.allocate(), Ok(expected));
    }
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
    assert_eq!(slots.free(130), Err(SlotError::OutOfRange(130)));
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
    let mut empty = RangeSlots::new(SlotRange { start: 9, count: 0 }).unwrap();
    assert_eq!(empty.allocate(), Err(SlotError::Exhausted));
}

// New: what the one allocator adds (several summary words, reset, bounds).

#[test]
fn the_root_allocator_spans_summary_words_lowest_first() {
    // 65,535 slots: 1,024 bitmap words, 16 summary words.
    let mut slots = RootSlots::new(SlotRange { start: 1, count: u16::MAX }).unwrap();
    for expected in 1..=u64::from(u16::MAX) {
        assert_eq!(slots.allocate(), Ok(expected));
    }
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
    assert_eq!(slots.free_count(), 0);
    // Slot 4097 is the first of the second summary word's first bitmap word.
    for slot in [65_535, 4097, 64, 40_000] {
        slots.free(slot).unwrap();
    }
    for expected in [64, 4097, 40_000, 65_535] {
        assert_eq!(slots.allocate(), Ok(expected));
    }
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
}

#[test]
fn reset_frees_every_slot_of_the_range() {
    let mut slots = RealmObjectSlots::new(SlotRange { start: 16_384, count: 1536 }).unwrap();
    for _ in 0..1536 {
        slots.allocate().unwrap();
    }
    assert_eq!(slots.allocate(), Err(SlotError::Exhausted));
    slots.reset();
    assert_eq!(slots.free_count(), 1536);
    assert_eq!(slots.in_use(), 0);
    assert_eq!(slots.allocate(), Ok(16_384));
}

#[test]
fn range_bounds() {
    assert_eq!(SlotRange::from_bounds(10, 5), Some(SlotRange { start: 10, count: 0 }));
    assert_eq!(SlotRange::from_bounds(0, 1 << 16), None);
    assert_eq!(SlotRange::from_bounds(1, 1 << 16), Some(SlotRange { start: 1, count: u16::MAX }));
    let full = SlotRange { start: u64::MAX - 1, count: 1 };
    assert_eq!(full.end(), u64::MAX);
    assert!(full.contains(u64::MAX - 1));
    assert!(!full.contains(u64::MAX));
    assert!(!SlotRange { start: 3, count: 0 }.contains(3));
}

#[test]
fn sizes_are_what_the_docs_say() {
    assert_eq!(core::mem::size_of::<RangeSlots>(), 544);
    assert_eq!(core::mem::size_of::<RealmObjectSlots>(), 224);
    assert_eq!(core::mem::size_of::<RootSlots>(), 8344);
}
