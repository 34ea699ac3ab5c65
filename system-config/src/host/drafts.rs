//! First pass over a parsed `system.toml`: every table read into a draft, with the rules that
//! concern one field alone (types, names, ranges, memory sizes, programs) checked on the way.
//!
//! Drafts keep names rather than indices and keep going past errors, so that the second pass
//! ([`super::validate`]) can still check how the items refer to each other.

use std::format;
use std::ops::RangeInclusive;
use std::string::String;
use std::vec::Vec;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostics::{Diagnostics, Located, Rule, Span};
use super::fields::{Fields, Need, report_wrong_type};
use super::memory_size::{memory_size_from_integer, parse_memory_size};
use crate::model::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESTARTS, DEFAULT_MAX_SERVICES, LogLevel,
    MAX_ALLOWED_CLIENTS, MAX_REALM_PRIORITY, MAX_REALM_SERVICES, MAX_THREADS_PER_REALM, RunPolicy,
    Settings, ThreadFaultPolicy,
};
use crate::rules::{BadNameSentence, priority_out_of_range, quota_out_of_range};
use std::string::ToString;
use vocabulary::{Name, ProgramName};

const REALM_FIELDS: &[&str] = &[
    "name",
    "program",
    "parent",
    "priority",
    "memory",
    "restartable",
    "max_restarts",
    "max_connections",
    "max_services",
    "max_threads",
    "on_thread_fault",
];
const SERVICE_FIELDS: &[&str] =
    &["name", "realm", "allowed_clients", "allow_priority_inversion", "interface"];
const GRANT_FIELDS: &[&str] = &["client", "service"];
const SYSTEM_FIELDS: &[&str] = &["run", "log", "memory"];

/// What a realm's `parent` field says.
#[derive(Clone, Debug)]
pub(crate) enum ParentField {
    /// No `parent`: the realm claims to be the root.
    Absent,
    Named(Located<String>),
    /// Present but not a string (already reported).
    Unreadable,
}

/// One `[[realm]]` as written; `None` where a field is missing or broken (already reported).
#[derive(Clone, Debug)]
pub(crate) struct RealmDraft {
    pub header: Span,
    pub name: Option<Located<String>>,
    pub program: Option<Located<String>>,
    pub parent: ParentField,
    pub priority: Option<Located<u8>>,
    pub memory: Option<Located<u64>>,
    pub restartable: bool,
    pub max_restarts: u8,
    pub max_connections: u8,
    pub max_services: u16,
    /// `max_threads` and where it is written (`None` when absent or broken: the default).
    pub max_threads: Option<Located<u8>>,
    /// `on_thread_fault` (the default when absent or broken).
    pub on_thread_fault: ThreadFaultPolicy,
}

impl RealmDraft {
    /// `realm "kv"`, for messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("realm \"{}\"", name.value),
            None => String::from("an unnamed realm"),
        }
    }
}

/// One `[[service]]` as written.
#[derive(Clone, Debug)]
pub(crate) struct ServiceDraft {
    pub header: Span,
    pub name: Option<Located<String>>,
    pub realm: Option<Located<String>>,
    /// Every string entry, even past [`MAX_ALLOWED_CLIENTS`] (that is reported).
    pub allowed_clients: Option<Vec<Located<String>>>,
    /// `allow_priority_inversion` (`false` when absent or broken).
    pub allow_priority_inversion: bool,
    /// `interface`, the typed interface's name (`None` when absent or broken: a broken one is
    /// reported).
    pub interface: Option<Located<String>>,
}

impl ServiceDraft {
    /// `service "log"`, for messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("service \"{}\"", name.value),
            None => String::from("an unnamed service"),
        }
    }
}

/// One `[[grant]]` as written.
#[derive(Clone, Debug)]
pub(crate) struct GrantDraft {
    pub header: Span,
    pub client: Option<Located<String>>,
    pub service: Option<Located<String>>,
}

/// Every item of the file, in file order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Drafts {
    /// The `[system]` table's settings (defaults where absent or broken: already reported).
    pub settings: Settings,
    /// Where `[system] memory` is written, if it is (and valid).
    pub machine_memory: Option<Span>,
    pub realms: Vec<RealmDraft>,
    pub services: Vec<ServiceDraft>,
    pub grants: Vec<GrantDraft>,
}

