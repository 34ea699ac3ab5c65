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

/// Boot, on the root task's clock.
const T0: Instant = Instant::ZERO;

/// `n` milliseconds after boot.
fn ms(n: u64) -> Instant {
    T0.saturating_add(Duration::from_millis(n))
}

/// The first restart's wait, by default: 10 ms.
const FIRST: Duration = Duration::from_millis(10);

/// What stopping `R` for a restart after `delay` ends with, after its `Stopped` event: the
/// broker hears it is restarting (unless an abort told it already), the console hears the
/// delay, and the root task gets the deadline `restart_at`.
fn delayed(delay: Duration, restart: u8, max: u8, restart_at: Instant) -> [Out; 3] {
    [
        Out::Op(Op::SetRestarting(R, true)),
        Out::Event(Event::RestartDelayed { realm: R, delay, restart, max }),
        Out::Op(Op::StartAfter { realm: R, delay, restart_at }),
    ]
}

/// A supervisor with realm `R` running.
fn running(restartable: bool, max_restarts: u8) -> (Supervisor<4>, Recorder) {
    let mut supervisor = Supervisor::new();
    let mut sink = Recorder::default();
    supervisor.add_realm(R, restartable, max_restarts).unwrap();
    assert_eq!(supervisor.state(R), Some(State::Starting { restart: false }));
    supervisor.started(R, T0, &mut sink).unwrap();
    assert!(sink.take().is_empty(), "a first start has no op");
    assert_eq!(supervisor.state(R), Some(State::Running));
    (supervisor, sink)
}

#[test]
fn a_realm_that_exits_owing_nothing_is_stopped_at_once_and_never_restarted() {
    let (mut supervisor, mut sink) = running(true, 3);
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
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
    supervisor.ended(R, Ending::Panicked, false, T0, &mut sink).unwrap();
    let mut expected = vec![
        Out::Op(Op::WithdrawCaps(R)),
        Out::Op(Op::Reclaim(R)),
        Out::Event(Event::Stopped { realm: R, reason: StopReason::Panicked }),
    ];
    expected.extend(delayed(FIRST, 1, 2, ms(10)));
    assert_eq!(sink.take(), expected);
    assert_eq!(supervisor.state(R), Some(State::Waiting { restart_at: ms(10) }));
    assert!(!supervisor.is_running(R));
    supervisor.restart_due(R, ms(10), &mut sink).unwrap();
    assert_eq!(sink.take(), [Out::Op(Op::Start(R))]);
    assert_eq!(supervisor.state(R), Some(State::Starting { restart: true }));
    assert_eq!(supervisor.restarts(R), Some(0), "counted once started");
    supervisor.started(R, ms(11), &mut sink).unwrap();
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
    supervisor.ended(R, Ending::Faulted, true, T0, &mut sink).unwrap();
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
    // It answered its caller and exits: stopped with its first ending, so restarted after
    // the first delay, from when it stopped. The broker heard "restarting" already.
    supervisor.ended(R, Ending::Exited, false, ms(3), &mut sink).unwrap();
    let mut expected = vec![
        Out::Op(Op::WithdrawCaps(R)),
        Out::Op(Op::Reclaim(R)),
        Out::Event(Event::Stopped { realm: R, reason: StopReason::Faulted }),
    ];
    expected.extend_from_slice(&delayed(FIRST, 1, 1, ms(13))[1..]);
    assert_eq!(sink.take(), expected);
}

#[test]
fn a_serving_realm_may_owe_a_reply_even_without_services() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.serving(R).unwrap();
    assert_eq!(supervisor.state(R), Some(State::Serving));
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)], "not restarting: no SetRestarting");
    assert_eq!(
        supervisor.state(R),
        Some(State::Aborting { ending: Ending::Exited, restart: false })
    );
}

#[test]
fn a_realm_that_ends_again_while_aborting_is_stopped_with_its_first_ending() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.ended(R, Ending::Panicked, true, T0, &mut sink).unwrap();
    sink.take();
    // Its abort path faults: still the panic is what is recorded.
    supervisor.ended(R, Ending::Faulted, true, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Panicked)));
}

#[test]
fn an_exit_while_owing_a_reply_is_aborted_but_never_restarted() {
    let (mut supervisor, mut sink) = running(true, 5);
    supervisor.ended(R, Ending::Exited, true, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)]);
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Exited)));
}

#[test]
fn a_crash_of_a_realm_that_is_not_restartable_stops_it_for_good() {
    let (mut supervisor, mut sink) = running(false, 3);
    supervisor.ended(R, Ending::Faulted, false, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R)]);
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Faulted)));
}

