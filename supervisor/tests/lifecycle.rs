//! Property test of the supervisor driven together with the real broker, over random
//! sequences of what realms do: register services, connect, call a service and wait, receive
//! and reply, announce that they only serve, exit, fault or panic (owning services or not);
//! aborts that run (the realm answers its waiting client, then ends again) or that the
//! kernel refuses; restarts that build or fail; and at the end, the run until idle and the
//! shutdown (sometimes while restarts are still pending). Time passes in random steps, from
//! microseconds to seconds: crashes come soon after a start or after a healthy run, and
//! restarts go through the back-off (`StartAfter`, a deadline in the root task's
//! `DeadlineQueue`, then `restart_due` once the clock reaches it). Inputs the root task would
//! not send (about realms in the wrong state, or a restart before it is due) are mixed in and
//! must be refused with no effect.
//!
//! The test plays the root task: it carries out each [`Op`] as it comes (`WithdrawCaps` is
//! `broker.realm_died`, whose kernel ops run on the shared model of seL4's capability
//! derivation tree, `cap-model`; `Reclaim` destroys the realm's CSpace in the model; `Abort`
//! sends the thread back to its entry; `StartAfter` puts the realm's deadline in the queue,
//! `CancelRestart` takes it out; `Start` builds it again, `NewGeneration` is
//! `broker.realm_started`) and reports the outcome of aborts and starts. Waiting clients are
//! modelled as seL4 blocks them: a client *sending* on an endpoint is woken when the kernel
//! cancels its badged sends or the endpoint's last cap is deleted; a client *waiting for a
//! reply* (its call was received) is woken only by that server's reply or abort, never by
//! a revoke. After every step:
//!
//! - no client is left waiting on a dead service: a client waiting for a reply waits on a
//!   realm whose thread runs (unless the kernel refused that realm's abort, which the
//!   supervisor logs as such), and a client sending waits on a live endpoint of a running,
//!   not withdrawn, realm;
//! - every realm is running, serving or aborting with its objects in place, waiting for a
//!   restart it is owed (its deadline in the queue, its clients hearing "restarting"), or
//!   stopped for a reason consistent with its policy, with its CSpace empty and nothing in
//!   the broker;
//! - restarts never exceed `max_restarts`, and match the restarts that happened; each waits
//!   the delay of the back-off rule (10 ms, doubled after a crash within 1 s of starting, at
//!   most 1 s), and is started no earlier than its deadline;
//! - the run is idle exactly when every realm is stopped for good or only serves (a pending
//!   restart is not idle);
//! - every op refers to objects that exist and a realm in the right state: `WithdrawCaps`,
//!   `Abort` and `Reclaim` a realm whose objects exist (`Abort` and `Reclaim` once the broker
//!   has withdrawn it), `StartAfter` a realm whose objects are gone and that has no
//!   deadline yet, `CancelRestart` one that has, `Start` only the realm whose deadline has
//!   just expired, `NewGeneration` a realm just started; every broker kernel op is valid for
//!   the CDT model.

use broker::{Broker, KernelOp, Layout, LogLine, OpSink, SlotRange};
use cap_model::{Kernel, Space};
use deadlines::DeadlineQueue;
use ipc::{CloseReason, ConnectionId, Name, RealmId, Request, Response};
use proptest::prelude::*;
use service_registry::ConnectionLookup;
use supervisor::{
    BackoffPolicy, Duration, Ending, Event, Instant, Op, Sink, State, StopReason, Supervisor,
};

const MODEL_REALMS: u8 = 6;
/// Services `s0`..`s2` are declared with realms 0..2 as their providers (so their clients
/// hear whether the provider is restarting), and granted to every realm, when those realms
/// exist; `s3` is declared nowhere: anyone may register it, and its owner and the owner's
/// children reach it (realm 0 is the root, every other realm its child).
const SERVICES: u8 = 4;
const PROVIDED: u8 = 3;

