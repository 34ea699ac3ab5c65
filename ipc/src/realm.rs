//! Requests a realm sends the memory manager about itself (not about services), and their
//! replies. They travel on the same broker endpoint as [`crate::Request`]s; their labels
//! start at 32 so the two never collide.
//!
//! | label | request         | words                      | reply                     |
//! |-------|-----------------|----------------------------|---------------------------|
//! | 32    | `WhoAmI`        | none                       | `Identity`: the name      |
//! | 33    | `AllocatePages` | page count                 | `Pages`: address, count   |
//! | 34    | `Exit`          | none                       | none: the realm stops     |
//! | 35    | `Panicked`      | part of the panic text     | `Done`; after the last part none: the realm stops |
//! | 36    | `Serving`       | none                       | `Done`                    |
//! | 37    | `Peer`          | connection word            | `Identity`: client's name |
//! | 38    | `Resources`     | none                       | `Resources`: free RAM bytes, free slots |
//! | 39    | `Print`         | one line of text ([`crate::console`]) | `Done`          |
//! | 40    | `Sleep`         | the wake-up time, ns of the realm clock | `Done`, at that time |
//! | 41    | `WatchDeadlines`| none                       | `Done`                    |
//! | 42    | `BindNotification` | none                    | `Done`                    |
//! | 43    | `SignalAfter`   | the delay, ns (at most [`MAX_SIGNAL_AFTER_NS`]) | `Done` |
//! | 44    | `Spawn`         | the argument word          | `Spawned`: the thread id  |
//! | 45    | `ExitThread`    | none                       | none: the calling thread ends |
//! | 46    | `Join`          | thread id                  | `Joined`: thread id, ending; when it has ended |
//! | 47    | `Detach`        | thread id                  | `Done`                    |
//! | 48    | `Usage`         | none                       | `Usage`: budget free bytes, object slots free, threads |
//!
//! Every thread of a realm has its own cap to the broker endpoint, badged with its
//! [`ThreadId`] (`Badge::for_realm_thread`): the memory manager knows which thread sent a
//! request, and no request names its sender. `Sleep` and `Join` block only the calling
//! thread.
//!
//! Threads. `Spawn` starts a thread in the lowest free thread id: at the program's ELF
//! entry with [`crate::abi::start::THREAD`], its own stack and IPC buffer
//! ([`crate::abi::thread`]) and `rcx` = the argument word (the memory manager does not read
//! it; the runtime passes the closure to run through it). The first spawn into an id makes
//! that id's objects from the realm's budget (a TCB, 16 stack pages, an IPC buffer, an inbox
//! endpoint; the page table of the threads' region on the realm's first spawn); they are kept
//! for the next thread with that id, so spawning again costs no memory. Refusals:
//! `QuotaExceeded` with [`crate::Resource::Threads`] when the realm has `max_threads`
//! threads (running, or ended and not joined yet, its main thread included); with
//! [`crate::Resource::RealmMemory`], [`crate::Resource::RealmObjectSlots`] or
//! [`crate::Resource::RealmPagingStructures`] when the first use of an id does not fit
//! (nothing is left behind). `ExitThread` ends the calling thread ([`ThreadEnding::Exited`]);
//! from the main thread it is `Exit`, and `Exit` from any thread ends the realm (every other
//! thread answers what it owes through the abort path first, see [`crate::abi::start`]).
//! `Join` waits until the thread has ended and answers how ([`ThreadEnding`]); its id is free
//! again then. `Detach` says nobody will join the thread: its id is freed when it ends (at once
//! if it has). Both refuse `NotFound` with [`crate::Missing::Thread`] (never spawned, ended
//! and joined or detached already, the caller itself, the main thread, or joined by another
//! thread) and a thread id of 16 or more as malformed (`OutOfRange` of [`Field::Thread`]).
//! `Usage` answers the realm's own figures: the free bytes of its budget, the free slots of
//! its range of the memory manager's slots ([`crate::Resource::RealmObjectSlots`]) and its
//! live threads.
//!
//! `Sleep` is answered when the realm's clock (the time-stamp counter, see
//! [`crate::abi::control`]) reaches the time given, by the memory manager's timer; a time
//! in the past is answered at once. `WatchDeadlines` says the realm makes calls with
//! deadlines: from then on, until the realm stops, the memory manager's timer checks the
//! deadline words of its control page on every tick. It is sent once, before the first such
//! call, so that calls with deadlines need no IPC of their own.
//!
//! `BindNotification` asks for the realm's own notification: the memory manager makes it
//! from the realm's budget (a notification object and a slot of the realm's object slots)
//! and binds it to the realm's thread, so that a receive on any endpoint may return a signal
//! instead of a message (badge kind 5, see [`crate::BadgeKind::Notification`]). Asking again
//! changes nothing and is answered `Done`. `SignalAfter` asks the memory manager to signal
//! that notification with [`crate::abi::notification::TIMER`] once `nanoseconds` of the
//! realm clock have passed (0: on the next timer tick). A realm has at most one timed signal
//! pending: a new `SignalAfter` replaces the one before. Refusals: `SignalAfter` before
//! `BindNotification` is `NotFound` with [`crate::Missing::Notification`]; a delay above
//! [`MAX_SIGNAL_AFTER_NS`] is a malformed request (`OutOfRange` of [`Field::Duration`]);
//! a budget with no room for the notification is `QuotaExceeded` with
//! [`crate::Resource::RealmMemory`] (or [`crate::Resource::RealmObjectSlots`]).
//!
//! `Serving` says the realm now only answers requests on its services: once every realm has
//! stopped or is serving, nothing can start new work, and the memory manager may shut the
//! system down. `Peer` asks which realm is the client of one of the caller's connections.
//!
//! Errors come back as [`crate::Error`] replies (for example `QuotaExceeded` with
//! [`crate::Resource::RealmMemory`] when a realm asks for more memory than its budget).

