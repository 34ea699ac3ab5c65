//! `supervisor`: the lifecycle of realms, sans-IO.
//!
//! The supervisor owns one thing: the state of each realm ([`State`], one enum per realm)
//! with its restart policy (`restartable`, `max_restarts`) and the restarts it has had. It
//! owns no kernel object and never touches the kernel: the root task keeps the realms'
//! threads, CSpaces and memory, tells the supervisor what happened (a realm started, asked to
//! exit, faulted, panicked, announced that it only serves; an abort could not be done; the
//! run is over) and carries out, in order, the [`Op`]s it gets back through a [`Sink`],
//! together with [`Event`]s to log. So every rule of the lifecycle is tested on the host.
//!
//! Inside a running realm, the [`threads`] module owns the state of its threads (spawned,
//! ended, joined, detached, stopped alone under `on_thread_fault = "stop-thread"`, and the
//! set of threads still answering during the realm's abort): a [`threads::ThreadTable`] per
//! realm, driven by the root task in the same way, whose answers feed this supervisor when a
//! thread's ending ends the realm.
//!
//! # The rules
//!
//! - A realm that ends (exits, faults or panics) and may not owe a client a reply is
//!   stopped at once: [`Op::WithdrawCaps`] (the broker closes its connections and removes its
//!   services), then [`Op::Reclaim`] (its thread stops and its memory comes back).
//! - A realm that may owe a reply (it announced that it serves, or the broker says it owns a
//!   service) is first withdrawn ([`Op::WithdrawCaps`]), marked restarting in the broker if it
//!   will be restarted ([`Op::SetRestarting`]), then aborted ([`Op::Abort`]): its thread
//!   starts again at its entry to answer the client seL4 would otherwise never wake, and then
//!   ends again. Whatever that second ending is, the realm is stopped with its first.
//! - After a crash (a fault or a panic), a restartable realm with restarts left waits, then
//!   is started again (see "Restart back-off" below); a restartable realm that has had its
//!   `max_restarts` stays stopped ([`StopReason::GaveUp`] with the last cause, after
//!   [`Op::SetRestarting`] `false`). A realm that exited is never restarted; a restartable
//!   realm stopped for any reason without a restart gets [`Op::SetRestarting`] `false`, so
//!   clients of an earlier incarnation never keep hearing "restarting" from a realm that
//!   will not come back.
//! - The run is over when every realm has stopped or only serves, and none is aborting,
//!   being started or waiting for a restart ([`Supervisor::is_idle`]);
//!   [`Supervisor::shutdown`] then stops the servers.
//!
//! # Restart back-off
//!
//! A realm that crashes at once would otherwise be restarted in a tight loop, starving every
//! realm of lower priority. So a restart always waits ([`BackoffPolicy`], by default):
//!
//! - the first restart waits [`BackoffPolicy::first_delay`] (10 ms). Every restart waits at
//!   least that: there is no restart without a delay, even after a long healthy run;
//! - a realm that crashes again sooner than [`BackoffPolicy::healthy_after`] (1 s) after it
//!   started waits twice its last delay, up to [`BackoffPolicy::max_delay`] (1 s): 10, 20,
//!   40, ..., 640, 1000, 1000 ms;
//! - a realm that crashes after running at least `healthy_after` starts over at the first
//!   delay.
//!
//! The supervisor holds no clock and no timer: the inputs that start or end a run
//! ([`Supervisor::started`], [`Supervisor::ended`], [`Supervisor::abort_failed`]) take the
//! root task's `now` ([`deadlines::Instant`], nanoseconds since boot). Instead of
//! [`Op::Start`] it emits [`Op::StartAfter`] (with [`Event::RestartDelayed`] for the
//! console), and the realm is [`State::Waiting`]: stopped, its thread and memory gone, its
//! clients hearing "the service is restarting" ([`Op::SetRestarting`] `true`), lower
//! priorities running. Once the delay has passed the root task calls
//! [`Supervisor::restart_due`], which emits [`Op::Start`] as before. The restart is counted
//! against `max_restarts` once the realm has started, as before; a realm with none left
//! gives up at once, without waiting. [`Supervisor::shutdown`] during a wait stops the realm for good
//! ([`StopReason::Shutdown`]) and emits [`Op::CancelRestart`]: the root task forgets the
//! deadline.
//!
//! # Driving it from the root task
//!
//! ```
//! use supervisor::{Duration, Ending, Event, Instant, Op, Sink, State, Supervisor};
//! use ipc::RealmId;
//!
//! struct RootTask;
//! impl Sink for RootTask {
//!     fn run(&mut self, op: Op) {
//!         // WithdrawCaps: broker.realm_died; Reclaim: realm.stop; Abort: realm.abort; ...
//!     }
//!     fn log(&mut self, event: Event) {
//!         println!("memory manager: {event}");
//!     }
//! }
//!
//! let mut supervisor = Supervisor::<64>::new();
//! let kv = RealmId(1);
//! let ms = |n| Instant::ZERO.saturating_add(Duration::from_millis(n));
//! supervisor.add_realm(kv, true, 2).unwrap();
//! supervisor.started(kv, ms(0), &mut RootTask).unwrap(); // the root task built and started it
//! // It faulted; the broker says it owns a service, so it may owe a reply: it is aborted.
//! supervisor.ended(kv, Ending::Faulted, true, ms(5), &mut RootTask).unwrap();
//! // It answered its caller and asked to exit: stopped, and waiting 10 ms to start again.
//! supervisor.ended(kv, Ending::Exited, false, ms(6), &mut RootTask).unwrap();
//! assert_eq!(supervisor.state(kv), Some(State::Waiting { restart_at: ms(16) }));
//! // The root task's timer says the 10 ms have passed: it is started again.
//! supervisor.restart_due(kv, ms(16), &mut RootTask).unwrap();
//! supervisor.started(kv, ms(17), &mut RootTask).unwrap();
//! assert_eq!(supervisor.restarts(kv), Some(1));
//! ```
//!
//! Ops that the root task reports on come last in a call ([`Op::Abort`], [`Op::Start`]), so
//! the root task runs the ops as they come, notes whether that one worked, and once the call
//! has returned reports [`Supervisor::abort_failed`], [`Supervisor::started`] or
//! [`Supervisor::start_failed`]. [`Op::StartAfter`] is not reported on: the root task keeps
//! its deadline and calls [`Supervisor::restart_due`] when it has passed.
#![forbid(unsafe_code)]
// On the memory manager's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(not(test), no_std)]