fn service(n: u8) -> Name {
    Name::new(&format!("s{n}")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The system and the steps.

#[derive(Clone, Copy, Debug)]
struct Policy {
    restartable: bool,
    max_restarts: u8,
    /// Whether its first start works.
    boots: bool,
}

fn policy() -> impl Strategy<Value = Policy> {
    let max_restarts = prop_oneof![3 => 0u8..3, 1 => 3u8..10];
    (any::<bool>(), max_restarts, proptest::bool::weighted(0.9))
        .prop_map(|(restartable, max_restarts, boots)| Policy { restartable, max_restarts, boots })
}

/// How the follow-ups of a step go: whether an abort the step asks for works, and whether a
/// start does.
#[derive(Clone, Copy, Debug)]
struct Luck {
    abort_works: bool,
    start_works: bool,
}

fn luck() -> impl Strategy<Value = Luck> {
    (proptest::bool::weighted(0.95), proptest::bool::weighted(0.85))
        .prop_map(|(abort_works, start_works)| Luck { abort_works, start_works })
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![Just(Ending::Exited), Just(Ending::Faulted), Just(Ending::Panicked)]
}

#[derive(Clone, Debug)]
enum Step {
    Register {
        realm: u8,
        service: u8,
    },
    Connect {
        realm: u8,
        service: u8,
    },
    /// The realm calls a service over one of its connections and waits.
    Call {
        realm: u8,
        pick: usize,
    },
    /// The realm receives one call on its services.
    Receive {
        realm: u8,
    },
    /// The realm replies to the call it received.
    Reply {
        realm: u8,
    },
    Serve {
        realm: u8,
    },
    End {
        realm: u8,
        ending: Ending,
        luck: Luck,
    },
    /// An aborted realm runs its abort path: answers its caller, then ends again.
    AbortRuns {
        realm: u8,
        then: Ending,
        luck: Luck,
    },
    /// An input the root task would not send about this realm now (if it is invalid).
    Stray {
        realm: u8,
        input: u8,
    },
    /// Time passes; the restarts that come due are started, as `luck` says.
    Tick {
        by: Duration,
        luck: Luck,
    },
}

/// From a few microseconds to a few seconds: crashes soon after a start, and after a healthy
/// run; restarts that come due one by one, or several at once.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        2 => (0u64..2_000_000).prop_map(Duration::from_nanos),
        3 => (5u64..50).prop_map(Duration::from_millis),
        2 => (100u64..1_200).prop_map(Duration::from_millis),
        1 => (900u64..2_500).prop_map(Duration::from_millis),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let realm = || 0..MODEL_REALMS;
    prop_oneof![
        4 => (realm(), 0..SERVICES).prop_map(|(realm, service)| Step::Register { realm, service }),
        4 => (realm(), 0..SERVICES).prop_map(|(realm, service)| Step::Connect { realm, service }),
        5 => (realm(), any::<usize>()).prop_map(|(realm, pick)| Step::Call { realm, pick }),
        4 => realm().prop_map(|realm| Step::Receive { realm }),
        2 => realm().prop_map(|realm| Step::Reply { realm }),
        2 => realm().prop_map(|realm| Step::Serve { realm }),
        4 => (realm(), ending(), luck()).prop_map(|(realm, ending, luck)| Step::End { realm, ending, luck }),
        4 => (realm(), prop_oneof![4 => Just(Ending::Exited), 1 => ending()], luck())
            .prop_map(|(realm, then, luck)| Step::AbortRuns { realm, then, luck }),
        1 => (realm(), 0u8..6).prop_map(|(realm, input)| Step::Stray { realm, input }),
        4 => (duration(), luck()).prop_map(|(by, luck)| Step::Tick { by, luck }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The world the root task runs: the broker, the kernel model, the realms' objects and the
// clients blocked in a call.

/// A realm's thread, as the kernel has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Thread {
    /// No thread, no CSpace, no memory.
    Gone,
    /// Running its program.
    Normal,
    /// Sent back to its entry to answer its caller, then end.
    Aborted,
}

#[derive(Clone, Copy, Debug)]
struct RealmModel {
    policy: Policy,
    thread: Thread,
    /// Restarts that happened (`Restarted` events).
    restarts: u8,
    /// How this run of the realm ended first (a second ending, on its abort path, does not
    /// count): what it must be stopped for.
    ended_with: Option<Ending>,
    /// When this run started, and how long it lasted until it first ended.
    started_at: Instant,
    ran_for: Duration,
    /// The delay before its last restart, if it ever waited.
    last_delay: Option<Duration>,
    /// When it started waiting for its restart, and the delay.
    waiting: Option<(Instant, Duration)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Blocked sending on the endpoint: not yet received.
    Sending,
    /// Received: blocked until the server replies.
    AwaitingReply,
}

/// A client blocked in a call.
#[derive(Clone, Copy, Debug)]
struct Call {
    client: u8,
    server: u8,
    /// The endpoint object and the badge of the client's cap.
    object: u32,
    badge: u64,
    phase: Phase,
    /// Its server's abort was refused by the kernel: seL4 will never wake it (logged by the
    /// supervisor as `AbortFailed`).
    stranded: bool,
}

struct World {
    broker: Box<Broker<'static>>,
    kernel: Kernel,
    realms: Vec<RealmModel>,
    calls: Vec<Call>,
    /// The root task's clock and its deadlines: realms waiting for a restart.
    now: Instant,
    deadlines: DeadlineQueue<u8, 8>,
    /// The realm whose deadline just expired, for which `restart_due` is being called.
    due: Option<u8>,
    /// What broke a rule, first first.
    problems: Vec<String>,
}

/// The back-off rule, written out again: the delay before a restart of a realm that ran for
/// `ran_for` and waited `last` before its previous restart.
fn expected_delay(last: Option<Duration>, ran_for: Duration) -> Duration {
    let first = Duration::from_millis(10);
    match last {
        Some(last) if ran_for < Duration::from_secs(1) => (last * 2).min(Duration::from_secs(1)),
        _ => first,
    }
}

/// The broker's sink: runs each kernel op on the model; CancelBadgedSends wakes the clients
/// sending with that badge.
struct BrokerSink<'w> {
    kernel: &'w mut Kernel,
    calls: &'w mut Vec<Call>,
    problems: &'w mut Vec<String>,
}

impl OpSink for BrokerSink<'_> {
    fn run(&mut self, op: KernelOp) {
        if let KernelOp::CancelBadgedSends { slot } = op
            && let Some((_, cap)) = self.kernel.cap((Space::Broker, slot.0))
        {
            self.calls.retain(|call| {
                !(call.phase == Phase::Sending
                    && call.object == cap.object
                    && call.badge == cap.badge)
            });
        }
        if let Err(problem) = self.kernel.apply(&op) {
            self.problems.push(format!("the kernel refused {op:?}: {problem}"));
        }
    }

    fn log(&mut self, line: LogLine<'_>) {
        assert!(!line.to_string().is_empty());
    }
}

impl World {
    fn broker_call<R>(
        &mut self,
        call: impl FnOnce(&mut Broker<'static>, &mut dyn OpSink) -> R,
    ) -> R {
        let mut sink = BrokerSink {
            kernel: &mut self.kernel,
            calls: &mut self.calls,
            problems: &mut self.problems,
        };
        let result = call(&mut self.broker, &mut sink);
        // Deleting an endpoint's last cap cancels every IPC on it.
        let kernel = &self.kernel;
        self.calls.retain(|call| call.phase != Phase::Sending || kernel.object_exists(call.object));
        result
    }

    fn blocked(&self, realm: u8) -> bool {
        self.calls.iter().any(|call| call.client == realm)
    }

    fn owns_services(&self, realm: u8) -> bool {
        self.broker.registry().services_owned_by(RealmId(realm)) > 0
    }

    fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }
}

/// The supervisor's sink: the root task carrying out each op.
struct RootTask<'w> {
    world: &'w mut World,
    /// An `Abort` or `Start` to report on once the call has returned.
    abort: Option<u8>,
    start: Option<u8>,
    events: Vec<Event>,
    ops: Vec<Op>,
}

