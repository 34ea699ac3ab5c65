//! The configuration decoder (`system_config::decode`): the bytes the memory manager reads
//! at boot and trusts nothing of. Whatever the bytes, decoding never panics; a configuration
//! it returns passes every boot rule (`SystemConfig::check`), re-encodes (`encode`, which
//! checks again) to at most as many bytes, and decodes from those to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(config) = system_config::decode(bytes) else { return };
    assert_eq!(config.check(), Ok(()));
    let encoded = system_config::encode(&config).expect("a checked configuration encodes");
    assert!(encoded.len() <= bytes.len());
    assert_eq!(system_config::decode(&encoded), Ok(config));
});
