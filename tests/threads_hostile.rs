//! A hostile review of threads inside a realm (issue 14) on the real kernel: realms that
//! send raw realm requests with bad words, abuse their thread slots through their CNode cap,
//! forge faults, scribble on other threads' deadline words, and workers that fault, exit or
//! hold a reply while their realm exits. The realms (tests/realms/th-rv-realm, whose module
//! doc says what each does) print `check <what>: ok` or `check <what>: FAILED, got ...`
//! rather than panic, so one boot reports every finding; the events say what the memory
//! manager decided.
//!
//! Tests marked `#[ignore = "bug: ..."]` describe what should happen and does not yet.

use std::sync::OnceLock;
use std::time::Duration;

use qemu::Outcome;

fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/th-rv.toml")
}

/// The lines `realm` printed that begin with `check ` and do not end in `: ok`.
fn failed_checks<'a>(outcome: &'a Outcome, realm: &str) -> Vec<&'a str> {
    let prefix = format!("[{realm}] check ");
    outcome
        .serial
        .iter()
        .filter(|line| line.starts_with(&prefix) && !line.ends_with(": ok"))
        .map(String::as_str)
        .collect()
}

/// Fails unless `realm` printed `check <what>: ok` for `what`, and no failed check other
/// than those listed in `known`.
fn assert_checks(outcome: &Outcome, realm: &str, passed: &[&str], known: &[&str]) {
    for what in passed {
        system_tests::assert_printed(outcome, &format!("[{realm}] check {what}: ok"));
    }
    let failed: Vec<&str> = failed_checks(outcome, realm)
        .into_iter()
        .filter(|line| !known.iter().any(|what| line.contains(what)))
        .collect();
    assert!(failed.is_empty(), "{realm}: failed checks {failed:#?}\n{}", outcome.tail(60));
}

/// The text after `label` on every serial line that contains it.
fn fields<'a>(outcome: &'a Outcome, label: &str) -> Vec<&'a str> {
    outcome
        .serial
        .iter()
        .filter_map(|line| line.find(label).map(|at| line[at + label.len()..].trim()))
        .collect()
}

#[test]
fn bad_thread_words_are_refused_and_take_nothing() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-words",
        &[
            "join/detach of a bad id",
            "a request without its word",
            "usage after bad words",
            "spawn storm",
            "join of a raw-spawned thread",
            "join twice",
            "detach after join",
            "usage after the storm",
            "detach",
            "detach twice",
            "join after detach",
            "a thread joins itself, detaches itself, joins main",
            "a thread sleeps while another joins it",
            "usage after everything",
        ],
        &[],
    );
    system_tests::assert_event(
        outcome,
        "malformed-request",
        &[("realm", "th-rv-words"), ("reason", "out-of-range")],
    );
    system_tests::assert_event(
        outcome,
        "malformed-request",
        &[("realm", "th-rv-words"), ("reason", "truncated")],
    );
    system_tests::assert_event(
        outcome,
        "quota-refused",
        &[("realm", "th-rv-words"), ("resource", "threads"), ("object", "thread")],
    );
}

#[test]
fn faults_under_stop_thread_many_times_take_nothing() {
    assert_checks(
        run(),
        "th-rv-words",
        &["30 faults joined as Faulted", "30 faults took nothing"],
        &[],
    );
}

/// A thread's deadline word is the realm's: another thread of the realm that writes a past
/// time there cancels that thread's call (as documented: the realm can only cancel its own
/// calls); garbage in the words of indices never made, or of threads not at the call site,
/// changes nothing, and deadlines work afterwards.
#[test]
fn nonsense_in_other_threads_deadline_words_cancels_only_the_realms_own_calls() {
    let outcome = run();
    system_tests::assert_printed(
        outcome,
        "[th-rv-words] another thread's deadline word cancelled its call: 1",
    );
    assert_checks(
        outcome,
        "th-rv-words",
        &[
            "main's own deadline",
            "deadlines after the garbage",
            "the caller ends",
            "the deaf thread ends",
        ],
        &[],
    );
}

/// 1 joins 2 while 2 joins 1: the second join is refused (the cycle never forms), its
/// thread ends, and the other's join is answered; then `ExitThread` from the main thread ends the realm.
#[test]
fn a_join_cycle_is_refused_and_exit_thread_from_main_ends_the_realm() {
    let outcome = run();
    // Whichever join comes second is refused: (1, 2) or (2, 1), never both accepted.
    let cycle = fields(outcome, "[th-rv-words] join cycle (ThreadId(1), ThreadId(2)): answers ");
    assert!(
        cycle.len() == 1 && (cycle[0].starts_with("(1, 2)") || cycle[0].starts_with("(2, 1)")),
        "{cycle:?}\n{}",
        outcome.tail(60)
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-rv-words"), ("reason", "exited")],
    );
    assert!(!outcome.printed("check ExitThread from main ends the realm: FAILED"));
}

