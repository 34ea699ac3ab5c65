//! The realm lifecycle on the kernel: what the supervisor (`supervisor` crate) decides, carried
//! out. The supervisor holds each realm's state and says, in order, what must happen (withdraw
//! a realm's caps, abort it, reclaim it, start it again, give its services a new generation);
//! this module runs those operations against the broker and seL4, prints the supervisor's
//! events (a sentence and an event line each), and reports back how the operations that can
//! fail went (an abort, a start).

use ::console::Class;
use broker::Broker;
use heapless::Vec;
use supervisor::threads::ThreadSet;
use supervisor::{Event, Op, Sink, StopReason, Supervisor};
use system_config::SystemConfig;
use system_config::image::BootImage;
use vocabulary::limits::MAX_REALMS;

use crate::brokering::Executor;
use crate::mm_println;
use crate::realm::{ABORT_TIMEOUT_NS, Realm, RealmError};
use crate::resources::RootResources;

/// The supervisor of every realm of the system.
pub type Realms = Supervisor<MAX_REALMS>;
/// Realms waiting for their restart (the supervisor's back-off), by when they are due: one
/// place per realm, so it is never full.
pub type PendingRestarts = deadlines::DeadlineQueue<ipc::RealmId, MAX_REALMS>;

/// What an operation of the supervisor needs: the memory manager's resources, the realms'
/// objects, the broker, and the system description and programs to start realms again.
pub struct Lifecycle<'s, 'k> {
    pub root: &'s mut RootResources<'k>,
    pub realms: &'s mut Vec<Realm, MAX_REALMS>,
    pub broker: &'s mut Broker<'static>,
    pub config: &'s SystemConfig,
    pub image: &'s BootImage<'s>,
    /// Realms waiting for their restart.
    pub restarts: &'s mut PendingRestarts,
    /// An abort the kernel refused, to report to the supervisor.
    abort_failed: Option<ipc::RealmId>,
    /// A start that was carried out, and whether it worked, to report to the supervisor.
    started: Option<(ipc::RealmId, bool)>,
    /// Why the last start failed, for the supervisor's `StartFailed` event.
    start_error: Option<RealmError>,
    /// The system could not start ([`Lifecycle::abandon_boot`]): realms are stopped for that.
    boot_failed: bool,
}

impl<'s, 'k> Lifecycle<'s, 'k> {
    pub fn new(
        root: &'s mut RootResources<'k>,
        realms: &'s mut Vec<Realm, MAX_REALMS>,
        broker: &'s mut Broker<'static>,
        config: &'s SystemConfig,
        image: &'s BootImage<'s>,
        restarts: &'s mut PendingRestarts,
    ) -> Self {
        Self {
            root,
            realms,
            broker,
            config,
            image,
            restarts,
            abort_failed: None,
            started: None,
            start_error: None,
            boot_failed: false,
        }
    }

    /// Runs `step` on the supervisor with this as its sink, then reports the outcome of the
    /// aborts and starts it asked for, until nothing is left to report.
    pub fn drive(
        &mut self,
        supervisor: &mut Realms,
        step: impl FnOnce(&mut Realms, &mut dyn Sink) -> Result<(), supervisor::Error>,
    ) {
        let mut result = step(supervisor, self);
        loop {
            if let Err(error) = result {
                mm_println!(Class::System, "memory manager: the supervisor refused: {error}");
            }
            let now = self.now();
            result = if let Some(id) = self.abort_failed.take() {
                supervisor.abort_failed(id, now, self)
            } else if let Some((id, worked)) = self.started.take() {
                if worked {
                    supervisor.started(id, now, self)
                } else {
                    supervisor.start_failed(id, self)
                }
            } else {
                return;
            };
        }
    }

