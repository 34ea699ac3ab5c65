//! The demo's service interfaces: what each service takes and gives back. Clients and
//! services share these types; `realm-runtime` carries them as postcard bytes.
#![forbid(unsafe_code)]
#![no_std]

use heapless::String;
use serde::{Deserialize, Serialize};

/// A short text.
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

/// The `log` service: one line, printed with the client's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine(pub Text);

/// The `kv` service's requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvRequest {
    Put { key: Text, value: Text },
    Get { key: Text },
}

/// The `kv` service's responses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResponse {
    Stored,
    Found(Text),
    Missing,
    Full,
}

/// The `plugin-api` service: what the app offers its plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginRequest {
    /// Log a line on the plugin's behalf (the plugin may not reach the logger).
    Log(Text),
    /// Look a key up in the store on the plugin's behalf.
    Lookup(Text),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginResponse {
    Logged,
    Value(Option<Text>),
    Failed(Text),
}
