//! The seL4 kernel: fetched from crates.io, fixed, configured and built, in two variants.
//!
//! seL4 5.0.0 ships inside the crates.io package `sel4-sys =0.0.28` (its `seL4/` folder, with
//! the old standalone Makefile build). We let cargo fetch it through the manifest in
//! `xtask/kernel/source/`, and build each [`Variant`] in its own folder: copy the source to
//! `target/sel4/<variant>/source/`, apply the fixes below, write the variant's configuration
//! and build in `target/sel4/<variant>/build/`. Each step keeps a stamp with the hash of its
//! inputs and is skipped when they are unchanged, so the two variants are cached apart:
//! rebuilding one never touches the other.
//!
//! The configuration has one source, `xtask/kernel/autoconf.h`: the debug kernel's. The release
//! kernel's is derived from it by [`release_config`], which removes the lines in
//! [`DEBUG_ONLY_LINES`] (each must be there exactly once), and the release build drops
//! `DEBUG=1` from the make command line. The release kernel has no debug system calls and
//! prints nothing after the bootloader; root tasks write to the serial port themselves.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

use crate::stage::{self, Freshness};
use crate::workspace::Workspace;

/// The registry package that carries the kernel source.
pub const SOURCE_PACKAGE: &str = "sel4-sys";
/// Its pinned version (also pinned in `xtask/kernel/source/Cargo.toml`).
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

/// Which kernel configuration to build and boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Variant {
    /// No debug system calls (`DebugPutChar`, `DebugHalt`, `DebugCapIdentify`,
    /// `DebugSnapshot`, `DebugNameThread`: a thread that makes one takes an `UnknownSyscall`
    /// fault) and no kernel output at all. What `run`, `test` and `bench` use by default.
    #[default]
    Release,
    /// `CONFIG_DEBUG_BUILD`, `CONFIG_PRINTING`, `CONFIG_IRQ_REPORTING` and `DEBUG=1`: the
    /// debug system calls, and the kernel's own reports on serial (faults of threads without
    /// a handler, refused invocations, named threads). For kernel diagnostics.
    Debug,
}

impl Variant {
    /// Both variants.
    pub const ALL: [Variant; 2] = [Variant::Release, Variant::Debug];

