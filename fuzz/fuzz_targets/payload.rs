//! Typed-call payloads (`realm_runtime::payload`): the header word and postcard bytes a
//! service decodes from a client's request and a client from a service's reply, and the
//! interface messages they carry (the demo's `log`, `kv` and `plugin-api` types, and a
//! plain-data value). Whatever the words: the header's length never reaches past the message
//! or `MAX_PAYLOAD_BYTES`, a status nobody sends is refused, the bytes re-pack to the same
//! header and bytes, and every value that decodes re-encodes within one message and decodes
//! to itself.
#![no_main]

use std::fmt::Debug;

use demo_protocols::{KvRequest, KvResponse, LogLine, PluginRequest, PluginResponse};
use libfuzzer_sys::fuzz_target;
use realm_runtime::payload::{
    self, MAX_PAYLOAD_BYTES, PayloadError, Status, decode_bytes, encode_bytes,
};
// The message words of one IPC message: the kernel's fact, defined once in the binding.
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_fuzz::Word;
use vocabulary::limits::MAX_MESSAGE_WORDS as MAX_WORDS;

/// A typed value that decodes from `words` re-encodes and decodes to itself.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(words: &[u64]) {
    let Ok((Status::Ok, Some(value))) = payload::decode::<T>(words) else { return };
    let mut again = [0u64; MAX_WORDS];
    let used = payload::encode(&value, Status::Ok, &mut again).expect("what fitted fits again");
    assert!(used <= words.len() && used <= MAX_WORDS);
    assert_eq!(payload::decode::<T>(&again[..used]), Ok((Status::Ok, Some(value))));
}

fuzz_target!(|input: Vec<Word>| {
    let words: Vec<u64> = input.iter().map(|word| word.value()).collect();
    match decode_bytes(&words) {
        Ok((status, bytes)) => {
            let header = words[0];
            assert_eq!(bytes.len() as u64, header & 0xffff_ffff);
            assert_eq!(status as u64, header >> 32);
            assert!(bytes.len() <= MAX_PAYLOAD_BYTES && bytes.len() <= 8 * (words.len() - 1));
            let mut again = [0u64; MAX_WORDS];
            let used = encode_bytes(bytes, status, &mut again).expect("what fitted fits again");
            assert_eq!(decode_bytes(&again[..used]), Ok((status, bytes)));
        }
        Err(error) => {
            let header = words.first().copied().unwrap_or(0);
            assert_eq!(error, PayloadError::BadHeader { header });
        }
    }
    round_trip::<LogLine>(&words);
    round_trip::<KvRequest>(&words);
    round_trip::<KvResponse>(&words);
    round_trip::<PluginRequest>(&words);
    round_trip::<PluginResponse>(&words);
    if let Ok((Status::Ok, Some(value))) = payload::decode_plain::<[u64; 4]>(&words) {
        let mut again = [0u64; MAX_WORDS];
        let used = payload::encode_plain(&value, Status::Ok, &mut again).expect("32 bytes fit");
        assert_eq!(used, 5);
        assert_eq!(
            payload::decode_plain::<[u64; 4]>(&again[..used]),
            Ok((Status::Ok, Some(value)))
        );
    }
});
