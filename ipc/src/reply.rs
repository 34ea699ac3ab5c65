//! Replies from the broker, and their encoding.
//!
//! The label says which response or error it is ([`ReplyKind`]); the words carry its fields:
//!
//! | label | reply               | words                                              |
//! |-------|---------------------|----------------------------------------------------|
//! | 1     | `Registered`        | endpoint slot, generation, service index (0 to 7)  |
//! | 2     | `Connected`         | connection word, slot, service generation          |
//! | 3     | `Done`              | none                                               |
//! | 4     | `Live`              | service generation                                 |
//! | 16    | `NotFound`          | [`Missing`] code                                   |
//! | 17    | `Denied`            | [`Rule`] code                                      |
//! | 18    | `AlreadyRegistered` | none                                               |
//! | 19    | `QuotaExceeded`     | [`Resource`] code                                  |
//! | 20    | `MalformedRequest`  | reason code, then the reason's fields (one word each) |
//! | 21    | `Disconnected`      | [`CloseReason`] code                               |
//! | 22    | `ServiceRestarted`  | new generation                                     |
//! | 23    | `NotOwner`          | none                                               |
//! | 24    | `ServiceRestarting` | none                                               |
//! | 25    | `NotYetRegistered`  | none                                               |
//! | 26    | `ServiceGone`       | none                                               |
//! | 27    | `InterfaceMismatch` | none                                               |
//!
//! Generations are 32-bit values carried in one word each.

use crate::badge::ServiceIndex;
use crate::error::{CloseReason, Error, Field, Malformed, Missing, Resource};
use crate::ids::ConnectionId;
use crate::request::read_connection;
use crate::rule::Rule;
use crate::wire::{Message, Reader};

/// What a request achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// The service is registered: the caller's Receive cap to its endpoint is in
    /// `endpoint_slot` of the caller's CSpace (for a register that shares an endpoint, the
    /// shared service's slot); `generation` is this instance's generation; `index` is the
    /// service's place on the endpoint, which the badge of each of its connections carries
    /// ([`ServiceIndex::FIRST`] for a service with an endpoint of its own).
    Registered { endpoint_slot: u64, generation: u32, index: ServiceIndex },
    /// The connection is open: the caller's Send cap is in `slot` of its CSpace, badged
    /// with `connection`; `service_generation` is the instance it reaches.
    Connected { connection: ConnectionId, slot: u64, service_generation: u32 },
    /// Disconnect, grant or revoke done.
    Done,
    /// The connection is open and reaches the service instance `service_generation`.
    Live { service_generation: u32 },
}

/// A broker reply.
pub type Reply = Result<Response, Error>;

wire_codes! {
    /// The kind of a reply: the label of its message.
    pub enum ReplyKind {
        Registered = 1,
        Connected = 2,
        Done = 3,
        Live = 4,
        NotFound = 16,
        Denied = 17,
        AlreadyRegistered = 18,
        QuotaExceeded = 19,
        MalformedRequest = 20,
        Disconnected = 21,
        ServiceRestarted = 22,
        NotOwner = 23,
        ServiceRestarting = 24,
        NotYetRegistered = 25,
        ServiceGone = 26,
        InterfaceMismatch = 27,
    }
}

/// The kind of `reply`.
pub const fn reply_kind(reply: &Reply) -> ReplyKind {
    match reply {
        Ok(Response::Registered { .. }) => ReplyKind::Registered,
        Ok(Response::Connected { .. }) => ReplyKind::Connected,
        Ok(Response::Done) => ReplyKind::Done,
        Ok(Response::Live { .. }) => ReplyKind::Live,
        Err(Error::NotFound { .. }) => ReplyKind::NotFound,
        Err(Error::Denied { .. }) => ReplyKind::Denied,
        Err(Error::AlreadyRegistered) => ReplyKind::AlreadyRegistered,
        Err(Error::QuotaExceeded { .. }) => ReplyKind::QuotaExceeded,
        Err(Error::MalformedRequest { .. }) => ReplyKind::MalformedRequest,
        Err(Error::Disconnected { .. }) => ReplyKind::Disconnected,
        Err(Error::ServiceRestarted { .. }) => ReplyKind::ServiceRestarted,
        Err(Error::NotOwner) => ReplyKind::NotOwner,
        Err(Error::ServiceRestarting) => ReplyKind::ServiceRestarting,
        Err(Error::NotYetRegistered) => ReplyKind::NotYetRegistered,
        Err(Error::ServiceGone) => ReplyKind::ServiceGone,
        Err(Error::InterfaceMismatch) => ReplyKind::InterfaceMismatch,
    }
}

/// The reply as a message (label and words).
pub fn encode_reply(reply: &Reply) -> Message {
    let mut message = Message::new(reply_kind(reply).code());
    match *reply {
        Ok(Response::Registered { endpoint_slot, generation, index }) => {
            message.push(endpoint_slot);
            message.push(generation.into());
            message.push(index.get().into());
        }
        Ok(Response::Connected { connection, slot, service_generation }) => {
            message.push(connection.to_word());
            message.push(slot);
            message.push(service_generation.into());
        }
        Ok(Response::Live { service_generation }) => message.push(service_generation.into()),
        Err(Error::NotFound { what }) => message.push(what.code()),
        Err(Error::Denied { rule }) => message.push(rule.code()),
        Err(Error::QuotaExceeded { what }) => message.push(what.code()),
        Err(Error::MalformedRequest { reason }) => reason.write(&mut message),
        Err(Error::Disconnected { reason }) => message.push(reason.code()),
        Err(Error::ServiceRestarted { generation }) => message.push(generation.into()),
        Ok(Response::Done)
        | Err(Error::AlreadyRegistered)
        | Err(Error::NotOwner)
        | Err(Error::ServiceRestarting)
        | Err(Error::NotYetRegistered)
        | Err(Error::ServiceGone)
        | Err(Error::InterfaceMismatch) => {}
    }
    message
}

