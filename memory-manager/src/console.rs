//! The console: the serial port's only writer, for the memory manager's own lines and its
//! realms' lines.
//!
//! Lines go into a bounded queue ([`console::LineQueue`], 128 KiB) from the memory manager's
//! main thread, which never waits for the serial port. A console thread of the memory
//! manager drains the queue to COM1 (`sel4_root_task::serial`). Its priority decides who
//! waits for the port:
//!
//! - While the memory manager's own lines wait (its decisions, refusals, faults, the
//!   banner), the console thread runs at priority 254: above every realm (realms have 0 to
//!   253), below the memory manager (255). They reach the port as soon as the memory
//!   manager waits for its next message, whatever the realms do.
//! - A realm's lines also raise it, up to [`PROMPT_LINES`] lines of that realm between two
//!   moments when the system was idle (the console thread found the queue empty at its
//!   low priority). Past them, the realm's lines wait for the console thread at priority 0,
//!   below every realm: a realm that prints without pause loses its own lines (at most 64 of
//!   them wait, `console::queue::REALM_SHARE`), which the console reports as
//!   `[name] N lines dropped`, and nobody else waits for the port because of it.
//!
//! What is printed depends on the system's `[system] log` level ([`console::Level`]): every
//! line has a [`Class`], checked before the line is queued. Refusals always print, but never
//! flood: the same refusal repeated is summarised ([`console::DenialSummary`]), and a realm
//! gets at most [`REFUSAL_LINES`] refusals printed in full between two idle moments; past
//! them its refusals are counted, and the count is printed at the next idle moment or when
//! it stops.
//!
//! Every decision is printed twice: the human sentence, then one machine-readable line
//! (`SWITCHBOARD-EVENT <kind> key=value ...`, [`console::EventLine`]) that tests read. The
//! two are queued together or not at all.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};

use ::console::{
    Class, Consumer, DenialKey, DenialSummary, EventLine, Level, LineQueue, Producer, Source,
};
use heapless::{String, Vec};
use sel4::cap::tcb::TcbConfig;
use sel4::cap::{Cap, Notification, ObjectType, Tcb, init};
use sel4::kernel::UserContext;
use sel4_root_task::serial::Serial;
use system_config::{LogLevel, SystemConfig};
use vocabulary::limits::{MAX_NAME_BYTES, MAX_REALMS};

use crate::realm::RealmError;
use crate::resources::{RootResources, make_own_in_new_slot};

/// Bytes of the line queue (a power of two).
const QUEUE_BYTES: usize = 128 * 1024;
/// Lines of one realm that raise the console thread between two idle moments.
pub const PROMPT_LINES: u32 = 64;
/// Refusals of one realm printed in full between two idle moments.
pub const REFUSAL_LINES: u32 = 32;
/// Room kept free for the event line that follows a sentence: a line and its header.
const PAIR_ROOM: usize = console::MAX_TEXT + console::queue::HEADER;
/// The console thread's priority while it drains realm output: below every realm.
const IDLE_PRIORITY: u8 = 0;
/// Its priority while it drains the memory manager's backlog: above every realm (255 at
/// most), below the memory manager (255).
const BOOST_PRIORITY: u8 = 254;
/// The console thread's stack.
const STACK_BYTES: usize = 16 * 1024;

static QUEUE: LineQueue<QUEUE_BYTES> = LineQueue::new();
static PRODUCER: spin::Mutex<Option<Producer<'static, QUEUE_BYTES>>> = spin::Mutex::new(None);
static CONSUMER: spin::Mutex<Option<Consumer<'static, QUEUE_BYTES>>> = spin::Mutex::new(None);
/// Realms' names by source (source `i + 1` is realm `i`), set once before the console
/// thread starts.
static NAMES: spin::Once<Vec<String<MAX_NAME_BYTES>, MAX_REALMS>> = spin::Once::new();
static LEVEL: AtomicU8 = AtomicU8::new(0);
static DENIALS: spin::Mutex<DenialSummary> = spin::Mutex::new(DenialSummary::new());
/// The console thread's notifications (0 until it runs): `WORK` wakes it, `DRAINED` is
/// signalled whenever it has emptied the queue.
static WORK: spin::Once<Notification> = spin::Once::new();
static DRAINED: spin::Once<Notification> = spin::Once::new();
static THREAD: spin::Once<Tcb> = spin::Once::new();
static BOOSTED: AtomicBool = AtomicBool::new(false);
/// Counts the moments the console thread, at its low priority, found the queue empty: the
/// system was idle. The main thread resets the realms' credits when it changes.
static IDLE_EPOCH: AtomicU32 = AtomicU32::new(0);
/// Whether the sentence last queued was dropped, so that its event line is dropped too.
static PAIR_DROPPED: AtomicBool = AtomicBool::new(false);

