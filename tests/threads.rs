//! Threads inside a realm on the real kernel (issue 14), from two boots:
//! tests/systems/threads.toml (workers, the quota, spawn/join cycles, calls between threads,
//! routers, hostile thread requests) and tests/systems/threads-faults.toml (a worker's fault
//! under each `on_thread_fault` policy, a thread ending while it holds a call, `ExitThread`
//! from the main thread). The realms are tests/realms/th-realm, whose module doc says what
//! each does.
//!
//! Each test asserts on the memory manager's and the broker's events, and on the `report`
//! lines the test realms print from the values their calls returned (`[realm] report <kind>
//! key=value ...`, read by [`report`]): never on sentences.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::assert_event;

const SYSTEM: &str = "tests/systems/threads.toml";
const FAULTS: &str = "tests/systems/threads-faults.toml";

/// The boot of tests/systems/threads.toml every test of it looks at.
fn threads() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, SYSTEM)
}

/// The boot of tests/systems/threads-faults.toml.
fn faults() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, FAULTS)
}

/// One `report` line of a realm: its fields (the text after ` -- `, a `Debug` for people, is
/// left out).
type Report = BTreeMap<String, String>;

/// Every `report <kind>` line realm `realm` printed, in order.
fn reports(outcome: &Outcome, realm: &str, kind: &str) -> Vec<Report> {
    let prefix = format!("[{realm}] report {kind} ");
    outcome
        .serial
        .iter()
        .filter_map(|line| line.trim_end().strip_prefix(prefix.as_str()))
        .map(|rest| {
            let fields = rest.split(" -- ").next().unwrap_or_default();
            fields
                .split(' ')
                .filter_map(|field| field.split_once('='))
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect()
        })
        .collect()
}

/// The one `report <kind>` line of `realm` whose fields include `with`; fails the test, with
/// the serial tail, unless there is exactly one.
fn report(outcome: &Outcome, realm: &str, kind: &str, with: &[(&str, &str)]) -> Report {
    let matching: Vec<Report> = reports(outcome, realm, kind)
        .into_iter()
        .filter(|report| {
            with.iter().all(|(key, value)| report.get(*key).map(String::as_str) == Some(*value))
        })
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "[{realm}] report {kind} with {with:?}: {matching:?}\n--- serial tail ---\n{}",
        outcome.tail(80)
    );
    matching.into_iter().next().unwrap_or_default()
}

/// Field `key` of `report`, which must be there.
fn text<'a>(report: &'a Report, key: &str) -> &'a str {
    report.get(key).unwrap_or_else(|| panic!("no {key} in {report:?}"))
}

/// Field `key` of `report` as a number (decimal, or hexadecimal after `0x`).
fn number(report: &Report, key: &str) -> u64 {
    let value = text(report, key);
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    parsed.unwrap_or_else(|error| panic!("{key}={value} in {report:?}: {error}"))
}

/// Asserts that `report` has every field of `expected` with that value.
fn assert_fields(report: &Report, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(report.get(*key).map(String::as_str), Some(*value), "{key} in {report:?}");
    }
}

/// How many events of `kind` with `fields` the run printed.
fn count_events(outcome: &Outcome, kind: &str, fields: &[(&str, &str)]) -> usize {
    outcome.events().iter().filter(|event| event.matches(kind, fields)).count()
}

// ---------------------------------------------------------------------------------------
// tests/systems/threads.toml

