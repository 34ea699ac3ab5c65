//! The memory manager: Switchboard's seL4 root task.
//!
//! It reads the boot info and prints the banner (kernel version, untyped capabilities, RAM,
//! free slots), reads the boot image the `qemu` tool embedded, re-checks the system
//! configuration in it (trusting nothing the build produced), starts the realms in tree
//! order, and serves them: their requests about themselves, and their faults. A realm that
//! faults, panics or exits is stopped and everything it used comes back; when no realm is
//! left running, the memory manager checks that all memory and slots are back and ends the
//! run with its verdict.
#![no_std]
#![no_main]

mod realm;

use heapless::Vec;
use ipc::realm::{RealmReply, RealmRequest, RealmResponse, encode_realm_reply};
use ipc::{Badge, BadgeKind};
use memory_manager::memory::{Budget, MemoryPool};
use memory_manager::program::{Program, ProgramError};
use memory_manager::slots::SlotAllocator;
use sel4::cap::{Cap, ObjectType};
use sel4::fault::Fault;
use sel4::{BootInfo, MessageInfo, debug_println};
use sel4_root_task::Verdict;
use sel4_root_task::scratch::ScratchWindow;
use system_config::image::BootImage;
use system_config::{MAX_REALMS, RealmId, SystemConfig};

use crate::realm::{Ending, Kernel, Realm, RealmError};

sel4_root_task::main!(main);

/// The boot image: the encoded system configuration and every realm program.
static BOOT_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/boot-image.bin"));

/// Memory for the memory manager's own objects (its endpoint, the scratch window's tables).
const OWN_MEMORY_BITS: u8 = 16;

fn main(bootinfo: &'static BootInfo) -> ! {
    print_banner(bootinfo);
    let (image, config) = match read_system() {
        Ok(system) => system,
        Err(reason) => fail(format_args!("cannot boot the system: {reason}")),
    };
    print_system(&image, &config);
    let Some(ipc) = bootinfo.take_ipc_buffer() else { fail(format_args!("no IPC buffer")) };
    let Some(mut window) = ScratchWindow::claim() else { fail(format_args!("no scratch window")) };
    let empty = bootinfo.empty_slots();
    let mut slots = SlotAllocator::new(empty.start, empty.end.min(realm::REALM_SLOTS_BASE));
    let mut pool = MemoryPool::new(bootinfo.untypeds());
    let mut kernel = Kernel {
        ipc,
        pool: &mut pool,
        slots: &mut slots,
        window: &mut window,
        endpoint: Cap::from_cptr(0),
    };
    if let Err(error) = set_up(&mut kernel) {
        fail(format_args!("setting up: {error}"));
    }
    let at_boot = Resources::of(&kernel);
    debug_println!(
        "memory manager: {} bytes of RAM free, {} slots free before the realms start",
        at_boot.free_bytes,
        at_boot.free_slots
    );

    let mut realms: Vec<Realm, MAX_REALMS> = Vec::new();
    for id in config.realm_ids() {
        let Some(spec) = config.realm(id) else { continue };
        let elf = image.program(&spec.program).unwrap_or_default();
        match Realm::start(&mut kernel, &config, id, elf) {
            Ok(realm) => {
                debug_println!(
                    "memory manager: started realm {} ({} KiB budget)",
                    realm.name,
                    spec.memory_bytes >> 10
                );
                let _ = realms.push(realm);
            }
            Err(error) => {
                debug_println!("memory manager: cannot start realm {}: {error}", spec.name)
            }
        }
    }
    serve(&mut kernel, &mut realms);

    let at_end = Resources::of(&kernel);
    debug_println!(
        "memory manager: every realm has stopped: {} bytes of RAM free ({} at boot), {} slots free ({} at boot)",
        at_end.free_bytes,
        at_boot.free_bytes,
        at_end.free_slots,
        at_boot.free_slots
    );
    if at_end == at_boot {
        debug_println!("memory manager: everything the realms used is back");
        sel4_root_task::exit(Verdict::Pass)
    }
    fail(format_args!("the realms leaked memory or slots"))
}

/// Prints why the memory manager cannot go on, and ends the run.
fn fail(reason: core::fmt::Arguments<'_>) -> ! {
    debug_println!("memory manager: {reason}");
    sel4_root_task::exit(Verdict::Fail)
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
    fn of(kernel: &Kernel<'_>) -> Self {
        Self {
            free_bytes: kernel.pool.free_bytes(),
            free_slots: kernel.slots.free_count() + kernel.pool.spare_blocks(),
        }
    }
}