use core::fmt;

use crate::console::LineHeader;
use crate::error::{Error, Field, Malformed};
use crate::ids::{ConnectionId, ThreadEnding, ThreadId};
use crate::name::{Name, WireName};
use crate::reply::{decode_reply, encode_reply};
use crate::request::read_connection;
use crate::wire::{Message, Reader, WORD_BYTES};

/// The longest panic text a realm reports, in bytes (the rest is cut).
pub const MAX_TEXT_BYTES: usize = 80;
/// The longest delay a `SignalAfter` may ask for, in nanoseconds: 365 days. A longer one is
/// refused as malformed (`OutOfRange` of [`Field::Duration`]): it is certainly a mistake (or
/// a unit confusion), and with it the wake-up time, now plus the delay, can never overflow
/// the 64-bit nanosecond clock (which lasts 584 years from boot).
pub const MAX_SIGNAL_AFTER_NS: u64 = 365 * 24 * 60 * 60 * 1_000_000_000;

/// Panic text travels in parts of at most this many bytes: a part and its header fill the
/// four message registers, so a panicking realm never touches its IPC buffer (the frame that
/// panicked may still hold a borrow of it).
pub const PANIC_PART_BYTES: usize = 24;

wire_codes! {
    /// The kind of a realm request: the label of its message.
    pub enum RealmRequestKind {
        WhoAmI = 32,
        AllocatePages = 33,
        Exit = 34,
        Panicked = 35,
        Serving = 36,
        Peer = 37,
        Resources = 38,
        Print = 39,
        Sleep = 40,
        WatchDeadlines = 41,
        BindNotification = 42,
        SignalAfter = 43,
        Spawn = 44,
        ExitThread = 45,
        Join = 46,
        Detach = 47,
        Usage = 48,
    }
}

wire_codes! {
    /// The kind of a successful reply to a realm request.
    pub enum RealmReplyKind {
        Identity = 32,
        Pages = 33,
        Done = 34,
        Resources = 35,
        Spawned = 36,
        Joined = 37,
        Usage = 38,
    }
}

/// Free text from a realm, such as its panic message: any bytes, at most
/// [`MAX_TEXT_BYTES`], shown as UTF-8 with invalid sequences replaced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text {
    bytes: [u8; MAX_TEXT_BYTES],
    length: u8,
}

impl Text {
    /// The first [`MAX_TEXT_BYTES`] bytes of `text`.
    pub fn truncated(text: &[u8]) -> Self {
        let mut bytes = [0; MAX_TEXT_BYTES];
        let length = text.len().min(MAX_TEXT_BYTES);
        bytes.iter_mut().zip(text).for_each(|(slot, &byte)| *slot = byte);
        Self { bytes, length: length as u8 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.length)).unwrap_or(&[])
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text(\"{self}\")")
    }
}

