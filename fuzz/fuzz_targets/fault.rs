//! Fault messages (`sel4::fault::Fault::decode`): what the memory manager reads on a realm's
//! fault endpoint. The kernel writes the words, but they carry the realm's registers, and a
//! realm can also send any message of its own there. Any message info word and any words
//! either decode to a fault or are refused with a reason that matches what was wrong: a
//! truncation names a length the message really lacks, and a decoded fault's instruction
//! address is where the kernel's layout puts it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sel4::MessageInfo;
use sel4::fault::{Fault, FaultDecodeError};

fuzz_target!(|input: (u64, Vec<u64>)| {
    let (info_word, words) = input;
    let info = MessageInfo::from_word(info_word);
    let available = info.length().min(words.len());
    match Fault::decode(info, &words) {
        Ok(fault) => {
            // The instruction address is the first word, except after an unknown system call,
            // whose first 15 words are the general registers.
            let ip_word = if matches!(fault, Fault::UnknownSyscall { .. }) { 15 } else { 0 };
            assert_eq!(Some(&fault.ip()), words.get(ip_word));
        }
        Err(FaultDecodeError::Truncated { label, length, needed }) => {
            assert_eq!(label, info.label());
            assert_eq!(length, available);
            assert!(length < needed, "truncated at {length} of {needed} words");
        }
        Err(FaultDecodeError::NotAFault { label }) => assert_eq!(label, info.label()),
        Err(FaultDecodeError::UnknownLookupFailure { kind }) => assert!(!(1..=4).contains(&kind)),
    }
});
