//! `ipc`: the protocol between realms and the broker (the memory manager), as seL4 messages.
//!
//! This crate is the protocol: the realm runtime encodes [`Request`]s and decodes
//! [`Reply`]s, the memory manager does the opposite. It never touches the kernel. The words
//! it carries ([`Name`] and its rule, [`RealmId`], the limits) come from the `vocabulary`
//! crate and are re-exported here; the badge width and the conversion of a [`Badge`] to
//! the kernel's badge type come from the `sel4` binding.
//!
//! # Messages
//!
//! A request is one seL4 `Call` on the broker endpoint. The message-info **label** carries the
//! request kind ([`RequestKind`]), the message words carry its fields; no extra caps travel in
//! either direction. A reply's label carries the reply kind ([`ReplyKind`]): a success kind or
//! an error kind, each with its own fields. See [`Message`] for the word layout of each field.
//!
//! The encoding is hand-written and fixed-layout (no postcard, no zerocopy): every field is one
//! or more whole `u64` words at a known position, so decoding reads words with bounds-checked
//! accesses, never panics, and can say exactly which field was wrong ([`Malformed`]). The
//! largest message (a register with an interface and a shared endpoint, every name 32 bytes)
//! is 18 words ([`MAX_PROTOCOL_WORDS`]), far below seL4's 120.
//!
//! # Who creates service endpoints
//!
//! The broker does. A realm registering a service sends only names (the service's, its typed
//! interface's, and the service whose endpoint it shares, if any); the broker creates the
//! endpoint object in its own CSpace (keeping the original cap) and copies a Receive-only cap
//! into the realm's CSpace, at a slot the reply names. So no cap ever travels from a realm to
//! the broker, the broker endpoint needs no Grant right for that, and the broker holds the
//! original of every service endpoint: revoking it removes every cap derived from it. A
//! register that shares the endpoint of another service of the caller gets no new endpoint and
//! no new cap: the reply names the same slot and the [`ServiceIndex`] that the badges of the
//! new service's connections carry.
//!
//! # Identity
//!
//! The broker learns who is calling from the badge of the broker endpoint cap the kernel
//! delivered ([`Badge::for_realm`]), never from the message. A service learns which connection
//! a message came on from the badge of its endpoint ([`Badge::for_connection`]).
#![forbid(unsafe_code)]
// Everything a realm sends is decoded here: no index, unwrap or panic may stop the decoder.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

#[macro_use]
mod wire;

pub mod abi;
pub mod badge;
pub mod console;
pub mod error;
pub mod ids;
pub mod interface;
pub mod name;
pub mod realm;
pub mod reply;
pub mod request;
pub mod rule;

pub use badge::{Badge, BadgeError, BadgeKind, ServiceIndex};
pub use error::{CloseReason, Error, Field, Malformed, Missing, Resource};
pub use ids::{ConnectionId, RealmId, ThreadEnding, ThreadId};
pub use interface::{InterfaceId, MAX_OPTIONAL_INTERFACE_WORDS};
pub use name::{MAX_NAME_BYTES, Name, NameError};
pub use reply::{Reply, ReplyKind, Response, decode_reply, encode_reply, reply_kind};
pub use request::{Request, RequestKind};
pub use rule::Rule;
pub use wire::{MAX_PROTOCOL_WORDS, Message};
