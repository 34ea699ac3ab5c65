//! One test per rule of the lifecycle, on a recorder sink.

use super::*;

/// Everything a call produced, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    Op(Op),
    Event(Event),
}

#[derive(Default)]
struct Recorder(Vec<Out>);

impl Sink for Recorder {
    fn run(&mut self, op: Op) {
        self.0.push(Out::Op(op));
    }
    fn log(&mut self, event: Event) {
        assert!(!event.to_string().is_empty());
        self.0.push(Out::Event(event));
    }
}

impl Recorder {
    fn take(&mut self) -> Vec<Out> {
        core::mem::take(&mut self.0)
    }

    fn ops(&mut self) -> Vec<Op> {
        self.take()
            .into_iter()
            .filter_map(|out| match out {
                Out::Op(op) => Some(op),
                Out::Event(_) => None,
            })
            .collect()
    }
}

const R: RealmId = RealmId(3);

/// A supervisor with realm `R` running.
fn running(restartable: bool, max_restarts: u8) -> (Supervisor<4>, Recorder) {
    let mut supervisor = Supervisor::new();
    let mut sink = Recorder::default();
    supervisor.add_realm(R, restartable, max_restarts).unwrap();
    assert_eq!(supervisor.state(R), Some(State::Starting { restart: false }));
    supervisor.started(R, &mut sink).unwrap();
    assert!(sink.take().is_empty(), "a first start has no op");
    assert_eq!(supervisor.state(R), Some(State::Running));
    (supervisor, sink)
}

#[test]
fn a_realm_that_exits_owing_nothing_is_stopped_at_once_and_never_restarted() {
    let (mut supervisor, mut sink) = running(true, 3);
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Exited }),
            Out::Op(Op::SetRestarting(R, false)),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Exited)));
    assert_eq!(supervisor.restarts(R), Some(0));
}

#[test]
fn a_crash_of_a_restartable_realm_with_restarts_left_starts_it_again() {
    let (mut supervisor, mut sink) = running(true, 2);
    supervisor.ended(R, Ending::Panicked, false, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Panicked }),
            Out::Op(Op::Start(R)),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Starting { restart: true }));
    assert_eq!(supervisor.restarts(R), Some(0), "counted once started");
    supervisor.started(R, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::NewGeneration(R)),
            Out::Event(Event::Restarted { realm: R, restart: 1, max: 2 }),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Running));
    assert_eq!(supervisor.restarts(R), Some(1));
}

#[test]
fn a_realm_that_owns_services_is_withdrawn_marked_restarting_and_aborted() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.ended(R, Ending::Faulted, true, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::SetRestarting(R, true)),
            Out::Event(Event::Aborting { realm: R, ending: Ending::Faulted }),
            Out::Op(Op::Abort(R)),
        ]
    );
    assert_eq!(
        supervisor.state(R),
        Some(State::Aborting { ending: Ending::Faulted, restart: true })
    );
    assert!(supervisor.is_running(R));
    // It answered its caller and exits: stopped with its first ending, so restarted.
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Faulted }),
            Out::Op(Op::Start(R)),
        ]
    );
}

#[test]
fn a_serving_realm_may_owe_a_reply_even_without_services() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.serving(R).unwrap();
    assert_eq!(supervisor.state(R), Some(State::Serving));
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)], "not restarting: no SetRestarting");
    assert_eq!(
        supervisor.state(R),
        Some(State::Aborting { ending: Ending::Exited, restart: false })
    );
}

#[test]
fn a_realm_that_ends_again_while_aborting_is_stopped_with_its_first_ending() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.ended(R, Ending::Panicked, true, &mut sink).unwrap();
    sink.take();
    // Its abort path faults: still the panic is what is recorded.
    supervisor.ended(R, Ending::Faulted, true, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Panicked)));
}

#[test]
fn an_exit_while_owing_a_reply_is_aborted_but_never_restarted() {
    let (mut supervisor, mut sink) = running(true, 5);
    supervisor.ended(R, Ending::Exited, true, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)]);
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Exited)));
}

#[test]
fn a_crash_of_a_realm_that_is_not_restartable_stops_it_for_good() {
    let (mut supervisor, mut sink) = running(false, 3);
    supervisor.ended(R, Ending::Faulted, false, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Faulted)));
}