/// 4 workers (threads of one realm, each with its own `Server` on the one endpoint of
/// "work") serve 4 client realms at once, 10,000 requests in all: every client got each of
/// its 2,500 answers, right (a function of the request the client checks); the server counted
/// exactly 10,000 requests over more than one worker; the workers called another service
/// from inside requests; and the service was registered once.
#[test]
fn four_workers_serve_four_clients_every_request_once_with_the_right_answer() {
    let outcome = threads();
    let mut seen_by_clients = 0;
    for client in ["1", "2", "3", "4"] {
        let report = report(outcome, &format!("c{client}"), "work-client", &[("client", client)]);
        assert_fields(
            &report,
            &[("calls", "2500"), ("right", "2500"), ("wrong", "0"), ("failed", "0")],
        );
        seen_by_clients |= number(&report, "workers-seen");
    }
    let server = report(outcome, "server", "work-server", &[("workers", "4")]);
    assert_eq!(text(&server, "workers"), "4");
    let tally = report(outcome, "server", "work-tally", &[]);
    assert_eq!(number(&tally, "total"), 10_000, "{tally:?}");
    // Each worker's count, from its own thread: they add up to the total, none is the main
    // thread, and more than one worker served.
    let workers = reports(outcome, "server", "worker");
    assert_eq!(workers.len() as u64, number(&tally, "workers"), "{workers:?}");
    assert!(workers.len() > 1, "one worker served everything: {workers:?}");
    let sum: u64 = workers.iter().map(|worker| number(worker, "served")).sum();
    assert_eq!(sum, 10_000, "{workers:?}");
    let mut seen_by_server = 0;
    for worker in &workers {
        let thread = number(worker, "thread");
        assert!((1..=4).contains(&thread), "{worker:?}");
        seen_by_server |= 1 << thread;
    }
    // The clients were answered by the workers that counted.
    assert_eq!(seen_by_clients, seen_by_server);
    // 100 requests of each client went through the oracle (x a multiple of 25).
    assert_eq!(number(&tally, "oracle-calls"), 400, "{tally:?}");
    // Registered once, served by 4; each worker opened its own connection to the oracle (a
    // connection belongs to the realm: one per thread is how a thread gets its own badge).
    assert_eq!(count_events(outcome, "service-registered", &[("service", "work")]), 1);
    let connections: std::collections::BTreeSet<String> = outcome
        .events()
        .iter()
        .filter(|event| {
            event.matches("connect-allowed", &[("realm", "server"), ("service", "oracle")])
        })
        .filter_map(|event| event.get("connection").map(str::to_string))
        .collect();
    assert_eq!(connections.len(), 4, "{connections:?}");
}

/// A realm with `max_threads = 3` (its main thread and two more) asking for a third thread
/// is refused with `QuotaExceeded { what: Threads }`, and the memory manager says so; a storm
/// of spawns at the quota is refused every time, the same way; once the two are joined,
/// exactly two fit again.
#[test]
fn a_spawn_past_max_threads_is_refused_with_quota_exceeded() {
    let outcome = threads();
    let one_more = report(outcome, "quota", "quota-one-more", &[]);
    assert_fields(
        &one_more,
        &[
            ("first", "spawned"),
            ("second", "spawned"),
            ("threads", "3"),
            ("third", "quota-threads"),
        ],
    );
    assert_event(outcome, "quota-refused", &[("realm", "quota"), ("resource", "threads")]);
    let full = report(outcome, "quota", "quota-storm", &[("stage", "full")]);
    assert_fields(
        &full,
        &[("tries", "40"), ("spawned", "0"), ("quota-threads", "40"), ("other", "0")],
    );
    let joined = report(outcome, "quota", "quota-joined", &[]);
    assert_fields(&joined, &[("first", "exited"), ("second", "exited")]);
    let empty = report(outcome, "quota", "quota-storm", &[("stage", "empty")]);
    assert_fields(
        &empty,
        &[("tries", "40"), ("spawned", "2"), ("quota-threads", "38"), ("other", "0")],
    );
    let end = report(outcome, "quota", "quota-end", &[]);
    assert_fields(&end, &[("joined-exited", "2"), ("threads", "1")]);
    assert_event(outcome, "realm-stopped", &[("realm", "quota"), ("reason", "exited")]);
}

