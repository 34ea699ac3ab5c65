//! Revocation, service death and restart, quotas and leaks on the real kernel, one test per
//! case, all from one boot of tests/systems/lifecycle.toml (see its header).

use std::sync::OnceLock;

use qemu::Outcome;

/// The one boot every test here looks at.
fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/lifecycle.toml")
}

/// Asserts that the run printed the event `kind` with these fields (among others).
fn assert_event(kind: &str, fields: &[(&str, &str)]) {
    system_tests::assert_event(run(), kind, fields);
}

fn assert_printed(text: &str) {
    system_tests::assert_printed(run(), text);
}

#[test]
fn the_service_revokes_one_connection_of_two() {
    assert_printed("[alpha] asked keeper to close its first connection: Ok(Ok(()))");
    assert_printed("[alpha] first connection: disconnected: closed by the service");
    assert_printed("[alpha] second connection still works: Ok(())");
}

#[test]
fn a_parent_revokes_a_grant_and_the_childs_connection_closes() {
    assert_event("grant-revoked", &[("realm", "init"), ("grantee", "alpha"), ("service", "echo")]);
    assert_event(
        "connection-closed",
        &[("realm", "alpha"), ("service", "echo"), ("reason", "access-revoked")],
    );
    assert_printed(
        "[alpha] echo after the grant was revoked: disconnected: the grant it relied on was revoked",
    );
}

#[test]
fn a_client_blocked_in_a_call_to_a_crashing_service_returns() {
    assert_printed("[echo] crashing while a client waits");
    assert_event(
        "realm-faulted",
        &[("realm", "echo"), ("thread", "0"), ("fault", "vm-fault"), ("address", "0x1000")],
    );
    assert_event("realm-aborting", &[("realm", "echo"), ("ending", "faulted")]);
    assert_printed(
        "[beta] the call in progress when echo crashed: the service is restarting: connect again once it is back",
    );
    assert_printed(
        "[beta] the call in progress at the second crash: disconnected: the service is gone",
    );
}

#[test]
fn a_client_waiting_on_a_service_that_exits_mid_request_returns() {
    assert_printed("[once] exiting while a client waits");
    assert_printed(
        "[delta] the call in progress when once exited: disconnected: the service is gone",
    );
}

#[test]
fn a_client_woken_before_the_restarted_service_is_back_hears_it_is_restarting() {
    assert_printed(
        "[omega] the call in progress when echo crashed: the service is restarting: connect again once it is back",
    );
    assert_event("realm-restarted", &[("realm", "echo"), ("restart", "1"), ("max-restarts", "2")]);
}

#[test]
fn a_restartable_service_restarts_and_its_client_reconnects_within_the_limit() {
    assert_event("realm-restarted", &[("realm", "echo"), ("restart", "2"), ("max-restarts", "2")]);
    assert_printed("[echo] serving \"echo\", generation 5");
    assert_printed("[beta] reconnected: echo answers Ok(5005)");
    assert_event("realm-gave-up", &[("realm", "echo"), ("restarts", "2")]);
    assert_printed(
        "[beta] connect after the restart limit: the service is gone for good: its provider \
         stopped and will not be back",
    );
}

#[test]
fn a_realm_over_its_connection_quota_is_refused_and_the_others_go_on() {
    assert_event("quota-refused", &[("realm", "gamma"), ("resource", "realm-connections")]);
    assert_printed("[gamma] connection 3 refused: quota exceeded: the realm's connection quota");
    assert_printed("[gamma] its first connection still works: Ok(Ok(()))");
    assert_event("grant-added", &[("realm", "init"), ("grantee", "gamma"), ("service", "keeper")]);
    assert_printed("[delta] 1000 connect/disconnect cycles");
}

#[test]
fn a_thousand_connect_disconnect_cycles_leave_free_slots_and_memory_as_they_were() {
    let outcome = run();
    let line = outcome
        .serial
        .iter()
        .find(|line| line.starts_with("[delta] 1000 connect/disconnect cycles"))
        .unwrap_or_else(|| panic!("delta did not report\n{}", outcome.tail(40)));
    assert!(line.ends_with(": the same"), "{line}");
    assert_event("resources-checked", &[("result", "all-back")]);
}
