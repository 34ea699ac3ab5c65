//! Hostile and broken realms on the real kernel (issue 10): what a realm sends must never
//! make the memory manager or a service do what the protocol does not say.

use qemu::kernel::Variant;
use system_tests::{assert_event, assert_passed, boot_system_on};

/// What the debug kernel prints when a thread replies with no reply cap
/// (`src/api/syscall.c`, `handleReply`).
const NO_REPLY_CAP: &str = "Attempted reply operation when no reply cap present";

#[test]
fn a_realm_that_exits_outside_a_request_makes_no_reply_no_one_is_owed() {
    // The debug kernel: only it reports a reply with no reply cap.
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Debug);
    assert_passed("tests/systems/replies.toml", &outcome);
    // It owns a service, so it went through the abort path ...
    assert_event(&outcome, "realm-aborting", &[("realm", "registrar"), ("ending", "exited")]);
    assert_event(&outcome, "realm-stopped", &[("realm", "registrar"), ("reason", "exited")]);
    // ... which replied to no one.
    assert!(!outcome.printed(NO_REPLY_CAP), "{}", outcome.tail(40));
}

#[test]
fn a_service_refuses_a_request_under_a_label_the_protocol_does_not_define() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Release);
    assert_passed("tests/systems/replies.toml", &outcome);
    // Status 1 is `BadRequest` (realm-runtime's payload header).
    assert!(outcome.printed("[labeller] label 999 refused with status 1"), "{}", outcome.tail(40));
    assert!(!outcome.printed("label 999 was served"), "{}", outcome.tail(40));
}
