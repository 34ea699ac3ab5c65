//! Typed capabilities and their invocations.
//!
//! A [`Cap<K>`] is a capability pointer (a slot address in the caller's CSpace) tagged with
//! the kind of object it names, so that a TCB invocation cannot be sent to an endpoint by
//! mistake. Each kind's invocations live in a submodule; each builds an [`Invocation`] (label,
//! argument words, extra caps) in a pure function that host tests check, then sends it:
//! through the registers when it has at most four words and no caps ([`invoke`]), through
//! the caller's [`IpcBuffer`] otherwise. Every invocation returns `Result<_, Error>`.
//!
//! - [`rights`]: rights, badges, CNode guards (the data of a Mint or Mutate).
//! - [`cnode`]: [`CSlot`] and the CNode operations (copy, mint, move, mutate, delete, revoke,
//!   cancel badged sends, save caller).
//! - [`untyped`]: [`ObjectType`] and Untyped_Retype.
//! - [`tcb`]: thread configuration, priorities, registers, suspend/resume, notifications.
//! - [`vspace`]: x86_64 paging structures, frames, ASID pools.
//! - [`ioport`]: x86 I/O ports.
//! - [`irq`]: interrupts: IRQ handlers for IOAPIC pins, their notification, ack and clear.
//!
//! IPC on endpoints and notifications (which are syscalls on a capability, not invocations)
//! is in [`crate::ipc`].

use core::marker::PhantomData;

use crate::error::Error;
use crate::ipc_buffer::IpcBuffer;
use crate::message::MessageInfo;
use crate::syscall::{self, REGISTER_MESSAGE_WORDS, Registers};

pub mod cnode;
pub mod ioport;
pub mod irq;
pub mod rights;
pub mod tcb;
pub mod untyped;
pub mod vspace;

pub use cnode::CSlot;
pub use rights::{Badge, CNodeGuard, CapData, Rights};
pub use untyped::{ObjectType, RetypeTarget};

/// A capability pointer: the address of a slot in the caller's CSpace.
pub type CPtr = u64;

/// The number of bits a CPtr resolves: a CSlot of depth `WORD_BITS` names a slot by its CPtr.
pub const WORD_BITS: u8 = 64;

/// The kinds of object a capability can name.
pub mod kind {
    use crate::debug::CapType;

    /// A kind of kernel object.
    pub trait Kind {
        const NAME: &'static str;
        /// What `DebugCapIdentify` reports for a capability of this kind.
        const CAP_TYPE: CapType;
    }

    macro_rules! kinds {
        ($($(#[$doc:meta])* $name:ident => $cap_type:ident),* $(,)?) => {$(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub enum $name {}
            impl Kind for $name {
                const NAME: &'static str = stringify!($name);
                const CAP_TYPE: CapType = CapType::$cap_type;
            }
        )*};
    }

    kinds!(
        /// An empty slot.
        Null => Null,
        /// Untyped memory, from which every other object is made.
        Untyped => Untyped,
        /// A table of capability slots.
        CNode => CNode,
        /// A synchronous IPC rendezvous.
        Endpoint => Endpoint,
        /// A word of asynchronous signals.
        Notification => Notification,
        /// The right to answer one Call (made by `CNode_SaveCaller`).
        Reply => Reply,
        /// A thread control block.
        Tcb => Tcb,
        /// The top-level page table of an x86_64 address space (the VSpace root).
        Pml4 => Pml4,
        /// A page-directory pointer table (1 GiB per entry).
        Pdpt => Pdpt,
        /// A page directory (2 MiB per entry).
        PageDirectory => PageDirectory,
        /// A page table (4 KiB per entry).
        PageTable => PageTable,
        /// A 4 KiB frame.
        Frame => Frame,
        /// A 2 MiB frame.
        LargePage => Frame,
        /// A pool of address-space identifiers.
        AsidPool => AsidPool,
        /// The authority to make ASID pools.
        AsidControl => AsidControl,
        /// A range of x86 I/O ports.
        IoPort => IoPort,
        /// The authority over interrupt lines.
        IrqControl => IrqControl,
        /// The authority over one interrupt line: where it signals, and its acknowledgement.
        IrqHandler => IrqHandler,
    );
}

/// A capability to an object of kind `K`.
#[derive(Debug, PartialEq, Eq)]
pub struct Cap<K: kind::Kind> {
    cptr: CPtr,
    kind: PhantomData<K>,
}

impl<K: kind::Kind> Clone for Cap<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: kind::Kind> Copy for Cap<K> {}

impl<K: kind::Kind> Cap<K> {
    /// Names the capability in slot `cptr`; the caller asserts its kind.
    pub const fn from_cptr(cptr: CPtr) -> Self {
        Self { cptr, kind: PhantomData }
    }

