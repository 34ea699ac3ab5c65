//! The system a user describes in `system.toml`: checked, its realm programs built, and
//! packed with them into the boot image the memory manager embeds.
//!
//! Realm programs are the packages in [`PROGRAM_FOLDERS`], one folder each, named as in the
//! configuration's `program` fields.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use system_config::SystemConfig;
use system_config::image::{BootImage, Program};

use crate::image;
use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The demo system `make run` boots.
pub const DEFAULT_SYSTEM: &str = "system.toml";

/// Where realm programs live: one package per folder, named as in `program` fields. The
/// demo's programs are in `realms/`, those of the tests in `tests/realms/`, those of the
/// benchmark in `bench/realms/`.
pub const PROGRAM_FOLDERS: &[&str] = &["realms", "tests/realms", "bench/realms"];

/// The realm programs that exist.
pub fn realm_programs(workspace: &Workspace) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for folder in PROGRAM_FOLDERS {
        let folder = workspace.root().join(folder);
        for entry in
            fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?
        {
            let entry = entry?;
            // A program has a main; a shared library beside them (protocols) does not.
            if entry.path().join("src/main.rs").is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Reads and checks a system description, printing every error with its file and line.
pub fn check(workspace: &Workspace, path: &Path) -> Result<SystemConfig> {
    stage::run("check system description", || {
        // Read as bytes: a file that is not UTF-8 text is refused by the check, with the
        // position of the first byte that is not.
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let programs = realm_programs(workspace)?;
        let programs: Vec<&str> = programs.iter().map(String::as_str).collect();
        let shown = path.strip_prefix(workspace.root()).unwrap_or(path).display().to_string();
        match system_config::parse_bytes(&shown, &bytes, &programs) {
            Ok(config) => Ok((config, Freshness::Built)),
            Err(errors) => {
                for error in &errors {
                    eprintln!("{error}");
                }
                bail!("{shown}: {} error(s), nothing was built", errors.len())
            }
        }
    })
}

/// Checks the system description at `path`, builds its realm programs, packs the boot
/// image and builds the memory manager with it; returns the memory manager's ELF.
pub fn build(workspace: &Workspace, path: &Path) -> Result<PathBuf> {
    let config = check(workspace, path)?;
    let mut programs: Vec<&str> =
        config.realms.iter().map(|realm| realm.program.as_str()).collect();
    programs.sort_unstable();
    programs.dedup();
    let elves = image::build_realm_programs(workspace, &programs)?;

    // The memory manager is one cargo artifact whatever system it embeds: building two
    // systems at once (parallel tests) takes turns, and each system keeps its own copy.
    let folder =
        workspace.target_dir().join("switchboard").join(system_folder_name(workspace, path));
    fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let lock = fs::File::create(workspace.target_dir().join("switchboard").join(".lock"))?;
    lock.lock().context("taking the system build lock")?;
    let boot_image = folder.join("boot-image.bin");
    stage::run("pack boot image", || pack(&boot_image, &config, &programs, &elves))?;
    let built = image::build_memory_manager(workspace, &boot_image)?;
    let memory_manager = folder.join(image::MEMORY_MANAGER);
    fs::copy(&built, &memory_manager).with_context(|| format!("copying {}", built.display()))?;
    Ok(memory_manager)
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

/// The program at `path` without symbols and debug information: the boot image carries only
/// what the memory manager loads.
fn stripped(boot_image: &Path, path: &Path) -> Result<Vec<u8>> {
    let folder = boot_image.parent().unwrap_or(Path::new(".")).join("programs");
    fs::create_dir_all(&folder)?;
    let output = folder.join(path.file_name().context("a program path without a file name")?);
    let status = std::process::Command::new("objcopy")
        .arg("--strip-all")
        .arg(path)
        .arg(&output)
        .status()
        .context("running objcopy")?;
    if !status.success() {
        bail!("objcopy --strip-all {} failed: {status}", path.display());
    }
    fs::read(&output).with_context(|| format!("reading {}", output.display()))
}
