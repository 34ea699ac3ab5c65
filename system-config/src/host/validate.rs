//! Second pass: the rules about how items refer to each other. Names are resolved, the realm
//! tree is checked (one root, no cycle), children are held to their parent's budget, and
//! services and grants are checked against the realms and services that exist.

use std::collections::HashMap;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::diagnostics::{Diagnostics, Located, Rule, Span};
use super::drafts::{Drafts, ParentField, RealmDraft, ServiceDraft};
use super::memory_size::format_memory_size;
use crate::model::{
    MAX_CONNECTIONS, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_REALMS,
    MAX_REGISTERED_SERVICES,
};

/// Where a realm hangs in the tree, as far as its `parent` field tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// No `parent`.
    Root,
    /// The draft index of its parent.
    Parent(usize),
    /// A `parent` that names no realm or is not a string (already reported).
    Broken,
}

/// Names resolved to draft indices (the first declaration wins), and every realm's link.
pub(crate) struct Resolved<'d> {
    pub realm_by_name: HashMap<&'d str, usize>,
    pub service_by_name: HashMap<&'d str, usize>,
    pub links: Vec<Link>,
}

/// Checks every rule that involves more than one field; reports into `diag`.
pub(crate) fn validate<'d>(drafts: &'d Drafts, diag: &mut Diagnostics) -> Resolved<'d> {
    check_counts(drafts, diag);
    let realm_names = drafts.realms.iter().map(|realm| realm.name.as_ref());
    let realm_by_name = index_names(realm_names, "realm", Rule::DuplicateRealm, diag);
    let links = resolve_parents(drafts, &realm_by_name, diag);
    check_roots(drafts, &links, diag);
    check_cycles(drafts, &links, diag);
    check_budgets(drafts, &links, diag);
    let service_names = drafts.services.iter().map(|service| service.name.as_ref());
    let service_by_name = index_names(service_names, "service", Rule::DuplicateService, diag);
    check_service_references(drafts, &realm_by_name, diag);
    check_service_quotas(drafts, &realm_by_name, diag);
    check_quota_sums(drafts, diag);
    check_memory_total(drafts, diag);
    check_allowed_client_priorities(drafts, &realm_by_name, diag);
    let resolved = Resolved { realm_by_name, service_by_name, links };
    check_grants(drafts, &resolved, diag);
    resolved
}

fn check_counts(drafts: &Drafts, diag: &mut Diagnostics) {
    let realms = drafts.realms.iter().map(|realm| &realm.header);
    check_count(realms, MAX_REALMS, "realms", Rule::TooManyRealms, diag);
    let services = drafts.services.iter().map(|service| &service.header);
    check_count(services, MAX_DECLARED_SERVICES, "services", Rule::TooManyServices, diag);
    let grants = drafts.grants.iter().map(|grant| &grant.header);
    check_count(grants, MAX_DECLARED_GRANTS, "grants", Rule::TooManyGrants, diag);
}

/// Reports the first item past `limit`, if any.
fn check_count<'a>(
    mut headers: impl ExactSizeIterator<Item = &'a Span>,
    limit: usize,
    kinds: &str,
    rule: Rule,
    diag: &mut Diagnostics,
) {
    let total = headers.len();
    if let Some(first_extra) = headers.nth(limit) {
        diag.report(
            first_extra,
            rule,
            format!(
                "too many {kinds}: this file declares {total} and a system may have at most \
                 {limit}; this is number {}",
                limit + 1
            ),
        );
    }
}

/// Maps each name to the index of its first declaration and reports the repeats.
fn index_names<'d>(
    names: impl Iterator<Item = Option<&'d Located<String>>>,
    kind: &str,
    rule: Rule,
    diag: &mut Diagnostics,
) -> HashMap<&'d str, usize> {
    let mut first_spans: HashMap<&'d str, (usize, &'d Span)> = HashMap::new();
    for (index, name) in names.enumerate() {
        let Some(name) = name else { continue };
        if let Some((_, first)) = first_spans.get(name.value.as_str()) {
            let first_line = diag.line_of(first);
            diag.report(
                &name.span,
                rule,
                format!("{kind} \"{}\" is declared twice (first at line {first_line})", name.value),
            );
        } else {
            first_spans.insert(&name.value, (index, &name.span));
        }
    }
    first_spans.into_iter().map(|(name, (index, _))| (name, index)).collect()
}