    pub const fn cptr(self) -> CPtr {
        self.cptr
    }

    /// Reinterprets the capability as another kind.
    pub const fn cast<L: kind::Kind>(self) -> Cap<L> {
        Cap::from_cptr(self.cptr)
    }
}

pub type Untyped = Cap<kind::Untyped>;
pub type CNode = Cap<kind::CNode>;
pub type Endpoint = Cap<kind::Endpoint>;
pub type Notification = Cap<kind::Notification>;
pub type Reply = Cap<kind::Reply>;
pub type Tcb = Cap<kind::Tcb>;
pub type Pml4 = Cap<kind::Pml4>;
/// The root of an address space: on x86_64 its PML4.
pub type VSpace = Pml4;
pub type Pdpt = Cap<kind::Pdpt>;
pub type PageDirectory = Cap<kind::PageDirectory>;
pub type PageTable = Cap<kind::PageTable>;
pub type Frame = Cap<kind::Frame>;
pub type LargePage = Cap<kind::LargePage>;
pub type AsidPool = Cap<kind::AsidPool>;
pub type AsidControl = Cap<kind::AsidControl>;
pub type IoPort = Cap<kind::IoPort>;
pub type IrqControl = Cap<kind::IrqControl>;
pub type IrqHandler = Cap<kind::IrqHandler>;

/// The capabilities the kernel puts in the root task's CNode at boot, typed.
pub mod init {
    use super::*;
    use crate::kernel::init_slot;

    pub const TCB: Tcb = Cap::from_cptr(init_slot::TCB);
    pub const CNODE: CNode = Cap::from_cptr(init_slot::CNODE);
    pub const VSPACE: VSpace = Cap::from_cptr(init_slot::VSPACE);
    pub const IRQ_CONTROL: IrqControl = Cap::from_cptr(init_slot::IRQ_CONTROL);
    pub const ASID_CONTROL: AsidControl = Cap::from_cptr(init_slot::ASID_CONTROL);
    pub const ASID_POOL: AsidPool = Cap::from_cptr(init_slot::ASID_POOL);
    pub const IO_PORT: IoPort = Cap::from_cptr(init_slot::IO_PORT);
    pub const IPC_BUFFER: Frame = Cap::from_cptr(init_slot::IPC_BUFFER);
}

/// One invocation as the kernel reads it: the label, the argument words (message registers
/// 0..WORDS) and the extra capabilities (CPtrs in the invoker's CSpace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invocation<const WORDS: usize, const CAPS: usize> {
    pub label: u64,
    pub words: [u64; WORDS],
    pub caps: [CPtr; CAPS],
}

impl<const WORDS: usize> Invocation<WORDS, 0> {
    /// An invocation without extra caps.
    pub const fn words(label: u64, words: [u64; WORDS]) -> Self {
        Self { label, words, caps: [] }
    }
}

impl<const WORDS: usize, const CAPS: usize> Invocation<WORDS, CAPS> {
    /// The message info word that heads this invocation (the label's bits above the 20 the
    /// kernel reads are dropped; the calls refuse such a label).
    pub const fn info(&self) -> MessageInfo {
        const {
            assert!(WORDS <= crate::message::MAX_MESSAGE_WORDS);
            assert!(CAPS <= crate::message::MAX_EXTRA_CAPS);
        }
        let label = self.label & crate::message::MAX_LABEL;
        MessageInfo::from_word((label << 12) | ((CAPS as u64) << 7) | WORDS as u64)
    }

