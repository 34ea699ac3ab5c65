//! What differs between seL4 versions, chosen at one place.
//!
//! The rest of the crate uses `kernel::*` and never a version module directly, so a second
//! kernel (upstream seL4 13+, see `shared/notes/sel4-kernel.md`) is one more module here.

pub mod v5_0_0;

pub use v5_0_0::*;
