//! The realm's entry point and panic handler (seL4 only): every thread of the realm starts
//! here, and the reason the memory manager gives says what it does.
//!
//! The memory manager starts a thread at the program's ELF entry with rsp at the top of its
//! stack and (`ipc::abi::start`) `rdi` = its IPC buffer, `rsi` = the reason, `rdx` = its
//! thread id, `rcx` = an argument word:
//! - `RUN` (the main thread at boot): `main`, then the realm exits;
//! - `THREAD` (a spawned thread): the closure in spawn-mailbox entry `rcx`, then the thread
//!   ends (`ExitThread`). A thread a raw `Spawn` request started (not `Realm::spawn`), whose
//!   argument names no posted closure, runs `main` instead, with its own `Realm`
//!   (`realm.thread()` is not the main thread's), then ends;
//! - `ABORT` (the realm is stopping): the thread answers `ABORTED` to the client it owes a
//!   reply, if any (its `OWES_REPLY`) and to the routed call it was handling; the first
//!   thread there also answers every deferred caller; then it ends;
//! - `ABORT_THREAD` (only this thread stops: `on_thread_fault = "stop-thread"`): the same for
//!   its own client and routed call; deferred callers stay, for the threads that go on.

use core::sync::atomic::{AtomicBool, Ordering};

use ipc::ThreadId;
use ipc::abi::{control, label, slot, start};
use ipc::realm::{PANIC_PART_BYTES, PanicPart, RealmRequest};
use sel4::MessageInfo;
use sel4::ipc_buffer::IpcBuffer;
use sel4::syscall::Registers;

use crate::thread::MAX_THREADS;
use crate::{Realm, stop};

// The entry point: rsp, rdi, rsi, rdx and rcx were set by the memory manager.
core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    "    and rsp, -16",
    "    xor rbp, rbp",
    "    call {entry}",
    "    ud2",
    entry = sym realm_entry,
);

unsafe extern "Rust" {
    /// The program's main, defined by [`crate::main!`].
    fn __switchboard_realm_main(realm: &mut Realm);
}

extern "C" fn realm_entry(ipc_buffer: usize, reason: u64, thread: u64, argument: u64) -> ! {
    // SAFETY: the memory manager passes this thread's own IPC buffer in rdi (see
    // `ipc::abi::thread::ipc_buffer`), mapped read-write for the realm's life; it is claimed
    // once per start of the thread, here, and the previous start's borrow ended with it.
    let Some(ipc) = (unsafe { IpcBuffer::from_address(ipc_buffer) }) else { stop() };
    let Some(thread) = ThreadId::from_word(thread) else { stop() };
    let mut realm = Realm { ipc, thread };
    match reason {
        start::RUN => {
            // SAFETY: `main!` defines this symbol with exactly this signature; a program that
            // does not use `main!` fails to link rather than reaching here.
            unsafe { __switchboard_realm_main(&mut realm) };
            realm.exit()
        }
        start::THREAD => {
            thread_starts(thread);
            if !crate::thread::MAILBOX.run(argument, &mut realm) {
                // Started by a raw `Spawn` (not `Realm::spawn`): no closure, so `main`, which
                // tells the thread by `realm.thread()`.
                // SAFETY: as for `RUN`.
                unsafe { __switchboard_realm_main(&mut realm) };
            }
            realm.exit_thread()
        }
        start::ABORT => {
            // Stopped while perhaps answering a request: the client must not wait for ever.
            answer_owed(&mut realm);
            // And every caller whose reply was deferred (see `server.rs`), once.
            if crate::thread::claim_deferred_answering() {
                crate::server::abort_deferred();
            }
            realm.exit_thread()
        }
        start::ABORT_THREAD => {
            answer_owed(&mut realm);
            realm.exit_thread()
        }
        _ => stop(),
    }
}

/// Clears what a thread that ran before in index `thread` may have left: its panic flag,
/// that it owes a reply, the routed call it handled, its call deadline.
fn thread_starts(thread: ThreadId) {
    let index = usize::from(thread.get());
    PANICKING[index].store(false, Ordering::Relaxed);
    crate::service::OWES_REPLY[index].store(false, Ordering::Relaxed);
    crate::server::HANDLING[index].store(0, Ordering::Relaxed);
    crate::time::write_control(control::call_deadline(thread), 0);
}

/// Answers `ABORTED` to the client this thread owes a reply (it served requests: a thread
/// that never received one owes none, and makes none) and to the routed call it was
/// handling, if any. Once: the flag is cleared, so the abort path after an `exit_thread`
/// that already answered makes no second reply.
pub(crate) fn answer_owed(realm: &mut Realm) {
    if crate::service::OWES_REPLY[usize::from(realm.thread.get())].swap(false, Ordering::Relaxed) {
        let info = MessageInfo::new(label::ABORTED, 0, 0).unwrap_or(MessageInfo::from_word(0));
        sel4::ipc::reply(realm.ipc, info);
    }
    crate::server::abort_handling(realm.thread);
}

/// Formats into a fixed buffer, cutting what does not fit.
struct TextWriter {
    bytes: [u8; ipc::realm::MAX_TEXT_BYTES],
    length: usize,
}

impl core::fmt::Write for TextWriter {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.length;
        let taken = text.len().min(room);
        self.bytes[self.length..self.length + taken].copy_from_slice(&text.as_bytes()[..taken]);
        self.length += taken;
        Ok(())
    }
}

/// Whether each thread is reporting a panic, by thread id.
pub(crate) static PANICKING: [AtomicBool; MAX_THREADS] =
    [const { AtomicBool::new(false) }; MAX_THREADS];

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    // A panic while reporting a panic (a message whose formatting panics): just stop. One
    // flag per thread, named by where the stack is; a thread that starts again in the same
    // index clears it (`service::thread_starts`).
    let thread = crate::thread::current();
    if PANICKING[usize::from(thread.get())].swap(true, Ordering::Relaxed) {
        stop()
    }
    let mut text = TextWriter { bytes: [0; ipc::realm::MAX_TEXT_BYTES], length: 0 };
    let _ = match info.location() {
        Some(location) => write!(
            text,
            "{}:{}:{}: {}",
            location.file(),
            location.line(),
            location.column(),
            info.message()
        ),
        None => write!(text, "{}", info.message()),
    };
    // The message goes in parts that fit the message registers: the IPC buffer is not
    // touched, as the frame that panicked may still hold a borrow of it.
    let text = &text.bytes[..text.length];
    let parts = text.len().div_ceil(PANIC_PART_BYTES).max(1);
    for index in 0..parts {
        let chunk = text.get(index * PANIC_PART_BYTES..).unwrap_or(&[]);
        let part = PanicPart::new(chunk, index + 1 == parts);
        let message = RealmRequest::Panicked { part }.encode();
        let broker = slot::thread(thread).broker;
        let mut registers = Registers { cap_or_badge: broker, ..Registers::default() };
        registers.message[..message.words().len()].copy_from_slice(message.words());
        match MessageInfo::new(message.label(), 0, message.words().len()) {
            Ok(info) => registers.info = info.word(),
            Err(_) => break,
        }
        sel4::syscall::syscall(sel4::syscall::number::CALL, registers);
    }
    stop()
}
