//! `xtask`: Switchboard's build tool, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`); the Makefile's targets call it. It owns everything that happens
//! before a system boots, and the orchestration around boots: running a system in QEMU is
//! the `qemu` crate's job, which this calls.
//!
//! - [`workspace`]: where things are (the repository, `xtask/`, `target/`).
//! - [`stage`]: one line per build step, with its duration or "cached".
//! - [`kernel`]: fetch the seL4 5.0.0 source through cargo, apply our fixes and
//!   configuration, build `kernel.elf` and the 32-bit image QEMU's multiboot loader wants, in
//!   two variants (release, the default, and debug), each cached on its own.
//! - [`packages`]: the realm packages of the workspace, found with `cargo metadata`: what a
//!   system description's `program` names.
//! - [`image`]: build root tasks (the memory manager, test images) and realm programs for
//!   seL4.
//! - [`system`]: check `system.toml`, build its realm programs, pack the boot image, build
//!   the memory manager with it.
//! - [`interfaces`]: the build check of typed interfaces: what each realm program records in
//!   its ELF file against `system.toml`'s `interface` fields and the other programs.
//! - [`images`]: boot the root-task test images under `tests/images/` one by one.
//! - [`mod@bench`]: boot the benchmark system twice and print its table.
//! - [`steps`]: the one definition of what `make lint` and `make test` run.
//!
//! The command-line front end is `src/main.rs` (`cargo xtask --help`); the QEMU suites in
//! `tests/` use this library to build what they boot.
//!
//! # Realm programs and test scenarios
//!
//! A system file's `program = "<name>"` names a cargo package of the workspace, in any
//! folder, that has one binary and depends on `realm-runtime` ([`packages`]). The root
//! `Cargo.toml` matches the usual folders by glob (`realms/*`, `tests/realms/*`,
//! `bench/realms/*`, `examples/*`, and `tests/images/*`, `tests/probes/*` for root tasks), so
//! a new package there is a member without editing any list; a package elsewhere is added to
//! `[workspace] members` once. Adding a QEMU test scenario therefore takes one system file
//! (`tests/systems/<name>.toml`), its realm packages (`tests/realms/<package>/`) and one test
//! function in a suite of `tests/` that boots the file (`system_tests::boot_system`) and
//! asserts on its events. Only a new suite *file* also needs a `[[test]]` entry in
//! `tests/Cargo.toml`.

#![forbid(unsafe_code)]

pub mod bench;
pub mod image;
pub mod images;
pub mod interfaces;
pub mod kernel;
pub mod packages;
pub mod stage;
pub mod steps;
pub mod system;
pub mod workspace;

pub use workspace::Workspace;
