//! Unit tests of the thread table: one per rule, each asserting what the table decided.

use super::*;

const MAIN: ThreadId = ThreadId::MAIN;
const T1: ThreadId = id(1);
const T2: ThreadId = id(2);
const T3: ThreadId = id(3);

const fn id(index: u8) -> ThreadId {
    match ThreadId::new(index) {
        Some(thread) => thread,
        None => panic!("a test thread id is below 16"),
    }
}

fn table(max_threads: u8, policy: ThreadFaultPolicy) -> ThreadTable {
    ThreadTable::new(max_threads, policy)
}

/// A table of `max_threads` with threads 1 to `running` spawned.
fn with_threads(max_threads: u8, policy: ThreadFaultPolicy, running: u8) -> ThreadTable {
    let mut threads = table(max_threads, policy);
    for expected in 1..=running {
        assert_eq!(threads.spawn(), Ok(Spawn { thread: id(expected), make: true }));
    }
    threads
}

fn set(threads: &[ThreadId]) -> ThreadSet {
    let mut set = ThreadSet::EMPTY;
    for &thread in threads {
        set.insert(thread);
    }
    set
}

#[test]
fn a_new_realm_has_its_main_thread_only() {
    let threads = table(4, ThreadFaultPolicy::StopRealm);
    assert_eq!(threads.state(MAIN), ThreadState::Running);
    assert_eq!(threads.threads(), 1);
    assert_eq!(threads.live(), set(&[MAIN]));
    assert_eq!(threads.made(), set(&[MAIN]));
    assert_eq!(threads.state(T1), ThreadState::Free);
    assert_eq!(threads.aborting(), None);
}

#[test]
fn max_threads_is_taken_into_1_to_16() {
    assert_eq!(table(0, ThreadFaultPolicy::StopRealm).max_threads(), 1);
    assert_eq!(table(200, ThreadFaultPolicy::StopRealm).max_threads(), 16);
    assert_eq!(table(7, ThreadFaultPolicy::StopThread).max_threads(), 7);
    assert_eq!(table(7, ThreadFaultPolicy::StopThread).policy(), ThreadFaultPolicy::StopThread);
}

#[test]
fn the_default_quota_refuses_every_spawn() {
    let mut threads = table(1, ThreadFaultPolicy::StopRealm);
    assert_eq!(threads.spawn(), Err(Refused::QuotaExceeded));
    assert_eq!(threads.threads(), 1);
}

#[test]
fn spawn_takes_the_lowest_free_index_and_makes_objects_on_its_first_use_only() {
    let mut threads = with_threads(16, ThreadFaultPolicy::StopRealm, 3);
    assert_eq!(threads.made(), set(&[MAIN, T1, T2, T3]));
    // Thread 2 exits and is joined: index 2 is free, its objects kept.
    assert!(matches!(threads.ended(T2, ThreadEvent::ExitThread), Ok(Next::Ended { .. })));
    assert_eq!(threads.join(MAIN, T2), Ok(Join::Now(ThreadEnding::Exited)));
    assert_eq!(threads.state(T2), ThreadState::Free);
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T2, make: false }));
    assert_eq!(threads.spawn(), Ok(Spawn { thread: id(4), make: true }));
}

#[test]
fn spawn_counts_ended_threads_not_joined_yet_against_the_quota() {
    let mut threads = with_threads(3, ThreadFaultPolicy::StopRealm, 2);
    assert_eq!(threads.spawn(), Err(Refused::QuotaExceeded));
    assert_eq!(
        threads.ended(T1, ThreadEvent::ExitThread),
        Ok(Next::Ended { ending: ThreadEnding::Exited, joiner: None, freed: false })
    );
    // Ended, not joined: its index stays taken and counted.
    assert_eq!(threads.state(T1), ThreadState::Ended(ThreadEnding::Exited));
    assert_eq!(threads.threads(), 3);
    assert_eq!(threads.spawn(), Err(Refused::QuotaExceeded));
    assert_eq!(threads.join(T2, T1), Ok(Join::Now(ThreadEnding::Exited)));
    assert_eq!(threads.threads(), 2);
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T1, make: false }));
}

