//! Broker requests (`ipc::Request::decode`): the label and words a realm sends on the broker
//! endpoint. Whatever the words, decoding never panics; what decodes re-encodes to exactly
//! the same label and words (one request, one encoding) within `MAX_PROTOCOL_WORDS`; what is
//! refused is refused with a reason that travels back in a `MalformedRequest` reply intact.
#![no_main]

use ipc::{Error, MAX_PROTOCOL_WORDS, Request, decode_reply, encode_reply};
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::RawMessage;

fuzz_target!(|message: RawMessage| {
    let (label, words) = message.parts();
    match Request::decode(label, &words) {
        Ok(request) => {
            let encoded = request.encode();
            assert_eq!(encoded.label(), label);
            assert_eq!(encoded.words(), &words[..]);
            assert!(encoded.words().len() <= MAX_PROTOCOL_WORDS);
            assert_eq!(request.kind().code(), label);
        }
        Err(reason) => {
            let reply = Err(Error::MalformedRequest { reason });
            let encoded = encode_reply(&reply);
            assert!(encoded.words().len() <= MAX_PROTOCOL_WORDS);
            assert_eq!(decode_reply(encoded.label(), encoded.words()), Ok(reply));
        }
    }
});
