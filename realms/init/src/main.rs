//! Demo realm `init`. For now it announces itself; its part in the demo's story comes with
//! the broker.
#![no_std]
#![no_main]

realm_runtime::main!(main);

fn main() {
    realm_runtime::sel4::debug_println!("[init] running");
}
