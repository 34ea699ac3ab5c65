//! The run policy and the release kernel on the real kernel: a system that runs for ever
//! keeps serving after all its clients are done, and debug system calls stop only the realm
//! that makes them.

use qemu::Verdict;
use system_tests::boot_system_until;

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