/// Part of a panic message: up to [`PANIC_PART_BYTES`] bytes, and whether it is the last.
/// On the wire: one word with the length (bits 7..0) and the last flag (bit 8), then three
/// words of bytes, zero-padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanicPart {
    bytes: [u8; PANIC_PART_BYTES],
    length: u8,
    pub last: bool,
}

impl PanicPart {
    /// The first [`PANIC_PART_BYTES`] bytes of `bytes`.
    pub fn new(bytes: &[u8], last: bool) -> Self {
        let mut part = Self { bytes: [0; PANIC_PART_BYTES], length: 0, last };
        let length = bytes.len().min(PANIC_PART_BYTES);
        part.bytes.iter_mut().zip(bytes).for_each(|(slot, &byte)| *slot = byte);
        part.length = length as u8;
        part
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.length)).unwrap_or(&[])
    }

    fn write(&self, message: &mut Message) {
        message.push(u64::from(self.length) | (u64::from(self.last) << 8));
        for chunk in self.bytes.chunks(WORD_BYTES) {
            let mut word = [0u8; WORD_BYTES];
            word.copy_from_slice(chunk);
            message.push(u64::from_le_bytes(word));
        }
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self, Malformed> {
        let header = reader.word()?;
        let length = (header & 0xff) as usize;
        if header >> 9 != 0 || length > PANIC_PART_BYTES {
            return Err(Malformed::OutOfRange { field: Field::Text, value: header });
        }
        let mut bytes = [0u8; PANIC_PART_BYTES];
        for (chunk, word) in
            bytes.chunks_mut(WORD_BYTES).zip(reader.take(PANIC_PART_BYTES / WORD_BYTES)?)
        {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        // The bytes after the text must be zero: one part, one encoding.
        if bytes.iter().skip(length).any(|&byte| byte != 0) {
            return Err(Malformed::NamePadding { field: Field::Text });
        }
        Ok(Self { bytes, length: length as u8, last: header & (1 << 8) != 0 })
    }
}

/// A request a realm makes about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmRequest {
    /// What is my name?
    WhoAmI,
    /// Map `pages` more pages of memory, from my budget.
    AllocatePages { pages: u64 },
    /// I am done: stop me.
    Exit,
    /// I panicked; this is part of the message. After the last part: log it and stop me.
    Panicked { part: PanicPart },
    /// From now on I only answer requests on my services.
    Serving,
    /// Which realm is the client of my service's connection `connection`?
    Peer { connection: ConnectionId },
    /// How much RAM and how many capability slots does the memory manager have free?
    Resources,
    /// Print this line on the console. The text follows the header in the message words:
    /// [`crate::console::line_text`] reads it. Encoded with [`crate::console::encode_line`],
    /// not [`RealmRequest::encode`] (it needs more words than a [`Message`] holds).
    Print { line: LineHeader },
    /// Answer me when the realm clock reaches `until_ns` nanoseconds.
    Sleep { until_ns: u64 },
    /// Check my control page's call deadlines from now on.
    WatchDeadlines,
    /// Make my notification (from my budget) and bind it to my thread; done already is fine.
    BindNotification,
    /// Signal my notification with [`crate::abi::notification::TIMER`] once `nanoseconds`
    /// (at most [`MAX_SIGNAL_AFTER_NS`]) of the realm clock have passed, replacing the timed
    /// signal I asked for before, if it is still pending.
    SignalAfter { nanoseconds: u64 },
    /// Start a thread in my lowest free thread id, with `argument` in its `rcx`.
    Spawn { argument: u64 },
    /// End the calling thread.
    ExitThread,
    /// Answer me when `thread` has ended.
    Join { thread: ThreadId },
    /// Nobody will join `thread`: free its id when it ends.
    Detach { thread: ThreadId },
    /// My budget's free bytes, my object slots' free count and my live threads.
    Usage,
}

