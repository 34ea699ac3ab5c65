//! The few places where the runtime meets protocol pieces that other parts of issue 13 add
//! at the same time (the broker's `interface` and `share` fields, the memory manager's bound
//! notification): each is one small function, so that the merge changes only this file.
//!
//! Merged (branch `accept`): `interface` and `share` are sent as the broker's requests
//! carry them, the index is the broker's, and binding asks the memory manager.

use ipc::{InterfaceId, Name, Request, Response, ServiceIndex};

use crate::{Error, Realm};

/// The register request for `service`, declaring `interface`, sharing the endpoint of this
/// realm's service `share`.
pub(crate) fn register_request(
    service: Name,
    interface: Option<InterfaceId>,
    share: Option<Name>,
) -> Result<Request, Error> {
    Ok(Request::Register { service, interface, share })
}

/// The endpoint slot, generation and service index of a `Registered` response.
pub(crate) fn registered(response: Response) -> Option<(u64, u32, ServiceIndex)> {
    match response {
        Response::Registered { endpoint_slot, generation, index } => {
            Some((endpoint_slot, generation, index))
        }
        _ => None,
    }
}

/// The connect request for `service`, checking `interface` at the broker.
pub(crate) fn connect_request(service: Name, interface: Option<InterfaceId>) -> Request {
    Request::Connect { service, interface }
}

/// Asks the memory manager for a notification bound to this realm's thread (idempotent).
pub(crate) fn bind_notification(realm: &mut Realm) -> Result<(), Error> {
    realm.bind_notification()
}
