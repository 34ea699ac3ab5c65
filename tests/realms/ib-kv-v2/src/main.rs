//! Fixture of the build check of interfaces (`xtask::interfaces`, tested in
//! `xtask/tests/interfaces.rs`): a realm program that records, by hand, that it was built with
//! interface "kv" at fingerprint [`KV_V2`], exactly as the
//! interface macro records a declaration (`ipc::abi::interface_section`): another fingerprint
//! than `ib-kv-v1`'s, as a program built from another declaration of "kv" would record.
//!
//! Writing the section by hand needs `#[unsafe(link_section)]`: this crate is on
//! tests/discipline.rs's list of crates that need `unsafe`. It is only built, never booted (its
//! `main` returns at once).
#![no_std]
#![no_main]

use ipc::abi::interface_section::{ENTRY_BYTES, NAME};
use realm_runtime::Realm;

/// The fingerprint this program records for "kv".
pub const KV_V2: u64 = 0x6b76_0000_0000_0002;

/// One entry of the section: name length, name zero-padded to 32 bytes, fingerprint.
const fn entry(name: &str, fingerprint: u64) -> [u8; ENTRY_BYTES] {
    let mut entry = [0; ENTRY_BYTES];
    let length = (name.len() as u64).to_le_bytes();
    let print = fingerprint.to_le_bytes();
    let mut at = 0;
    while at < 8 {
        entry[at] = length[at];
        entry[40 + at] = print[at];
        at += 1;
    }
    let mut at = 0;
    while at < name.len() {
        entry[8 + at] = name.as_bytes()[at];
        at += 1;
    }
    entry
}

// SAFETY: the section holds only these plain bytes, which nothing reads at run time (the
// linker script keeps it out of every load segment); no symbol of another object is placed
// there under this name.
#[used]
#[unsafe(link_section = ".switchboard.interfaces")]
static RECORDS: [[u8; ENTRY_BYTES]; 1] = [entry("kv", KV_V2)];

const _: () = assert!(matches!(NAME.as_bytes(), b".switchboard.interfaces"));

realm_runtime::main!(main);

fn main(_realm: &mut Realm) {}
