//! The binary form that the build hands to the memory manager: one version byte, then the
//! [`SystemConfig`] in postcard, nothing after it.
//!
//! [`decode`] runs at boot, without allocation, and accepts only a configuration that passes
//! [`SystemConfig::check`]. [`encode`] (feature `host`) refuses to write one that would not.

use crate::check::BootCheckError;
use crate::model::SystemConfig;

/// The first byte of every encoded configuration. Bumped whenever the model's layout changes,
/// so that a memory manager never misreads a configuration built for another version.
pub const FORMAT_VERSION: u8 = 4;

/// Decodes and fully re-checks a configuration made by [`encode`].
///
/// Never panics, whatever the bytes: a wrong version, malformed or trailing bytes, and every
/// broken rule are reported as a [`BootCheckError`].
pub fn decode(bytes: &[u8]) -> Result<SystemConfig, BootCheckError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or(BootCheckError::Malformed(postcard::Error::DeserializeUnexpectedEnd))?;
    if version != FORMAT_VERSION {
        return Err(BootCheckError::UnsupportedVersion {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let (config, rest): (SystemConfig, &[u8]) =
        postcard::take_from_bytes(body).map_err(BootCheckError::Malformed)?;
    if !rest.is_empty() {
        return Err(BootCheckError::TrailingBytes { count: rest.len() });
    }
    config.check()?;
    Ok(config)
}

/// Why [`encode`] refused a configuration.
#[cfg(feature = "host")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The configuration breaks a rule, so the memory manager would refuse it at boot.
    Invalid(BootCheckError),
    /// postcard could not serialise it.
    Serialize(postcard::Error),
}

#[cfg(feature = "host")]
impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::Invalid(error) => write!(f, "invalid configuration: {error}"),
            EncodeError::Serialize(error) => write!(f, "cannot serialise: {error}"),
        }
    }
}

#[cfg(feature = "host")]
impl std::error::Error for EncodeError {}

/// Encodes a configuration for the memory manager, after checking it as [`decode`] will.
#[cfg(feature = "host")]
pub fn encode(config: &SystemConfig) -> Result<std::vec::Vec<u8>, EncodeError> {
    config.check().map_err(EncodeError::Invalid)?;
    let mut bytes = std::vec![FORMAT_VERSION];
    let body = postcard::to_allocvec(config).map_err(EncodeError::Serialize)?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}
