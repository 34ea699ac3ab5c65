//! Hostile and broken realms on the real kernel (issue 10): what a realm sends must never
//! make the memory manager or a service do what the protocol does not say.

use system_tests::{assert_event, assert_passed, boot_system_on};
use xtask::kernel::Variant;

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
    // A `BAD_REQUEST` reply whose reason is the unknown operation (`interface::BadRequest`).
    assert!(
        outcome.printed("[labeller] label 999 refused: UnknownOperation { operation: 999 }"),
        "{}",
        outcome.tail(40)
    );
    assert!(!outcome.printed("label 999 was served"), "{}", outcome.tail(40));
}

#[test]
fn a_forged_fault_stops_only_the_realm_that_forged_it() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Release);
    assert_passed("tests/systems/replies.toml", &outcome);
    // seL4 5.0.0 cannot tell the forgery from a fault (README, "Faults"): the forger is
    // stopped as a faulting realm would be, which it could have had by faulting for real.
    assert_event(&outcome, "realm-faulted", &[("realm", "forger"), ("address", "0xdead000")]);
    assert_event(&outcome, "realm-stopped", &[("realm", "forger"), ("reason", "faulted")]);
    assert!(!outcome.printed("[forger] the forged fault was answered"), "{}", outcome.tail(40));
    // Nobody else was touched.
    assert!(outcome.printed("[caller] 1000 of 1000 calls answered"), "{}", outcome.tail(40));
    assert_event(&outcome, "realm-stopped", &[("realm", "echo"), ("reason", "shutdown")]);
    assert_event(&outcome, "resources-checked", &[("result", "all-back")]);
}

#[test]
fn a_refused_allocation_names_the_limit_it_hit() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Release);
    assert_passed("tests/systems/replies.toml", &outcome);
    // 1,600 pages fit hoarder's 16 MiB budget but not the slots for its objects.
    assert_event(
        &outcome,
        "quota-refused",
        &[("realm", "hoarder"), ("resource", "realm-object-slots"), ("pages", "1600")],
    );
    assert!(
        !outcome.has_event("quota-refused", &[("realm", "hoarder"), ("resource", "realm-memory")])
    );
    assert!(outcome.printed("[hoarder] then 4 pages granted: 16384 bytes"), "{}", outcome.tail(40));
}

#[test]
fn a_client_of_a_service_with_its_own_receive_loop_returns_when_it_dies() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Debug);
    assert_passed("tests/systems/replies.toml", &outcome);
    assert_event(&outcome, "realm-aborting", &[("realm", "rawsrv"), ("ending", "faulted")]);
    assert!(outcome.printed("[rawcli] the call to raw returned: Err("), "{}", outcome.tail(40));
}

#[test]
fn a_dropped_connection_handle_is_let_go_of() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Release);
    assert_passed("tests/systems/replies.toml", &outcome);
    assert!(
        outcome.printed("[dropper] 5 of 5 connects after dropping the handle each time"),
        "{}",
        outcome.tail(40)
    );
}

#[test]
fn nonsense_in_a_control_page_harms_only_its_realm() {
    let outcome = boot_system_on("tests/systems/replies.toml", Variant::Release);
    assert_passed("tests/systems/replies.toml", &outcome);
    assert!(
        outcome.printed(
            "[garbler] garbage control page: first Ok(1001), 200 of 200 calls answered, sleep Ok(())"
        ),
        "{}",
        outcome.tail(40)
    );
    assert!(outcome.printed("[caller] 1000 of 1000 calls answered"), "{}", outcome.tail(40));
    assert_event(&outcome, "resources-checked", &[("result", "all-back")]);
}