/// What a realm request achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealmResponse {
    Identity {
        name: Name,
    },
    /// `pages` pages are mapped, read-write, from `address` up.
    Pages {
        address: u64,
        pages: u64,
    },
    /// Noted.
    Done,
    /// The memory manager's free RAM and free slots.
    Resources {
        free_bytes: u64,
        free_slots: u64,
    },
    /// The thread started, with this id.
    Spawned {
        thread: ThreadId,
    },
    /// `thread` ended this way; its id is free again.
    Joined {
        thread: ThreadId,
        ending: ThreadEnding,
    },
    /// The calling realm's own figures.
    Usage {
        /// Free bytes of its memory budget (possibly in pieces).
        budget_free_bytes: u64,
        /// Free slots of its range of the memory manager's slots.
        object_slots_free: u64,
        /// Threads running, or ended and not joined yet, its main thread included.
        threads: u8,
    },
}

impl RealmRequest {
    pub const fn kind(&self) -> RealmRequestKind {
        match self {
            Self::WhoAmI => RealmRequestKind::WhoAmI,
            Self::AllocatePages { .. } => RealmRequestKind::AllocatePages,
            Self::Exit => RealmRequestKind::Exit,
            Self::Panicked { .. } => RealmRequestKind::Panicked,
            Self::Serving => RealmRequestKind::Serving,
            Self::Peer { .. } => RealmRequestKind::Peer,
            Self::Resources => RealmRequestKind::Resources,
            Self::Print { .. } => RealmRequestKind::Print,
            Self::Sleep { .. } => RealmRequestKind::Sleep,
            Self::WatchDeadlines => RealmRequestKind::WatchDeadlines,
            Self::BindNotification => RealmRequestKind::BindNotification,
            Self::SignalAfter { .. } => RealmRequestKind::SignalAfter,
            Self::Spawn { .. } => RealmRequestKind::Spawn,
            Self::ExitThread => RealmRequestKind::ExitThread,
            Self::Join { .. } => RealmRequestKind::Join,
            Self::Detach { .. } => RealmRequestKind::Detach,
            Self::Usage => RealmRequestKind::Usage,
        }
    }

    /// The request as a message. A `Print` request gives its header word only: its text is
    /// written with [`crate::console::encode_line`].
    pub fn encode(&self) -> Message {
        let mut message = Message::new(self.kind().code());
        match self {
            Self::WhoAmI
            | Self::Exit
            | Self::Serving
            | Self::Resources
            | Self::WatchDeadlines
            | Self::BindNotification
            | Self::ExitThread
            | Self::Usage => {}
            Self::Spawn { argument } => message.push(*argument),
            Self::Join { thread } | Self::Detach { thread } => {
                message.push(u64::from(thread.get()))
            }
            Self::Sleep { until_ns } => message.push(*until_ns),
            Self::SignalAfter { nanoseconds } => message.push(*nanoseconds),
            Self::Print { line } => {
                message.push(u64::from(line.length) | if line.cut { 1 << 16 } else { 0 })
            }
            Self::Peer { connection } => message.push(connection.to_word()),
            Self::AllocatePages { pages } => message.push(*pages),
            Self::Panicked { part } => part.write(&mut message),
        }
        message
    }

    /// Decodes a realm request; `Ok(None)` when `label` is not a realm request at all (it
    /// may be a broker request).
    pub fn decode(label: u64, words: &[u64]) -> Result<Option<Self>, Malformed> {
        let Some(kind) = RealmRequestKind::from_code(label) else { return Ok(None) };
        let mut reader = Reader::new(words);
        let request = match kind {
            RealmRequestKind::WhoAmI => Self::WhoAmI,
            RealmRequestKind::AllocatePages => Self::AllocatePages { pages: reader.word()? },
            RealmRequestKind::Exit => Self::Exit,
            RealmRequestKind::Panicked => Self::Panicked { part: PanicPart::read(&mut reader)? },
            RealmRequestKind::Serving => Self::Serving,
            RealmRequestKind::Peer => Self::Peer { connection: read_connection(&mut reader)? },
            RealmRequestKind::Resources => Self::Resources,
            RealmRequestKind::Print => Self::Print { line: LineHeader::read(&mut reader)? },
            RealmRequestKind::Sleep => Self::Sleep { until_ns: reader.word()? },
            RealmRequestKind::WatchDeadlines => Self::WatchDeadlines,
            RealmRequestKind::BindNotification => Self::BindNotification,
            RealmRequestKind::SignalAfter => {
                let nanoseconds = reader.word()?;
                if nanoseconds > MAX_SIGNAL_AFTER_NS {
                    return Err(Malformed::OutOfRange {
                        field: Field::Duration,
                        value: nanoseconds,
                    });
                }
                Self::SignalAfter { nanoseconds }
            }
            RealmRequestKind::Spawn => Self::Spawn { argument: reader.word()? },
            RealmRequestKind::ExitThread => Self::ExitThread,
            RealmRequestKind::Join => Self::Join { thread: read_thread(&mut reader)? },
            RealmRequestKind::Detach => Self::Detach { thread: read_thread(&mut reader)? },
            RealmRequestKind::Usage => Self::Usage,
        };
        reader.finish()?;
        Ok(Some(request))
    }
}