#[test]
fn a_spawn_that_failed_frees_its_index_and_keeps_only_objects_that_exist() {
    let mut threads = table(4, ThreadFaultPolicy::StopRealm);
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T1, make: true }));
    // Making the objects failed, nothing was left behind.
    assert_eq!(threads.spawn_failed(T1, false), Ok(()));
    assert_eq!(threads.state(T1), ThreadState::Free);
    assert_eq!(threads.threads(), 1);
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T1, make: true }));
    // Made, but starting it failed: the objects stay for the next spawn.
    assert_eq!(threads.spawn_failed(T1, true), Ok(()));
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T1, make: false }));
    assert_eq!(threads.spawn_failed(MAIN, true), Err(Error::MainThread));
    assert_eq!(
        threads.spawn_failed(T2, true),
        Err(Error::NotLive { thread: T2, state: ThreadState::Free })
    );
}

#[test]
fn join_parks_until_the_thread_ends_then_wakes_the_joiner_once() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopRealm, 2);
    assert_eq!(threads.join(T2, T1), Ok(Join::Parked));
    assert_eq!(threads.joiner(T1), Some(T2));
    // A second joiner of the same thread is refused.
    assert_eq!(threads.join(MAIN, T1), Err(Refused::NotJoinable));
    assert_eq!(
        threads.ended(T1, ThreadEvent::ExitThread),
        Ok(Next::Ended { ending: ThreadEnding::Exited, joiner: Some(T2), freed: true })
    );
    assert_eq!(threads.state(T1), ThreadState::Free);
    assert_eq!(threads.joiner(T1), None);
    // Joined: it is gone.
    assert_eq!(threads.join(MAIN, T1), Err(Refused::NotJoinable));
}

#[test]
fn join_refuses_what_cannot_be_joined() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopRealm, 2);
    assert_eq!(threads.join(T1, MAIN), Err(Refused::NotJoinable), "thread 0");
    assert_eq!(threads.join(T1, T1), Err(Refused::NotJoinable), "itself");
    assert_eq!(threads.join(T1, T3), Err(Refused::NotJoinable), "never spawned");
    assert_eq!(threads.join(T3, T1), Err(Refused::NotJoinable), "a caller that is no thread");
    assert_eq!(threads.detach(MAIN, T2), Ok(Detach::WhenEnded));
    assert_eq!(threads.join(MAIN, T2), Err(Refused::NotJoinable), "detached");
    assert_eq!(threads.detach(MAIN, T2), Err(Refused::NotJoinable), "detached twice");
    // Nothing refused changed anything.
    assert_eq!(threads.threads(), 3);
    assert_eq!((threads.joiner(T1), threads.joiner(T2)), (None, None));
}

#[test]
fn a_join_that_would_wait_for_ever_is_refused() {
    let mut threads = with_threads(5, ThreadFaultPolicy::StopRealm, 3);
    // 1 waits for 2, 2 waits for 3: 3 joining 1 (or 2) would wait for itself.
    assert_eq!(threads.join(T1, T2), Ok(Join::Parked));
    assert_eq!(threads.join(T2, T3), Ok(Join::Parked));
    assert_eq!(threads.join(T3, T1), Err(Refused::NotJoinable));
    assert_eq!(threads.join(T3, T2), Err(Refused::NotJoinable));
    assert_eq!(threads.join(MAIN, T1), Ok(Join::Parked), "thread 0 waits for nobody");
    // A parked thread sends nothing: its events and joins are not taken.
    let before = threads.clone();
    assert_eq!(
        threads.ended(T1, ThreadEvent::ExitThread),
        Err(Error::Joining { thread: T1, target: T2 })
    );
    assert_eq!(threads.detach(T1, T3), Err(Refused::NotJoinable));
    assert_eq!(threads, before);
}

#[test]
fn detach_frees_an_ended_thread_at_once_and_a_running_one_when_it_ends() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopRealm, 2);
    assert!(matches!(threads.ended(T1, ThreadEvent::ExitThread), Ok(Next::Ended { .. })));
    assert_eq!(threads.detach(MAIN, T1), Ok(Detach::Freed));
    assert_eq!(threads.state(T1), ThreadState::Free);
    assert_eq!(threads.detach(MAIN, T2), Ok(Detach::WhenEnded));
    assert!(threads.is_detached(T2));
    assert_eq!(
        threads.ended(T2, ThreadEvent::ExitThread),
        Ok(Next::Ended { ending: ThreadEnding::Exited, joiner: None, freed: true })
    );
    assert_eq!(threads.state(T2), ThreadState::Free);
    assert!(!threads.is_detached(T2));
    assert_eq!(threads.threads(), 1);
    assert_eq!(threads.made(), set(&[MAIN, T1, T2]));
}