/// 1,000 spawn/join cycles after a warm-up cycle leave the memory manager's free RAM and free
/// slots, and the realm's own budget, object slots and thread count, exactly as they were
/// after the warm-up; the memory manager's figures did not move even with the first spawn
/// (a thread's objects come from the realm's budget, which the first spawn used).
#[test]
fn spawn_join_cycles_leave_free_ram_and_slots_exactly_as_before() {
    let outcome = threads();
    let cycles = report(outcome, "cycler", "cycles", &[]);
    assert_fields(
        &cycles,
        &[("warm-up", "exited"), ("cycles", "1000"), ("exited", "1000"), ("failed", "0")],
    );
    let stage = |stage| report(outcome, "cycler", "cycles-figures", &[("stage", stage)]);
    let (before, warm, after) = (stage("before"), stage("warm"), stage("after"));
    for key in ["free-bytes", "free-slots"] {
        assert_eq!(number(&before, key), number(&warm, key), "{key}: {before:?} {warm:?}");
        assert_eq!(number(&warm, key), number(&after, key), "{key}: {warm:?} {after:?}");
    }
    for key in ["budget-free-bytes", "object-slots-free", "threads"] {
        assert_eq!(number(&warm, key), number(&after, key), "{key}: {warm:?} {after:?}");
    }
    assert_eq!(number(&before, "threads"), 1);
    assert_eq!(number(&after, "threads"), 1);
    // The first spawn made thread 1's objects from the realm's budget and its slot range.
    assert!(number(&before, "budget-free-bytes") > number(&warm, "budget-free-bytes"));
    assert!(number(&before, "object-slots-free") > number(&warm, "object-slots-free"));
    assert_event(outcome, "resources-checked", &[("result", "all-back")]);
}

/// One thread serves `th-calc` on its inbox, another calls it with the typed client the
/// runtime gives for a thread id: every answer right, from the thread named; a call to an
/// index never spawned is an error at once, not a hang; and the serving thread goes with the
/// realm when `main` returns.
#[test]
fn an_intra_realm_typed_call_is_answered_by_the_thread_it_names() {
    let outcome = threads();
    let intra = report(outcome, "intra", "intra", &[]);
    assert_fields(&intra, &[("calls", "100"), ("right", "100"), ("caller-thread", "0")]);
    let server = text(&intra, "server-thread");
    assert_ne!(server, "0", "{intra:?}");
    assert_eq!(text(&intra, "whoami"), server, "{intra:?}");
    assert_fields(&report(outcome, "intra", "intra-unspawned", &[]), &[("result", "error")]);
    assert_event(outcome, "realm-stopped", &[("realm", "intra"), ("reason", "exited")]);
}

/// A router thread hands each call to a handler thread: by operation (every `square` to one
/// handler, every `negate` to the other) and by connection (every call of a connection to
/// the handler its connection index picks); every answer is right.
#[test]
fn a_router_hands_calls_to_handler_threads_by_operation_and_by_connection() {
    let outcome = threads();
    let router = report(outcome, "router-op", "router", &[("mode", "operation")]);
    let (first, second) = (number(&router, "first"), number(&router, "second"));
    assert!(first != 0 && second != 0 && first != second, "{router:?}");
    let routed = report(outcome, "rc-a", "routed-op", &[]);
    assert_fields(&routed, &[("calls", "200"), ("right", "200")]);
    assert_eq!(number(&routed, "square-handlers"), 1 << first, "{routed:?}");
    assert_eq!(number(&routed, "negate-handlers"), 1 << second, "{routed:?}");

    let router = report(outcome, "router-conn", "router", &[("mode", "connection")]);
    let handlers = [number(&router, "first"), number(&router, "second")];
    assert!(handlers[0] != 0 && handlers[1] != 0 && handlers[0] != handlers[1], "{router:?}");
    let connections = reports(outcome, "rc-b", "routed-conn");
    assert_eq!(connections.len(), 2, "{connections:?}");
    for connection in &connections {
        assert_fields(connection, &[("calls", "100"), ("right", "100")]);
        let picked = handlers[(number(connection, "index") % 2) as usize];
        assert_eq!(number(connection, "handlers"), 1 << picked, "{connection:?} {router:?}");
    }
}

