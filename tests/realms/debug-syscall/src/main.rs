//! Test realms `put-char`, `halt`, `cap-identify`, `snapshot` and `name-thread`: each makes
//! the seL4 debug system call it is named after. On a release kernel the call does not
//! exist: the kernel sends the memory manager an unknown-syscall fault, which stops this
//! realm and no other. (On a debug kernel `halt` would stop the whole machine: this program
//! is for release kernels only.)
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::sel4::kernel::syscall_number;
use realm_runtime::sel4::syscall::{self, Registers};
use realm_runtime::{Realm, println};

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let name = realm.name().expect("the memory manager knows this realm's name");
    let number = match name.as_str() {
        "put-char" => syscall_number::DEBUG_PUT_CHAR,
        "halt" => syscall_number::DEBUG_HALT,
        "cap-identify" => syscall_number::DEBUG_CAP_IDENTIFY,
        "snapshot" => syscall_number::DEBUG_SNAPSHOT,
        "name-thread" => syscall_number::DEBUG_NAME_THREAD,
        _ => return println!(realm, "has no part in this test"),
    };
    println!(realm, "making debug system call {number}");
    syscall::syscall(number, Registers { cap_or_badge: u64::from(b'!'), ..Registers::default() });
    println!(realm, "debug system call {number} returned: the kernel has debug calls");
}