/// Makes the memory manager's own objects: its endpoint and the scratch window's tables.
fn set_up(kernel: &mut Kernel<'_>) -> Result<(), RealmError> {
    let block = realm::take_block(kernel, OWN_MEMORY_BITS)?;
    let mut own = Budget::default();
    own.add_block(block)?;
    kernel.endpoint = Cap::from_cptr(realm::make_own(kernel, &mut own, ObjectType::Endpoint)?);
    realm::map_scratch_tables(kernel, &mut own)
}

/// Serves the realms until none is running: their requests about themselves, and faults.
fn serve(kernel: &mut Kernel<'_>, realms: &mut [Realm]) {
    while realms.iter().any(|realm| realm.running) {
        let received = kernel.endpoint.recv(kernel.ipc);
        match Badge::decode(received.badge) {
            Ok(BadgeKind::Realm(id)) => {
                match realms.iter_mut().find(|realm| realm.running && realm.id.0 == id.0) {
                    Some(realm) => handle_request(kernel, realm, received.info),
                    None => debug_println!(
                        "memory manager: a message from realm {} that is not running; ignored",
                        id.0
                    ),
                }
            }
            Ok(BadgeKind::Fault(id)) => {
                match realms.iter_mut().find(|realm| realm.running && realm.id.0 == id.0) {
                    Some(realm) => {
                        let message = kernel.ipc.message(received.info);
                        match Fault::decode(received.info, message) {
                            Ok(fault) => debug_println!(
                                "memory manager: realm {} faulted: {}",
                                realm.name,
                                describe(&fault)
                            ),
                            Err(error) => debug_println!(
                                "memory manager: realm {} faulted (undecodable: {error:?})",
                                realm.name
                            ),
                        }
                        stop(kernel, realm, Ending::Faulted);
                    }
                    None => debug_println!(
                        "memory manager: a fault of realm {} that is not running; ignored",
                        id.0
                    ),
                }
            }
            Ok(other) => debug_println!(
                "memory manager: a message with badge {other:?} on the broker endpoint; ignored"
            ),
            Err(error) => {
                debug_println!("memory manager: a message with a bad badge ({error}); ignored")
            }
        }
    }
}

/// Handles one request of `realm`, replying unless the realm is gone.
fn handle_request(kernel: &mut Kernel<'_>, realm: &mut Realm, info: MessageInfo) {
    let words = kernel.ipc.message(info);
    let reply: RealmReply = match RealmRequest::decode(info.label(), words) {
        Ok(Some(RealmRequest::WhoAmI)) => match ipc::Name::new(realm.name.as_str()) {
            Ok(name) => Ok(RealmResponse::Identity { name }),
            Err(_) => Err(ipc::Error::NotFound { what: ipc::Missing::Realm }),
        },
        Ok(Some(RealmRequest::AllocatePages { pages })) => {
            match realm.allocate_pages(kernel, pages) {
                Ok(address) => Ok(RealmResponse::Pages { address, pages }),
                Err(error) => {
                    debug_println!(
                        "memory manager: realm {} asked for {pages} pages: refused, {error}",
                        realm.name
                    );
                    Err(ipc::Error::QuotaExceeded { what: ipc::Resource::RealmMemory })
                }
            }
        }
        Ok(Some(RealmRequest::Exit)) => return stop(kernel, realm, Ending::Exited),
        Ok(Some(RealmRequest::Panicked { message })) => {
            debug_println!("memory manager: realm {} panicked at {message}", realm.name);
            return stop(kernel, realm, Ending::Panicked);
        }
        Ok(None) => {
            debug_println!(
                "memory manager: realm {} sent label {}, not a request this memory manager serves yet",
                realm.name,
                info.label()
            );
            Err(ipc::Error::MalformedRequest {
                reason: ipc::Malformed::UnknownLabel { label: info.label() },
            })
        }
        Err(reason) => {
            debug_println!(
                "memory manager: realm {} sent a malformed request: {reason:?}",
                realm.name
            );
            Err(ipc::Error::MalformedRequest { reason })
        }
    };
    let message = encode_realm_reply(&reply);
    match kernel.ipc.set_message(message.label(), message.words(), &[]) {
        Ok(info) => sel4::ipc::reply(kernel.ipc, info),
        Err(error) => debug_println!("memory manager: cannot encode a reply: {error:?}"),
    }
}

/// Stops `realm` and reports what it gave back.
fn stop(kernel: &mut Kernel<'_>, realm: &mut Realm, ending: Ending) {
    realm.stop(kernel);
    let how = match ending {
        Ending::Exited => "exited",
        Ending::Faulted => "faulted",
        Ending::Panicked => "panicked",
    };
    debug_println!(
        "memory manager: realm {} {how} and is stopped; {} bytes of RAM free now",
        realm.name,
        kernel.pool.free_bytes()
    );
}

