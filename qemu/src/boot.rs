//! Booting an image in QEMU and deciding the run's verdict from serial and QEMU's exit.
//!
//! The root task ends a run by writing to QEMU's `isa-debug-exit` device (port 0xf4), which
//! makes QEMU exit with `(value << 1) | 1`: 33 for pass, 35 for fail. Only the root task
//! holds the I/O port capability, so only it can produce that status; the verdict line it
//! prints (`SWITCHBOARD-VERDICT: PASS`) is for people reading the log. A run passes only when
//! both agree. QEMU is always ended: on the verdict, on a timeout, on a fault report, and
//! when the caller's thread unwinds.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The line prefix the root task prints its verdict with.
pub const VERDICT_PREFIX: &str = "SWITCHBOARD-VERDICT:";
/// QEMU's exit status when the root task wrote the pass code (0x10) to the debug-exit port.
pub const EXIT_STATUS_PASS: i32 = 33;
/// QEMU's exit status when the root task wrote the fail code (0x11) to the debug-exit port.
pub const EXIT_STATUS_FAIL: i32 = 35;
/// What the root task's panic handler prints before the message and location.
pub const PANIC_MARKER: &str = "root task panicked";
/// What the debug kernel prints when a thread without a fault handler faults (the root task has
/// none). The release kernel prints nothing: such a run ends on its timeout.
const UNHANDLED_FAULT_MARKER: &str = "while trying to handle:";
/// How long to keep reading after a verdict or a fault report, for QEMU to exit and for the
/// rest of the report to arrive.
const GRACE: Duration = Duration::from_secs(5);

/// How to boot.
#[derive(Clone, Debug)]
pub struct BootOptions {
    /// End the run (and fail it) after this long.
    pub timeout: Duration,
    /// Copy serial to this process's stdout as it arrives.
    pub echo: bool,
    /// Count instructions instead of running freely (QEMU's `-icount`): the time-stamp
    /// counter then advances one tick per guest instruction, so cycle counts are instruction
    /// counts and a benchmark gives the same figures every run.
    pub count_instructions: bool,
    /// End the run as soon as a serial line contains this text (for systems that run for
    /// ever): the run's verdict is then [`Verdict::Watched`].
    pub stop_at: Option<String>,
}

impl Default for BootOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            echo: false,
            count_instructions: false,
            stop_at: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Pass line printed and QEMU exited with the pass status.
    Pass,
    /// The root task panicked: its message with file, line and column.
    Panic { message: String },
    /// The root task reported failure (or the verdict line and the exit status disagree).
    Fail { reason: String },
    /// The kernel reported a fault in a thread that has no fault handler.
    UnhandledFault { report: String },
    /// No verdict within the timeout.
    Timeout,
    /// QEMU ended without a verdict.
    NoVerdict { reason: String },
    /// The runner ended the run itself, on the line [`BootOptions::stop_at`] waited for,
    /// with no verdict, panic or fault before it.
    Watched,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Pass => write!(f, "pass"),
            Verdict::Panic { message } => write!(f, "root task panic: {message}"),
            Verdict::Fail { reason } => write!(f, "fail: {reason}"),
            Verdict::UnhandledFault { report } => write!(f, "unhandled fault: {report}"),
            Verdict::Timeout => write!(f, "timeout: no verdict"),
            Verdict::NoVerdict { reason } => write!(f, "no verdict: {reason}"),
            Verdict::Watched => write!(f, "ended by the runner on the line it waited for"),
        }
    }
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Everything QEMU printed (serial, then QEMU's own messages), one entry per line.
    pub serial: Vec<String>,
    /// QEMU's exit status, when it exited by itself.
    pub exit_status: Option<i32>,
    pub duration: Duration,
    /// The process id QEMU ran as (ended and reaped by the time the outcome exists).
    pub qemu_pid: u32,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// The last `count` lines of serial, for failure reports.
    pub fn tail(&self, count: usize) -> String {
        let start = self.serial.len().saturating_sub(count);
        self.serial[start..].join("\n")
    }

    /// Whether some serial line contains `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.serial.iter().any(|line| line.contains(text))
    }

    /// The machine-readable event lines on serial, in order.
    pub fn events(&self) -> Vec<crate::events::Event> {
        self.serial.iter().filter_map(|line| crate::events::parse_event(line)).collect()
    }

    /// Whether serial has a `kind` event with every `(key, value)` of `fields`, for example
    /// `has_event("connect-denied", &[("realm", "plugin"), ("service", "kv")])`.
    pub fn has_event(&self, kind: &str, fields: &[(&str, &str)]) -> bool {
        self.events().iter().any(|event| event.matches(kind, fields))
    }
}

