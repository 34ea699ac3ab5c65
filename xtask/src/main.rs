//! `cargo xtask`: build Switchboard's seL4 system, boot it in QEMU, and run its checks.
//!
//! - `run [--system FILE]`: check the system description (default `system.toml`), build
//!   kernel and realm programs, check the interfaces the programs record against the
//!   description (`xtask::interfaces`), build the memory manager, boot with serial on the
//!   terminal; exits 0 when the run passes. `--image PACKAGE` boots a root-task package instead.
//! - `build [--system FILE]`: the same without booting.
//! - `test`: what `make test` runs (format check, lints, host tests, QEMU suites), in order,
//!   stopping at the first failure (`xtask::steps`). `lint`: its first part.
//! - `bench [--system FILE]`: boot the benchmark system (`bench/system.toml`) and print its
//!   table.
//! - `images [IMAGE...]`: boot root-task test images (default: every package under
//!   `tests/images/`), each to its verdict or timeout, and print `N passed, N failed`;
//!   exits non-zero if any failed, with the tail of its serial log.
//!
//! `run`, `build`, `bench` and `images` take `--kernel release|debug` (default `release`, see
//! `xtask::kernel::Variant`). A test image that needs one kernel names it in its
//! `Cargo.toml` (`xtask::image::required_kernel`), and `images` boots it on that kernel
//! whatever `--kernel` says.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use qemu::BootOptions;
use xtask::kernel::{self, Variant};
use xtask::{Workspace, bench, image, images, steps};

#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Build Switchboard's seL4 system, boot it in QEMU, and run its checks and tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the kernel and a system, and boot it with serial on the terminal.
    Run {
        /// The system description to boot.
        #[arg(long, default_value = xtask::system::DEFAULT_SYSTEM)]
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
    /// Check a system description and build the kernel, its realms and the memory manager.
    Build {
        /// The system description to build.
        #[arg(long, default_value = xtask::system::DEFAULT_SYSTEM)]
        system: PathBuf,
        /// The kernel to build: release (no debug system calls, silent) or debug.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
    /// Run every check and test: format, lints, host tests, QEMU suites (`make test`).
    Test,
    /// Run the format check and the lints, host and seL4 target (`make lint`).
    Lint,
    /// Boot the benchmark system and print its table (`make bench`).
    Bench {
        /// The benchmark system description.
        #[arg(long, default_value = bench::DEFAULT_SYSTEM)]
        system: PathBuf,
        /// Seconds before a run is ended as a failure.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The kernel to build and boot: release (no debug system calls, silent) or debug.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
    /// Boot root-task test images and report each one's verdict.
    Images {
        /// Test-image packages to boot (default: every package under tests/images/).
        images: Vec<String>,
        /// Seconds each image may run before it fails with a timeout.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// The kernel for images that do not name the one they need in their Cargo.toml.
        #[arg(long, value_enum, default_value_t)]
        kernel: Variant,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; `Ok(false)` when it ran to its end and something failed.
fn run(cli: Cli) -> Result<bool> {
    let workspace = Workspace::current();
    match cli.command {
        Command::Build { system, kernel } => {
            xtask::system::build(&workspace, &system)?;
            kernel::ensure_built(&workspace, kernel)?;
            Ok(true)
        }
        Command::Run { system, image, timeout, kernel } => {
            // The system first: a bad description fails before anything slow happens.
            let root_task = match &image {
                Some(image) => image::build_root_task(&workspace, image)?,
                None => xtask::system::build(&workspace, &system)?,
            };
            let kernel = kernel::ensure_built(&workspace, kernel)?;
            let image = image.as_deref().unwrap_or(image::MEMORY_MANAGER);
            let options = BootOptions {
                timeout: Duration::from_secs(timeout),
                echo: true,
                ..BootOptions::default()
            };
            eprintln!("[boot] seL4 {} ({}) + {image} in QEMU", kernel.version, kernel.variant);
            let outcome = qemu::boot::boot(&kernel.image, &root_task, &options)?;
            eprintln!("[boot] {:.1} s: {}", outcome.duration.as_secs_f64(), outcome.verdict);
            Ok(outcome.passed())
        }
        Command::Test => steps::run(&workspace, &steps::test()).map(|()| true),
        Command::Lint => steps::run(&workspace, &steps::lint()).map(|()| true),
        Command::Bench { system, timeout, kernel } => {
            bench::run(&workspace, &system, Duration::from_secs(timeout), kernel)
        }
        Command::Images { images, timeout, kernel } => {
            let images = if images.is_empty() { images::test_images(&workspace)? } else { images };
            images::run(&workspace, &images, Duration::from_secs(timeout), kernel)
        }
    }
}