#[test]
fn a_crash_past_max_restarts_gives_up() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.ended(R, Ending::Faulted, false, &mut sink).unwrap();
    supervisor.started(R, &mut sink).unwrap();
    sink.take();
    // Owing a reply with no restart left: aborted, not marked restarting.
    supervisor.ended(R, Ending::Faulted, true, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)]);
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Faulted }),
            Out::Op(Op::SetRestarting(R, false)),
            Out::Event(Event::GaveUp { realm: R, restarts: 1 }),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::GaveUp { restarts: 1 })));
    assert_eq!(supervisor.restarts(R), Some(1));
}

#[test]
fn a_restartable_realm_with_max_restarts_zero_gives_up_at_its_first_crash() {
    let (mut supervisor, mut sink) = running(true, 0);
    supervisor.ended(R, Ending::Panicked, false, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::GaveUp { restarts: 0 })));
}

#[test]
fn a_failed_abort_stops_the_realm_with_the_ending_that_started_it() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.ended(R, Ending::Panicked, true, &mut sink).unwrap();
    sink.take();
    supervisor.abort_failed(R, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Event(Event::AbortFailed { realm: R }),
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Panicked }),
            Out::Op(Op::Start(R)),
        ]
    );
}

#[test]
fn a_failed_restart_tells_the_broker_and_stays_stopped() {
    let (mut supervisor, mut sink) = running(true, 2);
    supervisor.ended(R, Ending::Faulted, false, &mut sink).unwrap();
    sink.take();
    supervisor.start_failed(R, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::SetRestarting(R, false)),
            Out::Event(Event::StartFailed { realm: R, restart: true }),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::CouldNotStart)));
    assert_eq!(supervisor.restarts(R), Some(0));
}

#[test]
fn a_failed_first_start_has_no_op() {
    let mut supervisor = Supervisor::<4>::new();
    let mut sink = Recorder::default();
    supervisor.add_realm(R, true, 2).unwrap();
    supervisor.start_failed(R, &mut sink).unwrap();
    assert_eq!(sink.take(), [Out::Event(Event::StartFailed { realm: R, restart: false })]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::CouldNotStart)));
}

#[test]
fn inputs_about_a_realm_in_the_wrong_state_are_refused_and_change_nothing() {
    let (mut supervisor, mut sink) = running(true, 2);
    let stranger = RealmId(9);
    assert_eq!(
        supervisor.ended(stranger, Ending::Exited, false, &mut sink),
        Err(Error::UnknownRealm(stranger))
    );
    assert_eq!(supervisor.serving(stranger), Err(Error::UnknownRealm(stranger)));
    assert_eq!(
        supervisor.started(R, &mut sink),
        Err(Error::NotStarting { realm: R, state: State::Running })
    );
    assert_eq!(
        supervisor.start_failed(R, &mut sink),
        Err(Error::NotStarting { realm: R, state: State::Running })
    );
    assert_eq!(
        supervisor.abort_failed(R, &mut sink),
        Err(Error::NotAborting { realm: R, state: State::Running })
    );
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    sink.take();
    let stopped = State::Stopped(StopReason::Exited);
    assert_eq!(
        supervisor.ended(R, Ending::Faulted, true, &mut sink),
        Err(Error::NotRunning { realm: R, state: stopped })
    );
    assert_eq!(supervisor.serving(R), Err(Error::NotRunning { realm: R, state: stopped }));
    assert!(sink.take().is_empty());
    assert_eq!(supervisor.state(R), Some(stopped));
    assert!(!supervisor.is_running(R));
    // A realm being started sends nothing yet.
    supervisor.add_realm(RealmId(1), false, 0).unwrap();
    let starting = State::Starting { restart: false };
    assert_eq!(
        supervisor.ended(RealmId(1), Ending::Exited, false, &mut sink),
        Err(Error::NotRunning { realm: RealmId(1), state: starting })
    );
    assert!(sink.take().is_empty());
}

#[test]
fn serving_while_aborting_changes_nothing() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.ended(R, Ending::Faulted, true, &mut sink).unwrap();
    let aborting = supervisor.state(R);
    supervisor.serving(R).unwrap();
    assert_eq!(supervisor.state(R), aborting);
    assert!(!supervisor.is_idle());
}

#[test]
fn idle_means_every_realm_stopped_or_only_serving() {
    let mut supervisor = Supervisor::<4>::new();
    let mut sink = Recorder::default();
    assert!(supervisor.is_idle());
    supervisor.add_realm(RealmId(0), false, 0).unwrap();
    supervisor.add_realm(RealmId(1), false, 0).unwrap();
    assert!(!supervisor.is_idle(), "starting");
    supervisor.started(RealmId(0), &mut sink).unwrap();
    supervisor.started(RealmId(1), &mut sink).unwrap();
    assert!(!supervisor.is_idle());
    supervisor.serving(RealmId(1)).unwrap();
    assert!(!supervisor.is_idle());
    supervisor.ended(RealmId(0), Ending::Exited, false, &mut sink).unwrap();
    assert!(supervisor.is_idle());
    supervisor.ended(RealmId(1), Ending::Panicked, false, &mut sink).unwrap();
    assert!(!supervisor.is_idle(), "aborting");
}

