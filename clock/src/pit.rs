//! The Intel 8254 programmable interval timer (PIT), channel 0, as a PC wires it.
//!
//! Sources:
//! - Intel, "8254 Programmable Interval Timer" datasheet (order number 231164): the control
//!   word format (bits 7..6 select the counter, 5..4 the read/write mode, 3..1 the mode,
//!   0 BCD), mode 2 "rate generator" (a divide-by-N counter: OUT goes low for one input clock
//!   every N clocks, so it gives one rising edge per N clocks; a count of 1 is illegal in this
//!   mode; a count of 0 stands for 2^16 in binary), and the counter latch command (a control
//!   word with read/write bits 00).
//! - The input clock: a PC feeds the three counters 1,193,182 Hz (its 14.31818 MHz crystal
//!   divided by 12; IBM PC technical reference). seL4 uses the same figure to calibrate the
//!   TSC (`PIT_HZ` in `src/plat/pc99/machine/pit.c`), and QEMU emulates it
//!   (`PIT_FREQ` in `hw/timer/i8254.c`).
//! - Counter 0's output is ISA IRQ 0. On a machine with an IOAPIC, the ACPI MADT's interrupt
//!   source override moves it to global system interrupt 2 (QEMU's `pc` machine: bus 0,
//!   source 0, GSI 2, flags 0: edge-triggered, active high, as ISA lines are).

use core::fmt;

use crate::NS_PER_SECOND;

/// The frequency of the clock that drives the PIT's counters on a PC, in Hz.
pub const INPUT_HZ: u64 = 1_193_182;

/// Counter 0's data port (the count, low byte then high byte; or the latched count).
pub const CHANNEL0_PORT: u16 = 0x40;
/// The control word register (write only).
pub const COMMAND_PORT: u16 = 0x43;

/// The control word that sets counter 0 to mode 2 (rate generator), binary, with the count
/// written low byte then high byte: SC = 00, RW = 11, M = 010, BCD = 0. seL4's boot code
/// writes the same word (`pit_init`).
pub const RATE_GENERATOR_CHANNEL0: u8 = control_word(0, 0b11, 2);

/// The counter latch command for counter 0 (SC = 00, RW = 00): the next two reads of
/// [`CHANNEL0_PORT`] return the count at the moment of the latch, low byte first.
pub const LATCH_CHANNEL0: u8 = control_word(0, 0b00, 0);

/// A control word: counter (SC, bits 7..6), read/write mode (RW, bits 5..4), mode (M, bits
/// 3..1), binary counting (BCD bit 0 clear).
const fn control_word(counter: u8, read_write: u8, mode: u8) -> u8 {
    (counter << 6) | (read_write << 4) | (mode << 1)
}

/// The smallest count mode 2 accepts (1 is illegal).
pub const MIN_COUNT: u32 = 2;
/// The largest count: 2^16, written as 0.
pub const MAX_COUNT: u32 = 1 << 16;

/// The frequency a timer runs at unless told otherwise, in Hz.
pub const DEFAULT_HZ: u32 = 1000;

/// Why no divisor gives the frequency asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivisorError {
    /// 0 Hz.
    Zero,
    /// Faster than the PIT can count (the count would be below [`MIN_COUNT`]).
    TooFast { hz: u32 },
    /// Slower than the PIT can count (the count would be above [`MAX_COUNT`]: about 18.2 Hz).
    TooSlow { hz: u32 },
}

impl fmt::Display for DivisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero => write!(f, "a timer of 0 Hz"),
            Self::TooFast { hz } => write!(f, "{hz} Hz is faster than the PIT's 596,591 Hz"),
            Self::TooSlow { hz } => write!(f, "{hz} Hz is slower than the PIT's 19 Hz"),
        }
    }
}

/// The count counter 0 divides the input clock by: one interrupt every `count` input clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divisor(u32);

impl Divisor {
    /// The divisor whose frequency is nearest `hz` (the count rounded to the nearest
    /// integer): 1193 for 1 kHz, which gives 1000.15 Hz.
    pub const fn for_hz(hz: u32) -> Result<Self, DivisorError> {
        if hz == 0 {
            return Err(DivisorError::Zero);
        }
        let hz64 = hz as u64;
        let count = (INPUT_HZ + hz64 / 2) / hz64;
        if count < MIN_COUNT as u64 {
            Err(DivisorError::TooFast { hz })
        } else if count > MAX_COUNT as u64 {
            Err(DivisorError::TooSlow { hz })
        } else {
            Ok(Self(count as u32))
        }
    }

