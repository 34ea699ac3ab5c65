//! Every limit of the project, defined once, each with what it bounds and why it is that
//! number. The tables that hold these things are `heapless` and sized by them, so a limit
//! reached is an error the caller sees, never an allocation or a panic.
//!
//! The kernel facts ([`PAGE_BYTES`], [`MAX_MESSAGE_WORDS`]) are defined in the `sel4`
//! binding, next to the kernel version they come from, and only re-exported here.

/// The most message words one seL4 IPC carries (120), from the seL4 binding.
pub use sel4::kernel::MAX_MESSAGE_WORDS;
/// The bytes of one small page (4 KiB), from the seL4 binding: the unit of mappings, memory
/// budgets and frames.
pub use sel4::kernel::PAGE_BYTES;

/// Most realms one system may have (`[[realm]]` tables). Bounds the system description, the
/// policy's and the broker's realm tables, the console's sources and the memory manager's
/// per-realm CSpace windows (each realm takes a fixed window of its slots). 32 covers every
/// system we run with room to spare while keeping those per-realm tables small; realm ids
/// are a byte, and the realm badge has room for far more.
pub const MAX_REALMS: usize = 32;

/// Most threads a realm can have at once: its main thread (id 0) and up to 15 it spawns
/// (`ipc::ThreadId`). A realm's `max_threads` in `system.toml` is at most this. 16 keeps the
/// per-realm thread tables small, fits a thread id in the 4 bits the realm, fault and inbox
/// badges give it, and lets every thread's stack and IPC buffer live under one page table
/// (`ipc::abi::THREADS_BASE`).
pub const MAX_THREADS_PER_REALM: usize = 16;

/// Log2 of the slots of a realm's own CNode (2^11 = 2048): the slots its caps live in, the
/// fixed ones of `ipc::abi::slot` first, then the range the broker fills (a service's
/// receive cap, a connection's send cap). Enough for a realm's whole connection quota (at
/// most 255) and service quota (at most [`MAX_REALM_SERVICES`] of which only a few are
/// reachable in practice), and small enough (64 KiB of slots) to come out of the realm's
/// own budget.
pub const REALM_CNODE_BITS: u8 = 11;

/// Capability slots of the memory manager's CNode for one realm's objects (its CNode, TCB,
/// paging structures, stack, IPC buffer and every page it maps, each one slot): 1536, so that
/// [`MAX_REALMS`] ranges fit the top of the root CNode's 2^16 slots beside the memory manager's
/// own. It bounds what a realm can map: about 1,470 run-time pages (nearly 6 MiB) after its
/// program and stack, whatever its memory budget.
pub const REALM_OBJECT_SLOTS: u64 = 1536;

/// Paging structures one realm may have (PDPTs, page directories and page tables together;
/// its PML4 is not counted): 64, enough to map its program, stack and run-time pages wherever
/// the memory manager places them.
pub const MAX_PAGING_STRUCTURES: usize = 64;

/// Most services one system may **declare** (`[[service]]` tables): the static part of the
/// policy. 64 leaves room for several per realm; the policy keeps them in a table sorted by
/// name.
pub const MAX_DECLARED_SERVICES: usize = 64;

/// Most services **registered** at run time at once, over all realms, declared or not: the
/// size of the service registry's table (and one broker slot each for the endpoint). 1024 so
/// that every realm's `max_services` quota can be generous; the system description checks
/// that the quotas together fit in it.
pub const MAX_REGISTERED_SERVICES: usize = 1024;

/// The highest `max_services` one realm may set: all of the registry
/// ([`MAX_REGISTERED_SERVICES`]); the sum over realms is checked against the same table.
pub const MAX_REALM_SERVICES: usize = MAX_REGISTERED_SERVICES;

/// Most connections open at once, over all realms: the size of the registry's connection
/// table, and one index of the 10-bit index field of a connection id (`ipc::ConnectionId`,
/// carried in the connection badge), so it is 2^10. Every realm's `max_connections`
/// together must fit.
pub const MAX_CONNECTIONS: usize = 1 << 10;

/// Most grants one system may declare (`[[grant]]` tables): two per declared service on
/// average.
pub const MAX_DECLARED_GRANTS: usize = 2 * MAX_DECLARED_SERVICES;

/// Most run-time grants (a parent's grants to its children) held at once: eight per realm on
/// average, enough for a parent delegating each of its services to each child.
pub const MAX_RUNTIME_GRANTS: usize = 8 * MAX_REALMS;

/// Most entries in one service's `allowed_clients` list: half of [`MAX_REALMS`]; a service
/// that accepts more clients than that is better left open (no list) and bounded by grants.
pub const MAX_ALLOWED_CLIENTS: usize = 16;

/// The longest [`Name`](crate::Name) of a realm or service, in bytes (ASCII, so also
/// characters): 32, four message words on the wire, so the largest request (a grant naming
/// a realm and a service) stays a handful of words.
pub const MAX_NAME_BYTES: usize = 32;

/// The longest [`ProgramName`](crate::ProgramName), in bytes: 32, like names, which every
/// program of the build fits.
pub const MAX_PROGRAM_NAME_BYTES: usize = 32;

// Ids are bytes: every realm and declared service must have one.
const _: () = assert!(MAX_REALMS <= 1 << u8::BITS && MAX_DECLARED_SERVICES <= 1 << u8::BITS);
// Tables index services and connections with u16.
const _: () = assert!(MAX_REGISTERED_SERVICES <= 1 << 16 && MAX_CONNECTIONS <= 1 << 16);
// A name's length is kept in a byte.
const _: () = assert!(MAX_NAME_BYTES <= u8::MAX as usize);
const _: () = assert!(MAX_PROGRAM_NAME_BYTES <= u8::MAX as usize);
// An allowed-clients list never needs more entries than there are realms.
const _: () = assert!(MAX_ALLOWED_CLIENTS <= MAX_REALMS);
