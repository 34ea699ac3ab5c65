//! `qemu`: Switchboard's host tool. It builds the real seL4 kernel from its registry
//! package, builds root-task images, and boots them in QEMU, watching serial for the run's
//! verdict.
//!
//! - [`workspace`]: where things are (the repository, `target/`).
//! - [`stage`]: one line per build step, with its duration or "cached".
//! - [`kernel`]: fetch the seL4 5.0.0 source through cargo, apply our fixes and
//!   configuration, build `kernel.elf` and the 32-bit image QEMU's multiboot loader wants, in
//!   two variants (release, the default, and debug), each cached on its own.
//! - [`image`]: build a root task (the memory manager or a test image) for seL4.
//! - [`system`]: check `system.toml`, build the realm programs, pack the boot image.
//! - [`boot`]: run QEMU, stream or capture serial, decide the verdict, always end QEMU.
//! - [`events`]: parse the memory manager's machine-readable event lines from serial.
//!
//! The command-line front end is `src/main.rs`; tests use this library directly.

#![forbid(unsafe_code)]

pub mod boot;
pub mod events;
pub mod image;
pub mod kernel;
pub mod stage;
pub mod system;
pub mod workspace;

pub use boot::{BootOptions, Outcome, Verdict};
pub use events::{Event, parse_event};
pub use workspace::Workspace;
