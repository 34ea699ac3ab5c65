//! Errors found in a `system.toml`: the rule each one breaks, where it is, and how it prints.

use std::fmt;
use std::ops::Range;
use std::string::String;
use std::vec::Vec;

/// A byte range in the source text.
pub(crate) type Span = Range<usize>;

/// A value read from the source, with where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub value: T,
    pub span: Span,
}

/// Every rule a `system.toml` must follow, each with a stable kebab-case [`code`](Rule::code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The file is not UTF-8 text.
    NotText,
    /// The text is not valid TOML.
    TomlSyntax,
    /// A key that the format does not have (top level or inside a table).
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong TOML type (a string where an integer belongs...).
    WrongType,
    /// A realm, service or program name is empty, too long, or has a character outside the
    /// allowed set.
    BadName,
    /// Two realms have the same name.
    DuplicateRealm,
    /// Two services have the same name.
    DuplicateService,
    /// A realm's `parent` is not a declared realm.
    UnknownParent,
    /// No realm is without a parent (or no realm is declared at all).
    NoRootRealm,
    /// More than one realm is without a parent.
    MultipleRootRealms,
    /// Following `parent` links from a realm leads back to it.
    RealmCycle,
    /// A service's `realm` is not a declared realm.
    UnknownServiceRealm,
    /// A grant's `client` is not a declared realm.
    UnknownGrantClient,
    /// A grant's `service` is not a declared service.
    UnknownGrantService,
    /// An entry of `allowed_clients` is not a declared realm.
    UnknownAllowedClient,
    /// A realm is listed twice in one `allowed_clients`.
    DuplicateAllowedClient,
    /// The same client is granted the same service twice.
    DuplicateGrant,
    /// A grant names a client that the service's own `allowed_clients` leaves out.
    GrantDeniedByService,
    /// A realm's memory budget is above its parent's.
    MemoryAboveParent,
    /// A realm's priority is above its parent's.
    PriorityAboveParent,
    /// A realm's `program` is not one of the programs the build has.
    UnknownProgram,
    /// A memory size that is malformed, zero, too large or not whole pages.
    BadMemorySize,
    /// More realms than [`MAX_REALMS`](crate::MAX_REALMS).
    TooManyRealms,
    /// More services than [`MAX_DECLARED_SERVICES`](crate::MAX_DECLARED_SERVICES).
    TooManyServices,
    /// More grants than [`MAX_DECLARED_GRANTS`](crate::MAX_DECLARED_GRANTS).
    TooManyGrants,
    /// More allowed clients than [`MAX_ALLOWED_CLIENTS`](crate::MAX_ALLOWED_CLIENTS).
    TooManyAllowedClients,
    /// A priority outside seL4's 0 to 255.
    PriorityOutOfRange,
    /// `max_connections` outside 0 to 255, or `max_services` outside 0 to
    /// [`MAX_DECLARED_SERVICES`](crate::MAX_DECLARED_SERVICES).
    QuotaOutOfRange,
    /// A realm provides more services than its `max_services`.
    ServiceQuotaExceeded,
    /// The realms' `max_services` (or `max_connections`) add up to more than the broker holds.
    QuotasExceedBroker,
    /// A `[system]` setting outside its choices (`run`, `log`).
    BadSetting,
    /// A grant or an allowed client has a higher priority than the service's provider (and
    /// the service does not set `allow_priority_inversion`).
    PriorityInversion,
    /// The realms' memory budgets add up to more than the machine's memory.
    BudgetsExceedMemory,
}

