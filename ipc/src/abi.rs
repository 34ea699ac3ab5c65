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
//! THREADS_BASE .. + 2 MiB      spawned threads' stacks and IPC buffers (see [`thread`])
//! HEAP_START ..                pages the realm asks for at run time, within its budget
//! ```
//!
//! Every thread starts at the program's ELF entry with `rdi` = its IPC buffer, `rsi` = why
//! ([`start`]), `rdx` = its [`crate::ThreadId`] and `rcx` = an argument word (0 for the main
//! thread; a spawned thread's is the `Spawn` request's argument).

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

/// Where spawned threads live in a realm's address space. Thread `t` (1 to 15) has the
/// 128 KiB stride `THREADS_BASE + t * THREAD_STRIDE_PAGES * PAGE_BYTES`:
///
/// ```text
/// stride + 0 pages         unmapped: a stack overflow faults
/// stride + 1 .. 17 pages   the stack (THREAD_STACK_PAGES), growing down from stride + 17 pages
/// stride + 17 pages        unmapped
/// stride + 18 pages        the thread's IPC buffer
/// the rest of the stride   unmapped
/// ```
///
/// Stride 0 is unused: the main thread (0) has [`STACK_BOTTOM`]..[`STACK_TOP`] and
/// [`IPC_BUFFER`]. The 16 strides are 2 MiB, aligned to 2 MiB, so one page table maps every
/// thread's pages. A thread index's pages are mapped on the first spawn into it and kept for
/// the threads that use the index later (until the realm stops).
pub mod thread {
    use super::{IPC_BUFFER, PAGE_BYTES, STACK_BOTTOM, STACK_TOP};
    use crate::ThreadId;

    /// The first stride (thread 0's, unused).
    pub const THREADS_BASE: u64 = 0x1020_0000;
    /// Pages per thread index.
    pub const THREAD_STRIDE_PAGES: u64 = 32;
    /// A spawned thread's stack, in pages (64 KiB, as the main thread's).
    pub const THREAD_STACK_PAGES: u64 = 16;
    /// Where the strides end.
    pub const THREADS_END: u64 =
        THREADS_BASE + ThreadId::LIMIT as u64 * THREAD_STRIDE_PAGES * PAGE_BYTES;

    const fn stride(thread: ThreadId) -> u64 {
        THREADS_BASE + thread.get() as u64 * THREAD_STRIDE_PAGES * PAGE_BYTES
    }

    /// The lowest address of thread `thread`'s stack.
    pub const fn stack_bottom(thread: ThreadId) -> u64 {
        if thread.is_main() { STACK_BOTTOM } else { stride(thread) + PAGE_BYTES }
    }

    /// The top of thread `thread`'s stack (its first `rsp`; the page there is unmapped).
    pub const fn stack_top(thread: ThreadId) -> u64 {
        if thread.is_main() {
            STACK_TOP
        } else {
            stack_bottom(thread) + THREAD_STACK_PAGES * PAGE_BYTES
        }
    }

    /// Thread `thread`'s IPC buffer.
    pub const fn ipc_buffer(thread: ThreadId) -> u64 {
        if thread.is_main() { IPC_BUFFER } else { stack_top(thread) + PAGE_BYTES }
    }
}

/// Slots of a realm's CNode the memory manager fills.
pub mod slot {
    use crate::ThreadId;

    /// The main thread's cap to the broker endpoint, badged with the realm's id and thread 0
    /// (Send + Grant: a `Call` needs Grant on seL4 5.0.0 to receive a reply). Each thread
    /// has its own ([`thread`]), so the memory manager knows which thread asks.
    pub const BROKER: u64 = 1;
    /// The main thread's fault endpoint, badged with the realm's id and thread 0. The
    /// kernel uses it; the realm has no reason to.
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
    /// Four slots per thread id `t`, from `THREADS.start + 4 * t`: its broker cap, its fault
    /// cap, its inbox and one reserved. Thread 0 uses only its inbox here (its broker and
    /// fault caps are [`BROKER`] and [`FAULT`]). See [`thread`].
    pub const THREADS: core::ops::Range<u64> = 16..16 + 4 * ThreadId::LIMIT as u64;
    /// Slots from here on are handed out by the broker (service endpoints, connections).
    pub const FIRST_FREE: u64 = THREADS.end;

