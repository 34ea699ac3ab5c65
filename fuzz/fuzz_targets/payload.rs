//! Typed-call payloads (`interface::Wire`, `interface::Response`): the words a service decodes
//! as an operation's arguments, and the reply a client classifies, for the demo's interfaces
//! (`demo_protocols`: `log`, `kv`, `plugin-api`) and words-encoded values. Whatever the label
//! and the words: decoding never panics; an argument that decodes took at most the words
//! given, re-encodes within one message and decodes to itself from exactly its own words; a
//! reply decodes to a value or an application error only under `OK` or `ERROR`, re-encodes
//! under the same label and decodes to itself, and the message-info word's fast path decides
//! exactly as the general one.
#![no_main]

use std::fmt::Debug;

use demo_protocols::{KvError, PluginError, Text};
use libfuzzer_sys::fuzz_target;
use realm_runtime::interface::{Response, Wire};
use realm_runtime::ipc::abi::label;
use switchboard_fuzz::{Label, RawMessage};
// The message words of one IPC message: the kernel's fact, defined once in the binding.
use vocabulary::limits::MAX_MESSAGE_WORDS as MAX_WORDS;

/// The message-info word's label field: 20 bits on seL4 5.0.0 (`sel4::message::MAX_LABEL`).
const MAX_LABEL: u64 = (1 << 20) - 1;
/// The message-info word's length field: 7 bits.
const MAX_LENGTH: usize = 0x7F;

/// An argument of type `T` that decodes from the start of `words`.
fn argument<T: Wire + PartialEq + Debug>(words: &[u64]) {
    let Ok((value, used)) = T::decode(words) else { return };
    assert!(used <= words.len());
    let mut again = [0u64; MAX_WORDS];
    let length = value.encode(&mut again).expect("what decoded fits again");
    assert_eq!(T::decode(&again[..length]), Ok((value, length)));
}

/// A reply with `label` and `words` to an operation whose declared result is `R`.
fn reply<R: Response + PartialEq + Debug>(label: u64, words: &[u64]) {
    let decoded = R::decode(label, words);
    if let Ok(result) = &decoded {
        assert!(label == label::OK || label == label::ERROR, "{label:#x} decoded as {result:?}");
        let mut again = [0u64; MAX_WORDS];
        let (label_again, length) = result.encode(&mut again).expect("what decoded fits again");
        assert_eq!(label_again, label);
        assert_eq!(R::decode(label, &again[..length]).as_ref(), Ok(result));
    }
    // The same reply as the kernel delivers it: its info word, the words at the start of the
    // message registers and whatever the registers held after them.
    if label <= MAX_LABEL && words.len() <= MAX_LENGTH {
        let info = label << 12 | words.len() as u64;
        let mut registers = words.to_vec();
        registers.resize(MAX_LENGTH.max(MAX_WORDS), 0xA5A5_A5A5_A5A5_A5A5);
        assert_eq!(R::decode_message(info, &registers), decoded);
    }
}

fuzz_target!(|message: RawMessage| {
    let (_, words) = message.parts();
    // Small labels are the kernel's error codes and operation numbers, or (from 128) the
    // runtime's reserved reply labels, where OK and ERROR are.
    let label = match message.label {
        Label::Small(small @ 0..128) => u64::from(small),
        Label::Small(small) => label::RESERVED.start + u64::from(small - 128),
        Label::Any(any) => any,
    };
    argument::<Text>(&words);
    argument::<KvError>(&words);
    argument::<PluginError>(&words);
    argument::<u64>(&words);
    argument::<[u64; 4]>(&words);
    argument::<[u8; 3]>(&words);
    reply::<()>(label, &words);
    reply::<u64>(label, &words);
    reply::<[u64; 4]>(label, &words);
    reply::<Result<Text, KvError>>(label, &words);
    reply::<Result<(), KvError>>(label, &words);
    reply::<Result<(), PluginError>>(label, &words);
    reply::<Result<Text, PluginError>>(label, &words);
});
