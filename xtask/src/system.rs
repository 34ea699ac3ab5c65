//! The system a user describes in `system.toml`: checked, its realm programs built, and
//! packed with them into the boot image the memory manager embeds.
//!
//! Each realm's `program` names a realm package of the cargo workspace, in any folder
//! ([`crate::packages`]). A name that is no such package is refused by the check with the
//! file, line and column of the `program` value and the names of the realm packages there
//! are (system-config's rule `unknown-program`), before anything is built.
//!
//! Once the realm programs are built, the interfaces each records are compared with the
//! description's `interface` fields and with each other ([`crate::interfaces`]); an error
//! there stops the build before the boot image is packed.
//!
//! Adding a QEMU test scenario therefore takes one system file (usually in
//! `tests/systems/`), its realm packages (in a folder the workspace's `members` globs
//! already cover, such as `tests/realms/`, or in a new folder added to `members`) and one
//! test function that boots the file (`system_tests::boot_system`): no list of programs or
//! folders to edit here.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use system_config::image::{BootImage, Program};
use system_config::{CheckedConfig, ConfigError, Rule, SystemConfig};

use crate::image;
use crate::interfaces::{self, InterfaceError};
use crate::packages::{self, RealmPackage};
use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The demo system `make run` boots.
pub const DEFAULT_SYSTEM: &str = "system.toml";

/// A system description read and checked against the workspace's realm packages.
#[derive(Debug)]
pub struct Checked {
    /// The path the errors name: relative to the repository when the file is inside it.
    pub shown: String,
    /// The realm packages the check knew of.
    pub packages: Vec<RealmPackage>,
    /// The checked system, or every error the check found.
    pub result: Result<CheckedConfig, Vec<ConfigError>>,
    /// The description's text (what is not UTF-8 replaced), where the build check of
    /// interfaces finds the values it points at.
    pub text: String,
}

/// Reads the system description at `path` and checks it, with the workspace's realm
/// packages as the programs there are. Fails only when the file or the workspace cannot be
/// read; what is wrong with the description is in [`Checked::result`].
pub fn parse(workspace: &Workspace, path: &Path) -> Result<Checked> {
    // Read as bytes: a file that is not UTF-8 text is refused by the check, with the
    // position of the first byte that is not.
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let packages = packages::realm_packages(workspace)?;
    let names: Vec<&str> = packages.iter().map(|package| package.name.as_str()).collect();
    let shown = path.strip_prefix(workspace.root()).unwrap_or(path).display().to_string();
    let result = system_config::parse_bytes(&shown, &bytes, &names);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Checked { shown, packages, result, text })
}

/// Reads and checks a system description, printing every error with its file and line.
pub fn check(workspace: &Workspace, path: &Path) -> Result<(CheckedConfig, Vec<RealmPackage>)> {
    accept(workspace, path).map(|accepted| (accepted.config, accepted.packages))
}

/// A system description that passed the check, with what the later stages need.
struct Accepted {
    config: CheckedConfig,
    /// The path the errors name, and the text: where the interface check points.
    shown: String,
    text: String,
    packages: Vec<RealmPackage>,
}

/// [`check`], keeping what the later stages need.
fn accept(workspace: &Workspace, path: &Path) -> Result<Accepted> {
    stage::run("check system description", || {
        let Checked { shown, packages, result, text } = parse(workspace, path)?;
        match result {
            Ok(config) => Ok((Accepted { config, shown, text, packages }, Freshness::Built)),
            Err(errors) => {
                for error in &errors {
                    eprintln!("{error}");
                }
                if errors.iter().any(|error| error.rule == Rule::UnknownProgram) {
                    eprintln!("{}", unknown_program_note(workspace));
                }
                bail!("{shown}: {} error(s), nothing was built", errors.len())
            }
        }
    })
}

/// What to do about a `program` that names no realm package.
fn unknown_program_note(workspace: &Workspace) -> String {
    format!(
        "note: a realm's program names a package of the cargo workspace, in any folder, that \
         has one binary and depends on realm-runtime (the list above); a package that is not \
         listed is not a member yet: add its folder to [workspace] members in {}",
        workspace.root().join("Cargo.toml").display()
    )
}

