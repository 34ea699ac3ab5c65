//! Requests a realm sends to the broker endpoint, and their encoding.
//!
//! | label | request        | words                                                        |
//! |-------|----------------|--------------------------------------------------------------|
//! | 1     | `Register`     | service name, optional interface, optional shared service name |
//! | 2     | `Connect`      | service name, optional interface                             |
//! | 3     | `Disconnect`   | connection word                                              |
//! | 4     | `Grant`        | child realm name, service name                               |
//! | 5     | `RevokeGrant`  | child realm name, service name                               |
//! | 6     | `Status`       | connection word                                              |
//!
//! A name is a length word and the packed bytes ([`Name`], 2 to 5 words); a connection word
//! is described at [`ConnectionId`]. An optional interface is a presence word (0 or 1), then,
//! for 1, the interface's name and its fingerprint word ([`crate::interface`]); an optional
//! shared service name is a presence word (0 or 1), then, for 1, the name. A request has
//! exactly these words: fewer or more is malformed, and so is a presence word other than 0
//! or 1 (`UnknownCode` of `Field::Interface` or `Field::Share`). The largest request, a
//! register with an interface and a share of the longest names, is 18 words.
//!
//! For example a `Connect` of `kv` with no interface is `[2, "kv", 0]`; with the interface
//! `kv` of fingerprint `f` it is `[2, "kv", 1, 2, "kv", f]`.

use crate::error::{Field, Malformed};
use crate::ids::ConnectionId;
use crate::interface::{
    InterfaceId, read_optional, read_optional_name, write_optional, write_optional_name,
};
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
    /// Offer a service under `service`, with the typed `interface` it serves (`None`: no
    /// typed interface, nothing is checked at connect). Without `share`, the broker creates
    /// the service's endpoint and gives the caller a Receive cap to it. With `share`, the
    /// service is served on the endpoint of `share`, another service the caller registered:
    /// no new endpoint and no new cap, the next free [`ServiceIndex`](crate::ServiceIndex)
    /// of that endpoint tells its connections apart (so one thread serves both).
    Register { service: Name, interface: Option<InterfaceId>, share: Option<Name> },
    /// Ask for a connection to `service`, as a client of `interface` (`None`: a raw client,
    /// nothing is checked). If the policy allows and the service's registered interface, if
    /// any, is the same, the broker gives the caller a badged Send cap to the service's
    /// endpoint.
    Connect { service: Name, interface: Option<InterfaceId> },
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
            Self::Register { service, interface, share } => {
                service.write(&mut message);
                write_optional(interface, &mut message);
                write_optional_name(share, &mut message);
            }
            Self::Connect { service, interface } => {
                service.write(&mut message);
                write_optional(interface, &mut message);
            }
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
            RequestKind::Register => Self::Register {
                service: Name::read(&mut reader, Field::ServiceName)?,
                interface: read_optional(&mut reader)?,
                share: read_optional_name(&mut reader, Field::Share, Field::SharedService)?,
            },
            RequestKind::Connect => Self::Connect {
                service: Name::read(&mut reader, Field::ServiceName)?,
                interface: read_optional(&mut reader)?,
            },
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
    use crate::name::{MAX_NAME_BYTES, NameError};

    fn name(text: &str) -> Name {
        Name::new(text).unwrap()
    }

    const KV: u64 = u64::from_le_bytes(*b"kv\0\0\0\0\0\0");

    #[test]
    fn connect_layout() {
        let message = Request::Connect { service: name("kv"), interface: None }.encode();
        assert_eq!(message.label(), 2);
        assert_eq!(message.words(), &[2, KV, 0]);
        let interface = InterfaceId { name: name("kv"), fingerprint: 0xabc };
        let message = Request::Connect { service: name("kv"), interface: Some(interface) }.encode();
        assert_eq!(message.words(), &[2, KV, 1, 2, KV, 0xabc]);
    }

    #[test]
    fn register_layout_has_service_then_interface_then_share() {
        let plain = Request::Register { service: name("kv"), interface: None, share: None };
        assert_eq!(plain.encode().label(), 1);
        assert_eq!(plain.encode().words(), &[2, KV, 0, 0]);
        let interface = Some(InterfaceId { name: name("kv"), fingerprint: 7 });
        let shared = Request::Register { service: name("kv"), interface, share: Some(name("log")) };
        let log = u64::from_le_bytes(*b"log\0\0\0\0\0");
        assert_eq!(shared.encode().words(), &[2, KV, 1, 2, KV, 7, 1, 3, log]);
        assert_eq!(Request::decode(1, shared.encode().words()), Ok(shared));
    }

    #[test]
    fn the_largest_request_fits() {
        let long = name(&"a".repeat(MAX_NAME_BYTES));
        let interface = Some(InterfaceId { name: long, fingerprint: u64::MAX });
        let request = Request::Register { service: long, interface, share: Some(long) };
        assert_eq!(request.encode().words().len(), 18);
        assert_eq!(Request::decode(1, request.encode().words()), Ok(request));
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
        // A name alone is no longer a whole register or connect: the presence words follow.
        assert_eq!(
            Request::decode(1, &[2, KV]),
            Err(Malformed::Truncated { needed: 3, actual: 2 })
        );
        assert_eq!(
            Request::decode(1, &[2, KV, 0]),
            Err(Malformed::Truncated { needed: 4, actual: 3 })
        );
        assert_eq!(
            Request::decode(2, &[2, KV, 3]),
            Err(Malformed::UnknownCode { field: Field::Interface, value: 3 })
        );
        assert_eq!(
            Request::decode(1, &[2, KV, 0, 2]),
            Err(Malformed::UnknownCode { field: Field::Share, value: 2 })
        );
        assert_eq!(
            Request::decode(1, &[2, KV, 0, 1, 0]),
            Err(Malformed::BadName { field: Field::SharedService, error: NameError::Empty })
        );
        assert_eq!(
            Request::decode(2, &[2, KV, 1, 1, u64::from(b'K'), 5]),
            Err(Malformed::BadName {
                field: Field::InterfaceName,
                error: NameError::InvalidByte { index: 0, byte: b'K' }
            })
        );
        assert_eq!(
            Request::decode(2, &[2, KV, 0, 0]),
            Err(Malformed::TrailingWords { expected: 3, actual: 4 })
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