    /// The slots of one thread's caps.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ThreadSlots {
        /// Its cap to the broker endpoint, badged `Badge::for_realm_thread(realm, t)`.
        pub broker: u64,
        /// Its fault endpoint, badged `Badge::for_fault_thread(realm, t)` (the kernel's).
        pub fault: u64,
        /// A cap to its inbox, an endpoint internal to the realm that the thread receives
        /// on, badged `Badge::for_inbox(t)`: any thread of the realm sends it messages
        /// through this slot. Made with the thread's other objects (thread 0's with the
        /// realm's first spawn).
        pub inbox: u64,
    }

    /// The slots of thread `thread`'s caps.
    pub const fn thread(thread: ThreadId) -> ThreadSlots {
        let base = THREADS.start + 4 * thread.get() as u64;
        if thread.is_main() {
            ThreadSlots { broker: BROKER, fault: FAULT, inbox: base + 2 }
        } else {
            ThreadSlots { broker: base, fault: base + 1, inbox: base + 2 }
        }
    }
}

/// Why a realm's thread is (re)started at its entry point: the second argument (rsi).
pub mod start {
    /// The realm starts: the main thread runs its main.
    pub const RUN: u64 = 0;
    /// The memory manager is stopping the realm (it exited, faulted or panicked) while its
    /// threads may owe clients replies. Every live thread is sent here: it answers the client
    /// it owes a reply (if any) with [`super::label::ABORTED`], the first thread to get here
    /// answers every caller whose reply the realm deferred, and each then sends `ExitThread`.
    /// The realm is stopped once every thread sent here has.
    pub const ABORT: u64 = 1;
    /// A spawned thread starts: `rcx` is its `Spawn` request's argument.
    pub const THREAD: u64 = 2;
    /// Only this thread is stopping (it faulted or panicked, and the realm's
    /// `on_thread_fault` is `stop-thread`): answer the client it owes a reply with
    /// [`super::label::ABORTED`], then send `ExitThread`. Deferred callers stay deferred
    /// (another thread may answer them).
    pub const ABORT_THREAD: u64 = 3;
}

/// The words of the control page (each a `u64`, at `CONTROL + 8 * index`).
///
/// - [`control::TSC_MHZ`]: written by the memory manager before the realm starts: the
///   time-stamp counter's frequency in MHz, as the kernel measured it at boot
///   (`BootInfo::tsc_mhz`; the kernel keeps whole MHz). A realm reads the clock with `rdtsc` and this word,
///   with no IPC.
/// - [`control::call_deadline`] (one word per thread, [`control::CALL_DEADLINES`]),
///   [`control::CALL_SITE`]: written by the realm for calls with a deadline
///   (`Realm::with_deadline`): the calling thread's deadline as a time-stamp counter reading
///   (0: none; cycles rather than nanoseconds, so that arming a deadline costs no division),
///   and, once, the address of the `syscall` instruction every typed call waits in (the same
///   code in every thread). The memory manager reads them on its timer ticks: a call past its
///   deadline whose thread it finds at that instruction is cancelled (see
///   `memory-manager/src/deadline.rs`); a thread anywhere else is not touched. A realm that
///   writes nonsense there can only cancel its own calls, at the cost of one register read
///   per thread and tick for the memory manager.
pub mod control {
    use crate::ThreadId;

    pub const TSC_MHZ: usize = 0;
    /// Word 1 held the main thread's deadline before threads; it is not used.
    pub const CALL_SITE: usize = 2;
    /// One deadline word per thread id.
    pub const CALL_DEADLINES: core::ops::Range<usize> = 16..16 + ThreadId::LIMIT;
    /// Words in use (the page has 512).
    pub const WORDS: usize = CALL_DEADLINES.end;

