//! The timer on the real kernel: the `timer` image runs the PC's PIT at 1 kHz through an
//! IOAPIC IRQ handler and a notification, waits for 200 ticks, acknowledging each, and checks
//! the TSC clock against them (the bounds and the figures are in the image). Here: the run
//! passes on the release kernel, every check printed its line in order, and the figures it
//! printed agree with each other.

use system_tests::{boot_expecting_pass, field, variant_for};
use xtask::kernel::Variant;

/// Every check the image runs, in its order.
const CHECKS: &[&str] = &["pit-programmed", "refusals", "ticks", "clear-and-set"];

/// The number after `timer: <name> ` on the image's serial output.
fn figure(outcome: &qemu::Outcome, name: &str) -> u64 {
    let text = field(outcome, &format!("timer: {name} "))
        .unwrap_or_else(|| panic!("no `timer: {name}` line\n{}", outcome.tail(30)));
    let number = text.split_whitespace().next().unwrap_or_default();
    number.parse().unwrap_or_else(|error| panic!("`timer: {name} {text}`: {error}"))
}

#[test]
fn two_hundred_pit_ticks_match_the_tsc_clock() {
    assert_eq!(variant_for("timer"), Variant::Release, "timer's kernel");
    let outcome = boot_expecting_pass("timer");
    let passed: Vec<&str> = outcome
        .serial
        .iter()
        .filter_map(|line| line.strip_prefix("check "))
        .filter_map(|rest| rest.split_once(": ok ("))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(passed, CHECKS, "checks passed, in order\n{}", outcome.tail(30));
    assert_eq!(figure(&outcome, "pit-divisor"), 1193);
    assert_eq!(figure(&outcome, "ticks"), 200);
    assert_eq!(figure(&outcome, "pit-ns"), 199_969_493);
    assert!(figure(&outcome, "tsc-mhz") > 0);
    let tsc_ns = figure(&outcome, "tsc-ns");
    assert!((190_000_000..=260_000_000).contains(&tsc_ns), "200 ticks in {tsc_ns} ns");
    assert_eq!(field(&outcome, "timer: all checks"), Some("passed"));
}
