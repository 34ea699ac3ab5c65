//! `qemu`: build the seL4 kernel and Switchboard's images, boot them, run the QEMU tests.
//!
//! - `qemu run [--system FILE]`: check the system description (default `system.toml`),
//!   build kernel, realm programs and memory manager, boot with serial on the terminal;
//!   exits 0 when the run passes.
//! - `qemu test [IMAGE...]`: boot test images (default: every package under `tests/images/`),
//!   each to its verdict or timeout, and print `N passed, N failed`; exits non-zero if any
//!   failed, with the tail of its serial log.
//! - `qemu bench`: boot the benchmark system (`bench/system.toml`) and print its table.
//! - `qemu build`: build the kernel and the memory manager, boot nothing.
//!
//! Each takes `--kernel release|debug` (default `release`, see `qemu::kernel::Variant`). A test
//! image that needs one kernel names it in its `Cargo.toml` (`image::required_kernel`), and
//! `qemu test` boots it on that kernel whatever `--kernel` says.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use qemu::kernel::Variant;
use qemu::{BootOptions, Workspace, image, kernel};

#[derive(Parser)]
#[command(about = "Build Switchboard's seL4 system and run it in QEMU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel and the memory manager, and boot them with serial on the terminal.
    Run {
        /// The system description to boot.
        #[arg(long, default_value = qemu::system::DEFAULT_SYSTEM)]
        system: PathBuf,
        /// Boot this root-task package instead of the memory manager and a system.
        #[arg(long)]
        image: Option<String>,
        /// Seconds before the run is ended as a failure.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// The kernel to build and boot: release (no debug system calls, silent) or debug.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
    /// Boot test images and report each one's verdict.
    Test {
        /// Test-image packages to boot (default: every package under tests/images/).
        images: Vec<String>,
        /// Seconds each image may run before it fails with a timeout.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// The kernel for images that do not name the one they need in their Cargo.toml.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
    /// Boot the benchmark system and print its table.
    Bench {
        /// The benchmark system description.
        #[arg(long, default_value = "bench/system.toml")]
        system: PathBuf,
        /// Seconds before the run is ended as a failure.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The kernel to build and boot: release (no debug system calls, silent) or debug.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
    /// Build the kernel and the memory manager without booting.
    Build {
        /// The system description to build.
        #[arg(long, default_value = qemu::system::DEFAULT_SYSTEM)]
        system: PathBuf,
        /// The kernel to build: release (no debug system calls, silent) or debug.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
}

/// The prefix of the lines the benchmark realm prints its table with.
const BENCH_PREFIX: &str = "[bench] ";

/// How many serial lines a failure report shows.
const TAIL_LINES: usize = 40;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let workspace = Workspace::current();
    match cli.command {
        Command::Build { system, kernel } => {
            qemu::system::build(&workspace, &system)?;
            kernel::ensure_built(&workspace, kernel)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { system, image, timeout, kernel } => {
            // The system first: a bad description fails before anything slow happens.
            let root_task = match &image {
                Some(image) => image::build_root_task(&workspace, image)?,
                None => qemu::system::build(&workspace, &system)?,
            };
            let kernel = kernel::ensure_built(&workspace, kernel)?;
            let image = image.as_deref().unwrap_or(image::MEMORY_MANAGER);
            let options = BootOptions {
                timeout: Duration::from_secs(timeout),
                echo: true,
                ..BootOptions::default()
            };
            eprintln!("[boot] seL4 {} ({}) + {image} in QEMU", kernel.version, kernel.variant);
            let outcome = qemu::boot::boot(&kernel, &root_task, &options)?;
            eprintln!("[boot] {:.1} s: {}", outcome.duration.as_secs_f64(), outcome.verdict);
            Ok(if outcome.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench { system, timeout, kernel } => {
            let root_task = qemu::system::build(&workspace, &system)?;
            let kernel = kernel::ensure_built(&workspace, kernel)?;
            println!("== seL4 {} ({} kernel)", kernel.version, kernel.variant);
            // Twice: counting instructions (the same figures every run), then running freely
            // (cycles of emulated time: noisy, but kernel entries cost what emulation makes
            // them cost, closer to hardware than a count of instructions).
            let runs = [
                (
                    true,
                    "counted instructions (QEMU -icount shift=0: guest time advances with each instruction, so figures repeat exactly)",
                ),
                (false, "emulated time (time-stamp counter, QEMU running freely; noisy)"),
            ];
            for (count_instructions, title) in runs {
                let options = BootOptions {
                    timeout: Duration::from_secs(timeout),
                    echo: false,
                    count_instructions,
                    stop_at: None,
                };
                let outcome = qemu::boot::boot(&kernel, &root_task, &options)?;
                if !outcome.passed() {
                    println!(
                        "the benchmark run failed ({})\n{}",
                        outcome.verdict,
                        outcome.tail(TAIL_LINES)
                    );
                    return Ok(ExitCode::FAILURE);
                }
                println!("== {title}");
                for row in outcome.serial.iter().filter_map(|line| line.strip_prefix(BENCH_PREFIX))
                {
                    println!("{row}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { images, timeout, kernel } => {
            let images = if images.is_empty() { test_images(&workspace)? } else { images };
            let options =
                BootOptions { timeout: Duration::from_secs(timeout), ..BootOptions::default() };
            let (mut passed, mut failed) = (0, 0);
            for name in &images {
                let (variant, why) = match image::required_kernel(&workspace, name)? {
                    Some(required) => (required.variant, format!(": {}", required.why)),
                    None => (kernel, String::new()),
                };
                let kernel = kernel::ensure_built(&workspace, variant)?;
                let root_task = image::build_root_task(&workspace, name)?;
                let outcome = qemu::boot::boot(&kernel, &root_task, &options)?;
                let on = format!("{variant} kernel{why}");
                if outcome.passed() {
                    passed += 1;
                    println!("test {name} ... ok ({:.1} s, {on})", outcome.duration.as_secs_f64());
                } else {
                    failed += 1;
                    println!("test {name} ... FAILED ({}; {on})", outcome.verdict);
                    println!(
                        "--- last {TAIL_LINES} lines of serial ---\n{}",
                        outcome.tail(TAIL_LINES)
                    );
                    println!("---");
                }
            }
            println!("{passed} passed, {failed} failed");
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// Every package under `tests/images/` (each folder there is one root-task test image).
fn test_images(workspace: &Workspace) -> Result<Vec<String>> {
    let folder: PathBuf = workspace.root().join("tests/images");
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}
