//! The states of a realm's threads, as the memory manager drives them: which index a spawn
//! takes, who joins whom, what a fault of a thread does, and when a realm's abort is over.
//! Kernel-free, tested on the host; the root task carries out what it returns.
//!
//! The stand-in for `supervisor::threads::ThreadTable` (issue 14's contract) until that
//! lands; the operations and their answers are the contract's.

use ipc::ThreadEnding;
use ipc::ThreadId;
use vocabulary::limits::MAX_THREADS_PER_REALM;

/// A set of thread ids (a bit per index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadSet(u16);

impl ThreadSet {
    pub const EMPTY: Self = Self(0);

    pub fn insert(&mut self, thread: ThreadId) {
        self.0 |= 1 << thread.index();
    }

    pub fn remove(&mut self, thread: ThreadId) -> bool {
        let had = self.contains(thread);
        self.0 &= !(1 << thread.index());
        had
    }

    pub fn contains(&self, thread: ThreadId) -> bool {
        self.0 & (1 << thread.index()) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn len(&self) -> u8 {
        self.0.count_ones() as u8
    }

    pub fn iter(self) -> impl Iterator<Item = ThreadId> {
        (0..MAX_THREADS_PER_REALM as u8)
            .filter_map(ThreadId::new)
            .filter(move |&thread| self.contains(thread))
    }
}

/// What happens to a thread that faults or panics (`system.toml`, `on_thread_fault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    StopRealm,
    StopThread,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    Running,
    /// Sent to `start::ABORT_THREAD` (policy stop-thread); it ends with this when it reports.
    Aborting(ThreadEnding),
    /// Ended, not joined yet.
    Ended(ThreadEnding),
}

/// Why a `Join` or a `Detach` is refused: `NotFound { Missing::Thread }` for the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSuchThread;

/// Why a spawn is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnRefused {
    /// `max_threads` threads exist (live or ended and not joined).
    Quota,
}

/// What a fault or a panic of a thread leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFault {
    /// The realm stops (policy stop-realm, or the main thread).
    StopRealm,
    /// Send the thread to `start::ABORT_THREAD`; it ends with `ending` when it reports.
    AbortThread,
    /// It faulted again while aborting: suspend it; it ended (wake `joiner`, if any).
    Ended(Ended),
}

/// A thread ended: the joiner to wake with its ending, if one waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    pub thread: ThreadId,
    pub ending: ThreadEnding,
    pub wake: Option<ThreadId>,
}

/// One realm's threads.
#[derive(Clone, Debug)]
pub struct ThreadTable {
    max_threads: u8,
    policy: Policy,
    states: [State; MAX_THREADS_PER_REALM],
    joiner: [Option<ThreadId>; MAX_THREADS_PER_REALM],
    detached: ThreadSet,
    made: ThreadSet,
    /// The threads sent to abort with the realm that have not reported yet.
    aborting: ThreadSet,
}

impl ThreadTable {
    /// A realm whose main thread runs.
    pub fn new(max_threads: u8, policy: Policy) -> Self {
        let mut states = [State::Free; MAX_THREADS_PER_REALM];
        if let Some(main) = states.first_mut() {
            *main = State::Running;
        }
        let mut made = ThreadSet::EMPTY;
        made.insert(ThreadId::MAIN);
        Self {
            max_threads: max_threads.clamp(1, MAX_THREADS_PER_REALM as u8),
            policy,
            states,
            joiner: [None; MAX_THREADS_PER_REALM],
            detached: ThreadSet::EMPTY,
            made,
            aborting: ThreadSet::EMPTY,
        }
    }

    fn state(&self, thread: ThreadId) -> Option<State> {
        self.states.get(thread.index()).copied()
    }

    fn set(&mut self, thread: ThreadId, state: State) {
        if let Some(entry) = self.states.get_mut(thread.index()) {
            *entry = state;
        }
    }

    /// Live threads: running, aborting, or ended and not joined (the quota counts these).
    pub fn live(&self) -> u8 {
        self.states.iter().filter(|state| **state != State::Free).count() as u8
    }

    /// The threads that run (or are blocked): running or aborting alone.
    pub fn running(&self) -> ThreadSet {
        let mut set = ThreadSet::EMPTY;
        for (index, state) in self.states.iter().enumerate() {
            if matches!(state, State::Running | State::Aborting(_))
                && let Some(thread) = ThreadId::new(index as u8)
            {
                set.insert(thread);
            }
        }
        set
    }

    /// Whether `thread` runs (or is blocked).
    pub fn is_running(&self, thread: ThreadId) -> bool {
        self.running().contains(thread)
    }

    /// Whether index `thread`'s objects were made.
    pub fn is_made(&self, thread: ThreadId) -> bool {
        self.made.contains(thread)
    }

