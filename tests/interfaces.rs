//! Typed interfaces on the real kernel (issue 13), all from one boot of
//! tests/systems/interfaces.toml (realms: tests/realms/if-realm, interfaces in its
//! `protocol` module). What each test proves is in its doc comment; each asserts on the
//! broker's and the memory manager's events, or on the lines the test realms print from the
//! values their calls returned.

use std::sync::OnceLock;

use qemu::Outcome;

const SYSTEM: &str = "tests/systems/interfaces.toml";

/// The one boot every test here looks at.
fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, SYSTEM)
}

/// Asserts that the run printed the event `kind` with these fields (among others).
fn assert_event(kind: &str, fields: &[(&str, &str)]) {
    system_tests::assert_event(run(), kind, fields);
}

/// The text after `[realm] what` on the line realm `realm` printed starting with `what`.
fn said<'a>(realm: &str, what: &str) -> &'a str {
    let prefix = format!("[{realm}] {what}");
    run()
        .serial
        .iter()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{realm} did not print {what:?}\n{}", run().tail(60)))
}

/// Asserts that realm `realm` printed exactly `line`.
fn assert_said(realm: &str, line: &str) {
    assert_eq!(said(realm, line), "", "[{realm}] {line}");
}

/// The number after `label ` in `text` (up to the next space, comma or parenthesis).
fn number(text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| panic!("no {label:?} in {text:?}")) + label.len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|error| panic!("{label:?} in {text:?}: {error}"))
}

/// 1. A client built against another version of an interface (same name, another
///    declaration, so another fingerprint) is refused at connect with `InterfaceMismatch`,
///    and the broker's event names both versions; a client of the right version connects
///    and is served, and a raw client (no interface) is not checked.
#[test]
fn a_client_of_another_version_of_the_interface_is_refused_at_connect() {
    let fingerprints = said("stale", "fingerprints: ");
    let (current, stale) = fingerprints
        .strip_prefix("current ")
        .and_then(|rest| rest.split_once(", stale "))
        .unwrap_or_else(|| panic!("fingerprints: {fingerprints}"));
    assert!(current.starts_with("if-kv:") && stale.starts_with("if-kv:"), "{fingerprints}");
    assert_ne!(current, stale, "the two declarations of if-kv must differ");

    assert_said("stale", "stale client: Refused(InterfaceMismatch)");
    assert_event(
        "interface-mismatch",
        &[
            ("realm", "stale"),
            ("action", "connect"),
            ("service", "kv"),
            ("provider", "server"),
            ("service-interface", current),
            ("client-interface", stale),
        ],
    );
    // Only the stale client was refused.
    let mismatches = run().events().iter().filter(|e| e.kind == "interface-mismatch").count();
    assert_eq!(mismatches, 1, "{}", run().tail(60));
    assert!(said("stale", "current client: ").starts_with("connected, count Ok("));
    assert_said("stale", "raw client: connected");
}

/// 2. An operation's application error reaches the client as the declared value (the inner
///    `Result`), apart from the transport's errors, and values come back as stored.
#[test]
fn an_application_error_reaches_the_client_as_its_value() {
    assert_said(
        "client",
        "get \"a\" from the empty store: Ok(Err(NotFound)), the declared error: true",
    );
    for name in ["a", "b", "c", "d"] {
        assert_said("client", &format!("put {name:?}: Ok(Ok(()))"));
    }
    assert_said(
        "client",
        "put \"e\" into the full store: Ok(Err(Full { capacity: 4 })), the declared error: true",
    );
    assert_said("client", "get \"c\": Ok(Ok(3))");
    assert_said("client", "count: Ok(4)");
}

