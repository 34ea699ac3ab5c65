//! `realm-runtime`: what a Switchboard realm program links against.
//!
//! The memory manager builds every realm as [`ipc::abi`] describes: each thread starts at
//! `_start` with rsp at the top of its stack (an unmapped guard page lies below) and rdi
//! holding its IPC buffer's address, rsi the reason, rdx its thread id and rcx an argument
//! word (`ipc::abi::start`); slot [`ipc::abi::slot::BROKER`] of its CNode is the main
//! thread's badged cap to the memory manager's endpoint, and each thread has its own
//! (`ipc::abi::slot::thread`).
//!
//! A program declares `fn main(realm: &mut Realm)` with [`main!`]. [`Realm`] is a thread's
//! handle on the system: the realm's name, more memory from its budget, services, threads. A
//! service's interface is declared once with [`macro@interface`] (the [`mod@interface`]
//! crate's guide); a client gets one with `realm.connect::<Kv>("kv")` ([`client`]), a service
//! serves it with a [`Server`] ([`server`]), on one thread or several ([`Server::worker`]),
//! or through a router that hands each call to a handler thread ([`router`]). For raw seL4
//! IPC there are services and connections with no interface ([`Realm::register`],
//! [`Realm::connect_raw`], [`service`]). Threads ([`thread`]): `realm.spawn(closure)`,
//! joined or detached, each with its own stack, IPC buffer and inbox, which other threads of
//! the realm call typed ([`Realm::thread_client`]) or raw ([`Realm::inbox`]). When main
//! returns the realm exits; a panic is reported to the memory manager, which logs it with the
//! realm's name and thread and stops the realm (or, for a spawned thread under
//! `on_thread_fault = "stop-thread"`, that thread).
#![cfg_attr(not(test), no_std)]

pub mod client;
mod console;
#[cfg(target_os = "none")]
mod entry;
mod mailbox;
pub mod notification;
pub mod router;
pub mod server;
pub mod service;
pub mod thread;
pub mod time;

pub use client::{CallError, Client};
pub use ipc::{ThreadEnding, ThreadId};
pub use server::{Call, DeferError, Deferred, Server};
pub use service::{Caller, Connection, Service};
pub use thread::{JoinHandle, SPAWN_CLOSURE_BYTES, ThreadError, Usage};

pub use ::interface;
pub use ::interface::{Deferrable, Wire, interface};
pub use ipc;
pub use sel4;

use ipc::abi::{PAGE_BYTES, slot};
use ipc::realm::{RealmReply, RealmRequest, RealmResponse, decode_realm_reply};
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
    /// The memory manager answered with a reply of another kind than the request's.
    UnexpectedReply,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Refused(error) => write!(f, "{error}"),
            Error::BadReply(reason) => {
                write!(f, "the memory manager's reply is malformed: {reason}")
            }
            Error::UnexpectedReply => {
                write!(f, "the memory manager's reply does not answer the request")
            }
        }
    }
}

/// The realm's handle on the system, given to its main.
pub struct Realm {
    ipc: &'static mut IpcBuffer,
    /// Which thread of the realm this handle is (each thread gets its own).
    thread: ThreadId,
}

impl Realm {
    /// This thread's cap to the memory manager's endpoint: badged with the realm and the
    /// thread, so the memory manager knows which thread asks.
    fn broker(&self) -> Endpoint {
        Endpoint::from_cptr(slot::thread(self.thread).broker)
    }

    /// Sends `message` to the memory manager and returns the reply's label and words.
    fn exchange(&mut self, message: Message) -> Result<(u64, &[u64]), Error> {
        let info = self
            .ipc
            .set_message(message.label(), message.words(), &[])
            .map_err(|_| Error::BadReply(Malformed::UnknownLabel { label: message.label() }))?;
        let reply = self.broker().call(self.ipc, info);
        Ok((reply.label(), self.ipc.message(reply)))
    }

    /// Sends a request about this realm and decodes the reply.
    pub(crate) fn request(&mut self, message: Message) -> Result<RealmResponse, Error> {
        let (label, words) = self.exchange(message)?;
        let decoded: RealmReply = decode_realm_reply(label, words).map_err(Error::BadReply)?;
        decoded.map_err(Error::Refused)
    }

    /// Sends a request to the broker and decodes the reply.
    fn broker_request(&mut self, request: ipc::Request) -> Result<ipc::Response, Error> {
        let (label, words) = self.exchange(request.encode())?;
        let decoded: ipc::Reply = ipc::decode_reply(label, words).map_err(Error::BadReply)?;
        decoded.map_err(Error::Refused)
    }

