//! Last step before the rule engine: turns resolved drafts into the bounded [`SystemConfig`],
//! realms put parents first, and records the side table of where each [`Item`] of the model
//! is written, so that the engine's findings point at the file.
//!
//! Runs only when no error was reported, so every field is present and every count is within
//! its bound; any gap makes it return `None`, which the reported errors already explain.

use std::collections::HashMap;
use std::vec;
use std::vec::Vec;

use super::diagnostics::{Diagnostics, Span};
use super::drafts::{Drafts, GrantDraft, ParentField, RealmDraft, ServiceDraft};
use super::validate::{Link, Resolved};
use crate::model::{
    AllowedClients, DEFAULT_MAX_THREADS, Grant, NameText, Realm, RealmId, Service, ServiceId,
    SystemConfig,
};
use crate::rules::{Item, Line, Lines};

/// Where each item of the model is written: the spans of its table and of its fields.
#[derive(Debug, Default)]
pub(crate) struct SideTable {
    spans: HashMap<Item, Span>,
}

impl SideTable {
    fn record(&mut self, item: Item, span: Span) {
        self.spans.insert(item, span);
    }

    /// Where `item` is written: its own span, or its table's when the field is not written
    /// (a default), or `None` (the file as a whole; `memory` of `[system]` not written).
    pub fn span(&self, item: Item) -> Option<Span> {
        if let Some(span) = self.spans.get(&item) {
            return Some(span.clone());
        }
        let table = match item {
            Item::RealmName(id)
            | Item::RealmProgram(id)
            | Item::RealmParent(id)
            | Item::RealmPriority(id)
            | Item::RealmMemory(id)
            | Item::RealmMaxServices(id)
            | Item::RealmMaxThreads(id) => Item::Realm(id),
            Item::ServiceName(id) | Item::ServiceRealm(id) | Item::ServiceInterface(id) => {
                Item::Service(id)
            }
            Item::AllowedClient { service, .. } => Item::Service(service),
            Item::GrantClient(index) | Item::GrantService(index) => Item::Grant(index),
            Item::System | Item::MachineMemory | Item::Realm(_) | Item::Service(_) => {
                return None;
            }
            Item::Grant(_) => return None,
        };
        self.spans.get(&table).cloned()
    }
}

/// The side table with the file's text: the lines the engine's sentences point back at.
pub(crate) struct HostLines<'a, 'd> {
    pub table: &'a SideTable,
    pub diag: &'a Diagnostics<'d>,
}

impl Lines for HostLines<'_, '_> {
    fn line(&self, item: Item) -> Line {
        match self.table.span(item) {
            Some(span) => Line::At(self.diag.line_of(&span)),
            None => Line::Absent,
        }
    }
}

pub(crate) fn build(drafts: &Drafts, resolved: &Resolved) -> Option<(SystemConfig, SideTable)> {
    let order = parents_first(&resolved.links)?;
    let mut realm_ids = vec![None; drafts.realms.len()];
    for (position, &draft_index) in order.iter().enumerate() {
        realm_ids[draft_index] = Some(RealmId(u8::try_from(position).ok()?));
    }
    let realm_id_by_name: HashMap<&str, RealmId> = resolved
        .realm_by_name
        .iter()
        .filter_map(|(&name, &index)| Some((name, realm_ids[index]?)))
        .collect();

    let mut table = SideTable::default();
    if let Some(span) = &drafts.machine_memory {
        table.record(Item::MachineMemory, span.clone());
    }
    let mut config = SystemConfig {
        settings: drafts.settings,
        realms: heapless::Vec::new(),
        services: heapless::Vec::new(),
        grants: heapless::Vec::new(),
    };
    for &draft_index in &order {
        let draft = &drafts.realms[draft_index];
        let parent = match resolved.links[draft_index] {
            Link::Root => None,
            Link::Parent(parent) => Some(realm_ids[parent]?),
            Link::Broken => return None,
        };
        record_realm(&mut table, realm_ids[draft_index]?, draft);
        config.realms.push(build_realm(draft, parent)?).ok()?;
    }
    for (index, draft) in drafts.services.iter().enumerate() {
        record_service(&mut table, ServiceId(u8::try_from(index).ok()?), draft);
        let service = build_service(draft, &realm_id_by_name)?;
        config.services.push(service).ok()?;
    }
    for (index, draft) in drafts.grants.iter().enumerate() {
        table.record(Item::Grant(index), draft.header.clone());
        if let Some(client) = &draft.client {
            table.record(Item::GrantClient(index), client.span.clone());
        }
        if let Some(service) = &draft.service {
            table.record(Item::GrantService(index), service.span.clone());
        }
        let grant = build_grant(draft, &realm_id_by_name, resolved)?;
        config.grants.push(grant).ok()?;
    }
    Some((config, table))
}