/// 3. An operation declared `#[idempotent]` succeeds across a crash of its service: the
///    runtime connects again (waiting out the restart) and calls once more, and the new
///    instance serves that call as its first request. A non-idempotent operation reports the
///    restart instead, and is not retried.
#[test]
fn an_idempotent_call_is_retried_once_across_a_restart_and_another_is_not() {
    assert_event("realm-panicked", &[("realm", "flaky")]);
    assert_event("realm-restarted", &[("realm", "flaky")]);

    let before = said("client", "flaky state: ");
    assert!(before.starts_with("Ok(FlakyState {"), "{before}");
    assert_eq!(number(before, "served: "), 1, "{before}");
    // `arm` was served; the next request crashed the service while the client waited.
    assert_said("client", "arm: Ok(())");
    let after = said("client", "idempotent state() across a crash: ");
    assert!(after.starts_with("Ok(FlakyState {"), "{after}");
    // The retry is the first request the restarted instance served ...
    assert_eq!(number(after, "served: "), 1, "{after}");
    // ... which registered again, with a newer generation.
    assert!(number(after, "generation: ") > number(before, "generation: "), "{before} {after}");
    assert!(said("client", "generations: ").ends_with("(one newer: true)"));

    let bumped = said("client", "non-idempotent bump(1) across a crash: ");
    assert!(
        bumped == "Err(ServiceRestarting)" || bumped.starts_with("Err(ServiceRestarted {"),
        "{bumped}"
    );
    // The connection stays closed for it; a new one reaches the new instance.
    assert_eq!(said("client", "bump(1) again on that connection: "), bumped);
    let again = said("client", "connected again: state ");
    assert!(again.starts_with("Ok(FlakyState {"), "{again}");
    assert!(number(again, "generation: ") > number(after, "generation: "), "{after} {again}");
    assert_said("client", "bump(1) on the new connection: Ok(1)");
}

/// 4. One realm serves two services on one endpoint and its notification's timed signal, in
///    one loop: the broker registered the second service on the first's endpoint, each
///    request reached its own service's interface (the other's operation numbers are
///    refused), and the loop counted requests of both and the signal.
#[test]
fn one_loop_serves_two_services_and_a_timed_signal() {
    assert_event("service-registered", &[("realm", "server"), ("service", "kv")]);
    assert_event(
        "service-registered",
        &[("realm", "server"), ("service", "gate"), ("shares", "kv"), ("index", "1")],
    );
    assert_said("server", "serving kv and gate on one endpoint, with its notification");
    assert!(
        said("hostile", "gate's operation 13 on kv: ")
            .starts_with("Some(BadRequest(UnknownOperation { operation: 13 }))")
    );
    assert!(
        said("hostile", "kv's operation 3 on gate: ")
            .starts_with("Some(BadRequest(UnknownOperation { operation: 3 }))")
    );

    let served = said("client", "served: ");
    // The client's 10 store calls at least, and its two waits and this call.
    assert!(number(served, "kv ") >= 10, "{served}");
    assert!(number(served, "gate ") >= 3, "{served}");
    assert_eq!(number(served, "signals "), 1, "{served}");
    assert_eq!(number(served, "other-signals "), 0, "{served}");
}

/// 5. A reply kept for later (a deferrable operation) is answered from the same loop: the
///    client's `wait` when another client's `release` of its ticket arrives (with the value
///    the release gave), its `wait_timer` when the realm's timed signal comes.
#[test]
fn a_deferred_reply_is_answered_later_from_the_same_loop() {
    assert_said("releaser", "release(7, 4242) found its waiter");
    assert_said("client", "wait(7) answered: Ok(Ok(4242))");

    let timed = said("client", "wait_timer(30) answered after ");
    let (server, client) = (number(timed, ""), number(timed, "ms (server), "));
    // Never early, and not much late (the signal comes on a tick of a 1 kHz timer).
    assert!((30..1000).contains(&server), "{timed}");
    assert!((server..1000).contains(&client), "{timed}");
}

/// The hostile realm's line for raw message `case`: its reply's error (classified as a
/// client would, `Some(BadRequest(reason))`) and whether a good call was served after it.
fn refused(case: &str, reason: &str) {
    assert_said(
        "hostile",
        &format!("{case}: Some(BadRequest({reason})); a good call then: served"),
    );
}