#[test]
fn a_crash_past_max_restarts_gives_up() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.ended(R, Ending::Faulted, false, T0, &mut sink).unwrap();
    supervisor.restart_due(R, ms(10), &mut sink).unwrap();
    supervisor.started(R, ms(10), &mut sink).unwrap();
    sink.take();
    // Owing a reply with no restart left: aborted, not marked restarting.
    supervisor.ended(R, Ending::Faulted, true, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Abort(R)]);
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Op(Op::WithdrawCaps(R)),
            Out::Op(Op::Reclaim(R)),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Faulted }),
            Out::Op(Op::SetRestarting(R, false)),
            Out::Event(Event::GaveUp { realm: R, restarts: 1, last: Ending::Faulted }),
        ]
    );
    let gave_up = StopReason::GaveUp { restarts: 1, last: Ending::Faulted };
    assert_eq!(supervisor.state(R), Some(State::Stopped(gave_up)));
    assert_eq!(supervisor.restarts(R), Some(1));
}

#[test]
fn a_restartable_realm_with_max_restarts_zero_gives_up_at_its_first_crash() {
    let (mut supervisor, mut sink) = running(true, 0);
    supervisor.ended(R, Ending::Panicked, false, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
    let gave_up = StopReason::GaveUp { restarts: 0, last: Ending::Panicked };
    assert_eq!(supervisor.state(R), Some(State::Stopped(gave_up)));
}

#[test]
fn a_failed_abort_stops_the_realm_with_the_ending_that_started_it() {
    let (mut supervisor, mut sink) = running(true, 1);
    supervisor.ended(R, Ending::Panicked, true, T0, &mut sink).unwrap();
    sink.take();
    supervisor.abort_failed(R, T0, &mut sink).unwrap();
    let mut expected = vec![
        Out::Event(Event::AbortFailed { realm: R }),
        Out::Op(Op::WithdrawCaps(R)),
        Out::Op(Op::Reclaim(R)),
        Out::Event(Event::Stopped { realm: R, reason: StopReason::Panicked }),
    ];
    expected.extend_from_slice(&delayed(FIRST, 1, 1, ms(10))[1..]);
    assert_eq!(sink.take(), expected);
}

#[test]
fn a_failed_restart_tells_the_broker_and_stays_stopped() {
    let (mut supervisor, mut sink) = running(true, 2);
    supervisor.ended(R, Ending::Faulted, false, T0, &mut sink).unwrap();
    supervisor.restart_due(R, ms(10), &mut sink).unwrap();
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
        supervisor.ended(stranger, Ending::Exited, false, T0, &mut sink),
        Err(Error::UnknownRealm(stranger))
    );
    assert_eq!(supervisor.serving(stranger), Err(Error::UnknownRealm(stranger)));
    assert_eq!(
        supervisor.started(R, T0, &mut sink),
        Err(Error::NotStarting { realm: R, state: State::Running })
    );
    assert_eq!(
        supervisor.start_failed(R, &mut sink),
        Err(Error::NotStarting { realm: R, state: State::Running })
    );
    assert_eq!(
        supervisor.abort_failed(R, T0, &mut sink),
        Err(Error::NotAborting { realm: R, state: State::Running })
    );
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    sink.take();
    let stopped = State::Stopped(StopReason::Exited);
    assert_eq!(
        supervisor.ended(R, Ending::Faulted, true, T0, &mut sink),
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
        supervisor.ended(RealmId(1), Ending::Exited, false, T0, &mut sink),
        Err(Error::NotRunning { realm: RealmId(1), state: starting })
    );
    assert!(sink.take().is_empty());
}

#[test]
fn serving_while_aborting_changes_nothing() {
    let (mut supervisor, mut sink) = running(false, 0);
    supervisor.ended(R, Ending::Faulted, true, T0, &mut sink).unwrap();
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
    supervisor.started(RealmId(0), T0, &mut sink).unwrap();
    supervisor.started(RealmId(1), T0, &mut sink).unwrap();
    assert!(!supervisor.is_idle());
    supervisor.serving(RealmId(1)).unwrap();
    assert!(!supervisor.is_idle());
    supervisor.ended(RealmId(0), Ending::Exited, false, T0, &mut sink).unwrap();
    assert!(supervisor.is_idle());
    supervisor.ended(RealmId(1), Ending::Panicked, false, T0, &mut sink).unwrap();
    assert!(!supervisor.is_idle(), "aborting");
}