    /// Puts realm `id` of the system description under supervision and starts it (at boot);
    /// whether it started.
    pub fn start_at_boot(&mut self, supervisor: &mut Realms, id: ipc::RealmId) -> bool {
        let Some(spec) = self.config.realm(id) else { return false };
        if let Err(error) = supervisor.add_realm(id, spec.restartable, spec.max_restarts) {
            mm_println!(Class::System, "memory manager: the supervisor refused: {error}");
            return false;
        }
        let worked = self.start(id);
        self.started = Some((id, worked));
        self.drive(supervisor, |_, _| Ok(()));
        worked
    }

    /// Realm `failed` could not be started at boot (the supervisor has said so, with why):
    /// the system cannot run as described. Says so, does not start the `not_started` realms
    /// after it, and stops the realms already started, so that everything they took comes
    /// back. The caller then ends the run with `FAIL`, whatever `[system] run` says.
    pub fn abandon_boot(
        &mut self,
        supervisor: &mut Realms,
        failed: ipc::RealmId,
        not_started: usize,
    ) {
        self.boot_failed = true;
        let name = self.name(failed);
        let started = supervisor.realms().filter(|(_, state)| state.is_running()).count();
        mm_println!(
            Class::Fault,
            "memory manager: the system cannot start without realm {name}: {} after it not started, {} started stopped",
            RealmCount(not_started),
            RealmCount(started)
        );
        crate::console::event(
            Class::Fault,
            "system-start-failed",
            &[("realm", &name), ("started", &started), ("not-started", &not_started)],
        );
        self.drive(supervisor, |supervisor, sink| supervisor.shutdown(sink));
    }

    /// The clock now (`deadline::now_ns`).
    pub fn now(&self) -> supervisor::Instant {
        supervisor::Instant::from_nanos(crate::deadline::now_ns(self.root))
    }

    fn index(&self, id: ipc::RealmId) -> Option<usize> {
        self.realms.iter().position(|realm| realm.id.0 == id.0)
    }

    fn name(&self, id: ipc::RealmId) -> &str {
        self.config.realm(id).map_or("?", |spec| spec.name.as_str())
    }

    fn withdraw(&mut self, id: ipc::RealmId) {
        let mut executor = Executor::new(self.root, self.realms, None);
        self.broker.realm_died(id, &mut executor);
        if let Some(error) = executor.failure {
            let name = self.name(id);
            mm_println!(Class::System, "memory manager: withdrawing realm {name}'s caps: {error}");
        }
    }

    fn start(&mut self, id: ipc::RealmId) -> bool {
        let realm_id = id;
        let Some(spec) = self.config.realm(realm_id) else { return false };
        let elf = self.image.program(&spec.program).unwrap_or_default();
        match Realm::start(self.root, self.config, realm_id, elf) {
            Ok(realm) => {
                announce_started(&realm, spec.memory_bytes);
                match self.index(id).and_then(|index| self.realms.get_mut(index)) {
                    Some(slot) => *slot = realm,
                    None => {
                        if self.realms.push(realm).is_err() {
                            return false;
                        }
                    }
                }
                true
            }
            Err(error) => {
                self.start_error = Some(error);
                false
            }
        }
    }
}

/// Prints that `realm` started, with its budget.
pub fn announce_started(realm: &Realm, memory_bytes: u64) {
    mm_println!(
        Class::Decision,
        "memory manager: started realm {} ({} KiB budget)",
        realm.name,
        memory_bytes >> 10
    );
    crate::console::event(
        Class::Decision,
        "realm-started",
        &[("realm", &realm.name), ("memory-bytes", &memory_bytes)],
    );
}

