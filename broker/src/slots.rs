//! Bounded allocation of CSpace slots: the broker's own, and the range of each realm's CSpace
//! that the memory manager sets aside for caps the broker places there.
//!
//! A range holds up to [`MAX_SLOTS_PER_RANGE`] slots, tracked by a two-level bitmap: one bit
//! per slot (set: free) and one summary bit per 64 slots (set: at least one of them is free).
//! Allocating is two `trailing_zeros`, freeing is two bit sets, whatever the size of the
//! range: no scan. The lowest free slot is always the one handed out.

use service_registry::CapSlot;

/// The most slots one range may hold (a realm CNode of 2^12 slots fits whole).
pub const MAX_SLOTS_PER_RANGE: usize = 4096;
const BITS_PER_WORD: usize = u64::BITS as usize;
const WORDS: usize = MAX_SLOTS_PER_RANGE / BITS_PER_WORD;
// One summary word covers every bitmap word.
const _: () = assert!(WORDS <= BITS_PER_WORD && MAX_SLOTS_PER_RANGE.is_multiple_of(BITS_PER_WORD));

/// A range of slots: `start`, `start + 1`, ..., `start + count - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u64,
    pub count: u16,
}

/// Why a slot range cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRangeError {
    /// More than [`MAX_SLOTS_PER_RANGE`] slots.
    TooLarge { count: u16 },
    /// The range runs past the end of the slot numbers.
    Overflows { start: u64, count: u16 },
}

impl core::fmt::Display for SlotRangeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SlotRangeError::TooLarge { count } => {
                write!(f, "{count} slots is more than the {MAX_SLOTS_PER_RANGE} a range may have")
            }
            SlotRangeError::Overflows { start, count } => {
                write!(f, "{count} slots from slot {start} run past the last slot number")
            }
        }
    }
}

/// Hands out the slots of one range, each at most once until freed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotAllocator {
    range: SlotRange,
    /// Bit `b` of word `w` set: slot `range.start + 64 * w + b` is free. Bits past the end of
    /// the range are never set.
    free: [u64; WORDS],
    /// Bit `w` set: word `w` of `free` is not zero.
    words_with_free: u64,
    in_use: u16,
}

/// The bits of bitmap word `word` that fall inside a range of `count` slots.
fn range_bits(word: usize, count: usize) -> u64 {
    let first = word * BITS_PER_WORD;
    match count.saturating_sub(first) {
        0 => 0,
        inside if inside >= BITS_PER_WORD => u64::MAX,
        inside => (1 << inside) - 1,
    }
}

impl SlotAllocator {
    /// An allocator with no slots. `const`, for statics.
    pub(crate) const EMPTY: Self = Self {
        range: SlotRange { start: 0, count: 0 },
        free: [0; WORDS],
        words_with_free: 0,
        in_use: 0,
    };

    #[cfg(test)]
    pub(crate) fn new(range: SlotRange) -> Result<Self, SlotRangeError> {
        let mut allocator = Self::EMPTY;
        allocator.configure(range)?;
        Ok(allocator)
    }

    /// Takes `range`, every slot free. On error the allocator is left with no slots.
    pub(crate) fn configure(&mut self, range: SlotRange) -> Result<(), SlotRangeError> {
        self.range = SlotRange { start: 0, count: 0 };
        self.free = [0; WORDS];
        self.words_with_free = 0;
        self.in_use = 0;
        if usize::from(range.count) > MAX_SLOTS_PER_RANGE {
            return Err(SlotRangeError::TooLarge { count: range.count });
        }
        if range.start.checked_add(u64::from(range.count)).is_none() {
            return Err(SlotRangeError::Overflows { start: range.start, count: range.count });
        }
        self.range = range;
        for (index, word) in self.free.iter_mut().enumerate() {
            *word = range_bits(index, usize::from(range.count));
            if *word != 0 {
                self.words_with_free |= 1 << index;
            }
        }
        Ok(())
    }