#[test]
fn shutdown_stops_the_servers_and_restarts_none() {
    let mut supervisor = Supervisor::<4>::new();
    let mut sink = Recorder::default();
    for id in 0..3 {
        supervisor.add_realm(RealmId(id), true, 3).unwrap();
        supervisor.started(RealmId(id), T0, &mut sink).unwrap();
    }
    supervisor.serving(RealmId(0)).unwrap();
    supervisor.serving(RealmId(2)).unwrap();
    supervisor.ended(RealmId(1), Ending::Exited, false, T0, &mut sink).unwrap();
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
    let reason = StopReason::GaveUp { restarts: 2, last: Ending::Panicked };
    let event = Event::Stopped { realm: R, reason };
    assert_eq!(
        event.to_string(),
        "realm #3 is stopped: it panicked again after 2 restarts, its max_restarts"
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
    supervisor.ended(R, Ending::Faulted, true, T0, &mut sink).unwrap();
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    supervisor.restart_due(R, ms(10), &mut sink).unwrap();
    supervisor.started(R, ms(10), &mut sink).unwrap();
    sink.take();
    // Before registering again, it exits: the broker must stop saying "restarting".
    supervisor.ended(R, Ending::Exited, false, T0, &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::WithdrawCaps(R), Op::Reclaim(R), Op::SetRestarting(R, false)]);
}

// ---------------------------------------------------------------------------------------------
// Restart back-off.

/// `R` crashes `ran_for` after it started at `start`, owing nothing: returns the delay it
/// waits, checking the ops and state; then starts it again once due.
fn crash_and_restart(
    supervisor: &mut Supervisor<4>,
    sink: &mut Recorder,
    start: Instant,
    ran_for: Duration,
) -> (Duration, Instant) {
    let crash = start.saturating_add(ran_for);
    supervisor.ended(R, Ending::Panicked, false, crash, sink).unwrap();
    let State::Waiting { restart_at } = supervisor.state(R).unwrap() else {
        panic!("not waiting: {:?}", supervisor.state(R));
    };
    let delay = restart_at.saturating_duration_since(crash);
    let out = sink.take();
    assert_eq!(out.last(), Some(&Out::Op(Op::StartAfter { realm: R, delay, restart_at })));
    assert!(!supervisor.is_idle(), "a pending restart is not idle");
    // Not a nanosecond early.
    let early = restart_at.saturating_sub(Duration::from_nanos(1));
    assert_eq!(
        supervisor.restart_due(R, early, sink),
        Err(Error::NotDue { realm: R, restart_at, now: early })
    );
    assert!(sink.take().is_empty());
    supervisor.restart_due(R, restart_at, sink).unwrap();
    assert_eq!(sink.take(), [Out::Op(Op::Start(R))]);
    let started = restart_at.saturating_add(Duration::from_micros(1));
    supervisor.started(R, started, sink).unwrap();
    sink.take();
    (delay, started)
}

#[test]
fn a_realm_that_crashes_at_once_waits_twice_as_long_each_time_up_to_a_second() {
    let (mut supervisor, mut sink) = running(true, 12);
    let mut start = T0;
    let mut delays = Vec::new();
    for _ in 0..12 {
        let (delay, started) =
            crash_and_restart(&mut supervisor, &mut sink, start, Duration::from_millis(1));
        delays.push(delay.as_millis());
        start = started;
    }
    assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000]);
    assert_eq!(supervisor.restarts(R), Some(12));
    // The 13th crash is one too many: it gives up, saying after how many and why.
    supervisor.ended(R, Ending::Faulted, false, start, &mut sink).unwrap();
    let out = sink.take();
    assert_eq!(
        out.last(),
        Some(&Out::Event(Event::GaveUp { realm: R, restarts: 12, last: Ending::Faulted }))
    );
    assert!(!out.iter().any(|out| matches!(out, Out::Op(Op::StartAfter { .. }))));
    assert_eq!(
        Event::GaveUp { realm: R, restarts: 12, last: Ending::Faulted }.to_string(),
        "gave up on realm #3 after 12 restarts, its max_restarts: it faulted again, and stays stopped"
    );
    assert!(supervisor.is_idle());
}

#[test]
fn the_console_hears_each_delay_with_the_restart_it_is_for() {
    let (mut supervisor, mut sink) = running(true, 3);
    supervisor.ended(R, Ending::Faulted, false, ms(2), &mut sink).unwrap();
    let event = Event::RestartDelayed { realm: R, delay: FIRST, restart: 1, max: 3 };
    assert!(sink.take().contains(&Out::Event(event)));
    assert_eq!(event.to_string(), "realm #3 will be started again in 10ms (restart 1 of 3)");
    supervisor.restart_due(R, ms(12), &mut sink).unwrap();
    supervisor.started(R, ms(12), &mut sink).unwrap();
    supervisor.ended(R, Ending::Faulted, false, ms(13), &mut sink).unwrap();
    let event =
        Event::RestartDelayed { realm: R, delay: Duration::from_millis(20), restart: 2, max: 3 };
    assert!(sink.take().contains(&Out::Event(event)));
}