fn record_realm(table: &mut SideTable, id: RealmId, draft: &RealmDraft) {
    table.record(Item::Realm(id), draft.header.clone());
    let fields = [
        (Item::RealmName(id), draft.name.as_ref().map(|name| &name.span)),
        (Item::RealmProgram(id), draft.program.as_ref().map(|program| &program.span)),
        (Item::RealmPriority(id), draft.priority.as_ref().map(|priority| &priority.span)),
        (Item::RealmMemory(id), draft.memory.as_ref().map(|memory| &memory.span)),
        (Item::RealmMaxThreads(id), draft.max_threads.as_ref().map(|threads| &threads.span)),
    ];
    for (item, span) in fields {
        if let Some(span) = span {
            table.record(item, span.clone());
        }
    }
    if let ParentField::Named(parent) = &draft.parent {
        table.record(Item::RealmParent(id), parent.span.clone());
    }
}

fn record_service(table: &mut SideTable, id: ServiceId, draft: &ServiceDraft) {
    table.record(Item::Service(id), draft.header.clone());
    if let Some(name) = &draft.name {
        table.record(Item::ServiceName(id), name.span.clone());
    }
    if let Some(realm) = &draft.realm {
        table.record(Item::ServiceRealm(id), realm.span.clone());
    }
    if let Some(interface) = &draft.interface {
        table.record(Item::ServiceInterface(id), interface.span.clone());
    }
    for (position, client) in draft.allowed_clients.iter().flatten().enumerate() {
        table.record(Item::AllowedClient { service: id, position }, client.span.clone());
    }
}

/// Draft indices in storage order: file order, except that a realm declared before its parent
/// moves just after the parent; the first root in file order comes first (a second root is
/// stored too, for the rule engine to report). `None` if a realm hangs under no root.
fn parents_first(links: &[Link]) -> Option<Vec<usize>> {
    let mut placed = vec![false; links.len()];
    let mut order = Vec::with_capacity(links.len());
    loop {
        let next = (0..links.len()).find(|&index| {
            !placed[index]
                && match links[index] {
                    Link::Root => true,
                    Link::Parent(parent) => placed[parent],
                    Link::Broken => false,
                }
        });
        let Some(next) = next else { break };
        placed[next] = true;
        order.push(next);
    }
    (order.len() == links.len()).then_some(order)
}

fn build_realm(draft: &RealmDraft, parent: Option<RealmId>) -> Option<Realm> {
    Some(Realm {
        name: to_name(&draft.name.as_ref()?.value)?,
        program: to_name(&draft.program.as_ref()?.value)?,
        parent,
        priority: draft.priority.as_ref()?.value,
        memory_bytes: draft.memory.as_ref()?.value,
        restartable: draft.restartable,
        max_restarts: draft.max_restarts,
        max_connections: draft.max_connections,
        max_services: draft.max_services,
        max_threads: draft
            .max_threads
            .as_ref()
            .map_or(DEFAULT_MAX_THREADS, |threads| threads.value),
        on_thread_fault: draft.on_thread_fault,
    })
}

fn build_service(draft: &ServiceDraft, realms: &HashMap<&str, RealmId>) -> Option<Service> {
    let allowed_clients = match &draft.allowed_clients {
        None => AllowedClients::Any,
        Some(names) => {
            let mut clients = heapless::Vec::new();
            for name in names {
                clients.push(*realms.get(name.value.as_str())?).ok()?;
            }
            AllowedClients::Only(clients)
        }
    };
    Some(Service {
        name: to_name(&draft.name.as_ref()?.value)?,
        realm: *realms.get(draft.realm.as_ref()?.value.as_str())?,
        allowed_clients,
        allow_priority_inversion: draft.allow_priority_inversion,
        interface: match &draft.interface {
            Some(interface) => Some(to_name(&interface.value)?),
            None => None,
        },
    })
}

fn build_grant(
    draft: &GrantDraft,
    realms: &HashMap<&str, RealmId>,
    resolved: &Resolved,
) -> Option<Grant> {
    let service = resolved.service_by_name.get(draft.service.as_ref()?.value.as_str())?;
    Some(Grant {
        client: *realms.get(draft.client.as_ref()?.value.as_str())?,
        service: ServiceId(u8::try_from(*service).ok()?),
    })
}

fn to_name(text: &str) -> Option<NameText> {
    NameText::try_from(text).ok()
}
