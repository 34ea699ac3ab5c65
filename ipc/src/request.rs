//! Requests a realm sends to the broker endpoint, and their encoding.
//!
//! | label | request        | words                                           |
//! |-------|----------------|-------------------------------------------------|
//! | 1     | `Register`     | service name                                    |
//! | 2     | `Connect`      | service name                                    |
//! | 3     | `Disconnect`   | connection word                                 |
//! | 4     | `Grant`        | child realm name, service name                  |
//! | 5     | `RevokeGrant`  | child realm name, service name                  |
//! | 6     | `Status`       | connection word                                 |
//!
//! A name is a length word and the packed bytes ([`Name`]); a connection word is described
//! at [`ConnectionId`]. A request has exactly these words: fewer or more is malformed.

use crate::error::{Field, Malformed};
use crate::ids::ConnectionId;
use crate::name::{Name, WireName};
use crate::wire::{Message, Reader};

wire_codes! {
    /// The kind of a request: the label of its message.
    pub enum RequestKind {
        Register = 1,
        Connect = 2,
        Disconnect = 3,
        Grant = 4,
        RevokeGrant = 5,
        Status = 6,
    }
}

/// A request to the broker. The caller is never part of it: the broker takes it from the
/// badge the kernel delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Offer a service under `service`. The broker creates its endpoint and gives the caller a
    /// Receive cap to it.
    Register { service: Name },
    /// Ask for a connection to `service`. If the policy allows, the broker gives the caller a
    /// badged Send cap to the service's endpoint.
    Connect { service: Name },
    /// Close one of the caller's connections.
    Disconnect { connection: ConnectionId },
    /// As `child`'s parent, let it reach `service`.
    Grant { child: Name, service: Name },
    /// As `child`'s parent, take back a grant; connections that relied on it are closed.
    RevokeGrant { child: Name, service: Name },
    /// Ask whether one of the caller's connections is still open, and if not, why: a client
    /// whose call failed learns `Disconnected` or `ServiceRestarted`.
    Status { connection: ConnectionId },
}

impl Request {
    /// The request's kind.
    pub const fn kind(&self) -> RequestKind {
        match self {
            Self::Register { .. } => RequestKind::Register,
            Self::Connect { .. } => RequestKind::Connect,
            Self::Disconnect { .. } => RequestKind::Disconnect,
            Self::Grant { .. } => RequestKind::Grant,
            Self::RevokeGrant { .. } => RequestKind::RevokeGrant,
            Self::Status { .. } => RequestKind::Status,
        }
    }

    /// The request as a message (label and words).
    pub fn encode(&self) -> Message {
        let mut message = Message::new(self.kind().code());
        match self {
            Self::Register { service } | Self::Connect { service } => service.write(&mut message),
            Self::Disconnect { connection } | Self::Status { connection } => {
                message.push(connection.to_word());
            }
            Self::Grant { child, service } | Self::RevokeGrant { child, service } => {
                child.write(&mut message);
                service.write(&mut message);
            }
        }
        message
    }

    /// Decodes a received request: `label` from the message-info word, `words` the message
    /// words. Never panics; says exactly what was wrong.
    pub fn decode(label: u64, words: &[u64]) -> Result<Self, Malformed> {
        let kind = RequestKind::from_code(label).ok_or(Malformed::UnknownLabel { label })?;
        let mut reader = Reader::new(words);
        let request = match kind {
            RequestKind::Register => {
                Self::Register { service: Name::read(&mut reader, Field::ServiceName)? }
            }
            RequestKind::Connect => {
                Self::Connect { service: Name::read(&mut reader, Field::ServiceName)? }
            }
            RequestKind::Disconnect => {
                Self::Disconnect { connection: read_connection(&mut reader)? }
            }
            RequestKind::Grant => Self::Grant {
                child: Name::read(&mut reader, Field::RealmName)?,
                service: Name::read(&mut reader, Field::ServiceName)?,
            },
            RequestKind::RevokeGrant => Self::RevokeGrant {
                child: Name::read(&mut reader, Field::RealmName)?,
                service: Name::read(&mut reader, Field::ServiceName)?,
            },
            RequestKind::Status => Self::Status { connection: read_connection(&mut reader)? },
        };
        reader.finish()?;
        Ok(request)
    }
}

/// Reads a connection word.
pub(crate) fn read_connection(reader: &mut Reader<'_>) -> Result<ConnectionId, Malformed> {
    let value = reader.word()?;
    ConnectionId::from_word(value).ok_or(Malformed::BadConnectionId { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::NameError;

    fn name(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    #[test]
    fn connect_layout() {
        let message = Request::Connect { service: name("kv") }.encode();
        assert_eq!(message.label(), 2);
        assert_eq!(message.words(), &[2, u64::from_le_bytes(*b"kv\0\0\0\0\0\0")]);
    }

    #[test]
    fn grant_layout_has_child_then_service() {
        let message = Request::Grant { child: name("plugin"), service: name("kv") }.encode();
        assert_eq!(message.label(), 4);
        assert_eq!(
            message.words(),
            &[6, u64::from_le_bytes(*b"plugin\0\0"), 2, u64::from_le_bytes(*b"kv\0\0\0\0\0\0")]
        );
    }

    #[test]
    fn decode_reports_what_was_wrong() {
        assert_eq!(Request::decode(0, &[]), Err(Malformed::UnknownLabel { label: 0 }));
        assert_eq!(Request::decode(1, &[]), Err(Malformed::Truncated { needed: 1, actual: 0 }));
        assert_eq!(
            Request::decode(1, &[0]),
            Err(Malformed::BadName { field: Field::ServiceName, error: NameError::Empty })
        );
        assert_eq!(
            Request::decode(3, &[0x405, 0]),
            Err(Malformed::TrailingWords { expected: 1, actual: 2 })
        );
        assert_eq!(Request::decode(6, &[0x5]), Err(Malformed::BadConnectionId { value: 5 }));
        assert_eq!(
            Request::decode(4, &[1, u64::from(b'a'), 1, u64::from(b'!')]),
            Err(Malformed::BadName {
                field: Field::ServiceName,
                error: NameError::InvalidByte { index: 0, byte: b'!' }
            })
        );
    }
}
