//! Last step: turns checked drafts into the bounded [`SystemConfig`], realms put parents first.
//!
//! Runs only when no error was reported, so every field is present and every count is within
//! its bound; any gap makes it return `None`, which the reported errors already explain.

use std::collections::HashMap;
use std::vec;
use std::vec::Vec;

use super::drafts::{Drafts, GrantDraft, RealmDraft, ServiceDraft};
use super::validate::{Link, Resolved};
use crate::model::{
    AllowedClients, Grant, NameText, Realm, RealmId, Service, ServiceId, SystemConfig,
};

pub(crate) fn build(drafts: &Drafts, resolved: &Resolved) -> Option<SystemConfig> {
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
        config.realms.push(build_realm(draft, parent)?).ok()?;
    }
    for draft in &drafts.services {
        let service = build_service(draft, &realm_id_by_name)?;
        config.services.push(service).ok()?;
    }
    for draft in &drafts.grants {
        let grant = build_grant(draft, &realm_id_by_name, resolved)?;
        config.grants.push(grant).ok()?;
    }
    Some(config)
}

/// Draft indices in storage order: file order, except that a realm declared before its parent
/// moves just after the parent. `None` unless every realm hangs under one root.
fn parents_first(links: &[Link]) -> Option<Vec<usize>> {
    let mut placed = vec![false; links.len()];
    let mut order = Vec::with_capacity(links.len());
    loop {
        let next = (0..links.len()).find(|&index| {
            !placed[index]
                && match links[index] {
                    Link::Root => order.is_empty(),
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
