//! What the memory manager reads at boot: the banner from the kernel's boot info, and the
//! system from the boot image the `qemu` tool embedded, re-checked by the rule engine of
//! `system-config` (the same rules the host check ran): what comes out is a `CheckedConfig`.

use crate::mm_println;
use ::console::Class;
use memory_manager::memory::MemoryPool;
use memory_manager::program::{Program, ProgramError};
use sel4::BootInfo;
use system_config::image::BootImage;
use system_config::{CheckedConfig, RealmId, SystemConfig};

/// The boot image: the encoded system configuration and every realm program.
static BOOT_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/boot-image.bin"));

pub fn print_banner(bootinfo: &BootInfo) {
    let device_caps = bootinfo.untypeds().filter(|untyped| untyped.is_device).count();
    let ram_caps = bootinfo.untypeds().count() - device_caps;
    let ram_bytes = MemoryPool::new(bootinfo.untypeds()).free_bytes();
    let empty = bootinfo.empty_slots();
    mm_println!(Class::System, "Switchboard memory manager");
    mm_println!(Class::System, "  kernel: seL4 {} (x86_64, pc99)", sel4::kernel::VERSION);
    mm_println!(
        Class::System,
        "  untyped caps: {} ({} RAM, {} device)",
        ram_caps + device_caps,
        ram_caps,
        device_caps
    );
    mm_println!(Class::System, "  RAM untyped: {} bytes ({} MiB)", ram_bytes, ram_bytes >> 20);
    mm_println!(
        Class::System,
        "  free slots: {}..{} ({} slots)",
        empty.start,
        empty.end,
        empty.end - empty.start
    );
}

/// Why the system cannot boot.
pub enum BootError {
    Image(system_config::image::ImageError),
    Config(system_config::DecodeError),
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
            BootError::Config(system_config::DecodeError::Refused(finding)) => {
                let refusal = system_config::Refusal { bytes: config_bytes(), finding: *finding };
                write!(f, "the system configuration is invalid: {refusal}")
            }
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

/// The encoded configuration of the boot image (empty if the image does not read).
fn config_bytes() -> &'static [u8] {
    BootImage::read(BOOT_IMAGE).map_or(&[], |image| image.config)
}

/// Reads the boot image and re-checks everything in it.
pub fn read_system() -> Result<(BootImage<'static>, CheckedConfig), BootError> {
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

pub fn print_system(image: &BootImage<'_>, config: &SystemConfig) {
    mm_println!(
        Class::System,
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
        mm_println!(
            Class::System,
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