    /// A divisor of exactly `count` input clocks, `MIN_COUNT..=MAX_COUNT`.
    pub const fn from_count(count: u32) -> Option<Self> {
        if count >= MIN_COUNT && count <= MAX_COUNT { Some(Self(count)) } else { None }
    }

    /// The count, in input clocks.
    pub const fn count(self) -> u32 {
        self.0
    }

    /// The two bytes written to [`CHANNEL0_PORT`] after [`RATE_GENERATOR_CHANNEL0`], low byte
    /// first (2^16 is written as 0, 0).
    pub const fn reload_bytes(self) -> [u8; 2] {
        [self.0 as u8, (self.0 >> 8) as u8]
    }

    /// The frequency this divisor gives, in millihertz (1,000,153 for 1193).
    pub const fn frequency_millihertz(self) -> u64 {
        (INPUT_HZ * 1000 + self.0 as u64 / 2) / self.0 as u64
    }

    /// The time `ticks` periods of this divisor take, in nanoseconds, rounded down; exact
    /// (no accumulated rounding) and saturating after about 584 years.
    pub const fn ticks_to_ns(self, ticks: u64) -> u64 {
        let clocks = ticks.saturating_mul(self.0 as u64);
        let seconds = clocks / INPUT_HZ;
        let rest = clocks % INPUT_HZ;
        // rest < INPUT_HZ < 2^21, so rest * 10^9 < 2^51.
        seconds.saturating_mul(NS_PER_SECOND).saturating_add(rest * NS_PER_SECOND / INPUT_HZ)
    }

    /// One period, in nanoseconds, rounded down (999,847 for 1193).
    pub const fn period_ns(self) -> u64 {
        self.ticks_to_ns(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_kilohertz() {
        let divisor = Divisor::for_hz(DEFAULT_HZ).unwrap();
        assert_eq!(divisor.count(), 1193);
        assert_eq!(divisor.reload_bytes(), [0xa9, 0x04]);
        assert_eq!(divisor.frequency_millihertz(), 1_000_153);
        assert_eq!(divisor.period_ns(), 999_847);
        // 200 ticks: 238,600 input clocks = 199.969493 ms.
        assert_eq!(divisor.ticks_to_ns(200), 199_969_493);
        // No accumulated rounding: a million ticks is not a million rounded periods.
        assert_eq!(divisor.ticks_to_ns(1_000_000), 999_847_466_689);
    }

    #[test]
    fn the_control_words_follow_the_datasheet() {
        assert_eq!(RATE_GENERATOR_CHANNEL0, 0x34);
        assert_eq!(LATCH_CHANNEL0, 0x00);
    }

    #[test]
    fn the_count_range_bounds_the_frequencies() {
        assert_eq!(Divisor::for_hz(0), Err(DivisorError::Zero));
        // 18.2 Hz is 2^16; 18 Hz would need 66,288.
        assert_eq!(Divisor::for_hz(18), Err(DivisorError::TooSlow { hz: 18 }));
        assert_eq!(Divisor::for_hz(19).unwrap().count(), 62_799);
        assert_eq!(Divisor::for_hz(596_591).unwrap().count(), 2);
        assert_eq!(Divisor::for_hz(1_000_000), Err(DivisorError::TooFast { hz: 1_000_000 }));
        assert_eq!(Divisor::from_count(1), None);
        let slowest = Divisor::from_count(MAX_COUNT).unwrap();
        assert_eq!(slowest.reload_bytes(), [0, 0]);
        assert_eq!(slowest.period_ns(), 54_925_401);
    }

    #[test]
    fn centuries_of_ticks_do_not_overflow() {
        let divisor = Divisor::for_hz(DEFAULT_HZ).unwrap();
        let century_of_ticks: u64 = 100 * 365 * 24 * 3600 * 1000;
        let ns = divisor.ticks_to_ns(century_of_ticks);
        // 100 years at 1000.15 Hz: a little under 100 years of nanoseconds.
        assert!(ns < 100 * 365 * 24 * 3600 * NS_PER_SECOND);
        assert!(ns > 99 * 365 * 24 * 3600 * NS_PER_SECOND);
        assert_eq!(divisor.ticks_to_ns(u64::MAX), u64::MAX);
    }
}