use core::fmt;

pub use deadlines::{Duration, Instant};

pub mod threads;
use ipc::RealmId;

/// How long a restartable realm waits before each restart (see "Restart back-off" in the
/// crate documentation). Every delay is at least `first_delay` and at most the larger of
/// `first_delay` and `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The delay before the first restart, and after a crash that follows a healthy run.
    pub first_delay: Duration,
    /// The longest delay: doubling stops there.
    pub max_delay: Duration,
    /// A run at least this long is healthy: the next crash starts over at `first_delay`. A
    /// crash sooner after the realm started doubles the last delay.
    pub healthy_after: Duration,
}

impl BackoffPolicy {
    /// 10 ms first, doubling up to 1 s, for crashes within 1 s of starting.
    pub const DEFAULT: BackoffPolicy = BackoffPolicy {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
        healthy_after: Duration::from_secs(1),
    };

    /// The delay before the next restart of a realm that ran for `ran_for` (from
    /// [`Supervisor::started`] to its crash) and waited `last` before its previous restart
    /// (`None` if it never waited).
    pub fn next_delay(&self, last: Option<Duration>, ran_for: Duration) -> Duration {
        match last {
            Some(last) if ran_for < self.healthy_after => {
                last.saturating_mul(2).min(self.max_delay).max(self.first_delay)
            }
            _ => self.first_delay,
        }
    }
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a realm ended, as the root task saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It asked to exit.
    Exited,
    /// Its thread faulted (the kernel sent a fault message).
    Faulted,
    /// It reported a panic.
    Panicked,
}

impl Ending {
    /// A fault or a panic: the endings after which a restartable realm is started again.
    pub fn is_crash(self) -> bool {
        matches!(self, Ending::Faulted | Ending::Panicked)
    }

