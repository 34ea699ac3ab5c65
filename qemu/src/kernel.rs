//! The seL4 kernel: fetched from crates.io, fixed, configured and built.
//!
//! seL4 5.0.0 ships inside the crates.io package `sel4-sys =0.0.28` (its `seL4/` folder, with
//! the old standalone Makefile build). We let cargo fetch it through the manifest in
//! `qemu/kernel/source/`, copy the folder to `target/sel4/source/`, apply the fixes below,
//! write our configuration (`qemu/kernel/autoconf.h`) and build in `target/sel4/build/`.
//! Each step keeps a stamp with the hash of its inputs and is skipped when they are unchanged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The registry package that carries the kernel source.
pub const SOURCE_PACKAGE: &str = "sel4-sys";
/// Its pinned version (also pinned in `qemu/kernel/source/Cargo.toml`).
pub const SOURCE_PACKAGE_VERSION: &str = "0.0.28";

/// A text replacement in one file of the kernel source, with the reason it is needed.
struct SourceFix {
    file: &'static str,
    why: &'static str,
    old: &'static str,
    new: &'static str,
}

const SOURCE_FIXES: &[SourceFix] = &[SourceFix {
    file: "tools/circular_includes.py",
    why: "gcc >= 9 emits `# 0 \"file\"` line markers, which the script reads as a pop from an \
          empty include stack (IndexError): skip markers at depth 0",
    old: "while file_stack[-1] != header:",
    new: "while file_stack and file_stack[-1] != header:",
}];

/// Our configuration replaces the one shipped in `include/plat/pc99/`, because the Makefile
/// searches that folder before the build folder (the shipped one is a verification
/// configuration that does not boot under emulation).
const CONFIG_PATH_IN_SOURCE: &str = "include/plat/pc99/autoconf.h";

/// The Makefile's own warning list, plus the two that gcc 12 turns into errors in 5.0.0's
/// source (no source change needed: the code is correct, the warnings are new).
const WARNINGS: &str = "WARNINGS=all error strict-prototypes missing-prototypes nested-externs \
     missing-declarations undef pointer-arith no-nonnull no-address-of-packed-member no-array-bounds";

const STAMP: &str = ".switchboard-stamp";

/// A built kernel.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The version in the source's `VERSION` file.
    pub version: String,
    /// The fixed, configured source copy.
    pub source: PathBuf,
    /// The build folder (its generated headers are read by the constants test).
    pub build: PathBuf,
    /// The 64-bit kernel ELF.
    pub elf: PathBuf,
    /// The 32-bit ELF that QEMU's multiboot loader boots.
    pub image: PathBuf,
}

