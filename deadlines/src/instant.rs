//! [`Instant`]: a point on the system's monotonic clock, in nanoseconds since boot, and the
//! saturating arithmetic between instants and [`Duration`]s.
//!
//! A `u64` of nanoseconds lasts about 584 years, so saturating at [`Instant::MAX`] is a
//! guard against bad inputs (a huge duration, a clock read gone wrong), not something a
//! running system reaches. No operation here overflows or panics.

use core::fmt;
use core::time::Duration;

/// A point on the system's monotonic clock: nanoseconds since boot (`u64`).
///
/// Ordered like the clock. Arithmetic saturates: adding past [`Instant::MAX`] gives
/// [`Instant::MAX`], subtracting past [`Instant::ZERO`] gives [`Instant::ZERO`], and the
/// time since a later instant is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Boot: 0 ns.
    pub const ZERO: Instant = Instant(0);
    /// The last representable instant, `u64::MAX` ns (about 584 years after boot).
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after boot.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// Nanoseconds since boot.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + duration`, or [`Instant::MAX`] if that is past it.
    pub const fn saturating_add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(saturating_nanos(duration)))
    }

    /// `self - duration`, or [`Instant::ZERO`] if that is before boot.
    pub const fn saturating_sub(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_sub(saturating_nanos(duration)))
    }

    /// `self + duration`, or `None` if that is past [`Instant::MAX`].
    pub const fn checked_add(self, duration: Duration) -> Option<Instant> {
        let nanos = duration.as_nanos();
        if nanos > u64::MAX as u128 {
            return None;
        }
        match self.0.checked_add(nanos as u64) {
            Some(sum) => Some(Instant(sum)),
            None => None,
        }
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later than `self`.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later than `self`.
    pub const fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        match self.0.checked_sub(earlier.0) {
            Some(nanos) => Some(Duration::from_nanos(nanos)),
            None => None,
        }
    }
}

/// Shows seconds since boot with nanosecond precision: `12.000000500 s`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09} s", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

/// `duration` in nanoseconds, or `u64::MAX` if it is longer (about 584 years).
pub const fn saturating_nanos(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_at_both_ends() {
        let t = Instant::from_nanos(5);
        assert_eq!(t.saturating_add(Duration::from_nanos(3)), Instant::from_nanos(8));
        assert_eq!(t.saturating_sub(Duration::from_nanos(7)), Instant::ZERO);
        assert_eq!(Instant::MAX.saturating_add(Duration::from_nanos(1)), Instant::MAX);
        assert_eq!(t.saturating_add(Duration::MAX), Instant::MAX);
        assert_eq!(Instant::MAX.saturating_sub(Duration::MAX), Instant::ZERO);
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(t.checked_add(Duration::from_secs(1)), Some(Instant::from_nanos(1_000_000_005)));
    }

    #[test]
    fn the_time_between_two_instants_is_never_negative() {
        let (early, late) = (Instant::from_nanos(10), Instant::from_nanos(25));
        assert_eq!(late.saturating_duration_since(early), Duration::from_nanos(15));
        assert_eq!(early.saturating_duration_since(late), Duration::ZERO);
        assert_eq!(late.checked_duration_since(early), Some(Duration::from_nanos(15)));
        assert_eq!(early.checked_duration_since(late), None);
        assert_eq!(
            Instant::MAX.saturating_duration_since(Instant::ZERO).as_nanos(),
            u64::MAX.into()
        );
    }

    #[test]
    fn durations_convert_to_nanoseconds_saturating() {
        assert_eq!(saturating_nanos(Duration::from_millis(10)), 10_000_000);
        assert_eq!(saturating_nanos(Duration::MAX), u64::MAX);
        assert_eq!(saturating_nanos(Duration::from_nanos(u64::MAX)), u64::MAX);
    }

    #[test]
    fn instants_read_as_seconds() {
        assert_eq!(Instant::from_nanos(12_000_000_500).to_string(), "12.000000500 s");
        assert_eq!(Instant::ZERO.to_string(), "0.000000000 s");
    }
}
