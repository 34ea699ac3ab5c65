//! `deadlines`: Switchboard's notion of time, without the kernel.
//!
//! - [`instant`]: [`Instant`], a point on the system's monotonic clock in nanoseconds since
//!   boot, with saturating arithmetic on [`core::time::Duration`]s: it never overflows and
//!   never panics.
//! - [`queue`]: [`DeadlineQueue`], a bounded queue of keys by deadline (restart delays,
//!   sleeps, call deadlines): running out of room is an error ([`Full`]), never an
//!   allocation or a crash; what expires comes out in deadline order, ties in insertion
//!   order.
//!
//! The crate owns no clock and no timer: the memory manager reads its clock, keeps one queue,
//! programs its timer for [`DeadlineQueue::next_deadline`] and acts on what
//! [`DeadlineQueue::pop_expired`] returns. Everything here is tested on the host, with a
//! property test against a sorted-vector model (`tests/model.rs`).
//!
//! ```
//! use deadlines::{DeadlineQueue, Duration, Instant};
//!
//! let mut queue = DeadlineQueue::<u8, 16>::new();
//! let now = Instant::from_nanos(1_000);
//! queue.insert(now.saturating_add(Duration::from_millis(20)), 2).unwrap();
//! queue.insert(now.saturating_add(Duration::from_millis(10)), 1).unwrap();
//! assert_eq!(queue.next_deadline(), Some(Instant::from_nanos(10_001_000)));
//! let later = now.saturating_add(Duration::from_millis(15));
//! assert_eq!(queue.pop_expired(later).map(|(_, key)| key), Some(1));
//! assert_eq!(queue.pop_expired(later), None);
//! ```

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
// On the memory manager's request path: no index, unwrap or panic may stop it.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod instant;
pub mod queue;

pub use core::time::Duration;
pub use instant::{Instant, saturating_nanos};
pub use queue::{DeadlineQueue, Full};
