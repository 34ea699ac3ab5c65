//! `clock`: Switchboard's time arithmetic, with no kernel in it, so that all of it is tested
//! on the host (`cargo test -p clock`).
//!
//! - [`pit`]: the Intel 8254 programmable interval timer's channel 0 as a PC wires it: the
//!   input clock, the I/O ports, the rate-generator control word, the divisor for a frequency
//!   and the exact tick period that divisor gives.
//! - [`tsc`]: the monotonic clock: time-stamp counter cycles to nanoseconds (and back) at the
//!   frequency the kernel measured at boot, exact and without overflow for centuries.
//! - [`ticks`]: counting timer interrupts, and the time they stand for.
//!
//! Units are in the names: `_ns` nanoseconds, `_hz` hertz, `_mhz` megahertz, `cycles` TSC
//! cycles, `ticks` timer interrupts received.
//!
//! Why a crate of its own: the memory manager (`memory-manager/src/timer.rs`), the `timer`
//! test image and later the realms' runtime and the deadline queue all need the same
//! arithmetic; a crate with no dependency builds for the host and for seL4 alike and is tested
//! by the plain `cargo test`, as `console` and `supervisor` are. What touches the kernel (the
//! PIT's I/O ports, the IRQ handler) is in `sel4_root_task::pit`.
#![forbid(unsafe_code)]
// On the memory manager's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

pub mod pit;
pub mod ticks;
pub mod tsc;

/// Nanoseconds in a second.
pub const NS_PER_SECOND: u64 = 1_000_000_000;