/// Reads the whole document; `programs` are the programs the build has.
pub(crate) fn read_document(
    document: &DeTable,
    programs: &[&str],
    diag: &mut Diagnostics,
) -> Drafts {
    let mut drafts = Drafts::default();
    for (key, value) in document.iter() {
        let key_name: &str = key.get_ref();
        match key_name {
            "realm" => {
                for (table, header) in array_of_tables("realm", value, diag) {
                    drafts.realms.push(read_realm(table, header, programs, diag));
                }
            }
            "service" => {
                for (table, header) in array_of_tables("service", value, diag) {
                    drafts.services.push(read_service(table, header, diag));
                }
            }
            "grant" => {
                for (table, header) in array_of_tables("grant", value, diag) {
                    drafts.grants.push(read_grant(table, header, diag));
                }
            }
            "system" => match value.get_ref() {
                DeValue::Table(table) => {
                    let (settings, memory) = read_settings(table, value.span(), diag);
                    drafts.settings = settings;
                    drafts.machine_memory = memory;
                }
                other => {
                    let what = "`system` (write it as one [system] table)";
                    report_wrong_type(diag, &value.span(), what, "a table", other);
                }
            },
            other => diag.report(
                &key.span(),
                Rule::UnknownField,
                format!(
                    "unknown top-level key `{other}`; a system.toml has only a [system] table \
                     and [[realm]], [[service]] and [[grant]] tables"
                ),
            ),
        }
    }
    drafts
}

/// The tables of `[[kind]]`, each with the span of its header.
fn array_of_tables<'t, 'i>(
    kind: &str,
    value: &'t Spanned<DeValue<'i>>,
    diag: &mut Diagnostics,
) -> Vec<(&'t DeTable<'i>, Span)> {
    let DeValue::Array(elements) = value.get_ref() else {
        let what = format!("`{kind}` (write each one as a [[{kind}]] table)");
        report_wrong_type(diag, &value.span(), &what, "an array of tables", value.get_ref());
        return Vec::new();
    };
    let mut tables = Vec::new();
    for element in elements.iter() {
        match element.get_ref() {
            DeValue::Table(table) => tables.push((table, element.span())),
            other => {
                let what = format!("each `{kind}`");
                report_wrong_type(diag, &element.span(), &what, "a table", other);
            }
        }
    }
    tables
}

fn read_realm(
    table: &DeTable,
    header: Span,
    programs: &[&str],
    diag: &mut Diagnostics,
) -> RealmDraft {
    let mut fields = Fields::new(table, "realm", header.clone());
    let name = fields.string("name", Need::Required, diag);
    if let Some(name) = &name {
        check_name(name, "realm", diag);
        fields.set_subject(format!("realm \"{}\"", name.value));
    }
    fields.check_known(REALM_FIELDS, diag);
    let program = fields.string("program", Need::Required, diag);
    if let Some(program) = &program {
        check_program(program, programs, diag);
    }
    RealmDraft {
        header,
        name,
        program,
        parent: read_parent(&fields, diag),
        priority: read_priority(&fields, diag),
        memory: read_memory(&fields, Need::Required, "a realm", diag),
        restartable: fields
            .boolean("restartable", Need::Optional, diag)
            .is_some_and(|flag| flag.value),
        max_restarts: read_quota(&fields, "max_restarts", 0..=255, diag)
            .and_then(|quota| u8::try_from(quota.value).ok())
            .unwrap_or(DEFAULT_MAX_RESTARTS),
        max_connections: read_quota(&fields, "max_connections", 0..=255, diag)
            .and_then(|quota| u8::try_from(quota.value).ok())
            .unwrap_or(DEFAULT_MAX_CONNECTIONS),
        max_services: read_quota(&fields, "max_services", 0..=MAX_REALM_SERVICES, diag)
            .map_or(DEFAULT_MAX_SERVICES, |quota| quota.value),
        max_threads: read_quota(&fields, "max_threads", 1..=MAX_THREADS_PER_REALM, diag).and_then(
            |quota| Some(Located { value: u8::try_from(quota.value).ok()?, span: quota.span }),
        ),
        on_thread_fault: read_choice(
            &fields,
            "on_thread_fault",
            &[ThreadFaultPolicy::StopRealm, ThreadFaultPolicy::StopThread]
                .map(|policy| (policy.name(), policy)),
            diag,
        )
        .unwrap_or_default(),
    }
}

