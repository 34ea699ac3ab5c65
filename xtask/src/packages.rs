//! Realm programs are packages of the cargo workspace, found with `cargo metadata`.
//!
//! A system description's `program = "<name>"` names a **realm package**: a member of the
//! workspace (listed, or matched by a glob, in `[workspace] members` of the root
//! `Cargo.toml`) that has exactly one binary target and a normal dependency on
//! `realm-runtime`. Where its folder is does not matter: the demo's realms are in `realms/`,
//! the tests' in `tests/realms/`, the benchmark's in `bench/realms/`, and `examples/hello/`
//! is the example the README shows. The binary is built for `x86_64-unknown-none` and packed
//! into the boot image under the package's name.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, Package, TargetKind};

use crate::workspace::Workspace;

/// The crate every realm program links (its entry, `Realm`, services and calls).
pub const REALM_RUNTIME: &str = "realm-runtime";

/// A workspace package that a system description can name as a realm's `program`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealmPackage {
    /// The package name: what `program` says, and the program's name in the boot image.
    pub name: String,
    /// The name of its binary target: the file cargo builds under
    /// `target/x86_64-unknown-none/release/`.
    pub binary: String,
    /// Its `Cargo.toml`.
    pub manifest: PathBuf,
}

/// Every realm package of the workspace, sorted by name. Fails when `cargo metadata` cannot
/// be run or cannot read the workspace (a member without a manifest, a manifest with an
/// error), with cargo's message.
pub fn realm_packages(workspace: &Workspace) -> Result<Vec<RealmPackage>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = cargo_metadata::MetadataCommand::new()
        .cargo_path(cargo)
        .current_dir(workspace.root())
        .manifest_path(workspace.root().join("Cargo.toml"))
        .no_deps()
        .exec()
        .context("listing the workspace's packages with cargo metadata")?;
    let mut packages: Vec<RealmPackage> =
        metadata.workspace_packages().into_iter().filter_map(realm_package).collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(packages)
}

/// `package` as a realm package, if it is one.
fn realm_package(package: &Package) -> Option<RealmPackage> {
    let links_runtime = package.dependencies.iter().any(|dependency| {
        dependency.name == REALM_RUNTIME && dependency.kind == DependencyKind::Normal
    });
    let mut binaries =
        package.targets.iter().filter(|target| target.kind.contains(&TargetKind::Bin));
    let binary = binaries.next()?;
    if !links_runtime || binaries.next().is_some() {
        return None;
    }
    Some(RealmPackage {
        name: package.name.to_string(),
        binary: binary.name.clone(),
        manifest: package.manifest_path.clone().into_std_path_buf(),
    })
}
