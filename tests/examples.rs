//! The examples on the real kernel: `examples/hello/`, a realm package outside `realms/` and
//! `tests/`, runs when its system file names it, and does what its source says.

use std::sync::OnceLock;

use qemu::Outcome;
use system_tests::{assert_event, assert_printed, boot_passing_once};

const HELLO: &str = "examples/hello/system.toml";

fn hello() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    boot_passing_once(&OUTCOME, HELLO)
}

#[test]
fn hello_greets_registers_connects_and_calls() {
    let outcome = hello();
    assert_event(outcome, "realm-started", &[("realm", "greeter")]);
    assert_event(outcome, "realm-started", &[("realm", "hello")]);
    assert_printed(outcome, "[greeter] hello, world");
    assert_printed(outcome, "[hello] hello, world");
    assert_event(
        outcome,
        "service-registered",
        &[("realm", "greeter"), ("service", "greeting"), ("rule", "declared-provider")],
    );
    assert_event(outcome, "connect-allowed", &[("realm", "hello"), ("service", "greeting")]);
    assert_printed(outcome, "[hello] the greeter answered 41 with 42");
}

#[test]
fn hello_exits_the_greeter_is_stopped_and_everything_comes_back() {
    let outcome = hello();
    assert_event(outcome, "realm-stopped", &[("realm", "hello"), ("reason", "exited")]);
    assert_event(outcome, "realm-stopped", &[("realm", "greeter"), ("reason", "shutdown")]);
    assert_event(outcome, "resources-checked", &[("result", "all-back")]);
    let denials = outcome.events().into_iter().filter(|event| event.kind.ends_with("-denied"));
    assert_eq!(denials.count(), 0, "{}", outcome.tail(40));
}
