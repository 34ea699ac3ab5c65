//! `realm-runtime`: what a Switchboard realm program links against.
//!
//! The memory manager builds every realm as [`ipc::abi`] describes: the thread starts at
//! `_start` with rsp at the top of its stack (an unmapped guard page lies below) and rdi
//! holding its IPC buffer's address; slot [`ipc::abi::slot::BROKER`] of its CNode is its
//! badged cap to the memory manager's endpoint.
//!
//! A program declares `fn main(realm: &mut Realm)` with [`main!`]. [`Realm`] is the realm's
//! handle on the system: its name, more memory from its budget, and (with the broker)
//! services. When main returns the realm exits; a panic is printed on the debug console and
//! reported to the memory manager, which logs it with the realm's name and stops the realm.
#![no_std]

use core::sync::atomic::{AtomicUsize, Ordering};

pub use ipc;
pub use sel4;

use ipc::abi::{PAGE_SIZE, slot};
use ipc::realm::{RealmReply, RealmRequest, RealmResponse, Text, decode_realm_reply};
use ipc::{Malformed, Message, Name};
use sel4::cap::Endpoint;
use sel4::ipc_buffer::IpcBuffer;

/// What a request to the memory manager can end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The memory manager refused, and said why.
    Refused(ipc::Error),
    /// The memory manager's reply could not be decoded.
    BadReply(Malformed),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Refused(error) => write!(f, "{error}"),
            Error::BadReply(reason) => {
                write!(f, "the memory manager's reply is malformed: {reason:?}")
            }
        }
    }
}

/// The realm's handle on the system, given to its main.
pub struct Realm {
    ipc: &'static mut IpcBuffer,
}

/// The address of this realm's IPC buffer, for the panic handler (0 until the entry ran).
static IPC_BUFFER_ADDRESS: AtomicUsize = AtomicUsize::new(0);

impl Realm {
    fn broker() -> Endpoint {
        Endpoint::from_cptr(slot::BROKER)
    }

    /// Sends `message` to the memory manager and decodes its reply.
    fn request(&mut self, message: Message) -> Result<RealmResponse, Error> {
        let info = self
            .ipc
            .set_message(message.label(), message.words(), &[])
            .map_err(|_| Error::BadReply(Malformed::UnknownLabel { label: message.label() }))?;
        let reply = Self::broker().call(self.ipc, info);
        let decoded: RealmReply =
            decode_realm_reply(reply.label(), self.ipc.message(reply)).map_err(Error::BadReply)?;
        decoded.map_err(Error::Refused)
    }

    /// This realm's name, as the system description gives it.
    pub fn name(&mut self) -> Result<Name, Error> {
        match self.request(RealmRequest::WhoAmI.encode())? {
            RealmResponse::Identity { name } => Ok(name),
            RealmResponse::Pages { .. } => {
                Err(Error::BadReply(Malformed::UnknownLabel { label: 33 }))
            }
        }
    }

    /// Asks for `pages` more pages of memory from the realm's budget, mapped read-write.
    pub fn allocate_pages(&mut self, pages: u64) -> Result<&'static mut [u8], Error> {
        match self.request(RealmRequest::AllocatePages { pages }.encode())? {
            RealmResponse::Pages { address, pages: mapped } if mapped == pages => {
                let bytes = usize::try_from(mapped * PAGE_SIZE).unwrap_or(0);
                // SAFETY: the memory manager just mapped `mapped` fresh pages at `address`,
                // read-write, in this realm's address space, and never hands them out again,
                // so nothing else refers to them.
                Ok(unsafe { core::slice::from_raw_parts_mut(address as *mut u8, bytes) })
            }
            _ => Err(Error::BadReply(Malformed::UnknownLabel { label: 33 })),
        }
    }

    /// Ends the realm: the memory manager stops it and takes back all it used.
    pub fn exit(&mut self) -> ! {
        let message = RealmRequest::Exit.encode();
        if let Ok(info) = self.ipc.set_message(message.label(), message.words(), &[]) {
            Self::broker().call(self.ipc, info);
        }
        stop()
    }
}

/// Stops this thread for good: an invalid instruction, which the kernel reports to the
/// memory manager as a fault of this realm. Used only when the memory manager cannot be told.
pub fn stop() -> ! {
    loop {
        // SAFETY: `ud2` only raises an invalid-opcode exception; the kernel turns it into a
        // fault message to the memory manager and never resumes this thread.
        unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    }
}

// The entry point: rsp and rdi were set by the memory manager.
#[cfg(target_os = "none")]
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

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// The program's main, defined by [`main!`].
    fn __switchboard_realm_main(realm: &mut Realm);
}

#[cfg(target_os = "none")]
extern "C" fn realm_entry(ipc_buffer: usize) -> ! {
    // SAFETY: the memory manager passes this thread's IPC buffer in rdi (see `ipc::abi`),
    // mapped read-write for the realm's life; it is claimed once, here.
    let Some(ipc) = (unsafe { IpcBuffer::from_address(ipc_buffer) }) else { stop() };
    IPC_BUFFER_ADDRESS.store(ipc_buffer, Ordering::Relaxed);
    let mut realm = Realm { ipc };
    // SAFETY: `main!` defines this symbol with exactly this signature; a program that does
    // not use `main!` fails to link rather than reaching here.
    unsafe { __switchboard_realm_main(&mut realm) };
    realm.exit()
}

/// Declares the realm's main: `fn(&mut Realm)`. When it returns, the realm exits.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __switchboard_realm_main(realm: &mut $crate::Realm) {
            let main: fn(&mut $crate::Realm) = $main;
            main(realm)
        }
    };
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

#[cfg(target_os = "none")]
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
