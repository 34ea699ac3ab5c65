//! The foundation on the real kernel: the memory manager boots and reports the boot info,
//! root tasks print through their own serial output on both kernels, and the runner turns a
//! panic, a fault or silence into a failed run with QEMU ended.
//!
//! Everything here runs on the suites' kernel (release unless `SWITCHBOARD_KERNEL` says
//! otherwise) except the tests that name a kernel: the kernel's own fault report exists only
//! on the debug kernel, and the release kernel's silence is checked on the release kernel.

use std::process::Command;
use std::time::{Duration, Instant};

use qemu::{BootOptions, Verdict};
use system_tests::{
    assert_passed, assert_qemu_ended, boot, boot_on, boot_system, boot_with_timeout, field, kernel,
    qemu_processes_mentioning,
};
use xtask::kernel::Variant;

/// Parses the leading unsigned number of `text`.
fn leading_number(text: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number at the start of {text:?}"))
}

/// A numeric option of our kernel configuration.
fn kernel_config_value(name: &str) -> u32 {
    let path = xtask::Workspace::current().tool_dir().join("kernel/autoconf.h");
    let config = std::fs::read_to_string(path).expect("reading autoconf.h");
    config
        .lines()
        .find_map(|line| line.strip_prefix(&format!("#define {name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a number in autoconf.h"))
}

#[test]
fn memory_manager_prints_the_boot_info_banner() {
    let outcome = boot_system("system.toml");
    assert_passed("the demo system", &outcome);

    let version = field(&outcome, "kernel: seL4 ").expect("kernel version line");
    assert!(
        version.starts_with(&format!("{} ", kernel().version)),
        "banner names kernel {version:?}, the built kernel is {}",
        kernel().version
    );

    // "untyped caps: 137 (31 RAM, 106 device)"
    let untyped = field(&outcome, "untyped caps: ").expect("untyped line");
    let total = leading_number(untyped);
    let (ram, device) = untyped
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(" RAM, "))
        .map(|(ram, device)| (leading_number(ram), leading_number(device)))
        .expect("RAM and device counts");
    assert_eq!(total, ram + device);
    assert!(ram > 0, "no RAM untyped caps");

    // QEMU gives the machine 512 MiB; the kernel keeps some and the rest is untyped RAM.
    let ram_bytes = leading_number(field(&outcome, "RAM untyped: ").expect("RAM line"));
    assert!((400 << 20..512 << 20).contains(&ram_bytes), "RAM untyped {ram_bytes} bytes");

    // Our kernel configuration (xtask/kernel/autoconf.h) sizes the root CNode.
    let slots = field(&outcome, "free slots: ").expect("free slots line");
    let (first, end) = slots.split_once("..").expect("a slot range");
    let (first, end) = (leading_number(first), leading_number(end));
    assert!(first > 11 && first < end, "free slots {first}..{end}");
    assert_eq!(end, 1 << kernel_config_value("CONFIG_ROOT_CNODE_SIZE_BITS"));
}

#[test]
fn a_root_task_panic_fails_the_run_with_its_message_and_location() {
    let outcome = boot("probe-panic");
    match &outcome.verdict {
        Verdict::Panic { message } => {
            assert!(message.contains("deliberate panic number 42"), "message: {message}");
            assert!(message.contains("tests/probes/panic/src/main.rs:"), "location: {message}");
        }
        other => panic!("expected a panic verdict, got {other}\n{}", outcome.tail(20)),
    }
    assert_eq!(outcome.exit_status, Some(qemu::boot::EXIT_STATUS_FAIL));
}

#[test]
fn xtask_images_exits_non_zero_on_a_panic_shows_the_serial_tail_and_leaves_no_qemu() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--quiet", "--package", "xtask", "--", "images", "probe-panic"])
        .current_dir(xtask::Workspace::current().root())
        .output()
        .expect("running cargo xtask images");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "cargo xtask images passed a panicking image:\n{stdout}");
    assert!(stdout.contains("test probe-panic ... FAILED (root task panic: "), "{stdout}");
    assert!(stdout.contains("deliberate panic number 42"), "{stdout}");
    assert!(stdout.contains("probe-panic: "), "the serial tail is missing:\n{stdout}");
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    assert_eq!(qemu_processes_mentioning("release/probe-panic"), Vec::<u32>::new());
}

#[test]
fn a_silent_root_task_times_out_and_qemu_is_killed() {
    let started = Instant::now();
    let outcome = boot_with_timeout("probe-hang", Duration::from_secs(4));
    assert_eq!(outcome.verdict, Verdict::Timeout, "{}", outcome.tail(20));
    assert!(outcome.printed("probe-hang: spinning forever"));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_qemu_ended(&outcome);
}

/// Needs the debug kernel: only a debug kernel (`CONFIG_PRINTING`) reports a fault of a
/// thread that has no fault handler.
#[test]
fn a_root_task_fault_fails_the_run_with_the_kernels_report_on_the_debug_kernel() {
    let outcome = boot_on("probe-fault", Variant::Debug, BootOptions::default().timeout);
    match &outcome.verdict {
        Verdict::UnhandledFault { report } => {
            assert!(report.contains("vm fault on data at address 0x1000"), "report: {report}")
        }
        other => panic!("expected an unhandled fault, got {other}\n{}", outcome.tail(20)),
    }
    assert_qemu_ended(&outcome);
}

/// On the release kernel the same fault is silent: the root task just stops. The run still
/// fails, on its timeout, with the probe's own line and no verdict.
#[test]
fn a_root_task_fault_on_the_release_kernel_is_silent_and_fails_the_run_on_its_timeout() {
    let outcome = boot_on("probe-fault", Variant::Release, Duration::from_secs(5));
    assert_eq!(outcome.verdict, Verdict::Timeout, "{}", outcome.tail(20));
    assert!(outcome.printed("probe-fault: reading 0x1000"), "{}", outcome.tail(20));
    assert!(!outcome.printed("vm fault"), "the release kernel printed:\n{}", outcome.tail(20));
    assert_qemu_ended(&outcome);
}

/// A root task prints through COM1 itself on both kernels; the debug kernel prints its boot
/// log before it, the release kernel nothing at all. (`probe-hang`: it prints one line and no
/// more, and `xtask_images_exits_non_zero...` looks for other QEMUs booting `probe-panic`.)
#[test]
fn root_tasks_print_on_both_kernels_and_only_the_debug_kernel_prints_its_own_lines() {
    // A line of the debug kernel's boot log (seL4 5.0.0 `src/arch/x86/kernel/cmdline.c`).
    const KERNEL_BOOT_LINE: &str = "Boot config: ";
    for variant in Variant::ALL {
        let outcome = boot_on("probe-hang", variant, Duration::from_secs(4));
        assert!(
            outcome.printed("probe-hang: spinning forever"),
            "{variant} kernel: the root task's line is missing\n{}",
            outcome.tail(20)
        );
        assert_eq!(outcome.verdict, Verdict::Timeout, "{variant} kernel");
        let kernel_printed = outcome.printed(KERNEL_BOOT_LINE);
        assert_eq!(
            kernel_printed,
            variant == Variant::Debug,
            "{variant} kernel: kernel boot log printed: {kernel_printed}\n{}",
            outcome.serial.join("\n")
        );
        assert_qemu_ended(&outcome);
    }
}
