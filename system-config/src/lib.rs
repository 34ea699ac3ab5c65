//! The system description of a Switchboard system: `system.toml`.
//!
//! One file describes the whole system: which **realms** the memory manager starts (a tree,
//! each realm started by its parent), which **services** each realm provides, and which
//! **grants** let a realm connect to a service. This crate defines that description, checks
//! it, and carries it to the memory manager:
//!
//! - **Model** (`no_std`, always built): [`SystemConfig`] with its [`Realm`]s, [`Service`]s and
//!   [`Grant`]s, bounded with `heapless` ([`MAX_REALMS`], [`MAX_DECLARED_SERVICES`], [`MAX_DECLARED_GRANTS`],
//!   [`MAX_ALLOWED_CLIENTS`], [`MAX_NAME_BYTES`]). Realms and services refer to each other by
//!   index ([`RealmId`], [`ServiceId`]), never by name.
//! - **Rules** (`no_std`, [`rules`]): one engine checks a [`SystemConfig`] and yields
//!   [`Finding`]s (the [`Rule`] broken, the [`Item`] it concerns, a sentence). Both sides run
//!   it: [`CheckedConfig::new`] at boot, `parse` on the host. A [`CheckedConfig`] is a model
//!   that passed every rule; only the engine makes one.
//! - **Boot check** (`no_std`): [`decode`] reads the bytes made by [`encode`] and re-checks
//!   every rule with the engine, trusting nothing; it returns a [`CheckedConfig`], or a
//!   [`DecodeError`] (bytes that are no configuration, or the first finding, which
//!   [`Refusal`] prints with the configuration's names).
//!   It never panics, whatever the bytes.
//! - **Host side** (feature `host`): [`parse`] reads `system.toml`, reports *every* broken rule
//!   as a [`ConfigError`] with file, line and column, and builds the model, returned as the
//!   [`CheckedConfig`] the engine passed (what a host test hands the broker); [`encode`] turns
//!   the model into bytes (one [`FORMAT_VERSION`] byte, then postcard).
//!
//! ```text
//! system.toml --parse--> SystemConfig --encode--> bytes --(boot image)--> decode --> SystemConfig
//!               (host, all errors, lines)                       (seL4, re-checks every rule)
//! ```
//!
//! # Why TOML
//!
//! It is what Rust and seL4 people already write (`Cargo.toml`, Hubris' `app.toml`), it has
//! comments, its arrays of tables (`[[realm]]`) read as a list of declarations, and its parser
//! gives the exact position of every key and value, so every error points at the offending
//! value or table instead of line 1. Microkit's XML needs more noise for the same content;
//! JSON has no comments; a custom language would need its own parser and editor support.
//!
//! # The format
//!
//! A file has one optional `[system]` table and three kinds of tables, each repeatable:
//! `[[realm]]`, `[[service]]` and `[[grant]]`, in any order. Realms, services and grants may
//! refer to items declared later.
//!
//! ## `[system]`
//!
//! | field | required | meaning |
//! | --- | --- | --- |
//! | `run` | no | `"forever"` (default): the memory manager serves its realms until the machine is switched off; `"until-idle"`: once every realm has stopped or only serves, it stops the servers, checks that all memory and slots are back and ends the run with its verdict (tests, demos, benchmarks) |
//! | `log` | no | how much the console prints: `"all"` (default) every decision and the realms' lines; `"denials"` refusals, faults, panics and the realms' lines; `"quiet"` only refusals, faults and panics. Refusals are always printed; identical ones that repeat are summarised with a count |
//! | `memory` | no | the machine's memory, written like a realm's `memory` (`"512 MiB"`); default `"512 MiB"` ([`DEFAULT_MACHINE_MEMORY`]), what the `qemu` tool gives QEMU (`-m 512`, whatever this says). The realms' budgets together must fit in it |
//!
//! The budgets check is what the build can know: the kernel, the memory manager and the
//! alignment of the blocks a budget is made of also take memory, so a system that passes it
//! may still not start. A realm that cannot be started at boot fails the run (`run` does not
//! change that): the memory manager says which realm and why, stops the realms it started,
//! and ends the run with `FAIL`.
//!
//! ## `[[realm]]`
//!
//! | field | required | meaning |
//! | --- | --- | --- |
//! | `name` | yes | unique; 1 to 32 of `a-z`, `0-9`, `-` (a `vocabulary::Name`: the same rule as every name a realm registers or connects to at run time) |
//! | `program` | yes | the program it runs: one the build has, by its Cargo package name (1 to 32 of ASCII letters, digits, `-`, `_`: a `vocabulary::ProgramName`) |
//! | `parent` | no | the realm that starts it; omitted for the root, and only for the root |
//! | `priority` | yes | seL4 priority, 0 to 253 ([`MAX_REALM_PRIORITY`]: 254 is the memory manager's console thread while it drains its own lines, 255 the memory manager), at most the parent's |
//! | `memory` | yes | budget: bytes (`65536`) or a string with `KiB`, `MiB`, `GiB` (`"16 MiB"`, `"64KiB"`); whole 4 KiB pages, more than 0, at most the parent's |
//! | `restartable` | no | restart the realm when it faults or panics; default `false` |
//! | `max_restarts` | no | how many times a restartable realm is restarted, 0 to 255; default 3 |
//! | `max_connections` | no | most connections it may hold at once, 0 to 255; default [`DEFAULT_MAX_CONNECTIONS`] |
//! | `max_services` | no | most services it may have registered at once (declared here or not), 0 to 1024; default [`DEFAULT_MAX_SERVICES`]; the services declared for it count |
//! | `max_threads` | no | most threads it may have at once, 1 to 16 ([`MAX_THREADS_PER_REALM`]), counting the main thread and threads that ended but were not joined yet; default 1 ([`DEFAULT_MAX_THREADS`]): the main thread only |
//! | `on_thread_fault` | no | what a fault or a panic of a spawned thread does: `"stop-realm"` (default) stops the realm as if its main thread had faulted; `"stop-thread"` stops only that thread (it answers the client it owed a reply with `ABORTED`, its joiner hears `Faulted` or `Panicked`) and the realm goes on. A fault or panic of the main thread always stops the realm |
//!
//! Exactly one realm has no `parent`: the root, started by the memory manager. Every other
//! realm hangs under it, with no cycle. A child never gets more memory or a higher priority than
//! its parent: each child's budget is held to its parent's budget (not to what the parent's
//! other children leave over).
//!
//! **Threads.** A realm has its main thread only unless it says otherwise: `max_threads`
//! defaults to 1, so that a realm that spawns threads says so where the reader of the system
//! description sees it (Microkit's protection domains, one thread each, are the precedent).
//! Every thread a realm spawns is paid for from its own `memory` (a stack of 16 pages, an IPC
//! buffer page, a TCB and an endpoint, made on the first use of a thread index and kept for
//! the next thread in that index), so `max_threads` also bounds what threads can cost it.
//!
//! ## `[[service]]`
//!
//! | field | required | meaning |
//! | --- | --- | --- |
//! | `name` | yes | unique among services; 1 to 32 of `a-z`, `0-9`, `-` (services and realms have separate names) |
//! | `realm` | yes | the realm that provides it |
//! | `allowed_clients` | no | the service's own policy: the only realms it accepts (at most 16, no repeats); absent: any realm the rest of the policy lets through; `[]`: nobody |
//! | `allow_priority_inversion` | no | `true`: the service accepts declared clients (grants, allowed clients) at a higher priority than its provider; default `false` |
//! | `interface` | no | the typed interface the service must be registered with, by name (1 to 32 of `a-z`, `0-9`, `-`, the rule of every name): the broker refuses a register of the service that declares another interface name or none (`InterfaceMismatch`, logged), and the build checks that the provider's program records an interface of that name; absent: any interface, or none |
//!
//! **Priority inversion.** seL4 5.0.0 (our kernel, without MCS) runs a service's thread at its
//! own priority while it answers a call: a client above the provider waits while every ready
//! realm between the two priorities runs. So a grant or an allowed client whose priority is
//! above the provider's is refused (`priority-inversion`), naming both priorities, unless the
//! service sets `allow_priority_inversion = true`: the opt-out for a service whose author
//! means it (its calls are short, or nothing runs between the two priorities; a parent that
//! holds a grant to its child's service only to delegate it at run time). Connects that only
//! the run time decides (a parent's run-time grant) are not checked here: the broker prints a
//! `priority-inversion` warning for each connect whose client is above the provider, with
//! both priorities (a connect by a `[[grant]]`, which this check saw, is not warned about).
//!
//! ## `[[grant]]`
//!
//! | field | required | meaning |
//! | --- | --- | --- |
//! | `client` | yes | the realm that may connect |
//! | `service` | yes | the service it may connect to |
//!
//! A grant is never repeated and never contradicts the service's `allowed_clients`. Grants
//! are one of several ways to reach a service: the memory manager's hierarchy rules (a child
//! may reach its parent) and run-time grants by a parent need no `[[grant]]`.
//!
//! ## A full example
//!
//! This is the demo system, `system.toml` at the repository root:
//!
//! ```toml
//! # Switchboard demo system: a logger, a key-value store, an application and an untrusted
//! # plugin, all started (directly or not) by init.
//! #
//! #   init ─┬─ logger      provides "log"
//! #         ├─ kv          provides "kv"     (only "app" may use it)
//! #         └─ app         provides "plugin-api" (only "plugin" may use it)
//! #              └─ plugin untrusted: no grant, small budget, low priority
//!
//! # The demo ends once every realm is done, with the memory check and a verdict.
//! [system]
//! run = "until-idle"
//!
//! [[realm]]
//! name = "init"
//! program = "init"
//! priority = 200
//! memory = "16 MiB"
//! max_services = 0
//!
//! [[realm]]
//! name = "logger"
//! program = "logger"
//! parent = "init"
//! priority = 150
//! memory = "2 MiB"
//! max_connections = 0      # the logger connects to nobody
//! max_services = 1
//!
//! [[realm]]
//! name = "kv"
//! program = "kv-store"
//! parent = "init"
//! priority = 120
//! memory = "4 MiB"
//! restartable = true       # the store is restarted if it dies; clients reconnect
//! max_services = 1
//!
//! [[realm]]
//! name = "app"
//! program = "app"
//! parent = "init"
//! priority = 100
//! memory = "6 MiB"
//! max_connections = 4
//!
//! [[realm]]
//! name = "plugin"
//! program = "plugin"
//! parent = "app"           # the app starts it and is the only realm it may reach
//! priority = 50
//! memory = "512 KiB"
//! max_connections = 1
//! max_services = 0
//!
//! [[service]]
//! name = "log"
//! interface = "log"   # the typed interface it must be registered with (realms/protocols)
//! realm = "logger"
//! allowed_clients = ["kv", "app"]
//!
//! [[service]]
//! name = "kv"
//! interface = "kv"
//! realm = "kv"
//! allowed_clients = ["app"]
//!
//! [[service]]
//! name = "plugin-api"
//! interface = "plugin-api"
//! realm = "app"
//! allowed_clients = ["plugin"]
//!
//! [[grant]]
//! client = "kv"
//! service = "log"
//!
//! [[grant]]
//! client = "app"
//! service = "log"
//!
//! [[grant]]
//! client = "app"
//! service = "kv"
//! ```
//!
//! # What the memory manager gets
//!
//! Realms are stored **parents first**: the root is [`RealmId::ROOT`] (index 0), and each
//! other realm's parent has a smaller index than the realm. Realms keep their file order,
//! except that a realm declared before its parent moves just after it. Services and grants
//! keep their file order. Every value that [`decode`] returns satisfies every rule above, so
//! the memory manager may index with the ids it finds inside (through [`SystemConfig::realm`]
//! and [`SystemConfig::service`], which return `Option` anyway).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"
//! [[realm]]
//! name = "init"
//! program = "init"
//! priority = 200
//! memory = "16 MiB"
//! "#;
//! // The host check makes the same `CheckedConfig` the boot check makes.
//! let config = system_config::parse("system.toml", text, &["init"]).map_err(|errors| {
//!     errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
//! })?;
//! let bytes = system_config::encode(&config)?;
//! let checked: system_config::CheckedConfig = system_config::decode(&bytes)?;
//! assert_eq!(checked, config);
//! # Ok(())
//! # }
//! ```
//!
//! # Errors and their rules
//!
//! [`parse`] (and [`parse_bytes`], for a file's bytes) reports every error it finds, in file order, each printed like
//! `system.toml:12:8: error[duplicate-realm]: realm "kv" is declared twice (first at line 4)`.
//! The position is that of the offending value (or key, or `[[table]]` header for an item as a
//! whole). A TOML syntax error stops the checks, since the rest of the file cannot be trusted.
//! Each [`Rule`] has a stable code:
//!
//! | code | what is wrong |
//! | --- | --- |
//! | `not-text` | the file is not UTF-8 text (TOML is UTF-8); points at the first byte that is not |
//! | `toml-syntax` | the text is not valid TOML (duplicate keys included) |
//! | `unknown-field` | a key the format does not have, at the top level or in a table |
//! | `missing-field` | a required key is absent (points at the table) |
//! | `wrong-type` | a value of the wrong TOML type, or `[realm]` instead of `[[realm]]` |
//! | `bad-name` | a realm, service, interface or program name that is empty, too long or has a bad character |
//! | `duplicate-realm` | two realms have the same name |
//! | `duplicate-service` | two services have the same name |
//! | `unknown-parent` | `parent` is not a declared realm |
//! | `no-root-realm` | no realm is declared, or every realm has a `parent` |
//! | `multiple-root-realms` | more than one realm has no `parent` |
//! | `realm-cycle` | following `parent` leads back to the start |
//! | `unknown-service-realm` | a service's `realm` is not a declared realm |
//! | `unknown-grant-client` | a grant's `client` is not a declared realm |
//! | `unknown-grant-service` | a grant's `service` is not a declared service |
//! | `unknown-allowed-client` | an `allowed_clients` entry is not a declared realm |
//! | `duplicate-allowed-client` | a realm is listed twice in one `allowed_clients` |
//! | `duplicate-grant` | the same grant is declared twice |
//! | `grant-denied-by-service` | a grant's client is not in the service's `allowed_clients` |
//! | `memory-above-parent` | a realm's memory budget is above its parent's |
//! | `priority-above-parent` | a realm's priority is above its parent's |
//! | `unknown-program` | `program` is not one of the programs the build has |
//! | `bad-memory-size` | a memory size that is malformed, zero, too large or not whole 4 KiB pages |
//! | `too-many-realms` | more than [`MAX_REALMS`] realms |
//! | `too-many-services` | more than [`MAX_DECLARED_SERVICES`] services |
//! | `too-many-grants` | more than [`MAX_DECLARED_GRANTS`] grants |
//! | `too-many-allowed-clients` | more than [`MAX_ALLOWED_CLIENTS`] entries in `allowed_clients` |
//! | `priority-out-of-range` | a priority outside 0 to 253 |
//! | `quota-out-of-range` | `max_connections` outside 0 to 255, `max_services` outside 0 to 1024, or `max_threads` outside 1 to 16 |
//! | `service-quota-exceeded` | a realm provides more services than its `max_services` |
//! | `quotas-exceed-broker` | all realms' `max_services` (or `max_connections`) add up to more than the broker's 1024 |
//! | `bad-setting` | a setting that is not one of its choices: `run` or `log` of `[system]`, a realm's `on_thread_fault` |
//! | `priority-inversion` | a grant's client, or an allowed client, has a higher priority than the service's provider, and the service does not set `allow_priority_inversion` |
//! | `budgets-exceed-memory` | the realms' memory budgets add up to more than the machine's `memory` (points at the budget that makes the sum, in file order, too large) |
//!
//! Where each rule is checked: what only exists on text (`not-text`, `toml-syntax`,
//! `unknown-field`, `missing-field`, `wrong-type`, `bad-setting`, `unknown-program`, a memory
//! size or a number that does not read) and what only exists while items refer to each other
//! by name (the `unknown-*` rules, `no-root-realm`, `multiple-root-realms`, `realm-cycle`,
//! the `too-many-*` rules) are the parser's. Everything else is the rule engine's
//! ([`rules::check`]), which runs on the model once the file has no parser error: so a file
//! with both kinds of errors shows the parser's first, and the engine's once those are fixed.
//! The engine also has the model's form of every parser rule that can still be broken once
//! names are indices (a parent, client or service index out of range, a parent stored after
//! its child, a second root, a malformed name, a budget that is not whole pages, a priority
//! above 253...), under the same code: [`decode`] runs the engine on the decoded model, so a
//! configuration broken after the build is refused for the rule its text would have broken.
//! Running sums (`quotas-exceed-broker`, `budgets-exceed-memory`) are taken in storage order:
//! the file's order, except that a realm declared before its parent comes after it.
//!
//! # What this crate does not do
//!
//! It does not decide connections at run time (the memory manager's policy does, using this
//! description), and it does not know program binaries (the build passes their names).