impl<'w> RootTask<'w> {
    fn new(world: &'w mut World) -> Self {
        Self { world, abort: None, start: None, events: Vec::new(), ops: Vec::new() }
    }
}

impl Sink for RootTask<'_> {
    fn run(&mut self, op: Op) {
        self.ops.push(op);
        let world = &mut *self.world;
        let (Op::WithdrawCaps(id)
        | Op::SetRestarting(id, _)
        | Op::Abort(id)
        | Op::Reclaim(id)
        | Op::Start(id)
        | Op::StartAfter { realm: id, .. }
        | Op::CancelRestart(id)
        | Op::NewGeneration(id)) = op;
        let r = id.0;
        let Some(realm) = world.realms.get(usize::from(r)).copied() else {
            return world.problem(format!("{op:?} names a realm that does not exist"));
        };
        let withdrawn = !world.broker.is_alive(id);
        match op {
            Op::WithdrawCaps(_) => {
                if realm.thread == Thread::Gone {
                    world.problem(format!("{op:?}: the realm has no objects"));
                }
                world.broker_call(|broker, ops| broker.realm_died(id, ops));
            }
            Op::SetRestarting(_, _) if !withdrawn => {
                world.problem(format!("{op:?} for a realm the broker has alive"))
            }
            Op::SetRestarting(_, restarting) => {
                if world.broker.set_restarting(id, restarting).is_err() {
                    world.problem(format!("{op:?}: the broker does not know the realm"));
                }
            }
            Op::Abort(_) => {
                if realm.thread != Thread::Normal || !withdrawn || self.abort.is_some() {
                    world.problem(format!("{op:?} of a realm {realm:?}, withdrawn {withdrawn}"));
                }
                world.realms[usize::from(r)].thread = Thread::Aborted;
                self.abort = Some(r);
            }
            Op::Reclaim(_) => {
                if realm.thread == Thread::Gone || !withdrawn {
                    world.problem(format!("{op:?} of a realm {realm:?}, withdrawn {withdrawn}"));
                }
                world.kernel.destroy(Space::Realm(r));
                world.realms[usize::from(r)].thread = Thread::Gone;
                // Its own calls end with it; calls it owed a reply stay, to be checked.
                world.calls.retain(|call| call.client != r);
            }
            Op::Start(_) => {
                if realm.thread != Thread::Gone || !withdrawn || self.start.is_some() {
                    world.problem(format!("{op:?} of a realm {realm:?}, withdrawn {withdrawn}"));
                }
                if world.due != Some(r) || world.deadlines.get(r).is_some() {
                    world.problem(format!("{op:?} of a realm whose deadline did not expire"));
                }
                match realm.waiting {
                    Some((since, delay)) if world.now >= since.saturating_add(delay) => {}
                    waiting => {
                        world.problem(format!("{op:?} at {}, waiting {waiting:?}", world.now))
                    }
                }
                world.realms[usize::from(r)].waiting = None;
                self.start = Some(r);
            }
            Op::StartAfter { delay, restart_at, .. } => {
                if realm.thread != Thread::Gone || !withdrawn || world.deadlines.get(r).is_some() {
                    world.problem(format!("{op:?} of a realm {realm:?}, withdrawn {withdrawn}"));
                }
                let expected = expected_delay(realm.last_delay, realm.ran_for);
                if delay != expected || restart_at != world.now.saturating_add(delay) {
                    world.problem(format!(
                        "{op:?} at {}: expected a delay of {expected:?} after a run of {:?}, last {:?}",
                        world.now, realm.ran_for, realm.last_delay
                    ));
                }
                let model = &mut world.realms[usize::from(r)];
                model.last_delay = Some(delay);
                model.waiting = Some((world.now, delay));
                if world.deadlines.insert(restart_at, r).is_err() {
                    world.problem(format!("{op:?}: the deadline queue is full"));
                }
            }
            Op::CancelRestart(_) => {
                if world.deadlines.remove(r).is_none() || realm.thread != Thread::Gone {
                    world.problem(format!("{op:?} of a realm {realm:?} with no deadline"));
                }
                world.realms[usize::from(r)].waiting = None;
            }
            Op::NewGeneration(_) => {
                if realm.thread != Thread::Normal || !withdrawn {
                    world.problem(format!("{op:?} of a realm {realm:?}, withdrawn {withdrawn}"));
                }
                if world.broker.realm_started(id).is_err() {
                    world.problem(format!("{op:?}: the broker does not know the realm"));
                }
            }
        }
    }

    fn log(&mut self, event: Event) {
        assert!(!event.to_string().is_empty());
        self.events.push(event);
    }
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Run {
    supervisor: Supervisor<8>,
    world: World,
    /// Every connection opened, with its client.
    issued: Vec<(ConnectionId, u8)>,
}