#[test]
fn shutdown_stops_the_servers_and_restarts_none() {
    let mut supervisor = Supervisor::<4>::new();
    let mut sink = Recorder::default();
    for id in 0..3 {
        supervisor.add_realm(RealmId(id), true, 3).unwrap();
        supervisor.started(RealmId(id), &mut sink).unwrap();
    }
    supervisor.serving(RealmId(0)).unwrap();
    supervisor.serving(RealmId(2)).unwrap();
    supervisor.ended(RealmId(1), Ending::Exited, false, &mut sink).unwrap();
    sink.take();
    assert!(supervisor.is_idle());
    supervisor.shutdown(&mut sink).unwrap();
    let shutdown = StopReason::Shutdown;
    assert_eq!(
        sink.take(),
        [
            Out::Event(Event::ShuttingDown { serving: 2 }),
            Out::Op(Op::WithdrawCaps(RealmId(0))),
            Out::Op(Op::Reclaim(RealmId(0))),
            Out::Event(Event::Stopped { realm: RealmId(0), reason: shutdown }),
            Out::Op(Op::SetRestarting(RealmId(0), false)),
            Out::Op(Op::WithdrawCaps(RealmId(2))),
            Out::Op(Op::Reclaim(RealmId(2))),
            Out::Event(Event::Stopped { realm: RealmId(2), reason: shutdown }),
            Out::Op(Op::SetRestarting(RealmId(2), false)),
        ]
    );
    assert!(supervisor.realms().all(|(_, state)| matches!(state, State::Stopped(_))));
    // A second shutdown has nothing to do.
    supervisor.shutdown(&mut sink).unwrap();
    assert!(sink.take().is_empty());
}

#[test]
fn shutdown_waits_for_a_realm_being_started() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.add_realm(RealmId(0), false, 0).unwrap();
    assert_eq!(supervisor.shutdown(&mut sink), Err(Error::StillStarting { realm: RealmId(0) }));
    assert!(sink.take().is_empty());
    assert_eq!(supervisor.state(R), Some(State::Running));
}

#[test]
fn the_table_is_bounded() {
    let mut supervisor = Supervisor::<2>::new();
    supervisor.add_realm(RealmId(0), false, 0).unwrap();
    assert_eq!(supervisor.add_realm(RealmId(0), false, 0), Err(Error::AlreadyAdded(RealmId(0))));
    supervisor.add_realm(RealmId(1), false, 0).unwrap();
    assert_eq!(supervisor.add_realm(RealmId(2), false, 0), Err(Error::Full { capacity: 2 }));
}

#[test]
fn events_ops_and_errors_read_as_sentences() {
    let event = Event::Stopped { realm: R, reason: StopReason::GaveUp { restarts: 2 } };
    assert_eq!(
        event.to_string(),
        "realm #3 is stopped: it crashed after 2 restarts, its max_restarts"
    );
    assert_eq!(
        Event::Restarted { realm: R, restart: 1, max: 3 }.to_string(),
        "restarted realm #3 (1 of 3 restarts)"
    );
    assert_eq!(
        Event::Stopped { realm: R, reason: StopReason::Shutdown }.to_string(),
        "realm #3 was serving and is stopped"
    );
    assert_eq!(Op::Reclaim(R).to_string(), "stop realm #3 and take back its memory");
    let error = Error::NotRunning { realm: R, state: State::Stopped(StopReason::Exited) };
    assert_eq!(error.to_string(), "realm #3 is not running: it is stopped because it exited");
    let aborting = State::Aborting { ending: Ending::Faulted, restart: true };
    assert_eq!(aborting.to_string(), "answering its caller after it faulted");
}

#[test]
fn a_restarted_realm_that_then_exits_is_no_longer_restarting_for_its_old_clients() {
    let (mut supervisor, mut sink) = running(true, 3);
    // It crashes owing a reply: withdrawn, marked restarting, aborted, stopped, started again.
    supervisor.ended(R, Ending::Faulted, true, &mut sink).unwrap();
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    supervisor.started(R, &mut sink).unwrap();
    sink.take();
    // Before registering again, it exits: the broker must stop saying "restarting".
    supervisor.ended(R, Ending::Exited, false, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
}
