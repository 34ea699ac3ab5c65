//! Build stages: each prints one line with its duration, or "cached" when it had nothing to do.

use std::time::Instant;

/// What a stage did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The stage did its work.
    Built,
    /// Its inputs had not changed: nothing was done.
    Cached,
}

/// Runs `work` as the stage `name` and prints `[name] 1.2 s` or `[name] cached` on stderr.
pub fn run<T>(
    name: &str,
    work: impl FnOnce() -> anyhow::Result<(T, Freshness)>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let (value, freshness) =
        work().map_err(|error| error.context(format!("stage '{name}' failed")))?;
    match freshness {
        Freshness::Built => eprintln!("[{name}] {:.1} s", started.elapsed().as_secs_f64()),
        Freshness::Cached => eprintln!("[{name}] cached"),
    }
    Ok(value)
}
