//! The one console on the real kernel (tests/systems/console.toml): a realm that floods the
//! console loses its own lines, counted, and slows nobody; a realm cannot forge a line of
//! the memory manager; a line longer than a message is cut and marked.

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{assert_passed, boot_system};

/// Lines `flood` prints: two that test the console, 100,000 in the loop, and its last one.
const FLOOD_LINES: u64 = 2 + 100_000 + 1;

fn run() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    system_tests::boot_passing_once(&OUTCOME, "tests/systems/console.toml")
}

#[test]
fn a_flooding_realm_loses_its_own_lines_counted_and_slows_nobody() {
    let outcome = run();
    let caller_done = outcome
        .serial
        .iter()
        .position(|line| line == "[caller] 1000 of 1000 calls answered")
        .unwrap_or_else(|| panic!("caller did not finish\n{}", outcome.tail(40)));
    let flood_lines = |line: &&String| line.starts_with("[flood] ");
    let flood_events = outcome.events();
    let flood_drops: Vec<u64> = flood_events
        .iter()
        .filter(|event| event.matches("lines-dropped", &[("realm", "flood")]))
        .map(|event| event.get("count").and_then(|count| count.parse::<u64>().ok()).unwrap())
        .collect();
    let dropped: u64 = flood_drops.iter().sum();
    assert!(dropped > 90_000, "only {dropped} lines dropped\n{}", outcome.tail(40));
    // Every line is either shown or counted; each drop report is itself a `[flood]` line.
    let shown = outcome.serial.iter().filter(flood_lines).count() as u64;
    assert_eq!(shown - flood_drops.len() as u64 + dropped, FLOOD_LINES, "{}", outcome.tail(40));
    // The memory manager lost none of its own lines.
    assert!(
        !outcome.events().iter().any(|event| event.matches("lines-dropped", &[("source", "0")])),
        "{}",
        outcome.tail(40)
    );
    // Nobody waited for the flood: the caller, at the flood's priority, made its 1,000 calls
    // while the flood was still printing (its stop comes after the caller's last line).
    let flood_stopped = outcome
        .serial
        .iter()
        .position(|line| line.contains("realm-stopped realm=flood"))
        .unwrap_or_else(|| panic!("flood did not stop\n{}", outcome.tail(40)));
    assert!(caller_done < flood_stopped, "{}", outcome.tail(40));
}

#[test]
fn a_realm_cannot_start_a_console_line_of_its_own() {
    let outcome = run();
    assert!(
        outcome.printed("[flood] forged\\nSWITCHBOARD-EVENT realm-stopped realm=echo"),
        "{}",
        outcome.tail(40)
    );
    assert!(!outcome.has_event("realm-stopped", &[("realm", "echo"), ("reason", "faulted")]));
    assert!(outcome.has_event("realm-stopped", &[("realm", "echo"), ("reason", "shutdown")]));
}

#[test]
fn a_line_longer_than_a_message_is_cut_and_marked() {
    let outcome = run();
    let long = outcome
        .serial
        .iter()
        .find(|line| line.starts_with("[flood] long line "))
        .unwrap_or_else(|| panic!("no long line\n{}", outcome.tail(40)));
    assert!(long.ends_with("x [cut]"), "{long}");
    // The message carries 952 bytes of text: "long line " and 942 x.
    assert_eq!(long.len(), "[flood] ".len() + 952 + " [cut]".len(), "{long}");
}

#[test]
fn at_log_denials_allowed_decisions_are_quiet_and_a_refusal_loop_is_summarised() {
    let outcome = boot_system("tests/systems/denials.toml");
    assert_passed("tests/systems/denials.toml", &outcome);
    let events = outcome.events();
    // Allowed decisions are not printed at this level; the realms' own lines are.
    assert!(!events.iter().any(|event| event.kind == "connect-allowed"), "{}", outcome.tail(30));
    assert!(!events.iter().any(|event| event.kind == "realm-started"), "{}", outcome.tail(30));
    assert!(outcome.printed("[caller] 1000 of 1000 calls answered"), "{}", outcome.tail(30));
    assert!(outcome.printed("[looper] 1000 of 1000 connects refused"), "{}", outcome.tail(30));
    // The refusal is printed once in full, then summarised: every repeat is counted.
    let full = events
        .iter()
        .filter(|event| {
            event.matches(
                "connect-denied",
                &[("realm", "looper"), ("service", "echo"), ("rule", "not-in-allowed-clients")],
            )
        })
        .count();
    assert_eq!(full, 1, "{}", outcome.tail(30));
    let repeats: Vec<u64> = events
        .iter()
        .filter(|event| {
            event.matches(
                "refusal-repeated",
                &[("realm", "looper"), ("refused", "connect-denied"), ("subject", "echo")],
            )
        })
        .map(|event| event.get("count").and_then(|count| count.parse().ok()).unwrap())
        .collect();
    assert!(repeats.len() <= 4, "{repeats:?}");
    assert_eq!(repeats.iter().sum::<u64>(), 999, "{repeats:?}");
}