    /// The word of thread `thread`'s call deadline.
    pub const fn call_deadline(thread: ThreadId) -> usize {
        CALL_DEADLINES.start + thread.index()
    }
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
    assert!(CONTROL + PAGE_BYTES < thread::THREADS_BASE, "a gap above the control page");
    assert!(thread::THREADS_BASE.is_multiple_of(2 << 20), "one page table for every thread");
    assert!(thread::THREADS_END - thread::THREADS_BASE == 2 << 20);
    assert!(thread::THREADS_END <= HEAP_START);
    assert!(control::WORDS as u64 * 8 <= PAGE_BYTES);
    assert!(STACK_BOTTOM.is_multiple_of(PAGE_BYTES));
    assert!(slot::FIRST_FREE < 1 << REALM_CNODE_BITS);
    assert!(slot::CNODE < slot::DEFERRED_REPLIES.start);
    assert!(slot::DEFERRED_REPLIES.end <= slot::THREADS.start);
    // The timer's bit is a notification badge's payload bit.
    assert!(crate::Badge::for_notification(notification::TIMER).is_some());
    assert!(notification::TIMER < 1 << notification::BITS);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ThreadId;

    fn threads() -> impl Iterator<Item = ThreadId> {
        (0..ThreadId::LIMIT as u8).filter_map(ThreadId::new)
    }

    #[test]
    fn every_thread_has_its_own_guarded_stack_and_ipc_buffer() {
        let mut pages = std::vec::Vec::new();
        for t in threads() {
            let (bottom, top, buffer) =
                (thread::stack_bottom(t), thread::stack_top(t), thread::ipc_buffer(t));
            assert_eq!(top - bottom, 16 * PAGE_BYTES, "thread {t}: a 64 KiB stack");
            assert!(top < buffer, "thread {t}: a gap above the stack");
            if !t.is_main() {
                // The page below the stack and the one above are in the thread's stride and
                // belong to nobody: unmapped guards.
                assert!(bottom - PAGE_BYTES >= thread::THREADS_BASE);
                assert_eq!(buffer, top + PAGE_BYTES);
                assert!(buffer + PAGE_BYTES <= thread::THREADS_END);
            }
            for page in (bottom..top).step_by(PAGE_BYTES as usize).chain([buffer]) {
                pages.push(page);
            }
            // Nothing mapped touches a stack's guard page.
            pages.push(bottom - PAGE_BYTES);
            pages.push(top);
        }
        let count = pages.len();
        pages.sort_unstable();
        pages.dedup();
        assert_eq!(pages.len(), count, "no two threads share a page, a guard included");
        assert_eq!(thread::stack_top(ThreadId::MAIN), STACK_TOP);
        assert_eq!(thread::ipc_buffer(ThreadId::MAIN), IPC_BUFFER);
    }

    #[test]
    fn every_thread_has_its_own_slots() {
        let mut slots = std::vec::Vec::new();
        for t in threads() {
            let own = slot::thread(t);
            for s in [own.broker, own.fault, own.inbox] {
                assert!(
                    s < slot::FIRST_FREE
                        && !slot::DEFERRED_REPLIES.contains(&s)
                        && s != slot::CNODE,
                    "thread {t}: slot {s}"
                );
                slots.push(s);
            }
        }
        let count = slots.len();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), count);
        assert_eq!(slot::thread(ThreadId::MAIN).broker, slot::BROKER);
        assert_eq!(slot::thread(ThreadId::MAIN).fault, slot::FAULT);
    }

    #[test]
    fn every_thread_has_its_own_deadline_word() {
        let words: std::vec::Vec<usize> = threads().map(control::call_deadline).collect();
        for word in &words {
            assert!(
                *word != control::TSC_MHZ && *word != control::CALL_SITE && *word < control::WORDS
            );
        }
        assert!(words.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
