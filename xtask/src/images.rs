//! Root-task test images: each package under `tests/images/` is a root task that must pass
//! on its own (no memory manager, no system). `cargo xtask images [IMAGE...]` builds and
//! boots them one by one, each on the kernel its manifest names
//! ([`crate::image::required_kernel`]) or else the one asked for, and prints one line per
//! image and `N passed, N failed`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use qemu::BootOptions;

use crate::image;
use crate::kernel::{self, Variant};
use crate::workspace::Workspace;

/// How many serial lines a failure report shows.
const TAIL_LINES: usize = 40;

/// Every package under `tests/images/` (each folder there with a `Cargo.toml` is one
/// root-task test image), sorted.
pub fn test_images(workspace: &Workspace) -> Result<Vec<String>> {
    let folder: PathBuf = workspace.root().join("tests/images");
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Boots each of `images` (root-task packages) to its verdict or `timeout`, on its required
/// kernel or `variant`; prints `test NAME ... ok` or `... FAILED` with the serial tail, then
/// `N passed, N failed`. Returns whether all passed.
pub fn run(
    workspace: &Workspace,
    images: &[String],
    timeout: Duration,
    variant: Variant,
) -> Result<bool> {
    let options = BootOptions { timeout, ..BootOptions::default() };
    let (mut passed, mut failed) = (0, 0);
    for name in images {
        let (variant, why) = match image::required_kernel(workspace, name)? {
            Some(required) => (required.variant, format!(": {}", required.why)),
            None => (variant, String::new()),
        };
        let kernel = kernel::ensure_built(workspace, variant)?;
        let root_task = image::build_root_task(workspace, name)?;
        let outcome = qemu::boot::boot(&kernel.image, &root_task, &options)?;
        let on = format!("{variant} kernel{why}");
        if outcome.passed() {
            passed += 1;
            println!("test {name} ... ok ({:.1} s, {on})", outcome.duration.as_secs_f64());
        } else {
            failed += 1;
            println!("test {name} ... FAILED ({}; {on})", outcome.verdict);
            println!("--- last {TAIL_LINES} lines of serial ---\n{}", outcome.tail(TAIL_LINES));
            println!("---");
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}