/// Hostile thread requests, sent raw, are each refused precisely (`NotFound { Thread }`, or
/// `OutOfRange` of the thread field with the value sent) while the workers' clients are
/// being served, and leave the realm whole: joins of an id never spawned, of the main thread,
/// of itself, twice, by a second joiner, after a detach; ids of 16 and more.
#[test]
fn hostile_thread_requests_are_refused_precisely_while_others_are_served() {
    let outcome = threads();
    let case = |name: &str| report(outcome, "joiner", "case", &[("name", name)]);
    for (name, result) in [
        ("join-never-spawned", "not-found-thread"),
        ("join-main-from-main", "not-found-thread"),
        ("detach-main", "not-found-thread"),
        ("join-16", "out-of-range-thread:16"),
        ("join-255", "out-of-range-thread:255"),
        ("join-max", "out-of-range-thread:18446744073709551615"),
        ("detach-16", "out-of-range-thread:16"),
        ("join-itself", "not-found-thread"),
        ("join-main-from-thread", "not-found-thread"),
        ("selfish-joined", "exited"),
        ("join-first", "exited"),
        ("join-twice", "not-found-thread"),
        ("join-by-second-joiner", "not-found-thread"),
        ("first-joiner-ended", "exited"),
        ("detach", "done"),
        ("join-after-detach", "not-found-thread"),
        ("detach-twice", "not-found-thread"),
    ] {
        assert_eq!(text(&case(name), "result"), result, "case {name}");
    }
    // The requests from a spawned thread came from it, not from the main thread.
    assert_ne!(text(&case("join-itself"), "from"), "0");
    // The first joiner got the slow thread's end.
    let first = case("join-by-first-joiner");
    assert!(text(&first, "result").starts_with("joined:"), "{first:?}");
    assert!(text(&first, "result").ends_with(":exited"), "{first:?}");
    // A detached thread's index is free once it ended; the realm is whole at the end.
    assert_eq!(text(&case("detached-freed"), "threads"), "1");
    assert_fields(&case("after-all"), &[("threads", "1"), ("result", "exited")]);
    assert_event(outcome, "malformed-request", &[("realm", "joiner")]);
    // Meanwhile the workers served every client.
    for client in ["1", "2", "3", "4"] {
        let report = report(outcome, &format!("c{client}"), "work-client", &[("client", client)]);
        assert_fields(&report, &[("right", "2500"), ("failed", "0")]);
    }
}

/// Under `on_thread_fault = "stop-thread"`, a thread that faults, panics or overflows its
/// stack while the main thread joins it is reported as the realm's thread N, stopped alone,
/// and its joiner hears how it ended; the stack overflow faults in the guard page below the
/// thread's stack. The realm goes on and exits normally.
#[test]
fn a_thread_that_faults_under_stop_thread_is_reported_by_number_and_its_joiner_hears_how() {
    let outcome = threads();
    let case = |name: &str| report(outcome, "joiner", "case", &[("name", name)]);
    let faulting = case("join-faulting");
    assert_eq!(text(&faulting, "result"), "faulted");
    let thread = text(&faulting, "thread");
    assert_ne!(thread, "0");
    assert_event(outcome, "realm-faulted", &[("realm", "joiner"), ("thread", thread)]);
    assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "joiner"), ("thread", thread), ("reason", "faulted")],
    );

    let panicking = case("join-panicking");
    assert_eq!(text(&panicking, "result"), "panicked");
    let thread = text(&panicking, "thread");
    assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "joiner"), ("thread", thread), ("reason", "panicked")],
    );

    let overflowing = case("join-overflowing");
    assert_eq!(text(&overflowing, "result"), "faulted");
    assert!(
        reports(outcome, "joiner", "case").iter().all(|r| text(r, "name") != "overflow-survived")
    );
    let id: u8 = text(&overflowing, "thread").parse().expect("a thread id");
    let thread = ipc::ThreadId::new(id).expect("below 16");
    let guard = ipc::abi::thread::stack_bottom(thread) - ipc::abi::PAGE_BYTES
        ..ipc::abi::thread::stack_bottom(thread);
    let fault = outcome
        .events()
        .into_iter()
        .find(|event| {
            event.matches(
                "realm-faulted",
                &[("realm", "joiner"), ("thread", &id.to_string()), ("fault", "vm-fault")],
            )
        })
        .unwrap_or_else(|| panic!("no vm-fault of joiner's thread {id}\n{}", outcome.tail(60)));
    let address = fault.get("address").and_then(|a| a.strip_prefix("0x")).expect("an address");
    let address = u64::from_str_radix(address, 16).expect("a hexadecimal address");
    assert!(guard.contains(&address), "{address:#x} outside the guard page {guard:x?}");

    // Stopped alone: the realm ran on and exited.
    assert_event(outcome, "realm-stopped", &[("realm", "joiner"), ("reason", "exited")]);
}

// ---------------------------------------------------------------------------------------
// tests/systems/threads-faults.toml

/// The worker thread numbers `realm`'s `hold-worker` reports name for `event`.
fn workers_with(outcome: &Outcome, realm: &str, event: &str) -> Vec<String> {
    reports(outcome, realm, "hold-worker")
        .iter()
        .filter(|report| text(report, "event") == event)
        .map(|report| text(report, "thread").to_string())
        .collect()
}