#[test]
fn a_crash_after_a_healthy_run_starts_over_at_the_first_delay() {
    let (mut supervisor, mut sink) = running(true, 20);
    let soon = Duration::from_millis(999);
    let healthy = Duration::from_secs(1);
    let mut start = T0;
    let mut delays = Vec::new();
    for ran_for in [soon, soon, soon, healthy, soon, Duration::from_secs(3600), soon] {
        let (delay, started) = crash_and_restart(&mut supervisor, &mut sink, start, ran_for);
        delays.push(delay.as_millis());
        start = started;
    }
    // A run of exactly `healthy_after` is healthy; one just under it is not.
    assert_eq!(delays, [10, 20, 40, 10, 20, 10, 20]);
}

#[test]
fn the_run_that_counts_is_from_its_start_to_its_first_ending() {
    let (mut supervisor, mut sink) = running(true, 5);
    let (_, start) = crash_and_restart(&mut supervisor, &mut sink, T0, Duration::ZERO);
    // It crashes soon, owing a reply; its abort path takes long: still a crash soon after
    // start, so the delay doubles, counted from when it stopped.
    let crash = start.saturating_add(Duration::from_millis(5));
    supervisor.ended(R, Ending::Panicked, true, crash, &mut sink).unwrap();
    assert!(sink.ops().contains(&Op::SetRestarting(R, true)));
    let stopped = crash.saturating_add(Duration::from_secs(5));
    supervisor.ended(R, Ending::Exited, false, stopped, &mut sink).unwrap();
    let restart_at = stopped.saturating_add(Duration::from_millis(20));
    assert_eq!(supervisor.state(R), Some(State::Waiting { restart_at }));
    let ops = sink.ops();
    assert!(!ops.contains(&Op::SetRestarting(R, true)), "the abort told the broker: {ops:?}");
}

#[test]
fn a_restart_waits_even_after_the_longest_healthy_run() {
    let (mut supervisor, mut sink) = running(true, 1);
    let late = Instant::MAX.saturating_sub(Duration::from_millis(5));
    supervisor.ended(R, Ending::Faulted, false, late, &mut sink).unwrap();
    // The clock saturates rather than wrapping: due at the end of time, never at once.
    assert_eq!(supervisor.state(R), Some(State::Waiting { restart_at: Instant::MAX }));
}

#[test]
fn shutdown_during_a_wait_stops_the_realm_for_good_and_cancels_the_restart() {
    let mut supervisor = Supervisor::<4>::new();
    let mut sink = Recorder::default();
    supervisor.add_realm(RealmId(0), false, 0).unwrap();
    supervisor.started(RealmId(0), T0, &mut sink).unwrap();
    supervisor.serving(RealmId(0)).unwrap();
    supervisor.add_realm(R, true, 3).unwrap();
    supervisor.started(R, T0, &mut sink).unwrap();
    supervisor.ended(R, Ending::Faulted, false, ms(1), &mut sink).unwrap();
    sink.take();
    assert!(!supervisor.is_idle(), "waiting for a restart");
    supervisor.shutdown(&mut sink).unwrap();
    assert_eq!(
        sink.take(),
        [
            Out::Event(Event::ShuttingDown { serving: 1 }),
            Out::Op(Op::WithdrawCaps(RealmId(0))),
            Out::Op(Op::Reclaim(RealmId(0))),
            Out::Event(Event::Stopped { realm: RealmId(0), reason: StopReason::Shutdown }),
            // Its caps and memory are gone already: only the deadline and the broker's flag.
            Out::Op(Op::CancelRestart(R)),
            Out::Op(Op::SetRestarting(R, false)),
            Out::Event(Event::RestartCancelled { realm: R }),
            Out::Event(Event::Stopped { realm: R, reason: StopReason::Shutdown }),
        ]
    );
    assert_eq!(supervisor.state(R), Some(State::Stopped(StopReason::Shutdown)));
    assert!(supervisor.is_idle());
    // A late timer changes nothing.
    let stopped = State::Stopped(StopReason::Shutdown);
    assert_eq!(
        supervisor.restart_due(R, ms(100), &mut sink),
        Err(Error::NotWaiting { realm: R, state: stopped })
    );
    assert!(sink.take().is_empty());
    assert_eq!(supervisor.restarts(R), Some(0));
}