/// A thread id word: below `ThreadId::LIMIT`.
fn read_thread(reader: &mut Reader<'_>) -> Result<ThreadId, Malformed> {
    let word = reader.word()?;
    ThreadId::from_word(word).ok_or(Malformed::OutOfRange { field: Field::Thread, value: word })
}

/// A reply to a realm request.
pub type RealmReply = Result<RealmResponse, Error>;

/// Encodes a reply to a realm request.
pub fn encode_realm_reply(reply: &RealmReply) -> Message {
    match reply {
        Ok(RealmResponse::Identity { name }) => {
            let mut message = Message::new(RealmReplyKind::Identity.code());
            name.write(&mut message);
            message
        }
        Ok(RealmResponse::Pages { address, pages }) => {
            let mut message = Message::new(RealmReplyKind::Pages.code());
            message.push(*address);
            message.push(*pages);
            message
        }
        Ok(RealmResponse::Done) => Message::new(RealmReplyKind::Done.code()),
        Ok(RealmResponse::Resources { free_bytes, free_slots }) => {
            let mut message = Message::new(RealmReplyKind::Resources.code());
            message.push(*free_bytes);
            message.push(*free_slots);
            message
        }
        Ok(RealmResponse::Spawned { thread }) => {
            let mut message = Message::new(RealmReplyKind::Spawned.code());
            message.push(u64::from(thread.get()));
            message
        }
        Ok(RealmResponse::Joined { thread, ending }) => {
            let mut message = Message::new(RealmReplyKind::Joined.code());
            message.push(u64::from(thread.get()));
            message.push(ending.to_word());
            message
        }
        Ok(RealmResponse::Usage { budget_free_bytes, object_slots_free, threads }) => {
            let mut message = Message::new(RealmReplyKind::Usage.code());
            message.push(*budget_free_bytes);
            message.push(*object_slots_free);
            message.push(u64::from(*threads));
            message
        }
        Err(error) => encode_reply(&Err(*error)),
    }
}