/// What the main thread counts per realm between idle moments.
struct Credits {
    /// The idle epoch the counts belong to.
    epoch: u32,
    /// Lines that may still raise the console thread, per source.
    prompt: [u32; console::SOURCES],
    /// Refusals that may still be printed in full, per source.
    refusals: [u32; console::SOURCES],
    /// Refusals counted and not printed, per source.
    hidden: [u32; console::SOURCES],
}

static CREDITS: spin::Mutex<Credits> = spin::Mutex::new(Credits {
    epoch: 0,
    prompt: [PROMPT_LINES; console::SOURCES],
    refusals: [REFUSAL_LINES; console::SOURCES],
    hidden: [0; console::SOURCES],
});

/// What a repeated refusal was, by its key, for the summary line (bounded: the oldest is
/// forgotten first).
static REFUSALS: spin::Mutex<Vec<Known, 128>> = spin::Mutex::new(Vec::new());

/// A refusal printed in full, remembered for the summary of its repeats.
struct Known {
    key: DenialKey,
    /// Its event kind (`connect-denied`, `quota-refused`, ...) and subject.
    kind: &'static str,
    subject: String<MAX_NAME_BYTES>,
    /// What it was, in words.
    text: String<96>,
}

#[repr(C, align(16))]
struct Stack([u8; STACK_BYTES]);

/// Written only by the console thread, through its stack pointer; Rust code never reads it.
static mut STACK: Stack = Stack([0; STACK_BYTES]);

/// Takes the queue's two ends. Call once, before anything is printed.
pub fn init() {
    *PRODUCER.lock() = QUEUE.producer();
    *CONSUMER.lock() = QUEUE.consumer();
}

/// Takes the system's realm names (for the prefix of their lines) and its log level. Call
/// once, before the console thread starts.
pub fn configure(config: &SystemConfig) {
    NAMES.call_once(|| {
        config
            .realms
            .iter()
            .filter_map(|realm| String::try_from(realm.name.as_str()).ok())
            .collect()
    });
    let level = match config.settings.log {
        LogLevel::All => Level::All,
        LogLevel::Denials => Level::Denials,
        LogLevel::Quiet => Level::Quiet,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
}

fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::All,
        1 => Level::Denials,
        _ => Level::Quiet,
    }
}

/// Whether a line of `class` prints at the system's level.
pub fn prints(class: Class) -> bool {
    level().prints(class)
}

/// Starts the console thread: a TCB and two notifications from the memory manager's own
/// memory, in its own address space and CSpace, at priority 0 with no fault endpoint.
pub fn start_thread(root: &mut RootResources<'_>) -> Result<(), RealmError> {
    let work: Notification = Cap::from_cptr(make_own_in_new_slot(root, ObjectType::Notification)?);
    let drained: Notification =
        Cap::from_cptr(make_own_in_new_slot(root, ObjectType::Notification)?);
    let tcb: Tcb = Cap::from_cptr(make_own_in_new_slot(root, ObjectType::Tcb)?);
    WORK.call_once(|| work);
    DRAINED.call_once(|| drained);
    THREAD.call_once(|| tcb);
    let config = TcbConfig {
        fault_endpoint: None,
        priority: IDLE_PRIORITY,
        max_controlled_priority: BOOST_PRIORITY,
        cspace_root: init::CNODE,
        cspace_root_guard: None,
        vspace_root: init::VSPACE,
        ipc_buffer: None,
    };
    tcb.configure(root.ipc, &config)
        .map_err(|error| RealmError::Kernel { step: "configuring the console thread", error })?;
    let stack_top = (&raw const STACK) as u64 + STACK_BYTES as u64;
    let registers =
        UserContext::function_call(console_thread as *const () as u64, stack_top, [0, 0]);
    tcb.write_registers(root.ipc, true, &registers)
        .map_err(|error| RealmError::Kernel { step: "starting the console thread", error })
}

