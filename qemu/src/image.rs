//! Root-task images: Switchboard's seL4 programs, built by cargo for the bare-metal target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, ensure};

use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The Rust target of every program that runs on seL4.
pub const TARGET: &str = "x86_64-unknown-none";

/// The root task `make run` boots.
pub const MEMORY_MANAGER: &str = "memory-manager";

/// The environment variable that tells the memory manager's build which boot image to embed.
pub const BOOT_IMAGE_VARIABLE: &str = "SWITCHBOARD_BOOT_IMAGE";

/// Builds the root-task binary of workspace package `package` (release profile) and returns
/// the ELF's path, printing one stage line.
pub fn build_root_task(workspace: &Workspace, package: &str) -> Result<PathBuf> {
    build_root_task_with_image(workspace, package, None)
}

/// Builds the memory manager with `boot_image` embedded.
pub fn build_memory_manager(workspace: &Workspace, boot_image: &Path) -> Result<PathBuf> {
    build_root_task_with_image(workspace, MEMORY_MANAGER, Some(boot_image))
}

fn build_root_task_with_image(
    workspace: &Workspace,
    package: &str,
    boot_image: Option<&Path>,
) -> Result<PathBuf> {
    stage::run(&format!("build root task {package}"), || {
        let elf = workspace.target_dir().join(TARGET).join("release").join(package);
        let modified = |path: &PathBuf| path.metadata().and_then(|meta| meta.modified()).ok();
        let before: Option<SystemTime> = modified(&elf);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "--release", "--target", TARGET, "--package", package])
            .current_dir(workspace.root());
        match boot_image {
            Some(path) => command.env(BOOT_IMAGE_VARIABLE, path),
            None => command.env_remove(BOOT_IMAGE_VARIABLE),
        };
        let status = command.status().context("running cargo build")?;
        ensure!(status.success(), "building {package} failed: {status}");
        ensure!(elf.is_file(), "cargo built {package} but {} is missing", elf.display());
        let freshness = if before.is_some() && before == modified(&elf) {
            Freshness::Cached
        } else {
            Freshness::Built
        };
        Ok((elf, freshness))
    })
}

/// Builds the realm programs `names` (packages under `realms/`) and returns their ELFs, in
/// the same order, printing one stage line.
pub fn build_realm_programs(workspace: &Workspace, names: &[&str]) -> Result<Vec<PathBuf>> {
    stage::run("build realm programs", || {
        let elves: Vec<PathBuf> = names
            .iter()
            .map(|name| workspace.target_dir().join(TARGET).join("release").join(name))
            .collect();
        let modified = |path: &PathBuf| path.metadata().and_then(|meta| meta.modified()).ok();
        let before: Vec<Option<SystemTime>> = elves.iter().map(modified).collect();
        if !names.is_empty() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            command.args(["build", "--quiet", "--release", "--target", TARGET]);
            for name in names {
                command.args(["--package", name]);
            }
            let status =
                command.current_dir(workspace.root()).status().context("running cargo build")?;
            ensure!(status.success(), "building the realm programs failed: {status}");
        }
        let after: Vec<Option<SystemTime>> = elves.iter().map(modified).collect();
        let freshness = if before.iter().all(Option::is_some) && before == after {
            Freshness::Cached
        } else {
            Freshness::Built
        };
        Ok((elves, freshness))
    })
}
