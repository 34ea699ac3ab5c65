//! Property test of the thread table (`supervisor::threads`), driven as the memory manager
//! drives it, over random sequences of what a realm's threads do: spawn (the objects made or
//! not, the spawn failing while making them or while starting the thread), exit the thread or
//! the realm, fault, panic, join and detach any id; and inputs the memory manager would not
//! send (events of threads that are not live, reports of threads not aborting), which must
//! change nothing. When a thread's ending ends the realm, the real [`Supervisor`] decides
//! (the realm owns a service or not): it stops the realm at once, or aborts it (every live
//! thread is sent to `start::ABORT` and reports, or cannot be sent) and stops it when the
//! abort is complete; the realm is restartable, so it then waits and starts again, and a
//! realm that exited is started anew.
//!
//! The test plays the memory manager and a model of the threads: a thread parked in a join
//! sends nothing until woken; a thread that ended, or reported during the realm's abort, is
//! suspended and sends nothing. After every step:
//!
//! - the threads that exist (live, and ended but not joined) are at most `max_threads`, and
//!   thread 0 is never free;
//! - a spawn takes the lowest free index, never an index whose thread ended and was not
//!   joined, and asks for objects exactly on the first use of the index since the realm
//!   started (failed spawns that made nothing included);
//! - each `Join` is answered exactly once: at once (the thread had ended), or when the thread
//!   ends (the `Ended` that names the joiner, which only that join waits for), or dropped
//!   with the realm's abort or stop; a join is never answered twice or after it was dropped,
//!   and no thread ends while a join of it is left waiting;
//! - an index is freed when its thread ends only if it was detached or joined;
//! - the realm's abort sends exactly the live threads, and completes exactly when every one
//!   of them has reported (once each);
//! - a fault or panic ends the realm under `stop-realm`, or from thread 0; under
//!   `stop-thread`, it sends the thread alone to its abort entry;
//! - a refused input changes nothing;
//! - the supervisor aborts the realm (`Op::Abort`) or reclaims it (`Op::Reclaim`) on the
//!   table's `EndRealm`, and reclaims it when the table says the abort is complete: the
//!   realm is aborting in the supervisor exactly while it is in the table.

use std::collections::{BTreeMap, BTreeSet};

use ipc::{ThreadEnding, ThreadId};
use proptest::prelude::*;
use supervisor::threads::{
    Detach, Error, Join, Next, Refused, Spawn, ThreadEvent, ThreadSet, ThreadState, ThreadTable,
};
use supervisor::{Ending, Event, Instant, Op, Sink, State, Supervisor};
use system_config::ThreadFaultPolicy;

const LIMIT: u8 = ThreadId::LIMIT as u8;
const REALM: ipc::RealmId = ipc::RealmId(1);

/// Collects the supervisor's ops.
#[derive(Default)]
struct Ops(Vec<Op>);

impl Sink for Ops {
    fn run(&mut self, op: Op) {
        self.0.push(op);
    }

    fn log(&mut self, _event: Event) {}
}

fn id(index: u8) -> ThreadId {
    ThreadId::new(index % LIMIT).expect("below the limit")
}

/// How a spawn the table granted goes on the kernel.
#[derive(Clone, Copy, Debug)]
enum SpawnOutcome {
    Started,
    /// Making the index's objects failed; nothing is left behind.
    MakeFailed,
    /// Starting the thread failed (its objects, made or not, exist).
    StartFailed,
}

#[derive(Clone, Debug)]
enum Step {
    /// The thread chosen by `by` (among those that can send) spawns.
    Spawn {
        by: u8,
        outcome: SpawnOutcome,
    },
    /// The thread chosen by `by` does `event`; `owns_services`: whether the broker says the
    /// realm owns a service, should that end it (the supervisor then aborts it).
    End {
        by: u8,
        event: ThreadEvent,
        owns_services: bool,
    },
    Join {
        by: u8,
        target: u8,
    },
    Detach {
        by: u8,
        target: u8,
    },
    /// During the realm's abort: the memory manager could not send the chosen thread.
    NotSent {
        which: u8,
    },
    /// An event of any thread, sending or not (refused unless it is one that may send).
    Stray {
        thread: u8,
        event: ThreadEvent,
    },
}

