//! Realms on the real kernel: the memory manager reads the system description the `qemu`
//! tool packed, re-checks it, and starts the realms; a bad description never gets that far.

use std::process::Command;

use system_tests::{assert_passed, boot_system, field};

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
            &[
                ("realm", "crasher"),
                ("thread", "main"),
                ("fault", "vm-fault"),
                ("address", "0x1000")
            ]
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
        .args(["run", "--quiet", "--package", "qemu", "--", "build"])
        .args(["--system", "tests/systems/unknown-parent.toml"])
        .current_dir(qemu::Workspace::current().root())
        .output()
        .expect("running qemu build");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a bad system was built:\n{stderr}");
    assert!(
        stderr.contains("tests/systems/unknown-parent.toml:11:10: error[unknown-parent]"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was built"), "{stderr}");
    assert!(!stderr.contains("[build root task"), "{stderr}");
}