#![cfg_attr(not(any(test, feature = "host")), no_std)]
#![forbid(unsafe_code)]
// The memory manager decodes and checks the boot image with this crate: no index, unwrap or
// panic may stop it (the host-only parser may: it runs in the build tool).
#![cfg_attr(
    not(any(test, feature = "host")),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// The docs link to the host-side API, which only exists with feature `host`.
#![cfg_attr(not(feature = "host"), allow(rustdoc::broken_intra_doc_links))]

pub mod image;
mod model;
pub mod rules;
mod wire;

#[cfg(feature = "host")]
mod host;

pub use model::{
    AllowedClients, DEFAULT_MACHINE_MEMORY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESTARTS,
    DEFAULT_MAX_SERVICES, DEFAULT_MAX_THREADS, Grant, LogLevel, MAX_ALLOWED_CLIENTS,
    MAX_CONNECTIONS, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_NAME_BYTES,
    MAX_REALM_PRIORITY, MAX_REALM_SERVICES, MAX_REALMS, MAX_REGISTERED_SERVICES,
    MAX_THREADS_PER_REALM, NameText, PAGE_BYTES, Realm, RealmId, RunPolicy, Service, ServiceId,
    Settings, SystemConfig, ThreadFaultPolicy,
};
pub use rules::{CheckedConfig, Finding, Item, Problem, Rule};
pub use wire::{DecodeError, FORMAT_VERSION, Refusal, decode};

#[cfg(feature = "host")]
pub use host::{ConfigError, parse, parse_bytes};
#[cfg(feature = "host")]
pub use wire::{EncodeError, encode};