/// Decodes a reply to a realm request.
pub fn decode_realm_reply(label: u64, words: &[u64]) -> Result<RealmReply, Malformed> {
    let mut reader = Reader::new(words);
    let response = match RealmReplyKind::from_code(label) {
        Some(RealmReplyKind::Identity) => {
            RealmResponse::Identity { name: Name::read(&mut reader, Field::RealmName)? }
        }
        Some(RealmReplyKind::Pages) => {
            RealmResponse::Pages { address: reader.word()?, pages: reader.word()? }
        }
        Some(RealmReplyKind::Done) => RealmResponse::Done,
        Some(RealmReplyKind::Resources) => {
            RealmResponse::Resources { free_bytes: reader.word()?, free_slots: reader.word()? }
        }
        Some(RealmReplyKind::Spawned) => {
            RealmResponse::Spawned { thread: read_thread(&mut reader)? }
        }
        Some(RealmReplyKind::Joined) => {
            let thread = read_thread(&mut reader)?;
            let word = reader.word()?;
            let ending = ThreadEnding::from_word(word)
                .ok_or(Malformed::OutOfRange { field: Field::ThreadEnding, value: word })?;
            RealmResponse::Joined { thread, ending }
        }
        Some(RealmReplyKind::Usage) => {
            let budget_free_bytes = reader.word()?;
            let object_slots_free = reader.word()?;
            let word = reader.word()?;
            let threads = u8::try_from(word)
                .ok()
                .filter(|threads| usize::from(*threads) <= ThreadId::LIMIT)
                .ok_or(Malformed::OutOfRange { field: Field::Thread, value: word })?;
            RealmResponse::Usage { budget_free_bytes, object_slots_free, threads }
        }
        // Not a realm response: it must be an error, shared with the broker's replies.
        None => {
            return match decode_reply(label, words)? {
                Err(error) => Ok(Err(error)),
                Ok(_) => Err(Malformed::UnknownLabel { label }),
            };
        }
    };
    reader.finish()?;
    Ok(Ok(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Resource;

    #[test]
    fn requests_round_trip() {
        let requests = [
            RealmRequest::WhoAmI,
            RealmRequest::AllocatePages { pages: 7 },
            RealmRequest::Exit,
            RealmRequest::Panicked { part: PanicPart::new(b"realms/kv/src/main.rs:3", false) },
            RealmRequest::Panicked { part: PanicPart::new(b":5: boom", true) },
            RealmRequest::Serving,
            RealmRequest::Resources,
            RealmRequest::Peer { connection: ConnectionId::new(3, 9).unwrap() },
            RealmRequest::Sleep { until_ns: 10_000_000 },
            RealmRequest::WatchDeadlines,
            RealmRequest::BindNotification,
            RealmRequest::SignalAfter { nanoseconds: 0 },
            RealmRequest::SignalAfter { nanoseconds: 20_000_000 },
            RealmRequest::SignalAfter { nanoseconds: MAX_SIGNAL_AFTER_NS },
            RealmRequest::Spawn { argument: 0 },
            RealmRequest::Spawn { argument: u64::MAX },
            RealmRequest::ExitThread,
            RealmRequest::Join { thread: ThreadId::new(15).unwrap() },
            RealmRequest::Detach { thread: ThreadId::new(1).unwrap() },
            RealmRequest::Usage,
        ];
        for request in requests {
            let message = request.encode();
            assert_eq!(RealmRequest::decode(message.label(), message.words()), Ok(Some(request)));
        }
    }

    #[test]
    fn notification_requests_decode_exactly() {
        // Labels 42 and 43, as the table says.
        assert_eq!(RealmRequest::BindNotification.encode().label(), 42);
        assert_eq!(RealmRequest::SignalAfter { nanoseconds: 5 }.encode().label(), 43);
        assert_eq!(RealmRequest::SignalAfter { nanoseconds: 5 }.encode().words(), &[5]);
        // One word exactly: none is truncated, two are trailing.
        assert_eq!(
            RealmRequest::decode(43, &[]),
            Err(Malformed::Truncated { needed: 1, actual: 0 })
        );
        assert_eq!(
            RealmRequest::decode(43, &[1, 2]),
            Err(Malformed::TrailingWords { expected: 1, actual: 2 })
        );
        assert_eq!(
            RealmRequest::decode(42, &[0]),
            Err(Malformed::TrailingWords { expected: 0, actual: 1 })
        );
        // A year at most: one nanosecond more, or the largest word, is out of range.
        for absurd in [MAX_SIGNAL_AFTER_NS + 1, u64::MAX] {
            assert_eq!(
                RealmRequest::decode(43, &[absurd]),
                Err(Malformed::OutOfRange { field: Field::Duration, value: absurd })
            );
        }
        // The refusal travels back to the realm intact, with its sentence.
        let refusal: RealmReply = Err(Error::MalformedRequest {
            reason: Malformed::OutOfRange { field: Field::Duration, value: u64::MAX },
        });
        let message = encode_realm_reply(&refusal);
        assert_eq!(decode_realm_reply(message.label(), message.words()), Ok(refusal));
        let not_bound: RealmReply = Err(Error::NotFound { what: crate::Missing::Notification });
        let message = encode_realm_reply(&not_bound);
        assert_eq!(decode_realm_reply(message.label(), message.words()), Ok(not_bound));
        assert_eq!(
            std::format!("{}", Error::NotFound { what: crate::Missing::Notification }),
            "not found: the realm has no bound notification (ask for one first)"
        );
        assert_eq!(
            std::format!(
                "{}",
                Malformed::OutOfRange { field: Field::Duration, value: MAX_SIGNAL_AFTER_NS + 1 }
            ),
            "the duration: 31536000000000001 is out of range"
        );
    }

    #[test]
    fn thread_requests_decode_exactly() {
        assert_eq!(RealmRequest::Spawn { argument: 7 }.encode().label(), 44);
        assert_eq!(RealmRequest::Usage.encode().label(), 48);
        // A thread id is a word below 16.
        for absurd in [16, 255, u64::MAX] {
            for label in [46, 47] {
                assert_eq!(
                    RealmRequest::decode(label, &[absurd]),
                    Err(Malformed::OutOfRange { field: Field::Thread, value: absurd })
                );
            }
        }
        assert_eq!(
            RealmRequest::decode(44, &[]),
            Err(Malformed::Truncated { needed: 1, actual: 0 })
        );
        assert_eq!(
            RealmRequest::decode(45, &[0]),
            Err(Malformed::TrailingWords { expected: 0, actual: 1 })
        );
        // Replies the memory manager could never send are refused, not believed.
        assert_eq!(
            decode_realm_reply(37, &[1, 9]),
            Err(Malformed::OutOfRange { field: Field::ThreadEnding, value: 9 })
        );
        assert_eq!(
            decode_realm_reply(38, &[0, 0, 17]),
            Err(Malformed::OutOfRange { field: Field::Thread, value: 17 })
        );
        assert_eq!(
            std::format!("{}", Error::QuotaExceeded { what: Resource::Threads }),
            "quota exceeded: the realm's max_threads"
        );
    }

    #[test]
    fn broker_labels_are_not_realm_requests() {
        assert_eq!(RealmRequest::decode(2, &[]), Ok(None));
    }

    #[test]
    fn long_text_is_cut_and_bad_parts_refused() {
        let long = [b'x'; 200];
        assert_eq!(Text::truncated(&long).as_bytes().len(), MAX_TEXT_BYTES);
        assert_eq!(PanicPart::new(&long, true).as_bytes().len(), PANIC_PART_BYTES);
        // A part and its header fit the four message registers.
        assert_eq!(
            RealmRequest::Panicked { part: PanicPart::new(&long, true) }.encode().words().len(),
            4
        );
        assert_eq!(
            RealmRequest::decode(35, &[25, 0, 0, 0]),
            Err(Malformed::OutOfRange { field: Field::Text, value: 25 })
        );
        assert_eq!(
            RealmRequest::decode(35, &[1 << 9, 0, 0, 0]),
            Err(Malformed::OutOfRange { field: Field::Text, value: 1 << 9 })
        );
        assert_eq!(
            RealmRequest::decode(35, &[9, 0]),
            Err(Malformed::Truncated { needed: 4, actual: 2 })
        );
        assert_eq!(
            RealmRequest::decode(35, &[1, 0x6161, 0, 0]),
            Err(Malformed::NamePadding { field: Field::Text })
        );
        assert_eq!(
            RealmRequest::decode(34, &[1]),
            Err(Malformed::TrailingWords { expected: 0, actual: 1 })
        );
    }

    #[test]
    fn replies_round_trip_including_errors() {
        let replies: [RealmReply; 10] = [
            Ok(RealmResponse::Spawned { thread: ThreadId::new(4).unwrap() }),
            Ok(RealmResponse::Joined {
                thread: ThreadId::new(4).unwrap(),
                ending: ThreadEnding::Exited,
            }),
            Ok(RealmResponse::Joined {
                thread: ThreadId::new(15).unwrap(),
                ending: ThreadEnding::Panicked,
            }),
            Ok(RealmResponse::Usage {
                budget_free_bytes: 1 << 20,
                object_slots_free: 9,
                threads: 16,
            }),
            Err(Error::QuotaExceeded { what: Resource::Threads }),
            Ok(RealmResponse::Identity { name: Name::new("kv").unwrap() }),
            Ok(RealmResponse::Done),
            Ok(RealmResponse::Resources { free_bytes: 1 << 20, free_slots: 77 }),
            Ok(RealmResponse::Pages { address: 0x2000_0000, pages: 4 }),
            Err(Error::QuotaExceeded { what: Resource::RealmMemory }),
        ];
        for reply in replies {
            let message = encode_realm_reply(&reply);
            assert_eq!(decode_realm_reply(message.label(), message.words()), Ok(reply));
        }
    }

    #[test]
    fn invalid_utf8_is_shown_replaced() {
        let text = Text::truncated(b"ok \xff end");
        assert_eq!(std::format!("{text}"), "ok \u{fffd} end");
    }
}
