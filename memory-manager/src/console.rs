//! The console: the serial port's only writer, for the memory manager's own lines and its
//! realms' lines.
//!
//! Lines go into a bounded queue ([`console::LineQueue`], 128 KiB) from the memory manager's
//! main thread, which never waits for the serial port. A console thread of the memory
//! manager drains the queue to COM1 (`sel4_root_task::serial`). It runs at priority 0, below
//! every realm: realm output reaches the port when the realms leave it time, and a realm
//! that prints faster than that loses its own lines (at most 64 of its lines wait in the
//! queue, `console::queue::REALM_SHARE`), which the console reports as `[name] N lines dropped`. Nobody else is slowed.
//!
//! The memory manager's own lines (its decisions, faults, the banner) may use the whole
//! queue. When more than [`BOOST_LINES`] of them wait, the main thread raises the console
//! thread to priority 254 (above every realm, below itself) until the queue is empty, so
//! that its decisions are not lost while realms keep the processor busy. The console thread
//! then lowers itself again.
//!
//! What is printed depends on the system's `[system] log` level ([`console::Level`]):
//! every line has a [`Class`], checked before the line is queued. Denials that repeat are
//! summarised ([`console::DenialSummary`]).
//!
//! Every decision is printed twice: the human sentence, then one machine-readable line
//! (`SWITCHBOARD-EVENT <kind> key=value ...`, [`console::EventLine`]) that tests read.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use ::console::{
    Class, Consumer, DenialKey, DenialSummary, EventLine, Level, LineQueue, Producer, Source,
};
use heapless::{String, Vec};
use sel4::cap::tcb::TcbConfig;
use sel4::cap::{Cap, Notification, ObjectType, Tcb, init};
use sel4::kernel::UserContext;
use sel4_root_task::serial::Serial;
use system_config::{LogLevel, MAX_REALMS, SystemConfig};

use crate::realm::{Kernel, RealmError, make_own_in_new_slot};

/// Bytes of the line queue (a power of two).
const QUEUE_BYTES: usize = 128 * 1024;
/// When more of the memory manager's own lines than this wait, the console thread is raised
/// above the realms until the queue is empty.
pub const BOOST_LINES: u32 = 32;
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
static NAMES: spin::Once<Vec<String<{ system_config::MAX_NAME_LEN }>, MAX_REALMS>> =
    spin::Once::new();
static LEVEL: AtomicU8 = AtomicU8::new(0);
static DENIALS: spin::Mutex<DenialSummary> = spin::Mutex::new(DenialSummary::new());
/// The console thread's notifications (0 until it runs): `WORK` wakes it, `DRAINED` is
/// signalled whenever it has emptied the queue.
static WORK: spin::Once<Notification> = spin::Once::new();
static DRAINED: spin::Once<Notification> = spin::Once::new();
static THREAD: spin::Once<Tcb> = spin::Once::new();
static BOOSTED: AtomicBool = AtomicBool::new(false);

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
pub fn start_thread(kernel: &mut Kernel<'_>) -> Result<(), RealmError> {
    let work: Notification =
        Cap::from_cptr(make_own_in_new_slot(kernel, ObjectType::Notification)?);
    let drained: Notification =
        Cap::from_cptr(make_own_in_new_slot(kernel, ObjectType::Notification)?);
    let tcb: Tcb = Cap::from_cptr(make_own_in_new_slot(kernel, ObjectType::Tcb)?);
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
    tcb.configure(kernel.ipc, &config)
        .map_err(|error| RealmError::Kernel { step: "configuring the console thread", error })?;
    let stack_top = (&raw const STACK) as u64 + STACK_BYTES as u64;
    let registers =
        UserContext::function_call(console_thread as *const () as u64, stack_top, [0, 0]);
    tcb.write_registers(kernel.ipc, true, &registers)
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
        if BOOSTED.swap(false, Ordering::Relaxed)
            && let Some(tcb) = THREAD.get()
        {
            let _ = tcb.set_priority(IDLE_PRIORITY);
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

/// Wakes the console thread, raising it first when the memory manager's backlog is long.
fn wake() {
    if QUEUE.queued(Source::MEMORY_MANAGER) > BOOST_LINES
        && !BOOSTED.swap(true, Ordering::Relaxed)
        && let Some(tcb) = THREAD.get()
    {
        let _ = tcb.set_priority(BOOST_PRIORITY);
    }
    if let Some(work) = WORK.get() {
        work.signal();
    }
}

/// Queues one of the memory manager's own lines of `class` (nothing if the level hides it).
pub fn print(class: Class, args: fmt::Arguments<'_>) {
    if !prints(class) {
        return;
    }
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.push_fmt(Source::MEMORY_MANAGER, args);
    }
    wake();
}

/// Queues one machine-readable event line: `kind`, then each `(key, value)` of `fields`.
pub fn event(class: Class, kind: &str, fields: &[(&str, &dyn fmt::Display)]) {
    if !prints(class) {
        return;
    }
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.push_with(Source::MEMORY_MANAGER, false, |writer| {
            let mut line = EventLine::start(writer, kind)?;
            for (key, value) in fields {
                line.field(key, value)?;
            }
            Ok(())
        });
    }
    wake();
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
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.push(source, text, cut);
    }
    wake();
}

/// Realm `realm` stopped: report the lines of it that were dropped and not yet reported, and
/// the denials of it that repeated.
pub fn realm_stopped(realm: system_config::RealmId) {
    let Some(source) = Source::realm(realm.0.saturating_add(1)) else { return };
    if let Some(producer) = PRODUCER.lock().as_mut() {
        let _ = producer.flush_drops(source);
    }
    let summaries = DENIALS.lock().flush(source);
    for summary in summaries {
        print_repeats(summary);
    }
    wake();
}

/// Whether a denial of `key` should be printed now; prints a summary of earlier repeats
/// first if one is due.
pub fn denial(key: DenialKey) -> bool {
    let report = DENIALS.lock().denial(key);
    if let Some(summary) = report.summary {
        print_repeats(summary);
    }
    report.print
}

fn print_repeats(summary: console::RepeatSummary) {
    let name = NAMES
        .get()
        .and_then(|names| names.get(usize::from(summary.key.realm.index()).saturating_sub(1)))
        .map(|name| name.as_str())
        .unwrap_or("?");
    print(
        Class::Denial,
        format_args!(
            "broker: realm \"{name}\": the same denial repeated {} more times ({} in all)",
            summary.repeats, summary.total
        ),
    );
    event(
        Class::Denial,
        "denial-repeated",
        &[("realm", &name), ("count", &summary.repeats), ("total", &summary.total)],
    );
}

/// Waits until everything queued is on the serial port (the end of a run): raises the
/// console thread and blocks until it reports the queue empty.
/// Before the console thread runs, the main thread writes the queue out itself.
pub fn flush() {
    let (Some(tcb), Some(drained)) = (THREAD.get(), DRAINED.get()) else {
        if let Some(consumer) = CONSUMER.lock().as_mut() {
            drain(consumer);
        }
        return;
    };
    BOOSTED.store(true, Ordering::Relaxed);
    let _ = tcb.set_priority(BOOST_PRIORITY);
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
