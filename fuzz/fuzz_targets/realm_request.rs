//! Realm requests (`ipc::realm::RealmRequest::decode`): what a realm asks the memory manager
//! about itself, on the broker endpoint (labels 32 and up), `Print`'s line of text included.
//! Decoding never panics; a label that is no realm request is `Ok(None)` (left to the broker
//! request decoder) and nothing else is; what decodes re-encodes to exactly the same words
//! (a `Print` from its text and cut flag); a panic part holds at most `PANIC_PART_BYTES`;
//! a `SignalAfter` asks for at most `MAX_SIGNAL_AFTER_NS`;
//! what is refused is refused with a reason that travels back in a reply intact.
#![no_main]

use ipc::Error;
use ipc::console::{LINE_WORDS, MAX_LINE_BYTES, encode_line, line_text};
use ipc::realm::{
    MAX_SIGNAL_AFTER_NS, PANIC_PART_BYTES, RealmRequest, RealmRequestKind, decode_realm_reply, encode_realm_reply,
};
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::RawMessage;

fuzz_target!(|message: RawMessage| {
    let (label, words) = message.parts();
    match RealmRequest::decode(label, &words) {
        Ok(None) => assert_eq!(RealmRequestKind::from_code(label), None),
        Ok(Some(RealmRequest::Print { line })) => {
            assert_eq!(label, RealmRequestKind::Print.code());
            assert!(usize::from(line.length) <= MAX_LINE_BYTES);
            assert!(words.len() <= LINE_WORDS);
            let mut text = [0u8; MAX_LINE_BYTES];
            let text = line_text(&words, line, &mut text);
            assert_eq!(text.len(), usize::from(line.length));
            let mut again = [0u64; LINE_WORDS];
            let used = encode_line(text, line.cut, &mut again);
            assert_eq!(&again[..used], &words[..]);
        }
        Ok(Some(request)) => {
            assert_eq!(request.kind().code(), label);
            if let RealmRequest::Panicked { part } = request {
                assert!(part.as_bytes().len() <= PANIC_PART_BYTES);
            }
            if let RealmRequest::SignalAfter { nanoseconds } = request {
                assert!(nanoseconds <= MAX_SIGNAL_AFTER_NS);
            }
            let encoded = request.encode();
            assert_eq!(encoded.label(), label);
            assert_eq!(encoded.words(), &words[..]);
        }
        Err(reason) => {
            assert!(RealmRequestKind::from_code(label).is_some());
            let reply = Err(Error::MalformedRequest { reason });
            let encoded = encode_realm_reply(&reply);
            assert_eq!(decode_realm_reply(encoded.label(), encoded.words()), Ok(reply));
        }
    }
});
