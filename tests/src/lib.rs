//! Helpers for Switchboard's tests on the real kernel: build each kernel variant once per
//! test process, build a root-task package, boot it, and look at what it printed.
//!
//! What they boot is built by the build tool's library (`xtask`: kernel, system check, realm
//! programs, boot image) and run by the `qemu` crate (QEMU, serial, verdict, events).
//!
//! The suites boot the release kernel (`xtask::kernel::Variant::Release`) unless the
//! environment variable `SWITCHBOARD_KERNEL` names another (`SWITCHBOARD_KERNEL=debug cargo
//! test`, for kernel diagnostics). A test image that names the kernel it needs in its
//! `Cargo.toml` (`xtask::image::required_kernel`) always boots on that one, and a test that
//! needs a kernel for its own reasons says so and passes it to [`boot_on`] or
//! [`boot_system_on`]: neither follows the variable.
//!
//! The images live beside this crate: `images/` holds root tasks that must pass
//! (`cargo xtask images` boots them all), `probes/` holds root tasks that misbehave on purpose
//! so the runner itself can be tested.
//!
//! A new QEMU test scenario is one system file (in `systems/`), its realm packages (in
//! `realms/`, which the workspace's members glob covers, or any folder of the workspace) and
//! one test function that boots the file with [`boot_system`] and asserts on its events
//! ([`assert_event`]).

#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::time::Duration;

use qemu::{BootOptions, Outcome};
use xtask::kernel::{Kernel, Variant};
use xtask::{Workspace, image, kernel};

/// The environment variable that chooses the suites' kernel (`release` or `debug`).
pub const KERNEL_VARIABLE: &str = "SWITCHBOARD_KERNEL";

/// The kernel the suites boot: `SWITCHBOARD_KERNEL` if set, else the release kernel. Panics
/// with a sentence when the variable names no variant.
pub fn default_variant() -> Variant {
    match std::env::var(KERNEL_VARIABLE) {
        Ok(name) => Variant::from_name(name.trim())
            .unwrap_or_else(|error| panic!("{KERNEL_VARIABLE}: {error:#}")),
        Err(_) => Variant::default(),
    }
}

/// The kernel the suites boot ([`default_variant`]), built once per test process.
pub fn kernel() -> &'static Kernel {
    kernel_of(default_variant())
}

/// Kernel `variant`, built (or found cached) once per test process.
pub fn kernel_of(variant: Variant) -> &'static Kernel {
    static KERNELS: [OnceLock<Kernel>; 2] = [OnceLock::new(), OnceLock::new()];
    let index = Variant::ALL.iter().position(|each| *each == variant).expect("a known variant");
    KERNELS[index].get_or_init(|| {
        kernel::ensure_built(&Workspace::current(), variant)
            .unwrap_or_else(|error| panic!("building the {variant} seL4 kernel: {error:#}"))
    })
}

/// Builds the memory manager with the system described in `system` (a path relative to the
/// repository) and boots it on the suites' kernel.
pub fn boot_system(system: &str) -> Outcome {
    boot_system_on(system, default_variant())
}

/// Builds the memory manager with the system described in `system` and boots it on kernel
/// `variant`.
pub fn boot_system_on(system: &str, variant: Variant) -> Outcome {
    let workspace = Workspace::current();
    let path = workspace.root().join(system);
    let root_task = xtask::system::build(&workspace, &path).expect("building the system");
    qemu::boot::boot(&kernel_of(variant).image, &root_task, &BootOptions::default())
        .expect("booting QEMU")
}

/// [`boot_system`] with `timeout` instead of the default 60 s.
pub fn boot_system_for(system: &str, timeout: Duration) -> Outcome {
    let workspace = Workspace::current();
    let path = workspace.root().join(system);
    let root_task = xtask::system::build(&workspace, &path).expect("building the system");
    let options = BootOptions { timeout, ..BootOptions::default() };
    qemu::boot::boot(&kernel().image, &root_task, &options).expect("booting QEMU")
}

