//! The broker's promises against careless and hostile clients (issue 10), on the real
//! kernel, all from one boot of tests/systems/promises.toml (see its header).

use std::sync::OnceLock;

use qemu::Outcome;

/// The one boot every test here looks at.
fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/promises.toml")
}

/// Asserts that the run printed the event `kind` with these fields (among others).
fn assert_event(kind: &str, fields: &[(&str, &str)]) {
    system_tests::assert_event(run(), kind, fields);
}

fn assert_printed(text: &str) {
    system_tests::assert_printed(run(), text);
}

#[test]
fn nothing_went_wrong() {
    let outcome = run();
    assert!(!outcome.printed("WRONG"), "{}", outcome.tail(80));
}

/// Item 1: a slot closed on the client stays reserved however many connections come and go,
/// for each closure the client did not choose; calls through the stale handles fail with why.
#[test]
fn a_stale_handle_never_reaches_a_newer_connection() {
    assert_event(
        "connection-closed",
        &[("realm", "kay"), ("service", "keeper"), ("reason", "by-service")],
    );
    assert_event(
        "connection-closed",
        &[("realm", "kay"), ("service", "echo"), ("reason", "access-revoked")],
    );
    assert_event(
        "connection-closed",
        &[("realm", "kay"), ("service", "once"), ("reason", "service-gone")],
    );
    assert_printed("[kay] 1100 cycles, then a new connection: none in a stale handle's slot");
    assert_printed(
        "[kay] stale handle (closed by its service): disconnected: closed by the service",
    );
    assert_printed(
        "[kay] stale handle (grant revoked): disconnected: the grant it relied on was revoked",
    );
    assert_printed("[kay] stale handle (service gone): disconnected: the service is gone");
}

/// Item 1: the reserved slots count against the client's own connection quota until it lets
/// go of them.
#[test]
fn reserved_slots_count_against_the_clients_quota_until_it_lets_go() {
    assert_event("quota-refused", &[("realm", "kay"), ("resource", "realm-connections")]);
    assert_printed(
        "[kay] a sixth connection while three are reserved: quota exceeded: the realm's connection quota",
    );
    assert_printed("[kay] after letting go of them: connected");
    assert_event("resources-checked", &[("result", "all-back")]);
}

/// Item 2: grants that could never be used are refused when they are made, with the rule.
#[test]
fn grants_that_could_never_be_used_are_refused_with_the_rule() {
    assert_event(
        "grant-denied",
        &[
            ("realm", "init"),
            ("grantee", "zed"),
            ("service", "bee"),
            ("rule", "granter-does-not-reach"),
        ],
    );
    assert_event(
        "grant-denied",
        &[
            ("realm", "init"),
            ("grantee", "zed"),
            ("service", "echo"),
            ("rule", "grantee-not-in-allowed-clients"),
        ],
    );
    assert_printed("[kay] init's grant of bee to zed: refused");
    assert_printed("[kay] init's grant of echo to zed: refused");
}

/// Item 3: connect says which situation it is, so the client knows whether to retry.
#[test]
fn connect_tells_not_registered_yet_restarting_and_gone_apart() {
    assert_event(
        "connect-unavailable",
        &[("realm", "kay"), ("service", "later"), ("state", "not-yet-registered")],
    );
    assert_printed(
        "[kay] connect \"later\" (its provider runs, has not registered it): the service is \
         declared but its provider has not registered it yet: connect again later (retry)",
    );
    assert_event(
        "connect-unavailable",
        &[("realm", "kay"), ("service", "phoenix"), ("state", "restarting")],
    );
    assert_printed(
        "[kay] connect \"phoenix\" while it restarts: the service is restarting: connect again \
         once it is back (retry)",
    );
    assert_event("realm-gave-up", &[("realm", "phoenix")]);
    assert_event(
        "connect-unavailable",
        &[("realm", "kay"), ("service", "phoenix"), ("state", "gone")],
    );
    assert_printed(
        "[kay] connect \"phoenix\" after its restart limit: the service is gone for good: its \
         provider stopped and will not be back (do not retry)",
    );
    assert_event(
        "connect-unavailable",
        &[("realm", "kay"), ("service", "once"), ("state", "gone")],
    );
    // A name declared nowhere: reached by no rule that can be decided without its owner.
    assert_event(
        "connect-denied",
        &[("realm", "kay"), ("service", "nowhere"), ("rule", "no-route")],
    );
}

/// Item 3: a realm that may not reach a service is denied the same before and after it is
/// registered: connect is no oracle.
#[test]
fn a_denied_realm_cannot_tell_whether_the_service_exists() {
    assert_event(
        "connect-denied",
        &[("realm", "zed"), ("service", "late"), ("rule", "sibling-needs-grant")],
    );
    assert_event(
        "connect-denied",
        &[("realm", "zoe"), ("service", "late"), ("rule", "sibling-needs-grant")],
    );
    assert_printed("[zed] connect \"late\": denied: siblings need a grant");
    assert_printed("[zoe] connect \"late\": denied: siblings need a grant");
    // zed asked before late registered, zoe after.
    let outcome = run();
    let position = |needle: &str| {
        outcome
            .serial
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("missing {needle:?}\n{}", outcome.tail(60)))
    };
    assert!(
        position("[zed] connect \"late\"")
            < position("SWITCHBOARD-EVENT service-registered realm=late")
    );
    assert!(
        position("SWITCHBOARD-EVENT service-registered realm=late")
            < position("[zoe] connect \"late\"")
    );
}
