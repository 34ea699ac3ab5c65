//! Realms on the real kernel: the memory manager reads the system description the build
//! tool (`cargo xtask`) packed, re-checks it, and starts the realms; a bad description never
//! gets that far.

use std::process::Command;

use qemu::Verdict;
use system_tests::{assert_event, assert_passed, boot_system, field};

#[test]
fn the_memory_manager_rechecks_the_system_description_at_boot() {
    let outcome = boot_system("system.toml");
    assert_passed("the demo system", &outcome);
    assert!(outcome.printed("system: 5 realms, 3 services, 3 grants, 5 programs"));
    for (realm, parent) in
        [("init", "none"), ("logger", "init"), ("kv", "init"), ("app", "init"), ("plugin", "app")]
    {
        let line = format!("realm {realm} (parent {parent}): program ");
        assert!(outcome.printed(&line), "missing {line:?}\n{}", outcome.tail(20));
    }
}

#[test]
fn realms_run_in_their_own_spaces_and_misbehaving_ones_are_stopped_and_reclaimed() {
    let outcome = boot_system("tests/systems/realms.toml");
    assert_passed("tests/systems/realms.toml", &outcome);

    // Three realms run one program: the same static address, their own marks, unchanged.
    let marks: Vec<(&str, &str)> = ["red", "green", "blue"]
        .iter()
        .map(|realm| {
            let line = field(&outcome, &format!("[{realm}] address space: mark "))
                .unwrap_or_else(|| panic!("{realm} did not report\n{}", outcome.tail(40)));
            assert!(line.ends_with(", still mine"), "{realm}: {line}");
            let (mark, rest) = line.split_once(" at ").expect("mark and address");
            (mark, rest.split(',').next().expect("address"))
        })
        .collect();
    assert!(marks.iter().all(|(_, address)| *address == marks[0].1), "{marks:?}");
    assert!(marks[0].0 != marks[1].0 && marks[1].0 != marks[2].0 && marks[0].0 != marks[2].0);

    // A bad address: reported with the realm's name and the address; the others go on.
    assert!(
        outcome.has_event(
            "realm-faulted",
            &[("realm", "crasher"), ("thread", "0"), ("fault", "vm-fault"), ("address", "0x1000")]
        ),
        "{}",
        outcome.tail(40)
    );
    assert!(outcome.has_event("realm-stopped", &[("realm", "crasher"), ("reason", "faulted")]));
    assert!(outcome.printed("[greedy] got 16384 bytes at 0x20000000, written and read back: true"));

    // Beyond the budget: an error the realm prints, and it keeps running.
    assert!(
        outcome.has_event("quota-refused", &[("realm", "greedy"), ("resource", "realm-memory")])
    );
    assert!(
        outcome.printed("[greedy] asking for 4 GiB: quota exceeded: the realm's memory budget")
    );
    assert!(outcome.printed("[greedy] still running after the refusal"));

    // A panic: logged by the memory manager with the realm's name, message and location.
    let panic = outcome
        .events()
        .into_iter()
        .find(|event| event.matches("realm-panicked", &[("realm", "quitter")]))
        .expect("the panic");
    let message = panic.get("message").unwrap_or_default();
    assert!(message.contains("tests/realms/panic-probe/src/main.rs:"), "{message}");
    assert!(message.contains("quitter gives up on purpose"), "{message}");
    assert!(outcome.has_event("realm-stopped", &[("realm", "quitter"), ("reason", "panicked")]));

    // Everything comes back: the same free RAM and slots as before the realms started.
    let check = outcome
        .events()
        .into_iter()
        .find(|event| event.kind == "resources-checked")
        .expect("the resource check at the end");
    assert_eq!(check.get("free-bytes"), check.get("free-bytes-at-boot"), "{check:?}");
    assert_eq!(check.get("free-slots"), check.get("free-slots-at-boot"), "{check:?}");
    assert_eq!(check.get("result"), Some("all-back"), "{check:?}");
}

#[test]
fn a_bad_system_description_is_refused_at_build_time_with_file_line_and_rule() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--quiet", "--package", "xtask", "--", "build"])
        .args(["--system", "tests/systems/unknown-parent.toml"])
        .current_dir(xtask::Workspace::current().root())
        .output()
        .expect("running cargo xtask build");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a bad system was built:\n{stderr}");
    assert!(
        stderr.contains("tests/systems/unknown-parent.toml:11:10: error[unknown-parent]"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was built"), "{stderr}");
    assert!(!stderr.contains("[build root task"), "{stderr}");
}

/// The lines of a run that tell why it failed, for assertion messages.
fn failure_report(outcome: &qemu::Outcome) -> String {
    format!("{}\n--- serial tail ---\n{}", outcome.verdict, outcome.tail(40))
}

#[test]
fn a_realm_that_cannot_be_started_at_boot_fails_even_a_run_that_would_go_on_for_ever() {
    // The build check accepts it (4 GiB declared); QEMU's 512 MiB cannot hold five 128 MiB
    // blocks. `run` is "forever": the run must end, and fail.
    let outcome = boot_system("tests/systems/cannot-start.toml");
    assert!(matches!(outcome.verdict, Verdict::Fail { .. }), "{}", failure_report(&outcome));
    let failed = outcome
        .events()
        .into_iter()
        .find(|event| event.kind == "realm-start-failed")
        .unwrap_or_else(|| panic!("no realm-start-failed event\n{}", failure_report(&outcome)));
    assert_eq!(failed.get("reason"), Some("out-of-memory"), "{failed:?}");
    assert_eq!(failed.get("restart"), Some("false"), "{failed:?}");
    let realm = failed.get("realm").expect("the realm").to_string();
    assert_event(&outcome, "system-start-failed", &[("realm", &realm)]);
    // Which realm, and why, in a sentence: no internal debug value.
    let sentence =
        format!("realm {realm} could not be started: no free RAM can hold a block of 128 MiB");
    assert!(outcome.printed(&sentence), "missing {sentence:?}\n{}", failure_report(&outcome));
    assert!(!outcome.printed("OutOfMemory"), "{}", failure_report(&outcome));
    assert!(outcome.printed("memory manager: the system could not start: realm"));
    // The realms after it are not started; those started are stopped, and give everything
    // back.
    let started: Vec<String> = outcome
        .events()
        .into_iter()
        .filter(|event| event.kind == "realm-started")
        .filter_map(|event| event.get("realm").map(str::to_string))
        .collect();
    assert!(!started.is_empty(), "{}", failure_report(&outcome));
    for name in &started {
        assert_event(
            &outcome,
            "realm-stopped",
            &[("realm", name), ("reason", "system-start-failed")],
        );
    }
    assert!(!outcome.has_event("realm-started", &[("realm", "fourth")]));
    assert_event(&outcome, "resources-checked", &[("result", "all-back")]);
}

#[test]
fn a_root_that_cannot_be_started_fails_the_run_and_starts_none_of_its_realms() {
    let outcome = boot_system("tests/systems/root-cannot-start.toml");
    assert!(matches!(outcome.verdict, Verdict::Fail { .. }), "{}", failure_report(&outcome));
    assert_event(
        &outcome,
        "realm-start-failed",
        &[("realm", "init"), ("restart", "false"), ("reason", "out-of-memory")],
    );
    assert_event(
        &outcome,
        "system-start-failed",
        &[("realm", "init"), ("started", "0"), ("not-started", "1")],
    );
    assert!(
        outcome.printed("realm init could not be started: no free RAM can hold a block of 1 GiB")
    );
    assert!(!outcome.has_event("realm-started", &[("realm", "child")]));
}
