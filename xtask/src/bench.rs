//! The benchmark: boots a benchmark system (`bench/system.toml`) twice and prints its table.
//!
//! The first run counts instructions (QEMU `-icount`: the same figures every run), the second
//! runs freely (cycles of emulated time: noisy, but kernel entries cost what emulation makes
//! them cost). The benchmark realm prints its rows as `[bench] ...` lines; this prints them
//! without the prefix under a title per run.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use qemu::BootOptions;

use crate::kernel::{self, Variant};
use crate::workspace::Workspace;

/// The benchmark system `make bench` boots.
pub const DEFAULT_SYSTEM: &str = "bench/system.toml";

/// The prefix of the lines the benchmark realm prints its table with.
pub const BENCH_PREFIX: &str = "[bench] ";

/// How many serial lines a failure report shows.
const TAIL_LINES: usize = 40;

/// Builds the system at `system` and kernel `variant`, boots it twice (each run ended as a
/// failure after `timeout`) and prints the table on stdout. Returns whether both runs passed;
/// a failed run prints its verdict and serial tail instead of its table.
pub fn run(
    workspace: &Workspace,
    system: &Path,
    timeout: Duration,
    variant: Variant,
) -> Result<bool> {
    let root_task = crate::system::build(workspace, system)?;
    let kernel = kernel::ensure_built(workspace, variant)?;
    println!("== seL4 {} ({} kernel)", kernel.version, kernel.variant);
    let runs = [
        (
            true,
            "counted instructions (QEMU -icount shift=0: guest time advances with each instruction, so figures repeat exactly)",
        ),
        (false, "emulated time (time-stamp counter, QEMU running freely; noisy)"),
    ];
    for (count_instructions, title) in runs {
        let options = BootOptions { timeout, echo: false, count_instructions, stop_at: None };
        let outcome = qemu::boot::boot(&kernel.image, &root_task, &options)?;
        if !outcome.passed() {
            println!(
                "the benchmark run failed ({})\n{}",
                outcome.verdict,
                outcome.tail(TAIL_LINES)
            );
            return Ok(false);
        }
        println!("== {title}");
        for row in outcome.serial.iter().filter_map(|line| line.strip_prefix(BENCH_PREFIX)) {
            println!("{row}");
        }
    }
    Ok(true)
}
