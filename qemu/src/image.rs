//! Root-task images: Switchboard's seL4 programs, built by cargo for the bare-metal target.

use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, ensure};

use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The Rust target of every program that runs on seL4.
pub const TARGET: &str = "x86_64-unknown-none";

/// The root task `make run` boots.
pub const MEMORY_MANAGER: &str = "memory-manager";

/// Builds the root-task binary of workspace package `package` (release profile) and returns
/// the ELF's path, printing one stage line.
pub fn build_root_task(workspace: &Workspace, package: &str) -> Result<PathBuf> {
    stage::run(&format!("build root task {package}"), || {
        let elf = workspace
            .target_dir()
            .join(TARGET)
            .join("release")
            .join(package);
        let modified = |path: &PathBuf| path.metadata().and_then(|meta| meta.modified()).ok();
        let before: Option<SystemTime> = modified(&elf);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                TARGET,
                "--package",
                package,
            ])
            .current_dir(workspace.root())
            .status()
            .context("running cargo build")?;
        ensure!(status.success(), "building {package} failed: {status}");
        ensure!(
            elf.is_file(),
            "cargo built {package} but {} is missing",
            elf.display()
        );
        let freshness = if before.is_some() && before == modified(&elf) {
            Freshness::Cached
        } else {
            Freshness::Built
        };
        Ok((elf, freshness))
    })
}