/// Through its CNode cap a realm deletes a made index's broker cap (its next thread faults,
/// and faults again in its abort path: joined as `Faulted`), deletes a made index's fault
/// cap (its next thread's fault goes nowhere: the thread stays, counted, until the realm
/// stops), fills an unmade index's slots (the first spawn there empties them first), and
/// forges a fault through another thread's fault cap (that thread is stopped as faulted).
/// The realm panics, is restarted with the same figures, does it again, and every object
/// comes back.
#[test]
fn cnode_abuse_of_thread_slots_stays_in_the_realm_and_everything_comes_back() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-caps",
        &[
            "delete thread 1's broker cap",
            "no broker cap: Faulted",
            "delete thread 2's fault cap",
            "copy the CNode cap into an unmade index",
            "a spawn into an index the realm filled",
        ],
        &[],
    );
    // The thread whose fault cap is gone: still there (main, index 1's and it).
    let silent = fields(outcome, "[th-rv-caps] caps: thread 2 faulted with no fault cap; usage ");
    assert_eq!(silent.len(), 2, "{}", outcome.tail(60));
    assert!(silent.iter().all(|usage| usage.ends_with(", 3)")), "{silent:?}");
    // The forged fault is taken for thread 3's (the memory manager cannot tell).
    system_tests::assert_event(
        outcome,
        "realm-faulted",
        &[("realm", "th-rv-caps"), ("thread", "3"), ("fault", "vm-fault"), ("ip", "0x401000")],
    );
    system_tests::assert_printed(
        outcome,
        "[th-rv-caps] caps: a forged fault of thread 3: it ended Ok(Faulted)",
    );
    // Restarted once, with the same figures at the start and at the end of each run.
    system_tests::assert_event(outcome, "realm-restarted", &[("realm", "th-rv-caps")]);
    system_tests::assert_event(outcome, "realm-gave-up", &[("realm", "th-rv-caps")]);
    for label in ["[th-rv-caps] caps: start usage ", "[th-rv-caps] caps: end usage "] {
        let runs = fields(outcome, label);
        assert_eq!(runs.len(), 2, "{label}: {runs:?}");
        assert_eq!(runs[0], runs[1], "{label}: the restarted realm's figures differ");
    }
}

#[test]
fn a_worker_that_faults_holding_a_reply_fails_its_client_under_stop_thread() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-client",
        &[
            "client: a plain call",
            "client: a worker's fault is an error, not a timeout",
            "client: a call after the fault",
            "client: a call after the exit",
        ],
        &["client: a worker's exit is an error"],
    );
    system_tests::assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "th-rv-svc"), ("reason", "faulted")],
    );
}

#[test]
fn a_worker_that_faults_holding_a_reply_fails_its_client_under_stop_realm() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-clientr",
        &[
            "clientr: a plain call",
            "clientr: a worker's fault under stop-realm is an error, not a timeout",
        ],
        &[],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-rv-svcr"), ("reason", "faulted")],
    );
}

/// The main thread sends `ExitThread` while a worker holds a client's reply: the client
/// hears an error at once, and the realm stops once its threads answered.
#[test]
fn exit_thread_from_main_while_a_worker_holds_a_reply_fails_the_client_at_once() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-client",
        &["client: the realm's exit is an error, not a timeout"],
        &["client: a worker's exit is an error"],
    );
    system_tests::assert_event(
        outcome,
        "realm-aborting",
        &[("realm", "th-rv-svc"), ("ending", "exited")],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-rv-svc"), ("reason", "exited")],
    );
}

#[test]
fn exit_from_a_spawned_thread_ends_the_realm() {
    let outcome = run();
    system_tests::assert_printed(outcome, "[th-rv-clientr] clientr: Exit from thread 1");
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-rv-clientr"), ("reason", "exited")],
    );
    assert!(
        !outcome.printed("check Exit from a spawned thread ends the realm: FAILED"),
        "{}",
        outcome.tail(60)
    );
}

/// A service realm's spinning thread loses its broker cap, then the realm exits: sent to its
/// abort path, the thread cannot report and faults there, which counts as its report.
#[test]
fn a_thread_that_faults_in_its_abort_path_still_lets_the_realm_stop() {
    let outcome = run();
    system_tests::assert_printed(
        outcome,
        "[th-rv-abortfault] abort-fault: thread 1's broker cap deleted Ok(())",
    );
    system_tests::assert_event(
        outcome,
        "realm-aborting",
        &[("realm", "th-rv-abortfault"), ("ending", "exited"), ("threads", "2")],
    );
    system_tests::assert_event(
        outcome,
        "realm-faulted",
        &[("realm", "th-rv-abortfault"), ("thread", "1")],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-rv-abortfault"), ("reason", "exited")],
    );
}

