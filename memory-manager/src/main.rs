//! The memory manager: Switchboard's seL4 root task.
//!
//! It prints the banner from the boot info, reads the boot image the `qemu` tool embedded and
//! re-checks the system description in it (trusting nothing the build produced), starts the
//! broker, its console thread and its timer (`timer`: the PIT at 1 kHz, ticks on its
//! endpoint, a TSC clock), then the realms in tree order, and serves them (`server`): their
//! requests about themselves, their requests to the broker, and their faults. When no realm
//! is left but servers, it stops those too, checks that all memory and slots are back, and ends the run
//! with its verdict. A realm that cannot be started at boot fails the run, whatever `[system]
//! run` says: the realms after it are not started, those started are stopped, and the
//! resources are checked before the `FAIL`.
#![forbid(unsafe_code)]
// The request path of the root task: no index, unwrap or panic may stop it (the few proven
// exceptions say why, where they are).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![no_std]
#![no_main]

mod address_space;
mod boot;
mod brokering;
mod console;
mod deadline;
mod lifecycle;
mod realm;
mod resources;
mod server;
mod timer;

use ::console::Class;
use broker::Broker;
use heapless::Vec;
use memory_manager::memory::MemoryPool;
use sel4::BootInfo;
use sel4::cap::{Cap, ObjectType};
use sel4_root_task::Verdict;
use sel4_root_task::scratch::ScratchWindow;
use slots::{RootSlots, SlotRange};
use system_config::CheckedConfig;
use vocabulary::limits::MAX_REALMS;

use crate::lifecycle::{Lifecycle, PendingRestarts, Realms};
use crate::realm::{Realm, RealmError};
use crate::resources::RootResources;
use crate::server::Server;
use crate::timer::Timer;

sel4_root_task::main!(main);

/// Memory for the memory manager's own objects (its endpoint, the scratch window's tables,
/// the endpoints of services).
const OWN_MEMORY_BITS: u8 = 16;

/// The broker: about 235 KiB, so it lives in `.bss`, not on the stack.
static BROKER: spin::Mutex<Broker<'static>> = spin::Mutex::new(Broker::empty());

/// The system configuration, once the boot check made it: a `'static` borrow for everything
/// that reads it (console, lifecycle, server, the broker's setup), kept out of `main`'s frame
/// (the model's tables are tens of KiB).
static CONFIG: spin::Once<CheckedConfig> = spin::Once::new();

/// The broker's slots in the memory manager's CNode: just below the realms' ranges.
const BROKER_FIRST_SLOT: u64 = realm::REALM_SLOTS_BASE - brokering::BROKER_SLOTS as u64;

