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
    /// A cap to the realm's own CNode, for `CNode_SaveCaller`: a service that defers a reply
    /// keeps its caller's reply capability in one of [`DEFERRED_REPLIES`]. With it the realm
    /// can copy, move and delete caps within its own CSpace only; the broker does not rely on
    /// a realm leaving its slots alone (it revokes through its own copies and empties a slot
    /// before it fills it, see `broker/src/ops.rs`). The cap is guarded as the thread's
    /// CSpace root is: a slot is named through it by its CPtr with depth 64, as
    /// `sel4::cap::CNode::slot` does (`CNode::from_cptr(CNODE).slot(index)`).
    pub const CNODE: u64 = 3;
    /// Slots the realm itself manages (the broker never fills them): saved reply capabilities
    /// of deferred replies, one per reply the realm still owes.
    pub const DEFERRED_REPLIES: core::ops::Range<u64> = 4..16;
    /// Slots from here on are handed out by the broker (service endpoints, connections).
    pub const FIRST_FREE: u64 = 16;
}

/// Why a realm's thread is (re)started at its entry point: the second argument (rsi).
pub mod start {
    /// The realm starts: run its main.
    pub const RUN: u64 = 0;
    /// The memory manager is stopping the realm (it faulted or panicked) while it may owe a
    /// client a reply: answer that client (and every caller whose reply it deferred) with
    /// [`super::label::ABORTED`], then exit.
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

/// The bits of a realm's notification word (see `ipc::realm`, `BindNotification`): each
/// source of signals has its own bit, so that one wake-up says which sources signalled. A
/// realm's notification is signalled through badged capabilities with the badge
/// `Badge::for_notification(bits)`; the kernel ORs the badges of every signal since the
/// last receive into the word it delivers, so a wake-up may stand for several signals
/// (of one source or of several): signals coalesce.
pub mod notification {
    /// The memory manager's timed signal (`SignalAfter`): bit 0.
    pub const TIMER: u32 = 1 << 0;
    /// The bits a notification badge carries (its 24-bit payload). Bits 1..24 are reserved
    /// for later sources (shared-memory channels' doorbells).
    pub const BITS: u32 = 24;
}

/// Message labels of calls between realms (a client's call on a connection and the service's
/// reply). seL4 gives the label 52 bits of the message info; Switchboard splits them so that
/// no kind of message can be taken for another:
///
/// ```text
/// request   1 ..= MAX_OPERATION          the operation's number (typed interfaces); 0 is no operation
/// reply     RESERVED (0x1_0000..0x1_0100) the runtime's own replies: OK, ERROR, BAD_REQUEST, ...
/// reply     1 ..= 10                      seL4 5.0.0's error codes (`seL4_Error`): the kernel
///                                         answered, the call reached no service
/// ```
///
/// A reply with any other label is malformed. An operation number can never be a reply, and
/// neither a kernel error code nor a reply of the reserved range can decode as a response or
/// as an application error.
pub mod label {
    use core::ops::Range;

    /// The largest operation number; a request's label is its operation's number, from 1.
    pub const MAX_OPERATION: u64 = 0xFFFF;
    /// The labels of the runtime's own replies. No operation number, and no seL4 error code,
    /// falls in it.
    pub const RESERVED: Range<u64> = 0x1_0000..0x1_0100;
    /// The operation succeeded: the words are its result.
    pub const OK: u64 = 0x1_0000;
    /// The operation failed with its application error: the words are the error value.
    pub const ERROR: u64 = 0x1_0001;
    /// The service could not take the request (unknown operation, wrong length, extra caps,
    /// undecodable words): word 0 says which (the `interface` crate's `BadRequest`).
    pub const BAD_REQUEST: u64 = 0x1_0002;
    /// The service's response did not fit in one message.
    pub const RESPONSE_TOO_LARGE: u64 = 0x1_0003;
    /// The service handling the call was stopped (faulted, panicked, exited) before it
    /// answered; the broker says why (`Status`).
    pub const ABORTED: u64 = 0x1_0004;
    /// A call with a deadline was cancelled by the memory manager at its deadline (the
    /// service did not reply in time).
    pub const TIMED_OUT: u64 = 0x1_0005;

    const _: () = {
        assert!(MAX_OPERATION < RESERVED.start);
        assert!(OK >= RESERVED.start && TIMED_OUT < RESERVED.end);
    };
}

/// The interfaces a realm program was built with, for the build check: each typed interface
/// (its name and fingerprint) is recorded in the program's ELF file in a section of this
/// name, which the build tool reads and compares with `system.toml` and with the other
/// realms' programs. Nothing reads it at run time (the broker checks identities at connect).
///
/// Each entry is [`interface_section::ENTRY_BYTES`] bytes, little-endian:
///
/// ```text
/// bytes 0..8    the name's length in bytes (1..=32)
/// bytes 8..40   the name (the one name rule), zero-padded
/// bytes 40..48  the fingerprint
/// ```
pub mod interface_section {
    /// The section's name.
    pub const NAME: &str = ".switchboard.interfaces";
    /// The size of one entry.
    pub const ENTRY_BYTES: usize = 48;
}

// The regions do not overlap, the guard pages stay unmapped, and the fixed slots fit.
const _: () = {
    assert!(PROGRAM_WINDOW.end < STACK_BOTTOM, "a guard page below the stack");
    assert!(STACK_TOP < IPC_BUFFER, "a gap above the stack");
    assert!(IPC_BUFFER + PAGE_BYTES < CONTROL, "a gap above the IPC buffer");
    assert!(CONTROL + PAGE_BYTES <= HEAP_START);
    assert!(STACK_BOTTOM.is_multiple_of(PAGE_BYTES));
    assert!(slot::FIRST_FREE < 1 << REALM_CNODE_BITS);
    assert!(slot::CNODE < slot::DEFERRED_REPLIES.start);
    assert!(slot::DEFERRED_REPLIES.end <= slot::FIRST_FREE);
    // The timer's bit is a notification badge's payload bit.
    assert!(crate::Badge::for_notification(notification::TIMER).is_some());
    assert!(notification::TIMER < 1 << notification::BITS);
};
