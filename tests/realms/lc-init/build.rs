//! Links the realm program with the shared linker script.
fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../sel4-root-task/root-task.ld");
    println!("cargo:rustc-link-arg-bins=-T{script}");
    println!("cargo:rerun-if-changed={script}");
}
