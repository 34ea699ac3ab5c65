//! The typed interfaces of the threads suites (tests/threads.rs), declared once each and
//! shared by the services and their clients in this program:
//!
//! - `th-work` ([`Work`]): the workers' service; each answer is [`answer`] of the request,
//!   which the client checks, with the id of the worker thread that served it;
//! - `th-oracle` ([`Oracle`]): a service the workers call from inside a request;
//! - `th-hold` ([`Hold`]): a service whose workers fault, panic or end while a caller waits;
//! - `th-calc` ([`Calc`]): served by a thread on its inbox, called by another thread of the
//!   same realm;
//! - `th-route` ([`Route`]): served by handler threads behind a router.

/// The answer to request `x` of client `client`: what a worker must compute, and what the
/// client checks (a mix of both, so an answer meant for another request or another client
/// is wrong).
pub fn answer(client: u64, x: u64) -> u64 {
    let mixed = x.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed.rotate_left((client % 61) as u32 + 1) ^ client.wrapping_mul(0xA24B_AED4_963E_E407)
}

/// The workers' service.
#[realm_runtime::interface(name = "th-work")]
pub trait Work {
    /// `[answer(client, x), the id of the worker thread that computed it]`. A worker asks
    /// the oracle for every request whose `x` is a multiple of [`ORACLE_EVERY`].
    fn compute(client: u64, x: u64) -> [u64; 2];
    /// Client `client` made all its calls; once every client has said so, the server prints
    /// what each worker served.
    fn done(client: u64) -> u64;
}

/// A worker asks the oracle for the answer of every request whose `x` is a multiple of this.
pub const ORACLE_EVERY: u64 = 25;

/// A service the workers call while they hold their own caller.
#[realm_runtime::interface(name = "th-oracle")]
pub trait Oracle {
    /// [`answer`]`(client, x)`.
    fn answer(client: u64, x: u64) -> u64;
}

/// A service whose workers misbehave on request.
#[realm_runtime::interface(name = "th-hold")]
pub trait Hold {
    /// Waits until [`HELD_TOGETHER`] callers are held at once, one per worker; the worker that
    /// took the last of them then faults, while every worker holds its caller.
    fn hold() -> u64;
    /// `[x + 1, the id of the worker thread that served it]`.
    fn echo(x: u64) -> [u64; 2];
    /// The worker faults (an invalid instruction) while its caller waits.
    fn fault() -> u64;
    /// The worker panics while its caller waits.
    fn panic() -> u64;
    /// The worker ends its thread (`ExitThread`) while its caller waits.
    fn exit() -> u64;
    /// Lets the server's main thread go on: it ends the realm with `ExitThread`.
    fn release() -> u64;
}

/// How many callers `hold` gathers before the fault.
pub const HELD_TOGETHER: u64 = 4;

/// Served by a thread on its inbox, for the other threads of its realm.
#[realm_runtime::interface(name = "th-calc")]
pub trait Calc {
    /// `a * b + 1`.
    fn mul(a: u64, b: u64) -> u64;
    /// The id of the thread that serves.
    fn whoami() -> u64;
}

/// Served by handler threads behind a router.
#[realm_runtime::interface(name = "th-route")]
pub trait Route {
    /// `[x * x, the id of the handler thread]`.
    #[operation(1)]
    fn square(x: u64) -> [u64; 2];
    /// `[!x, the id of the handler thread]`.
    #[operation(2)]
    fn negate(x: u64) -> [u64; 2];
}

/// `square`'s operation number (the label of its requests).
pub const SQUARE: u64 = 1;
/// `negate`'s operation number.
pub const NEGATE: u64 = 2;