/// Writes everything queued to COM1.
fn drain(consumer: &mut Consumer<'static, QUEUE_BYTES>) {
    let names = NAMES.get().map(|names| names.as_slice()).unwrap_or(&[]);
    let mut serial = Serial;
    while consumer
        .write_next(names, |byte| {
            let _ = serial.write_bytes(&[byte]);
        })
        .is_some()
    {}
}

/// The console thread: drains the queue to COM1, then waits for more.
extern "C" fn console_thread(_: u64, _: u64) -> ! {
    let mut consumer = CONSUMER.lock().take();
    loop {
        if let Some(consumer) = consumer.as_mut() {
            drain(consumer);
        }
        if BOOSTED.swap(false, Ordering::Relaxed) {
            if let Some(tcb) = THREAD.get() {
                let _ = tcb.set_priority(IDLE_PRIORITY);
            }
            // The main thread may have queued its own lines since the drain: they must not
            // wait at the low priority.
            if QUEUE.queued(Source::MEMORY_MANAGER) > 0 {
                raise();
                continue;
            }
        } else if QUEUE.len_bytes() == 0 {
            // Drained at the low priority: no realm wanted the processor.
            IDLE_EPOCH.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(drained) = DRAINED.get() {
            drained.signal();
        }
        match WORK.get() {
            Some(work) => {
                work.wait();
            }
            None => sel4::ipc::yield_now(),
        }
    }
}

/// Raises the console thread above the realms until it has emptied the queue.
fn raise() {
    // Before the thread exists there is nothing to raise (and the flag must stay clear, or
    // the first raise after it starts would be skipped).
    let Some(tcb) = THREAD.get() else { return };
    if !BOOSTED.swap(true, Ordering::Relaxed) {
        let _ = tcb.set_priority(BOOST_PRIORITY);
    }
}

/// Wakes the console thread, raised if `prompt`.
fn wake(prompt: bool) {
    if prompt {
        raise();
    }
    if let Some(work) = WORK.get() {
        work.signal();
    }
}

/// The realms' credits, renewed first if the system was idle since they were last used;
/// renewing prints how many refusals were not shown.
fn credits() -> spin::MutexGuard<'static, Credits> {
    let mut credits = CREDITS.lock();
    let epoch = IDLE_EPOCH.load(Ordering::Relaxed);
    if credits.epoch != epoch {
        credits.epoch = epoch;
        credits.prompt = [PROMPT_LINES; console::SOURCES];
        credits.refusals = [REFUSAL_LINES; console::SOURCES];
        for (index, hidden) in credits.hidden.iter_mut().enumerate() {
            let hidden = core::mem::take(hidden);
            if hidden > 0 {
                print_hidden(index, hidden);
            }
        }
    }
    credits
}

/// Prints that `count` refusals of source `index` were not shown.
fn print_hidden(index: usize, count: u32) {
    let name = source_name(index);
    print(
        Class::Denial,
        format_args!("memory manager: {count} more refusals of realm {name} were not shown"),
    );
    event(Class::Denial, "refusals-hidden", &[("realm", &name), ("count", &count)]);
}

/// The name of source `index` (a realm's, or `?`).
fn source_name(index: usize) -> &'static str {
    NAMES
        .get()
        .and_then(|names| names.get(index.saturating_sub(1)))
        .map_or("?", |name| name.as_str())
}

/// Queues one of the memory manager's own lines of `class` (nothing if the level hides it),
/// keeping room for the event line that may follow it; if there is no room, the line is
/// dropped (and counted), and so is its event line.
pub fn print(class: Class, args: fmt::Arguments<'_>) {
    if !prints(class) {
        return;
    }
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let room = QUEUE_BYTES - QUEUE.len_bytes();
        let queued =
            room >= 2 * PAIR_ROOM && producer.push_fmt(Source::MEMORY_MANAGER, args).is_ok();
        if !queued && room < 2 * PAIR_ROOM {
            producer.count_drop(Source::MEMORY_MANAGER);
        }
        PAIR_DROPPED.store(!queued, Ordering::Relaxed);
    }
    wake(true);
}

