//! The line queue: a bounded single-producer, single-consumer ring of variable-length line
//! records in a fixed byte array, made of atomics only, so it can live in a `static` shared
//! by two threads of one address space with no `unsafe`.
//!
//! # Who uses it
//!
//! The memory manager's main thread (high priority) is the **producer**: it appends its own
//! lines and the lines realms send, then signals the console thread's notification. The
//! console thread (lowest priority) is the **consumer**: it takes one record at a time and
//! writes its rendered bytes to the UART. The consumer may be preempted at any instruction;
//! the producer never waits for it. A line that does not fit is dropped and counted.
//!
//! # The contract: one producer, one consumer
//!
//! [`LineQueue::producer`] and [`LineQueue::consumer`] each hand out their handle once (the
//! first call gets it, later calls get `None`); the handles are neither `Clone` nor usable
//! through a shared reference (their methods take `&mut self`), so safe code cannot have two
//! producers or two consumers of one queue. A handle may move to another thread. The
//! producer never blocks and never waits for the consumer; the consumer never waits for the
//! producer (on seL4 it waits on a notification the producer signals after pushing, which is
//! the caller's business).
//!
//! Were the contract broken anyway (by a later change that hands out a second producer, say),
//! nothing unsound can happen: there is no `unsafe`, every byte is an atomic, every index is
//! masked into the array, and the consumer checks every record header (length, source, flags,
//! that it lies within the published bytes) before trusting it, discarding what is queued and
//! resetting the per-source counts when one does not make sense. At worst text is garbled,
//! lost, or counted in the wrong source's share.
//!
//! # Memory ordering
//!
//! The producer writes a record's bytes with `Relaxed` stores beyond the write index, then
//! publishes the record with a `Release` store of the write index. The consumer `Acquire`s
//! the write index, so it sees every byte of every record below it; after rendering a record
//! it `Release`s the read index, and the producer `Acquire`s the read index before reusing
//! those bytes. Indices are byte counts since the start that wrap around `usize`; the array
//! length is a power of two, so `index & (N - 1)` is the position.
//!
//! # Records
//!
//! A record is an 8-byte header (text length, 2 bytes little-endian; source, 1 byte; flags,
//! 1 byte; lines of the source dropped just before this one, 4 bytes little-endian) followed
//! by the text, with no padding: a record may wrap around the end of the array.
//!
//! # Fair shares
//!
//! A realm may have at most [`REALM_SHARE`] lines queued, and its lines may not use the last
//! quarter of the array, which is kept for the memory manager's own lines (decisions,
//! faults): a realm that prints in a tight loop fills its own share and then loses its own
//! lines, and the memory manager's lines still get through. The memory manager may have up
//! to [`MEMORY_MANAGER_SHARE`] lines queued and use the whole array. A realm's share is
//! counted per source in atomic counters the producer increments and the consumer
//! decrements.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};

use crate::render::{self, SourceNames};
use crate::{MAX_TEXT, SOURCES, Source, of_source};

/// The size of a record header, in bytes.
pub const HEADER: usize = 8;
/// How many lines one realm may have queued at once: enough for a burst (a table of
/// results, a report) printed while the realm goes on computing, which the console thread
/// drains only once the realms leave it time; a realm that prints without end loses all
/// but this many.
pub const REALM_SHARE: u32 = 64;
/// How many lines the memory manager may have queued at once (in practice its lines are
/// bounded by bytes, not by this count).
pub const MEMORY_MANAGER_SHARE: u32 = 1024;

/// Flag: the text was cut; the console shows a cut mark after it.
const FLAG_CUT: u8 = 1;
/// Flag: the record only carries a drop count (pushed by [`Producer::flush_drops`]); it has
/// no text line.
const FLAG_DROPS_ONLY: u8 = 2;

/// Why a line was not queued. The line is counted as dropped for its source either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The source already has its share of lines queued.
    Share,
    /// There is not enough free space in the queue (for a realm: outside the part kept for
    /// the memory manager).
    Full,
    /// The closure that wrote the line's text returned an error.
    Format,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dropped::Share => "the source already has its share of lines queued",
            Dropped::Full => "the console queue is full",
            Dropped::Format => "the line's text could not be formatted",
        })
    }
}