impl Rule {
    /// Every rule, in the order of the format's documentation.
    pub const ALL: [Rule; 34] = [
        Rule::NotText,
        Rule::TomlSyntax,
        Rule::UnknownField,
        Rule::MissingField,
        Rule::WrongType,
        Rule::BadName,
        Rule::DuplicateRealm,
        Rule::DuplicateService,
        Rule::UnknownParent,
        Rule::NoRootRealm,
        Rule::MultipleRootRealms,
        Rule::RealmCycle,
        Rule::UnknownServiceRealm,
        Rule::UnknownGrantClient,
        Rule::UnknownGrantService,
        Rule::UnknownAllowedClient,
        Rule::DuplicateAllowedClient,
        Rule::DuplicateGrant,
        Rule::GrantDeniedByService,
        Rule::MemoryAboveParent,
        Rule::PriorityAboveParent,
        Rule::UnknownProgram,
        Rule::BadMemorySize,
        Rule::TooManyRealms,
        Rule::TooManyServices,
        Rule::TooManyGrants,
        Rule::TooManyAllowedClients,
        Rule::PriorityOutOfRange,
        Rule::QuotaOutOfRange,
        Rule::ServiceQuotaExceeded,
        Rule::QuotasExceedBroker,
        Rule::BadSetting,
        Rule::PriorityInversion,
        Rule::BudgetsExceedMemory,
    ];

    /// The rule's stable code, as printed in `error[code]`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::NotText => "not-text",
            Rule::TomlSyntax => "toml-syntax",
            Rule::UnknownField => "unknown-field",
            Rule::MissingField => "missing-field",
            Rule::WrongType => "wrong-type",
            Rule::BadName => "bad-name",
            Rule::DuplicateRealm => "duplicate-realm",
            Rule::DuplicateService => "duplicate-service",
            Rule::UnknownParent => "unknown-parent",
            Rule::NoRootRealm => "no-root-realm",
            Rule::MultipleRootRealms => "multiple-root-realms",
            Rule::RealmCycle => "realm-cycle",
            Rule::UnknownServiceRealm => "unknown-service-realm",
            Rule::UnknownGrantClient => "unknown-grant-client",
            Rule::UnknownGrantService => "unknown-grant-service",
            Rule::UnknownAllowedClient => "unknown-allowed-client",
            Rule::DuplicateAllowedClient => "duplicate-allowed-client",
            Rule::DuplicateGrant => "duplicate-grant",
            Rule::GrantDeniedByService => "grant-denied-by-service",
            Rule::MemoryAboveParent => "memory-above-parent",
            Rule::PriorityAboveParent => "priority-above-parent",
            Rule::UnknownProgram => "unknown-program",
            Rule::BadMemorySize => "bad-memory-size",
            Rule::TooManyRealms => "too-many-realms",
            Rule::TooManyServices => "too-many-services",
            Rule::TooManyGrants => "too-many-grants",
            Rule::TooManyAllowedClients => "too-many-allowed-clients",
            Rule::PriorityOutOfRange => "priority-out-of-range",
            Rule::QuotaOutOfRange => "quota-out-of-range",
            Rule::ServiceQuotaExceeded => "service-quota-exceeded",
            Rule::QuotasExceedBroker => "quotas-exceed-broker",
            Rule::BadSetting => "bad-setting",
            Rule::PriorityInversion => "priority-inversion",
            Rule::BudgetsExceedMemory => "budgets-exceed-memory",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One broken rule in a `system.toml`, at a 1-based line and column (in characters).
///
/// Displays as `system.toml:12:8: error[duplicate-realm]: realm "kv" is declared twice (first
/// at line 4)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}]: {}",
            self.file, self.line, self.column, self.rule, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Collects the errors of one file, turning byte offsets into lines and columns.
pub(crate) struct Diagnostics<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Diagnostics { file, text, errors: Vec::new() }
    }

    /// Records that the item at `span` breaks `rule`.
    pub fn report(&mut self, span: &Span, rule: Rule, message: impl Into<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(ConfigError {
            file: self.file.into(),
            line,
            column,
            rule,
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The 1-based line where `span` starts.
    pub fn line_of(&self, span: &Span) -> usize {
        self.position(span.start).0
    }

    /// The source text of `span` (empty if the span is not in the text).
    pub fn source(&self, span: &Span) -> &'a str {
        self.text.get(span.clone()).unwrap_or("")
    }

    /// All errors, in the order they appear in the file.
    pub fn into_errors(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|error| (error.line, error.column));
        self.errors
    }

    /// 1-based line and column (in characters) of the byte at `offset`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = self.prefix(offset);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The text before `offset`, moved back to a character boundary if it is not on one.
    fn prefix(&self, offset: usize) -> &'a str {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        &self.text[..end]
    }
}