fn resolve_parents(
    drafts: &Drafts,
    realm_by_name: &HashMap<&str, usize>,
    diag: &mut Diagnostics,
) -> Vec<Link> {
    let mut links = Vec::with_capacity(drafts.realms.len());
    for realm in &drafts.realms {
        let link = match &realm.parent {
            ParentField::Absent => Link::Root,
            ParentField::Unreadable => Link::Broken,
            ParentField::Named(parent) => match realm_by_name.get(parent.value.as_str()) {
                Some(&index) => Link::Parent(index),
                None => {
                    diag.report(
                        &parent.span,
                        Rule::UnknownParent,
                        format!(
                            "parent \"{}\" of {} is not a declared realm",
                            parent.value,
                            realm.label()
                        ),
                    );
                    Link::Broken
                }
            },
        };
        links.push(link);
    }
    links
}

/// Exactly one realm has no parent.
fn check_roots(drafts: &Drafts, links: &[Link], diag: &mut Diagnostics) {
    let Some(first_realm) = drafts.realms.first() else {
        diag.report(
            &(0..0),
            Rule::NoRootRealm,
            "no realm is declared: a system needs at least a root realm, a [[realm]] without \
             `parent`",
        );
        return;
    };
    let roots: Vec<&RealmDraft> = drafts
        .realms
        .iter()
        .zip(links)
        .filter(|(_, link)| **link == Link::Root)
        .map(|(realm, _)| realm)
        .collect();
    let Some((root, other_roots)) = roots.split_first() else {
        diag.report(
            &first_realm.header,
            Rule::NoRootRealm,
            "no realm is the root of the realm tree: every realm names a `parent`, but exactly \
             one realm must have none",
        );
        return;
    };
    let root_line = diag.line_of(&root.header);
    for other in other_roots {
        diag.report(
            &other.header,
            Rule::MultipleRootRealms,
            format!(
                "{} has no parent, but {} (line {root_line}) is already the root; exactly one \
                 realm may have no `parent`",
                other.label(),
                root.label()
            ),
        );
    }
}

/// Following `parent` links never leads back to where it started. Each cycle is reported
/// once, at the `parent` field of its first realm in file order.
fn check_cycles(drafts: &Drafts, links: &[Link], diag: &mut Diagnostics) {
    let mut finished = vec![false; links.len()];
    for start in 0..links.len() {
        let mut path: Vec<usize> = Vec::new();
        let mut current = start;
        while !finished[current] {
            if let Some(position) = path.iter().position(|&realm| realm == current) {
                report_cycle(drafts, links, &path[position..], diag);
                break;
            }
            path.push(current);
            match links[current] {
                Link::Parent(parent) => current = parent,
                Link::Root | Link::Broken => break,
            }
        }
        for realm in path {
            finished[realm] = true;
        }
    }
}

fn report_cycle(drafts: &Drafts, links: &[Link], cycle: &[usize], diag: &mut Diagnostics) {
    let Some(&first) = cycle.iter().min() else {
        return;
    };
    let realm = &drafts.realms[first];
    let span = match &realm.parent {
        ParentField::Named(parent) => parent.span.clone(),
        ParentField::Absent | ParentField::Unreadable => realm.header.clone(),
    };
    let message = if cycle.len() == 1 {
        format!("{} is its own parent", realm.label())
    } else {
        let mut chain = vec![quoted_name(realm)];
        let mut current = first;
        while let Link::Parent(parent) = links[current] {
            chain.push(quoted_name(&drafts.realms[parent]));
            current = parent;
            if current == first {
                break;
            }
        }
        format!(
            "the parents of {} form a cycle: {} (each arrow leads to a parent)",
            realm.label(),
            chain.join(" -> ")
        )
    };
    diag.report(&span, Rule::RealmCycle, message);
}

