//! Where things are: the repository root, this tool's folder (the kernel configuration and
//! the kernel source manifest) and the build folders under `target/`.

use std::path::{Path, PathBuf};

/// The Switchboard repository this tool was built from.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The repository that contains this crate.
    pub fn current() -> Self {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = crate_dir.parent().unwrap_or(crate_dir).to_path_buf();
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `target/` of the cargo workspace.
    pub fn target_dir(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target"))
    }

    /// Where the kernel source copy and build live.
    pub fn kernel_dir(&self) -> PathBuf {
        self.target_dir().join("sel4")
    }

    /// This crate's folder, `xtask/`: the kernel configuration (`kernel/autoconf.h`) and the
    /// manifest that fetches the kernel source (`kernel/source/Cargo.toml`) live there.
    pub fn tool_dir(&self) -> PathBuf {
        self.root.join("xtask")
    }
}
