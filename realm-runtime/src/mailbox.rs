//! The spawn mailbox: where [`crate::Realm::spawn`] leaves a thread's closure for the new
//! thread to take. A bounded table of [`MAILBOX_ENTRIES`] (16) entries in the realm's own
//! memory (a static), each holding one closure of at most [`SPAWN_CLOSURE_BYTES`] (256)
//! bytes aligned to at most 16. The memory manager only carries an entry's index, as the
//! argument word of `Spawn` (`rcx` at the new thread's entry); it never reads the entry.
//!
//! Each entry goes `FREE → FILLING → READY → TAKING → FREE`, every step an atomic
//! compare-and-swap, so several threads can post and take at once and an entry is never
//! read while it is written:
//! - [`Mailbox::post`] claims a free entry (`FREE → FILLING`), moves the closure in and
//!   publishes it (`READY`, release ordering);
//! - [`Mailbox::run`] (the new thread, with the index it was started with) claims it
//!   (`READY → TAKING`), moves the closure out onto its own stack, frees the entry, then
//!   calls the closure; an index that holds no ready closure (a thread started with a bad
//!   argument) runs nothing;
//! - [`Mailbox::withdraw`] (a refused spawn) claims it the same way and drops the closure.

use core::cell::UnsafeCell;
use core::mem::{MaybeUninit, align_of, size_of};
use core::sync::atomic::{AtomicU8, Ordering};

/// The most bytes a spawned closure (with everything it captures) may take. A larger one is
/// a compile-time error of the `spawn` that passes it: capture a reference to a `static`
/// or memory from `allocate_pages` instead.
pub const SPAWN_CLOSURE_BYTES: usize = 256;

/// The most alignment (bytes) a spawned closure may need.
pub const SPAWN_CLOSURE_ALIGN: usize = 16;

/// How many closures can wait in the mailbox at once (posted, not yet taken by their
/// thread). A realm has at most 15 spawned threads, so a spawn never finds it full unless
/// entries are posted and never taken.
pub const MAILBOX_ENTRIES: usize = 16;

const FREE: u8 = 0;
const FILLING: u8 = 1;
const READY: u8 = 2;
const TAKING: u8 = 3;

/// A closure's bytes, aligned for any closure that passes the compile-time check.
#[repr(C, align(16))]
struct Storage([MaybeUninit<u8>; SPAWN_CLOSURE_BYTES]);

const _: () = assert!(align_of::<Storage>() == SPAWN_CLOSURE_ALIGN);

/// What an entry's closure is, known only where it was posted: moves the closure of type `F`
/// out of `storage` and either calls it with the argument or drops it.
type Trampoline<A> = unsafe fn(storage: *mut Storage, state: &AtomicU8, argument: Option<&mut A>);

struct Entry<A> {
    state: AtomicU8,
    trampoline: UnsafeCell<Option<Trampoline<A>>>,
    storage: UnsafeCell<Storage>,
}

/// The mailbox of closures for threads about to start, each called with a `&mut A` (the
/// runtime's is `Mailbox<Realm>`; tests use other arguments).
pub struct Mailbox<A> {
    entries: [Entry<A>; MAILBOX_ENTRIES],
}

// SAFETY: an entry's cells are written only by the thread that moved its state from FREE
// to FILLING, and read only by the one thread that moved it from READY to TAKING (after the
// release store of READY, read with acquire ordering); the closures are `Send`.
unsafe impl<A> Sync for Mailbox<A> {}

impl<A> Default for Mailbox<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> Mailbox<A> {
    /// An empty mailbox.
    pub const fn new() -> Self {
        Mailbox {
            entries: [const {
                Entry {
                    state: AtomicU8::new(FREE),
                    trampoline: UnsafeCell::new(None),
                    storage: UnsafeCell::new(Storage([MaybeUninit::uninit(); SPAWN_CLOSURE_BYTES])),
                }
            }; MAILBOX_ENTRIES],
        }
    }