    fn stop_reason(self) -> StopReason {
        match self {
            Ending::Exited => StopReason::Exited,
            Ending::Faulted => StopReason::Faulted,
            Ending::Panicked => StopReason::Panicked,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ending::Exited => "exited",
            Ending::Faulted => "faulted",
            Ending::Panicked => "panicked",
        })
    }
}

/// Why a realm is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It exited (never restarted).
    Exited,
    /// It faulted and is not restartable.
    Faulted,
    /// It panicked and is not restartable.
    Panicked,
    /// It only served when the run ended, and was stopped by [`Supervisor::shutdown`].
    Shutdown,
    /// It crashed again (`last`: faulted or panicked) after `restarts` restarts, its
    /// `max_restarts`.
    GaveUp { restarts: u8, last: Ending },
    /// Building or starting it failed (at boot, or for a restart).
    CouldNotStart,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Exited => f.write_str("it exited"),
            StopReason::Faulted => f.write_str("it faulted"),
            StopReason::Panicked => f.write_str("it panicked"),
            StopReason::Shutdown => f.write_str("it only served when the run ended"),
            StopReason::GaveUp { restarts, last } => {
                write!(f, "it {last} again after {restarts} restarts, its max_restarts")
            }
            StopReason::CouldNotStart => f.write_str("it could not be started"),
        }
    }
}

/// The lifecycle state of one realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The root task is building and starting it (it reports [`Supervisor::started`] or
    /// [`Supervisor::start_failed`]). `restart`: it was started again after a crash.
    Starting { restart: bool },
    /// Its thread runs.
    Running,
    /// Its thread runs and it announced that it only answers requests on its services.
    Serving,
    /// It ended with `ending` while it may have owed a client a reply: its caps are withdrawn
    /// and its thread was sent back to its entry to answer. `restart`: it will be started
    /// again once stopped.
    Aborting { ending: Ending, restart: bool },
    /// It crashed and will be started again: its thread and memory are gone, and the root
    /// task calls [`Supervisor::restart_due`] once its clock reaches `restart_at`
    /// (nanoseconds since boot; [`Op::StartAfter`]).
    Waiting { restart_at: Instant },
    /// Its thread and memory are gone, for good.
    Stopped(StopReason),
}

impl State {
    /// Whether the realm's thread exists and may send messages: running, serving, aborting.
    pub fn is_running(self) -> bool {
        matches!(self, State::Running | State::Serving | State::Aborting { .. })
    }

    /// Whether the realm is stopped for good (not waiting for a restart).
    pub fn is_stopped(self) -> bool {
        matches!(self, State::Stopped(_))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Starting { restart: false } => f.write_str("starting"),
            State::Starting { restart: true } => f.write_str("starting again"),
            State::Running => f.write_str("running"),
            State::Serving => f.write_str("serving"),
            State::Aborting { ending, .. } => write!(f, "answering its caller after it {ending}"),
            State::Waiting { restart_at } => {
                write!(f, "waiting to be started again at {restart_at}")
            }
            State::Stopped(reason) => write!(f, "stopped because {reason}"),
        }
    }
}

