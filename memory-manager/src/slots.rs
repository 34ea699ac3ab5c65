//! The slots of the memory manager's own CNode: which are free, handed out one at a time.
//!
//! A fixed bitmap over the free range the kernel reported at boot, so it never allocates
//! and running out is an error.

use sel4::CPtr;

/// The most slots the allocator can track (the root CNode has at most 2^16 slots).
pub const MAX_SLOTS: usize = 1 << 16;
const WORDS: usize = MAX_SLOTS / 64;

/// What went wrong with a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// Every slot is in use.
    Exhausted,
    /// The slot is outside the managed range.
    OutOfRange(CPtr),
    /// The slot was freed but is not in use.
    NotInUse(CPtr),
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SlotError::Exhausted => f.write_str("every slot of the memory manager is in use"),
            SlotError::OutOfRange(slot) => {
                write!(f, "slot {slot} is outside the slots the memory manager hands out")
            }
            SlotError::NotInUse(slot) => write!(f, "slot {slot} was given back but is not in use"),
        }
    }
}

/// Free slots in `first..end`, tracked by a bitmap (a set bit is a slot in use).
pub struct SlotAllocator {
    first: CPtr,
    end: CPtr,
    used: [u64; WORDS],
    in_use: usize,
    /// Where the next search starts: slots are mostly freed in bulk, so this keeps
    /// allocation close to constant time.
    hint: usize,
}

impl SlotAllocator {
    /// Manages the slots `first..end` (clamped to [`MAX_SLOTS`]).
    pub fn new(first: CPtr, end: CPtr) -> Self {
        let end = end.min(MAX_SLOTS as CPtr).max(first);
        Self { first, end, used: [0; WORDS], in_use: 0, hint: first as usize }
    }

    /// Takes a free slot.
    pub fn allocate(&mut self) -> Result<CPtr, SlotError> {
        let (first, end) = (self.first as usize, self.end as usize);
        let span = end - first;
        for step in 0..span {
            let slot = first + (self.hint - first + step) % span;
            let (word, bit) = (slot / 64, slot % 64);
            if self.used[word] & (1 << bit) == 0 {
                self.used[word] |= 1 << bit;
                self.in_use += 1;
                self.hint = if slot + 1 < end { slot + 1 } else { first };
                return Ok(slot as CPtr);
            }
        }
        Err(SlotError::Exhausted)
    }

    /// Gives a slot back; the caller has emptied it.
    pub fn free(&mut self, slot: CPtr) -> Result<(), SlotError> {
        if !(self.first..self.end).contains(&slot) {
            return Err(SlotError::OutOfRange(slot));
        }
        let (word, bit) = (slot as usize / 64, slot as usize % 64);
        if self.used[word] & (1 << bit) == 0 {
            return Err(SlotError::NotInUse(slot));
        }
        self.used[word] &= !(1 << bit);
        self.in_use -= 1;
        Ok(())
    }

    /// How many slots are free.
    pub fn free_count(&self) -> usize {
        (self.end - self.first) as usize - self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_every_slot_once_then_reports_exhaustion() {
        let mut slots = SlotAllocator::new(100, 164);
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
        let mut slots = SlotAllocator::new(10, 13);
        let taken: Vec<_> = (0..3).map(|_| slots.allocate().unwrap()).collect();
        slots.free(taken[1]).unwrap();
        assert_eq!(slots.free_count(), 1);
        assert_eq!(slots.allocate(), Ok(taken[1]));
    }

    #[test]
    fn errors_are_sentences() {
        assert_eq!(SlotError::Exhausted.to_string(), "every slot of the memory manager is in use");
        assert_eq!(
            SlotError::OutOfRange(9).to_string(),
            "slot 9 is outside the slots the memory manager hands out"
        );
        assert_eq!(SlotError::NotInUse(12).to_string(), "slot 12 was given back but is not in use");
    }

    #[test]
    fn bad_frees_are_errors() {
        let mut slots = SlotAllocator::new(10, 20);
        assert_eq!(slots.free(9), Err(SlotError::OutOfRange(9)));
        assert_eq!(slots.free(20), Err(SlotError::OutOfRange(20)));
        assert_eq!(slots.free(12), Err(SlotError::NotInUse(12)));
    }
}