impl Run {
    fn new(policies: &[Policy]) -> Self {
        let count = policies.len() as u8;
        let mut text = String::new();
        for r in 0..count {
            text += &format!("[[realm]]\nname = \"r{r}\"\nprogram = \"p\"\n");
            if r > 0 {
                text += "parent = \"r0\"\n";
            }
            text += "priority = 100\nmemory = \"1 MiB\"\nmax_services = 2\nmax_connections = 3\n";
        }
        for s in (0..PROVIDED.min(count)).map(service) {
            let provider = &s.as_str()[1..];
            text += &format!("[[service]]\nname = \"{s}\"\nrealm = \"r{provider}\"\n");
            for r in 0..count {
                text += &format!("[[grant]]\nclient = \"r{r}\"\nservice = \"{s}\"\n");
            }
        }
        let config = system_config::parse("system.toml", &text, &["p"])
            .unwrap_or_else(|errors| panic!("{errors:?}\n{text}"));
        let config = Box::leak(Box::new(config));
        let realm_slots: Vec<SlotRange> =
            (0..count).map(|r| SlotRange { start: 100 * (u64::from(r) + 1), count: 6 }).collect();
        let layout =
            Layout { realm_slots: &realm_slots, broker_slots: SlotRange { start: 1, count: 64 } };
        let mut broker = Box::new(Broker::empty());
        broker.configure(config, &layout).unwrap();
        let mut run = Run {
            issued: Vec::new(),
            supervisor: Supervisor::new(),
            world: World {
                broker,
                kernel: Kernel::default(),
                realms: Vec::new(),
                calls: Vec::new(),
                now: Instant::ZERO,
                deadlines: DeadlineQueue::new(),
                due: None,
                problems: Vec::new(),
            },
        };
        assert_eq!(run.supervisor.backoff(), BackoffPolicy::DEFAULT);
        for (r, policy) in policies.iter().enumerate() {
            let id = RealmId(r as u8);
            run.supervisor.add_realm(id, policy.restartable, policy.max_restarts).unwrap();
            let thread = if policy.boots { Thread::Normal } else { Thread::Gone };
            run.world.realms.push(RealmModel {
                policy: *policy,
                thread,
                restarts: 0,
                ended_with: None,
                started_at: Instant::ZERO,
                ran_for: Duration::ZERO,
                last_delay: None,
                waiting: None,
            });
            let mut sink = RootTask::new(&mut run.world);
            if policy.boots {
                run.supervisor.started(id, Instant::ZERO, &mut sink).unwrap();
            } else {
                run.supervisor.start_failed(id, &mut sink).unwrap();
            }
            assert!(sink.abort.is_none() && sink.start.is_none());
        }
        run
    }

    fn state(&self, r: u8) -> State {
        self.supervisor.state(RealmId(r)).unwrap()
    }

    /// Whether realm `r`'s thread runs its program and is not blocked in a call.
    fn free(&self, r: u8) -> bool {
        matches!(self.state(r), State::Running | State::Serving)
            && self.world.realms[usize::from(r)].thread == Thread::Normal
            && !self.world.blocked(r)
    }

