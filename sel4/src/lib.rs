//! `sel4`: Switchboard's typed binding to the seL4 microkernel on x86_64.
//!
//! Layers, bottom up:
//! - [`kernel`]: everything that differs between seL4 versions (syscall numbers of the debug
//!   calls, invocation labels, the boot-info layout). One module per kernel version; today
//!   only seL4 5.0.0. Nothing else in this crate names a version-specific number.
//! - [`syscall`]: the raw `syscall` instruction and the register convention.
//! - [`message`]: the message-info word that heads every IPC message.
//! - [`error`]: the kernel's error codes as a type.
//! - [`cap`]: typed capabilities and their invocations.
//! - [`bootinfo`]: a typed view of the boot information the kernel hands the root task.
//! - [`debug`]: printing through the kernel's debug console.
//!
//! `unsafe` lives only here and in the entry crates; each block says why it is sound.
#![no_std]

pub mod bootinfo;
pub mod cap;
pub mod debug;
pub mod error;
pub mod kernel;
pub mod message;
pub mod syscall;

pub use bootinfo::BootInfo;
pub use cap::{CPtr, Cap};
pub use error::Error;
pub use message::MessageInfo;