fn quoted_name(realm: &RealmDraft) -> String {
    match &realm.name {
        Some(name) => format!("\"{}\"", name.value),
        None => String::from("(unnamed)"),
    }
}

/// A child's memory and priority are at most its parent's.
fn check_budgets(drafts: &Drafts, links: &[Link], diag: &mut Diagnostics) {
    for (realm, link) in drafts.realms.iter().zip(links) {
        let Link::Parent(parent_index) = *link else {
            continue;
        };
        let parent = &drafts.realms[parent_index];
        if let (Some(memory), Some(parent_memory)) = (&realm.memory, &parent.memory)
            && memory.value > parent_memory.value
        {
            diag.report(
                &memory.span,
                Rule::MemoryAboveParent,
                format!(
                    "{} has a memory budget of {}, more than its parent {} has ({})",
                    realm.label(),
                    format_memory_size(memory.value),
                    parent.label(),
                    format_memory_size(parent_memory.value)
                ),
            );
        }
        if let (Some(priority), Some(parent_priority)) = (&realm.priority, &parent.priority)
            && priority.value > parent_priority.value
        {
            diag.report(
                &priority.span,
                Rule::PriorityAboveParent,
                format!(
                    "{} has priority {}, above its parent {} ({}): a realm may not run above \
                     the realm that starts it",
                    realm.label(),
                    priority.value,
                    parent.label(),
                    parent_priority.value
                ),
            );
        }
    }
}

/// Each service's realm and allowed clients are declared realms.
fn check_service_references(
    drafts: &Drafts,
    realm_by_name: &HashMap<&str, usize>,
    diag: &mut Diagnostics,
) {
    for service in &drafts.services {
        if let Some(realm) = &service.realm
            && !realm_by_name.contains_key(realm.value.as_str())
        {
            diag.report(
                &realm.span,
                Rule::UnknownServiceRealm,
                format!(
                    "{} is provided by realm \"{}\", which is not a declared realm",
                    service.label(),
                    realm.value
                ),
            );
        }
        for client in service.allowed_clients.iter().flatten() {
            if !realm_by_name.contains_key(client.value.as_str()) {
                diag.report(
                    &client.span,
                    Rule::UnknownAllowedClient,
                    format!(
                        "allowed client \"{}\" of {} is not a declared realm",
                        client.value,
                        service.label()
                    ),
                );
            }
        }
    }
}

/// No realm provides more services than its `max_services`; every service past the quota is
/// reported at its `realm` field.
fn check_service_quotas(
    drafts: &Drafts,
    realm_by_name: &HashMap<&str, usize>,
    diag: &mut Diagnostics,
) {
    let mut provided = vec![0usize; drafts.realms.len()];
    for service in &drafts.services {
        let Some(realm_field) = &service.realm else {
            continue;
        };
        let Some(&realm_index) = realm_by_name.get(realm_field.value.as_str()) else {
            continue;
        };
        provided[realm_index] += 1;
        let realm = &drafts.realms[realm_index];
        if provided[realm_index] > usize::from(realm.max_services) {
            diag.report(
                &realm_field.span,
                Rule::ServiceQuotaExceeded,
                format!(
                    "{} is service number {} of {}, whose max_services is {}",
                    service.label(),
                    provided[realm_index],
                    realm.label(),
                    realm.max_services
                ),
            );
        }
    }
}

/// All realms' quotas together fit the broker's tables.
fn check_quota_sums(drafts: &Drafts, diag: &mut Diagnostics) {
    let services = drafts.realms.iter().map(|realm| usize::from(realm.max_services));
    check_quota_sum(drafts, services, "max_services", MAX_REGISTERED_SERVICES, diag);
    let connections = drafts.realms.iter().map(|realm| usize::from(realm.max_connections));
    check_quota_sum(drafts, connections, "max_connections", MAX_CONNECTIONS, diag);
}