    /// Runs one supervisor input as the root task, then reports the aborts and starts it
    /// asked for, as `luck` says they went. Returns the ops of the input itself.
    fn input(
        &mut self,
        luck: Luck,
        input: impl FnOnce(&mut Supervisor<8>, &mut RootTask<'_>) -> Result<(), supervisor::Error>,
    ) -> Result<Vec<Op>, TestCaseError> {
        let mut sink = RootTask::new(&mut self.world);
        let result = input(&mut self.supervisor, &mut sink);
        prop_assert!(result.is_ok(), "the supervisor refused a valid input: {:?}", result);
        let first = sink.ops;
        let (mut abort, mut start, mut events) = (sink.abort, sink.start, sink.events);
        let now = self.world.now;
        loop {
            self.follow(&events)?;
            let mut sink = RootTask::new(&mut self.world);
            let result = if let Some(r) = abort.take()
                && !luck.abort_works
            {
                // The kernel refused: the thread was not touched.
                sink.world.realms[usize::from(r)].thread = Thread::Normal;
                self.supervisor.abort_failed(RealmId(r), now, &mut sink)
            } else if let Some(r) = start.take() {
                if luck.start_works {
                    sink.world.realms[usize::from(r)].thread = Thread::Normal;
                    self.supervisor.started(RealmId(r), now, &mut sink)
                } else {
                    self.supervisor.start_failed(RealmId(r), &mut sink)
                }
            } else {
                return Ok(first);
            };
            prop_assert!(result.is_ok(), "the supervisor refused a report: {:?}", result);
            (abort, start, events) = (sink.abort, sink.start, sink.events);
        }
    }

    /// Follows what the supervisor logged.
    fn follow(&mut self, events: &[Event]) -> Result<(), TestCaseError> {
        for event in events {
            match *event {
                Event::Restarted { realm, restart, max } => {
                    let model = &mut self.world.realms[usize::from(realm.0)];
                    model.restarts += 1;
                    model.ended_with = None;
                    model.started_at = self.world.now;
                    prop_assert_eq!(restart, model.restarts);
                    prop_assert_eq!(max, model.policy.max_restarts);
                }
                // The kernel refused the abort: the client the realm owed stays blocked.
                Event::AbortFailed { realm } => {
                    for call in &mut self.world.calls {
                        if call.server == realm.0 && call.phase == Phase::AwaitingReply {
                            call.stranded = true;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn step(&mut self, step: Step) -> Result<(), TestCaseError> {
        let count = self.world.realms.len() as u8;
        let realm_of = |realm: u8| realm % count;
        match step {
            Step::Register { realm, service: s } | Step::Connect { realm, service: s } => {
                let r = realm_of(realm);
                if !self.free(r) {
                    return Ok(());
                }
                let request = match step {
                    Step::Register { .. } => {
                        Request::Register { service: service(s), interface: None, share: None }
                    }
                    _ => Request::Connect { service: service(s), interface: None },
                };
                let reply =
                    self.world.broker_call(|broker, ops| broker.handle(RealmId(r), &request, ops));
                if let Ok(Response::Connected { connection, .. }) = reply {
                    self.issued.push((connection, r));
                }
            }
            Step::Call { realm, pick } => self.call(realm_of(realm), pick),
            Step::Receive { realm } => self.receive(realm_of(realm)),
            Step::Reply { realm } => {
                let r = realm_of(realm);
                if self.free(r) {
                    self.answer(r);
                }
            }
            Step::Serve { realm } => {
                let r = realm_of(realm);
                if self.free(r) {
                    prop_assert_eq!(self.supervisor.serving(RealmId(r)), Ok(()));
                }
            }
            Step::End { realm, ending, luck } => {
                let r = realm_of(realm);
                if self.free(r) {
                    let owns = self.world.owns_services(r);
                    // A realm that serves or owns a service may owe a reply: it is aborted.
                    let may_owe = owns || self.state(r) == State::Serving;
                    self.note_ending(r, ending);
                    let now = self.world.now;
                    let ops = self.input(luck, |supervisor, sink| {
                        supervisor.ended(RealmId(r), ending, owns, now, sink)
                    })?;
                    prop_assert_eq!(ops.contains(&Op::Abort(RealmId(r))), may_owe, "{:?}", ops);
                }
            }
            Step::AbortRuns { realm, then, luck } => {
                self.abort_runs(realm_of(realm), then, luck)?
            }
            Step::Stray { realm, input } => self.stray(realm_of(realm), input)?,
            Step::Tick { by, luck } => {
                self.world.now = self.world.now.saturating_add(by);
                self.restart_due(luck)?;
            }
        }
        Ok(())
    }

    /// The realm `r` ends first with `ending`, now.
    fn note_ending(&mut self, r: u8, ending: Ending) {
        let now = self.world.now;
        let model = &mut self.world.realms[usize::from(r)];
        model.ended_with = Some(ending);
        model.ran_for = now.saturating_duration_since(model.started_at);
    }

    /// The root task's timer: every restart whose deadline has passed is due, in deadline
    /// order.
    fn restart_due(&mut self, luck: Luck) -> Result<(), TestCaseError> {
        let now = self.world.now;
        while let Some((deadline, r)) = self.world.deadlines.pop_expired(now) {
            prop_assert_eq!(self.state(r), State::Waiting { restart_at: deadline });
            self.world.due = Some(r);
            let ops =
                self.input(luck, |supervisor, sink| supervisor.restart_due(RealmId(r), now, sink))?;
            self.world.due = None;
            prop_assert_eq!(ops, vec![Op::Start(RealmId(r))]);
        }
        Ok(())
    }

    /// `r` calls the owner of one of its connections, if that cannot deadlock.
    fn call(&mut self, r: u8, pick: usize) {
        // A realm that announced it only serves makes no calls.
        if !self.free(r) || self.state(r) != State::Running {
            return;
        }
        let registry = self.world.broker.registry();
        let open: Vec<_> = registry.connections().filter(|c| c.client.0 == r).copied().collect();
        if open.is_empty() {
            return;
        }
        let connection = open[pick % open.len()];
        let Some(owner) = registry.service(&connection.service).map(|s| s.owner.0) else { return };
        // A server blocked, directly or not, on `r` would never receive: seL4 would deadlock.
        let mut next = Some(owner);
        while let Some(server) = next {
            if server == r {
                return;
            }
            next = self.world.calls.iter().find(|call| call.client == server).map(|c| c.server);
        }
        let Some((_, cap)) = self.world.kernel.cap((Space::Realm(r), connection.client_slot.0))
        else {
            return;
        };
        self.world.calls.push(Call {
            client: r,
            server: owner,
            object: cap.object,
            badge: cap.badge,
            phase: Phase::Sending,
            stranded: false,
        });
    }

    /// `r` receives one call sent to one of its endpoints, if it owes no reply already.
    fn receive(&mut self, r: u8) {
        let owes =
            self.world.calls.iter().any(|c| c.server == r && c.phase == Phase::AwaitingReply);
        if !self.free(r) || owes {
            return;
        }
        let registry = self.world.broker.registry();
        let endpoints: Vec<u32> = registry
            .services()
            .filter(|s| s.owner.0 == r)
            .filter_map(|s| self.world.kernel.cap((Space::Broker, s.endpoint.0)))
            .map(|(_, cap)| cap.object)
            .collect();
        if let Some(call) = self
            .world
            .calls
            .iter_mut()
            .find(|c| c.phase == Phase::Sending && endpoints.contains(&c.object))
        {
            call.phase = Phase::AwaitingReply;
        }
    }

    /// `r` replies to the call it received, if any: its client wakes.
    fn answer(&mut self, r: u8) {
        self.world.calls.retain(|c| !(c.server == r && c.phase == Phase::AwaitingReply));
    }

    /// An aborted realm answers the client it owed, then ends again.
    fn abort_runs(&mut self, r: u8, then: Ending, luck: Luck) -> Result<(), TestCaseError> {
        if self.world.realms[usize::from(r)].thread != Thread::Aborted {
            return Ok(());
        }
        prop_assert!(matches!(self.state(r), State::Aborting { .. }), "r{} aborted", r);
        self.answer(r);
        let owns = self.world.owns_services(r);
        let now = self.world.now;
        self.input(luck, |supervisor, sink| supervisor.ended(RealmId(r), then, owns, now, sink))?;
        Ok(())
    }

    /// An input the root task would not send about `r` in its state is refused, with no op,
    /// no event and no change.
    fn stray(&mut self, r: u8, input: u8) -> Result<(), TestCaseError> {
        let id = RealmId(r);
        let state = self.state(r);
        let now = self.world.now;
        let valid = match input {
            0 | 1 => state.is_running(),
            2 | 3 => matches!(state, State::Starting { .. }),
            4 => matches!(state, State::Aborting { .. }),
            // Between steps a waiting realm is never due yet: this tests "not yet".
            _ => matches!(state, State::Waiting { restart_at } if restart_at <= now),
        };
        if valid {
            return Ok(());
        }
        let mut sink = RootTask::new(&mut self.world);
        let result = match input {
            0 => self.supervisor.ended(id, Ending::Faulted, true, now, &mut sink),
            1 => self.supervisor.serving(id),
            2 => self.supervisor.started(id, now, &mut sink),
            3 => self.supervisor.start_failed(id, &mut sink),
            4 => self.supervisor.abort_failed(id, now, &mut sink),
            _ => self.supervisor.restart_due(id, now, &mut sink),
        };
        prop_assert!(result.is_err(), "input {} about a realm {} was taken", input, state);
        prop_assert!(!result.unwrap_err().to_string().is_empty());
        prop_assert!(sink.events.is_empty() && sink.abort.is_none() && sink.start.is_none());
        prop_assert!(sink.ops.is_empty());
        prop_assert_eq!(self.state(r), state);
        Ok(())
    }

    /// Brings the run to idle as realms would: aborted realms answer and exit, servers
    /// answer, clients' calls are received, the other realms exit, and pending restarts come
    /// due (their realms then exit too). Then the shutdown; with `early`, the shutdown comes
    /// as soon as only pending restarts are left, and cancels them.
    fn finish(&mut self, early: bool) -> Result<(), TestCaseError> {
        let count = self.world.realms.len() as u8;
        let fine = Luck { abort_works: true, start_works: true };
        let mut cancelled = Vec::new();
        for _ in 0..200 {
            if self.supervisor.is_idle() {
                break;
            }
            let aborted =
                (0..count).find(|&r| self.world.realms[usize::from(r)].thread == Thread::Aborted);
            let owing = (0..count).find(|&r| {
                self.free(r)
                    && self
                        .world
                        .calls
                        .iter()
                        .any(|c| c.server == r && c.phase == Phase::AwaitingReply)
            });
            let called = (0..count).find(|&r| {
                self.free(r)
                    && self.world.calls.iter().any(|c| c.server == r && c.phase == Phase::Sending)
            });
            let running = (0..count).find(|&r| self.free(r) && self.state(r) == State::Running);
            if let Some(r) = aborted {
                self.abort_runs(r, Ending::Exited, fine)?;
            } else if let Some(r) = owing {
                self.answer(r);
            } else if let Some(r) = called {
                self.receive(r);
            } else if let Some(r) = running {
                let owns = self.world.owns_services(r);
                self.note_ending(r, Ending::Exited);
                let now = self.world.now;
                self.input(fine, |supervisor, sink| {
                    supervisor.ended(RealmId(r), Ending::Exited, owns, now, sink)
                })?;
            } else if let Some(deadline) = self.world.deadlines.next_deadline() {
                if early {
                    cancelled = self.world.deadlines.iter().map(|(_, r)| r).collect();
                    break;
                }
                self.world.now = self.world.now.max(deadline);
                self.restart_due(fine)?;
            } else {
                break;
            }
            self.check()?;
        }
        // A client stranded by a refused abort stays blocked: seL4 would never wake it, so
        // the run would never be idle. Everything else comes to idle, but for the restarts
        // an early shutdown cancels.
        let stranded = self.world.calls.iter().any(|c| c.stranded);
        prop_assert!(
            stranded || !cancelled.is_empty() || self.supervisor.is_idle(),
            "the run does not come to idle: {:?}",
            self.world.calls
        );
        prop_assert!(self.world.calls.iter().all(|c| c.stranded), "clients left waiting");
        let ops = self.input(fine, |supervisor, sink| supervisor.shutdown(sink))?;
        self.check()?;
        for r in 0..count {
            prop_assert!(matches!(self.state(r), State::Stopped(_)), "r{} not stopped", r);
        }
        for &r in &cancelled {
            prop_assert!(ops.contains(&Op::CancelRestart(RealmId(r))), "{:?}", ops);
            prop_assert_eq!(self.state(r), State::Stopped(StopReason::Shutdown));
        }
        prop_assert!(self.world.deadlines.is_empty(), "restarts left after the shutdown");
        prop_assert!(self.world.kernel.slots.is_empty(), "caps left after the shutdown");
        prop_assert_eq!(self.world.broker.registry().connections().count(), 0);
        prop_assert_eq!(self.world.broker.registry().service_count(), 0);
        Ok(())
    }

    /// The invariants that hold between any two steps.
    fn check(&mut self) -> Result<(), TestCaseError> {
        self.check_restarting()?;
        if let Some(problem) = self.world.problems.first() {
            return Err(TestCaseError::fail(problem.clone()));
        }
        let registry = self.world.broker.registry();
        let mut idle = true;
        for (r, model) in self.world.realms.iter().enumerate() {
            let id = RealmId(r as u8);
            let state = self.state(r as u8);
            let restarts = self.supervisor.restarts(id).unwrap();
            let policy = model.policy;
            prop_assert!(restarts <= policy.max_restarts, "r{} restarted {} times", r, restarts);
            prop_assert_eq!(restarts, model.restarts);
            prop_assert_eq!(self.supervisor.is_running(id), state.is_running());
            let withdrawn = !self.world.broker.is_alive(id);
            let has_nothing = registry.services_owned_by(id) == 0
                && registry.connections_of(id) == 0
                && self.world.kernel.caps_in(Space::Realm(r as u8)).is_empty();
            match state {
                State::Starting { .. } => prop_assert!(false, "r{} left starting", r),
                State::Running | State::Serving => {
                    prop_assert_eq!(model.thread, Thread::Normal, "r{} {}", r, state);
                    prop_assert!(!withdrawn, "r{} {} but withdrawn", r, state);
                }
                State::Aborting { ending, restart } => {
                    prop_assert_eq!(Some(ending), model.ended_with, "r{} {}", r, state);
                    prop_assert_eq!(model.thread, Thread::Aborted, "r{} {}", r, state);
                    prop_assert!(withdrawn && has_nothing, "r{} aborting, not withdrawn", r);
                    let will =
                        ending.is_crash() && policy.restartable && restarts < policy.max_restarts;
                    prop_assert_eq!(restart, will);
                }
                State::Waiting { restart_at } => {
                    prop_assert_eq!(model.thread, Thread::Gone, "r{} {}", r, state);
                    prop_assert!(
                        withdrawn && has_nothing,
                        "r{} waiting with caps or broker entries",
                        r
                    );
                    prop_assert!(policy.restartable && restarts < policy.max_restarts);
                    prop_assert!(model.ended_with.is_some_and(Ending::is_crash), "r{} waits", r);
                    prop_assert!(restart_at > self.world.now, "r{} is due and still waits", r);
                    let Some((since, delay)) = model.waiting else {
                        return Err(TestCaseError::fail(format!("r{r} waits with no StartAfter")));
                    };
                    prop_assert_eq!(restart_at, since.saturating_add(delay));
                }
                State::Stopped(reason) => {
                    prop_assert_eq!(model.thread, Thread::Gone, "r{} {}", r, state);
                    prop_assert!(has_nothing, "r{} stopped with caps or broker entries", r);
                    match reason {
                        StopReason::GaveUp { restarts: given, last } => {
                            prop_assert!(policy.restartable);
                            prop_assert_eq!(given, policy.max_restarts);
                            prop_assert_eq!(given, restarts);
                            prop_assert_eq!(Some(last), model.ended_with, "the last cause");
                        }
                        // A restartable realm that crashes is restarted, or gives up.
                        StopReason::Faulted | StopReason::Panicked => {
                            prop_assert!(!policy.restartable)
                        }
                        StopReason::Exited | StopReason::Shutdown | StopReason::CouldNotStart => {}
                    }
                    // Stopped for how it ended first.
                    let first = model.ended_with;
                    match reason {
                        StopReason::Exited => prop_assert_eq!(first, Some(Ending::Exited)),
                        StopReason::Faulted => prop_assert_eq!(first, Some(Ending::Faulted)),
                        StopReason::Panicked => prop_assert_eq!(first, Some(Ending::Panicked)),
                        StopReason::GaveUp { .. } => {
                            prop_assert!(first.is_some_and(Ending::is_crash), "r{} gave up", r)
                        }
                        StopReason::Shutdown | StopReason::CouldNotStart => {}
                    }
                }
            }
            // The root task holds a deadline exactly for a realm waiting for its restart.
            let deadline = self.world.deadlines.get(r as u8);
            match state {
                State::Waiting { restart_at } => prop_assert_eq!(deadline, Some(restart_at)),
                _ => prop_assert_eq!(deadline, None, "r{} is {} with a deadline", r, state),
            }
            idle &= matches!(state, State::Stopped(_) | State::Serving);
        }
        let waiting = self.supervisor.realms().filter(|(_, s)| matches!(s, State::Waiting { .. }));
        prop_assert_eq!(self.world.deadlines.len(), waiting.count(), "one deadline per wait");
        prop_assert_eq!(self.supervisor.is_idle(), idle);
        // No client is left waiting on a dead service.
        for call in &self.world.calls {
            let server = self.state(call.server);
            match call.phase {
                Phase::AwaitingReply => prop_assert!(
                    call.stranded || server.is_running(),
                    "r{} waits for a reply from r{}, which is {}",
                    call.client,
                    call.server,
                    server
                ),
                Phase::Sending => {
                    prop_assert!(
                        matches!(server, State::Running | State::Serving),
                        "r{} is blocked sending to r{}, which is {}",
                        call.client,
                        call.server,
                        server
                    );
                    prop_assert!(self.world.kernel.object_exists(call.object));
                }
            }
        }
        Ok(())
    }
}

impl Run {
    /// A client of a declared service whose provider died hears that the service is
    /// restarting while the provider is aborted to be restarted or waits for its restart,
    /// and not once it has given up or could not be started again.
    fn check_restarting(&mut self) -> Result<(), TestCaseError> {
        for &(connection, client) in &self.issued {
            let ConnectionLookup::Closed(closed) =
                self.world.broker.registry().connection(connection)
            else {
                continue;
            };
            let provider = closed.service.as_str()[1..].parse::<u8>().unwrap();
            let gone = closed.reason == CloseReason::ServiceGone
                && provider < PROVIDED
                && self.world.broker.registry().service(&closed.service).is_none()
                && self.world.broker.is_alive(RealmId(client));
            if !gone {
                continue;
            }
            let expected = match self.supervisor.state(RealmId(provider)) {
                Some(State::Aborting { restart: true, .. } | State::Waiting { .. }) => true,
                Some(State::Stopped(StopReason::GaveUp { .. } | StopReason::CouldNotStart)) => {
                    false
                }
                _ => continue,
            };
            let request = Request::Status { connection };
            let reply =
                self.world.broker_call(|broker, ops| broker.handle(RealmId(client), &request, ops));
            prop_assert_eq!(
                reply == Err(ipc::Error::ServiceRestarting),
                expected,
                "r{} asks about {}: {:?}",
                client,
                connection,
                reply
            );
        }
        // A realm that connects to the service of such a provider hears the same, even if the
        // provider never registered it (it crashed owning nothing).
        let count = self.world.realms.len() as u8;
        for provider in 0..PROVIDED.min(count) {
            let expected = match self.supervisor.state(RealmId(provider)) {
                Some(State::Aborting { restart: true, .. } | State::Waiting { .. }) => true,
                Some(State::Stopped(StopReason::GaveUp { .. } | StopReason::CouldNotStart)) => {
                    false
                }
                _ => continue,
            };
            let Some(client) = (0..count).find(|&c| self.world.broker.is_alive(RealmId(c))) else {
                continue;
            };
            let request = Request::Connect { service: service(provider), interface: None };
            let reply =
                self.world.broker_call(|broker, ops| broker.handle(RealmId(client), &request, ops));
            prop_assert_eq!(
                reply == Err(ipc::Error::ServiceRestarting),
                expected,
                "r{} connects to s{}: {:?}",
                client,
                provider,
                reply
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn the_supervisor_leaves_no_client_waiting_on_a_dead_service(
        policies in proptest::collection::vec(policy(), 1..=MODEL_REALMS as usize),
        steps in proptest::collection::vec(step(), 1..40),
        early in any::<bool>(),
    ) {
        let mut run = Run::new(&policies);
        run.check()?;
        for step in steps {
            run.step(step)?;
            run.check()?;
        }
        run.finish(early)?;
    }
}
