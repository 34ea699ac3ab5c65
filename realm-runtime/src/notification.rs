//! The realm's own notification and timed signals: the two requests that set them up
//! ([`Realm::bind_notification`], [`Realm::signal_after`]) and how a signal arrives.
//!
//! # What the memory manager does
//!
//! - `bind_notification` (realm request `BindNotification`, label 42, no words): the memory
//!   manager makes a notification object from the realm's memory budget (it counts against
//!   the budget, and its caps against the memory manager's slots for the realm's objects),
//!   binds it to the realm's thread (`TCB_BindNotification`, seL4 manual "Notifications",
//!   binding), and keeps one capability to it, badged
//!   `Badge::for_notification(ipc::abi::notification::TIMER)`, to signal it. The realm gets
//!   no capability: it never needs one (see below). Asking again is answered `Ok` and
//!   changes nothing. Everything goes when the realm stops or restarts (the notification is
//!   unbound and destroyed with the realm's budget).
//! - `signal_after(after)` (realm request `SignalAfter`, label 43, one word: `after` in
//!   nanoseconds, at most [`ipc::realm::MAX_SIGNAL_AFTER_NS`], 365 days): once `after` has
//!   passed on the realm clock ([`Realm::now`]), the memory manager signals the notification
//!   with bit [`ipc::abi::notification::TIMER`]. The memory manager looks at its timed
//!   signals on each tick of its 1 kHz timer, so the signal comes at most about a
//!   millisecond late, never early; `after` = 0 signals on the next tick. A realm has one
//!   timed signal at most: a new request replaces the one pending (so a realm that asks in
//!   a loop costs the memory manager one table entry, whatever it does). A [`Realm::sleep`]
//!   that ends after a timed signal's time returns after that signal was sent: a realm that
//!   sleeps past it finds it pending at its next receive.
//!
//! # How a signal arrives
//!
//! A bound notification wakes the thread's receive on *any* endpoint (seL4's
//! `receiveIPC` in `src/object/endpoint.c` completes a pending signal before it looks at the
//! endpoint; `sendSignal` in `src/object/notification.c` wakes a thread blocked in a
//! receive). The receive then returns the notification word as its badge:
//! `ipc::Badge::decode` gives `BadgeKind::Notification { bits }`, kind 5, with
//! [`ipc::abi::notification::TIMER`] set in `bits` for a timed signal. A signal never wakes
//! a thread waiting for the reply to its own `Call` (the kernel wakes only a thread blocked
//! in a receive): it stays pending until the next receive.
//!
//! Tell a signal from a message **by the badge alone**. On seL4 5.0.0 a signal sets only
//! the badge register (`completeSignal`, `sendSignal`): the message info and the message
//! registers keep what the receiving thread had put in them. After `Endpoint::recv`, which
//! passes message info 0, that reads as label 0 with no words; after `reply_recv` it is the
//! reply's own info and words, which mean nothing here. A signal carries no reply
//! capability: the thread's last caller, if it did not answer it, cannot be answered after
//! a signal any more than after a message.
//!
//! **Signals coalesce.** The kernel ORs the badge of every signal since the last receive
//! into one word, and one receive takes them all: five timed signals that fell due before
//! one receive are one wake-up with the TIMER bit set, and a wake-up with several bits set
//! stands for signals of several sources. A program that must count events has to count
//! them itself (a timer it armed knows when it fell due: read [`Realm::now`]).

use core::time::Duration;

use ipc::realm::{RealmRequest, RealmResponse};

use crate::{Error, Realm};

impl Realm {
    /// Makes this realm's notification, from its own memory budget, and binds it to its
    /// thread (see the module doc): from then on a receive on any endpoint may return a
    /// signal, badge kind 5, instead of a message. Idempotent: once bound, asking again
    /// is answered `Ok` and changes nothing.
    ///
    /// # Errors
    ///
    /// - [`Error::Refused`] with `QuotaExceeded` of `RealmMemory` (the budget has no room
    ///   for a notification, 32 bytes aligned to 32) or of `RealmObjectSlots` (the memory
    ///   manager's slots for the realm's objects are used up: it needs two);
    /// - [`Error::BadReply`] or [`Error::UnexpectedReply`] if the memory manager's answer is
    ///   not the protocol's.
    pub fn bind_notification(&mut self) -> Result<(), Error> {
        match self.request(RealmRequest::BindNotification.encode())? {
            RealmResponse::Done => Ok(()),
            _ => Err(Error::UnexpectedReply),
        }
    }

    /// Asks the memory manager to signal this realm's notification with bit
    /// [`ipc::abi::notification::TIMER`] once `after` has passed on the realm clock
    /// (nanoseconds; at the first tick of its 1 kHz timer from then on, so up to about a
    /// millisecond late, never early). It replaces the timed signal asked for before, if
    /// that has not come yet. The signal arrives on the thread's next receive on any
    /// endpoint, coalesced with any other signal since the last receive (see the module
    /// doc). The call returns at once.
    ///
    /// # Errors
    ///
    /// - [`Error::Refused`] with `NotFound` of `Notification`: the realm has no bound
    ///   notification (call [`Realm::bind_notification`] first);
    /// - [`Error::Refused`] with `MalformedRequest` (`OutOfRange` of the duration): `after`
    ///   is longer than [`ipc::realm::MAX_SIGNAL_AFTER_NS`] (365 days);
    /// - [`Error::BadReply`] or [`Error::UnexpectedReply`] if the memory manager's answer is
    ///   not the protocol's.
    pub fn signal_after(&mut self, after: Duration) -> Result<(), Error> {
        // Too long for a word is too long for the memory manager, which says so exactly.
        let nanoseconds = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
        match self.request(RealmRequest::SignalAfter { nanoseconds }.encode())? {
            RealmResponse::Done => Ok(()),
            _ => Err(Error::UnexpectedReply),
        }
    }
}