    /// A spawn: the lowest free index, and whether its objects must be made first.
    /// Nothing changes until [`ThreadTable::spawned`].
    pub fn spawn(&self) -> Result<(ThreadId, bool), SpawnRefused> {
        if self.live() >= self.max_threads {
            return Err(SpawnRefused::Quota);
        }
        let thread = (1..MAX_THREADS_PER_REALM as u8)
            .filter_map(ThreadId::new)
            .find(|&thread| self.state(thread) == Some(State::Free))
            .ok_or(SpawnRefused::Quota)?;
        Ok((thread, !self.made.contains(thread)))
    }

    /// `thread` was started (its objects exist).
    pub fn spawned(&mut self, thread: ThreadId) {
        self.made.insert(thread);
        self.set(thread, State::Running);
        self.detached.remove(thread);
        if let Some(joiner) = self.joiner.get_mut(thread.index()) {
            *joiner = None;
        }
    }

    /// `thread` (≥ 1) sent `ExitThread`, or ended otherwise: its ending is recorded (the one
    /// of its stop-thread abort if it was aborting), and its joiner woken or its index freed.
    pub fn ended(&mut self, thread: ThreadId, ending: ThreadEnding) -> Option<Ended> {
        let ending = match self.state(thread)? {
            State::Running => ending,
            State::Aborting(first) => first,
            State::Free | State::Ended(_) => return None,
        };
        let wake = self.joiner.get_mut(thread.index()).and_then(Option::take);
        if wake.is_some() || self.detached.remove(thread) {
            self.set(thread, State::Free);
        } else {
            self.set(thread, State::Ended(ending));
        }
        Some(Ended { thread, ending, wake })
    }

    /// Whether `caller` may join or detach `target`.
    fn target(&self, caller: ThreadId, target: ThreadId) -> Result<State, NoSuchThread> {
        if target == ThreadId::MAIN || target == caller || self.detached.contains(target) {
            return Err(NoSuchThread);
        }
        let busy = self.joiner.get(target.index()).copied().flatten().is_some();
        match self.state(target) {
            None | Some(State::Free) => Err(NoSuchThread),
            Some(_) if busy => Err(NoSuchThread),
            Some(state) => Ok(state),
        }
    }

    /// `caller` joins `target`: its ending now (the index is free again), or `None`: wait
    /// (the answer comes from [`ThreadTable::ended`]).
    pub fn join(
        &mut self,
        caller: ThreadId,
        target: ThreadId,
    ) -> Result<Option<ThreadEnding>, NoSuchThread> {
        match self.target(caller, target)? {
            State::Ended(ending) => {
                self.set(target, State::Free);
                Ok(Some(ending))
            }
            _ => {
                if let Some(joiner) = self.joiner.get_mut(target.index()) {
                    *joiner = Some(caller);
                }
                Ok(None)
            }
        }
    }

    /// Nobody will join `target`: its index is freed once it ends (now, if it has).
    pub fn detach(&mut self, caller: ThreadId, target: ThreadId) -> Result<(), NoSuchThread> {
        match self.target(caller, target)? {
            State::Ended(_) => self.set(target, State::Free),
            _ => self.detached.insert(target),
        }
        Ok(())
    }

    /// `thread` faulted or panicked (`ending`), the realm not aborting.
    pub fn fault(&mut self, thread: ThreadId, ending: ThreadEnding) -> OnFault {
        if thread == ThreadId::MAIN || self.policy == Policy::StopRealm {
            return OnFault::StopRealm;
        }
        match self.state(thread) {
            Some(State::Running) => {
                self.set(thread, State::Aborting(ending));
                OnFault::AbortThread
            }
            Some(State::Aborting(_)) => match self.ended(thread, ending) {
                Some(ended) => OnFault::Ended(ended),
                None => OnFault::StopRealm,
            },
            _ => OnFault::StopRealm,
        }
    }

    /// The realm aborts: the threads to send to `start::ABORT` (every running one).
    pub fn abort_realm(&mut self) -> ThreadSet {
        self.aborting = self.running();
        self.aborting
    }

    /// Only `sent` were sent (the kernel refused the others): the abort waits for these.
    pub fn abort_sent(&mut self, sent: ThreadSet) {
        self.aborting = sent;
    }

    /// Whether the realm is aborting (some thread it sent has not reported).
    pub fn realm_aborting(&self) -> bool {
        !self.aborting.is_empty()
    }