/// The bounded line queue, `N` bytes of records. `N` must be a power of two of at least 4096
/// (checked when the queue is made; in a `static`, at compile time). Make one with
/// [`LineQueue::new`] (usable in a `static`), then take its [`Producer`] and [`Consumer`].
pub struct LineQueue<const N: usize> {
    bytes: [AtomicU8; N],
    /// Bytes ever published (wrapping). Written by the producer only.
    head: AtomicUsize,
    /// Bytes ever consumed (wrapping). Written by the consumer only.
    tail: AtomicUsize,
    /// Lines queued per source: the producer increments, the consumer decrements.
    queued: [AtomicU32; SOURCES],
    /// Lines dropped per source and not yet carried on a record (saturating).
    pending_drops: [AtomicU32; SOURCES],
    producer_taken: AtomicBool,
    consumer_taken: AtomicBool,
}

impl<const N: usize> Default for LineQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineQueue<N> {
    const MASK: usize = N - 1;
    /// Bytes at the end of the free space that realms may not use.
    const RESERVE: usize = N / 4;

    /// An empty queue.
    ///
    /// # Panics
    ///
    /// When `N` is not a power of two or is less than 4096 (at compile time in a `static`).
    pub const fn new() -> Self {
        assert!(
            N.is_power_of_two() && N >= 4096,
            "the console queue's size must be a power of two of at least 4096 bytes"
        );
        Self {
            bytes: [const { AtomicU8::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            queued: [const { AtomicU32::new(0) }; SOURCES],
            pending_drops: [const { AtomicU32::new(0) }; SOURCES],
            producer_taken: AtomicBool::new(false),
            consumer_taken: AtomicBool::new(false),
        }
    }

    /// The queue's one producer, the first time this is called; `None` after that.
    pub fn producer(&self) -> Option<Producer<'_, N>> {
        (!self.producer_taken.swap(true, Ordering::AcqRel)).then_some(Producer { queue: self })
    }

    /// The queue's one consumer, the first time this is called; `None` after that.
    pub fn consumer(&self) -> Option<Consumer<'_, N>> {
        (!self.consumer_taken.swap(true, Ordering::AcqRel)).then_some(Consumer { queue: self })
    }

    /// Lines queued for `source` now (records not yet fully rendered by the consumer).
    pub fn queued(&self, source: Source) -> u32 {
        of_source(&self.queued, source).load(Ordering::Relaxed)
    }

    /// Lines of `source` dropped and not yet reported on a queued record.
    pub fn pending_drops(&self, source: Source) -> u32 {
        of_source(&self.pending_drops, source).load(Ordering::Relaxed)
    }

    /// Bytes queued now (headers included), at most `N`.
    pub fn len_bytes(&self) -> usize {
        let used =
            self.head.load(Ordering::Acquire).wrapping_sub(self.tail.load(Ordering::Acquire));
        used.min(N)
    }

    /// The ring's byte for `position`, which wraps.
    fn cell(&self, position: usize) -> &AtomicU8 {
        // Never out of bounds: `N` is a power of two (checked when the queue is made), so
        // `position & MASK` is below `N`.
        #[allow(clippy::indexing_slicing)]
        &self.bytes[position & Self::MASK]
    }

    fn byte(&self, position: usize) -> u8 {
        self.cell(position).load(Ordering::Relaxed)
    }

    fn set_byte(&self, position: usize, value: u8) {
        self.cell(position).store(value, Ordering::Relaxed);
    }

    fn count_drop(&self, source: Source) {
        let _ = of_source(&self.pending_drops, source).fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |count| Some(count.saturating_add(1)),
        );
    }
}

/// The producer's handle: appends lines. There is one per queue (see the module doc).
pub struct Producer<'q, const N: usize> {
    queue: &'q LineQueue<N>,
}