fn read_service(table: &DeTable, header: Span, diag: &mut Diagnostics) -> ServiceDraft {
    let mut fields = Fields::new(table, "service", header.clone());
    let name = fields.string("name", Need::Required, diag);
    if let Some(name) = &name {
        check_name(name, "service", diag);
        fields.set_subject(format!("service \"{}\"", name.value));
    }
    fields.check_known(SERVICE_FIELDS, diag);
    let realm = fields.string("realm", Need::Required, diag);
    let allowed_clients =
        fields.string_array("allowed_clients", Need::Optional, diag).map(|clients| clients.value);
    if let Some(clients) = &allowed_clients {
        check_allowed_clients(clients, fields.subject(), diag);
    }
    let allow_priority_inversion = fields
        .boolean("allow_priority_inversion", Need::Optional, diag)
        .is_some_and(|flag| flag.value);
    let interface = fields.string("interface", Need::Optional, diag);
    if let Some(interface) = &interface {
        check_name(interface, "interface", diag);
    }
    ServiceDraft { header, name, realm, allowed_clients, allow_priority_inversion, interface }
}

fn read_grant(table: &DeTable, header: Span, diag: &mut Diagnostics) -> GrantDraft {
    let fields = Fields::new(table, "grant", header.clone());
    fields.check_known(GRANT_FIELDS, diag);
    GrantDraft {
        header,
        client: fields.string("client", Need::Required, diag),
        service: fields.string("service", Need::Required, diag),
    }
}

/// The settings, and where a valid `memory` is written.
fn read_settings(
    table: &DeTable,
    header: Span,
    diag: &mut Diagnostics,
) -> (Settings, Option<Span>) {
    let mut fields = Fields::new(table, "system", header);
    fields.set_subject(String::from("[system]"));
    fields.check_known(SYSTEM_FIELDS, diag);
    let defaults = Settings::default();
    let run = read_choice(
        &fields,
        "run",
        &[("forever", RunPolicy::Forever), ("until-idle", RunPolicy::UntilIdle)],
        diag,
    );
    let log = read_choice(
        &fields,
        "log",
        &[("all", LogLevel::All), ("denials", LogLevel::Denials), ("quiet", LogLevel::Quiet)],
        diag,
    );
    let memory = read_memory(&fields, Need::Optional, "the machine", diag);
    let settings = Settings {
        run: run.unwrap_or(defaults.run),
        log: log.unwrap_or(defaults.log),
        memory_bytes: memory.as_ref().map_or(defaults.memory_bytes, |memory| memory.value),
    };
    (settings, memory.map(|memory| memory.span))
}

/// An optional string field (of `[system]` or of a realm) that must be one of `choices`; a
/// value outside them is reported with the choices ([`Rule::BadSetting`]).
fn read_choice<T: Copy>(
    fields: &Fields,
    key: &str,
    choices: &[(&str, T)],
    diag: &mut Diagnostics,
) -> Option<T> {
    let value = fields.string(key, Need::Optional, diag)?;
    if let Some(&(_, choice)) = choices.iter().find(|(name, _)| *name == value.value) {
        return Some(choice);
    }
    let names: Vec<String> = choices.iter().map(|(name, _)| format!("\"{name}\"")).collect();
    diag.report(
        &value.span,
        Rule::BadSetting,
        format!(
            "`{key}` of {} is \"{}\"; it must be one of {}",
            fields.subject(),
            value.value,
            names.join(", ")
        ),
    );
    None
}

fn read_parent(fields: &Fields, diag: &mut Diagnostics) -> ParentField {
    if fields.value("parent", Need::Optional, diag).is_none() {
        return ParentField::Absent;
    }
    match fields.string("parent", Need::Optional, diag) {
        Some(parent) => ParentField::Named(parent),
        None => ParentField::Unreadable,
    }
}