/// What the root task must do, in the order it gets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The broker closes the realm's connections and removes its services, running its
    /// kernel ops (`broker.realm_died`). Harmless for a realm the broker already knows dead.
    WithdrawCaps(RealmId),
    /// Tells the broker whether the realm, which died, is being started again
    /// (`broker.set_restarting`): its clients hear "restarting" rather than "gone".
    SetRestarting(RealmId, bool),
    /// Restarts the realm's thread at its entry with the abort reason, so that it answers
    /// the client it may owe; it then ends again. On failure, report
    /// [`Supervisor::abort_failed`].
    Abort(RealmId),
    /// Stops the realm's thread and gives back all its memory and slots (its CSpace goes).
    Reclaim(RealmId),
    /// Builds and starts the realm again, from its program and budget; then report
    /// [`Supervisor::started`] or [`Supervisor::start_failed`]. Comes only from
    /// [`Supervisor::restart_due`].
    Start(RealmId),
    /// The realm, stopped, will be started again after `delay`, at `restart_at` on the root
    /// task's clock (the `now` of the input plus `delay`, nanoseconds since boot): the root
    /// task keeps that deadline and calls [`Supervisor::restart_due`] once it has passed.
    /// Nothing to report now.
    StartAfter { realm: RealmId, delay: Duration, restart_at: Instant },
    /// The realm was waiting for a restart ([`Op::StartAfter`]) and will not be started: the
    /// root task forgets its deadline.
    CancelRestart(RealmId),
    /// The realm was started again: a new generation for the broker (`broker.realm_started`).
    NewGeneration(RealmId),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::WithdrawCaps(realm) => {
                write!(f, "withdraw the services and connections of {realm}")
            }
            Op::SetRestarting(realm, true) => write!(f, "tell the broker {realm} is restarting"),
            Op::SetRestarting(realm, false) => {
                write!(f, "tell the broker {realm} is not restarting")
            }
            Op::Abort(realm) => write!(f, "send {realm} back to its entry to answer its caller"),
            Op::Reclaim(realm) => write!(f, "stop {realm} and take back its memory"),
            Op::Start(realm) => write!(f, "build and start {realm} again"),
            Op::StartAfter { realm, delay, restart_at } => {
                write!(f, "start {realm} again after {delay:?}, at {restart_at}")
            }
            Op::CancelRestart(realm) => write!(f, "forget the restart of {realm}"),
            Op::NewGeneration(realm) => write!(f, "tell the broker {realm} started again"),
        }
    }
}

/// Something worth a log line; its `Display` is the sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The realm ended while it may have owed a reply: it is withdrawn and aborted.
    Aborting { realm: RealmId, ending: Ending },
    /// The abort could not be done (the root task logs the kernel's error): the realm is
    /// stopped at once, and a client it owed a reply stays blocked.
    AbortFailed { realm: RealmId },
    /// The realm is stopped.
    Stopped { realm: RealmId, reason: StopReason },
    /// The realm was started again: restart `restart` of `max`.
    Restarted { realm: RealmId, restart: u8, max: u8 },
    /// The realm crashed and waits `delay` before restart `restart` of `max`.
    RestartDelayed { realm: RealmId, delay: Duration, restart: u8, max: u8 },
    /// The realm was waiting for a restart when the run ended: it stays stopped.
    RestartCancelled { realm: RealmId },
    /// The realm crashed (`last`: faulted or panicked) after its `max_restarts` restarts,
    /// `restarts`, and stays stopped.
    GaveUp { realm: RealmId, restarts: u8, last: Ending },
    /// Starting the realm failed (the root task logs why); it stays stopped.
    StartFailed { realm: RealmId, restart: bool },
    /// Every client is done: the `serving` realms that only serve are stopped.
    ShuttingDown { serving: usize },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Event::Aborting { realm, ending } => write!(
                f,
                "{realm} {ending} and may owe a client a reply: its services are withdrawn and it is sent back to answer"
            ),
            Event::AbortFailed { realm } => write!(
                f,
                "{realm} cannot be sent back to answer its caller: it is stopped, and a client it owed a reply stays blocked"
            ),
            Event::Stopped { realm, reason: StopReason::Shutdown } => {
                write!(f, "{realm} was serving and is stopped")
            }
            Event::Stopped { realm, reason } => write!(f, "{realm} is stopped: {reason}"),
            Event::Restarted { realm, restart, max } => {
                write!(f, "restarted {realm} ({restart} of {max} restarts)")
            }
            Event::RestartDelayed { realm, delay, restart, max } => {
                write!(f, "{realm} will be started again in {delay:?} (restart {restart} of {max})")
            }
            Event::RestartCancelled { realm } => {
                write!(
                    f,
                    "{realm} was waiting to be started again: the run is over, it stays stopped"
                )
            }
            Event::GaveUp { realm, restarts, last } => write!(
                f,
                "gave up on {realm} after {restarts} restarts, its max_restarts: it {last} again, and stays stopped"
            ),
            Event::StartFailed { realm, restart: true } => {
                write!(f, "{realm} could not be started again: it stays stopped")
            }
            Event::StartFailed { realm, restart: false } => {
                write!(f, "{realm} could not be started: it stays stopped")
            }
            Event::ShuttingDown { serving } => {
                write!(f, "every client is done; stopping the {serving} realms that only serve")
            }
        }
    }
}