impl<const N: usize> Producer<'_, N> {
    /// Queues one line of `source` with `text`; text longer than [`MAX_TEXT`] is cut, and
    /// `cut` marks text the sender already cut. Any bytes may be given: the consumer
    /// neutralises control bytes when it renders the line.
    ///
    /// # Errors
    ///
    /// [`Dropped`] when the line was not queued; it is then counted as dropped for `source`,
    /// and the count is reported before the source's next queued line.
    pub fn push(&mut self, source: Source, text: &[u8], cut: bool) -> Result<(), Dropped> {
        self.push_with(source, cut, |line| {
            line.write_bytes(text);
            Ok(())
        })
    }

    /// Queues one line of `source` formatted from `arguments` (`format_args!`), with no
    /// intermediate buffer; otherwise as [`Producer::push`].
    ///
    /// # Errors
    ///
    /// As [`Producer::push`].
    pub fn push_fmt(
        &mut self,
        source: Source,
        arguments: fmt::Arguments<'_>,
    ) -> Result<(), Dropped> {
        self.push_with(source, false, |line| fmt::Write::write_fmt(line, arguments))
    }

    /// Queues one line of `source` whose text `write` writes into the queue directly (for
    /// example an [`EventLine`](crate::EventLine)); otherwise as [`Producer::push`].
    ///
    /// # Errors
    ///
    /// As [`Producer::push`]; [`Dropped::Format`] when `write` returns an error.
    pub fn push_with(
        &mut self,
        source: Source,
        cut: bool,
        write: impl FnOnce(&mut LineWriter<'_, N>) -> fmt::Result,
    ) -> Result<(), Dropped> {
        let result = self.try_push(source, cut, write);
        if result.is_err() {
            self.queue.count_drop(source);
        }
        result
    }

    fn try_push(
        &mut self,
        source: Source,
        cut: bool,
        write: impl FnOnce(&mut LineWriter<'_, N>) -> fmt::Result,
    ) -> Result<(), Dropped> {
        let queue = self.queue;
        let share = if source.is_memory_manager() { MEMORY_MANAGER_SHARE } else { REALM_SHARE };
        if of_source(&queue.queued, source).load(Ordering::Relaxed) >= share {
            return Err(Dropped::Share);
        }
        let head = queue.head.load(Ordering::Relaxed);
        let free = self.free(head);
        let free = if source.is_memory_manager() {
            free
        } else {
            free.saturating_sub(LineQueue::<N>::RESERVE)
        };
        if free < HEADER {
            return Err(Dropped::Full);
        }
        let room = (free - HEADER).min(MAX_TEXT);
        let start = head.wrapping_add(HEADER);
        let mut line = LineWriter { queue, start, room, written: 0, first_excess: None };
        write(&mut line).map_err(|_| Dropped::Format)?;
        let mut length = line.written.min(MAX_TEXT);
        if length > room {
            return Err(Dropped::Full);
        }
        let mut cut = cut;
        if line.written > MAX_TEXT {
            cut = true;
            // Do not leave half a character at the cut.
            if line.first_excess.is_some_and(is_continuation) {
                let byte_before = |back: usize| queue.byte(start.wrapping_add(length - 1 - back));
                let mut back = 0;
                while back < 3 && back < length && is_continuation(byte_before(back)) {
                    back += 1;
                }
                if back < length && byte_before(back) >= 0xc0 {
                    length -= back + 1;
                }
            }
        }
        let drops = of_source(&queue.pending_drops, source).swap(0, Ordering::Relaxed);
        let flags = if cut { FLAG_CUT } else { 0 };
        self.publish(head, source, flags, length, drops);
        Ok(())
    }

    /// Queues a record that only reports `source`'s dropped lines, if it has any (for
    /// example when the realm stops, so its last drops are not left unreported). It needs
    /// only [`HEADER`] bytes and is not limited by the source's share.
    ///
    /// # Errors
    ///
    /// [`Dropped::Full`] when even that does not fit; the count stays pending.
    pub fn flush_drops(&mut self, source: Source) -> Result<(), Dropped> {
        let queue = self.queue;
        if of_source(&queue.pending_drops, source).load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let head = queue.head.load(Ordering::Relaxed);
        if self.free(head) < HEADER {
            return Err(Dropped::Full);
        }
        let drops = of_source(&queue.pending_drops, source).swap(0, Ordering::Relaxed);
        self.publish(head, source, FLAG_DROPS_ONLY, 0, drops);
        Ok(())
    }

    /// Counts one line of `source` as dropped without offering it (for example the event line
    /// of a sentence that was dropped: the two go together); it is reported like any drop.
    pub fn count_drop(&mut self, source: Source) {
        self.queue.count_drop(source);
    }

    /// Forgets `source`'s pending drop count and returns it (for example before a realm's
    /// source number is given to another realm, when [`Producer::flush_drops`] failed).
    pub fn take_drops(&mut self, source: Source) -> u32 {
        of_source(&self.queue.pending_drops, source).swap(0, Ordering::Relaxed)
    }

    /// The queue this producer appends to.
    pub fn queue(&self) -> &LineQueue<N> {
        self.queue
    }

    fn free(&self, head: usize) -> usize {
        let used = head.wrapping_sub(self.queue.tail.load(Ordering::Acquire));
        N.saturating_sub(used)
    }

    fn publish(&mut self, head: usize, source: Source, flags: u8, length: usize, drops: u32) {
        let queue = self.queue;
        let length_bytes = (length as u16).to_le_bytes();
        let drop_bytes = drops.to_le_bytes();
        let header = [
            length_bytes[0],
            length_bytes[1],
            source.index(),
            flags,
            drop_bytes[0],
            drop_bytes[1],
            drop_bytes[2],
            drop_bytes[3],
        ];
        for (offset, byte) in header.into_iter().enumerate() {
            queue.set_byte(head.wrapping_add(offset), byte);
        }
        of_source(&queue.queued, source).fetch_add(1, Ordering::Relaxed);
        queue.head.store(head.wrapping_add(HEADER + length), Ordering::Release);
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xc0 == 0x80
}

/// Where a line's text is written: straight into the queue's free space, beyond the write
/// index (the consumer does not look there until the record is published). Writing more
/// than fits is not an error: the excess is counted and the push then cuts or drops the line.
pub struct LineWriter<'q, const N: usize> {
    queue: &'q LineQueue<N>,
    start: usize,
    room: usize,
    written: usize,
    first_excess: Option<u8>,
}

impl<const N: usize> LineWriter<'_, N> {
    /// Appends `bytes` to the line's text.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.written < self.room {
                self.queue.set_byte(self.start.wrapping_add(self.written), byte);
            } else if self.written == MAX_TEXT {
                self.first_excess = Some(byte);
            }
            self.written = self.written.saturating_add(1);
        }
    }
}

