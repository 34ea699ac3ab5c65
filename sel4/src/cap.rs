//! Typed capabilities and their invocations.
//!
//! A [`Cap<K>`] is a capability pointer (a slot address in the caller's CSpace) tagged with
//! the kind of object it names, so that a TCB invocation cannot be sent to an endpoint by
//! mistake. Invocations go through [`invoke`], which performs the `Call` syscall and turns
//! the reply's label into a `Result`.

use core::marker::PhantomData;

use crate::error::Error;
use crate::kernel::label;
use crate::message::MessageInfo;
use crate::syscall::{self, REGISTER_MESSAGE_WORDS, Registers};

/// A capability pointer: the address of a slot in the caller's CSpace.
pub type CPtr = u64;

/// The kinds of object a capability can name.
pub mod kind {
    /// A kind of kernel object.
    pub trait Kind {
        const NAME: &'static str;
    }

    macro_rules! kinds {
        ($($name:ident),* $(,)?) => {$(
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub enum $name {}
            impl Kind for $name {
                const NAME: &'static str = stringify!($name);
            }
        )*};
    }

    kinds!(Null, IoPort);
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

pub type IoPort = Cap<kind::IoPort>;

/// Invokes `cap` with `label` and up to four argument words (the register message), and
/// returns the reply's registers, or the kernel's error.
pub fn invoke<K: kind::Kind>(cap: Cap<K>, label: u64, args: &[u64]) -> Result<Registers, Error> {
    let mut message = [0; REGISTER_MESSAGE_WORDS];
    let length = args.len().min(REGISTER_MESSAGE_WORDS);
    message[..length].copy_from_slice(&args[..length]);
    let info = match MessageInfo::new(label, 0, length) {
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

impl IoPort {
    /// Writes one byte to I/O `port`.
    pub fn out8(self, port: u16, value: u8) -> Result<(), Error> {
        invoke(self, label::X86_IO_PORT_OUT8, &[port as u64, value as u64]).map(|_| ())
    }

    /// Reads one byte from I/O `port`.
    pub fn in8(self, port: u16) -> Result<u8, Error> {
        invoke(self, label::X86_IO_PORT_IN8, &[port as u64]).map(|reply| reply.message[0] as u8)
    }
}
