//! The realm's entry point and panic handler (seL4 only).

use core::sync::atomic::{AtomicUsize, Ordering};

use ipc::abi::{ABORTED_LABEL, slot, start};
use ipc::realm::{RealmRequest, Text};
use sel4::MessageInfo;
use sel4::cap::Endpoint;
use sel4::ipc_buffer::IpcBuffer;

use crate::{Realm, stop};

/// The address of this realm's IPC buffer, for the panic handler (0 until the entry ran).
static IPC_BUFFER_ADDRESS: AtomicUsize = AtomicUsize::new(0);

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
    IPC_BUFFER_ADDRESS.store(ipc_buffer, Ordering::Relaxed);
    let mut realm = Realm { ipc };
    if reason == start::ABORT {
        // Stopped while perhaps answering a request: the client must not wait for ever.
        let info = MessageInfo::new(ABORTED_LABEL, 0, 0).unwrap_or(MessageInfo::from_word(0));
        sel4::ipc::reply(realm.ipc, info);
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
    let address = IPC_BUFFER_ADDRESS.swap(0, Ordering::Relaxed);
    // SAFETY: panics abort, so the `Realm` that held this buffer in main is never used
    // again; swapping the address to 0 makes a panic inside this handler stop at once
    // instead of claiming the buffer twice.
    let Some(ipc) = (unsafe { IpcBuffer::from_address(address) }) else { stop() };
    let message =
        RealmRequest::Panicked { message: Text::truncated(&text.bytes[..text.length]) }.encode();
    if let Ok(request) = ipc.set_message(message.label(), message.words(), &[]) {
        Endpoint::from_cptr(slot::BROKER).call(ipc, request);
    }
    stop()
}
