//! The services of tests/systems/lifecycle.toml: what they take and give back.
#![forbid(unsafe_code)]
#![no_std]

use heapless::String;
use serde::{Deserialize, Serialize};

/// A realm or service name.
pub type Name = String<32>;

/// Makes a [`Name`], cutting what does not fit.
pub fn name(text: &str) -> Name {
    let mut name = Name::new();
    for character in text.chars() {
        if name.push(character).is_err() {
            break;
        }
    }
    name
}

/// `keeper`, served by the parent `init`: grants and revokes on its children's behalf, and
/// closes the connection of a client that asks to be kicked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeeperRequest {
    Grant {
        child: Name,
        service: Name,
    },
    Revoke {
        child: Name,
        service: Name,
    },
    /// Close the connection this request came on.
    Kick,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeeperResponse {
    Done,
    Refused,
}

/// `echo`: returns `generation * 1000 + value`; the value [`CRASH`] makes it fault instead,
/// and [`QUIT`] makes it exit in the middle of the request.
pub const CRASH: u64 = u64::MAX;
pub const QUIT: u64 = u64::MAX - 1;