fn main(bootinfo: &'static BootInfo) -> ! {
    console::init();
    boot::print_banner(bootinfo);
    let (image, config) = match boot::read_system() {
        Ok((image, config)) => (image, CONFIG.call_once(|| config)),
        Err(reason) => fail(format_args!("cannot boot the system: {reason}")),
    };
    console::configure(config);
    boot::print_system(&image, config);
    let mut broker = BROKER.lock();
    if let Err(error) = brokering::configure_broker(&mut broker, config, BROKER_FIRST_SLOT) {
        fail(format_args!("cannot start the broker: {error}"));
    }
    let Some(ipc) = bootinfo.take_ipc_buffer() else { fail(format_args!("no IPC buffer")) };
    let Some(mut window) = ScratchWindow::claim() else { fail(format_args!("no scratch window")) };
    let empty = bootinfo.empty_slots();
    // The broker's and the realms' slot ranges are fixed: they must be free slots of a
    // 2^16-slot CNode (our kernel configuration), or caps would land on boot caps.
    if bootinfo.cnode_size_bits() != 16 || empty.start > BROKER_FIRST_SLOT || empty.end < 1 << 16 {
        fail(format_args!(
            "the root CNode (2^{} slots, free {}..{}) does not leave slots {BROKER_FIRST_SLOT}..65536 free",
            bootinfo.cnode_size_bits(),
            empty.start,
            empty.end
        ));
    }
    // Checked above: the range lies inside the 2^16-slot CNode, below the broker's.
    let free_range = SlotRange::from_bounds(empty.start, BROKER_FIRST_SLOT);
    let Some(mut slots) = free_range.and_then(|range| RootSlots::new(range).ok()) else {
        fail(format_args!(
            "the root CNode's free slots {}..{BROKER_FIRST_SLOT} cannot be tracked",
            empty.start
        ))
    };
    let mut pool = MemoryPool::new(bootinfo.untypeds());
    let mut root = RootResources {
        ipc,
        own: Default::default(),
        pool: &mut pool,
        slots: &mut slots,
        window: &mut window,
        endpoint: Cap::from_cptr(0),
        tsc_mhz: bootinfo.tsc_mhz(),
    };
    if let Err(error) = set_up(&mut root) {
        fail(format_args!("setting up: {error}"));
    }
    if let Err(error) = console::start_thread(&mut root) {
        fail(format_args!("starting the console thread: {error}"));
    }
    let mut timer = match Timer::start(&mut root, bootinfo) {
        Ok(timer) => timer,
        Err(error) => fail(format_args!("starting the timer: {error}")),
    };
    let at_boot = Resources::of(&root);
    mm_println!(
        Class::System,
        "memory manager: {} bytes of RAM free, {} slots free before the realms start",
        at_boot.free_bytes,
        at_boot.free_slots
    );

    let mut realms: Vec<Realm, MAX_REALMS> = Vec::new();
    let mut supervisor = Realms::new();
    let mut restarts = PendingRestarts::new();
    let mut lifecycle =
        Lifecycle::new(&mut root, &mut realms, &mut broker, config, &image, &mut restarts);
    // A realm that cannot be started at boot: the system cannot run as described, whatever
    // `[system] run` says. The realms after it are not started, those started are stopped,
    // and the run fails.
    let unstarted = config.realm_ids().find(|&id| !lifecycle.start_at_boot(&mut supervisor, id));
    if let Some(id) = unstarted {
        let not_started = config.realms.len().saturating_sub(id.index() + 1);
        lifecycle.abandon_boot(&mut supervisor, id, not_started);
        check_resources(&root, at_boot);
        let name = config.realm(id).map_or("?", |realm| realm.name.as_str());
        fail(format_args!("the system could not start: realm {name} could not be started"))
    }
    let mut sleepers = deadline::Sleepers::default();
    let mut timed_signals = deadline::TimedSignals::default();
    Server {
        sleepers: &mut sleepers,
        timed_signals: &mut timed_signals,
        restarts: &mut restarts,
        realms: &mut realms,
        supervisor: &mut supervisor,
        broker: &mut broker,
        config,
        image: &image,
        timer: &mut timer,
    }
    .run(&mut root);
    let uptime_ns = timer.now_ns();
    mm_println!(
        Class::System,
        "memory manager: the timer ticked {} times in {} ms of the clock",
        timer.ticks(),
        uptime_ns / 1_000_000
    );

    if check_resources(&root, at_boot) {
        mm_println!(Class::System, "memory manager: everything the realms used is back");
        end_run(Verdict::Pass)
    }
    fail(format_args!("the realms leaked memory or slots"))
}

/// Once every realm has stopped: prints free RAM and slots against `at_boot` (a sentence
/// and a `resources-checked` event); whether everything is back.
fn check_resources(root: &RootResources<'_>, at_boot: Resources) -> bool {
    let at_end = Resources::of(root);
    mm_println!(
        Class::System,
        "memory manager: every realm has stopped: {} bytes of RAM free ({} at boot), {} slots free ({} at boot)",
        at_end.free_bytes,
        at_boot.free_bytes,
        at_end.free_slots,
        at_boot.free_slots
    );
    let same = at_end == at_boot;
    console::event(
        Class::System,
        "resources-checked",
        &[
            ("free-bytes", &at_end.free_bytes),
            ("free-bytes-at-boot", &at_boot.free_bytes),
            ("free-slots", &at_end.free_slots),
            ("free-slots-at-boot", &at_boot.free_slots),
            ("result", &if same { "all-back" } else { "leaked" }),
        ],
    );
    same
}

/// Prints why the memory manager cannot go on, and ends the run.
fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    mm_println!(Class::System, "memory manager: {reason}");
    end_run(Verdict::Fail)
}

/// Ends an `until-idle` run (or one that cannot go on): everything queued for the console
/// is written out, then the board support (`sel4_root_task::exit`) prints the verdict line
/// and ends QEMU through its debug-exit device.
fn end_run(verdict: Verdict) -> ! {
    console::flush();
    sel4_root_task::exit(verdict)
}

/// Free RAM and free slots: what must be back once every realm has stopped. A slot that
/// holds a spare block of untyped memory counts as free: no realm uses it, and the block is
/// handed out again before any new one is carved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Resources {
    free_bytes: u64,
    free_slots: usize,
}

impl Resources {
    fn of(root: &RootResources<'_>) -> Self {
        Self {
            free_bytes: root.pool.free_bytes(),
            free_slots: root.slots.free_count() + root.pool.spare_blocks(),
        }
    }
}

/// Makes the memory manager's own objects: its endpoint and the scratch window's tables.
fn set_up(root: &mut RootResources<'_>) -> Result<(), RealmError> {
    let block = resources::take_block(root, OWN_MEMORY_BITS)?;
    root.own.add_block(block)?;
    root.endpoint = Cap::from_cptr(resources::make_own_in_new_slot(root, ObjectType::Endpoint)?);
    resources::map_scratch_tables(root)
}
