//! `console`: Switchboard's one console, without the kernel. The memory manager is the serial
//! port's only writer; realms, the broker and the memory manager itself print through it.
//!
//! - [`queue`]: the bounded line queue between the memory manager's main thread (the
//!   producer, high priority) and its console thread (the consumer, lowest priority), made of
//!   atomics only; per-source shares and counted drops.
//! - [`render`]: what a queued line looks like on the console: the realm's name in front, a
//!   visible cut mark, control bytes neutralised so one record is always one console line.
//! - [`level`]: the system-wide console level (`[system] log = ...`) and which classes of
//!   events print at each.
//! - [`denial`]: the summary of repeated denials, so a realm that loops on a denied request
//!   cannot flood the console.
//! - [`event`]: the machine-readable event line (`SWITCHBOARD-EVENT <kind> key=value ...`)
//!   printed after every decision, with escaped values.
//!
//! Nothing here uses `unsafe` or depends on `sel4`: the crate builds and is tested on the
//! host, and the `qemu` tool uses [`event`] to check what a run printed.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
// What a realm prints passes through here: no index, unwrap or panic may stop the console.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod denial;
pub mod event;
pub mod level;
pub mod queue;
pub mod render;

pub use denial::{DenialKey, DenialReport, DenialSummary, RepeatSummary};
pub use event::{EVENT_PREFIX, EventLine};
pub use level::{Class, Level};
pub use queue::{Consumer, Dropped, LineQueue, Producer, Record};
pub use render::SourceNames;

/// A console serves every realm a system may have: realm sources are `1..=MAX_REALMS`
/// (`vocabulary::limits`).
use vocabulary::limits::MAX_REALMS;

/// How many sources there are: the memory manager (0) and the realms.
pub const SOURCES: usize = MAX_REALMS + 1;
/// The longest line text the queue holds, in bytes. Longer text is cut to this length and
/// marked as cut. One realm print message carries at most about 950 bytes, so a realm's
/// line always fits; the memory manager's own long lines are cut.
pub const MAX_TEXT: usize = 1024;

/// Who a line comes from: 0 is the memory manager itself, `1..=MAX_REALMS` (32) are realms (the realm's
/// index in the system description plus one, or any numbering the memory manager chooses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source(u8);

impl Source {
    /// The memory manager's own lines (its decisions, faults it reports, its banner).
    pub const MEMORY_MANAGER: Source = Source(0);

    /// Realm source `index`, or `None` unless `1 <= index <= MAX_REALMS`.
    pub const fn realm(index: u8) -> Option<Source> {
        if index >= 1 && index as usize <= MAX_REALMS { Some(Source(index)) } else { None }
    }

    /// Source `index` (0 for the memory manager), or `None` when `index >= SOURCES`.
    pub const fn from_index(index: u8) -> Option<Source> {
        if (index as usize) < SOURCES { Some(Source(index)) } else { None }
    }

    /// The source's index: 0 for the memory manager, `1..=MAX_REALMS` for a realm.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Whether this is the memory manager's own source.
    pub const fn is_memory_manager(self) -> bool {
        self.0 == 0
    }
}

/// `source`'s entry of a table with one entry per source.
pub(crate) fn of_source<T>(table: &[T; SOURCES], source: Source) -> &T {
    // Never out of bounds: a `Source` is only made by `realm` and `from_index`, which refuse
    // an index of `SOURCES` or more.
    #[allow(clippy::indexing_slicing)]
    &table[usize::from(source.index())]
}

/// `source`'s entry of a table with one entry per source, to change.
pub(crate) fn of_source_mut<T>(table: &mut [T; SOURCES], source: Source) -> &mut T {
    // Never out of bounds, as in `of_source`.
    #[allow(clippy::indexing_slicing)]
    &mut table[usize::from(source.index())]
}
