//! The typed interfaces of the acceptance suite (tests/interfaces.rs), declared once each and
//! shared by the services and their clients in this program:
//!
//! - `if-kv` ([`Kv`]): a store of at most [`CAPACITY`] keys, with an application error
//!   ([`KvError`]) that travels as a value (postcard);
//! - [`stale::Kv`]: `if-kv` as an older client was built against it (same name, same
//!   operations, `put` with another result type): another fingerprint;
//! - `if-gate` ([`Gate`]): answers kept for later (deferrable operations), released by
//!   another client's call or by the realm's timed signal, and the server's counters
//!   ([`Served`], plain data: the words encoding);
//! - `if-flaky` ([`Flaky`]): a service that crashes on the request after `arm`, to see an
//!   idempotent operation retried and a non-idempotent one report the restart.

use serde::{Deserialize, Serialize};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A key of the store: a string of at most 16 bytes (postcard: a length word, then the
/// bytes).
pub type Key = heapless::String<16>;

/// How many keys the store holds.
pub const CAPACITY: u32 = 4;

/// The store's application error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, realm_runtime::Wire)]
#[wire(postcard)]
pub enum KvError {
    /// No value under that key.
    NotFound,
    /// The store holds `capacity` keys already.
    Full { capacity: u32 },
}

/// A key-value store.
#[realm_runtime::interface(name = "if-kv")]
pub trait Kv {
    /// The value under `key`.
    #[idempotent]
    fn get(key: Key) -> Result<u64, KvError>;
    /// Stores `value` under `key`.
    fn put(key: Key, value: u64) -> Result<(), KvError>;
    /// How many keys the store holds.
    fn count() -> u64;
}

/// `if-kv` as an older client knows it.
pub mod stale {
    use super::{Key, KvError};

    /// The store before `put` had an application error: it answered how many keys it held
    /// then.
    #[realm_runtime::interface(name = "if-kv")]
    pub trait Kv {
        #[idempotent]
        fn get(key: Key) -> Result<u64, KvError>;
        fn put(key: Key, value: u64) -> u64;
        fn count() -> u64;
    }
}

/// Why the gate refused to keep a caller waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, realm_runtime::Wire)]
#[wire(postcard)]
pub enum GateError {
    /// A caller of the same operation waits already (the gate keeps one of each).
    Busy,
    /// The memory manager refused the timed signal.
    NoTimer,
    /// The runtime could not keep the reply (`Call::defer` failed).
    CannotDefer,
}

/// What the gate's realm served since it started: requests of each service, and wake-ups by
/// its notification (with the timer's bit, with other bits).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    IntoBytes,
    FromBytes,
    Immutable,
    KnownLayout,
    realm_runtime::Wire,
)]
#[wire(words)]
#[repr(C)]
pub struct Served {
    pub kv: u32,
    pub gate: u32,
    pub signals: u32,
    pub other_signals: u32,
}

/// Answers kept for later. Its operations are numbered from 10, so that none has the number
/// of an `if-kv` operation: a request on the wrong service is refused, not served by the
/// other.
#[realm_runtime::interface(name = "if-gate")]
pub trait Gate {
    /// Waits until a `release` of `ticket`; answers the value the release gave.
    #[deferrable]
    #[operation(10)]
    fn wait(ticket: u64) -> Result<u64, GateError>;
    /// Answers the caller waiting on `ticket` with `value`; how many were waiting (0 or 1).
    fn release(ticket: u64, value: u64) -> u32;
    /// Waits `milliseconds` (the realm's timed signal); answers how many milliseconds the
    /// server measured from the request to the signal.
    #[deferrable]
    fn wait_timer(milliseconds: u64) -> Result<u64, GateError>;
    /// The server's counters.
    fn served() -> Served;
}

/// The state of one instance of the flaky service.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    IntoBytes,
    FromBytes,
    Immutable,
    KnownLayout,
    realm_runtime::Wire,
)]
#[wire(words)]
#[repr(C)]
pub struct FlakyState {
    /// The broker's generation of this instance's registration.
    pub generation: u32,
    /// Requests this instance served, this one included.
    pub served: u32,
}

/// A service that crashes on the request after `arm`.
#[realm_runtime::interface(name = "if-flaky")]
pub trait Flaky {
    /// This instance's state.
    #[idempotent]
    fn state() -> FlakyState;
    /// Makes the next request crash the service (a panic while the caller waits).
    fn arm();
    /// Adds `by` to this instance's counter; answers the sum.
    fn bump(by: u64) -> u64;
}
