//! Log lines for broker events, with realm names:
//! `connect denied: realm "plugin" -> service "kv": not in the service's allowed clients`.

use core::fmt;

use ipc::RealmId;

use crate::Broker;
use crate::ops::{Action, Event};

/// A realm by name (or by id, if the broker does not know it).
struct RealmName<'a>(&'a Broker, RealmId);

impl fmt::Display for RealmName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.realm_name(self.1) {
            Some(name) => write!(f, "realm \"{name}\""),
            None => write!(f, "{}", self.1),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Register => "register",
            Self::Connect => "connect",
            Self::Grant => "grant",
            Self::RevokeGrant => "revoke-grant",
        })
    }
}

/// An event ready to print as one log line.
#[derive(Clone, Copy)]
pub struct LogLine<'a> {
    pub(crate) broker: &'a Broker,
    pub(crate) event: &'a Event,
}

impl<'a> LogLine<'a> {
    /// The event the line is about.
    pub fn event(&self) -> &'a Event {
        self.event
    }
}

impl fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let realm = |id| RealmName(self.broker, id);
        match *self.event {
            Event::Registered { owner, service, generation, rule } => write!(
                f,
                "register allowed: {} -> service \"{service}\" (generation {generation}): {rule}",
                realm(owner)
            ),
            Event::Connected { client, service, connection, rule } => write!(
                f,
                "connect allowed: {} -> service \"{service}\" as {connection}: {rule}",
                realm(client)
            ),
            Event::Denied { realm: asker, action, service, grantee: Some(grantee), rule } => {
                write!(
                    f,
                    "{action} denied: {} -> {}, service \"{service}\": {rule}",
                    realm(asker),
                    realm(grantee)
                )
            }
            Event::Denied { realm: asker, action, service, grantee: None, rule } => {
                write!(f, "{action} denied: {} -> service \"{service}\": {rule}", realm(asker))
            }
            Event::GrantAdded { granter, grantee, service } => write!(
                f,
                "grant: {} lets {} reach service \"{service}\"",
                realm(granter),
                realm(grantee)
            ),
            Event::GrantRevoked { granter, grantee, service } => write!(
                f,
                "grant revoked: {} no longer lets {} reach service \"{service}\"",
                realm(granter),
                realm(grantee)
            ),
            Event::ConnectionClosed { connection, client, service, reason } => write!(
                f,
                "{connection} closed: {} -> service \"{service}\": {reason}",
                realm(client)
            ),
            Event::ServiceRemoved { owner, service, generation } => write!(
                f,
                "service \"{service}\" (generation {generation}) of {} removed",
                realm(owner)
            ),
            Event::RealmDied { realm: dead } => {
                write!(f, "{} died: its services and connections are closed", realm(dead))
            }
            Event::Malformed { realm: sender, reason } => {
                write!(f, "malformed request from {}: {reason}", realm(sender))
            }
        }
    }
}