    /// The lowest free slot, now in use.
    pub(crate) fn allocate(&mut self) -> Option<CapSlot> {
        if self.words_with_free == 0 {
            return None;
        }
        let index = self.words_with_free.trailing_zeros() as usize;
        let word = self.free.get_mut(index)?;
        let bit = word.trailing_zeros() as usize;
        *word &= *word - 1;
        if *word == 0 {
            self.words_with_free &= !(1 << index);
        }
        self.in_use += 1;
        let offset = index * BITS_PER_WORD + bit;
        Some(CapSlot(self.range.start + offset as u64))
    }

    /// Returns `slot` to the range (a slot outside it, or already free, is ignored).
    pub(crate) fn free(&mut self, slot: CapSlot) {
        let Some(offset) = slot.0.checked_sub(self.range.start) else {
            return;
        };
        if offset >= u64::from(self.range.count) {
            return;
        }
        let offset = offset as usize;
        let index = offset / BITS_PER_WORD;
        let bit = 1 << (offset % BITS_PER_WORD);
        if let Some(word) = self.free.get_mut(index)
            && *word & bit == 0
        {
            *word |= bit;
            self.words_with_free |= 1 << index;
            self.in_use = self.in_use.saturating_sub(1);
        }
    }

    /// How many slots are in use.
    pub(crate) fn in_use(&self) -> usize {
        usize::from(self.in_use)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_each_slot_once_until_freed() {
        let mut slots = SlotAllocator::new(SlotRange { start: 100, count: 3 }).unwrap();
        assert_eq!(slots.allocate(), Some(CapSlot(100)));
        assert_eq!(slots.allocate(), Some(CapSlot(101)));
        assert_eq!(slots.allocate(), Some(CapSlot(102)));
        assert_eq!(slots.allocate(), None);
        slots.free(CapSlot(101));
        slots.free(CapSlot(101));
        slots.free(CapSlot(99));
        slots.free(CapSlot(103));
        assert_eq!(slots.in_use(), 2);
        assert_eq!(slots.allocate(), Some(CapSlot(101)));
        assert_eq!(slots.in_use(), 3);
    }

    #[test]
    fn refuses_ranges_it_cannot_track() {
        let too_large = (MAX_SLOTS_PER_RANGE + 1) as u16;
        assert_eq!(
            SlotAllocator::new(SlotRange { start: 0, count: too_large }),
            Err(SlotRangeError::TooLarge { count: too_large })
        );
        assert_eq!(
            SlotAllocator::new(SlotRange { start: u64::MAX, count: 2 }),
            Err(SlotRangeError::Overflows { start: u64::MAX, count: 2 })
        );
        let mut refused = SlotAllocator::new(SlotRange { start: 5, count: 5 }).unwrap();
        assert!(refused.configure(SlotRange { start: 0, count: too_large }).is_err());
        assert_eq!(refused.allocate(), None);
    }

    #[test]
    fn a_full_range_hands_out_every_slot_lowest_first() {
        let count = MAX_SLOTS_PER_RANGE as u16;
        let mut full = SlotAllocator::new(SlotRange { start: 7, count }).unwrap();
        for expected in 0..u64::from(count) {
            assert_eq!(full.allocate(), Some(CapSlot(7 + expected)));
        }
        assert_eq!(full.allocate(), None);
        assert_eq!(full.in_use(), MAX_SLOTS_PER_RANGE);
        // Freed slots come back lowest first, across bitmap words (slot 71 is the first of
        // the second word: the range starts at 7).
        for slot in [4000, 71, 3000, 70] {
            full.free(CapSlot(slot));
        }
        for expected in [70, 71, 3000, 4000] {
            assert_eq!(full.allocate(), Some(CapSlot(expected)));
        }
        assert_eq!(full.allocate(), None);
    }

    #[test]
    fn ranges_that_end_inside_a_word_stop_there() {
        let mut slots = SlotAllocator::new(SlotRange { start: 0, count: 130 }).unwrap();
        for expected in 0..130 {
            assert_eq!(slots.allocate(), Some(CapSlot(expected)));
        }
        assert_eq!(slots.allocate(), None);
        slots.free(CapSlot(130));
        assert_eq!(slots.allocate(), None);
        let mut empty = SlotAllocator::new(SlotRange { start: 9, count: 0 }).unwrap();
        assert_eq!(empty.allocate(), None);
    }
}
