//! The realm start-up contract: where things go in a realm's address space and CSpace, as
//! the memory manager builds it and `realm-runtime` expects it. The thread starts at the
//! program's ELF entry with rsp at [`STACK_TOP`] and rdi holding [`IPC_BUFFER`].
//!
//! ```text
//! 0x0000_0000 .. 0x0040_0000   unmapped (null pointers fault)
//! 0x0040_0000 .. 0x0f00_0000   program window: the ELF's load segments
//! 0x0f00_0000 .. STACK_BOTTOM  unmapped guard page(s): a stack overflow faults
//! STACK_BOTTOM .. STACK_TOP    the stack
//! STACK_TOP   (one page)       unmapped
//! IPC_BUFFER  (one page)       the thread's IPC buffer
//! CONTROL     (one page)       the control page, shared with the memory manager (see [`control`])
//! HEAP_START ..                pages the realm asks for at run time, within its budget
//! ```

use core::ops::Range;

/// Pages are seL4 small pages (defined once, in the `sel4` binding).
pub use vocabulary::limits::PAGE_BYTES;
/// Where a program's load segments may lie.
pub const PROGRAM_WINDOW: Range<u64> = 0x0040_0000..0x0f00_0000;
/// The initial thread's stack.
pub const STACK_PAGES: u64 = 16;
pub const STACK_TOP: u64 = 0x1000_0000;
pub const STACK_BOTTOM: u64 = STACK_TOP - STACK_PAGES * PAGE_BYTES;
/// The initial thread's IPC buffer.
pub const IPC_BUFFER: u64 = STACK_TOP + PAGE_BYTES;
/// The realm's control page: one page the memory manager also maps (read-write) in its own
/// address space, so that the two can share a few words without IPC (see [`control`]).
pub const CONTROL: u64 = IPC_BUFFER + 2 * PAGE_BYTES;
/// Where pages asked for at run time are mapped, upwards.
pub const HEAP_START: u64 = 0x2000_0000;
/// The most pages a realm can ask for at run time (its budget usually ends this sooner).
pub const HEAP_MAX_PAGES: u64 = 1 << 16;

/// A realm's CNode has `2^REALM_CNODE_BITS` slots (the limit is defined in `vocabulary`).
pub use vocabulary::limits::REALM_CNODE_BITS;

/// Slots of a realm's CNode the memory manager fills.
pub mod slot {
    /// The broker endpoint, badged with the realm's id (Send + Grant: a `Call` needs Grant
    /// on seL4 5.0.0 to receive a reply).
    pub const BROKER: u64 = 1;
    /// The thread's fault endpoint, badged with the realm's id and thread. The kernel uses
    /// it; the realm has no reason to.
    pub const FAULT: u64 = 2;
    /// Slots from here on are handed out by the broker (service endpoints, connections).
    pub const FIRST_FREE: u64 = 16;
}

/// Why a realm's thread is (re)started at its entry point: the second argument (rsi).
pub mod start {
    /// The realm starts: run its main.
    pub const RUN: u64 = 0;
    /// The memory manager is stopping the realm (it faulted or panicked) while it may owe a
    /// client a reply: answer that client with [`super::ABORTED_LABEL`], then exit.
    pub const ABORT: u64 = 1;
}

/// The words of the control page (each a `u64`, at `CONTROL + 8 * index`).
///
/// - [`control::TSC_MHZ`]: written by the memory manager before the realm starts: the
///   time-stamp counter's frequency in MHz, as the kernel measured it at boot
///   (`BootInfo::tsc_mhz`; the kernel keeps whole MHz). A realm reads the clock with `rdtsc` and this word,
///   with no IPC.
/// - [`control::CALL_DEADLINE`], [`control::CALL_SITE`]: written by the realm for a call
///   with a deadline (`Realm::call_timeout`): the deadline as a time-stamp counter reading
///   (0: none; cycles rather than nanoseconds, so that arming a deadline costs no division;
///   no two calls share one, since the counter moves on), and, once, the address of the
///   `syscall` instruction such calls wait in. The
///   memory manager reads them on its timer ticks: a call past its deadline whose thread it
///   finds at that instruction is cancelled (see `memory-manager/src/deadline.rs`); a thread
///   anywhere else is not touched. A realm that writes nonsense there can only cancel its own
///   calls, at the cost of one register read per tick for the memory manager.
pub mod control {
    pub const TSC_MHZ: usize = 0;
    pub const CALL_DEADLINE: usize = 1;
    pub const CALL_SITE: usize = 2;
    /// Words in use.
    pub const WORDS: usize = 3;
}

/// The label a realm's call with a deadline returns with when the memory manager cancelled it
/// at its deadline (the service did not reply in time).
pub const TIMED_OUT_LABEL: u64 = 0x7173;

/// The label of the reply a client gets when the service handling its call was stopped: any
/// non-zero label tells the client that its call did not complete (the broker says why).
pub const ABORTED_LABEL: u64 = 0xdead;

// The regions do not overlap, the guard pages stay unmapped, and the fixed slots fit.
const _: () = {
    assert!(PROGRAM_WINDOW.end < STACK_BOTTOM, "a guard page below the stack");
    assert!(STACK_TOP < IPC_BUFFER, "a gap above the stack");
    assert!(IPC_BUFFER + PAGE_BYTES < CONTROL, "a gap above the IPC buffer");
    assert!(CONTROL + PAGE_BYTES <= HEAP_START);
    assert!(STACK_BOTTOM.is_multiple_of(PAGE_BYTES));
    assert!(slot::FIRST_FREE < 1 << REALM_CNODE_BITS);
};
