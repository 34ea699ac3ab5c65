//! The supervisor's event handling (`supervisor::Supervisor`): what the root task reports about
//! realms, which realms control (when they exit, fault, panic or announce serving), in any
//! order, at any times, including reports that make no sense for the realm's state. After
//! every input:
//!
//! - a refused input changes no state and produces no op and no event;
//! - every op names a supervised realm; a reclaim follows the withdrawal of the realm's caps
//!   in the same call; `Start` comes only from `restart_due`, `Abort` leaves the realm aborting;
//! - a `StartAfter` waits a delay within the back-off policy, until `now` plus that delay,
//!   and leaves the realm waiting for exactly that time;
//! - restarts never exceed `max_restarts`; after an accepted shutdown every realm is stopped;
//!   `is_idle` is exactly "every realm stopped or serving".
#![no_main]

use arbitrary::Arbitrary;
use ipc::RealmId;
use libfuzzer_sys::fuzz_target;
use supervisor::{BackoffPolicy, Duration, Ending, Event, Instant, Op, Sink, State, Supervisor};

const REALMS: u8 = 4;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Per realm: restartable, and its max_restarts (taken modulo 4).
    realms: [(bool, u8); REALMS as usize],
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Started {
        realm: u8,
    },
    StartFailed {
        realm: u8,
    },
    RestartDue {
        realm: u8,
    },
    Serving {
        realm: u8,
    },
    Ended {
        realm: u8,
        ending: u8,
        owns_services: bool,
    },
    AbortFailed {
        realm: u8,
    },
    Shutdown,
    /// The root task's clock moves on by this many milliseconds.
    Wait {
        millis: u16,
    },
}

#[derive(Default)]
struct Record {
    ops: Vec<Op>,
    events: Vec<Event>,
}

impl Sink for Record {
    fn run(&mut self, op: Op) {
        self.ops.push(op);
    }
    fn log(&mut self, event: Event) {
        assert!(!event.to_string().is_empty());
        self.events.push(event);
    }
}

fn realm(index: u8) -> RealmId {
    // One id in five is not supervised.
    RealmId(index % (REALMS + 1))
}

fn states(supervisor: &Supervisor<8>) -> Vec<(RealmId, State, Option<u8>)> {
    supervisor.realms().map(|(id, state)| (id, state, supervisor.restarts(id))).collect()
}

fuzz_target!(|input: Input| {
    let mut supervisor = Supervisor::<8>::new();
    let backoff = BackoffPolicy::DEFAULT;
    for (index, &(restartable, max)) in input.realms.iter().enumerate() {
        supervisor.add_realm(RealmId(index as u8), restartable, max % 4).expect("room for four");
    }
    let max_restarts = |id: RealmId| input.realms[usize::from(id.0)].1 % 4;
    let mut now = Instant::ZERO;
    for step in input.steps.iter().take(128) {
        let before = states(&supervisor);
        let mut record = Record::default();
        let result = match *step {
            Step::Started { realm: r } => supervisor.started(realm(r), now, &mut record),
            Step::StartFailed { realm: r } => supervisor.start_failed(realm(r), &mut record),
            Step::RestartDue { realm: r } => supervisor.restart_due(realm(r), now, &mut record),
            Step::Serving { realm: r } => supervisor.serving(realm(r)),
            Step::Ended { realm: r, ending, owns_services } => {
                let ending =
                    [Ending::Exited, Ending::Faulted, Ending::Panicked][usize::from(ending % 3)];
                supervisor.ended(realm(r), ending, owns_services, now, &mut record)
            }
            Step::AbortFailed { realm: r } => supervisor.abort_failed(realm(r), now, &mut record),
            Step::Shutdown => supervisor.shutdown(&mut record),
            Step::Wait { millis } => {
                now = now.saturating_add(Duration::from_millis(u64::from(millis)));
                Ok(())
            }
        };
        if result.is_err() {
            assert_eq!(states(&supervisor), before, "a refused input changed a state");
            assert!(record.ops.is_empty() && record.events.is_empty());
            continue;
        }
        let mut withdrawn = Vec::new();
        for op in &record.ops {
            let id = match *op {
                Op::WithdrawCaps(id) => {
                    withdrawn.push(id);
                    id
                }
                Op::Reclaim(id) => {
                    assert!(
                        withdrawn.contains(&id),
                        "{id} reclaimed before its caps were withdrawn"
                    );
                    id
                }
                Op::Start(id) => {
                    assert!(matches!(step, Step::RestartDue { .. }));
                    assert_eq!(supervisor.state(id), Some(State::Starting { restart: true }));
                    id
                }
                Op::Abort(id) => {
                    assert!(matches!(supervisor.state(id), Some(State::Aborting { .. })));
                    id
                }
                Op::StartAfter { realm: id, delay, restart_at } => {
                    assert!(delay >= backoff.first_delay);
                    assert!(delay <= backoff.max_delay.max(backoff.first_delay));
                    assert_eq!(restart_at, now.saturating_add(delay));
                    assert_eq!(supervisor.state(id), Some(State::Waiting { restart_at }));
                    id
                }
                Op::SetRestarting(id, _) | Op::CancelRestart(id) | Op::NewGeneration(id) => id,
            };
            assert!(id.0 < REALMS, "an op names {id}, which is not supervised");
        }
        for (id, state) in supervisor.realms() {
            let restarts = supervisor.restarts(id).expect("a supervised realm");
            assert!(restarts <= max_restarts(id), "{id} restarted {restarts} times");
            if matches!(step, Step::Shutdown) {
                assert!(state.is_stopped(), "{id} is {state} after the shutdown");
            }
        }
        let idle = supervisor
            .realms()
            .all(|(_, state)| matches!(state, State::Stopped(_) | State::Serving));
        assert_eq!(supervisor.is_idle(), idle);
    }
});