/// Builds the memory manager with the system in `system` and boots it until a serial line
/// contains `stop_at` (or the default timeout): for systems that run for ever.
pub fn boot_system_until(system: &str, stop_at: &str) -> Outcome {
    let workspace = Workspace::current();
    let path = workspace.root().join(system);
    let root_task = xtask::system::build(&workspace, &path).expect("building the system");
    let options = BootOptions { stop_at: Some(stop_at.to_string()), ..BootOptions::default() };
    qemu::boot::boot(&kernel().image, &root_task, &options).expect("booting QEMU")
}

/// The boot of `system` that every test of a file looks at: booted once, in `cell`, and
/// required to pass (the first test to ask fails with the serial tail otherwise).
pub fn boot_passing_once(cell: &'static OnceLock<Outcome>, system: &str) -> &'static Outcome {
    cell.get_or_init(|| {
        let outcome = boot_system(system);
        assert_passed(system, &outcome);
        outcome
    })
}

/// Fails the test, with the serial tail, unless some serial line of `outcome` contains `text`.
pub fn assert_printed(outcome: &Outcome, text: &str) {
    assert!(outcome.printed(text), "missing {text:?}\n--- serial tail ---\n{}", outcome.tail(60));
}

/// Fails the test, with the serial tail, unless `outcome` printed the event `kind` with these
/// fields (among others).
pub fn assert_event(outcome: &Outcome, kind: &str, fields: &[(&str, &str)]) {
    assert!(
        outcome.has_event(kind, fields),
        "no {kind} event with {fields:?}\n--- serial tail ---\n{}",
        outcome.tail(60)
    );
}

/// Fails the test, with the serial tail, unless the run passed.
pub fn assert_passed(what: &str, outcome: &Outcome) {
    assert!(
        outcome.passed(),
        "{what}: {}\n--- serial tail ---\n{}",
        outcome.verdict,
        outcome.tail(40)
    );
}

/// The kernel root-task `package` boots on: the one its manifest names, else the suites'.
pub fn variant_for(package: &str) -> Variant {
    image::required_kernel(&Workspace::current(), package)
        .unwrap_or_else(|error| panic!("reading the kernel {package} needs: {error:#}"))
        .map_or_else(default_variant, |required| required.variant)
}

/// Builds root-task `package` and boots it with `timeout` on [`variant_for`] it.
pub fn boot_with_timeout(package: &str, timeout: Duration) -> Outcome {
    boot_on(package, variant_for(package), timeout)
}

/// Builds root-task `package` and boots it with `timeout` on kernel `variant`.
pub fn boot_on(package: &str, variant: Variant, timeout: Duration) -> Outcome {
    let workspace = Workspace::current();
    let root_task = image::build_root_task(&workspace, package).expect("building the root task");
    let options = BootOptions { timeout, ..BootOptions::default() };
    qemu::boot::boot(&kernel_of(variant).image, &root_task, &options).expect("booting QEMU")
}

/// Builds root-task `package` and boots it with the default timeout.
pub fn boot(package: &str) -> Outcome {
    boot_with_timeout(package, BootOptions::default().timeout)
}

/// Boots `package` and fails the test, with the serial tail, unless the run passes.
pub fn boot_expecting_pass(package: &str) -> Outcome {
    let outcome = boot(package);
    assert_passed(package, &outcome);
    outcome
}

/// The text after `label` on the first serial line that contains it.
pub fn field<'a>(outcome: &'a Outcome, label: &str) -> Option<&'a str> {
    outcome
        .serial
        .iter()
        .find_map(|line| line.find(label).map(|at| line[at + label.len()..].trim()))
}

/// Fails the test unless the QEMU of `outcome` has ended (its process is gone).
pub fn assert_qemu_ended(outcome: &Outcome) {
    let pid = outcome.qemu_pid;
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU (process {pid}) is still there after the run"
    );
}

/// The process ids of running QEMUs whose command line mentions `needle`.
pub fn qemu_processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let cmdline = String::from_utf8_lossy(&cmdline);
                cmdline.contains("qemu-system") && cmdline.contains(needle)
            })
        })
        .collect()
}