/// A running QEMU that is killed and reaped when dropped, whatever happens to the caller.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The machine's memory in MiB (`-m`): what a system description that sets no `[system]
/// memory` assumes (`system_config::DEFAULT_MACHINE_MEMORY`). Every system boots with it,
/// whatever its `memory` says: a system that declares more may not start.
pub const QEMU_MEMORY_MIB: u64 = system_config::DEFAULT_MACHINE_MEMORY >> 20;

/// The QEMU command line that boots `kernel_image` (a 32-bit ELF for QEMU's multiboot
/// loader) with `root_task` (an ELF) as the first multiboot module.
pub fn qemu_command(kernel_image: &Path, root_task: &Path, options: &BootOptions) -> Command {
    let mut command = Command::new("qemu-system-x86_64");
    if options.count_instructions {
        command.args(["-icount", "shift=0,align=off,sleep=off"]);
    }
    command
        // No display and no network card: the firmware then writes nothing on serial (with
        // `-nographic` it clears the terminal and turns line wrapping off), and no network
        // boot ROM is tried. Serial is the only output.
        .args(["-machine", "pc", "-m", &QEMU_MEMORY_MIB.to_string()])
        .args(["-display", "none", "-nic", "none", "-no-reboot"])
        .args(["-serial", "mon:stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(kernel_image)
        .arg("-initrd")
        .arg(root_task);
    command
}

/// What the watcher has seen so far on serial.
#[derive(Default)]
struct Watch {
    verdict_line: Option<String>,
    panic_message: Option<String>,
    fault_report: Option<String>,
    /// The text that ends the run when a line contains it, and whether one did.
    stop_at: Option<String>,
    stopped: bool,
}

impl Watch {
    fn observe(&mut self, line: &str) {
        if self.stop_at.as_deref().is_some_and(|text| line.contains(text)) {
            self.stopped = true;
        }
        if let Some(rest) = line.strip_prefix(VERDICT_PREFIX) {
            self.verdict_line.get_or_insert_with(|| rest.trim().to_string());
        } else if let Some(position) = line.find(PANIC_MARKER) {
            let message = line[position + PANIC_MARKER.len()..].trim_start_matches(':').trim();
            self.panic_message.get_or_insert_with(|| message.to_string());
        } else if line.contains(UNHANDLED_FAULT_MARKER) {
            self.fault_report.get_or_insert_with(String::new);
        } else if let Some(report) = &mut self.fault_report {
            if !report.is_empty() {
                report.push_str("; ");
            }
            report.push_str(line.trim());
        }
    }

    /// Seen enough to stop reading soon.
    fn ended(&self) -> bool {
        self.verdict_line.is_some() || self.fault_report.is_some()
    }
}

/// Boots `root_task` on the kernel in `kernel_image` (the 32-bit ELF QEMU's multiboot loader
/// boots) and watches it to its verdict. Fails only when QEMU cannot be started or its
/// output cannot be read; every way a run can go wrong is an [`Outcome`] with its verdict.
pub fn boot(kernel_image: &Path, root_task: &Path, options: &BootOptions) -> Result<Outcome> {
    let started = Instant::now();
    let child = qemu_command(kernel_image, root_task, options)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64 (is it installed? `make run` installs it)")?;
    let qemu_pid = child.id();
    let mut qemu = Qemu(child);
    let stdout = qemu.0.stdout.take().context("QEMU's stdout")?;
    let mut stderr = qemu.0.stderr.take().context("QEMU's stderr")?;
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let (lines_sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut bytes = Vec::new();
        while reader.read_until(b'\n', &mut bytes).is_ok_and(|read| read > 0) {
            // The kernel's console writes "\n\r" for a newline: drop carriage returns at both ends.
            let line = String::from_utf8_lossy(&bytes).trim_matches(['\r', '\n']).to_string();
            bytes.clear();
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });

    let mut serial = Vec::new();
    let mut watch = Watch { stop_at: options.stop_at.clone(), ..Watch::default() };
    let mut deadline = started + options.timeout;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = !watch.ended();
            break;
        }
        match lines.recv_timeout(deadline - now) {
            Ok(line) => {
                if options.echo {
                    println!("{line}");
                }
                let had_ended = watch.ended();
                watch.observe(&line);
                serial.push(line);
                if watch.stopped {
                    break;
                }
                if !had_ended && watch.ended() {
                    deadline = deadline.min(Instant::now() + GRACE);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }

    // QEMU has exited by itself (serial closed), or it is killed now.
    let exit_status = match qemu.0.try_wait() {
        Ok(Some(status)) => status.code(),
        _ if !timed_out && watch.verdict_line.is_some() => {
            // Serial closed just before the exit: give QEMU a moment to report its status.
            std::thread::sleep(Duration::from_millis(200));
            qemu.0.try_wait().ok().flatten().and_then(|status| status.code())
        }
        _ => None,
    };
    drop(qemu);
    let qemu_messages = stderr_reader.join().unwrap_or_default();
    serial.extend(qemu_messages.lines().map(|line| format!("qemu: {line}")));

    let verdict = decide(&watch, exit_status, timed_out);
    Ok(Outcome { verdict, serial, exit_status, duration: started.elapsed(), qemu_pid })
}

fn decide(watch: &Watch, exit_status: Option<i32>, timed_out: bool) -> Verdict {
    if let Some(message) = &watch.panic_message {
        return Verdict::Panic { message: message.clone() };
    }
    match (watch.verdict_line.as_deref(), exit_status) {
        (Some("PASS"), Some(EXIT_STATUS_PASS)) => return Verdict::Pass,
        (Some("PASS"), status) => {
            let status = match status {
                Some(code) => format!("exit status is {code}"),
                None => String::from("process has no exit status (it was ended)"),
            };
            return Verdict::Fail {
                reason: format!(
                    "the verdict line says PASS but QEMU's {status}, not exit status \
                     {EXIT_STATUS_PASS}: only the root task can end the run with a pass"
                ),
            };
        }
        (Some(line), _) => {
            return Verdict::Fail { reason: line.to_string() };
        }
        (None, Some(EXIT_STATUS_FAIL)) => {
            return Verdict::Fail {
                reason: "the root task ended the run with the fail code".into(),
            };
        }
        (None, _) => {}
    }
    if let Some(report) = &watch.fault_report {
        return Verdict::UnhandledFault { report: report.clone() };
    }
    if watch.stopped {
        return Verdict::Watched;
    }
    if timed_out {
        return Verdict::Timeout;
    }
    Verdict::NoVerdict {
        reason: match exit_status {
            Some(status) => format!("QEMU exited with status {status} before any verdict"),
            None => "QEMU ended before any verdict".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(lines: &[&str]) -> Watch {
        let mut watch = Watch::default();
        lines.iter().for_each(|line| watch.observe(line));
        watch
    }

    #[test]
    fn pass_needs_the_line_and_the_exit_status() {
        let passed = watch(&["hello", "SWITCHBOARD-VERDICT: PASS"]);
        assert_eq!(decide(&passed, Some(EXIT_STATUS_PASS), false), Verdict::Pass);
        // The reasons are sentences with the figures, not Rust's debug form of an Option.
        let reason = |status| match decide(&passed, status, false) {
            Verdict::Fail { reason } => reason,
            other => panic!("not a failure: {other}"),
        };
        assert_eq!(
            reason(Some(1)),
            "the verdict line says PASS but QEMU's exit status is 1, not exit status 33: only \
             the root task can end the run with a pass"
        );
        assert_eq!(
            reason(None),
            "the verdict line says PASS but QEMU's process has no exit status (it was ended), \
             not exit status 33: only the root task can end the run with a pass"
        );
        let silent = watch(&["hello"]);
        assert!(matches!(
            decide(&silent, Some(EXIT_STATUS_PASS), false),
            Verdict::NoVerdict { .. }
        ));
    }

    #[test]
    fn a_panic_is_reported_with_its_message() {
        let panicked =
            watch(&["root task panicked at src/main.rs:3:5: boom", "SWITCHBOARD-VERDICT: FAIL"]);
        assert_eq!(
            decide(&panicked, Some(EXIT_STATUS_FAIL), false),
            Verdict::Panic { message: "at src/main.rs:3:5: boom".into() }
        );
    }

    #[test]
    fn an_unhandled_fault_is_reported_with_the_kernels_words() {
        let faulted = watch(&[
            "Caught vm fault on data at address 0x0 with status 0x4",
            "while trying to handle:",
            "vm fault on data at address 0x0 with status 0x4",
            "in thread 0xffffff801fe08400 \"rootserver\" at address 0x400123",
        ]);
        match decide(&faulted, None, false) {
            Verdict::UnhandledFault { report } => assert!(report.contains("at address 0x400123")),
            other => panic!("unexpected verdict {other:?}"),
        }
    }

    #[test]
    fn silence_until_the_deadline_is_a_timeout() {
        assert_eq!(decide(&watch(&["booting"]), None, true), Verdict::Timeout);
    }
}