/// Reports at the realm whose `field` makes the running sum exceed `capacity`.
fn check_quota_sum(
    drafts: &Drafts,
    quotas: impl Iterator<Item = usize>,
    field: &str,
    capacity: usize,
    diag: &mut Diagnostics,
) {
    let mut sum = 0;
    for (realm, quota) in drafts.realms.iter().zip(quotas) {
        sum += quota;
        if sum > capacity {
            let message = format!(
                "the realms' {field} add up to {sum} at {}, more than the broker's {capacity}",
                realm.label()
            );
            diag.report(&realm.header, Rule::QuotasExceedBroker, message);
            return;
        }
    }
}

/// The realms' budgets together fit in the machine's memory (`[system] memory`): reported at
/// the budget that makes the running sum (in file order) exceed it. Summed in `u128`, so
/// that no sum wraps.
fn check_memory_total(drafts: &Drafts, diag: &mut Diagnostics) {
    let machine = drafts.settings.memory_bytes;
    let mut sum: u128 = 0;
    for realm in &drafts.realms {
        let Some(memory) = &realm.memory else { continue };
        sum += u128::from(memory.value);
        if sum <= u128::from(machine) {
            continue;
        }
        let declared = match &drafts.machine_memory {
            Some(span) => format!("`memory` of [system], line {}", diag.line_of(span)),
            None => String::from(
                "the default when [system] sets no `memory`: what the qemu tool gives QEMU",
            ),
        };
        let message = format!(
            "the realms' memory budgets add up to {} with {}, more than the machine's {} \
             ({declared}): the memory manager could not start every realm",
            format_memory_size(sum),
            realm.label(),
            format_memory_size(machine)
        );
        diag.report(&memory.span, Rule::BudgetsExceedMemory, message);
        return;
    }
}

/// The priority of the realm called `name`, if it is declared with a valid priority.
fn priority_of(drafts: &Drafts, realm_by_name: &HashMap<&str, usize>, name: &str) -> Option<u8> {
    let index = *realm_by_name.get(name)?;
    drafts.realms[index].priority.as_ref().map(|priority| priority.value)
}

/// Which realms would run before the provider answers a client at `client` priority:
/// `priority 150`, `priorities 121 to 150`.
fn priorities_between(provider: u8, client: u8) -> String {
    let first = provider.saturating_add(1);
    if first >= client {
        format!("priority {client}")
    } else {
        format!("priorities {first} to {client}")
    }
}

/// The provider's name and priority of `service`, unless it accepts priority inversion or
/// either is unknown (already reported).
fn provider_priority<'d>(
    drafts: &Drafts,
    realm_by_name: &HashMap<&str, usize>,
    service: &'d ServiceDraft,
) -> Option<(&'d str, u8)> {
    if service.allow_priority_inversion {
        return None;
    }
    let provider = service.realm.as_ref()?.value.as_str();
    Some((provider, priority_of(drafts, realm_by_name, provider)?))
}

/// No allowed client of a service runs above the service's provider, unless the service sets
/// `allow_priority_inversion`.
fn check_allowed_client_priorities(
    drafts: &Drafts,
    realm_by_name: &HashMap<&str, usize>,
    diag: &mut Diagnostics,
) {
    for service in &drafts.services {
        let Some((provider, provider_priority)) = provider_priority(drafts, realm_by_name, service)
        else {
            continue;
        };
        for client in service.allowed_clients.iter().flatten() {
            let Some(priority) = priority_of(drafts, realm_by_name, &client.value) else {
                continue;
            };
            if priority <= provider_priority {
                continue;
            }
            diag.report(
                &client.span,
                Rule::PriorityInversion,
                format!(
                    "allowed client \"{}\" of {} has priority {priority}, above its provider \
                     realm \"{provider}\" (priority {provider_priority}): its calls would wait \
                     while any realm at {} runs; lower the client, raise the provider, or set \
                     allow_priority_inversion = true on the service",
                    client.value,
                    service.label(),
                    priorities_between(provider_priority, priority)
                ),
            );
        }
    }
}

