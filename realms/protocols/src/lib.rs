//! The demo's service interfaces, each declared once with `#[realm_runtime::interface]`: the
//! logger's [`Log`], the store's [`Kv`] and the app's [`PluginApi`]. The macro generates,
//! for each, the client (`KvClient`, what `realm.connect::<Kv>("kv")` returns) and the server
//! trait (`KvServer`, which the service implements and serves with a
//! `realm_runtime::Server`); clients and services share this crate.
//!
//! On the wire a call is one seL4 Call: the operation's number is the label, the arguments
//! follow one another in the message words. A [`Text`] travels as postcard bytes behind a
//! length word (at most 10 words for 64 bytes); the application errors ([`KvError`],
//! [`PluginError`]) as postcard too, in an `ERROR` reply.
#![forbid(unsafe_code)]
#![no_std]

use heapless::String;
use realm_runtime::Wire;
use serde::{Deserialize, Serialize};

/// A short text: at most 64 bytes of UTF-8.
pub type Text = String<64>;

/// Makes a [`Text`], cutting what does not fit.
pub fn text(from: &str) -> Text {
    let mut text = Text::new();
    for character in from.chars() {
        if text.push(character).is_err() {
            break;
        }
    }
    text
}

/// The `log` service: lines printed on the console with the client's name, which the
/// logger learns from the connection's badge, not from the message.
#[realm_runtime::interface(name = "log")]
pub trait Log {
    /// Prints `line` as `[logger] <client realm>: <line>`.
    fn line(line: Text);
}

/// Why the store refused an operation: its application error, in an `ERROR` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Wire)]
#[wire(postcard)]
pub enum KvError {
    /// `get`: the key is not in the store.
    Missing,
    /// `put`: the key is new and the store holds as many keys as it can (16).
    Full,
}

/// The `kv` service: a small key-value store of texts, which logs every operation.
#[realm_runtime::interface(name = "kv")]
pub trait Kv {
    /// The value stored under `key`. Idempotent: after the store restarted, the client
    /// connects again and asks once more (the restarted store has lost what it held, so the
    /// answer may then be `Missing`).
    #[idempotent]
    fn get(key: Text) -> Result<Text, KvError>;
    /// Stores `value` under `key`, replacing what was there.
    fn put(key: Text, value: Text) -> Result<(), KvError>;
}

/// Why the app could not do what its plugin asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Wire)]
#[wire(postcard)]
pub enum PluginError {
    /// `lookup`: the key is not in the store.
    Missing,
    /// The service the app relays to (`log` or `kv`) could not be reached, or refused:
    /// the app's sentence for why.
    Unavailable(Text),
}

/// The `plugin-api` service: what the app does on behalf of its plugin, which may reach
/// neither the logger nor the store itself.
#[realm_runtime::interface(name = "plugin-api")]
pub trait PluginApi {
    /// Logs `line` as `on behalf of <plugin>: <line>`.
    fn log(line: Text) -> Result<(), PluginError>;
    /// Looks `key` up in the store.
    #[idempotent]
    fn lookup(key: Text) -> Result<Text, PluginError>;
}
