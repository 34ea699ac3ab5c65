//! The one allocator of CSpace slots, kernel-free and tested on the host.
//!
//! Switchboard hands out slots from three kinds of range, all with [`SlotAllocator`]:
//! - the free range of the memory manager's root CNode (what the kernel reported empty at
//!   boot, below the broker's and the realms' fixed ranges): [`RootSlots`];
//! - each realm's range of the root CNode, for the caps of the objects made from its budget
//!   (memory manager, `realm.rs`): [`RealmObjectSlots`];
//! - the broker's own range of the root CNode and the range of each realm's CSpace where the
//!   broker places connection caps (`broker`): [`RangeSlots`].
//!
//! It lives in its own crate so that the broker (which never imports the kernel binding)
//! and the memory manager share it: a slot is a plain `u64` here (a CPtr in the caller's
//! CSpace); the caller wraps it in its own type.
//!
//! # Design
//!
//! A range holds up to [`SlotAllocator::CAPACITY`] slots (`64 * WORDS`), tracked by a
//! two-level bitmap: one bit per slot (set: free) and one summary bit per 64 slots (set: at
//! least one of them is free). Allocating finds the first summary word that is not zero
//! (at most `SUMMARY` words, one for ranges up to 4,096 slots) and takes two
//! `trailing_zeros`; freeing sets two bits. The **lowest free slot** is always the one handed
//! out. Nothing allocates: the bitmaps are arrays, and running out is [`SlotError::Exhausted`].
//!
//! Sizes, in bytes: `8 * (WORDS + SUMMARY) + 24`. [`RangeSlots`] (4,096 slots) is 544 bytes,
//! [`RealmObjectSlots`] (1,536 slots) 224 bytes, [`RootSlots`] (65,536 slots) 8,344 bytes
//! (tested).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// Bits in one bitmap word.
const BITS_PER_WORD: usize = u64::BITS as usize;

/// A range of slots: `start`, `start + 1`, ..., `start + count - 1` (at most 65,535 slots,
/// so that every range of a 2^16-slot CNode but the whole of it fits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotRange {
    /// The first slot (a CPtr in the CSpace the range belongs to).
    pub start: u64,
    /// How many slots.
    pub count: u16,
}

impl SlotRange {
    /// The range `start..end` (empty when `end <= start`); `None` when it holds more than
    /// `u16::MAX` slots.
    pub fn from_bounds(start: u64, end: u64) -> Option<Self> {
        let count = u16::try_from(end.saturating_sub(start)).ok()?;
        Some(Self { start, count })
    }

    /// The slot after the last one (saturating at `u64::MAX`).
    pub fn end(self) -> u64 {
        self.start.saturating_add(u64::from(self.count))
    }

    /// Whether `slot` is in the range.
    pub fn contains(self, slot: u64) -> bool {
        slot >= self.start && slot - self.start < u64::from(self.count)
    }
}

/// Why a slot range cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRangeError {
    /// More slots than the allocator can track (`capacity`).
    TooLarge { count: u16, capacity: usize },
    /// The range runs past the end of the slot numbers.
    Overflows { start: u64, count: u16 },
}

impl core::fmt::Display for SlotRangeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SlotRangeError::TooLarge { count, capacity } => {
                write!(f, "{count} slots is more than the {capacity} a range may have")
            }
            SlotRangeError::Overflows { start, count } => {
                write!(f, "{count} slots from slot {start} run past the last slot number")
            }
        }
    }
}

/// What went wrong with one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// Every slot of the range is in use.
    Exhausted,
    /// The slot is outside the range.
    OutOfRange(u64),
    /// The slot was given back but is not in use.
    NotInUse(u64),
}

impl core::fmt::Display for SlotError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SlotError::Exhausted => f.write_str("every slot of the range is in use"),
            SlotError::OutOfRange(slot) => write!(f, "slot {slot} is outside the range"),
            SlotError::NotInUse(slot) => write!(f, "slot {slot} was given back but is not in use"),
        }
    }
}

/// Hands out the slots of one range, each at most once until freed, lowest first.
///
/// `WORDS` bitmap words track up to `64 * WORDS` slots; `SUMMARY` must be
/// `WORDS.div_ceil(64)` (checked at compile time). Use the aliases: [`RangeSlots`],
/// [`RealmObjectSlots`], [`RootSlots`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotAllocator<const WORDS: usize, const SUMMARY: usize = 1> {
    range: SlotRange,
    /// Bit `b` of word `w` set: slot `range.start + 64 * w + b` is free. Bits past the end
    /// of the range are never set.
    free: [u64; WORDS],
    /// Bit `b` of summary word `s` set: word `64 * s + b` of `free` is not zero.
    summary: [u64; SUMMARY],
    in_use: u32,
}

