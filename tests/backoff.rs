//! Restart back-off on the real kernel (tests/systems/backoff.toml, realms in
//! tests/realms/tm-realm): a realm that crashes at once is restarted after growing delays,
//! and the realms below it run meanwhile.

use std::time::Duration;

use system_tests::{assert_event, assert_passed, boot_system_for};

#[test]
fn a_service_that_crashes_at_once_is_restarted_after_growing_delays_while_others_run() {
    // 50 restarts, most of them 1 s apart: about 45 s.
    let outcome = boot_system_for("tests/systems/backoff.toml", Duration::from_secs(180));
    assert_passed("tests/systems/backoff.toml", &outcome);
    let events = outcome.events();
    let delays: Vec<u64> = events
        .iter()
        .filter(|event| event.matches("realm-restart-delayed", &[("realm", "crashy")]))
        .map(|event| event.get("delay-ms").and_then(|delay| delay.parse().ok()).unwrap())
        .collect();
    assert_eq!(delays.len(), 50, "{delays:?}");
    assert_eq!(&delays[..8], &[10, 20, 40, 80, 160, 320, 640, 1000], "{delays:?}");
    assert!(delays[8..].iter().all(|&delay| delay == 1000), "{delays:?}");
    assert_event(
        &outcome,
        "realm-gave-up",
        &[("realm", "crashy"), ("restarts", "50"), ("last", "panicked")],
    );
    // The counter, below crashy's priority, counted while crashy waited for its restarts:
    // count lines stand between a delay and the restart that ends it, and the count grows.
    let mut waiting = false;
    let mut counted_while_waiting = 0;
    let mut last_count = 0;
    for line in &outcome.serial {
        if line.contains("realm-restart-delayed realm=crashy") {
            waiting = true;
        } else if line.contains("realm-restarted realm=crashy") {
            waiting = false;
        } else if let Some(rest) = line.strip_prefix("[counter] count ") {
            let count: u64 = rest.split(' ').next().and_then(|count| count.parse().ok()).unwrap();
            assert!(count > last_count, "{line}");
            last_count = count;
            counted_while_waiting += usize::from(waiting);
        }
    }
    assert!(counted_while_waiting >= 5, "{counted_while_waiting} counts during the back-off");
}
