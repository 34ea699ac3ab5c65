//! `qemu`: runs a Switchboard system in QEMU and judges the run. It owns what happens from
//! the moment a kernel image and a root task exist: starting `qemu-system-x86_64` with serial
//! as its only output, reading serial line by line (echoed or captured), deciding the
//! run's [`Verdict`] from the root task's verdict line and QEMU's exit status, ending the run
//! on its timeout, and always ending QEMU. It builds nothing: the kernel, the realm programs
//! and the boot image come from the build tool, `xtask`.
//!
//! - [`boot`]: run QEMU, stream or capture serial, decide the verdict, always end QEMU.
//! - [`events`]: parse the memory manager's machine-readable event lines from serial.
//!
//! Used as a library by `xtask` (`cargo xtask run`, `bench`, `images`) and by the QEMU
//! suites in `tests/`.

#![forbid(unsafe_code)]

pub mod boot;
pub mod events;

pub use boot::{BootOptions, Outcome, Verdict};
pub use events::{Event, parse_event};
