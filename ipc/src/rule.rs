//! The rules behind every broker decision.
//!
//! The `policy` crate makes the decisions; the rule lives here because it travels to the
//! refused realm in [`Error::Denied`](crate::Error::Denied). Its `Display` text completes a
//! log line such as `connect denied: realm "plugin" -> service "kv": not in the service's
//! allowed clients`.

use core::fmt;

wire_codes! {
    /// Which mechanism decided a register, connect or grant request.
    pub enum Rule {
        /// Connect, allowed: the client owns the service.
        SameRealm = 1,
        /// Connect, allowed: the service belongs to the client's parent.
        ParentService = 2,
        /// Connect, allowed: the init configuration grants the client the service.
        InitConfigGrant = 3,
        /// Connect, allowed: the client's parent granted it the service at run time (and the
        /// parent can reach the service itself).
        ParentGrant = 4,
        /// Connect, denied: client and owner are siblings and no grant lets the client in.
        SiblingNeedsGrant = 5,
        /// Connect, denied: no grant and no hierarchy rule lets the client in.
        NoRoute = 6,
        /// Connect, denied: the parent granted the service but cannot reach it itself.
        GranterCannotReach = 7,
        /// Connect, denied: the service lists its allowed clients and the client is not one.
        NotInAllowedClients = 8,
        /// Register, allowed: the init configuration names the realm as the provider.
        DeclaredProvider = 9,
        /// Register, allowed: the init configuration names no provider for the service.
        OpenRegistration = 10,
        /// Register, denied: the init configuration names another realm as the provider.
        NotDeclaredProvider = 11,
        /// Grant or revoke, allowed: the granter is the grantee's parent.
        ParentOfGrantee = 12,
        /// Grant or revoke, denied: the granter is not the grantee's parent.
        NotParent = 13,
        /// Grant, denied: the granter cannot reach the service itself, so it has nothing to
        /// pass on (a grant is delegation).
        GranterDoesNotReach = 14,
        /// Grant, denied: the service lists its allowed clients and the grantee is not one,
        /// so the grant could never be used.
        GranteeNotInAllowedClients = 15,
        /// Grant, denied: the service is gone for good (its declared provider stopped and
        /// will not be restarted), so the grant could never be used.
        ServiceGone = 16,
    }
}

impl Rule {
    /// The stable kebab-case name used in machine-readable event lines.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SameRealm => "same-realm",
            Self::ParentService => "parent-service",
            Self::InitConfigGrant => "init-config-grant",
            Self::ParentGrant => "parent-grant",
            Self::SiblingNeedsGrant => "sibling-needs-grant",
            Self::NoRoute => "no-route",
            Self::GranterCannotReach => "granter-cannot-reach",
            Self::NotInAllowedClients => "not-in-allowed-clients",
            Self::DeclaredProvider => "declared-provider",
            Self::OpenRegistration => "open-registration",
            Self::NotDeclaredProvider => "not-declared-provider",
            Self::ParentOfGrantee => "parent-of-grantee",
            Self::NotParent => "not-parent",
            Self::GranterDoesNotReach => "granter-does-not-reach",
            Self::GranteeNotInAllowedClients => "grantee-not-in-allowed-clients",
            Self::ServiceGone => "service-gone",
        }
    }

    /// Whether this rule lets a request through (otherwise it refuses one).
    pub const fn allows(self) -> bool {
        matches!(
            self,
            Self::SameRealm
                | Self::ParentService
                | Self::InitConfigGrant
                | Self::ParentGrant
                | Self::DeclaredProvider
                | Self::OpenRegistration
                | Self::ParentOfGrantee
        )
    }

    /// The rule in words, fit for the end of a log line.
    pub const fn text(self) -> &'static str {
        match self {
            Self::SameRealm => "the service belongs to the client itself",
            Self::ParentService => "a child may reach its parent's services",
            Self::InitConfigGrant => "granted in the init configuration",
            Self::ParentGrant => "granted at run time by the client's parent",
            Self::SiblingNeedsGrant => "siblings need a grant",
            Self::NoRoute => "no grant, and the service is neither its own nor its parent's",
            Self::GranterCannotReach => "its parent granted the service but cannot reach it itself",
            Self::NotInAllowedClients => "not in the service's allowed clients",
            Self::DeclaredProvider => {
                "declared as the service's provider in the init configuration"
            }
            Self::OpenRegistration => {
                "the init configuration names no provider, so any realm may register it"
            }
            Self::NotDeclaredProvider => {
                "the init configuration declares another realm as the provider"
            }
            Self::ParentOfGrantee => "a realm's parent may grant to it",
            Self::NotParent => "only a realm's parent may grant to it or revoke its grants",
            Self::GranterDoesNotReach => {
                "the granter cannot reach the service itself, and a grant passes on only what \
                 the granter has"
            }
            Self::GranteeNotInAllowedClients => {
                "the grantee is not in the service's allowed clients, so it could never connect"
            }
            Self::ServiceGone => {
                "the service is gone for good (its provider stopped and will not be restarted), \
                 so the grant could never be used"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for &rule in Rule::ALL {
            assert_eq!(Rule::from_code(rule.code()), Some(rule));
        }
        assert_eq!(Rule::from_code(0), None);
        assert_eq!(Rule::from_code(17), None);
    }

    #[test]
    fn names_are_distinct_kebab_case() {
        let names: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        for name in names {
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{name}");
        }
    }

    #[test]
    fn display_is_the_rule_text() {
        assert_eq!(Rule::NotInAllowedClients.to_string(), "not in the service's allowed clients");
    }
}
