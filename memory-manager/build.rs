//! Embeds the boot image (system configuration and realm programs) that the build tool
//! (`cargo xtask`, `xtask::system`) packed and named in `SWITCHBOARD_BOOT_IMAGE`. Built
//! without it (by `cargo clippy`, say), the image is empty and the memory manager says so at
//! boot.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_BOOT_IMAGE");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let embedded = out_dir.join("boot-image.bin");
    let bytes = match std::env::var_os("SWITCHBOARD_BOOT_IMAGE") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
            std::fs::read(&path).unwrap_or_else(|error| {
                panic!("reading the boot image {}: {error}", PathBuf::from(&path).display())
            })
        }
        None => Vec::new(),
    };
    std::fs::write(&embedded, bytes).expect("writing the embedded boot image");
}
