//! The few places where the runtime meets protocol pieces that other parts of issue 13 add
//! at the same time (the broker's `interface` and `share` fields, the memory manager's bound
//! notification): each is one small function, so that the merge changes only this file.
//!
//! Until then: `interface` is not sent (no connect is refused for a mismatch), a shared
//! register is refused here (nothing is sent), every service is at `ServiceIndex::FIRST`,
//! and binding a notification is refused.

use ipc::{InterfaceId, Name, Request, Response, ServiceIndex};

use crate::{Error, Realm};

/// The register request for `service`, declaring `interface`, sharing the endpoint of this
/// realm's service `share`.
pub(crate) fn register_request(
    service: Name,
    _interface: Option<InterfaceId>,
    share: Option<Name>,
) -> Result<Request, Error> {
    match share {
        None => Ok(Request::Register { service }),
        // Not expressible before the broker's `share` field: refused rather than
        // registered on an endpoint of its own (its connections would reach no handler).
        Some(_) => Err(Error::Refused(ipc::Error::NotFound { what: ipc::Missing::Service })),
    }
}

/// The endpoint slot, generation and service index of a `Registered` response.
pub(crate) fn registered(response: Response) -> Option<(u64, u32, ServiceIndex)> {
    match response {
        Response::Registered { endpoint_slot, generation } => {
            Some((endpoint_slot, generation, ServiceIndex::FIRST))
        }
        _ => None,
    }
}

/// The connect request for `service`, checking `interface` at the broker.
pub(crate) fn connect_request(service: Name, _interface: Option<InterfaceId>) -> Request {
    Request::Connect { service }
}

/// Asks the memory manager for a notification bound to this realm's thread (idempotent).
pub(crate) fn bind_notification(_realm: &mut Realm) -> Result<(), Error> {
    Err(Error::UnexpectedReply)
}
