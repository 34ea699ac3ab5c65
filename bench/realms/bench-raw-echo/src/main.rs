//! Benchmark server `raw-echo`: answers every message with the same words, with nothing
//! but seL4 ReplyRecv: the baseline a typed call is compared with.
#![forbid(unsafe_code)]
#![no_std]
#![no_main]

use realm_runtime::Realm;
use realm_runtime::sel4::MessageInfo;

realm_runtime::main!(main);

fn main(realm: &mut Realm) {
    let service = realm.register("raw-echo").expect("registering raw-echo");
    realm.announce_serving();
    let endpoint = service.endpoint();
    let buffer = realm.ipc_buffer();
    let mut received = endpoint.recv(buffer);
    loop {
        // The words are still in the buffer: reply with the same label-0 message.
        let echo =
            MessageInfo::new(0, 0, received.info.length()).unwrap_or(MessageInfo::from_word(0));
        received = endpoint.reply_recv(buffer, echo);
    }
}