/// Fetches, prepares and builds the kernel, printing one stage line for each step. Safe to
/// call from several processes at once: they take turns on a lock file.
pub fn ensure_built(workspace: &Workspace) -> Result<Kernel> {
    let dir = workspace.kernel_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = fs::File::create(dir.join(".lock")).context("creating the kernel build lock")?;
    lock.lock().context("taking the kernel build lock")?;

    let (source, source_key) = stage::run("fetch kernel source", || prepare_source(workspace))?;
    let kernel = stage::run("build kernel", || build(workspace, &source, &source_key))?;
    Ok(kernel)
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

fn stamp_matches(dir: &Path, key: &str) -> bool {
    fs::read_to_string(dir.join(STAMP)).is_ok_and(|stamp| stamp == key)
}

fn our_config(workspace: &Workspace) -> Result<Vec<u8>> {
    let path = workspace.tool_dir().join("kernel/autoconf.h");
    fs::read(&path).with_context(|| format!("reading the kernel configuration {}", path.display()))
}

/// Copies the kernel source out of the cargo registry and applies our fixes and configuration.
fn prepare_source(workspace: &Workspace) -> Result<((PathBuf, String), Freshness)> {
    let config = our_config(workspace)?;
    let mut inputs: Vec<&[u8]> = vec![SOURCE_PACKAGE_VERSION.as_bytes(), &config];
    for fix in SOURCE_FIXES {
        inputs.extend([fix.file.as_bytes(), fix.old.as_bytes(), fix.new.as_bytes()]);
    }
    let key = sha256_hex(&inputs);
    let source = workspace.kernel_dir().join("source");
    if stamp_matches(&source, &key) {
        return Ok(((source, key), Freshness::Cached));
    }

    let package = fetch_source_package(workspace)?;
    let shipped = package.join("seL4");
    ensure!(shipped.join("Makefile").is_file(), "{} has no seL4 Makefile", shipped.display());
    if source.exists() {
        fs::remove_dir_all(&source).with_context(|| format!("removing {}", source.display()))?;
    }
    copy_tree(&shipped, &source)?;
    for fix in SOURCE_FIXES {
        apply_fix(&source, fix)?;
    }
    fs::write(source.join(CONFIG_PATH_IN_SOURCE), &config).context("writing autoconf.h")?;
    fs::write(source.join(STAMP), &key).context("writing the source stamp")?;
    Ok(((source, key), Freshness::Built))
}

/// Lets cargo download the source package, and returns its folder in cargo's registry.
fn fetch_source_package(workspace: &Workspace) -> Result<PathBuf> {
    let manifest = workspace.tool_dir().join("kernel/source/Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["fetch", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .status()
        .context("running cargo fetch")?;
    ensure!(status.success(), "cargo fetch for {} failed: {status}", manifest.display());

    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo metadata")?;
    ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    let packages = metadata["packages"].as_array().context("cargo metadata lists no packages")?;
    let package = packages
        .iter()
        .find(|package| {
            package["name"] == SOURCE_PACKAGE && package["version"] == SOURCE_PACKAGE_VERSION
        })
        .with_context(|| {
            format!("cargo metadata does not list {SOURCE_PACKAGE} {SOURCE_PACKAGE_VERSION}")
        })?;
    let manifest_path =
        package["manifest_path"].as_str().context("package without manifest path")?;
    Ok(Path::new(manifest_path).parent().context("manifest path without folder")?.to_path_buf())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn apply_fix(source: &Path, fix: &SourceFix) -> Result<()> {
    let path = source.join(fix.file);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        text.matches(fix.old).count() == 1,
        "cannot apply our fix to {} ({}): the text it replaces is not there exactly once",
        fix.file,
        fix.why
    );
    fs::write(&path, text.replace(fix.old, fix.new))
        .with_context(|| format!("writing {}", path.display()))
}

/// The make command line (without the Makefile path), part of the build's cache key.
fn make_arguments(source: &Path) -> Vec<String> {
    vec![
        format!("SOURCE_ROOT={}", source.display()),
        "ARCH=x86".into(),
        "SEL4_ARCH=x86_64".into(),
        "PLAT=pc99".into(),
        "DEBUG=1".into(),
        "PYTHON=/usr/bin/python3".into(),
        WARNINGS.into(),
    ]
}

fn build(workspace: &Workspace, source: &Path, source_key: &str) -> Result<(Kernel, Freshness)> {
    let version =
        fs::read_to_string(source.join("VERSION")).context("reading the kernel VERSION")?;
    let arguments = make_arguments(source);
    let key = sha256_hex(&[source_key.as_bytes(), arguments.join("\n").as_bytes()]);
    let build = workspace.kernel_dir().join("build");
    let kernel = Kernel {
        version: version.trim().to_string(),
        source: source.to_path_buf(),
        elf: build.join("kernel.elf"),
        image: build.join("kernel32.elf"),
        build: build.clone(),
    };
    if stamp_matches(&build, &key) && kernel.elf.is_file() && kernel.image.is_file() {
        return Ok((kernel, Freshness::Cached));
    }

    if build.exists() {
        fs::remove_dir_all(&build).with_context(|| format!("removing {}", build.display()))?;
    }
    fs::create_dir_all(&build)?;
    // The Makefile and the generator scripts call `python`; on these machines that may be an
    // interpreter without Debian's python3 packages (ply, tempita, six), so put a `python`
    // that is Debian's python3 first on PATH.
    let shim = workspace.kernel_dir().join("python-shim");
    fs::create_dir_all(&shim)?;
    let python = shim.join("python");
    if fs::symlink_metadata(&python).is_err() {
        std::os::unix::fs::symlink("/usr/bin/python3", &python)
            .context("creating the python shim")?;
    }
    let path = std::env::join_paths(
        std::iter::once(shim)
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let log_path = workspace.kernel_dir().join("build.log");
    let log = fs::File::create(&log_path)?;
    let status = Command::new("make")
        .arg("-f")
        .arg(source.join("Makefile"))
        .args(&arguments)
        .arg(format!("-j{}", std::thread::available_parallelism().map_or(1, |n| n.get())))
        .current_dir(&build)
        .env("PATH", path)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("running make (is `make` installed? `make run` installs it)")?;
    if !status.success() {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "the kernel build failed ({status}); full log: {}\n{}",
            log_path.display(),
            tail.join("\n")
        );
    }
    let status = Command::new("objcopy")
        .args(["-O", "elf32-i386"])
        .arg(&kernel.elf)
        .arg(&kernel.image)
        .status()
        .context("running objcopy")?;
    ensure!(status.success(), "objcopy to a 32-bit kernel image failed: {status}");
    fs::write(build.join(STAMP), &key)?;
    Ok((kernel, Freshness::Built))
}