fn event() -> impl Strategy<Value = ThreadEvent> {
    prop_oneof![
        4 => Just(ThreadEvent::ExitThread),
        1 => Just(ThreadEvent::Exit),
        2 => Just(ThreadEvent::Faulted),
        2 => Just(ThreadEvent::Panicked),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        6 => Just(SpawnOutcome::Started),
        1 => Just(SpawnOutcome::MakeFailed),
        1 => Just(SpawnOutcome::StartFailed),
    ];
    prop_oneof![
        6 => (any::<u8>(), outcome).prop_map(|(by, outcome)| Step::Spawn { by, outcome }),
        5 => (any::<u8>(), event(), proptest::bool::weighted(0.7))
            .prop_map(|(by, event, owns_services)| Step::End { by, event, owns_services }),
        4 => (any::<u8>(), any::<u8>()).prop_map(|(by, target)| Step::Join { by, target }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(by, target)| Step::Detach { by, target }),
        1 => any::<u8>().prop_map(|which| Step::NotSent { which }),
        1 => (any::<u8>(), event()).prop_map(|(thread, event)| Step::Stray { thread, event }),
    ]
}

fn policy() -> impl Strategy<Value = ThreadFaultPolicy> {
    prop_oneof![Just(ThreadFaultPolicy::StopRealm), Just(ThreadFaultPolicy::StopThread)]
}

/// What the test knows, as the memory manager and the realm's threads would.
struct World {
    supervisor: Supervisor<1>,
    /// The root task's clock, in milliseconds since boot.
    now_ms: u64,
    table: ThreadTable,
    /// Indexes whose objects exist.
    made: BTreeSet<ThreadId>,
    /// Joins waiting: joiner -> (the join's number, the thread it joins).
    parked: BTreeMap<ThreadId, (usize, ThreadId)>,
    /// How many times each join (by number) was answered, and whether it was dropped.
    answers: Vec<u32>,
    dropped: BTreeSet<usize>,
    /// The realm's abort in progress: the threads sent, and those that reported.
    abort: Option<(ThreadSet, BTreeSet<ThreadId>)>,
    /// Threads suspended during the abort (they reported, or were never sent).
    suspended: BTreeSet<ThreadId>,
}

impl World {
    fn new(max_threads: u8, policy: ThreadFaultPolicy) -> Self {
        World {
            supervisor: started_supervisor(Instant::ZERO),
            now_ms: 0,
            table: ThreadTable::new(max_threads, policy),
            made: BTreeSet::from([ThreadId::MAIN]),
            parked: BTreeMap::new(),
            answers: Vec::new(),
            dropped: BTreeSet::new(),
            abort: None,
            suspended: BTreeSet::new(),
        }
    }

    /// The threads that can send a message now: live, not parked, not suspended.
    fn senders(&self) -> Vec<ThreadId> {
        self.table
            .live()
            .iter()
            .filter(|t| !self.parked.contains_key(t) && !self.suspended.contains(t))
            .collect()
    }

    fn pick_sender(&self, by: u8) -> Option<ThreadId> {
        let senders = self.senders();
        (!senders.is_empty()).then(|| senders[usize::from(by) % senders.len()])
    }

    fn now(&self) -> Instant {
        Instant::ZERO.saturating_add(supervisor::Duration::from_millis(self.now_ms))
    }

    /// The supervisor reclaimed the realm: every join is dropped and the table is reset.
    /// Then the realm is started again: after its back-off if it crashed, or as a new run
    /// (a new supervisor) if it exited.
    fn stop_realm(&mut self) -> Result<(), TestCaseError> {
        for (_, (join, _)) in std::mem::take(&mut self.parked) {
            self.dropped.insert(join);
        }
        self.table.reset();
        self.made = BTreeSet::from([ThreadId::MAIN]);
        self.abort = None;
        self.suspended.clear();
        match self.supervisor.state(REALM) {
            Some(State::Waiting { restart_at }) => {
                self.now_ms = restart_at.as_nanos() / 1_000_000 + 1;
                let mut ops = Ops::default();
                let now = self.now();
                prop_assert_eq!(self.supervisor.restart_due(REALM, now, &mut ops), Ok(()));
                prop_assert_eq!(ops.0, vec![Op::Start(REALM)]);
                prop_assert_eq!(self.supervisor.started(REALM, now, &mut Ops::default()), Ok(()));
            }
            Some(State::Stopped(_)) => self.supervisor = started_supervisor(self.now()),
            other => prop_assert!(false, "the realm is {:?} after its reclaim", other),
        }
        Ok(())
    }

