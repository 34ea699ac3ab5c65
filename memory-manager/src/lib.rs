//! The memory manager's bookkeeping, kept apart from the kernel so that it is tested on the
//! host: which untyped memory is free and how it is carved ([`memory`]), how a realm's
//! program is loaded ([`program`]), which paging structures a range of pages needs
//! ([`paging_plan`]), when realms' timed signals are due ([`timed_signals`]), and what the first spawn into a thread index makes ([`thread_index`]; which thread runs, ended or is joined is `supervisor::threads`'). The slots of the memory manager's CSpace are handed out by the `slots`
//! crate (shared with the broker). The root task (`main.rs`) performs the kernel operations
//! these modules decide on.
#![forbid(unsafe_code)]
// On the memory manager's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

pub mod memory;
pub mod paging_plan;
pub mod program;
pub mod thread_index;
pub mod timed_signals;
