//! Test realm `mallory`: sends the broker malformed requests, then tries to reach a service
//! through every slot of her CSpace. Each malformed request must get an error (and the
//! broker must go on serving the others); no slot may reach anything. Raw seL4 on purpose:
//! the messages are ones no typed client sends.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::interface::reply::KERNEL_ERROR_CODES;
use realm_runtime::println;
use realm_runtime::sel4::MessageInfo;
use realm_runtime::sel4::cap::Endpoint;
use realm_runtime::{Realm, ipc};

const BROKER: Endpoint = Endpoint::from_cptr(ipc::abi::slot::BROKER);

realm_runtime::main!(main);

/// Malformed requests: (label, words).
const MALFORMED: &[(u64, &[u64])] = &[
    (999, &[]),                                           // no such request
    (2, &[]),                                             // connect without a name
    (2, &[40, 0, 0, 0, 0, 0]),                            // a 40-byte name
    (2, &[2, u64::from_le_bytes(*b"k\x01\0\0\0\0\0\0")]), // a name with a control byte
    (3, &[5, 6]),                                         // disconnect with a trailing word
];

fn main(realm: &mut Realm) {
    for &(label, words) in MALFORMED {
        let buffer = realm.ipc_buffer();
        let info = buffer.set_message(label, words, &[]).expect("a small message");
        let reply = BROKER.call(buffer, info);
        match ipc::decode_reply(reply.label(), buffer.message(reply)) {
            Ok(Err(error)) => println!(realm, "request {label} {words:?}: {error}"),
            other => println!(realm, "request {label} {words:?}: unexpected {other:?}"),
        }
    }
    let mut reached = 0;
    let mut tried = 0;
    for slot in (0..1 << ipc::abi::REALM_CNODE_BITS)
        .filter(|&slot| slot != ipc::abi::slot::BROKER && slot != ipc::abi::slot::FAULT)
    {
        tried += 1;
        let info = MessageInfo::new(0, 0, 1).expect("a one-word message");
        // The kernel answers a call through a slot that reaches no service with its error
        // code as the label (seL4 5.0.0's 1..=10); any other label is an answer from
        // something: a service (a typed one answers label 0, no operation of any interface,
        // with `BAD_REQUEST`), or the memory manager.
        let label = Endpoint::from_cptr(slot).call(realm.ipc_buffer(), info).label();
        if !(1..=KERNEL_ERROR_CODES).contains(&label) {
            reached += 1;
            println!(realm, "slot {slot} reached something");
        }
    }
    println!(realm, "tried {tried} slots, {reached} reached anything");
}
