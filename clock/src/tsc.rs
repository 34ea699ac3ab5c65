//! The monotonic clock: x86 time-stamp counter (TSC) cycles to nanoseconds.
//!
//! The frequency is the one the kernel measured at boot and put in the boot info
//! (`BootInfo::tsc_mhz`, `archInfo`): seL4 5.0.0's `tsc_init`
//! (`src/plat/pc99/machine/hardware.c`) reads it from the platform-info MSR on the Intel
//! models it lists, and otherwise counts TSC cycles over one wrap-around of the PIT
//! (`pit_wait_wraparound`, `src/plat/pc99/machine/pit.c`) and divides by 1000, truncating: the
//! figure is whole MHz, so it can be up to 1 MHz low (0.05 % at 2 GHz). The clock inherits
//! that error; a caller that needs better can compare it with the PIT's ticks
//! ([`crate::ticks`]). The conversions here are exact for the frequency they are given.
//!
//! Overflow: 2^64 cycles at 1 MHz are 584,942 years; every conversion here is exact up to
//! there (no intermediate product wider than 64 bits), then saturates.

/// A monotonic clock: nanoseconds since an origin, read from the TSC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscClock {
    /// The TSC at the clock's zero.
    origin: u64,
    /// TSC cycles per microsecond.
    mhz: u64,
}

impl TscClock {
    /// A clock that reads 0 ns at TSC value `origin` and counts `mhz` million cycles a
    /// second; `None` for 0 MHz (a boot info without a measured frequency).
    pub const fn new(origin: u64, mhz: u64) -> Option<Self> {
        if mhz == 0 { None } else { Some(Self { origin, mhz }) }
    }

    /// The TSC frequency, in MHz.
    pub const fn mhz(self) -> u64 {
        self.mhz
    }

    /// The TSC value at the clock's zero.
    pub const fn origin(self) -> u64 {
        self.origin
    }

    /// The time at TSC value `tsc`, in nanoseconds since the origin (0 for a value before it).
    pub const fn ns_at(self, tsc: u64) -> u64 {
        cycles_to_ns(tsc.saturating_sub(self.origin), self.mhz)
    }

    /// The TSC value at `ns` nanoseconds after the origin (for a deadline), saturating.
    pub const fn tsc_at(self, ns: u64) -> u64 {
        self.origin.saturating_add(ns_to_cycles(ns, self.mhz))
    }
}

/// `cycles` at `mhz` MHz, in nanoseconds, rounded down: cycles × 1000 / mhz, computed as
/// whole microseconds plus the rest so that nothing overflows. `mhz` must not be 0.
pub const fn cycles_to_ns(cycles: u64, mhz: u64) -> u64 {
    let micros = cycles / mhz;
    let rest = cycles % mhz;
    // rest < mhz; a TSC of 2^54 MHz does not exist, so rest * 1000 fits.
    micros.saturating_mul(1000).saturating_add(rest.saturating_mul(1000) / mhz)
}

/// `ns` nanoseconds at `mhz` MHz, in cycles, rounded down, saturating.
pub const fn ns_to_cycles(ns: u64, mhz: u64) -> u64 {
    // The common case in one multiplication and a division by a constant (a deadline of
    // up to about 70 days at 3 GHz); the same result by whole microseconds otherwise.
    if let Some(product) = ns.checked_mul(mhz) {
        return product / 1000;
    }
    let micros = ns / 1000;
    let rest = ns % 1000;
    micros.saturating_mul(mhz).saturating_add(rest * mhz / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NS_PER_SECOND;

    #[test]
    fn cycles_to_nanoseconds() {
        assert_eq!(cycles_to_ns(0, 3000), 0);
        assert_eq!(cycles_to_ns(3000, 3000), 1000);
        assert_eq!(cycles_to_ns(2999, 3000), 999);
        assert_eq!(cycles_to_ns(3_000_000_000, 3000), NS_PER_SECOND);
        // 2.4 GHz: 5 cycles are 2.083 ns.
        assert_eq!(cycles_to_ns(5, 2400), 2);
        assert_eq!(cycles_to_ns(12, 2400), 5);
    }

    #[test]
    fn years_of_uptime_do_not_overflow() {
        // Ten years at 5 GHz: 1.58e18 cycles; cycles * 1000 would overflow 64 bits.
        let ten_years_s: u64 = 10 * 365 * 24 * 3600;
        let cycles = ten_years_s * 5_000_000_000;
        assert!(cycles.checked_mul(1000).is_none());
        assert_eq!(cycles_to_ns(cycles, 5000), ten_years_s * NS_PER_SECOND);
        assert_eq!(cycles_to_ns(u64::MAX, 1), u64::MAX);
        assert_eq!(cycles_to_ns(u64::MAX, 3000), u64::MAX / 3);
    }

    #[test]
    fn nanoseconds_to_cycles_and_back() {
        assert_eq!(ns_to_cycles(1000, 3000), 3000);
        assert_eq!(ns_to_cycles(1, 3000), 3);
        assert_eq!(ns_to_cycles(u64::MAX, 3000), u64::MAX);
        for ns in [0, 1, 999, 1000, 50_000_000, 123_456_789_012] {
            assert!(cycles_to_ns(ns_to_cycles(ns, 2400), 2400) <= ns);
            assert!(ns - cycles_to_ns(ns_to_cycles(ns, 2400), 2400) <= 1);
        }
    }

    #[test]
    fn a_clock_counts_from_its_origin() {
        assert_eq!(TscClock::new(5, 0), None);
        let clock = TscClock::new(1_000_000, 2000).unwrap();
        assert_eq!(clock.ns_at(1_000_000), 0);
        assert_eq!(clock.ns_at(999), 0);
        assert_eq!(clock.ns_at(1_000_000 + 2_000_000), 1_000_000);
        assert_eq!(clock.tsc_at(1_000_000), 3_000_000);
        assert_eq!(clock.tsc_at(u64::MAX), u64::MAX);
    }
}
