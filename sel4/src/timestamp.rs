//! The x86 time-stamp counter: for benchmarks (cycle counts taken in one run are comparable
//! with each other; under QEMU's emulation their absolute values are noise, ratios are not)
//! and, converted at the boot info's `tsc_mhz`, for the monotonic clock (`clock::tsc`).

/// The time-stamp counter now.
#[inline(always)]
pub fn now() -> u64 {
    // SAFETY: `rdtsc` reads a counter; it has no memory effects, and the kernel lets user
    // threads run it (CR4.TSD is clear on x86_64 seL4).
    unsafe { core::arch::x86_64::_rdtsc() }
}