/// Queues one machine-readable event line: `kind`, then each `(key, value)` of `fields`; not
/// if the sentence queued just before it was dropped.
pub fn event(class: Class, kind: &str, fields: &[(&str, &dyn fmt::Display)]) {
    if !prints(class) {
        return;
    }
    if let Some(producer) = PRODUCER.lock().as_mut() {
        if PAIR_DROPPED.swap(false, Ordering::Relaxed) {
            producer.count_drop(Source::MEMORY_MANAGER);
        } else {
            let _ = producer.push_with(Source::MEMORY_MANAGER, false, |writer| {
                let mut line = EventLine::start(writer, kind)?;
                for (key, value) in fields {
                    line.field(key, value)?;
                }
                Ok(())
            });
        }
    }
    wake(true);
}

/// Queues the event line of a broker decision (`broker::LogLine::kind` and `fields`).
pub fn broker_event(class: Class, line: &broker::LogLine<'_>) {
    if !prints(class) {
        return;
    }
    let mut values: Vec<(&'static str, String<EVENT_VALUE_BYTES>), EVENT_FIELDS> = Vec::new();
    let _ = line.fields(&mut |key, value| {
        let mut text = String::new();
        let _ = fmt::write(&mut text, format_args!("{value}"));
        let _ = values.push((key, text));
        Ok(())
    });
    let mut fields: Vec<(&str, &dyn fmt::Display), EVENT_FIELDS> = Vec::new();
    for (key, value) in &values {
        let _ = fields.push((key, value));
    }
    event(class, line.kind(), &fields);
}

/// The most fields a broker event has (`priority-inversion` has 7).
const EVENT_FIELDS: usize = 8;

/// The longest event field value kept, in bytes (names are at most 32).
const EVENT_VALUE_BYTES: usize = 96;

/// Queues a line realm `realm` printed (its name is shown in front).
pub fn realm_line(realm: system_config::RealmId, text: &[u8], cut: bool) {
    if !prints(Class::RealmOutput) {
        return;
    }
    let Some(source) = Source::realm(realm.0.saturating_add(1)) else { return };
    let prompt = {
        let mut credits = credits();
        match credits.prompt.get_mut(usize::from(source.index())) {
            Some(credit) => {
                let prompt = *credit > 0;
                *credit = credit.saturating_sub(1);
                prompt
            }
            None => false,
        }
    };
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.push(source, text, cut);
    }
    wake(prompt);
}

/// Realm `realm` stopped: report its lines that were dropped and not yet reported, its
/// refusals that repeated, and those that were not shown.
pub fn realm_stopped(realm: system_config::RealmId) {
    let Some(source) = Source::realm(realm.0.saturating_add(1)) else { return };
    let index = usize::from(source.index());
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.flush_drops(source);
    }
    let summaries = DENIALS.lock().flush(source);
    for summary in summaries {
        print_repeats(summary);
    }
    let hidden = {
        let mut credits = credits();
        if let Some(prompt) = credits.prompt.get_mut(index) {
            *prompt = PROMPT_LINES;
        }
        if let Some(refusals) = credits.refusals.get_mut(index) {
            *refusals = REFUSAL_LINES;
        }
        credits.hidden.get_mut(index).map(core::mem::take).unwrap_or(0)
    };
    if hidden > 0 {
        print_hidden(index, hidden);
    }
    wake(true);
}

/// What a refusal is, for telling repeats apart: the kind of request, what it was about
/// (hashed: a service name, a resource, what was malformed) and the rule that refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal<'a> {
    pub realm: ipc::RealmId,
    /// The event kind of the refusal (`connect-denied`, `quota-refused`, ...).
    pub kind: &'static str,
    /// What it was about: a service, a resource, what was malformed (a name or code).
    pub subject: &'a str,
    /// The rule that refused it (0 where none applies).
    pub rule: u8,
}

