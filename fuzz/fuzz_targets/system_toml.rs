//! The `system.toml` parser (`system_config::parse_bytes`, host side): any bytes give a
//! configuration or a non-empty list of errors, never a panic. Every error points inside the
//! file (a line and column that exist, 1-based) and prints as `file:line:column:
//! error[rule]: message`. A configuration the host accepts is one the memory manager accepts
//! too: it encodes, and the boot decoder (which checks every rule again) gives it back.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The programs the build has: those the demo, the benchmark and the test systems name, so
/// that their files (the seeds) parse.
const PROGRAMS: [&str; 26] = [
    "address-space-probe",
    "app",
    "bench-client",
    "bench-plain-echo",
    "bench-raw-echo",
    "bench-typed-echo",
    "console-flood",
    "debug-syscall",
    "fault-probe",
    "init",
    "kv-store",
    "lc-client",
    "lc-echo",
    "lc-init",
    "logger",
    "memory-probe",
    "panic-probe",
    "plugin",
    "pr-client",
    "run-client",
    "svc-alice",
    "svc-carol",
    "svc-mallory",
    "svc-root",
    "svc-shop",
    "tm-realm",
];

fuzz_target!(|bytes: &[u8]| {
    match system_config::parse_bytes("system.toml", bytes, &PROGRAMS) {
        Ok(config) => {
            let encoded = system_config::encode(&config).expect("what the host accepts encodes");
            assert_eq!(system_config::decode(&encoded), Ok(config));
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without a reason");
            // The text the positions count in: the UTF-8 part of the file.
            let valid = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or(""),
            };
            let lines: Vec<&str> = valid.split('\n').collect();
            for error in &errors {
                assert_eq!(error.file, "system.toml");
                assert!(error.line >= 1 && error.line <= lines.len(), "{error}");
                let width = lines[error.line - 1].chars().count();
                assert!(error.column >= 1 && error.column <= width + 1, "{error}");
                let shown = error.to_string();
                let head =
                    format!("system.toml:{}:{}: error[{}]: ", error.line, error.column, error.rule);
                assert!(shown.starts_with(&head), "{shown}");
            }
        }
    }
});