/// Each grant names a declared client and service, is not repeated, and is not contradicted
/// by the service's own `allowed_clients`.
fn check_grants(drafts: &Drafts, resolved: &Resolved, diag: &mut Diagnostics) {
    let mut seen: HashMap<(&str, &str), &Span> = HashMap::new();
    for grant in &drafts.grants {
        let client =
            grant.client.as_ref().filter(|client| known_grant_client(client, resolved, diag));
        let service =
            grant.service.as_ref().and_then(|service| known_grant_service(service, resolved, diag));
        let (Some(client), Some((service, service_index))) = (client, service) else {
            continue;
        };
        let key = (client.value.as_str(), service.value.as_str());
        if let Some(first) = seen.get(&key) {
            let first_line = diag.line_of(first);
            diag.report(
                &grant.header,
                Rule::DuplicateGrant,
                format!(
                    "realm \"{}\" is granted service \"{}\" twice (first at line {first_line})",
                    client.value, service.value
                ),
            );
            continue;
        }
        seen.insert(key, &grant.header);
        if check_grant_allowed(drafts, client, service_index, diag) {
            check_grant_priority(drafts, resolved, client, service_index, diag);
        }
    }
}

/// A grant's client does not run above the service's provider, unless the service sets
/// `allow_priority_inversion`.
fn check_grant_priority(
    drafts: &Drafts,
    resolved: &Resolved,
    client: &Located<String>,
    service_index: usize,
    diag: &mut Diagnostics,
) {
    let service = &drafts.services[service_index];
    let realms = &resolved.realm_by_name;
    let Some((provider, provider_priority)) = provider_priority(drafts, realms, service) else {
        return;
    };
    let Some(priority) = priority_of(drafts, realms, &client.value) else {
        return;
    };
    if priority <= provider_priority {
        return;
    }
    diag.report(
        &client.span,
        Rule::PriorityInversion,
        format!(
            "grant lets realm \"{}\" (priority {priority}) call {}, whose provider realm \
             \"{provider}\" has priority {provider_priority}: its calls would wait while any \
             realm at {} runs; lower the client, raise the provider, or set \
             allow_priority_inversion = true on the service",
            client.value,
            service.label(),
            priorities_between(provider_priority, priority)
        ),
    );
}

fn known_grant_client(
    client: &Located<String>,
    resolved: &Resolved,
    diag: &mut Diagnostics,
) -> bool {
    let known = resolved.realm_by_name.contains_key(client.value.as_str());
    if !known {
        diag.report(
            &client.span,
            Rule::UnknownGrantClient,
            format!("grant names client \"{}\", which is not a declared realm", client.value),
        );
    }
    known
}

/// The service and its draft index, if it is declared.
fn known_grant_service<'a>(
    service: &'a Located<String>,
    resolved: &Resolved,
    diag: &mut Diagnostics,
) -> Option<(&'a Located<String>, usize)> {
    match resolved.service_by_name.get(service.value.as_str()) {
        Some(&index) => Some((service, index)),
        None => {
            diag.report(
                &service.span,
                Rule::UnknownGrantService,
                format!(
                    "grant names service \"{}\", which is not a declared service",
                    service.value
                ),
            );
            None
        }
    }
}

/// Whether the service's `allowed_clients` let the grant's client in (reported if not).
fn check_grant_allowed(
    drafts: &Drafts,
    client: &Located<String>,
    service_index: usize,
    diag: &mut Diagnostics,
) -> bool {
    let service = &drafts.services[service_index];
    let Some(allowed) = &service.allowed_clients else {
        return true;
    };
    if allowed.iter().any(|allowed| allowed.value == client.value) {
        return true;
    }
    let names: Vec<String> =
        allowed.iter().map(|allowed| format!("\"{}\"", allowed.value)).collect();
    let accepts = if names.is_empty() {
        String::from("accepts no client")
    } else {
        format!("accepts only {}", names.join(", "))
    };
    diag.report(
        &client.span,
        Rule::GrantDeniedByService,
        format!(
            "grant lets realm \"{}\" connect to {}, but that service {accepts}; add \"{}\" to its \
             allowed_clients or remove this grant",
            client.value,
            service.label(),
            client.value
        ),
    );
    false
}
