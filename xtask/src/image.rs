//! Root-task images: Switchboard's seL4 programs, built by cargo for the bare-metal target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, ensure};

use crate::kernel::Variant;
use crate::packages::RealmPackage;
use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The Rust target of every program that runs on seL4.
pub const TARGET: &str = "x86_64-unknown-none";

/// The root task `make run` boots.
pub const MEMORY_MANAGER: &str = "memory-manager";

/// The environment variable that tells the memory manager's build which boot image to embed.
pub const BOOT_IMAGE_VARIABLE: &str = "SWITCHBOARD_BOOT_IMAGE";

/// The kernel a test image needs, as its manifest names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredKernel {
    pub variant: Variant,
    /// Why, in the image's words.
    pub why: String,
}

/// The kernel that test image `package` (the folder `tests/images/<package>/`) must boot on,
/// if its `Cargo.toml` names one:
///
/// ```toml
/// [package.metadata.switchboard]
/// kernel = "debug"
/// kernel-why = "it identifies capabilities with DebugCapIdentify"
/// ```
///
/// `None` for a package that names none or is not under `tests/images/`. Fails when the
/// manifest cannot be read or names an unknown variant or gives no reason.
pub fn required_kernel(workspace: &Workspace, package: &str) -> Result<Option<RequiredKernel>> {
    let manifest = workspace.root().join("tests/images").join(package).join("Cargo.toml");
    if !manifest.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    parse_required_kernel(&text).with_context(|| format!("in {}", manifest.display()))
}

fn parse_required_kernel(manifest: &str) -> Result<Option<RequiredKernel>> {
    let table = toml::de::DeTable::parse(manifest)
        .map_err(|error| anyhow::anyhow!("the manifest is not valid TOML: {error}"))?;
    let mut section = Some(table.get_ref());
    for key in ["package", "metadata", "switchboard"] {
        section = section.and_then(|table| table.get(key)).and_then(|v| v.get_ref().as_table());
    }
    let Some(section) = section else {
        return Ok(None);
    };
    let text = |key: &str| section.get(key).and_then(|value| value.get_ref().as_str());
    let Some(name) = text("kernel") else {
        return Ok(None);
    };
    let variant = Variant::from_name(name)?;
    let why = text("kernel-why").with_context(|| {
        format!(
            "[package.metadata.switchboard] names the {variant} kernel but gives no reason: add \
             kernel-why = \"...\""
        )
    })?;
    Ok(Some(RequiredKernel { variant, why: why.to_string() }))
}

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

/// Builds the realm programs `programs` (release profile, for [`TARGET`]) in one cargo run
/// and returns their ELFs, in the same order, printing one stage line.
pub fn build_realm_programs(
    workspace: &Workspace,
    programs: &[&RealmPackage],
) -> Result<Vec<PathBuf>> {
    stage::run("build realm programs", || {
        let elves: Vec<PathBuf> = programs
            .iter()
            .map(|program| {
                workspace.target_dir().join(TARGET).join("release").join(&program.binary)
            })
            .collect();
        let modified = |path: &PathBuf| path.metadata().and_then(|meta| meta.modified()).ok();
        let before: Vec<Option<SystemTime>> = elves.iter().map(modified).collect();
        if !programs.is_empty() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            command.args(["build", "--quiet", "--release", "--target", TARGET]);
            for program in programs {
                command.args(["--package", &program.name]);
            }
            let status =
                command.current_dir(workspace.root()).status().context("running cargo build")?;
            ensure!(status.success(), "building the realm programs failed: {status}");
        }
        for (program, elf) in programs.iter().zip(&elves) {
            ensure!(elf.is_file(), "cargo built {} but {} is missing", program.name, elf.display());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_names_its_kernel_with_a_reason() {
        let manifest = "[package]\nname = \"x\"\n\n[package.metadata.switchboard]\n\
                        kernel = \"debug\"\nkernel-why = \"it says so\"\n";
        assert_eq!(
            parse_required_kernel(manifest).unwrap(),
            Some(RequiredKernel { variant: Variant::Debug, why: "it says so".into() })
        );
        assert_eq!(parse_required_kernel("[package]\nname = \"x\"\n").unwrap(), None);
        let unknown = "[package.metadata.switchboard]\nkernel = \"fast\"\nkernel-why = \"\"\n";
        assert!(parse_required_kernel(unknown).is_err());
        let no_reason = "[package.metadata.switchboard]\nkernel = \"release\"\n";
        let error = parse_required_kernel(no_reason).unwrap_err().to_string();
        assert!(error.contains("gives no reason"), "{error}");
    }
}
