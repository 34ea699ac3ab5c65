//! Realms on the real kernel: the memory manager reads the system description the `qemu`
//! tool packed, re-checks it, and starts the realms; a bad description never gets that far.

use std::process::Command;

use system_tests::{assert_passed, boot_system};

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