/// A range of up to 4,096 slots: the broker's own and each realm's CSpace range for the
/// caps the broker places (a realm CNode of 2^12 slots fits whole).
pub type RangeSlots = SlotAllocator<64>;
/// A realm's range of the root CNode for the caps of its objects (up to 1,536 slots).
pub type RealmObjectSlots = SlotAllocator<24>;
/// The root CNode's free range (up to 65,535 slots, the most a [`SlotRange`] holds).
pub type RootSlots = SlotAllocator<1024, 16>;

/// The bits of bitmap word `word` that fall inside a range of `count` slots.
fn range_bits(word: usize, count: usize) -> u64 {
    let first = word * BITS_PER_WORD;
    match count.saturating_sub(first) {
        0 => 0,
        inside if inside >= BITS_PER_WORD => u64::MAX,
        inside => (1 << inside) - 1,
    }
}

impl<const WORDS: usize, const SUMMARY: usize> SlotAllocator<WORDS, SUMMARY> {
    /// The most slots a range of this allocator may hold.
    pub const CAPACITY: usize = WORDS * BITS_PER_WORD;
    /// Compile-time check of the shape: one summary bit per bitmap word, none to spare.
    const SHAPE: () = assert!(
        SUMMARY == WORDS.div_ceil(BITS_PER_WORD) && WORDS > 0,
        "SUMMARY must be WORDS.div_ceil(64)"
    );

    /// An allocator with no slots. `const`, for statics.
    pub const EMPTY: Self = {
        let () = Self::SHAPE;
        Self {
            range: SlotRange { start: 0, count: 0 },
            free: [0; WORDS],
            summary: [0; SUMMARY],
            in_use: 0,
        }
    };

    /// An allocator of `range`, every slot free.
    pub fn new(range: SlotRange) -> Result<Self, SlotRangeError> {
        let mut allocator = Self::EMPTY;
        allocator.configure(range)?;
        Ok(allocator)
    }

    /// Takes `range`, every slot free. On error the allocator is left with no slots.
    pub fn configure(&mut self, range: SlotRange) -> Result<(), SlotRangeError> {
        self.range = SlotRange { start: 0, count: 0 };
        self.reset();
        if usize::from(range.count) > Self::CAPACITY {
            return Err(SlotRangeError::TooLarge { count: range.count, capacity: Self::CAPACITY });
        }
        if range.start.checked_add(u64::from(range.count)).is_none() {
            return Err(SlotRangeError::Overflows { start: range.start, count: range.count });
        }
        self.range = range;
        self.reset();
        Ok(())
    }

    /// Every slot of the range free again (its caps were deleted or revoked in bulk).
    pub fn reset(&mut self) {
        self.summary = [0; SUMMARY];
        self.in_use = 0;
        let count = usize::from(self.range.count);
        for (index, word) in self.free.iter_mut().enumerate() {
            *word = range_bits(index, count);
            if *word != 0
                && let Some(summary) = self.summary.get_mut(index / BITS_PER_WORD)
            {
                *summary |= 1 << (index % BITS_PER_WORD);
            }
        }
    }

    /// The lowest free slot, now in use.
    pub fn allocate(&mut self) -> Result<u64, SlotError> {
        let (summary_index, summary) = self
            .summary
            .iter_mut()
            .enumerate()
            .find(|(_, summary)| **summary != 0)
            .ok_or(SlotError::Exhausted)?;
        let index = summary_index * BITS_PER_WORD + summary.trailing_zeros() as usize;
        let word = self.free.get_mut(index).ok_or(SlotError::Exhausted)?;
        let bit = word.trailing_zeros() as usize;
        *word &= *word - 1;
        if *word == 0 {
            *summary &= *summary - 1;
        }
        self.in_use += 1;
        Ok(self.range.start + (index * BITS_PER_WORD + bit) as u64)
    }

    /// Gives `slot` back; its caller has emptied it. A slot outside the range or not in use
    /// is an error and changes nothing.
    pub fn free(&mut self, slot: u64) -> Result<(), SlotError> {
        if !self.range.contains(slot) {
            return Err(SlotError::OutOfRange(slot));
        }
        let offset = (slot - self.range.start) as usize;
        let index = offset / BITS_PER_WORD;
        let bit = 1 << (offset % BITS_PER_WORD);
        let word = self.free.get_mut(index).ok_or(SlotError::OutOfRange(slot))?;
        if *word & bit != 0 {
            return Err(SlotError::NotInUse(slot));
        }
        *word |= bit;
        if let Some(summary) = self.summary.get_mut(index / BITS_PER_WORD) {
            *summary |= 1 << (index % BITS_PER_WORD);
        }
        self.in_use = self.in_use.saturating_sub(1);
        Ok(())
    }

    /// How many slots are in use.
    pub fn in_use(&self) -> usize {
        self.in_use as usize
    }

    /// How many slots are free.
    pub fn free_count(&self) -> usize {
        usize::from(self.range.count) - self.in_use()
    }

    /// The range the allocator hands out.
    pub fn range(&self) -> SlotRange {
        self.range
    }
}

#[cfg(test)]
mod tests;