    /// Tells the memory manager that this realm now only serves requests ([`Server::run_with`]
    /// does it; a realm with its own receive loop calls it before the loop: until then the
    /// memory manager counts it as busy, and a system run `until-idle` never ends).
    ///
    /// From then on the realm counts as one that may hold a client's reply capability: if it
    /// exits, faults or panics, the memory manager sends its thread back to answer that
    /// client with an error (`ipc::abi::start::ABORT`), which a receive loop of one's own
    /// needs as much as `serve` does.
    ///
    /// Each thread that serves calls this (its own flag: the abort path answers for each
    /// thread that owes a reply). The memory manager is told only by the main thread, once:
    /// a realm only serves when its main thread does (a worker or an inbox server started
    /// while the main thread still works does not make the realm idle for a run
    /// `until-idle`).
    pub fn announce_serving(&mut self) {
        use core::sync::atomic::Ordering;
        service::OWES_REPLY[usize::from(self.thread.get())].store(true, Ordering::Relaxed);
        if self.thread.is_main() && !service::ANNOUNCED.swap(true, Ordering::AcqRel) {
            let _ = self.request(RealmRequest::Serving.encode());
        }
    }

    /// The name of the realm on the other end of `caller`'s connection (one of this realm's
    /// services' connections); this realm's own name for an intra-realm caller
    /// ([`Caller::INTRA_REALM`]).
    pub fn peer(&mut self, caller: Caller) -> Result<Name, Error> {
        if caller.intra_realm {
            return self.name();
        }
        match self.request(RealmRequest::Peer { connection: caller.connection }.encode())? {
            RealmResponse::Identity { name } => Ok(name),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// The thread's IPC buffer, for using the seL4 binding directly (raw IPC, benchmarks).
    pub fn ipc_buffer(&mut self) -> &mut IpcBuffer {
        self.ipc
    }

    /// The memory manager's free RAM (bytes) and free capability slots: what a leak would
    /// show in.
    pub fn resources(&mut self) -> Result<(u64, u64), Error> {
        match self.request(RealmRequest::Resources.encode())? {
            RealmResponse::Resources { free_bytes, free_slots } => Ok((free_bytes, free_slots)),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// This realm's name, as the system description gives it.
    pub fn name(&mut self) -> Result<Name, Error> {
        match self.request(RealmRequest::WhoAmI.encode())? {
            RealmResponse::Identity { name } => Ok(name),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Asks for `pages` more pages of memory from the realm's budget, mapped read-write.
    pub fn allocate_pages(&mut self, pages: u64) -> Result<&'static mut [u8], Error> {
        match self.request(RealmRequest::AllocatePages { pages }.encode())? {
            RealmResponse::Pages { address, pages: mapped } if mapped == pages => {
                let bytes = usize::try_from(mapped * PAGE_BYTES).unwrap_or(0);
                // SAFETY: the memory manager just mapped `mapped` fresh pages at `address`,
                // read-write, in this realm's address space, and never hands them out again,
                // so nothing else refers to them.
                Ok(unsafe { core::slice::from_raw_parts_mut(address as *mut u8, bytes) })
            }
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Prints one line on the console, which the memory manager shows prefixed with this
    /// realm's name: one request per line (see [`println!`]). A line longer than
    /// [`ipc::console::MAX_LINE_BYTES`] (952 bytes) is cut and shown marked as cut. Printing
    /// never fails and never blocks for long: when the console cannot keep up, the memory
    /// manager drops the realm's lines and reports how many.
    pub fn print_line(&mut self, args: core::fmt::Arguments<'_>) {
        let mut line = console::LineBuffer::new();
        let _ = core::fmt::Write::write_fmt(&mut line, args);
        let mut words = [0u64; ipc::console::LINE_WORDS];
        let used = ipc::console::encode_line(line.bytes(), line.cut(), &mut words);
        let label = ipc::realm::RealmRequestKind::Print.code();
        if let Ok(info) = self.ipc.set_message(label, &words[..used], &[]) {
            self.broker().call(self.ipc, info);
        }
    }

    /// Ends the realm: the memory manager stops it and takes back all it used.
    pub fn exit(&mut self) -> ! {
        let message = RealmRequest::Exit.encode();
        if let Ok(info) = self.ipc.set_message(message.label(), message.words(), &[]) {
            self.broker().call(self.ipc, info);
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

/// Prints a line on the console through the memory manager: `println!(realm, "format", args)`,
/// where `realm` is the `&mut Realm`. See [`Realm::print_line`].
#[macro_export]
macro_rules! println {
    ($realm:expr) => { $realm.print_line(format_args!("")) };
    // The arguments are evaluated first, so they may use the realm too.
    ($realm:expr, $($arg:tt)*) => {
        match format_args!($($arg)*) {
            args => $crate::Realm::print_line($realm, args),
        }
    };
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
