//! The run policy and the release kernel on the real kernel: a system that runs for ever
//! keeps serving after all its clients are done, and debug system calls stop only the realm
//! that makes them.

use qemu::Verdict;
use system_tests::{assert_passed, boot_system_on, boot_system_until};
use xtask::kernel::Variant;

/// What `late` prints once its calls are answered (tests/realms/run-client).
const LATE_DONE: &str = "[late] 5 of 5 calls answered";

#[test]
fn a_system_that_runs_forever_still_serves_a_client_that_comes_late() {
    let outcome = boot_system_until("tests/systems/forever.toml", LATE_DONE);
    assert_eq!(outcome.verdict, Verdict::Watched, "{}\n{}", outcome.verdict, outcome.tail(40));
    assert!(outcome.printed("[early] 3 of 3 calls answered"), "{}", outcome.tail(40));
    // Nothing was stopped for being idle, and no verdict ended the run.
    assert!(!outcome.printed("stopping the"), "{}", outcome.tail(40));
    assert!(!outcome.printed("SWITCHBOARD-VERDICT"), "{}", outcome.tail(40));
}

#[test]
fn on_the_release_kernel_each_debug_system_call_stops_only_the_realm_that_makes_it() {
    // Always the release kernel: on a debug kernel `DebugHalt` would stop the machine.
    let outcome = boot_system_on("tests/systems/debug-syscalls.toml", Variant::Release);
    assert_passed("tests/systems/debug-syscalls.toml", &outcome);
    let calls = [
        ("put-char", "-9"),
        ("halt", "-10"),
        ("cap-identify", "-11"),
        ("snapshot", "-12"),
        ("name-thread", "-13"),
    ];
    for (realm, number) in calls {
        assert!(
            outcome.has_event(
                "realm-faulted",
                &[("realm", realm), ("fault", "unknown-syscall"), ("syscall", number)]
            ),
            "{realm}: no unknown-syscall fault\n{}",
            outcome.tail(60)
        );
        assert!(
            outcome.has_event("realm-stopped", &[("realm", realm), ("reason", "faulted")]),
            "{realm} was not stopped\n{}",
            outcome.tail(60)
        );
        assert!(!outcome.printed(&format!("[{realm}] debug system call {number} returned")));
    }
    assert!(outcome.printed("[caller] 1000 of 1000 calls answered"), "{}", outcome.tail(60));
}
