//! Second pass: names resolved to items. What only exists while items refer to each other by
//! name is checked here, before there is a model: every name refers to a declared item, the
//! realms form one tree (one root, no cycle), and no list is over its bound. Everything else
//! is the rule engine's ([`crate::rules`]), run on the model that [`super::build`] makes.

use std::collections::HashMap;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::diagnostics::{Diagnostics, Located, Rule, Span};
use super::drafts::{Drafts, ParentField, RealmDraft};
use crate::model::{MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_REALMS};

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
    let realm_by_name = index_names(drafts.realms.iter().map(|realm| realm.name.as_ref()));
    let links = resolve_parents(drafts, &realm_by_name, diag);
    check_roots(drafts, &links, diag);
    check_cycles(drafts, &links, diag);
    let service_by_name = index_names(drafts.services.iter().map(|service| service.name.as_ref()));
    check_service_references(drafts, &realm_by_name, diag);
    let resolved = Resolved { realm_by_name, service_by_name, links };
    check_grant_references(drafts, &resolved, diag);
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

/// Maps each name to the index of its first declaration (repeats are the rule engine's).
fn index_names<'d>(
    names: impl Iterator<Item = Option<&'d Located<String>>>,
) -> HashMap<&'d str, usize> {
    let mut by_name = HashMap::new();
    for (index, name) in names.enumerate() {
        if let Some(name) = name {
            by_name.entry(name.value.as_str()).or_insert(index);
        }
    }
    by_name
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

/// At least one realm has no parent. (A second one is the rule engine's
/// `multiple-root-realms`: the model holds it, after the first.)
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
    if !links.contains(&Link::Root) {
        diag.report(
            &first_realm.header,
            Rule::NoRootRealm,
            "no realm is the root of the realm tree: every realm names a `parent`, but exactly \
             one realm must have none",
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

/// Each grant names a declared client and service.
fn check_grant_references(drafts: &Drafts, resolved: &Resolved, diag: &mut Diagnostics) {
    for grant in &drafts.grants {
        if let Some(client) = &grant.client
            && !resolved.realm_by_name.contains_key(client.value.as_str())
        {
            diag.report(
                &client.span,
                Rule::UnknownGrantClient,
                format!("grant names client \"{}\", which is not a declared realm", client.value),
            );
        }
        if let Some(service) = &grant.service
            && !resolved.service_by_name.contains_key(service.value.as_str())
        {
            diag.report(
                &service.span,
                Rule::UnknownGrantService,
                format!(
                    "grant names service \"{}\", which is not a declared service",
                    service.value
                ),
            );
        }
    }
}
