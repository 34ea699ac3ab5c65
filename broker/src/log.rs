//! Log lines for broker events, with realm names:
//! `connect denied: realm "plugin" -> service "kv": not in the service's allowed clients`.

use core::fmt;

use ipc::{InterfaceId, RealmId};

use crate::Broker;
use crate::ops::{Action, Event};

/// A realm by name (or by id, if the broker does not know it).
struct RealmName<'a>(&'a Broker<'a>, RealmId);

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
    pub(crate) broker: &'a Broker<'a>,
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
            Event::Registered { owner, service, generation, rule, interface, index, shares } => {
                write!(
                    f,
                    "register allowed: {} -> service \"{service}\" (generation {generation}",
                    realm(owner)
                )?;
                if let Some(interface) = interface {
                    write!(f, ", {interface}")?;
                }
                if let Some(shares) = shares {
                    write!(
                        f,
                        ", on the endpoint of service \"{shares}\" as service {}",
                        index.get()
                    )?;
                }
                write!(f, "): {rule}")
            }
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
            Event::PriorityInversion {
                client,
                service,
                provider,
                connection,
                client_priority,
                provider_priority,
                rule,
            } => write!(
                f,
                "warning: priority inversion: {} (priority {client_priority}) reaches service \
                 \"{service}\" of {} (priority {provider_priority}) as {connection} ({rule}): \
                 its calls wait while any realm between the two priorities runs",
                realm(client),
                realm(provider)
            ),
            Event::Unavailable { realm: asker, service, state } => write!(
                f,
                "connect refused: {} -> service \"{service}\": {}",
                realm(asker),
                state.error()
            ),
            Event::InterfaceMismatch {
                client,
                service,
                provider,
                service_interface,
                client_interface,
            } => write!(
                f,
                "connect refused: {} -> service \"{service}\": interface mismatch: {} \
                 registered it with {service_interface}, the client asked for {client_interface}",
                realm(client),
                realm(provider)
            ),
            Event::DeclaredInterfaceMismatch { realm: asker, service, declared, interface } => {
                write!(
                    f,
                    "register refused: {} -> service \"{service}\": interface mismatch: \
                     system.toml declares it with interface \"{declared}\", the register named ",
                    realm(asker)
                )?;
                match interface {
                    Some(interface) => write!(f, "{interface}"),
                    None => f.write_str("no interface"),
                }
            }
        }
    }
}

/// A realm's bare name for an event field (`#3` if the broker does not know it).
struct BareName<'a>(&'a Broker<'a>, RealmId);

impl fmt::Display for BareName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.realm_name(self.1) {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "#{}", self.1.0),
        }
    }
}

/// A connection id as `index.generation`.
struct ConnectionField(ipc::ConnectionId);

impl fmt::Display for ConnectionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0.index(), self.0.generation())
    }
}

/// An interface as `name:fingerprint` (16 hex digits), for an event field.
struct InterfaceField(InterfaceId);

impl fmt::Display for InterfaceField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:016x}", self.0.name, self.0.fingerprint)
    }
}

/// Visits one field of an event record: its key and its value.
pub type FieldVisitor<'v> = dyn FnMut(&'static str, &dyn fmt::Display) -> fmt::Result + 'v;