    /// Labels are kernel constants below 2^20; anything wider is a caller's mistake.
    fn check_label(&self) -> Result<(), Error> {
        if self.label > crate::message::MAX_LABEL {
            return Err(Error::InvalidArgument);
        }
        Ok(())
    }

    /// Sends this invocation to `cap` through the registers alone: it must have at most four
    /// words and no caps (checked at compile time). Returns the reply's registers.
    pub fn call_in_registers<K: kind::Kind>(&self, cap: Cap<K>) -> Result<Registers, Error> {
        const { assert!(WORDS <= REGISTER_MESSAGE_WORDS && CAPS == 0) };
        self.check_label()?;
        let mut message = [0; REGISTER_MESSAGE_WORDS];
        message[..WORDS].copy_from_slice(&self.words);
        let reply = syscall::syscall(
            syscall::number::CALL,
            Registers { cap_or_badge: cap.cptr(), info: self.info().word(), message },
        );
        Error::check(MessageInfo::from_word(reply.info).label())?;
        Ok(reply)
    }

    /// Sends this invocation to `cap` through the caller's IPC buffer. On success the reply's
    /// words are in `ipc` (see [`IpcBuffer::message`]).
    pub fn call_with_buffer<K: kind::Kind>(
        &self,
        ipc: &mut IpcBuffer,
        cap: Cap<K>,
    ) -> Result<MessageInfo, Error> {
        self.check_label()?;
        ipc.msg_mut()[..WORDS].copy_from_slice(&self.words);
        ipc.caps_or_badges_mut()[..CAPS].copy_from_slice(&self.caps);
        let reply = crate::ipc::call(ipc, cap.cptr(), self.info());
        Error::check(reply.label())?;
        Ok(reply)
    }
}

/// Invokes `cap` with `label` and up to four argument words (the register message), and
/// returns the reply's registers, or the kernel's error. More than four words is
/// [`Error::InvalidArgument`]: use an [`Invocation`] with an [`IpcBuffer`] for those.
pub fn invoke<K: kind::Kind>(cap: Cap<K>, label: u64, args: &[u64]) -> Result<Registers, Error> {
    if args.len() > REGISTER_MESSAGE_WORDS {
        return Err(Error::InvalidArgument);
    }
    let mut message = [0; REGISTER_MESSAGE_WORDS];
    message[..args.len()].copy_from_slice(args);
    let info = match MessageInfo::new(label, 0, args.len()) {
        Ok(info) => info,
        Err(_) => return Err(Error::InvalidArgument),
    };
    let reply = syscall::syscall(
        syscall::number::CALL,
        Registers { cap_or_badge: cap.cptr(), info: info.word(), message },
    );
    Error::check(MessageInfo::from_word(reply.info).label())?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_info_counts_words_and_caps() {
        let invocation = Invocation { label: 18, words: [1, 2, 3, 4, 5, 6], caps: [9] };
        let info = invocation.info();
        assert_eq!(info.label(), 18);
        assert_eq!(info.length(), 6);
        assert_eq!(info.extra_caps(), 1);
        assert_eq!(info, MessageInfo::new(18, 1, 6).unwrap());
        assert_eq!(Invocation::words(10, []).info().word(), 10 << 12);
    }

    #[test]
    fn a_label_wider_than_20_bits_is_refused_before_the_kernel() {
        let invocation = Invocation::words(1 << 20, [1]);
        assert_eq!(invocation.info().label(), 0);
        assert_eq!(invocation.call_in_registers(init::TCB), Err(Error::InvalidArgument));
    }

    #[test]
    fn casting_keeps_the_slot() {
        let endpoint: Endpoint = Cap::from_cptr(42);
        let frame: Frame = endpoint.cast();
        assert_eq!(frame.cptr(), 42);
        assert_eq!(init::CNODE.cptr(), crate::kernel::init_slot::CNODE);
    }
}