impl Sink for Lifecycle<'_, '_> {
    fn run(&mut self, op: Op) {
        match op {
            Op::WithdrawCaps(id) => self.withdraw(id),
            Op::SetRestarting(id, restarting) => {
                let _ = self.broker.set_restarting(id, restarting);
            }
            Op::Abort(id) => {
                // Every live thread is sent to abort; the realm has ended once each of them
                // has reported (`server.rs`). A thread the kernel would not send counts as
                // reported; if none could be sent, the abort failed.
                let aborted = match self.index(id).and_then(|index| self.realms.get_mut(index)) {
                    Some(realm) => match realm.threads.begin_abort() {
                        Ok(threads) => {
                            realm.parked = ThreadSet::EMPTY;
                            let now = crate::deadline::now_ns(self.root);
                            realm.abort_due = Some(now.saturating_add(ABORT_TIMEOUT_NS));
                            let (failed, error) = realm.abort(self.root, threads);
                            let complete = failed
                                .iter()
                                .any(|thread| realm.threads.abort_reported(thread) == Ok(true));
                            match error {
                                Some(error) if complete => Err(error),
                                _ => Ok(()),
                            }
                        }
                        Err(error) => {
                            mm_println!(Class::System, "memory manager: the thread table: {error}");
                            Err(RealmError::NotBuilt)
                        }
                    },
                    None => Err(RealmError::NotBuilt),
                };
                if let Err(error) = aborted {
                    let name = self.name(id);
                    mm_println!(
                        Class::Fault,
                        "memory manager: cannot let realm {name} answer its caller: {error}"
                    );
                    self.abort_failed = Some(id);
                }
            }
            Op::Reclaim(id) => {
                if let Some(realm) = self.index(id).and_then(|index| self.realms.get_mut(index)) {
                    realm.stop(self.root);
                }
                crate::console::realm_stopped(id);
            }
            Op::Start(id) => {
                let worked = self.start(id);
                self.started = Some((id, worked));
            }
            Op::StartAfter { realm, restart_at, .. } => {
                // One place per realm: never full.
                let _ = self.restarts.remove(realm);
                let _ = self.restarts.insert(restart_at, realm);
            }
            Op::CancelRestart(realm) => {
                let _ = self.restarts.remove(realm);
            }
            Op::NewGeneration(id) => {
                let _ = self.broker.realm_started(id);
            }
        }
    }

