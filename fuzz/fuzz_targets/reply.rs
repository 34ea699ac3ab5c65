//! Replies (`ipc::decode_reply`, `ipc::realm::decode_realm_reply`): what a realm's runtime
//! decodes from the memory manager's answer. A realm trusts nothing, so both decoders take any
//! label and words: decoding never panics, and what decodes re-encodes to exactly the same
//! label and words (one reply, one encoding).
#![no_main]

use ipc::realm::{decode_realm_reply, encode_realm_reply};
use ipc::{decode_reply, encode_reply};
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::RawMessage;

fuzz_target!(|message: RawMessage| {
    let (label, words) = message.parts();
    if let Ok(reply) = decode_reply(label, &words) {
        let encoded = encode_reply(&reply);
        assert_eq!(encoded.label(), label);
        assert_eq!(encoded.words(), &words[..]);
    }
    if let Ok(reply) = decode_realm_reply(label, &words) {
        let encoded = encode_realm_reply(&reply);
        assert_eq!(encoded.label(), label);
        assert_eq!(encoded.words(), &words[..]);
    }
});
