//! Services on the real kernel, one test per case, all from one boot of
//! tests/systems/services.toml (see its header for who is who).

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{assert_passed, boot_system};

/// The one boot every test here looks at.
fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/services.toml")
}

/// Asserts that the run printed the event `kind` with these fields (among others).
fn assert_event(kind: &str, fields: &[(&str, &str)]) {
    system_tests::assert_event(run(), kind, fields);
}

fn assert_printed(text: &str) {
    system_tests::assert_printed(run(), text);
}

#[test]
fn an_allowed_connect_and_call() {
    assert_event("connect-allowed", &[("realm", "alice"), ("service", "desk")]);
    assert_printed("[alice] connected to her parent's \"desk\"");
    assert_printed("[init] granted alice access to \"shop\"");
}

#[test]
fn a_sibling_is_denied_with_the_rule_in_the_log() {
    assert_event(
        "connect-denied",
        &[("realm", "alice"), ("service", "shop"), ("rule", "sibling-needs-grant")],
    );
    assert_printed("[alice] connect \"shop\" refused: ");
}

#[test]
fn a_parent_grant_lets_the_same_connect_succeed() {
    assert_event("grant-added", &[("realm", "init"), ("grantee", "alice"), ("service", "shop")]);
    assert_event("connect-allowed", &[("realm", "alice"), ("service", "shop")]);
    assert_printed("[alice] after the grant: shop doubled 21 into 42");
}

#[test]
fn the_services_allowed_clients_are_enforced() {
    assert_event(
        "connect-denied",
        &[("realm", "carol"), ("service", "shop"), ("rule", "not-in-allowed-clients")],
    );
    assert_printed("[carol] connect \"shop\" refused: ");
}

#[test]
fn malformed_requests_get_errors_and_the_broker_goes_on() {
    let outcome = run();
    let answers =
        outcome.serial.iter().filter(|line| line.starts_with("[mallory] request ")).count();
    assert_eq!(answers, 5, "{}", outcome.tail(60));
    // Every malformed request is reported: in full, or counted as a repeat of one that was.
    let events = outcome.events();
    let full = events
        .iter()
        .filter(|event| event.matches("malformed-request", &[("realm", "mallory")]))
        .count();
    let repeated: usize = events
        .iter()
        .filter(|event| {
            event.matches(
                "refusal-repeated",
                &[("realm", "mallory"), ("refused", "malformed-request")],
            )
        })
        .filter_map(|event| event.get("count")?.parse::<usize>().ok())
        .sum();
    assert_eq!(full + repeated, 5, "{}", outcome.tail(60));
    assert!(!outcome.printed("unexpected"), "{}", outcome.tail(60));
    // Realms that ran after mallory were served.
    assert_printed("[alice] after the grant: shop doubled 21 into 42");
}

#[test]
fn no_slot_reaches_a_service_without_a_cap() {
    assert_printed("[mallory] tried 2046 slots, 0 reached anything");
}

/// Issue 10, item 4: a connect that a run-time grant allows, above the service's provider,
/// is allowed and logged as a warning naming both priorities (even at `log = "denials"`); one
/// below the provider is not.
#[test]
fn a_delegated_connect_above_the_provider_is_warned_about() {
    let outcome = boot_system("tests/systems/priority-inversion.toml");
    assert_passed("tests/systems/priority-inversion.toml", &outcome);
    system_tests::assert_event(
        &outcome,
        "priority-inversion",
        &[
            ("realm", "hasty"),
            ("service", "echo"),
            ("provider", "echo"),
            ("client-priority", "150"),
            ("provider-priority", "100"),
            ("rule", "parent-grant"),
        ],
    );
    assert!(outcome.printed(
        "broker: warning: priority inversion: realm \"hasty\" (priority 150) reaches service \
         \"echo\" of realm \"echo\" (priority 100)"
    ));
    assert!(!outcome.has_event("priority-inversion", &[("realm", "steady")]));
    for realm in ["hasty", "steady"] {
        assert!(outcome.printed(&format!("[{realm}] echo answers Ok(")), "{}", outcome.tail(40));
    }
}
