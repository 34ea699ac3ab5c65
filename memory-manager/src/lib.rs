//! The memory manager's bookkeeping, kept apart from the kernel so that it is tested on the
//! host: which untyped memory is free ([`memory`]), which slots of the memory manager's
//! CSpace are free ([`slots`]). The root task (`main.rs`) performs the kernel operations these
//! modules decide on.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), no_std)]

pub mod memory;
pub mod program;
pub mod slots;