/// Checks the system description at `path`, builds its realm programs, checks the interfaces
/// they record against it ([`interfaces`]), packs the boot image and builds the memory
/// manager with it; returns the memory manager's ELF.
///
/// Fails with [`interfaces::CheckFailed`] (`downcast_ref` finds it) when the interface check
/// finds errors, after printing each; nothing is packed then.
pub fn build(workspace: &Workspace, path: &Path) -> Result<PathBuf> {
    let accepted = accept(workspace, path)?;
    let config = &accepted.config;
    let (names, elves) = build_programs(workspace, &accepted)?;
    stage::run("check interfaces", || {
        let errors = interface_check(&accepted, &names, &elves)?;
        if errors.is_empty() {
            return Ok(((), Freshness::Built));
        }
        for error in &errors {
            eprintln!("{error}");
        }
        Err(interfaces::CheckFailed { errors }.into())
    })?;

    // The memory manager is one cargo artifact whatever system it embeds: building two
    // systems at once (parallel tests) takes turns, and each system keeps its own copy.
    let folder =
        workspace.target_dir().join("switchboard").join(system_folder_name(workspace, path));
    fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let lock = fs::File::create(workspace.target_dir().join("switchboard").join(".lock"))?;
    lock.lock().context("taking the system build lock")?;
    let boot_image = folder.join("boot-image.bin");
    stage::run("pack boot image", || pack(&boot_image, config, &names, &elves))?;
    let built = image::build_memory_manager(workspace, &boot_image)?;
    // Copied beside, then renamed over the system's copy: a QEMU that another test started
    // on this system's previous copy reads that file whole, never a half-written one (an
    // in-place copy truncates it first, and such a QEMU saw an empty boot module).
    let memory_manager = folder.join(image::MEMORY_MANAGER);
    let partial = folder.join(format!("{}.partial", image::MEMORY_MANAGER));
    fs::copy(&built, &partial).with_context(|| format!("copying {}", built.display()))?;
    fs::rename(&partial, &memory_manager).with_context(|| {
        format!("renaming {} to {}", partial.display(), memory_manager.display())
    })?;
    Ok(memory_manager)
}

/// Checks the system description at `path`, builds its realm programs and runs the build
/// check of interfaces on them ([`interfaces::check`]), as [`build`] does, but only returns
/// its errors (empty when it passes), printing none of them and packing nothing. Fails when
/// the description is refused, or a program cannot be built or its interfaces read.
pub fn interface_errors(workspace: &Workspace, path: &Path) -> Result<Vec<InterfaceError>> {
    let accepted = accept(workspace, path)?;
    let (names, elves) = build_programs(workspace, &accepted)?;
    interface_check(&accepted, &names, &elves)
}

/// Builds the realm programs of a checked system: their names, sorted, each once, and their
/// ELF files in the same order.
fn build_programs<'a>(
    workspace: &Workspace,
    accepted: &'a Accepted,
) -> Result<(Vec<&'a str>, Vec<PathBuf>)> {
    let mut names: Vec<&str> =
        accepted.config.realms.iter().map(|realm| realm.program.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // The check accepted only names of realm packages.
    let programs: Vec<&RealmPackage> = names
        .iter()
        .map(|name| {
            accepted
                .packages
                .iter()
                .find(|package| package.name == *name)
                .with_context(|| format!("program {name:?} is not a realm package"))
        })
        .collect::<Result<_>>()?;
    let elves = image::build_realm_programs(workspace, &programs)?;
    Ok((names, elves))
}

/// The build check of interfaces ([`interfaces::check`]) of a checked system whose programs
/// `names` were built as `elves`.
fn interface_check(
    accepted: &Accepted,
    names: &[&str],
    elves: &[PathBuf],
) -> Result<Vec<InterfaceError>> {
    let mut recorded = BTreeMap::new();
    for (name, elf) in names.iter().zip(elves) {
        recorded.insert(name.to_string(), interfaces::read_program(elf)?);
    }
    Ok(interfaces::check(&accepted.shown, &accepted.text, &accepted.config, &recorded))
}

/// A folder name for the system at `path`: its path in the repository, `/` made `-`.
fn system_folder_name(workspace: &Workspace, path: &Path) -> String {
    let relative = path.strip_prefix(workspace.root()).unwrap_or(path);
    relative.with_extension("").to_string_lossy().replace(['/', '\\', '.'], "-")
}

fn pack(
    path: &Path,
    config: &SystemConfig,
    programs: &[&str],
    elves: &[PathBuf],
) -> Result<((), Freshness)> {
    let config_bytes = system_config::encode(config).context("encoding the configuration")?;
    let elf_bytes: Vec<Vec<u8>> =
        elves.iter().map(|elf| stripped(path, elf)).collect::<Result<_>>()?;
    let mut image = BootImage { config: &config_bytes, programs: heapless::Vec::new() };
    for (name, elf) in programs.iter().zip(&elf_bytes) {
        if image.programs.push(Program { name, elf }).is_err() {
            bail!("more than {} realm programs", system_config::image::MAX_PROGRAMS);
        }
    }
    let bytes = image.write().context("writing the boot image")?;
    // Rewrite only on change, so that an unchanged system does not rebuild the memory manager.
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(((), Freshness::Cached));
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(((), Freshness::Built))
}

/// The program at `path` without symbols, debug information and its record of interfaces
/// (read by the build check before, [`interfaces`]): the boot image carries only what the
/// memory manager loads.
fn stripped(boot_image: &Path, path: &Path) -> Result<Vec<u8>> {
    let folder = boot_image.parent().unwrap_or(Path::new(".")).join("programs");
    fs::create_dir_all(&folder)?;
    let output = folder.join(path.file_name().context("a program path without a file name")?);
    let remove = format!("--remove-section={}", ipc::abi::interface_section::NAME);
    let status = std::process::Command::new("objcopy")
        .args(["--strip-all", &remove])
        .arg(path)
        .arg(&output)
        .status()
        .context("running objcopy")?;
    if !status.success() {
        bail!("objcopy --strip-all {remove} {} failed: {status}", path.display());
    }
    fs::read(&output).with_context(|| format!("reading {}", output.display()))
}