#[test]
fn a_waiting_realm_takes_no_input_but_its_restart() {
    let (mut supervisor, mut sink) = running(true, 2);
    assert_eq!(
        supervisor.restart_due(R, ms(1), &mut sink),
        Err(Error::NotWaiting { realm: R, state: State::Running })
    );
    supervisor.ended(R, Ending::Faulted, false, T0, &mut sink).unwrap();
    sink.take();
    let waiting = State::Waiting { restart_at: ms(10) };
    assert_eq!(supervisor.state(R), Some(waiting));
    assert_eq!(
        supervisor.ended(R, Ending::Faulted, true, ms(20), &mut sink),
        Err(Error::NotRunning { realm: R, state: waiting })
    );
    assert_eq!(supervisor.serving(R), Err(Error::NotRunning { realm: R, state: waiting }));
    assert_eq!(
        supervisor.started(R, ms(20), &mut sink),
        Err(Error::NotStarting { realm: R, state: waiting })
    );
    assert_eq!(
        supervisor.start_failed(R, &mut sink),
        Err(Error::NotStarting { realm: R, state: waiting })
    );
    assert_eq!(
        supervisor.abort_failed(R, ms(20), &mut sink),
        Err(Error::NotAborting { realm: R, state: waiting })
    );
    assert_eq!(
        supervisor.restart_due(RealmId(9), ms(20), &mut sink),
        Err(Error::UnknownRealm(RealmId(9)))
    );
    assert!(sink.take().is_empty());
    assert_eq!(supervisor.state(R), Some(waiting));
    assert!(!supervisor.is_running(R) && !waiting.is_running() && !waiting.is_stopped());
    // Late is fine.
    supervisor.restart_due(R, ms(500), &mut sink).unwrap();
    assert_eq!(sink.ops(), [Op::Start(R)]);
}

#[test]
fn a_back_off_policy_of_ones_own() {
    let backoff = BackoffPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        healthy_after: Duration::from_millis(100),
    };
    let mut supervisor = Supervisor::<4>::with_backoff(backoff);
    assert_eq!(supervisor.backoff(), backoff);
    assert_eq!(Supervisor::<4>::new().backoff(), BackoffPolicy::default());
    let mut sink = Recorder::default();
    supervisor.add_realm(R, true, 10).unwrap();
    supervisor.started(R, T0, &mut sink).unwrap();
    let mut start = T0;
    let mut delays = Vec::new();
    for ran_for in [0, 0, 0, 0, 99, 100, 0] {
        let crash = start.saturating_add(Duration::from_millis(ran_for));
        supervisor.ended(R, Ending::Panicked, false, crash, &mut sink).unwrap();
        let Some(State::Waiting { restart_at }) = supervisor.state(R) else { panic!() };
        delays.push(restart_at.saturating_duration_since(crash).as_millis());
        supervisor.restart_due(R, restart_at, &mut sink).unwrap();
        supervisor.started(R, restart_at, &mut sink).unwrap();
        start = restart_at;
    }
    assert_eq!(delays, [1, 2, 4, 5, 5, 1, 2]);
    // A policy whose cap is below its first delay waits the first delay every time.
    let odd = BackoffPolicy { max_delay: Duration::ZERO, ..backoff };
    assert_eq!(odd.next_delay(Some(Duration::from_millis(1)), Duration::ZERO), backoff.first_delay);
    assert_eq!(
        BackoffPolicy::DEFAULT.next_delay(Some(Duration::MAX), Duration::ZERO),
        Duration::from_secs(1)
    );
}

#[test]
fn new_states_ops_and_errors_read_as_sentences() {
    let waiting = State::Waiting { restart_at: ms(1500) };
    assert_eq!(waiting.to_string(), "waiting to be started again at 1.500000000 s");
    let op = Op::StartAfter { realm: R, delay: FIRST, restart_at: ms(10) };
    assert_eq!(op.to_string(), "start realm #3 again after 10ms, at 0.010000000 s");
    assert_eq!(Op::CancelRestart(R).to_string(), "forget the restart of realm #3");
    assert_eq!(
        Event::RestartCancelled { realm: R }.to_string(),
        "realm #3 was waiting to be started again: the run is over, it stays stopped"
    );
    let error = Error::NotDue { realm: R, restart_at: ms(10), now: ms(9) };
    assert_eq!(
        error.to_string(),
        "realm #3 is due to start again at 0.010000000 s, not yet at 0.009000000 s"
    );
}
