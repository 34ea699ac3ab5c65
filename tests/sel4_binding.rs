//! The `sel4` binding on the real kernel: the `sel4-binding` image exercises every invocation
//! family and syscall and prints one `check <name>: ok (...)` line per check; a failed check
//! panics in the image and fails the run. Here: the run passes, every check printed its line,
//! in order, and the kernel's own reports name a thread as the binding named it.
//!
//! `sel4-binding` needs the debug kernel, and says so in its `Cargo.toml`: it checks the type
//! of the capability in a slot with `DebugCapIdentify` (after every retype, copy, move,
//! revoke and transfer), names its threads with `DebugNameThread`, and the test below reads
//! the kernel's own report of a refused invocation. On the release kernel none of these exist.
//! The release kernel has its own image, `no-debug-syscalls`: each of the five debug system
//! calls is an `UnknownSyscall` fault there.

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{boot_expecting_pass, field, variant_for};
use xtask::kernel::Variant;

/// The image's run, booted once for every test here.
fn outcome() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    OUTCOME.get_or_init(|| {
        assert_eq!(variant_for("sel4-binding"), Variant::Debug, "sel4-binding's kernel");
        boot_expecting_pass("sel4-binding")
    })
}

/// Every check the image runs, in its order.
const CHECKS: &[&str] = &[
    "retype",
    "cnode",
    "revoke",
    "errors",
    "map-frame",
    "asid-pool",
    "ioport",
    "notification",
    "thread-start",
    "call-long",
    "reply",
    "mint-badge",
    "send-nbsend",
    "nb-recv",
    "cap-transfer",
    "cap-unwrap",
    "save-caller",
    "bind-notification",
    "set-ipc-buffer",
    "priority",
    "mc-priority",
    "suspend-resume",
    "registers",
    "yield",
    "cancel-badged-sends",
    "fault-vm",
    "fault-vm-address-width",
    "fault-vm-fetch",
    "set-space",
    "fault-cap",
    "fault-unknown-syscall",
    "fault-user-exception",
];

#[test]
fn every_invocation_family_works_on_the_real_kernel() {
    let outcome = outcome();
    let passed: Vec<&str> = outcome
        .serial
        .iter()
        .filter_map(|line| line.strip_prefix("check "))
        .filter_map(|rest| rest.split_once(": ok ("))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(passed, CHECKS, "checks passed, in order\n{}", outcome.tail(60));
    let summary = field(outcome, "sel4-binding: all ").expect("the summary line");
    assert_eq!(summary, format!("{} checks passed", CHECKS.len()));
}

#[test]
fn the_kernel_reports_carry_the_names_given_by_debug_name_thread() {
    let outcome = outcome();
    // The server's refused SetPriority (above its maximum controlled priority) makes the
    // kernel print a user error naming the thread that made the call.
    let refused = outcome
        .serial
        .iter()
        .find(|line| line.contains("TCB SetPriority: Requested priority 60 too high"))
        .unwrap_or_else(|| {
            panic!("no kernel report of the refused SetPriority\n{}", outcome.tail(80))
        });
    assert!(refused.contains("\"binding-server\""), "{refused}");
}

#[test]
fn faults_are_decoded_with_their_fields() {
    let outcome = outcome();
    let vm = field(outcome, "check fault-vm: ok (").expect("fault-vm line");
    assert!(vm.starts_with("read of 0x1000 arrived as VmFault"), "{vm}");
    // The root CNode's guard covers the CPtr bits its slots do not: 64 - log2(slots).
    let slots = field(outcome, "; free slots ").expect("the free slots line");
    let (_, end) = slots.split_once("..").expect("a slot range");
    let slot_count: u64 = end.parse().expect("the end of the slot range");
    assert!(slot_count.is_power_of_two(), "root CNode of {slot_count} slots");
    let guard_bits = 64 - slot_count.trailing_zeros();
    let cap = field(outcome, "check fault-cap: ok (").expect("fault-cap line");
    let failure =
        format!("GuardMismatch {{ bits_left: 64, guard_found: 0, bits_found: {guard_bits} }}");
    assert!(cap.contains(&failure), "{cap}");
    let syscall = field(outcome, "check fault-unknown-syscall: ok (").expect("syscall line");
    assert!(syscall.starts_with("syscall 100 at 0x"), "{syscall}");
    let exception = field(outcome, "check fault-user-exception: ok (").expect("ud2 line");
    assert!(exception.contains("UserException { number: 6"), "{exception}");
}

/// The debug system calls, as `no-debug-syscalls` names them, in its order.
const DEBUG_SYSCALLS: &[(&str, i64)] = &[
    ("DebugPutChar", sel4::kernel::syscall_number::DEBUG_PUT_CHAR),
    ("DebugCapIdentify", sel4::kernel::syscall_number::DEBUG_CAP_IDENTIFY),
    ("DebugNameThread", sel4::kernel::syscall_number::DEBUG_NAME_THREAD),
    ("DebugSnapshot", sel4::kernel::syscall_number::DEBUG_SNAPSHOT),
    ("DebugHalt", sel4::kernel::syscall_number::DEBUG_HALT),
];

#[test]
fn the_release_kernel_has_no_debug_system_calls() {
    assert_eq!(variant_for("no-debug-syscalls"), Variant::Release, "no-debug-syscalls' kernel");
    let outcome = boot_expecting_pass("no-debug-syscalls");
    for (name, number) in DEBUG_SYSCALLS {
        let line = field(&outcome, &format!("check {name}: ok ("))
            .unwrap_or_else(|| panic!("no line for {name}\n{}", outcome.tail(20)));
        assert!(
            line.starts_with(&format!("syscall {number} at 0x"))
                && line.contains("arrived as an UnknownSyscall fault"),
            "{name}: {line}"
        );
    }
    let summary = field(&outcome, "no-debug-syscalls: all ").expect("the summary line");
    assert_eq!(summary, "5 debug system calls are UnknownSyscall faults");
}