    /// Reports the realm's ending to the supervisor; whether it aborts the realm (else it
    /// reclaimed it).
    fn realm_ended(&mut self, ending: Ending, owns_services: bool) -> Result<bool, TestCaseError> {
        self.now_ms += 3;
        let mut ops = Ops::default();
        let now = self.now();
        let ended = self.supervisor.ended(REALM, ending, owns_services, now, &mut ops);
        prop_assert_eq!(ended, Ok(()));
        let aborts = ops.0.contains(&Op::Abort(REALM));
        let reclaims = ops.0.contains(&Op::Reclaim(REALM));
        prop_assert!(aborts != reclaims, "{:?}", ops.0);
        Ok(aborts)
    }

    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match *step {
            Step::Spawn { by, outcome } => {
                if self.pick_sender(by).is_none() {
                    return Ok(());
                }
                self.spawn(outcome)
            }
            Step::End { by, event, owns_services } => {
                let Some(thread) = self.pick_sender(by) else { return Ok(()) };
                self.end(thread, event, owns_services)
            }
            Step::Join { by, target } => {
                let Some(caller) = self.pick_sender(by) else { return Ok(()) };
                self.join(caller, id(target))
            }
            Step::Detach { by, target } => {
                let Some(caller) = self.pick_sender(by) else { return Ok(()) };
                self.detach(caller, id(target))
            }
            Step::NotSent { which } => {
                let Some((sent, reported)) = &self.abort else {
                    let before = self.table.clone();
                    prop_assert_eq!(self.table.abort_reported(id(which)), Err(Error::NoAbort));
                    prop_assert_eq!(&self.table, &before);
                    return Ok(());
                };
                let waiting: Vec<ThreadId> =
                    sent.iter().filter(|t| !reported.contains(t)).collect();
                if waiting.is_empty() {
                    return Ok(());
                }
                let thread = waiting[usize::from(which) % waiting.len()];
                let complete = self.table.abort_reported(thread);
                self.reported(thread, complete)
            }
            Step::Stray { thread, event } => {
                let thread = id(thread);
                if self.senders().contains(&thread) {
                    return self.end(thread, event, true);
                }
                let before = self.table.clone();
                let result = self.table.ended(thread, event);
                prop_assert!(result.is_err(), "{:?} of {:?} accepted: {:?}", event, thread, result);
                prop_assert_eq!(&self.table, &before);
                Ok(())
            }
        }
    }

    fn spawn(&mut self, outcome: SpawnOutcome) -> Result<(), TestCaseError> {
        let before = self.table.clone();
        let lowest_free = (1..LIMIT).map(id).find(|&t| before.state(t) == ThreadState::Free);
        match self.table.spawn() {
            Ok(Spawn { thread, make }) => {
                prop_assert!(self.abort.is_none(), "spawn during the realm's abort");
                prop_assert!(before.threads() < before.max_threads());
                prop_assert_eq!(Some(thread), lowest_free, "the lowest free index");
                prop_assert_eq!(make, !self.made.contains(&thread), "objects on first use only");
                prop_assert_eq!(self.table.state(thread), ThreadState::Running);
                match outcome {
                    SpawnOutcome::Started => {
                        self.made.insert(thread);
                    }
                    SpawnOutcome::MakeFailed => {
                        let exists = !make;
                        prop_assert_eq!(self.table.spawn_failed(thread, exists), Ok(()));
                        prop_assert_eq!(&self.table, &before, "a failed spawn leaves nothing");
                    }
                    SpawnOutcome::StartFailed => {
                        prop_assert_eq!(self.table.spawn_failed(thread, true), Ok(()));
                        self.made.insert(thread);
                        prop_assert_eq!(self.table.state(thread), ThreadState::Free);
                    }
                }
            }
            Err(Refused::QuotaExceeded) => {
                prop_assert!(
                    self.abort.is_some() || before.threads() >= before.max_threads(),
                    "refused with {} of {} threads",
                    before.threads(),
                    before.max_threads()
                );
                prop_assert_eq!(&self.table, &before);
            }
            Err(other) => prop_assert!(false, "spawn refused with {:?}", other),
        }
        Ok(())
    }

    fn end(
        &mut self,
        thread: ThreadId,
        event: ThreadEvent,
        owns_services: bool,
    ) -> Result<(), TestCaseError> {
        let before = self.table.clone();
        let next = self.table.ended(thread, event);
        if self.abort.is_some() {
            let complete = match next {
                Ok(Next::AbortReported { complete }) => Ok(complete),
                Ok(other) => return Err(TestCaseError::fail(format!("{other:?} in an abort"))),
                Err(error) => Err(error),
            };
            return self.reported(thread, complete);
        }
        let next = next.map_err(|error| TestCaseError::fail(format!("{error}")))?;
        let state = before.state(thread);
        let crash = matches!(event, ThreadEvent::Faulted | ThreadEvent::Panicked);
        match next {
            Next::EndRealm(ending) => {
                let expected = match event {
                    ThreadEvent::Faulted => Ending::Faulted,
                    ThreadEvent::Panicked => Ending::Panicked,
                    _ => Ending::Exited,
                };
                prop_assert_eq!(ending, expected);
                prop_assert!(
                    thread.is_main()
                        || event == ThreadEvent::Exit
                        || (crash && before.policy() == ThreadFaultPolicy::StopRealm),
                    "{:?} of {:?} ended the realm",
                    event,
                    thread
                );
                prop_assert_eq!(&self.table, &before);
                if self.realm_ended(ending, owns_services)? {
                    self.begin_abort()?;
                } else {
                    self.stop_realm()?;
                }
            }
            Next::AbortThread { ending } => {
                prop_assert!(!thread.is_main() && crash);
                prop_assert_eq!(before.policy(), ThreadFaultPolicy::StopThread);
                prop_assert_eq!(state, ThreadState::Running);
                prop_assert_eq!(self.table.state(thread), ThreadState::Aborting(ending));
            }
            Next::Ended { ending, joiner, freed } => {
                prop_assert!(!thread.is_main());
                match state {
                    ThreadState::Aborting(first) => prop_assert_eq!(ending, first),
                    ThreadState::Running => {
                        prop_assert_eq!(event, ThreadEvent::ExitThread);
                        prop_assert_eq!(ending, ThreadEnding::Exited);
                    }
                    other => prop_assert!(false, "a {} thread ended", other),
                }
                let waiting =
                    self.parked.iter().find(|(_, (_, target))| *target == thread).map(|(j, _)| *j);
                prop_assert_eq!(joiner, waiting, "the joiner woken is the one waiting");
                if let Some(joiner) = joiner {
                    let (join, _) = self.parked.remove(&joiner).expect("parked");
                    self.answers[join] += 1;
                }
                prop_assert_eq!(freed, joiner.is_some() || before.is_detached(thread));
                let expected = if freed { ThreadState::Free } else { ThreadState::Ended(ending) };
                prop_assert_eq!(self.table.state(thread), expected);
            }
            Next::AbortReported { .. } => prop_assert!(false, "an abort report with no abort"),
        }
        Ok(())
    }

    fn begin_abort(&mut self) -> Result<(), TestCaseError> {
        let live = self.table.live();
        let sent = self.table.begin_abort().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(sent, live, "every live thread is sent, and no other");
        prop_assert!(sent.contains(ThreadId::MAIN));
        for (_, (join, _)) in std::mem::take(&mut self.parked) {
            self.dropped.insert(join);
        }
        prop_assert!((0..LIMIT).map(id).all(|t| self.table.joiner(t).is_none()));
        self.abort = Some((sent, BTreeSet::new()));
        Ok(())
    }

    /// `thread` reported during the abort, and the table answered `complete`.
    fn reported(
        &mut self,
        thread: ThreadId,
        complete: Result<bool, Error>,
    ) -> Result<(), TestCaseError> {
        let (sent, reported) = self.abort.as_mut().expect("an abort");
        let expected_first = sent.contains(thread) && !reported.contains(&thread);
        match complete {
            Ok(complete) => {
                prop_assert!(expected_first, "{:?} reported twice or was never sent", thread);
                reported.insert(thread);
                self.suspended.insert(thread);
                let all = sent.iter().all(|t| reported.contains(&t));
                prop_assert_eq!(complete, all, "complete exactly when every thread reported");
                if complete {
                    // The supervisor hears the second ending and stops the realm.
                    prop_assert!(!self.realm_ended(Ending::Exited, true)?, "aborted twice");
                    self.stop_realm()?;
                }
            }
            Err(error) => {
                prop_assert!(!expected_first, "{:?} refused: {}", thread, error);
                prop_assert_eq!(error, Error::NotAborting(thread));
            }
        }
        Ok(())
    }

    fn join(&mut self, caller: ThreadId, target: ThreadId) -> Result<(), TestCaseError> {
        let before = self.table.clone();
        let number = self.answers.len();
        self.answers.push(0);
        match self.table.join(caller, target) {
            Ok(Join::Now(ending)) => {
                prop_assert_eq!(before.state(target), ThreadState::Ended(ending));
                prop_assert_eq!(self.table.state(target), ThreadState::Free);
                self.answers[number] += 1;
            }
            Ok(Join::Parked) => {
                prop_assert!(before.state(target).is_live());
                prop_assert!(self.parked.values().all(|(_, t)| *t != target), "a second joiner");
                prop_assert_eq!(self.table.joiner(target), Some(caller));
                self.parked.insert(caller, (number, target));
            }
            Err(Refused::NotJoinable) => {
                prop_assert!(self.refusable(&before, caller, target));
                prop_assert_eq!(&self.table, &before);
                self.answers[number] += 1;
            }
            Err(other) => prop_assert!(false, "join refused with {:?}", other),
        }
        Ok(())
    }

    fn detach(&mut self, caller: ThreadId, target: ThreadId) -> Result<(), TestCaseError> {
        let before = self.table.clone();
        match self.table.detach(caller, target) {
            Ok(Detach::Freed) => {
                prop_assert!(matches!(before.state(target), ThreadState::Ended(_)));
                prop_assert_eq!(self.table.state(target), ThreadState::Free);
            }
            Ok(Detach::WhenEnded) => {
                prop_assert!(before.state(target).is_live());
                prop_assert!(self.table.is_detached(target));
            }
            Err(Refused::NotJoinable) => {
                prop_assert!(self.refusable(&before, caller, target));
                prop_assert_eq!(&self.table, &before);
            }
            Err(other) => prop_assert!(false, "detach refused with {:?}", other),
        }
        Ok(())
    }

    /// Whether the contract lets the table refuse a join or detach of `target` by `caller`
    /// (a join that would wait for ever: `target` waits, through joins, for `caller`).
    fn refusable(&self, before: &ThreadTable, caller: ThreadId, target: ThreadId) -> bool {
        let mut waits = false;
        let mut current = target;
        while let Some((_, next)) = self.parked.get(&current) {
            if *next == caller {
                waits = true;
                break;
            }
            current = *next;
        }
        self.abort.is_some()
            || target.is_main()
            || target == caller
            || before.state(target) == ThreadState::Free
            || before.is_detached(target)
            || before.joiner(target).is_some()
            || waits
    }

    /// What holds after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        let table = &self.table;
        let aborting = matches!(self.supervisor.state(REALM), Some(State::Aborting { .. }));
        prop_assert!(self.supervisor.is_running(REALM));
        prop_assert_eq!(aborting, self.abort.is_some(), "{:?}", self.supervisor.state(REALM));
        prop_assert!(table.threads() <= table.max_threads(), "{} threads", table.threads());
        prop_assert_ne!(table.state(ThreadId::MAIN), ThreadState::Free);
        let made: BTreeSet<ThreadId> = table.made().iter().collect();
        prop_assert_eq!(&made, &self.made);
        for (joiner, (_, target)) in &self.parked {
            prop_assert_eq!(table.joiner(*target), Some(*joiner));
            prop_assert!(table.state(*target).is_live(), "a join waits on an ended thread");
            prop_assert!(table.state(*joiner).is_live());
        }
        for thread in (0..LIMIT).map(id) {
            if let Some(joiner) = table.joiner(thread) {
                prop_assert_eq!(self.parked.get(&joiner).map(|(_, t)| *t), Some(thread));
            }
            if table.state(thread) == ThreadState::Free {
                prop_assert!(!table.is_detached(thread) && table.joiner(thread).is_none());
            }
        }
        for (join, &answers) in self.answers.iter().enumerate() {
            let waiting = self.parked.values().any(|(number, _)| *number == join);
            let dropped = self.dropped.contains(&join);
            let expected = u32::from(!waiting && !dropped);
            prop_assert_eq!(answers, expected, "join {} answered {} times", join, answers);
        }
        match (&self.abort, table.aborting()) {
            (None, None) => {}
            (Some((sent, reported)), Some(remaining)) => {
                let left: ThreadSet = {
                    let mut left = *sent;
                    for &t in reported {
                        left.remove(t);
                    }
                    left
                };
                prop_assert_eq!(remaining, left);
            }
            (ours, theirs) => prop_assert!(false, "abort {:?} against {:?}", ours, theirs),
        }
        Ok(())
    }
}

/// A supervisor of the one realm, restartable (up to 255 times), started at `now`.
fn started_supervisor(now: Instant) -> Supervisor<1> {
    let mut supervisor = Supervisor::new();
    supervisor.add_realm(REALM, true, u8::MAX).expect("room for one realm");
    supervisor.started(REALM, now, &mut Ops::default()).expect("starting");
    supervisor
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_thread_table_keeps_its_rules(
        max_threads in 1..=LIMIT,
        policy in policy(),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let mut world = World::new(max_threads, policy);
        world.check()?;
        for step in &steps {
            world.apply(step)?;
            world.check()?;
        }
    }
}