impl LogLine<'_> {
    /// The event's stable kind for machine-readable event lines: `service-registered`,
    /// `connect-allowed`, `register-denied`, `connect-denied`, `grant-denied`,
    /// `revoke-grant-denied`, `grant-added`, `grant-revoked`, `connection-closed`,
    /// `service-removed`, `realm-withdrawn`, `malformed-request`, `priority-inversion`,
    /// `connect-unavailable` or `interface-mismatch` (of a connect or of a register: the
    /// field `action` says which).
    pub fn kind(&self) -> &'static str {
        match *self.event {
            Event::Registered { .. } => "service-registered",
            Event::Connected { .. } => "connect-allowed",
            Event::Denied { action: Action::Register, .. } => "register-denied",
            Event::Denied { action: Action::Connect, .. } => "connect-denied",
            Event::Denied { action: Action::Grant, .. } => "grant-denied",
            Event::Denied { action: Action::RevokeGrant, .. } => "revoke-grant-denied",
            Event::GrantAdded { .. } => "grant-added",
            Event::GrantRevoked { .. } => "grant-revoked",
            Event::ConnectionClosed { .. } => "connection-closed",
            Event::ServiceRemoved { .. } => "service-removed",
            Event::RealmDied { .. } => "realm-withdrawn",
            Event::Malformed { .. } => "malformed-request",
            Event::PriorityInversion { .. } => "priority-inversion",
            Event::Unavailable { .. } => "connect-unavailable",
            Event::InterfaceMismatch { .. } | Event::DeclaredInterfaceMismatch { .. } => {
                "interface-mismatch"
            }
        }
    }

    /// Whether the event is a warning (`priority-inversion`): nothing was refused, but the
    /// system may not behave as its author expects. Warnings are printed like refusals.
    pub fn is_warning(&self) -> bool {
        matches!(self.event, Event::PriorityInversion { .. })
    }

    /// Whether the event is a refusal: refusals are always printed, whatever the log level.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self.event,
            Event::Denied { .. }
                | Event::Malformed { .. }
                | Event::Unavailable { .. }
                | Event::InterfaceMismatch { .. }
                | Event::DeclaredInterfaceMismatch { .. }
        )
    }

    /// Hands `visit` each field of the event, in a fixed order: realms by bare name
    /// (`realm`, `client`, `owner`, `granter`, `grantee`, `provider`), `service`, `connection`
    /// as `index.generation`, `generation`, `client-priority` and `provider-priority`, `rule`,
    /// `reason` and `state` as kebab-case codes (and, for a malformed request, `detail`: what
    /// was wrong, in words). Interfaces are `name:fingerprint` (16 hex digits): a register's
    /// `interface` (when it named one) and, when it shares an endpoint, `shares` (the other
    /// service) and `index`; an `interface-mismatch` has `action` (`connect` or `register`),
    /// then for a connect `provider`, `service-interface` and `client-interface`, for a
    /// register `declared` (the name `system.toml` declares) and `interface` (`none` when the
    /// register named none).
    pub fn fields(&self, visit: &mut FieldVisitor<'_>) -> fmt::Result {
        let name = |id| BareName(self.broker, id);
        match *self.event {
            Event::Registered { owner, service, generation, rule, interface, index, shares } => {
                visit("realm", &name(owner))?;
                visit("service", &service)?;
                visit("generation", &generation)?;
                visit("rule", &rule.name())?;
                if let Some(interface) = interface {
                    visit("interface", &InterfaceField(interface))?;
                }
                if let Some(shares) = shares {
                    visit("shares", &shares)?;
                    visit("index", &index.get())?;
                }
                Ok(())
            }
            Event::Connected { client, service, connection, rule } => {
                visit("realm", &name(client))?;
                visit("service", &service)?;
                visit("connection", &ConnectionField(connection))?;
                visit("rule", &rule.name())
            }
            Event::Denied { realm, service, grantee, rule, .. } => {
                visit("realm", &name(realm))?;
                if let Some(grantee) = grantee {
                    visit("grantee", &name(grantee))?;
                }
                visit("service", &service)?;
                visit("rule", &rule.name())
            }
            Event::GrantAdded { granter, grantee, service }
            | Event::GrantRevoked { granter, grantee, service } => {
                visit("realm", &name(granter))?;
                visit("grantee", &name(grantee))?;
                visit("service", &service)
            }
            Event::ConnectionClosed { connection, client, service, reason } => {
                visit("realm", &name(client))?;
                visit("service", &service)?;
                visit("connection", &ConnectionField(connection))?;
                visit("reason", &reason.name())
            }
            Event::ServiceRemoved { owner, service, generation } => {
                visit("realm", &name(owner))?;
                visit("service", &service)?;
                visit("generation", &generation)
            }
            Event::RealmDied { realm } => visit("realm", &name(realm)),
            Event::Malformed { realm, reason } => {
                visit("realm", &name(realm))?;
                visit("reason", &reason.name())?;
                visit("detail", &reason)
            }
            Event::PriorityInversion {
                client,
                service,
                provider,
                connection,
                client_priority,
                provider_priority,
                rule,
            } => {
                visit("realm", &name(client))?;
                visit("service", &service)?;
                visit("provider", &name(provider))?;
                visit("connection", &ConnectionField(connection))?;
                visit("client-priority", &client_priority)?;
                visit("provider-priority", &provider_priority)?;
                visit("rule", &rule.name())
            }
            Event::Unavailable { realm, service, state } => {
                visit("realm", &name(realm))?;
                visit("service", &service)?;
                visit("state", &state.name())
            }
            Event::InterfaceMismatch {
                client,
                service,
                provider,
                service_interface,
                client_interface,
            } => {
                visit("realm", &name(client))?;
                visit("action", &Action::Connect)?;
                visit("service", &service)?;
                visit("provider", &name(provider))?;
                visit("service-interface", &InterfaceField(service_interface))?;
                visit("client-interface", &InterfaceField(client_interface))
            }
            Event::DeclaredInterfaceMismatch { realm, service, declared, interface } => {
                visit("realm", &name(realm))?;
                visit("action", &Action::Register)?;
                visit("service", &service)?;
                visit("declared", &declared)?;
                match interface {
                    Some(interface) => visit("interface", &InterfaceField(interface)),
                    None => visit("interface", &"none"),
                }
            }
        }
    }
}