/// 6. Raw messages a typed service cannot serve are each answered `BAD_REQUEST` with the
///    precise reason, and the service goes on serving a well-behaved client (checked after
///    each): unknown operation numbers (0, past the last operation, 0xFFFF, reserved reply
///    labels), wrong lengths (too few words, too many, a postcard length past the words),
///    undecodable words, and a capability the kernel unwraps (the connection's own).
#[test]
fn malformed_requests_are_refused_with_their_reason_and_serving_goes_on() {
    refused("label 0", "UnknownOperation { operation: 0 }");
    refused("label 4 (past kv's last operation)", "UnknownOperation { operation: 4 }");
    refused("label 0xffff", "UnknownOperation { operation: 65535 }");
    refused("reserved label OK", "UnknownOperation { operation: 65536 }");
    refused("reserved label BAD_REQUEST", "UnknownOperation { operation: 65538 }");
    refused("count with a word", "WrongLength { received: 1 }");
    refused("get with no words", "WrongLength { received: 0 }");
    refused("get with a word too many", "WrongLength { received: 3 }");
    refused("put without its value", "WrongLength { received: 2 }");
    refused("get with a length past its words", "WrongLength { received: 2 }");
    refused("get with bytes postcard refuses", "Undecodable { argument: 0 }");
    refused("count with its connection's cap", "ExtraCaps { caps: 1, unwrapped: 1 }");
    assert!(said("hostile", "good calls after the raw messages: ").starts_with("count Ok("));
    // The server is still there at the end of the run, serving.
    assert_event("realm-stopped", &[("realm", "server"), ("reason", "shutdown")]);
    assert_event("resources-checked", &[("result", "all-back")]);
}

/// A capability of another object on a request never reaches the service: the kernel
/// transfers one only into a receive slot, which the server loop never sets, so the request
/// arrives without it and is served (seL4 manual, "Capability Transfer"; `transferCaps` in
/// `src/kernel/ipc.c`). Only a cap the kernel unwraps (a badged cap to the receiving
/// endpoint itself) shows, and is refused (above).
#[test]
fn a_capability_of_another_object_never_reaches_the_service() {
    assert_said(
        "hostile",
        "served with the broker's cap: answered OK with 2 words; a good call then: served",
    );
}

/// What realm `dupe`'s call returned for lie `lie` of the liar (`Debug` of the call's
/// result).
fn deceived(lie: &str, result: &str) {
    assert_said("dupe", &format!("{lie}: {result}"));
}

/// 7. A hostile server: a raw service answering a typed client with replies no runtime
///    sends. Each is a transport error that says what was wrong, never a value or an
///    application error and never a panic; the client goes on calling, and a true
///    application error and a true value after the lies decode as themselves.
#[test]
fn malformed_replies_are_transport_errors_and_never_values() {
    deceived("OK with a word too many", "Err(ReplyMalformed(ExtraWords { words: 2 }))");
    deceived("OK with no words", "Err(ReplyMalformed(Undecodable(Short)))");
    deceived("ERROR to an operation with no error", "Err(ReplyMalformed(UndeclaredError))");
    deceived("an operation number as the label", "Err(ReplyMalformed(UnknownLabel { label: 32 }))");
    deceived("label 0", "Err(ReplyMalformed(UnknownLabel { label: 0 }))");
    // (An operation number up to 10 is a kernel error code as a reply label, below.)
    // A kernel error code, or ABORTED, from a service the broker says is live: the call
    // reached no service the broker knows of.
    deceived("a kernel error code as the label", "Err(Unreachable(UnexpectedReply))");
    deceived("ABORTED from a live service", "Err(Unreachable(UnexpectedReply))");
    deceived("BAD_REQUEST with no reason", "Err(ReplyMalformed(BadRequestReason { code: None }))");
    deceived(
        "BAD_REQUEST with an unknown reason",
        "Err(ReplyMalformed(BadRequestReason { code: Some(9) }))",
    );
    deceived("RESPONSE_TOO_LARGE with a word", "Err(ReplyMalformed(ExtraWords { words: 1 }))");
    deceived(
        "ERROR with a postcard length past its words",
        "Err(ReplyMalformed(Undecodable(Short)))",
    );
    deceived("ERROR with non-zero padding", "Err(ReplyMalformed(Undecodable(Padding)))");
    deceived(
        "ERROR with a byte postcard leaves over",
        "Err(ReplyMalformed(Undecodable(TrailingBytes)))",
    );
    deceived("OK of a Result with a word too many", "Err(ReplyMalformed(ExtraWords { words: 2 }))");
    deceived("a true application error", "Ok(Err(Full { capacity: 3 }))");
    deceived("a true value", "Ok(42)");
    assert_said("dupe", "done");
    // Nothing the liar said closed the connection or stopped the client.
    assert_event("realm-stopped", &[("realm", "dupe"), ("reason", "exited")]);
}