#[test]
fn under_stop_realm_a_fault_or_panic_of_any_thread_ends_the_realm() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopRealm, 1);
    let before = threads.clone();
    assert_eq!(threads.ended(T1, ThreadEvent::Faulted), Ok(Next::EndRealm(Ending::Faulted)));
    assert_eq!(threads.ended(T1, ThreadEvent::Panicked), Ok(Next::EndRealm(Ending::Panicked)));
    assert_eq!(threads, before, "the table waits for the supervisor's decision");
}

#[test]
fn the_main_thread_ending_ends_the_realm_whatever_the_policy() {
    for policy in [ThreadFaultPolicy::StopRealm, ThreadFaultPolicy::StopThread] {
        let mut threads = with_threads(4, policy, 1);
        assert_eq!(threads.ended(MAIN, ThreadEvent::Faulted), Ok(Next::EndRealm(Ending::Faulted)));
        assert_eq!(
            threads.ended(MAIN, ThreadEvent::Panicked),
            Ok(Next::EndRealm(Ending::Panicked))
        );
        assert_eq!(
            threads.ended(MAIN, ThreadEvent::ExitThread),
            Ok(Next::EndRealm(Ending::Exited))
        );
        assert_eq!(threads.ended(MAIN, ThreadEvent::Exit), Ok(Next::EndRealm(Ending::Exited)));
        // Exit from any thread ends the realm too.
        assert_eq!(threads.ended(T1, ThreadEvent::Exit), Ok(Next::EndRealm(Ending::Exited)));
        assert_eq!(threads.state(MAIN), ThreadState::Running);
    }
}

#[test]
fn under_stop_thread_a_faulting_thread_is_aborted_alone_and_ends_with_its_fault() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopThread, 2);
    assert_eq!(threads.join(MAIN, T1), Ok(Join::Parked));
    assert_eq!(
        threads.ended(T1, ThreadEvent::Faulted),
        Ok(Next::AbortThread { ending: ThreadEnding::Faulted })
    );
    assert_eq!(threads.state(T1), ThreadState::Aborting(ThreadEnding::Faulted));
    assert!(threads.is_live(T1));
    // Answered its client, then ExitThread: ended as faulted, the joiner woken.
    assert_eq!(
        threads.ended(T1, ThreadEvent::ExitThread),
        Ok(Next::Ended { ending: ThreadEnding::Faulted, joiner: Some(MAIN), freed: true })
    );
    // A panic, then a fault while aborting: no third chance, ended as panicked.
    assert_eq!(
        threads.ended(T2, ThreadEvent::Panicked),
        Ok(Next::AbortThread { ending: ThreadEnding::Panicked })
    );
    assert_eq!(
        threads.ended(T2, ThreadEvent::Faulted),
        Ok(Next::Ended { ending: ThreadEnding::Panicked, joiner: None, freed: false })
    );
    assert_eq!(threads.state(T2), ThreadState::Ended(ThreadEnding::Panicked));
    assert_eq!(threads.join(MAIN, T2), Ok(Join::Now(ThreadEnding::Panicked)));
}

#[test]
fn exit_from_a_thread_being_stopped_ends_the_realm() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopThread, 1);
    assert!(matches!(threads.ended(T1, ThreadEvent::Faulted), Ok(Next::AbortThread { .. })));
    assert_eq!(threads.ended(T1, ThreadEvent::Exit), Ok(Next::EndRealm(Ending::Exited)));
}

#[test]
fn events_of_a_thread_that_is_not_live_change_nothing() {
    let mut threads = with_threads(4, ThreadFaultPolicy::StopThread, 1);
    assert!(matches!(threads.ended(T1, ThreadEvent::ExitThread), Ok(Next::Ended { .. })));
    let before = threads.clone();
    let ended = ThreadState::Ended(ThreadEnding::Exited);
    for event in [ThreadEvent::ExitThread, ThreadEvent::Exit, ThreadEvent::Faulted] {
        assert_eq!(threads.ended(T1, event), Err(Error::NotLive { thread: T1, state: ended }));
        assert_eq!(
            threads.ended(T2, event),
            Err(Error::NotLive { thread: T2, state: ThreadState::Free })
        );
    }
    assert_eq!(threads, before);
}

