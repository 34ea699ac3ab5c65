//! Names (`ipc::Name`, which is `vocabulary::Name`): service and realm names, from bytes
//! (`Name::from_bytes`) and from the words of a request (a connect's service name, `Name::read`
//! behind `Request::decode`). The verdict is exactly the documented rule (1 to
//! `MAX_NAME_BYTES` bytes of lowercase ASCII letters, digits and `-`), the wire decoder gives the same verdict as `from_bytes` for the
//! same bytes, and an accepted name keeps its bytes and survives the wire.
#![no_main]

use ipc::{MAX_NAME_BYTES, Name, NameError, Request};
use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::words_of;

/// The rule, written out independently of `vocabulary::name`.
fn verdict(bytes: &[u8]) -> Result<(), NameError> {
    if bytes.is_empty() {
        return Err(NameError::Empty);
    }
    if bytes.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { length: bytes.len() as u64 });
    }
    for (index, &byte) in bytes.iter().enumerate() {
        if !(byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-') {
            return Err(NameError::InvalidByte { index: index as u8, byte });
        }
    }
    Ok(())
}

fuzz_target!(|bytes: &[u8]| {
    let name = Name::from_bytes(bytes);
    assert_eq!(name.map(|_| ()), verdict(bytes));
    // The same bytes as a connect's service name on the wire.
    let mut words = vec![bytes.len() as u64];
    words.extend(words_of(bytes));
    // No interface: its presence word.
    words.push(0);
    let decoded = Request::decode(2, &words);
    match name {
        Ok(name) => {
            assert_eq!(name.as_bytes(), bytes);
            assert_eq!(name.as_str().as_bytes(), bytes);
            // On the wire: the length word, then the bytes rounded up to whole words (and the
            // interface's presence word).
            assert_eq!(1 + name.len().div_ceil(8) + 1, words.len());
            assert_eq!(decoded, Ok(Request::Connect { service: name, interface: None }));
            let encoded = Request::Connect { service: name, interface: None }.encode();
            assert_eq!(encoded.words(), &words[..]);
        }
        Err(error) => {
            let refused = decoded.expect_err("the wire accepted a name from_bytes refuses");
            // The wire names the field, and otherwise says what from_bytes says.
            match refused {
                ipc::Malformed::BadName { error: wire, .. } => assert_eq!(wire, error),
                other => panic!("{bytes:?}: from_bytes says {error:?}, the wire {other:?}"),
            }
        }
    }
});
