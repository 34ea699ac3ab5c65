//! Counting timer interrupts.
//!
//! A tick is one delivery of the timer's interrupt. On seL4 the interrupt signals a
//! notification and stays masked until acknowledged, and signals before a wait are ORed into
//! one word, so a late handler sees one tick where the timer fired several times: the count
//! is a lower bound on the timer's periods. [`TickCount::missed`] compares it with the TSC
//! clock's elapsed time to tell how many the handler missed.

use crate::pit::Divisor;

/// Ticks received since the timer started, and the time they stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TickCount {
    divisor: Divisor,
    ticks: u64,
}

impl TickCount {
    /// No ticks yet, of a timer that runs with `divisor`.
    pub const fn new(divisor: Divisor) -> Self {
        Self { divisor, ticks: 0 }
    }

    /// Records one tick; returns the count, saturating.
    pub const fn record(&mut self) -> u64 {
        self.ticks = self.ticks.saturating_add(1);
        self.ticks
    }

    /// The ticks recorded.
    pub const fn count(self) -> u64 {
        self.ticks
    }

    /// The timer's divisor.
    pub const fn divisor(self) -> Divisor {
        self.divisor
    }

    /// The time the recorded ticks stand for, in nanoseconds.
    pub const fn elapsed_ns(self) -> u64 {
        self.divisor.ticks_to_ns(self.ticks)
    }

    /// Whole timer periods in `elapsed_ns` (read on another clock) that were not recorded:
    /// 0 when the count keeps up.
    pub const fn missed(self, elapsed_ns: u64) -> u64 {
        let period = self.divisor.period_ns();
        (elapsed_ns / period).saturating_sub(self.ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pit::DEFAULT_HZ;

    #[test]
    fn counts_and_converts() {
        let mut ticks = TickCount::new(Divisor::for_hz(DEFAULT_HZ).unwrap());
        assert_eq!(ticks.elapsed_ns(), 0);
        for expected in 1..=200 {
            assert_eq!(ticks.record(), expected);
        }
        assert_eq!(ticks.count(), 200);
        assert_eq!(ticks.elapsed_ns(), 199_969_493);
        assert_eq!(ticks.divisor().count(), 1193);
    }

    #[test]
    fn missed_ticks_are_counted_against_another_clock() {
        let mut ticks = TickCount::new(Divisor::for_hz(DEFAULT_HZ).unwrap());
        for _ in 0..200 {
            ticks.record();
        }
        assert_eq!(ticks.missed(199_969_493), 0);
        assert_eq!(ticks.missed(150_000_000), 0);
        // 210 ms hold 210 whole periods of 999,847 ns: ten were not recorded.
        assert_eq!(ticks.missed(210_000_000), 10);
    }

    #[test]
    fn the_count_saturates() {
        let mut ticks =
            TickCount { divisor: Divisor::for_hz(DEFAULT_HZ).unwrap(), ticks: u64::MAX };
        assert_eq!(ticks.record(), u64::MAX);
    }
}