/// Under `stop-realm` (the default), 4 clients each wait on one of 4 workers; one worker
/// faults: the memory manager reports it as the realm's thread N, stops the realm, and every
/// client returns with an error (none hangs: the run ends, and passes).
#[test]
fn stop_realm_every_client_waiting_on_any_worker_returns_an_error() {
    let outcome = faults();
    let mut holding = workers_with(outcome, "sr-server", "holding");
    holding.sort();
    assert_eq!(holding, ["1", "2", "3", "4"], "one caller per worker");
    let faulted = workers_with(outcome, "sr-server", "fault");
    assert_eq!(faulted.len(), 1, "{faulted:?}");
    let thread = faulted[0].as_str();
    assert_event(outcome, "realm-faulted", &[("realm", "sr-server"), ("thread", thread)]);
    for client in ["sr-c1", "sr-c2", "sr-c3", "sr-c4"] {
        assert_fields(
            &report(outcome, client, "held-client", &[("name", client)]),
            &[("hold", "error")],
        );
    }
    assert_event(outcome, "realm-stopped", &[("realm", "sr-server"), ("reason", "faulted")]);
}

/// Under `stop-thread`, a worker that faults and one that panics are stopped alone (reported
/// as the realm's thread N): each one's client gets an error, and the other workers go on
/// serving every later request; the realm serves until the run ends.
#[test]
fn stop_thread_the_other_workers_keep_serving() {
    let outcome = faults();
    let faulted = workers_with(outcome, "st-server", "fault");
    assert_eq!(faulted.len(), 1, "{faulted:?}");
    let faulted = faulted[0].as_str();
    assert_event(outcome, "realm-faulted", &[("realm", "st-server"), ("thread", faulted)]);
    assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "st-server"), ("thread", faulted), ("reason", "faulted")],
    );
    let panicked = workers_with(outcome, "st-server", "panic");
    assert_eq!(panicked.len(), 1, "{panicked:?}");
    let panicked = panicked[0].as_str();
    assert_ne!(faulted, panicked);
    assert_event(
        outcome,
        "thread-stopped",
        &[("realm", "st-server"), ("thread", panicked), ("reason", "panicked")],
    );

    for (client, crash, stopped) in [
        ("st-a", "error", Some(faulted)),
        ("st-b", "error", Some(panicked)),
        ("st-c", "none", None),
        ("st-d", "none", None),
    ] {
        let report = report(outcome, client, "sturdy-client", &[("name", client)]);
        assert_fields(&report, &[("before-right", "20"), ("crash", crash), ("after-right", "100")]);
        if let Some(stopped) = stopped {
            let bit = 1u64 << stopped.parse::<u32>().expect("a thread id");
            assert_eq!(number(&report, "after-workers") & bit, 0, "{report:?}");
        }
    }
    assert_event(outcome, "realm-stopped", &[("realm", "st-server"), ("reason", "shutdown")]);
}

/// A worker that ends its thread (`ExitThread`) while it holds a call: its client gets an
/// error, and the other worker serves the next calls. Then the main thread's `ExitThread`
/// ends the whole realm (the other worker with it), and the client's next call is an error.
#[test]
fn a_thread_ending_with_a_call_answers_it_and_exit_thread_from_main_ends_the_realm() {
    let outcome = faults();
    let exited = workers_with(outcome, "holder", "exit");
    assert_eq!(exited.len(), 1, "{exited:?}");
    let step = |step: &str| report(outcome, "h-client", "holder-client", &[("step", step)]);
    assert_fields(&step("exit"), &[("result", "error")]);
    let echo = step("echo");
    assert_fields(&echo, &[("right", "10")]);
    let bit = 1u64 << exited[0].parse::<u32>().expect("a thread id");
    assert_eq!(number(&echo, "workers") & bit, 0, "{echo:?}");
    assert_fields(&step("release"), &[("result", "answered")]);
    report(outcome, "holder", "hold-server", &[("event", "main-exit-thread")]);
    assert_event(outcome, "realm-stopped", &[("realm", "holder"), ("reason", "exited")]);
    assert_fields(&step("after-exit"), &[("result", "error")]);
}
