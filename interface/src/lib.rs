//! `interface`: typed service interfaces between realms, kernel-free (the runtime's seL4 calls
//! are in `realm-runtime`; the declaration syntax is `interface-macro`'s).
//!
//! An interface is declared once, as a trait with `#[interface(name = "...")]` (see
//! [`macro@interface`]); the macro generates the client, the server trait and the dispatch,
//! all of which use only this crate's pieces:
//!
//! - [`wire`]: how each argument and result type travels in seL4 message words (the
//!   [`Wire`] trait: plain data as its bytes, everything else as postcard);
//! - [`reply`]: the reply labels and words a service sends, and how a client classifies a
//!   reply into exactly one of the value, the application error or a transport error;
//! - [`server`]: what the generated dispatch needs from the runtime, the `BAD_REQUEST` reason
//!   codes' checks before dispatch, deferrable answers;
//! - [`fingerprint`]: the compile-time fingerprint of a declaration;
//! - [`section`]: the ELF record of an interface (`ipc::abi::interface_section`).
//!
//! The labels themselves are `ipc::abi::label`'s: a request's label is its operation's number
//! (`1..=0xFFFF`), a reply's label is one of the runtime's reserved labels or a kernel error
//! code.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod fingerprint;
pub mod reply;
pub mod section;
pub mod server;
pub mod wire;

pub use interface_macro::{Wire, interface};
pub use ipc::InterfaceId;
pub use reply::{BadRequest, ReplyError, ReplyMalformed, Response};
pub use server::{Answer, Context, Deferrable, Dispatch};
pub use wire::{DecodeError, EncodeError, Wire, Words};

/// For the generated code: the crates it names, through this crate, so that a realm program
/// needs no dependency of its own on them.
#[doc(hidden)]
pub mod __private {
    pub use ipc;
    pub use postcard;
    pub use serde;
    pub use zerocopy;
}

/// A typed interface: what `#[interface]` generates for the declared trait's name (`Kv` for
/// `trait Kv`), a type with no values.
pub trait Interface {
    /// The interface's name (the one name rule, `ipc::Name`), as declared.
    const NAME: &'static str;
    /// The fingerprint of the whole declaration ([`fingerprint`]).
    const FINGERPRINT: u64;
    /// The client type (`KvClient`), made from a connection by the runtime.
    type Client;

    /// The identity `register` declares and `connect` checks. The macro checks `NAME`
    /// against the name rule when the declaration compiles, so this is an error only for a
    /// hand-written implementation with a bad name.
    fn id() -> Result<InterfaceId, ipc::NameError> {
        Ok(InterfaceId { name: ipc::Name::new(Self::NAME)?, fingerprint: Self::FINGERPRINT })
    }
}