/// One line about a fault, for the log.
fn describe(fault: &Fault) -> DescribeFault<'_> {
    DescribeFault(fault)
}

struct DescribeFault<'a>(&'a Fault);

impl core::fmt::Display for DescribeFault<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self.0 {
            Fault::VmFault { ip, address, prefetch, fsr } => write!(
                f,
                "{} at address {address:#x} (instruction {ip:#x}, status {fsr:#x})",
                if prefetch { "bad instruction fetch" } else { "bad memory access" }
            ),
            Fault::CapFault { ip, address, in_receive_phase, lookup_failure } => write!(
                f,
                "capability fault on cptr {address:#x}{} (instruction {ip:#x}): {lookup_failure:?}",
                if in_receive_phase { " while receiving" } else { "" }
            ),
            Fault::UnknownSyscall { ip, syscall, .. } => {
                write!(f, "unknown system call {syscall:#x} (instruction {ip:#x})")
            }
            Fault::UserException { ip, number, code, .. } => {
                write!(f, "processor exception {number} code {code:#x} (instruction {ip:#x})")
            }
        }
    }
}

fn print_banner(bootinfo: &BootInfo) {
    let device_caps = bootinfo.untypeds().filter(|untyped| untyped.is_device).count();
    let ram_caps = bootinfo.untypeds().count() - device_caps;
    let ram_bytes = MemoryPool::new(bootinfo.untypeds()).free_bytes();
    let empty = bootinfo.empty_slots();
    debug_println!("Switchboard memory manager");
    debug_println!("  kernel: seL4 {} (x86_64, pc99)", sel4::kernel::VERSION);
    debug_println!(
        "  untyped caps: {} ({} RAM, {} device)",
        ram_caps + device_caps,
        ram_caps,
        device_caps
    );
    debug_println!("  RAM untyped: {} bytes ({} MiB)", ram_bytes, ram_bytes >> 20);
    debug_println!(
        "  free slots: {}..{} ({} slots)",
        empty.start,
        empty.end,
        empty.end - empty.start
    );
}

/// Why the system cannot boot.
enum BootError {
    Image(system_config::image::ImageError),
    Config(system_config::BootCheckError),
    MissingProgram { realm: RealmId },
    BadProgram { realm: RealmId, error: ProgramError },
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::Image(system_config::image::ImageError::Empty) => write!(
                f,
                "no boot image was embedded (build the memory manager with the qemu tool)"
            ),
            BootError::Image(error) => write!(f, "{error}"),
            BootError::Config(error) => write!(f, "the system configuration is invalid: {error}"),
            BootError::MissingProgram { realm } => {
                write!(f, "the boot image has no program for realm {}", realm.index())
            }
            BootError::BadProgram { realm, error } => {
                write!(f, "the program of realm {} cannot be loaded: {error}", realm.index())
            }
        }
    }
}

/// Reads the boot image and re-checks everything in it.
fn read_system() -> Result<(BootImage<'static>, SystemConfig), BootError> {
    let image = BootImage::read(BOOT_IMAGE).map_err(BootError::Image)?;
    let config = system_config::decode(image.config).map_err(BootError::Config)?;
    for realm in config.realm_ids() {
        let program = config.realm(realm).map(|realm| realm.program.as_str());
        let elf = program
            .and_then(|program| image.program(program))
            .ok_or(BootError::MissingProgram { realm })?;
        Program::parse(elf).map_err(|error| BootError::BadProgram { realm, error })?;
    }
    Ok((image, config))
}

fn print_system(image: &BootImage<'_>, config: &SystemConfig) {
    debug_println!(
        "system: {} realms, {} services, {} grants, {} programs",
        config.realms.len(),
        config.services.len(),
        config.grants.len(),
        image.programs.len()
    );
    for id in config.realm_ids() {
        let Some(realm) = config.realm(id) else { continue };
        let parent = realm.parent.and_then(|parent| config.realm(parent));
        let pages = image
            .program(&realm.program)
            .and_then(|elf| Program::parse(elf).ok())
            .map_or(0, |program| program.page_count());
        debug_println!(
            "  realm {} (parent {}): program {} ({} pages), priority {}, memory {} KiB",
            realm.name,
            parent.map_or("none", |parent| parent.name.as_str()),
            realm.program,
            pages,
            realm.priority,
            realm.memory_bytes >> 10
        );
    }
}
