//! Helpers for Switchboard's tests on the real kernel: build the kernel once per test
//! process, build a root-task package, boot it, and look at what it printed.
//!
//! The images live beside this crate: `images/` holds root tasks that must pass
//! (`qemu test` boots them all), `probes/` holds root tasks that misbehave on purpose so the
//! runner itself can be tested.

use std::sync::OnceLock;
use std::time::Duration;

use qemu::kernel::Kernel;
use qemu::{BootOptions, Outcome, Workspace, image, kernel};

/// The kernel, built (or found cached) once per test process.
pub fn kernel() -> &'static Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    KERNEL.get_or_init(|| {
        kernel::ensure_built(&Workspace::current(), kernel::Variant::Release)
            .expect("building the seL4 kernel")
    })
}

/// Builds the memory manager with the system described in `system` (a path relative to the
/// repository) and boots it.
pub fn boot_system(system: &str) -> Outcome {
    let workspace = Workspace::current();
    let path = workspace.root().join(system);
    let root_task = qemu::system::build(&workspace, &path).expect("building the system");
    qemu::boot::boot(kernel(), &root_task, &BootOptions::default()).expect("booting QEMU")
}

/// Builds the memory manager with the system in `system` and boots it until a serial line
/// contains `stop_at` (or the default timeout): for systems that run for ever.
pub fn boot_system_until(system: &str, stop_at: &str) -> Outcome {
    let workspace = Workspace::current();
    let path = workspace.root().join(system);
    let root_task = qemu::system::build(&workspace, &path).expect("building the system");
    let options = BootOptions { stop_at: Some(stop_at.to_string()), ..BootOptions::default() };
    qemu::boot::boot(kernel(), &root_task, &options).expect("booting QEMU")
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

/// Builds root-task `package` and boots it with `timeout`.
pub fn boot_with_timeout(package: &str, timeout: Duration) -> Outcome {
    let workspace = Workspace::current();
    let root_task = image::build_root_task(&workspace, package).expect("building the root task");
    let options = BootOptions { timeout, ..BootOptions::default() };
    qemu::boot::boot(kernel(), &root_task, &options).expect("booting QEMU")
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