    /// The variant's name on command lines, in folder names and in the `[boot]` line.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Release => "release",
            Variant::Debug => "debug",
        }
    }

    /// The variant named `name` (`release` or `debug`).
    pub fn from_name(name: &str) -> Result<Self> {
        Variant::ALL.into_iter().find(|variant| variant.name() == name).with_context(|| {
            format!("there is no kernel variant {name:?}: the variants are release and debug")
        })
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The runs of consecutive lines of `xtask/kernel/autoconf.h` that only the debug kernel has:
/// [`release_config`] removes each. `CONFIG_USER_STACK_TRACE_LENGTH` is only read by code
/// under `CONFIG_DEBUG_BUILD`, and the Makefile defines it itself with `DEBUG=1`.
pub const DEBUG_ONLY_LINES: &[&[&str]] = &[
    &["#define CONFIG_DEBUG_BUILD 1"],
    &["#define CONFIG_PRINTING 1"],
    &["#define CONFIG_IRQ_REPORTING 1"],
    &[
        "#ifndef CONFIG_USER_STACK_TRACE_LENGTH",
        "#define CONFIG_USER_STACK_TRACE_LENGTH 16",
        "#endif",
    ],
];

/// The release configuration: `debug_config` (the text of `xtask/kernel/autoconf.h`) without
/// the runs of [`DEBUG_ONLY_LINES`]; every other line is kept as it is. Fails, naming the run,
/// when a run is not in the text exactly once (the two would silently drift apart otherwise).
pub fn release_config(debug_config: &str) -> Result<String> {
    let mut lines: Vec<&str> = debug_config.lines().collect();
    for run in DEBUG_ONLY_LINES {
        let starts: Vec<usize> = (0..lines.len())
            .filter(|&start| {
                lines.len() - start >= run.len()
                    && lines[start..start + run.len()]
                        .iter()
                        .zip(run.iter())
                        .all(|(line, wanted)| line.trim_end() == *wanted)
            })
            .collect();
        ensure!(
            starts.len() == 1,
            "the kernel configuration should hold the debug-only lines {:?} exactly once, but \
             holds them {} times: keep xtask/kernel/autoconf.h and DEBUG_ONLY_LINES in \
             xtask/src/kernel.rs in step",
            run.join(" / "),
            starts.len()
        );
        lines.drain(starts[0]..starts[0] + run.len());
    }
    let mut release = lines.join("\n");
    release.push('\n');
    Ok(release)
}

/// A built kernel.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Which configuration it was built with.
    pub variant: Variant,
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

/// Fetches, prepares and builds the kernel `variant` in `target/sel4/<variant>/`, printing
/// one stage line for each step. Safe to call from several processes at once: they take turns
/// on a lock file of the variant's folder.
pub fn ensure_built(workspace: &Workspace, variant: Variant) -> Result<Kernel> {
    let dir = variant_dir(workspace, variant);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = fs::File::create(dir.join(".lock")).context("creating the kernel build lock")?;
    lock.lock().context("taking the kernel build lock")?;

    let (source, source_key) = stage::run(&format!("fetch kernel source ({variant})"), || {
        prepare_source(workspace, variant)
    })?;
    let kernel = stage::run(&format!("build kernel ({variant})"), || {
        build(workspace, variant, &source, &source_key)
    })?;
    Ok(kernel)
}

/// Where `variant` is prepared and built.
fn variant_dir(workspace: &Workspace, variant: Variant) -> PathBuf {
    workspace.kernel_dir().join(variant.name())
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

/// The configuration of `variant`: `xtask/kernel/autoconf.h`, or [`release_config`] of it.
pub fn config(workspace: &Workspace, variant: Variant) -> Result<String> {
    let path = workspace.tool_dir().join("kernel/autoconf.h");
    let debug = fs::read_to_string(&path)
        .with_context(|| format!("reading the kernel configuration {}", path.display()))?;
    match variant {
        Variant::Debug => Ok(debug),
        Variant::Release => release_config(&debug),
    }
}

/// Copies the kernel source out of the cargo registry and applies our fixes and the
/// configuration of `variant`.
fn prepare_source(
    workspace: &Workspace,
    variant: Variant,
) -> Result<((PathBuf, String), Freshness)> {
    let config = config(workspace, variant)?;
    let mut inputs: Vec<&[u8]> = vec![SOURCE_PACKAGE_VERSION.as_bytes(), config.as_bytes()];
    for fix in SOURCE_FIXES {
        inputs.extend([fix.file.as_bytes(), fix.old.as_bytes(), fix.new.as_bytes()]);
    }
    let key = sha256_hex(&inputs);
    let source = variant_dir(workspace, variant).join("source");
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

    let metadata = cargo_metadata::MetadataCommand::new()
        .cargo_path(&cargo)
        .manifest_path(&manifest)
        .exec()
        .context("running cargo metadata on the kernel source manifest")?;
    let package = metadata
        .packages
        .iter()
        .find(|package| {
            package.name.as_str() == SOURCE_PACKAGE
                && package.version.to_string() == SOURCE_PACKAGE_VERSION
        })
        .with_context(|| {
            format!("cargo metadata does not list {SOURCE_PACKAGE} {SOURCE_PACKAGE_VERSION}")
        })?;
    let folder = package.manifest_path.parent().context("manifest path without folder")?;
    Ok(folder.as_std_path().to_path_buf())
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

/// The make command line (without the Makefile path), part of the build's cache key. `DEBUG=1`
/// (debug kernel only) makes the Makefile define `CONFIG_DEBUG_BUILD` and
/// `CONFIG_USER_STACK_TRACE_LENGTH` and compile with assertions.
fn make_arguments(source: &Path, variant: Variant) -> Vec<String> {
    let mut arguments = vec![
        format!("SOURCE_ROOT={}", source.display()),
        "ARCH=x86".into(),
        "SEL4_ARCH=x86_64".into(),
        "PLAT=pc99".into(),
    ];
    if variant == Variant::Debug {
        arguments.push("DEBUG=1".into());
    }
    arguments.extend(["PYTHON=/usr/bin/python3".into(), WARNINGS.into()]);
    arguments
}

fn build(
    workspace: &Workspace,
    variant: Variant,
    source: &Path,
    source_key: &str,
) -> Result<(Kernel, Freshness)> {
    let version =
        fs::read_to_string(source.join("VERSION")).context("reading the kernel VERSION")?;
    let arguments = make_arguments(source, variant);
    let key = sha256_hex(&[source_key.as_bytes(), arguments.join("\n").as_bytes()]);
    let dir = variant_dir(workspace, variant);
    let build = dir.join("build");
    let kernel = Kernel {
        variant,
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
    let shim = dir.join("python-shim");
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
    let log_path = dir.join("build.log");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn debug_config() -> String {
        config(&Workspace::current(), Variant::Debug).expect("reading autoconf.h")
    }

    #[test]
    fn the_release_config_is_the_debug_config_without_the_debug_only_lines() {
        let debug = debug_config();
        let release = release_config(&debug).expect("deriving the release configuration");
        let removed: Vec<&str> =
            DEBUG_ONLY_LINES.iter().flat_map(|run| run.iter().copied()).collect();
        let kept: Vec<&str> =
            debug.lines().filter(|line| !removed.contains(&line.trim_end())).collect();
        assert_eq!(release.lines().collect::<Vec<_>>(), kept);
        for option in ["CONFIG_DEBUG_BUILD", "CONFIG_PRINTING", "CONFIG_IRQ_REPORTING"] {
            assert!(debug.contains(&format!("#define {option} 1")), "{option} in debug");
            assert!(!release.contains(&format!("#define {option} ")), "{option} in release");
        }
        assert!(!release.contains("#define CONFIG_USER_STACK_TRACE_LENGTH"));
        assert!(release.contains("#define CONFIG_ROOT_CNODE_SIZE_BITS 16"));
    }

    #[test]
    fn a_missing_or_repeated_debug_only_line_is_an_error() {
        let debug = debug_config();
        let missing = debug.replace("#define CONFIG_PRINTING 1\n", "");
        let error = release_config(&missing).expect_err("a missing line").to_string();
        assert!(error.contains("\"#define CONFIG_PRINTING 1\""), "{error}");
        assert!(error.contains("holds them 0 times"), "{error}");
        let repeated = format!("{debug}#define CONFIG_IRQ_REPORTING 1\n");
        let error = release_config(&repeated).expect_err("a repeated line").to_string();
        assert!(error.contains("holds them 2 times"), "{error}");
    }

    #[test]
    fn only_the_debug_build_passes_debug_to_make() {
        let source = Path::new("/src");
        assert!(make_arguments(source, Variant::Debug).contains(&"DEBUG=1".to_string()));
        assert!(!make_arguments(source, Variant::Release).iter().any(|a| a.starts_with("DEBUG")));
    }

    #[test]
    fn variants_are_named_for_the_command_line() {
        for variant in Variant::ALL {
            assert_eq!(Variant::from_name(variant.name()).unwrap(), variant);
        }
        assert_eq!(Variant::default(), Variant::Release);
        let error = Variant::from_name("fast").unwrap_err().to_string();
        assert_eq!(
            error,
            "there is no kernel variant \"fast\": the variants are release and debug"
        );
    }
}
