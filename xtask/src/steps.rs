//! The steps of `make lint` and `make test`, defined here once: the Makefile calls
//! `cargo xtask lint` and `cargo xtask test`, which run them in order and stop at the first
//! that fails.
//!
//! - lint: `cargo fmt --all --check`; clippy with `-D warnings` on the host (the default
//!   members, every target), on the memory manager's library and its tests (host), and on
//!   every workspace crate that also builds for seL4 (`--target x86_64-unknown-none`,
//!   all but [`HOST_ONLY`]).
//! - test: the lint steps, then the memory manager's library tests on the host, then
//!   `cargo test`: the default members' unit and property tests and the QEMU suites in
//!   `tests/` (they boot systems on the real kernel, release unless `SWITCHBOARD_KERNEL`
//!   says otherwise).

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::image::TARGET;
use crate::workspace::Workspace;

/// Workspace crates that only run on the host: everything else also builds for seL4 and is
/// linted there.
pub const HOST_ONLY: &[&str] = &["xtask", "qemu", "system-tests", "cap-model"];

/// One cargo command line of a step list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the step checks, for its progress line.
    pub what: &'static str,
    /// cargo's arguments.
    pub arguments: Vec<String>,
}

impl Step {
    fn new(what: &'static str, arguments: &[&str]) -> Self {
        Self { what, arguments: arguments.iter().map(|argument| argument.to_string()).collect() }
    }
}

/// The format check and the lints, host and seL4 target.
pub fn lint() -> Vec<Step> {
    let mut sel4 = Step::new("clippy, seL4 target", &["clippy", "--quiet", "--workspace"]);
    for crate_name in HOST_ONLY {
        sel4.arguments.extend(["--exclude".to_string(), crate_name.to_string()]);
    }
    sel4.arguments.extend(["--target", TARGET, "--", "-D", "warnings"].map(String::from));
    vec![
        Step::new("format", &["fmt", "--all", "--check"]),
        Step::new("clippy, host", &["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]),
        Step::new(
            "clippy, memory manager on the host",
            &[
                "clippy",
                "--quiet",
                "--package",
                "memory-manager",
                "--lib",
                "--tests",
                "--",
                "-D",
                "warnings",
            ],
        ),
        sel4,
    ]
}

/// Everything `make test` runs: [`lint`], then the host tests and the QEMU suites.
pub fn test() -> Vec<Step> {
    let mut steps = lint();
    steps.push(Step::new(
        "memory manager's library tests on the host",
        &["test", "--package", "memory-manager", "--lib"],
    ));
    steps.push(Step::new("host tests and QEMU suites", &["test"]));
    steps
}

/// Runs `steps` in order in the workspace, each with a line `[what] cargo ...` on stderr
/// before it; fails at the first step that fails, naming it.
pub fn run(workspace: &Workspace, steps: &[Step]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for step in steps {
        eprintln!("[{}] cargo {}", step.what, step.arguments.join(" "));
        let started = Instant::now();
        let status = Command::new(&cargo)
            .args(&step.arguments)
            .current_dir(workspace.root())
            .status()
            .with_context(|| format!("running cargo {}", step.arguments.join(" ")))?;
        ensure!(
            status.success(),
            "step '{}' failed ({status}): cargo {}",
            step.what,
            step.arguments.join(" ")
        );
        eprintln!("[{}] {:.1} s", step.what, started.elapsed().as_secs_f64());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_runs_the_lints_first_then_the_memory_manager_then_everything() {
        let lint = lint();
        let test = test();
        assert_eq!(test[..lint.len()], lint[..]);
        let rest: Vec<Vec<String>> =
            test[lint.len()..].iter().map(|s| s.arguments.clone()).collect();
        assert_eq!(rest, vec![vec!["test", "--package", "memory-manager", "--lib"], vec!["test"],]);
        assert_eq!(lint[0].arguments, ["fmt", "--all", "--check"]);
    }

    #[test]
    fn the_sel4_lint_excludes_exactly_the_host_only_crates() {
        let sel4 = lint().pop().expect("a seL4 step");
        let excluded: Vec<&str> = sel4
            .arguments
            .windows(2)
            .filter(|pair| pair[0] == "--exclude")
            .map(|pair| pair[1].as_str())
            .collect();
        assert_eq!(excluded, HOST_ONLY);
        let target = sel4.arguments.iter().position(|argument| argument == "--target");
        assert_eq!(target.map(|at| sel4.arguments[at + 1].as_str()), Some(TARGET));
        assert!(sel4.arguments.ends_with(&["-D".to_string(), "warnings".to_string()]));
    }
}