/// Where the supervisor's output goes, one item at a time, in order.
///
/// The root task implements it: [`Sink::run`] carries the op out at once (noting whether an
/// [`Op::Abort`] or [`Op::Start`] worked, to report after the call), [`Sink::log`] prints
/// the line. Tests implement it on a recorder or a model of the kernel.
pub trait Sink {
    /// Carries out one operation.
    fn run(&mut self, op: Op);
    /// Logs one event.
    fn log(&mut self, event: Event);
}

/// Why the supervisor refused an input. A refused input changes nothing and produces no op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// No realm with this id was added.
    UnknownRealm(RealmId),
    /// The realm was added already.
    AlreadyAdded(RealmId),
    /// The supervisor holds its capacity of realms.
    Full { capacity: usize },
    /// The input needs a realm whose thread runs; this one is in `state`.
    NotRunning { realm: RealmId, state: State },
    /// The input needs a realm being started; this one is in `state`.
    NotStarting { realm: RealmId, state: State },
    /// The input needs a realm being aborted; this one is in `state`.
    NotAborting { realm: RealmId, state: State },
    /// The input needs a realm waiting for a restart; this one is in `state`.
    NotWaiting { realm: RealmId, state: State },
    /// [`Supervisor::restart_due`] at `now`, before the realm's `restart_at`.
    NotDue { realm: RealmId, restart_at: Instant, now: Instant },
    /// A shutdown while the root task has not reported how starting `realm` went.
    StillStarting { realm: RealmId },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::UnknownRealm(realm) => write!(f, "{realm} is not supervised"),
            Error::AlreadyAdded(realm) => write!(f, "{realm} is supervised already"),
            Error::Full { capacity } => write!(f, "the supervisor holds {capacity} realms already"),
            Error::NotRunning { realm, state } => {
                write!(f, "{realm} is not running: it is {state}")
            }
            Error::NotStarting { realm, state } => {
                write!(f, "{realm} is not being started: it is {state}")
            }
            Error::NotAborting { realm, state } => {
                write!(f, "{realm} is not being aborted: it is {state}")
            }
            Error::NotWaiting { realm, state } => {
                write!(f, "{realm} is not waiting for a restart: it is {state}")
            }
            Error::NotDue { realm, restart_at, now } => {
                write!(f, "{realm} is due to start again at {restart_at}, not yet at {now}")
            }
            Error::StillStarting { realm } => {
                write!(f, "{realm} is still being started: report how that went first")
            }
        }
    }
}

/// What the supervisor knows of one realm.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: RealmId,
    state: State,
    restartable: bool,
    max_restarts: u8,
    restarts: u8,
    /// When its current (or last) run started ([`Supervisor::started`]).
    started_at: Instant,
    /// How long its last run lasted, from its start to its first ending.
    ran_for: Duration,
    /// The delay before its last restart, if it ever waited.
    last_delay: Option<Duration>,
}

impl Entry {
    /// Whether, crashing with `ending` now, it will be started again.
    fn will_restart(&self, ending: Ending) -> bool {
        ending.is_crash() && self.restartable && self.restarts < self.max_restarts
    }
}

/// Why [`Supervisor::stop`] stops a realm: it ended (with its first ending), noticed at the
/// instant given; or the run is over.
#[derive(Clone, Copy)]
enum Cause {
    Ended(Ending, Instant),
    Shutdown,
}

/// The lifecycle states of up to `N` realms (the system's `MAX_REALMS`).
#[derive(Clone, Debug)]
pub struct Supervisor<const N: usize> {
    realms: heapless::Vec<Entry, N>,
    backoff: BackoffPolicy,
}

impl<const N: usize> Default for Supervisor<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Supervisor<N> {
    /// A supervisor of no realm, with the default restart back-off
    /// ([`BackoffPolicy::DEFAULT`]). `const`, so that a static can hold it.
    pub const fn new() -> Self {
        Self::with_backoff(BackoffPolicy::DEFAULT)
    }