/// Decodes a received reply. Never panics; says exactly what was wrong.
pub fn decode_reply(label: u64, words: &[u64]) -> Result<Reply, Malformed> {
    let kind = ReplyKind::from_code(label).ok_or(Malformed::UnknownLabel { label })?;
    let mut reader = Reader::new(words);
    let reply = read_fields(kind, &mut reader)?;
    reader.finish()?;
    Ok(reply)
}

/// Reads the fields of a reply of `kind`.
fn read_fields(kind: ReplyKind, reader: &mut Reader<'_>) -> Result<Reply, Malformed> {
    Ok(match kind {
        ReplyKind::Registered => Ok(Response::Registered {
            endpoint_slot: reader.word()?,
            generation: reader.u32(Field::Generation)?,
            index: reader
                .code(Field::ServiceIndex, |value| ServiceIndex::new(u8::try_from(value).ok()?))?,
        }),
        ReplyKind::Connected => Ok(Response::Connected {
            connection: read_connection(reader)?,
            slot: reader.word()?,
            service_generation: reader.u32(Field::Generation)?,
        }),
        ReplyKind::Done => Ok(Response::Done),
        ReplyKind::Live => {
            Ok(Response::Live { service_generation: reader.u32(Field::Generation)? })
        }
        ReplyKind::NotFound => {
            Err(Error::NotFound { what: reader.code(Field::Missing, Missing::from_code)? })
        }
        ReplyKind::Denied => {
            Err(Error::Denied { rule: reader.code(Field::Rule, Rule::from_code)? })
        }
        ReplyKind::AlreadyRegistered => Err(Error::AlreadyRegistered),
        ReplyKind::QuotaExceeded => {
            Err(Error::QuotaExceeded { what: reader.code(Field::Resource, Resource::from_code)? })
        }
        ReplyKind::MalformedRequest => {
            Err(Error::MalformedRequest { reason: Malformed::read(reader)? })
        }
        ReplyKind::Disconnected => Err(Error::Disconnected {
            reason: reader.code(Field::CloseReason, CloseReason::from_code)?,
        }),
        ReplyKind::ServiceRestarted => {
            Err(Error::ServiceRestarted { generation: reader.u32(Field::Generation)? })
        }
        ReplyKind::NotOwner => Err(Error::NotOwner),
        ReplyKind::ServiceRestarting => Err(Error::ServiceRestarting),
        ReplyKind::NotYetRegistered => Err(Error::NotYetRegistered),
        ReplyKind::ServiceGone => Err(Error::ServiceGone),
        ReplyKind::InterfaceMismatch => Err(Error::InterfaceMismatch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_layout() {
        let connection = ConnectionId::new(2, 7).unwrap();
        let message =
            encode_reply(&Ok(Response::Connected { connection, slot: 40, service_generation: 3 }));
        assert_eq!(message.label(), 2);
        assert_eq!(message.words(), &[0x1c02, 40, 3]);
    }

    #[test]
    fn registered_layout_ends_with_the_service_index() {
        let index = ServiceIndex::new(3).unwrap();
        let reply = Ok(Response::Registered { endpoint_slot: 40, generation: 2, index });
        let message = encode_reply(&reply);
        assert_eq!((message.label(), message.words()), (1, &[40, 2, 3][..]));
        assert_eq!(decode_reply(1, message.words()), Ok(reply));
        let mismatch = encode_reply(&Err(Error::InterfaceMismatch));
        assert_eq!((mismatch.label(), mismatch.words()), (27, &[][..]));
        assert_eq!(decode_reply(27, &[]), Ok(Err(Error::InterfaceMismatch)));
    }

    #[test]
    fn denied_layout() {
        let message = encode_reply(&Err(Error::Denied { rule: Rule::NotInAllowedClients }));
        assert_eq!(message.label(), 17);
        assert_eq!(message.words(), &[8]);
    }

    #[test]
    fn decode_reports_what_was_wrong() {
        assert_eq!(decode_reply(5, &[]), Err(Malformed::UnknownLabel { label: 5 }));
        assert_eq!(
            decode_reply(17, &[99]),
            Err(Malformed::UnknownCode { field: Field::Rule, value: 99 })
        );
        assert_eq!(
            decode_reply(1, &[4, 1 << 32, 0]),
            Err(Malformed::OutOfRange { field: Field::Generation, value: 1 << 32 })
        );
        assert_eq!(decode_reply(1, &[4, 1]), Err(Malformed::Truncated { needed: 3, actual: 2 }));
        assert_eq!(
            decode_reply(1, &[4, 1, 8]),
            Err(Malformed::UnknownCode { field: Field::ServiceIndex, value: 8 })
        );
        assert_eq!(
            decode_reply(1, &[4, 1, 1 << 40]),
            Err(Malformed::UnknownCode { field: Field::ServiceIndex, value: 1 << 40 })
        );
        assert_eq!(
            decode_reply(20, &[4, 1, 9]),
            Err(Malformed::UnknownCode { field: Field::NameError, value: 9 })
        );
        assert_eq!(decode_reply(3, &[0]), Err(Malformed::TrailingWords { expected: 0, actual: 1 }));
    }
}
