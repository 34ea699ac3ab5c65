//! `sel4`: Switchboard's typed binding to the seL4 microkernel on x86_64.
//!
//! Layers, bottom up:
//! - [`kernel`]: everything that differs between seL4 versions (syscall numbers of the debug
//!   calls, invocation labels, object types and sizes, fault labels, capability type tags,
//!   the boot-info layout, the rights/badge/guard encodings, TCB_Configure's arguments, the
//!   register set). One module per kernel version; today only seL4 5.0.0. Nothing else in
//!   this crate names a version-specific number.
//! - [`syscall`]: the raw `syscall` instruction and the register convention.
//! - [`message`]: the message-info word that heads every IPC message.
//! - [`ipc_buffer`]: the per-thread IPC buffer, passed explicitly as `&mut IpcBuffer` (the
//!   module says why).
//! - [`ipc`]: Call, ReplyRecv, Send, NBSend, Recv, NBRecv, Reply, Yield; endpoints,
//!   notifications and reply capabilities.
//! - [`error`]: the kernel's error codes as a type.
//! - [`cap`]: typed capabilities and their invocations (CNodes, untyped, TCBs, paging, ASID
//!   pools, I/O ports, IRQ handlers), with rights, badges and guards as types.
//! - [`fault`]: fault messages decoded into [`Fault`].
//! - [`bootinfo`]: a typed view of the boot information the kernel hands the root task.
//! - [`debug`]: the debug syscalls: console, halt, capability identification, thread names.
//! - [`timestamp`]: the time-stamp counter, for benchmarks.
//!
//! `unsafe` lives only here and in the entry crates; each block says why it is sound.
#![cfg_attr(not(test), no_std)]

pub mod bootinfo;
pub mod cap;
pub mod debug;
pub mod error;
pub mod fault;
pub mod ipc;
pub mod ipc_buffer;
pub mod kernel;
pub mod message;
pub mod syscall;
pub mod timestamp;

pub use bootinfo::BootInfo;
pub use cap::{CPtr, CSlot, Cap};
pub use error::Error;
pub use fault::Fault;
pub use ipc_buffer::IpcBuffer;
pub use message::MessageInfo;