impl<const N: usize> fmt::Write for LineWriter<'_, N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_bytes(text.as_bytes());
        Ok(())
    }
}

/// What the consumer rendered: one record's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Whose line it was.
    pub source: Source,
    /// The text was cut (a cut mark was rendered).
    pub cut: bool,
    /// Lines of the source dropped just before this record (a drop report was rendered
    /// first when this is not zero). `u32::MAX` means at least that many.
    pub dropped_before: u32,
    /// Whether the record had a text line (records pushed by [`Producer::flush_drops`] do
    /// not).
    pub has_text: bool,
    /// The text's length in the queue, in bytes, before rendering.
    pub text_length: usize,
}

/// The consumer's handle: takes records in order and renders them. There is one per queue
/// (see the module doc).
pub struct Consumer<'q, const N: usize> {
    queue: &'q LineQueue<N>,
}

impl<const N: usize> Consumer<'_, N> {
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.head.load(Ordering::Acquire) == self.queue.tail.load(Ordering::Relaxed)
    }

    /// Renders the oldest record into `sink`, one byte at a time, then frees its space and
    /// returns what it was; `None` when the queue is empty. The bytes are, in order: the
    /// drop report when lines of the source were dropped before it (a human line and a
    /// `lines-dropped` event line), then the text line (see [`render`]), each ending in
    /// `\n`. `names` gives realms' names for the prefix.
    ///
    /// The record keeps its space (and its place in the source's share) while it is being
    /// rendered, so `sink` may be as slow as the UART.
    pub fn write_next<S: SourceNames + ?Sized>(
        &mut self,
        names: &S,
        mut sink: impl FnMut(u8),
    ) -> Option<Record> {
        let queue = self.queue;
        let head = queue.head.load(Ordering::Acquire);
        let tail = queue.tail.load(Ordering::Relaxed);
        let used = head.wrapping_sub(tail);
        if used == 0 {
            return None;
        }
        let header: [u8; HEADER] =
            core::array::from_fn(|offset| queue.byte(tail.wrapping_add(offset)));
        let length = usize::from(u16::from_le_bytes([header[0], header[1]]));
        let source = Source::from_index(header[2]);
        let flags = header[3];
        let drops = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let sane = used <= N
            && HEADER <= used
            && length <= MAX_TEXT
            && HEADER + length <= used
            && flags & !(FLAG_CUT | FLAG_DROPS_ONLY) == 0;
        let Some(source) = source.filter(|_| sane) else {
            self.resynchronise(head);
            return None;
        };
        let has_text = flags & FLAG_DROPS_ONLY == 0;
        let cut = flags & FLAG_CUT != 0;
        if drops > 0 {
            render::drop_report(source, drops, names, &mut sink);
        }
        if has_text {
            let start = tail.wrapping_add(HEADER);
            render::line(
                source,
                names,
                length,
                |index| queue.byte(start.wrapping_add(index)),
                cut,
                &mut sink,
            );
        }
        queue.tail.store(tail.wrapping_add(HEADER + length), Ordering::Release);
        let _ = of_source(&queue.queued, source).fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |count| Some(count.saturating_sub(1)),
        );
        Some(Record { source, cut, dropped_before: drops, has_text, text_length: length })
    }

    /// A header made no sense, so the single-producer contract was broken: drop everything
    /// queued and start again from the write index.
    fn resynchronise(&mut self, head: usize) {
        self.queue.tail.store(head, Ordering::Release);
        for count in &self.queue.queued {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// The queue this consumer takes from.
    pub fn queue(&self) -> &LineQueue<N> {
        self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vocabulary::limits::MAX_REALMS;

    const NAMES: [&str; 3] = ["init", "plugin", "kv"];
    const MM: Source = Source::MEMORY_MANAGER;

    fn realm(index: u8) -> Source {
        Source::realm(index).unwrap()
    }

    fn queue() -> Box<LineQueue<4096>> {
        Box::new(LineQueue::new())
    }

    /// Everything queued, rendered.
    fn drain<const N: usize>(consumer: &mut Consumer<'_, N>) -> String {
        let mut out = Vec::new();
        while consumer.write_next(&NAMES, |byte| out.push(byte)).is_some() {}
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn handles_are_handed_out_once() {
        let queue = queue();
        assert!(queue.producer().is_some());
        assert!(queue.producer().is_none());
        assert!(queue.consumer().is_some());
        assert!(queue.consumer().is_none());
    }

    #[test]
    fn lines_come_out_in_order_with_prefixes() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        assert!(consumer.is_empty());
        producer.push(realm(2), b"hello", false).unwrap();
        producer.push_fmt(MM, format_args!("broker: connect allowed: {}", 42)).unwrap();
        producer.push(realm(1), b"very long", true).unwrap();
        assert_eq!(queue.queued(realm(2)), 1);
        assert_eq!(
            drain(&mut consumer),
            "[plugin] hello\nbroker: connect allowed: 42\n[init] very long [cut]\n"
        );
        assert_eq!(queue.queued(realm(2)), 0);
        assert_eq!(queue.len_bytes(), 0);
    }

    #[test]
    fn records_wrap_around_the_end_of_the_array() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        // 4096 is not a multiple of a record's size (8 + 93 bytes), so records straddle the
        // end of the array again and again.
        for round in 0..500 {
            let text = format!("{round:03} {}", "x".repeat(89));
            producer.push(MM, text.as_bytes(), false).unwrap();
            producer.push(realm(3), text.as_bytes(), false).unwrap();
            assert_eq!(drain(&mut consumer), format!("{text}\n[kv] {text}\n"));
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        let line = [b'm'; 1000];
        let mut queued = 0;
        while producer.push(MM, &line, false).is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 4); // 4 * 1008 bytes of 4096
        assert_eq!(producer.push(MM, &line, false), Err(Dropped::Full));
        assert_eq!(queue.pending_drops(MM), 2);
        // A short line still fits in what is left.
        producer.push(MM, b"short", false).unwrap();
        let rendered = drain(&mut consumer);
        assert!(rendered.ends_with(
            "memory manager: 2 lines dropped\n\
             SWITCHBOARD-EVENT lines-dropped source=0 count=2\nshort\n"
        ));
        assert_eq!(rendered.lines().count(), 4 + 3);
    }

    #[test]
    fn a_flooding_realm_loses_only_its_own_lines() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        let mut plugin_queued = 0;
        for number in 0..300 {
            plugin_queued += usize::from(
                producer.push(realm(2), format!("flood {number}").as_bytes(), false).is_ok(),
            );
            if number % 60 == 0 {
                producer.push(realm(1), format!("init {number}").as_bytes(), false).unwrap();
                producer.push_fmt(MM, format_args!("decision {number}")).unwrap();
            }
        }
        assert_eq!(plugin_queued, REALM_SHARE as usize);
        assert_eq!(queue.queued(realm(2)), REALM_SHARE);
        assert_eq!(queue.pending_drops(realm(2)), 300 - REALM_SHARE);
        assert_eq!(queue.pending_drops(realm(1)), 0);
        assert_eq!(queue.pending_drops(MM), 0);
        let rendered = drain(&mut consumer);
        for number in (0..300).step_by(60) {
            assert!(rendered.contains(&format!("[init] init {number}\n")));
            assert!(rendered.contains(&format!("\ndecision {number}\n")));
        }
        assert!(!rendered.contains("dropped"));
        producer.flush_drops(realm(2)).unwrap();
        assert_eq!(
            drain(&mut consumer),
            "[plugin] 236 lines dropped\n\
             SWITCHBOARD-EVENT lines-dropped source=2 realm=plugin count=236\n"
        );
    }

    #[test]
    fn realms_leave_room_for_the_memory_manager() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        let line = [b'r'; 900];
        let mut realms = 0;
        for index in 1..=MAX_REALMS as u8 {
            realms += usize::from(producer.push(realm(index), &line, false).is_ok());
        }
        // Three quarters of 4096 bytes hold three 908-byte records.
        assert_eq!(realms, 3);
        producer.push(MM, &line, false).unwrap();
        assert_eq!(drain(&mut consumer).lines().count(), 4);
    }

    #[test]
    fn drops_are_reported_before_the_next_line() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        for number in 0..(REALM_SHARE + 5) {
            let _ = producer.push(realm(2), format!("line {number}").as_bytes(), false);
        }
        assert_eq!(queue.pending_drops(realm(2)), 5);
        assert_eq!(drain(&mut consumer).lines().count(), REALM_SHARE as usize);
        producer.push(realm(2), b"after", false).unwrap();
        let mut out = Vec::new();
        let record = consumer.write_next(&NAMES, |byte| out.push(byte)).unwrap();
        assert_eq!(record.dropped_before, 5);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[plugin] 5 lines dropped\n\
             SWITCHBOARD-EVENT lines-dropped source=2 realm=plugin count=5\n[plugin] after\n"
        );
        assert_eq!(queue.pending_drops(realm(2)), 0);
        // Nothing pending: flushing queues nothing.
        producer.flush_drops(realm(2)).unwrap();
        assert!(consumer.is_empty());
    }

    #[test]
    fn flush_reports_the_last_drops_without_a_line() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        for _ in 0..(REALM_SHARE + 1) {
            let _ = producer.push(realm(1), b"x", false);
        }
        // The share is full, yet the flush record gets in.
        producer.flush_drops(realm(1)).unwrap();
        let rendered = drain(&mut consumer);
        assert!(rendered.ends_with(
            "[init] x\n[init] 1 line dropped\n\
             SWITCHBOARD-EVENT lines-dropped source=1 realm=init count=1\n"
        ));
        assert_eq!(queue.queued(realm(1)), 0);
    }

    #[test]
    fn drop_counts_saturate() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        for _ in 0..REALM_SHARE {
            producer.push(realm(2), b"x", false).unwrap();
        }
        queue.pending_drops[2].store(u32::MAX - 1, Ordering::Relaxed);
        for _ in 0..3 {
            assert_eq!(producer.push(realm(2), b"x", false), Err(Dropped::Share));
        }
        assert_eq!(queue.pending_drops(realm(2)), u32::MAX);
        drain(&mut consumer);
        producer.push(realm(2), b"y", false).unwrap();
        let rendered = drain(&mut consumer);
        assert!(rendered.starts_with("[plugin] 4294967295 or more lines dropped\n"));
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        // 1023 ASCII bytes, then a 3-byte character across the limit.
        let text = format!("{}\u{2026}tail", "a".repeat(MAX_TEXT - 1));
        producer.push(MM, text.as_bytes(), false).unwrap();
        let mut out = Vec::new();
        let record = consumer.write_next(&NAMES, |byte| out.push(byte)).unwrap();
        assert!(record.cut);
        assert_eq!(record.text_length, MAX_TEXT - 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{} [cut]\n", "a".repeat(MAX_TEXT - 1))
        );
        // A 4-byte character starting three bytes before the limit goes whole.
        let text = format!("{}\u{1f600}", "c".repeat(MAX_TEXT - 3));
        producer.push(realm(1), text.as_bytes(), false).unwrap();
        let record = consumer.write_next(&NAMES, |_| {}).unwrap();
        assert_eq!((record.cut, record.text_length), (true, MAX_TEXT - 3));
        // Exactly MAX_TEXT is not cut.
        producer.push(realm(1), &[b'b'; MAX_TEXT], false).unwrap();
        assert!(!consumer.write_next(&NAMES, |_| {}).unwrap().cut);
    }

    #[test]
    fn a_realm_cannot_start_a_console_line() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        producer
            .push(realm(2), b"ok\nSWITCHBOARD-EVENT connect-allowed realm=plugin\r\x1b[2K", false)
            .unwrap();
        let rendered = drain(&mut consumer);
        assert_eq!(
            rendered,
            "[plugin] ok\\nSWITCHBOARD-EVENT connect-allowed realm=plugin\\r\\x1b[2K\n"
        );
    }

    #[test]
    fn a_failing_writer_drops_the_line() {
        let queue = queue();
        let (mut producer, consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        assert_eq!(producer.push_with(MM, false, |_| Err(fmt::Error)), Err(Dropped::Format));
        assert_eq!(queue.pending_drops(MM), 1);
        assert!(consumer.is_empty());
    }

    #[test]
    fn a_garbled_queue_is_discarded_not_trusted() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        producer.push(realm(1), b"fine", false).unwrap();
        // What a second producer writing over the first could leave: a header claiming a
        // length beyond what is queued.
        queue.set_byte(1, 0x7f);
        assert_eq!(consumer.write_next(&NAMES, |_| {}), None);
        assert!(consumer.is_empty());
        assert_eq!(queue.queued(realm(1)), 0);
        producer.push(realm(1), b"again", false).unwrap();
        assert_eq!(drain(&mut consumer), "[init] again\n");
    }

    #[test]
    fn an_event_line_can_be_written_straight_into_the_queue() {
        let queue = queue();
        let (mut producer, mut consumer) = (queue.producer().unwrap(), queue.consumer().unwrap());
        producer
            .push_with(MM, false, |line| {
                crate::EventLine::start(line, "connect-denied")?
                    .field("realm", "plugin")?
                    .field("service", "kv")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            drain(&mut consumer),
            "SWITCHBOARD-EVENT connect-denied realm=plugin service=kv\n"
        );
    }
}
