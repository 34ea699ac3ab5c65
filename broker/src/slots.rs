//! Bounded allocation of CSpace slots: the broker's own, and the range of each realm's CSpace
//! that the memory manager sets aside for caps the broker places there.

use service_registry::CapSlot;

/// The most slots one range may hold.
pub const MAX_SLOTS_PER_RANGE: usize = 256;
const BITMAP_WORDS: usize = MAX_SLOTS_PER_RANGE / 64;

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

/// Hands out the slots of one range, each at most once until freed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotAllocator {
    range: SlotRange,
    /// Bit `i` set: slot `range.start + i` is in use.
    used: [u64; BITMAP_WORDS],
}

impl SlotAllocator {
    pub(crate) fn new(range: SlotRange) -> Result<Self, SlotRangeError> {
        if usize::from(range.count) > MAX_SLOTS_PER_RANGE {
            return Err(SlotRangeError::TooLarge { count: range.count });
        }
        if range.start.checked_add(u64::from(range.count)).is_none() {
            return Err(SlotRangeError::Overflows { start: range.start, count: range.count });
        }
        Ok(Self { range, used: [0; BITMAP_WORDS] })
    }

    fn is_used(&self, offset: usize) -> bool {
        self.used.get(offset / 64).is_some_and(|word| word & (1 << (offset % 64)) != 0)
    }

    fn set_used(&mut self, offset: usize, used: bool) {
        if let Some(word) = self.used.get_mut(offset / 64) {
            if used {
                *word |= 1 << (offset % 64);
            } else {
                *word &= !(1 << (offset % 64));
            }
        }
    }

    /// The lowest free slot, now in use.
    pub(crate) fn allocate(&mut self) -> Option<CapSlot> {
        let offset = (0..usize::from(self.range.count)).find(|&offset| !self.is_used(offset))?;
        self.set_used(offset, true);
        Some(CapSlot(self.range.start + offset as u64))
    }

    /// Returns `slot` to the range (a slot outside it is ignored).
    pub(crate) fn free(&mut self, slot: CapSlot) {
        if let Some(offset) = slot.0.checked_sub(self.range.start)
            && offset < u64::from(self.range.count)
        {
            self.set_used(offset as usize, false);
        }
    }

    /// How many slots are in use.
    pub(crate) fn in_use(&self) -> usize {
        self.used.iter().map(|word| word.count_ones() as usize).sum()
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
        slots.free(CapSlot(99));
        slots.free(CapSlot(103));
        assert_eq!(slots.in_use(), 2);
        assert_eq!(slots.allocate(), Some(CapSlot(101)));
    }

    #[test]
    fn refuses_ranges_it_cannot_track() {
        assert_eq!(
            SlotAllocator::new(SlotRange { start: 0, count: 257 }),
            Err(SlotRangeError::TooLarge { count: 257 })
        );
        assert_eq!(
            SlotAllocator::new(SlotRange { start: u64::MAX, count: 2 }),
            Err(SlotRangeError::Overflows { start: u64::MAX, count: 2 })
        );
        let mut full = SlotAllocator::new(SlotRange { start: 0, count: 256 }).unwrap();
        for expected in 0..256 {
            assert_eq!(full.allocate(), Some(CapSlot(expected)));
        }
        assert_eq!(full.allocate(), None);
    }
}
