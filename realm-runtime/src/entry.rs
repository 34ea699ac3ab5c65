//! The realm's entry point and panic handler (seL4 only).

use core::sync::atomic::{AtomicBool, Ordering};

use ipc::abi::{label, slot, start};
use ipc::realm::{PANIC_PART_BYTES, PanicPart, RealmRequest};
use sel4::MessageInfo;
use sel4::ipc_buffer::IpcBuffer;
use sel4::syscall::Registers;

use crate::{Realm, stop};

// The entry point: rsp and rdi were set by the memory manager.
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

extern "C" fn realm_entry(ipc_buffer: usize, reason: u64) -> ! {
    // SAFETY: the memory manager passes this thread's IPC buffer in rdi (see `ipc::abi`),
    // mapped read-write for the realm's life; it is claimed once, here.
    let Some(ipc) = (unsafe { IpcBuffer::from_address(ipc_buffer) }) else { stop() };
    let mut realm = Realm { ipc };
    if reason == start::ABORT {
        // Stopped while perhaps answering a request: the client must not wait for ever. A
        // thread that never received a request owes no reply, and makes none.
        if crate::service::OWES_REPLY.load(Ordering::Relaxed) {
            let info = MessageInfo::new(label::ABORTED, 0, 0).unwrap_or(MessageInfo::from_word(0));
            sel4::ipc::reply(realm.ipc, info);
        }
        // And every caller whose reply it deferred (see `server.rs`).
        crate::server::abort_deferred();
        realm.exit()
    }
    // SAFETY: `main!` defines this symbol with exactly this signature; a program that does
    // not use `main!` fails to link rather than reaching here.
    unsafe { __switchboard_realm_main(&mut realm) };
    realm.exit()
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

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    // A panic while reporting a panic (a message whose formatting panics): just stop.
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::Relaxed) {
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
        let mut registers = Registers { cap_or_badge: slot::BROKER, ..Registers::default() };
        registers.message[..message.words().len()].copy_from_slice(message.words());
        match MessageInfo::new(message.label(), 0, message.words().len()) {
            Ok(info) => registers.info = info.word(),
            Err(_) => break,
        }
        sel4::syscall::syscall(sel4::syscall::number::CALL, registers);
    }
    stop()
}