    /// A supervisor of no realm whose restarts wait as `backoff` says.
    pub const fn with_backoff(backoff: BackoffPolicy) -> Self {
        Self { realms: heapless::Vec::new(), backoff }
    }

    /// The restart back-off it applies.
    pub fn backoff(&self) -> BackoffPolicy {
        self.backoff
    }

    /// Adds realm `id`, which the root task is about to start: it is
    /// [`State::Starting`] until [`Supervisor::started`] or [`Supervisor::start_failed`].
    /// A `restartable` realm that crashes is started again, at most `max_restarts` times.
    ///
    /// Errors: [`Error::AlreadyAdded`], [`Error::Full`].
    pub fn add_realm(
        &mut self,
        id: RealmId,
        restartable: bool,
        max_restarts: u8,
    ) -> Result<(), Error> {
        if self.position(id).is_some() {
            return Err(Error::AlreadyAdded(id));
        }
        let entry = Entry {
            id,
            state: State::Starting { restart: false },
            restartable,
            max_restarts,
            restarts: 0,
            started_at: Instant::ZERO,
            ran_for: Duration::ZERO,
            last_delay: None,
        };
        self.realms.push(entry).map_err(|_| Error::Full { capacity: N })
    }

    /// The realm's state, if it was added.
    pub fn state(&self, id: RealmId) -> Option<State> {
        self.entry(id).map(|entry| entry.state)
    }

    /// How many times the realm has been started again, if it was added.
    pub fn restarts(&self, id: RealmId) -> Option<u8> {
        self.entry(id).map(|entry| entry.restarts)
    }

    /// Whether the realm's thread runs (running, serving or aborting): the root task handles
    /// its messages and faults, and ignores those of any other realm.
    pub fn is_running(&self, id: RealmId) -> bool {
        self.state(id).is_some_and(State::is_running)
    }