    /// `thread` reported during the realm's abort (exited, faulted or panicked): whether the
    /// abort is over (every thread sent has reported).
    pub fn abort_reported(&mut self, thread: ThreadId) -> bool {
        self.aborting.remove(thread) && self.aborting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(index: u8) -> ThreadId {
        ThreadId::new(index).unwrap()
    }

    #[test]
    fn spawn_takes_the_lowest_free_index_within_the_quota() {
        let mut table = ThreadTable::new(3, Policy::StopThread);
        assert_eq!(table.spawn(), Ok((t(1), true)));
        table.spawned(t(1));
        assert_eq!(table.spawn(), Ok((t(2), true)));
        table.spawned(t(2));
        assert_eq!(table.spawn(), Err(SpawnRefused::Quota));
        // Ended but not joined still counts.
        let ended = table.ended(t(1), ThreadEnding::Exited).unwrap();
        assert_eq!(ended.wake, None);
        assert_eq!(table.spawn(), Err(SpawnRefused::Quota));
        assert_eq!(table.join(ThreadId::MAIN, t(1)), Ok(Some(ThreadEnding::Exited)));
        // Index 1 is free again, and made: reused without making anything.
        assert_eq!(table.spawn(), Ok((t(1), false)));
        assert_eq!(table.live(), 2);
    }

    #[test]
    fn a_join_is_answered_once_when_the_thread_ends() {
        let mut table = ThreadTable::new(4, Policy::StopRealm);
        table.spawned(t(1));
        assert_eq!(table.join(ThreadId::MAIN, t(1)), Ok(None));
        // A second joiner, the thread itself, the main thread, a free index: refused.
        assert_eq!(table.join(t(2), t(1)), Err(NoSuchThread));
        assert_eq!(table.join(t(1), t(1)), Err(NoSuchThread));
        assert_eq!(table.join(t(1), ThreadId::MAIN), Err(NoSuchThread));
        assert_eq!(table.join(ThreadId::MAIN, t(5)), Err(NoSuchThread));
        let ended = table.ended(t(1), ThreadEnding::Exited).unwrap();
        assert_eq!(ended.wake, Some(ThreadId::MAIN));
        assert_eq!(table.live(), 1);
        assert_eq!(table.join(ThreadId::MAIN, t(1)), Err(NoSuchThread));
        assert_eq!(table.ended(t(1), ThreadEnding::Exited), None);
    }

    #[test]
    fn detached_threads_free_their_index_when_they_end() {
        let mut table = ThreadTable::new(4, Policy::StopRealm);
        table.spawned(t(1));
        assert_eq!(table.detach(ThreadId::MAIN, t(1)), Ok(()));
        assert_eq!(table.join(ThreadId::MAIN, t(1)), Err(NoSuchThread));
        assert_eq!(table.ended(t(1), ThreadEnding::Exited).unwrap().wake, None);
        assert_eq!(table.live(), 1);
    }

    #[test]
    fn faults_follow_the_policy_and_the_main_thread_stops_the_realm() {
        let mut table = ThreadTable::new(4, Policy::StopThread);
        table.spawned(t(1));
        table.spawned(t(2));
        assert_eq!(table.fault(ThreadId::MAIN, ThreadEnding::Faulted), OnFault::StopRealm);
        assert_eq!(table.fault(t(1), ThreadEnding::Faulted), OnFault::AbortThread);
        table.join(ThreadId::MAIN, t(1)).unwrap();
        // It exits from its abort: ended with the fault, and the joiner hears it.
        let ended = table.ended(t(1), ThreadEnding::Exited).unwrap();
        assert_eq!((ended.ending, ended.wake), (ThreadEnding::Faulted, Some(ThreadId::MAIN)));
        // A second fault while aborting ends it at once.
        assert_eq!(table.fault(t(2), ThreadEnding::Panicked), OnFault::AbortThread);
        let OnFault::Ended(ended) = table.fault(t(2), ThreadEnding::Faulted) else {
            panic!("a second fault ends the thread")
        };
        assert_eq!(ended.ending, ThreadEnding::Panicked);
        let mut realm = ThreadTable::new(4, Policy::StopRealm);
        realm.spawned(t(1));
        assert_eq!(realm.fault(t(1), ThreadEnding::Faulted), OnFault::StopRealm);
    }

    #[test]
    fn a_realm_abort_is_over_when_every_thread_sent_reported() {
        let mut table = ThreadTable::new(4, Policy::StopRealm);
        table.spawned(t(1));
        table.spawned(t(3));
        table.ended(t(3), ThreadEnding::Exited);
        let sent = table.abort_realm();
        assert_eq!(sent.iter().collect::<std::vec::Vec<_>>(), [ThreadId::MAIN, t(1)]);
        assert!(!table.abort_reported(t(3)));
        assert!(!table.abort_reported(t(1)));
        assert!(!table.abort_reported(t(1)));
        assert!(table.abort_reported(ThreadId::MAIN));
        assert!(!table.realm_aborting());
    }
}