fn read_priority(fields: &Fields, diag: &mut Diagnostics) -> Option<Located<u8>> {
    let priority = fields.integer("priority", Need::Required, diag)?;
    match u8::try_from(priority.value) {
        Ok(value) if value <= MAX_REALM_PRIORITY => Some(Located { value, span: priority.span }),
        _ => {
            let mut message = String::new();
            let source = diag.source(&priority.span);
            let _ = priority_out_of_range(&mut message, &source, &fields.subject());
            diag.report(&priority.span, Rule::PriorityOutOfRange, message);
            None
        }
    }
}

/// The `memory` field of a realm or of `[system]`; `whose` names what it is the memory of in
/// messages (`a realm`, `the machine`).
fn read_memory(
    fields: &Fields,
    need: Need,
    whose: &str,
    diag: &mut Diagnostics,
) -> Option<Located<u64>> {
    let value = fields.value("memory", need, diag)?;
    let span = value.span();
    let bytes = match value.get_ref() {
        DeValue::String(text) => parse_memory_size(text),
        DeValue::Integer(_) => {
            let integer = fields.integer("memory", need, diag)?;
            memory_size_from_integer(integer.value)
        }
        other => {
            let what = format!("field `memory` of {}", fields.subject());
            let expected = "a size such as \"16 MiB\" or a number of bytes";
            report_wrong_type(diag, &span, &what, expected, other);
            return None;
        }
    };
    match bytes {
        Ok(value) => Some(Located { value, span }),
        Err(error) => {
            let message = error.message(diag.source(&span), whose);
            diag.report(&span, Rule::BadMemorySize, message);
            None
        }
    }
}

/// An optional quota in `range` (within `u16`), and where it is written; `None` when absent
/// or broken (a broken one is reported): the caller's default applies.
fn read_quota(
    fields: &Fields,
    key: &str,
    range: RangeInclusive<usize>,
    diag: &mut Diagnostics,
) -> Option<Located<u16>> {
    let quota = fields.integer(key, Need::Optional, diag)?;
    let in_range = usize::try_from(quota.value).is_ok_and(|value| range.contains(&value));
    match u16::try_from(quota.value) {
        Ok(value) if in_range => Some(Located { value, span: quota.span }),
        _ => {
            let mut message = String::new();
            let source = diag.source(&quota.span);
            let (min, max) = (*range.start(), *range.end());
            let _ = quota_out_of_range(&mut message, key, &fields.subject(), &source, min, max);
            diag.report(&quota.span, Rule::QuotaOutOfRange, message);
            None
        }
    }
}

/// `kind` is `realm`, `service` or `interface`.
fn check_name(name: &Located<String>, kind: &str, diag: &mut Diagnostics) {
    if Name::new(&name.value).is_err() {
        let message = BadNameSentence { kind, name: &name.value }.to_string();
        diag.report(&name.span, Rule::BadName, message);
    }
}

fn check_program(program: &Located<String>, programs: &[&str], diag: &mut Diagnostics) {
    if ProgramName::new(&program.value).is_err() {
        let message = BadNameSentence { kind: "program", name: &program.value }.to_string();
        diag.report(&program.span, Rule::BadName, message);
    } else if !programs.contains(&program.value.as_str()) {
        let known = if programs.is_empty() {
            String::from("the build has no programs")
        } else {
            format!("the build has: {}", programs.join(", "))
        };
        diag.report(
            &program.span,
            Rule::UnknownProgram,
            format!("program \"{}\" does not exist; {known}", program.value),
        );
    }
}

fn check_allowed_clients(clients: &[Located<String>], service: &str, diag: &mut Diagnostics) {
    for (position, client) in clients.iter().enumerate() {
        if position == MAX_ALLOWED_CLIENTS {
            diag.report(
                &client.span,
                Rule::TooManyAllowedClients,
                format!(
                    "{service} lists {} allowed clients; at most {MAX_ALLOWED_CLIENTS} are allowed",
                    clients.len()
                ),
            );
        }
    }
}
