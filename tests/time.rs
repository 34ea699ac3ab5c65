//! Time on the real kernel: call deadlines and sleeps (tests/systems/time.toml, realms in
//! tests/realms/tm-realm; the restart back-off is in tests/backoff.rs, a test binary of its
//! own so that its long boot does not share the processor with this one's timings).
//! Durations are the realms' own clock (the time-stamp counter the memory manager's timer
//! also reads).

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::assert_event;

fn time() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/time.toml")
}

/// The number in `line` right before `unit` (` us`, ` ms`).
fn number_before(line: &str, unit: &str) -> u64 {
    let end = line.rfind(unit).unwrap_or_else(|| panic!("no {unit:?} in {line:?}"));
    let digits: String = line[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("no number before {unit:?} in {line:?}"))
}

fn line<'a>(outcome: &'a Outcome, start: &str) -> &'a str {
    outcome
        .serial
        .iter()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?}\n{}", outcome.tail(40)))
}

#[test]
fn a_call_to_a_service_that_never_replies_times_out_at_its_deadline() {
    let outcome = time();
    let timed_out = line(outcome, "[client] stuck with a 50 ms deadline: Err(TimedOut) after ");
    let micros = number_before(timed_out, " us");
    assert!((50_000..100_000).contains(&micros), "{timed_out}");
    // Five more on a service that never replies: each times out, none early, and the median
    // within 50 to 60 ms of the realm clock (one measurement under emulation can be late when
    // the host is busy; the median says what the memory manager's timer does).
    let mut times: Vec<u64> = outcome
        .serial
        .iter()
        .filter(|line| {
            line.starts_with("[client] hole with a 50 ms deadline: Err(TimedOut) after ")
        })
        .map(|line| number_before(line, " us"))
        .collect();
    assert_eq!(times.len(), 5, "{}", outcome.tail(40));
    times.sort_unstable();
    assert!(times[0] >= 50_000, "{times:?}");
    assert!(times[2] < 60_000, "{times:?}");
    // Its calls to another service work.
    assert!(outcome.printed("[client] echo then: Ok(1005)"), "{}", outcome.tail(40));
    // The stuck service was restarted; the client reconnected, and its call worked.
    assert_event(outcome, "realm-panicked", &[("realm", "stuck")]);
    assert_event(outcome, "realm-restarted", &[("realm", "stuck")]);
    assert!(outcome.printed("[client] stuck after its restart: Ok(1007)"), "{}", outcome.tail(40));
}

#[test]
fn a_thousand_timed_out_calls_leave_nothing_behind() {
    let outcome = time();
    assert!(
        outcome.printed("[client] 1000 of 1000 calls to hole timed out; resources the same"),
        "{}",
        outcome.tail(40)
    );
    assert_event(outcome, "resources-checked", &[("result", "all-back")]);
}

#[test]
fn a_hundred_sleeps_of_ten_milliseconds_take_one_second_and_a_bit() {
    let outcome = time();
    let slept = line(outcome, "[client] 100 sleeps of 10 ms took ");
    let millis = number_before(slept, " ms");
    assert!((1000..=1200).contains(&millis), "{slept}");
}
