//! The workspace's discipline, checked rather than left to convention: every member inherits
//! the workspace lints (`[lints] workspace = true`: `unsafe_op_in_unsafe_fn` and
//! `clippy::undocumented_unsafe_blocks` are errors), and every crate root says
//! `#![forbid(unsafe_code)]` unless the crate is one of the few that need `unsafe` (the seL4
//! binding, the root-task entry code, the realm runtime's entry, and test programs that
//! misbehave on purpose), listed here with the reason.

use std::path::{Path, PathBuf};

/// Members that contain `unsafe`, and why each needs it.
const NEEDS_UNSAFE: &[(&str, &str)] = &[
    ("sel4", "the binding: system calls, the IPC buffer"),
    ("sel4-root-task", "the root task's entry, stack and serial port"),
    ("realm-runtime", "a realm's entry, stack and IPC buffer"),
    ("tests/images/sel4-binding", "exercises the binding's raw memory and faults"),
    ("tests/probes/fault", "faults on purpose to test the runner"),
    ("tests/realms/fault-probe", "faults on purpose"),
    ("tests/realms/lc-echo", "faults on purpose to test restarts"),
    ("tests/realms/run-client", "hostile modes that fault on purpose"),
    ("tests/realms/th-rv-realm", "faults on purpose, writes the control page's deadline words"),
    ("tests/realms/ib-kv-v1", "records its interfaces by hand, with #[unsafe(link_section)]"),
    ("tests/realms/ib-kv-v2", "records its interfaces by hand, with #[unsafe(link_section)]"),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").into()
}

fn members(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    let manifest: toml::Table = text.parse().expect("the workspace manifest is TOML");
    let mut members = Vec::new();
    for member in manifest["workspace"]["members"].as_array().expect("workspace.members is a list")
    {
        let member = member.as_str().expect("a member is a path");
        match member.strip_suffix("/*") {
            // A folder of packages: every subfolder with a manifest.
            Some(folder) => {
                let mut found: Vec<String> = std::fs::read_dir(root.join(folder))
                    .expect("a member folder")
                    .map(|entry| entry.expect("a readable folder").path())
                    .filter(|path| path.join("Cargo.toml").exists())
                    .map(|path| {
                        let name = path.file_name().expect("a folder name").to_string_lossy();
                        format!("{folder}/{name}")
                    })
                    .collect();
                found.sort();
                members.extend(found);
            }
            None => members.push(member.to_owned()),
        }
    }
    members
}

fn crate_roots(member: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|path| member.join(path))
        .filter(|path| path.exists())
        .collect();
    if let Ok(entries) = std::fs::read_dir(member.join("src/bin")) {
        roots.extend(entries.map(|entry| entry.expect("a readable folder").path()));
    }
    roots
}

#[test]
fn every_member_inherits_the_workspace_lints() {
    let root = workspace_root();
    let missing: Vec<String> = members(&root)
        .into_iter()
        .filter(|member| {
            let text = std::fs::read_to_string(root.join(member).join("Cargo.toml"))
                .expect("a member's manifest");
            let manifest: toml::Table = text.parse().expect("a member's manifest is TOML");
            manifest.get("lints").and_then(|lints| lints.get("workspace"))
                != Some(&toml::Value::Boolean(true))
        })
        .collect();
    assert!(missing.is_empty(), "these members lack `[lints] workspace = true`: {missing:?}");
}

#[test]
fn every_crate_without_a_reason_forbids_unsafe() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    for member in members(&root) {
        let needs_unsafe = NEEDS_UNSAFE.iter().any(|(name, _)| *name == member);
        let roots = crate_roots(&root.join(&member));
        assert!(!roots.is_empty(), "{member} has no crate root");
        for path in roots {
            let text = std::fs::read_to_string(&path).expect("a crate root");
            let forbids = text.lines().any(|line| line.trim() == "#![forbid(unsafe_code)]");
            if forbids == needs_unsafe {
                offenders.push(format!(
                    "{}: {}",
                    path.display(),
                    if needs_unsafe {
                        "is listed as needing unsafe but forbids it (take it off the list)"
                    } else {
                        "lacks #![forbid(unsafe_code)]"
                    }
                ));
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