/// Storms of spawns past the budget: refused for memory after the same number of threads
/// each time, and later storms reuse the made indices without taking more.
#[test]
fn spawn_storms_past_the_budget_are_refused_and_take_nothing_more() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-budget",
        &[
            "a storm past the budget is refused for memory",
            "the storm's threads are joined",
            "20 more storms took nothing",
        ],
        &[],
    );
    system_tests::assert_printed(outcome, "[th-rv-budget] budget: done");
    system_tests::assert_event(
        outcome,
        "quota-refused",
        &[("realm", "th-rv-budget"), ("resource", "realm-memory"), ("object", "thread")],
    );
}

/// A fault forged through the fault cap of a thread parked in a join is ignored (the
/// memory manager says so); the join is answered as if nothing happened.
#[test]
fn a_forged_fault_of_a_parked_thread_is_ignored() {
    let outcome = run();
    assert_checks(
        outcome,
        "th-rv-forge",
        &[
            "forge: a forged fault of a parked joiner is ignored",
            "forge: only the main thread is left",
        ],
        &[],
    );
    system_tests::assert_printed(
        outcome,
        "memory manager: realm th-rv-forge thread 2: thread 2 is parked in a join of thread 1; ignored",
    );
    assert!(!outcome.has_event("thread-stopped", &[("realm", "th-rv-forge")]));
}

#[test]
fn every_object_comes_back() {
    system_tests::assert_event(run(), "resources-checked", &[("result", "all-back")]);
}

/// A worker's handler calls `exit_thread` while it owes its caller a reply: the thread
/// answers its caller `ABORTED` before it ends (`Realm::exit_thread`), so the client gets an
/// error at once, not its own deadline's `TimedOut` (here 2 s; without a deadline it would
/// wait for ever: on seL4 5.0.0 a reply capability that goes with its thread wakes no one).
#[test]
fn a_worker_that_exits_without_replying_fails_its_client() {
    assert_checks(
        run(),
        "th-rv-client",
        &["client: a worker's exit is an error, not a timeout"],
        &[],
    );
}

/// While th-rv-hang's abort path never ends, the memory manager goes on serving the other
/// realms (the bystander spawns and joins, and hears that the service is gone).
#[test]
fn a_realm_stuck_in_its_abort_path_does_not_stop_the_others() {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    let outcome = OUTCOME.get_or_init(|| {
        system_tests::boot_system_until(
            "tests/systems/th-rv-hang.toml",
            "[th-rv-bystander] bystander:",
        )
    });
    system_tests::assert_printed(
        outcome,
        "[th-rv-hang] hang: reply slot replaced: Ok(()) Ok(()); exiting",
    );
    system_tests::assert_event(
        outcome,
        "realm-aborting",
        &[("realm", "th-rv-hang"), ("ending", "exited"), ("threads", "1")],
    );
    system_tests::assert_printed(
        outcome,
        "[th-rv-hclient] hclient: the deferred call: Err(TimedOut)",
    );
    system_tests::assert_printed(
        outcome,
        "bystander: spawn and join Ok(Exited); connect to rv-hang Err(Refused(ServiceGone)); ok",
    );
    system_tests::assert_event(
        outcome,
        "realm-aborting",
        &[("realm", "th-rv-hang2"), ("ending", "exited"), ("threads", "2")],
    );
}

/// A realm's abort path that never reports would keep the realm aborting for ever (never
/// stopped, its memory never back, a run `until-idle` never over) without the abort's due
/// time (`memory_manager::realm::ABORT_TIMEOUT_NS`, 1 s): then its threads still answering
/// are stopped (`realm-abort-timeout`) and the realm stops with the ending that began the
/// abort. th-rv-hang's deferred slot holds an inbox cap, so the abort's Send to the
/// "caller" waits for ever (a thread that spins there is the same); th-rv-hang2's thread
/// faults in its abort path with no fault cap, so the kernel has nowhere to send the fault
/// and the thread never reports.
#[test]
fn a_realm_whose_abort_path_never_ends_is_still_stopped() {
    let outcome =
        system_tests::boot_system_for("tests/systems/th-rv-hang.toml", Duration::from_secs(30));
    for (realm, threads) in [("th-rv-hang", "1"), ("th-rv-hang2", "1")] {
        system_tests::assert_event(
            &outcome,
            "realm-abort-timeout",
            &[("realm", realm), ("threads", threads)],
        );
        system_tests::assert_event(
            &outcome,
            "realm-stopped",
            &[("realm", realm), ("reason", "exited")],
        );
    }
    system_tests::assert_passed("th-rv-hang.toml", &outcome);
}