    /// Leaves `closure` in a free entry and returns the entry's index; gives the closure
    /// back when every entry is taken. `F` larger than [`SPAWN_CLOSURE_BYTES`] or aligned
    /// to more than [`SPAWN_CLOSURE_ALIGN`] does not compile.
    pub fn post<F: FnOnce(&mut A) + Send + 'static>(&self, closure: F) -> Result<usize, F> {
        const {
            assert!(
                size_of::<F>() <= SPAWN_CLOSURE_BYTES,
                "a spawned closure may take at most SPAWN_CLOSURE_BYTES (256) bytes"
            );
            assert!(
                align_of::<F>() <= SPAWN_CLOSURE_ALIGN,
                "a spawned closure may need an alignment of at most 16 bytes"
            );
        }
        let claimed = self.entries.iter().position(|entry| {
            entry
                .state
                .compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        let Some(index) = claimed else { return Err(closure) };
        let entry = &self.entries[index];
        // SAFETY: this thread moved the entry from FREE to FILLING, so no other thread
        // touches its cells until it stores READY; `F` fits the storage's size and alignment
        // (checked at compile time above).
        unsafe {
            (entry.storage.get() as *mut F).write(closure);
            *entry.trampoline.get() = Some(trampoline::<A, F>);
        }
        entry.state.store(READY, Ordering::Release);
        Ok(index)
    }

    #[cfg(any(target_os = "none", test))]
    /// Takes the closure at `index` and calls it with `argument`: what a spawned thread does
    /// at its start. The entry is free again before the closure runs. Returns `false`, and
    /// calls nothing, when `index` holds no posted closure (out of range, free, or taken).
    pub fn run(&self, index: u64, argument: &mut A) -> bool {
        self.take(index, Some(argument))
    }

    /// Drops the closure at `index` without calling it (a spawn the memory manager refused).
    /// Returns `false` when `index` holds no posted closure.
    pub fn withdraw(&self, index: usize) -> bool {
        self.take(index as u64, None)
    }

    #[cfg(test)]
    /// How many entries hold a closure or are being filled or emptied.
    pub fn in_use(&self) -> usize {
        self.entries.iter().filter(|entry| entry.state.load(Ordering::Relaxed) != FREE).count()
    }

    fn take(&self, index: u64, argument: Option<&mut A>) -> bool {
        let Some(entry) = usize::try_from(index).ok().and_then(|index| self.entries.get(index))
        else {
            return false;
        };
        if entry
            .state
            .compare_exchange(READY, TAKING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: this thread moved the entry from READY to TAKING: the poster's writes are
        // visible (acquire), and no other thread touches the cells until the trampoline
        // stores FREE.
        let trampoline = unsafe { (*entry.trampoline.get()).take() };
        match trampoline {
            // SAFETY: the trampoline was stored with the closure's own type by `post`, and
            // the storage holds that closure, not yet moved out.
            Some(trampoline) => unsafe { trampoline(entry.storage.get(), &entry.state, argument) },
            // Not reached: `post` stores a trampoline before READY.
            None => entry.state.store(FREE, Ordering::Release),
        }
        true
    }
}

/// Moves the `F` out of `storage`, frees the entry (`state`), then calls it with `argument`
/// or, with none, drops it.
///
/// # Safety
///
/// `storage` holds an `F` written by `post` and not yet moved out, and the calling thread
/// owns the entry (state `TAKING`).
unsafe fn trampoline<A, F: FnOnce(&mut A)>(
    storage: *mut Storage,
    state: &AtomicU8,
    argument: Option<&mut A>,
) {
    // SAFETY: per this function's contract, `storage` holds an initialised `F`, suitably
    // aligned, which is moved out exactly once, here.
    let closure = unsafe { (storage as *mut F).read() };
    state.store(FREE, Ordering::Release);
    match argument {
        Some(argument) => closure(argument),
        None => drop(closure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_posted_closure_runs_once_with_its_argument_and_frees_its_entry() {
        let mailbox = Mailbox::<u64>::new();
        let captured = [7u64; 4];
        let index = mailbox.post(move |value: &mut u64| *value += captured.iter().sum::<u64>());
        let index = index.unwrap_or_else(|_| panic!("an empty mailbox has room"));
        assert_eq!(mailbox.in_use(), 1);
        let mut value = 1;
        assert!(mailbox.run(index as u64, &mut value));
        assert_eq!(value, 29);
        assert_eq!(mailbox.in_use(), 0);
        // Taken already: a second start with the same index runs nothing.
        assert!(!mailbox.run(index as u64, &mut value));
        assert_eq!(value, 29);
    }

    #[test]
    fn bad_indices_run_nothing() {
        let mailbox = Mailbox::<u64>::new();
        let mut value = 0;
        for index in [0, 15, 16, u64::MAX] {
            assert!(!mailbox.run(index, &mut value));
        }
        assert!(!mailbox.withdraw(3));
    }

    #[test]
    fn a_full_mailbox_gives_the_closure_back_and_a_freed_entry_is_reused() {
        let mailbox = Mailbox::<u64>::new();
        let indices: Vec<usize> = (0..MAILBOX_ENTRIES)
            .map(|n| {
                let n = n as u64;
                mailbox.post(move |value: &mut u64| *value = n).unwrap_or_else(|_| panic!("room"))
            })
            .collect();
        assert_eq!(indices, (0..MAILBOX_ENTRIES).collect::<Vec<_>>());
        let refused = mailbox.post(|value: &mut u64| *value = 99);
        let Err(closure) = refused else { panic!("a full mailbox took a 17th closure") };
        let mut value = 0;
        closure(&mut value);
        assert_eq!(value, 99);
        assert!(mailbox.run(5, &mut value));
        assert_eq!(value, 5);
        assert_eq!(mailbox.post(|value: &mut u64| *value = 42).ok(), Some(5));
        assert!(mailbox.run(5, &mut value));
        assert_eq!(value, 42);
    }

    #[test]
    fn a_withdrawn_closure_is_dropped_not_called() {
        let dropped = Arc::new(AtomicUsize::new(0));
        struct Counts(Arc<AtomicUsize>);
        impl Drop for Counts {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let mailbox = Mailbox::<u64>::new();
        let counts = Counts(dropped.clone());
        let index = mailbox
            .post(move |value: &mut u64| {
                let _keep = &counts;
                *value = 1;
            })
            .unwrap_or_else(|_| panic!("room"));
        assert!(mailbox.withdraw(index));
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        let mut value = 0;
        assert!(!mailbox.run(index as u64, &mut value));
        assert_eq!(value, 0);
        assert_eq!(mailbox.in_use(), 0);
    }

    #[test]
    fn closures_of_the_largest_size_and_alignment_keep_their_bytes() {
        #[repr(align(16))]
        #[derive(Clone, Copy)]
        struct Big([u8; SPAWN_CLOSURE_BYTES]);
        let mut bytes = [0u8; SPAWN_CLOSURE_BYTES];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = index as u8;
        }
        let big = Big(bytes);
        let mailbox = Mailbox::<u64>::new();
        let closure = move |value: &mut u64| {
            *value = big.0.iter().map(|&byte| u64::from(byte)).sum();
        };
        assert_eq!(size_of_val(&closure), SPAWN_CLOSURE_BYTES);
        let index = mailbox.post(closure).unwrap_or_else(|_| panic!("room"));
        let mut value = 0;
        assert!(mailbox.run(index as u64, &mut value));
        assert_eq!(value, (0..SPAWN_CLOSURE_BYTES as u64).map(|n| n % 256).sum::<u64>());
    }

    #[test]
    fn threads_posting_and_taking_at_once_run_every_closure_exactly_once() {
        const ROUNDS: usize = 2_000;
        let mailbox: &'static Mailbox<u64> = Box::leak(Box::new(Mailbox::new()));
        let ran = Arc::new(AtomicUsize::new(0));
        let posted: &'static [AtomicUsize; MAILBOX_ENTRIES] =
            Box::leak(Box::new([const { AtomicUsize::new(0) }; MAILBOX_ENTRIES]));
        let posters: Vec<_> = (0..4)
            .map(|_| {
                let ran = ran.clone();
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        let ran = ran.clone();
                        loop {
                            let ran = ran.clone();
                            match mailbox.post(move |value: &mut u64| {
                                *value += 1;
                                ran.fetch_add(1, Ordering::SeqCst);
                            }) {
                                Ok(index) => {
                                    posted[index].fetch_add(1, Ordering::SeqCst);
                                    break;
                                }
                                Err(_) => std::thread::yield_now(),
                            }
                        }
                    }
                })
            })
            .collect();
        let takers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut calls = 0u64;
                    let mut idle = 0;
                    while idle < 100_000 {
                        let mut any = false;
                        for index in 0..MAILBOX_ENTRIES {
                            any |= mailbox.run(index as u64, &mut calls);
                        }
                        if any { idle = 0 } else { idle += 1 }
                    }
                    calls
                })
            })
            .collect();
        for poster in posters {
            poster.join().expect("a poster");
        }
        let calls: u64 = takers.into_iter().map(|taker| taker.join().expect("a taker")).sum();
        // Whatever the takers missed at the end is still posted: run it here.
        let mut rest = 0;
        for index in 0..MAILBOX_ENTRIES {
            mailbox.run(index as u64, &mut rest);
        }
        assert_eq!(calls + rest, (4 * ROUNDS) as u64);
        assert_eq!(ran.load(Ordering::SeqCst), 4 * ROUNDS);
        assert_eq!(posted.iter().map(|n| n.load(Ordering::SeqCst)).sum::<usize>(), 4 * ROUNDS);
        assert_eq!(mailbox.in_use(), 0);
    }
}