#[test]
fn a_realm_abort_sends_every_live_thread_and_completes_when_each_has_reported() {
    let mut threads = with_threads(6, ThreadFaultPolicy::StopThread, 4);
    // 1 ended (not joined), 2 is stopping alone, 3 is parked joining 4.
    assert!(matches!(threads.ended(T1, ThreadEvent::ExitThread), Ok(Next::Ended { .. })));
    assert!(matches!(threads.ended(T2, ThreadEvent::Faulted), Ok(Next::AbortThread { .. })));
    assert_eq!(threads.join(T3, id(4)), Ok(Join::Parked));
    let sent = threads.begin_abort();
    assert_eq!(sent, Ok(set(&[MAIN, T2, T3, id(4)])));
    assert_eq!(threads.joiner(id(4)), None, "parked joins are dropped");
    assert_eq!(threads.begin_abort(), Err(Error::AlreadyAborting));
    // Nothing new while the realm stops.
    assert_eq!(threads.spawn(), Err(Refused::QuotaExceeded));
    assert_eq!(threads.join(MAIN, T1), Err(Refused::NotJoinable));
    assert_eq!(threads.detach(MAIN, T1), Err(Refused::NotJoinable));
    // Every report counts, whatever it is; the last completes the abort.
    assert_eq!(
        threads.ended(T2, ThreadEvent::ExitThread),
        Ok(Next::AbortReported { complete: false })
    );
    assert_eq!(threads.ended(MAIN, ThreadEvent::Exit), Ok(Next::AbortReported { complete: false }));
    assert_eq!(threads.ended(T2, ThreadEvent::Faulted), Err(Error::NotAborting(T2)), "twice");
    assert_eq!(threads.ended(T1, ThreadEvent::Faulted), Err(Error::NotAborting(T1)), "not sent");
    // The memory manager could not send thread 3: reported at once.
    assert_eq!(threads.abort_reported(T3), Ok(false));
    assert_eq!(threads.aborting(), Some(set(&[id(4)])));
    assert_eq!(
        threads.ended(id(4), ThreadEvent::Panicked),
        Ok(Next::AbortReported { complete: true })
    );
    assert_eq!(threads.aborting(), Some(ThreadSet::EMPTY));
    assert_eq!(threads.abort_reported(id(4)), Err(Error::NotAborting(id(4))));
}

#[test]
fn abort_reports_need_an_abort() {
    let mut threads = table(2, ThreadFaultPolicy::StopRealm);
    assert_eq!(threads.abort_reported(MAIN), Err(Error::NoAbort));
    assert_eq!(threads.begin_abort(), Ok(set(&[MAIN])));
    assert_eq!(threads.abort_reported(MAIN), Ok(true));
}

#[test]
fn reset_forgets_every_thread_and_every_object() {
    let mut threads = with_threads(6, ThreadFaultPolicy::StopThread, 3);
    assert!(matches!(threads.ended(T1, ThreadEvent::ExitThread), Ok(Next::Ended { .. })));
    assert_eq!(threads.begin_abort().map(ThreadSet::len), Ok(3));
    threads.reset();
    assert_eq!(threads, table(6, ThreadFaultPolicy::StopThread));
    assert_eq!(threads.made(), set(&[MAIN]));
    assert_eq!(threads.spawn(), Ok(Spawn { thread: T1, make: true }));
}

#[test]
fn refusals_are_the_protocol_errors_of_the_contract() {
    assert_eq!(
        ipc::Error::from(Refused::QuotaExceeded),
        ipc::Error::QuotaExceeded { what: ipc::Resource::Threads }
    );
    assert_eq!(
        ipc::Error::from(Refused::NotJoinable),
        ipc::Error::NotFound { what: ipc::Missing::Thread }
    );
}

#[test]
fn thread_sets_hold_ids_0_to_15() {
    let mut threads = ThreadSet::EMPTY;
    assert!(threads.is_empty());
    threads.insert(MAIN);
    threads.insert(id(15));
    assert_eq!(threads.len(), 2);
    assert_eq!(threads.iter().collect::<Vec<_>>(), [MAIN, id(15)]);
    assert!(threads.remove(MAIN));
    assert!(!threads.remove(MAIN));
}
