//! A realm's notification, its timed signals and its CNode slot on the real kernel
//! (tests/systems/notifications.toml, realms in tests/realms/nt-realm). Durations are the
//! realms' own clock (the time-stamp counter the memory manager's timer also reads).

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{assert_event, assert_printed};

fn notifications() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/notifications.toml")
}

/// The serial line that starts with `start`.
fn line<'a>(outcome: &'a Outcome, start: &str) -> &'a str {
    outcome
        .serial
        .iter()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?}\n{}", outcome.tail(60)))
}

/// The number right after `key` in `line`.
fn number_after(line: &str, key: &str) -> u64 {
    let start = line.find(key).unwrap_or_else(|| panic!("no {key:?} in {line:?}")) + key.len();
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

/// How many events of `kind` with `fields` the run printed.
fn count_events(outcome: &Outcome, kind: &str, fields: &[(&str, &str)]) -> usize {
    outcome.events().iter().filter(|event| event.matches(kind, fields)).count()
}

#[test]
fn a_timed_signal_arrives_on_the_endpoint_receive_while_the_realm_serves_calls() {
    let outcome = notifications();
    // Bound once, though asked twice.
    assert_printed(outcome, "[ticker] bind: Ok(()), again: Ok(())");
    assert_eq!(count_events(outcome, "notification-bound", &[("realm", "ticker")]), 1);
    // Badge kind 5 with the timer's bit, label 0, no words; never early; calls answered
    // before it came.
    let signal = line(
        outcome,
        "[ticker] signal: asked Ok(()); bits 0x1 (the timer's: true), label 0, 0 words, after ",
    );
    // Never early; late only by as much as the timer and the host make it (an upper bound
    // is for sanity only: QEMU shares its machine, and a busy one stalls it).
    let micros = number_after(signal, ", after ");
    assert!((20_000..1_000_000).contains(&micros), "{signal}");
    assert!(number_after(signal, " us, ") > 0, "no call came before the signal: {signal}");
    // The calls all got their answers, signals or not.
    assert_printed(outcome, "[caller] 200 calls, 200 answered right");
    // After `reply_recv`, the kernel sets only the badge: the info and words are the ones the
    // thread passed for its reply (label OK, one word, 777): only the badge tells a signal.
    assert_printed(
        outcome,
        "[ticker] after reply_recv: a signal, bits 0x1; with it label 0x10000, 1 words, word 0 = 777",
    );
}

#[test]
fn signals_that_fall_due_before_one_receive_are_one_wake_up() {
    let outcome = notifications();
    let coalesced = line(
        outcome,
        "[ticker] coalesced: five timed signals, then one receive: bits 0x1 (the timer's: true); the next signal came ",
    );
    // Had any of the five woken the realm on its own, a signal would have been pending and
    // the next receive would have returned at once.
    assert!(number_after(coalesced, "the next signal came ") >= 10_000, "{coalesced}");
    // The flood: thousands of requests, each replacing the one before, then one wake-up.
    let flood = line(outcome, "[flooder] flooded from ");
    assert!(number_after(flood, "(bystander told: true): ") >= 100, "{flood}");
    assert!(flood.contains(" requests, 0 refused; then one wake-up, bits 0x1;"), "{flood}");
    assert!(number_after(flood, "the next signal ") >= 10_000, "{flood}");
}

#[test]
fn a_new_request_replaces_the_pending_one() {
    let outcome = notifications();
    let shorter = line(outcome, "[ticker] replaced by a shorter one: signal after ");
    // A 1 s request replaced by a 10 ms one: the signal came before the second (unless the
    // host stalled QEMU that long).
    let first = number_after(shorter, "signal after ");
    assert!((10_000..1_000_000).contains(&first), "{shorter}");
    // Nothing else was pending: the next signal is the 60 ms one asked for after.
    assert!(number_after(shorter, "the next after ") >= 60_000, "{shorter}");
    let longer = line(outcome, "[ticker] replaced by a longer one: signal after ");
    assert!(number_after(longer, "signal after ") >= 40_000, "{longer}");
}

#[test]
fn refusals_are_precise_and_leave_the_pending_signal_alone() {
    let outcome = notifications();
    // Before binding.
    assert_printed(
        outcome,
        "[ticker] signal before binding: Err(Refused(NotFound { what: Notification }))",
    );
    assert_event(outcome, "signal-refused", &[("realm", "ticker"), ("reason", "not-bound")]);
    // Absurd durations: out of range, the value as sent.
    assert_printed(
        outcome,
        "[flooder] 366 days: Err(Refused(MalformedRequest { reason: OutOfRange { field: Duration, value: 31622400000000000 } }))",
    );
    assert_printed(
        outcome,
        "[flooder] Duration::MAX: Err(Refused(MalformedRequest { reason: OutOfRange { field: Duration, value: 18446744073709551615 } }))",
    );
    assert_event(outcome, "malformed-request", &[("realm", "flooder"), ("reason", "out-of-range")]);
    let still = line(outcome, "[flooder] the 10 ms signal still came, after ");
    assert!(number_after(still, "after ") >= 10_000, "{still}");
    // No room for the notification's two slots: the limit it hit, and nothing bound.
    assert_printed(outcome, "then: Refused(QuotaExceeded { what: RealmObjectSlots })");
    assert_printed(
        outcome,
        "[cramped] bind then: Err(Refused(QuotaExceeded { what: RealmObjectSlots }))",
    );
    assert_event(
        outcome,
        "quota-refused",
        &[("realm", "cramped"), ("resource", "realm-object-slots"), ("object", "notification")],
    );
    assert_printed(
        outcome,
        "[cramped] signal_after then: Err(Refused(NotFound { what: Notification }))",
    );
    assert_eq!(count_events(outcome, "notification-bound", &[("realm", "cramped")]), 0);
}

#[test]
fn a_flood_of_requests_does_not_delay_another_realms_signals() {
    let outcome = notifications();
    let bystander = line(outcome, "[bystander] 20 signals of 20 ms from ");
    let flood = line(outcome, "[flooder] flooded from ");
    // The bystander began when the flooder told it its flood began (the flooder starts when
    // the realms above it let it), and the two overlapped.
    assert!(flood.contains(" (bystander told: true): "), "{flood}");
    let (by_start, by_end) = (number_after(bystander, "from "), number_after(bystander, " ms to "));
    let (flood_start, flood_end) = (number_after(flood, "from "), number_after(flood, " ms to "));
    assert!(flood_start < by_end && by_start < flood_end, "{bystander}\n{flood}");
    assert!(by_end > by_start, "{bystander}");
    // None early (the realm prints any that is); the median within 10 ms of its time, the
    // timer ticking every millisecond (one can be late when the memory manager is busy
    // starting or stopping a realm, or the host is busy: the median says what the timer
    // does). Measured: 1 to 3 ms.
    assert!(!outcome.printed("[bystander] a signal came early"), "{}", outcome.tail(60));
    assert!(number_after(bystander, " us at least, ") < 10_000, "{bystander}");
}

#[test]
fn a_restarted_realm_gets_a_new_notification_and_none_of_the_old_signals() {
    let outcome = notifications();
    assert_printed(
        outcome,
        "[phoenix] first run: bound Ok(()), a 30 ms signal asked Ok(()); dying",
    );
    assert_event(outcome, "realm-restarted", &[("realm", "phoenix")]);
    let second = line(outcome, "[phoenix] second run: bound Ok(()); the first signal came ");
    assert!(number_after(second, "the first signal came ") >= 20_000, "{second}");
    assert_eq!(count_events(outcome, "notification-bound", &[("realm", "phoenix")]), 2);
}

#[test]
fn a_realm_using_its_cnode_cap_cannot_stop_the_broker_revoking_and_filling_its_slots() {
    let outcome = notifications();
    assert_printed(outcome, "[intruder] broker cap copied to slot 5: Ok(())");
    // A moved connection cap works where it went; the broker's disconnect still revokes it
    // (the kernel answers a call through the emptied slot with InvalidCapability, 2).
    let moved = line(outcome, "[intruder] moved the connection cap from slot ");
    assert!(moved.contains(": Ok(()); a call through 300 answered: true; through "), "{moved}");
    assert!(moved.ends_with(": label 2"), "{moved}");
    assert_printed(outcome, "[intruder] disconnect: Ok(()); then a call through 300: label 2");
    // Slots the broker fills next, filled by the realm: the connect still works.
    let filled = line(outcome, "[intruder] filled slots ");
    assert!(filled.contains("(4 caps); connect again: slot "), "{filled}");
    assert!(filled.ends_with(", a call answered: true"), "{filled}");
    // A deleted connection cap: disconnect and connect again work.
    let deleted = line(outcome, "[intruder] deleted the cap in slot ");
    assert!(
        deleted
            .contains(": Ok(()), a call then: label 2; disconnect: Ok(()); connect again: slot "),
        "{deleted}"
    );
    assert!(deleted.ends_with(", a call answered: true"), "{deleted}");
    // Its service's endpoint cap, moved to a deferred-reply slot.
    let service = line(outcome, "[intruder] moved its service's endpoint cap from slot ");
    assert!(service.ends_with(" to 6: Ok(())"), "{service}");
    // The broker only filled slots from FIRST_FREE, and never the parked cap's slot.
    assert_printed(
        outcome,
        "[intruder] broker slots from FIRST_FREE: true; WhoAmI through slot 5: Ok(Ok(Ok(Identity { name: Name(\"intruder\") })))",
    );
    // Its connections opened and closed as the broker decided.
    assert_eq!(
        count_events(outcome, "connect-allowed", &[("realm", "intruder"), ("service", "ticker")]),
        3
    );
}

#[test]
fn everything_the_notifications_used_is_back_when_the_realms_stop() {
    let outcome = notifications();
    assert_event(outcome, "resources-checked", &[("result", "all-back")]);
}