    /// Every realm and its state, in the order they were added.
    pub fn realms(&self) -> impl Iterator<Item = (RealmId, State)> + '_ {
        self.realms.iter().map(|entry| (entry.id, entry.state))
    }

    /// Whether nothing can start new work: every realm has stopped for good or only serves,
    /// and none is being started, aborted or waiting for a restart ([`State::Waiting`] is
    /// not idle: a run until idle must not end while a restart is pending). The root task
    /// then calls [`Supervisor::shutdown`].
    pub fn is_idle(&self) -> bool {
        self.realms.iter().all(|entry| matches!(entry.state, State::Stopped(_) | State::Serving))
    }

    /// The root task built and started realm `id`, at `now` (nanoseconds since boot, the
    /// start of the run that decides its next back-off). After a restart:
    /// [`Op::NewGeneration`], and the restart is counted.
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotStarting`].
    pub fn started(&mut self, id: RealmId, now: Instant, sink: &mut dyn Sink) -> Result<(), Error> {
        let entry = self.entry_mut(id)?;
        let State::Starting { restart } = entry.state else {
            return Err(Error::NotStarting { realm: id, state: entry.state });
        };
        entry.state = State::Running;
        entry.started_at = now;
        if restart {
            entry.restarts = entry.restarts.saturating_add(1);
            let (restart, max) = (entry.restarts, entry.max_restarts);
            sink.run(Op::NewGeneration(id));
            sink.log(Event::Restarted { realm: id, restart, max });
        }
        Ok(())
    }

    /// The root task could not build or start realm `id` (it gave back what it took): the
    /// realm is stopped ([`StopReason::CouldNotStart`]). After a crash, the broker hears it is
    /// not restarting.
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotStarting`].
    pub fn start_failed(&mut self, id: RealmId, sink: &mut dyn Sink) -> Result<(), Error> {
        let entry = self.entry_mut(id)?;
        let State::Starting { restart } = entry.state else {
            return Err(Error::NotStarting { realm: id, state: entry.state });
        };
        entry.state = State::Stopped(StopReason::CouldNotStart);
        if restart {
            sink.run(Op::SetRestarting(id, false));
        }
        sink.log(Event::StartFailed { realm: id, restart });
        Ok(())
    }

    /// The restart delay of realm `id` has passed: at `now` (nanoseconds since boot) the root
    /// task's clock is at or past the realm's `restart_at`. Emits [`Op::Start`]; the realm is
    /// [`State::Starting`] until the root task reports [`Supervisor::started`] or
    /// [`Supervisor::start_failed`].
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotWaiting`], [`Error::NotDue`] (`now` is
    /// before `restart_at`: nothing changes).
    pub fn restart_due(
        &mut self,
        id: RealmId,
        now: Instant,
        sink: &mut dyn Sink,
    ) -> Result<(), Error> {
        let entry = self.entry_mut(id)?;
        let State::Waiting { restart_at } = entry.state else {
            return Err(Error::NotWaiting { realm: id, state: entry.state });
        };
        if now < restart_at {
            return Err(Error::NotDue { realm: id, restart_at, now });
        }
        entry.state = State::Starting { restart: true };
        sink.run(Op::Start(id));
        Ok(())
    }

    /// Realm `id` announced that it now only answers requests on its services. Nothing
    /// changes for a realm being aborted.
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotRunning`].
    pub fn serving(&mut self, id: RealmId) -> Result<(), Error> {
        let entry = self.entry_mut(id)?;
        match entry.state {
            State::Running | State::Serving => entry.state = State::Serving,
            State::Aborting { .. } => {}
            state => return Err(Error::NotRunning { realm: id, state }),
        }
        Ok(())
    }

    /// Realm `id` exited, faulted or panicked, at `now` (nanoseconds since boot);
    /// `owns_services` is whether the broker says it owns a service
    /// (`registry().services_owned_by(id) > 0`). See the crate documentation for what
    /// follows.
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotRunning`].
    pub fn ended(
        &mut self,
        id: RealmId,
        ending: Ending,
        owns_services: bool,
        now: Instant,
        sink: &mut dyn Sink,
    ) -> Result<(), Error> {
        let index = self.position(id).ok_or(Error::UnknownRealm(id))?;
        let entry = self.realms.get_mut(index).ok_or(Error::UnknownRealm(id))?;
        let may_owe_a_reply = match entry.state {
            // Aborted, it ended again: stopped with its first ending, whatever this one is.
            State::Aborting { ending: first, .. } => {
                self.stop(index, Cause::Ended(first, now), sink);
                return Ok(());
            }
            State::Running => owns_services,
            State::Serving => true,
            state => return Err(Error::NotRunning { realm: id, state }),
        };
        entry.ran_for = now.saturating_duration_since(entry.started_at);
        if !may_owe_a_reply {
            self.stop(index, Cause::Ended(ending, now), sink);
            return Ok(());
        }
        let restart = entry.will_restart(ending);
        entry.state = State::Aborting { ending, restart };
        sink.run(Op::WithdrawCaps(id));
        if restart {
            sink.run(Op::SetRestarting(id, true));
        }
        sink.log(Event::Aborting { realm: id, ending });
        sink.run(Op::Abort(id));
        Ok(())
    }

    /// The root task could not send realm `id` back to its entry ([`Op::Abort`] failed), at
    /// `now` (nanoseconds since boot): it is stopped with the ending that started the abort
    /// (and waits for a restart if that allows).
    ///
    /// Errors: [`Error::UnknownRealm`], [`Error::NotAborting`].
    pub fn abort_failed(
        &mut self,
        id: RealmId,
        now: Instant,
        sink: &mut dyn Sink,
    ) -> Result<(), Error> {
        let index = self.position(id).ok_or(Error::UnknownRealm(id))?;
        let state = self.realms.get(index).ok_or(Error::UnknownRealm(id))?.state;
        let State::Aborting { ending, .. } = state else {
            return Err(Error::NotAborting { realm: id, state });
        };
        sink.log(Event::AbortFailed { realm: id });
        self.stop(index, Cause::Ended(ending, now), sink);
        Ok(())
    }

    /// The run is over: stops every realm whose thread runs, with [`StopReason::Shutdown`]
    /// (none is restarted), and every realm waiting for a restart, which stays stopped
    /// ([`Op::CancelRestart`], then [`Op::SetRestarting`] `false`,
    /// [`Event::RestartCancelled`] and [`Event::Stopped`]). The root task calls it once
    /// [`Supervisor::is_idle`]; called earlier, it stops running, aborting and waiting
    /// realms all the same.
    ///
    /// Errors: [`Error::StillStarting`] if a realm is still [`State::Starting`] (report
    /// [`Supervisor::started`] or [`Supervisor::start_failed`] first); nothing is stopped then.
    pub fn shutdown(&mut self, sink: &mut dyn Sink) -> Result<(), Error> {
        if let Some(entry) = self.realms.iter().find(|e| matches!(e.state, State::Starting { .. }))
        {
            return Err(Error::StillStarting { realm: entry.id });
        }
        let running = self.realms.iter().filter(|entry| entry.state.is_running()).count();
        if running > 0 {
            sink.log(Event::ShuttingDown { serving: running });
        }
        for index in 0..self.realms.len() {
            let Some(entry) = self.realms.get_mut(index) else { continue };
            match entry.state {
                state if state.is_running() => self.stop(index, Cause::Shutdown, sink),
                State::Waiting { .. } => {
                    let id = entry.id;
                    entry.state = State::Stopped(StopReason::Shutdown);
                    sink.run(Op::CancelRestart(id));
                    sink.run(Op::SetRestarting(id, false));
                    sink.log(Event::RestartCancelled { realm: id });
                    sink.log(Event::Stopped { realm: id, reason: StopReason::Shutdown });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops realm `index`: its caps are withdrawn, then its memory comes back. After a
    /// crash, a restartable realm with restarts left waits for its restart.
    fn stop(&mut self, index: usize, cause: Cause, sink: &mut dyn Sink) {
        let backoff = self.backoff;
        let Some(entry) = self.realms.get_mut(index) else { return };
        let id = entry.id;
        // An abort that will restart told the broker already.
        let marked_restarting = matches!(entry.state, State::Aborting { restart: true, .. });
        let reason = match cause {
            Cause::Ended(ending, _) => ending.stop_reason(),
            Cause::Shutdown => StopReason::Shutdown,
        };
        sink.run(Op::WithdrawCaps(id));
        sink.run(Op::Reclaim(id));
        entry.state = State::Stopped(reason);
        sink.log(Event::Stopped { realm: id, reason });
        let restartable = entry.restartable;
        let crash = match cause {
            Cause::Ended(ending, now) if ending.is_crash() && restartable => Some((ending, now)),
            _ => None,
        };
        let Some((ending, now)) = crash else {
            // A restartable realm may have been marked restarting by an earlier crash and
            // never registered again: its former clients must no longer hear "restarting".
            if restartable {
                sink.run(Op::SetRestarting(id, false));
            }
            return;
        };
        if entry.restarts >= entry.max_restarts {
            let restarts = entry.restarts;
            entry.state = State::Stopped(StopReason::GaveUp { restarts, last: ending });
            sink.run(Op::SetRestarting(id, false));
            sink.log(Event::GaveUp { realm: id, restarts, last: ending });
            return;
        }
        let delay = backoff.next_delay(entry.last_delay, entry.ran_for);
        let restart_at = now.saturating_add(delay);
        entry.last_delay = Some(delay);
        entry.state = State::Waiting { restart_at };
        if !marked_restarting {
            sink.run(Op::SetRestarting(id, true));
        }
        let (restart, max) = (entry.restarts.saturating_add(1), entry.max_restarts);
        sink.log(Event::RestartDelayed { realm: id, delay, restart, max });
        sink.run(Op::StartAfter { realm: id, delay, restart_at });
    }

    fn position(&self, id: RealmId) -> Option<usize> {
        self.realms.iter().position(|entry| entry.id == id)
    }

    fn entry(&self, id: RealmId) -> Option<&Entry> {
        self.realms.iter().find(|entry| entry.id == id)
    }

    fn entry_mut(&mut self, id: RealmId) -> Result<&mut Entry, Error> {
        self.realms.iter_mut().find(|entry| entry.id == id).ok_or(Error::UnknownRealm(id))
    }
}

#[cfg(test)]
mod tests;