/// Whether a refusal should be printed now. The same refusal repeated by a realm is counted
/// and summarised at 10, 100, 1000... repeats; a realm has at most [`REFUSAL_LINES`]
/// refusals printed in full between two idle moments, and the rest are counted.
/// `describe` says what the refusal was, for the summary lines.
pub fn refusal(refusal: Refusal<'_>, describe: fmt::Arguments<'_>) -> bool {
    let Some(realm) = Source::realm(refusal.realm.0.saturating_add(1)) else { return true };
    let key = DenialKey {
        realm,
        action: (name_hash(refusal.kind) & 0xff) as u8,
        service: name_hash(refusal.subject),
        rule: refusal.rule,
    };
    let report = DENIALS.lock().denial(key);
    if let Some(summary) = report.summary {
        print_repeats(summary);
    }
    if !report.print {
        return false;
    }
    {
        let mut credits = credits();
        let index = usize::from(realm.index());
        match credits.refusals.get_mut(index) {
            Some(refusals) if *refusals > 0 => *refusals -= 1,
            _ => {
                if let Some(hidden) = credits.hidden.get_mut(index) {
                    *hidden = hidden.saturating_add(1);
                }
                return false;
            }
        }
    }
    let mut text = String::new();
    let _ = fmt::write(&mut text, describe);
    let mut subject = String::new();
    let _ = subject.push_str(refusal.subject.get(..subject.capacity()).unwrap_or(refusal.subject));
    let mut known = REFUSALS.lock();
    known.retain(|known| known.key != key);
    if known.is_full() {
        known.remove(0);
    }
    let _ = known.push(Known { key, kind: refusal.kind, subject, text });
    true
}

/// FNV-1a of `text`: equal texts always collide, different ones almost never (a collision
/// would count one refusal as a repeat of another in the summary).
fn name_hash(text: &str) -> u32 {
    text.bytes()
        .fold(0x811c_9dc5u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

fn print_repeats(summary: console::RepeatSummary) {
    let name = source_name(usize::from(summary.key.realm.index()));
    let known = REFUSALS.lock();
    let known = known.iter().find(|known| known.key == summary.key);
    let what = known.map_or("a refusal", |known| known.text.as_str());
    let kind = known.map_or("refusal", |known| known.kind);
    let subject = known.map_or("", |known| known.subject.as_str());
    let total = summary.total.saturating_add(1);
    print(
        Class::Denial,
        format_args!(
            "memory manager: realm {name}: {what}, repeated {} more times ({total} in all)",
            summary.repeats
        ),
    );
    event(
        Class::Denial,
        "refusal-repeated",
        &[
            ("realm", &name),
            ("refused", &kind),
            ("subject", &subject),
            ("count", &summary.repeats),
            ("total", &total),
        ],
    );
}

/// Waits until everything queued is on the serial port (the end of a run): the drops not
/// yet reported are reported, the console thread is raised, and the main thread blocks
/// until it reports the queue empty. Before the console thread runs, the main thread writes
/// the queue out itself.
pub fn flush() {
    let hidden = core::mem::replace(&mut CREDITS.lock().hidden, [0; console::SOURCES]);
    for (index, hidden) in hidden.into_iter().enumerate() {
        if hidden > 0 {
            print_hidden(index, hidden);
        }
    }
    for _ in 0..2 {
        drain_now();
        let mut pending = false;
        if let Some(producer) = PRODUCER.lock().as_mut() {
            for index in 0..console::SOURCES {
                let Some(source) = u8::try_from(index).ok().and_then(Source::from_index) else {
                    continue;
                };
                if QUEUE.pending_drops(source) > 0 {
                    pending |= producer.flush_drops(source).is_ok();
                }
            }
        }
        if !pending {
            return;
        }
    }
    drain_now();
}

/// Writes the queue out: by the console thread, raised, while the main thread waits; or by
/// the main thread itself before the console thread exists.
fn drain_now() {
    let (Some(_), Some(drained)) = (THREAD.get(), DRAINED.get()) else {
        if let Some(consumer) = CONSUMER.lock().as_mut() {
            drain(consumer);
        }
        return;
    };
    raise();
    while QUEUE.len_bytes() > 0 {
        if let Some(work) = WORK.get() {
            work.signal();
        }
        drained.wait();
    }
}

/// Prints one of the memory manager's lines: `mm_println!(Class::Decision, "...", args)`.
#[macro_export]
macro_rules! mm_println {
    ($class:expr, $($arg:tt)*) => {
        $crate::console::print($class, format_args!($($arg)*))
    };
}
