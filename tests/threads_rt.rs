//! Threads in the realm runtime on the real kernel (tests/systems/th-rt.toml, realms in
//! tests/realms/th-rt-realm): spawn and join, `max_threads`, spawn/join cycles that cost
//! nothing, workers on one endpoint, typed and raw calls between threads of a realm, and the
//! router.

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{assert_event, assert_printed};

fn threads() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/th-rt.toml")
}

/// The serial line that starts with `start`.
fn line<'a>(outcome: &'a Outcome, start: &str) -> &'a str {
    outcome
        .serial
        .iter()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?}\n{}", outcome.tail(60)))
}

/// The threads a client saw answer, from the mask after "threads 0b" in `line`.
fn threads_in(line: &str) -> u64 {
    let start = line.find("threads 0b").unwrap_or_else(|| panic!("no mask in {line:?}")) + 10;
    let digits: String = line[start..].chars().take_while(|c| *c == '0' || *c == '1').collect();
    u64::from_str_radix(&digits, 2).unwrap_or_else(|_| panic!("no mask in {line:?}"))
}

#[test]
fn a_spawned_thread_runs_its_closure_and_is_joined() {
    let outcome = threads();
    assert_printed(outcome, "[basics] main is thread 0");
    // The closure ran in thread 1 with what it captured (21 * 2 + 100 * its id).
    assert_printed(outcome, "[basics] spawned thread 1, joined: Ok(Exited), it saw 142");
}

#[test]
fn max_threads_refuses_one_thread_more_and_joins_free_the_places() {
    let outcome = threads();
    assert_printed(
        outcome,
        "[basics] sleepers [Some(ThreadId(1)), Some(ThreadId(2)), Some(ThreadId(3))]; one more: \
         Err(Refused(QuotaExceeded { what: Threads })); threads: Ok(4)",
    );
    assert_printed(
        outcome,
        "[basics] sleepers joined: [Some(Ok(Exited)), Some(Ok(Exited)), Some(Ok(Exited))]; \
         threads: Ok(1)",
    );
}

#[test]
fn spawn_join_cycles_leave_the_realms_usage_as_it_was() {
    let outcome = threads();
    assert_printed(outcome, "[basics] cycles: 100 of 100 exited and joined; usage the same: true");
}

#[test]
fn each_thread_has_its_own_call_deadline() {
    let outcome = threads();
    // The spawned thread's call timed out (1), it was joined, and the main thread's call to
    // the same silent inbox timed out at its own deadline.
    assert_printed(outcome, "[basics] deadlines: (1, Some(Ok(Exited)), Err(TimedOut))");
}

#[test]
fn threads_of_a_realm_call_each_other_typed_and_raw_on_their_inboxes() {
    let outcome = threads();
    // 2 * value + the serving thread's id (1), + 1000: the caller is intra-realm.
    assert_printed(outcome, "[basics] typed calls to thread 1: [Ok(1011), Ok(1013), Ok(1015)]");
    // Raw: label OK, one word, 2 * 40 + 1 + 1000.
    assert_printed(outcome, "[basics] raw call to thread 1: Ok((true, 1, 1081))");
    // An index never spawned has no inbox: the call fails at once, and says why.
    assert_printed(
        outcome,
        "[basics] a call to thread 15: Some(Err(Unreachable(Refused(NotFound { what: Thread }))))",
    );
    // Main returned with the inbox server still running: the realm stopped all the same.
    assert_printed(outcome, "[basics] inbox server detached: Ok(()); main returns");
    assert_event(outcome, "realm-stopped", &[("realm", "basics"), ("reason", "exited")]);
}

#[test]
fn workers_on_one_endpoint_answer_every_request_right() {
    let outcome = threads();
    for worker in 1..=3 {
        assert_printed(outcome, &format!("[workers] worker {worker} started, detached: Ok(())"));
    }
    let mut seen = 0;
    for client in ["client-a", "client-b"] {
        let work = line(outcome, &format!("[{client}] work: 200 calls, "));
        assert!(work.contains(" 200 right,"), "{work}");
        let threads = threads_in(work);
        assert_eq!(threads & !0b1111, 0, "only threads 0 to 3 serve work: {work}");
        seen |= threads;
    }
    // seL4 hands each request to the thread that waited longest: with the calls one after
    // the other, every worker takes turns.
    assert_eq!(seen, 0b1111, "every worker answered some requests");
}

#[test]
fn the_router_keeps_each_connection_on_one_handler() {
    let outcome = threads();
    let routing = line(outcome, "[router] routing to threads ");
    assert!(routing.ends_with("routing to threads 1 and 2"), "{routing}");
    let mut seen = 0;
    for client in ["client-a", "client-b"] {
        for round in 0..2 {
            let routed = line(outcome, &format!("[{client}] routed {round} (connection "));
            assert!(routed.contains("20 calls, 20 right,"), "{routed}");
            let threads = threads_in(routed);
            assert!(threads == 0b10 || threads == 0b100, "one handler per connection: {routed}");
            seen |= threads;
        }
    }
    assert_eq!(seen, 0b110, "both handlers had connections");
}

#[test]
fn a_handler_that_panics_under_stop_thread_answers_its_routed_call_and_the_other_goes_on() {
    let outcome = threads();
    let answered = line(outcome, "[client-c] fragile: connections answered by threads ");
    let crashed = if answered.ends_with("Ok(1) and Ok(2)") {
        "1"
    } else if answered.ends_with("Ok(2) and Ok(1)") {
        "2"
    } else {
        panic!("one handler per connection: {answered}")
    };
    // The routed call the handler was handling is answered ABORTED (the runtime's abort of
    // the thread alone): the client hears that its call reached no service while the broker
    // says the connection is open.
    assert_printed(outcome, "[client-c] fragile: the crash: Err(Unreachable(UnexpectedReply))");
    assert_event(outcome, "realm-panicked", &[("realm", "fragile"), ("thread", crashed)]);
    assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "fragile"), ("thread", crashed), ("reason", "panicked")],
    );
    let other: u64 = if crashed == "1" { 2 } else { 1 };
    assert_printed(
        outcome,
        &format!("[client-c] fragile: after it, the other handler: Ok({})", 2 + 1_000_000 * other),
    );
    assert!(
        !outcome.has_event("realm-stopped", &[("realm", "fragile"), ("reason", "panicked")]),
        "the realm went on"
    );
}

#[test]
fn a_router_by_operation_hands_a_deferred_call_to_the_handler_that_answers_it_later() {
    let outcome = threads();
    // `which` goes to the second handler (thread 2), `wait` and `release` to the first.
    assert_printed(outcome, "[client-d] relay: which answered Ok(2)");
    // The routed `wait` was deferred by its handler and answered at the routed `release`.
    assert_printed(outcome, "[client-e] relay: release(7, 77) answered Ok(1)");
    assert_printed(outcome, "[client-d] relay: wait(7) answered Ok(77)");
}
