//! Late replies on the real kernel (tests/systems/race.toml, realms in tests/realms/tm-realm):
//! a reply that comes after its call timed out must never reach a later call of the client.

use system_tests::{assert_passed, boot_system};

#[test]
fn a_reply_after_a_timeout_never_reaches_a_later_call() {
    let outcome = boot_system("tests/systems/race.toml");
    assert_passed("tests/systems/race.toml", &outcome);
    let summary = outcome
        .serial
        .iter()
        .find(|line| line.starts_with("[racer] racer: "))
        .unwrap_or_else(|| panic!("racer did not report\n{}", outcome.tail(40)));
    assert!(summary.contains(" 0 wrong, 0 other"), "{summary}");
    // Both outcomes happened: the deadlines were around the service's delays.
    assert!(!summary.contains("racer: 0 ok"), "{summary}");
    assert!(!summary.contains(" 0 timed out"), "{summary}");
}