    fn log(&mut self, event: Event) {
        let free = self.root.pool.free_bytes();
        match event {
            Event::Aborting { realm, ending } => {
                let name = self.name(realm);
                // Every live thread is sent back (`Op::Abort`, which follows).
                let threads = self
                    .index(realm)
                    .and_then(|index| self.realms.get(index))
                    .map_or(0, |realm| realm.threads.live().len());
                let sent = SentBack(threads);
                mm_println!(
                    Class::Fault,
                    "memory manager: realm {name} {ending} and may owe a client a reply: its services are withdrawn and {sent}"
                );
                crate::console::event(
                    Class::Fault,
                    "realm-aborting",
                    &[("realm", &name), ("ending", &ending_name(ending)), ("threads", &threads)],
                );
            }
            Event::AbortFailed { realm } => {
                let name = self.name(realm);
                crate::console::event(Class::Fault, "realm-abort-failed", &[("realm", &name)]);
            }
            Event::Stopped { realm, reason: StopReason::Shutdown } if self.boot_failed => {
                let name = self.name(realm);
                mm_println!(
                    Class::Fault,
                    "memory manager: realm {name} is stopped: the system could not start; {free} bytes of RAM free now"
                );
                crate::console::event(
                    Class::Fault,
                    "realm-stopped",
                    &[("realm", &name), ("reason", &"system-start-failed")],
                );
            }
            Event::Stopped { realm, reason } => {
                let name = self.name(realm);
                let how = match reason {
                    StopReason::Shutdown => "was serving",
                    StopReason::Exited => "exited",
                    StopReason::Faulted => "faulted",
                    StopReason::Panicked => "panicked",
                    StopReason::GaveUp { .. } => "crashed once more than its max_restarts",
                    StopReason::CouldNotStart => "could not be started",
                };
                mm_println!(
                    Class::Decision,
                    "memory manager: realm {name} {how} and is stopped; {free} bytes of RAM free now"
                );
                let reason_name = stop_reason_name(reason);
                crate::console::event(
                    Class::Decision,
                    "realm-stopped",
                    &[("realm", &name), ("reason", &reason_name)],
                );
            }
            Event::Restarted { realm, restart, max } => {
                let name = self.name(realm);
                mm_println!(
                    Class::Decision,
                    "memory manager: restarted realm {name} ({restart} of {max} restarts)"
                );
                crate::console::event(
                    Class::Decision,
                    "realm-restarted",
                    &[("realm", &name), ("restart", &restart), ("max-restarts", &max)],
                );
            }
            Event::GaveUp { realm, restarts, last } => {
                let name = self.name(realm);
                mm_println!(
                    Class::Fault,
                    "memory manager: realm {name} gave up after {restarts} restarts, its max_restarts; the last time it {last}: it stays stopped"
                );
                crate::console::event(
                    Class::Fault,
                    "realm-gave-up",
                    &[("realm", &name), ("restarts", &restarts), ("last", &ending_name(last))],
                );
            }
            Event::RestartDelayed { realm, delay, restart, max } => {
                let name = self.name(realm);
                let millis = delay.as_millis();
                mm_println!(
                    Class::Decision,
                    "memory manager: realm {name} will be restarted in {millis} ms (restart {restart} of {max}); meanwhile its clients hear it is restarting"
                );
                crate::console::event(
                    Class::Decision,
                    "realm-restart-delayed",
                    &[
                        ("realm", &name),
                        ("delay-ms", &millis),
                        ("restart", &restart),
                        ("max-restarts", &max),
                    ],
                );
            }
            Event::RestartCancelled { realm } => {
                let name = self.name(realm);
                mm_println!(
                    Class::Decision,
                    "memory manager: realm {name} will not be restarted: the run is over"
                );
                crate::console::event(
                    Class::Decision,
                    "realm-restart-cancelled",
                    &[("realm", &name)],
                );
            }
            Event::StartFailed { realm, restart } => {
                let error = self.start_error.take();
                let name = self.name(realm);
                let again = if restart { " again" } else { "" };
                match &error {
                    Some(error) => mm_println!(
                        Class::Fault,
                        "memory manager: realm {name} could not be started{again}: {error}; it stays stopped"
                    ),
                    None => mm_println!(
                        Class::Fault,
                        "memory manager: realm {name} could not be started{again}: it is not in the system description; it stays stopped"
                    ),
                }
                let reason = error.as_ref().map_or("unknown-realm", RealmError::code);
                crate::console::event(
                    Class::Fault,
                    "realm-start-failed",
                    &[("realm", &name), ("restart", &restart), ("reason", &reason)],
                );
            }
            // Stopping the realms of a system that could not start is said by `abandon_boot`.
            Event::ShuttingDown { .. } if self.boot_failed => {}
            Event::ShuttingDown { serving } => {
                mm_println!(
                    Class::Decision,
                    "memory manager: every client is done; stopping the {serving} realms that only serve"
                );
                crate::console::event(Class::Decision, "shutting-down", &[("serving", &serving)]);
            }
        }
    }
}

/// The stable name of a stop reason in event lines.
fn stop_reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Exited => "exited",
        StopReason::Faulted => "faulted",
        StopReason::Panicked => "panicked",
        StopReason::Shutdown => "shutdown",
        StopReason::GaveUp { .. } => "gave-up",
        StopReason::CouldNotStart => "could-not-start",
    }
}

fn ending_name(ending: supervisor::Ending) -> &'static str {
    match ending {
        supervisor::Ending::Exited => "exited",
        supervisor::Ending::Faulted => "faulted",
        supervisor::Ending::Panicked => "panicked",
    }
}

/// How many threads of an aborting realm are sent back to answer, for its sentence.
struct SentBack(u8);

impl core::fmt::Display for SentBack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 | 1 => f.write_str("it is sent back to answer"),
            threads => write!(f, "its {threads} threads are sent back to answer"),
        }
    }
}

/// `1 realm`, `2 realms`, for sentences.
struct RealmCount(usize);

impl core::fmt::Display for RealmCount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            1 => f.write_str("1 realm"),
            count => write!(f, "{count} realms"),
        }
    }
}
