//! `vocabulary`: the words every Switchboard crate shares, each defined once.
//!
//! - [`Name`]: the name of a realm or a service, with its one rule (1 to 32 bytes of `a-z`,
//!   `0-9`, `-`). `system.toml`'s parser, the protocol decoder (`ipc`), the realm runtime and
//!   the broker all decide with [`Name::new`] / [`Name::from_bytes`].
//! - [`ProgramName`]: a different thing: the Cargo package a realm runs (`program = "..."` in
//!   `system.toml`), with its own rule.
//! - [`RealmId`], [`ServiceId`]: the two ids (see each for what it indexes). A connection's id
//!   (`ipc::ConnectionId`) stays in `ipc`: its bit layout *is* the protocol's connection word
//!   and the low bits of a connection badge.
//! - [`limits`]: every project limit (realms, services, connections, grants, name lengths,
//!   threads and slots per realm) with why it is that number, and the kernel facts (page
//!   bytes, message words) re-exported from the `sel4` binding, their one home.
//!
//! It never touches the kernel: the only dependency on `sel4` is for those two constants.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
// Every name a realm sends is checked here: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod ids;
pub mod limits;
pub mod name;

pub use ids::{RealmId, ServiceId};
pub use name::{Name, NameError, ProgramName};
