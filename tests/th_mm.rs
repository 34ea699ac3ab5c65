//! The memory manager's side of threads on the real kernel, driven by
//! tests/realms/th-mm-realm (see its doc), all from one boot of tests/systems/th-mm.toml. The realm checks every answer itself and panics on a wrong
//! one; here the events say what the memory manager decided.

use std::sync::OnceLock;

use qemu::Outcome;

fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/th-mm.toml")
}

/// Asserts that thread `thread` of `realm` faulted in its guard page below its stack:
/// the page at `THREADS_BASE + thread * THREAD_STRIDE_PAGES` pages (`ipc::abi::thread`).
fn assert_guard_page_fault(outcome: &Outcome, realm: &str, thread: u8) {
    let thread_id = ipc::ThreadId::new(thread).unwrap();
    let guard = ipc::abi::thread::stack_bottom(thread_id) - ipc::abi::PAGE_BYTES;
    let faults: Vec<u64> = outcome
        .events()
        .iter()
        .filter(|event| event.matches("realm-faulted", &[("realm", realm)]))
        .filter_map(|event| event.get("address"))
        .map(|address| u64::from_str_radix(address.trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert!(
        faults.iter().any(|&address| (guard..guard + ipc::abi::PAGE_BYTES).contains(&address)),
        "{realm}'s faults {faults:x?} are not in thread {thread}'s guard page {guard:#x}"
    );
}

#[test]
fn spawn_join_quota_and_cycles_pass_the_realms_checks() {
    let outcome = run();
    system_tests::assert_printed(outcome, "[th-mm-threads] all thread checks passed");
    system_tests::assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "th-mm-threads"), ("thread", "1"), ("reason", "panicked")],
    );
    system_tests::assert_event(
        outcome,
        "realm-panicked",
        &[("realm", "th-mm-threads"), ("thread", "1")],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-mm-threads"), ("reason", "exited")],
    );
    // Only the worker that panics on purpose panicked; the main thread never did.
    assert!(!outcome.has_event("realm-panicked", &[("thread", "0")]), "{}", outcome.tail(60));
}

#[test]
fn a_thread_beyond_max_threads_is_refused() {
    system_tests::assert_event(
        run(),
        "quota-refused",
        &[("realm", "th-mm-threads"), ("resource", "threads"), ("object", "thread")],
    );
}

#[test]
fn a_spawn_beyond_the_budget_is_refused_and_leaves_nothing() {
    let outcome = run();
    system_tests::assert_event(
        outcome,
        "quota-refused",
        &[("realm", "th-mm-budget"), ("resource", "realm-memory"), ("object", "thread")],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-mm-budget"), ("reason", "exited")],
    );
    assert!(!outcome.has_event("realm-panicked", &[("realm", "th-mm-budget")]));
}

#[test]
fn stop_thread_reports_the_thread_and_the_realm_goes_on() {
    let outcome = run();
    system_tests::assert_event(
        outcome,
        "realm-faulted",
        &[("realm", "th-mm-threads"), ("thread", "1"), ("fault", "vm-fault")],
    );
    // A stack overflow, into the unmapped page below thread 1's stack.
    assert_guard_page_fault(outcome, "th-mm-threads", 1);
    system_tests::assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "th-mm-threads"), ("thread", "1"), ("reason", "faulted")],
    );
}

#[test]
fn stop_realm_stops_the_realm_for_a_threads_fault() {
    let outcome = run();
    system_tests::assert_event(
        outcome,
        "realm-faulted",
        &[("realm", "th-mm-crash"), ("thread", "2"), ("fault", "vm-fault")],
    );
    assert_guard_page_fault(outcome, "th-mm-crash", 2);
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-mm-crash"), ("reason", "faulted")],
    );
    assert!(!outcome.has_event("thread-stopped", &[("realm", "th-mm-crash")]));
}

#[test]
fn stop_realm_with_a_service_aborts_every_live_thread() {
    let outcome = run();
    system_tests::assert_event(
        outcome,
        "realm-faulted",
        &[("realm", "th-mm-abort"), ("thread", "2"), ("fault", "vm-fault")],
    );
    assert_guard_page_fault(outcome, "th-mm-abort", 2);
    // The main thread (parked in a join), the sleeping worker and the faulted one.
    system_tests::assert_event(
        outcome,
        "realm-aborting",
        &[("realm", "th-mm-abort"), ("ending", "faulted"), ("threads", "3")],
    );
    system_tests::assert_event(
        outcome,
        "realm-stopped",
        &[("realm", "th-mm-abort"), ("reason", "faulted")],
    );
}

#[test]
fn every_thread_object_comes_back() {
    system_tests::assert_event(run(), "resources-checked", &[("result", "all-back")]);
}
