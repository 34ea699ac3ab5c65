//! The binary form that the build hands to the memory manager: one version byte, then the
//! [`SystemConfig`] in postcard, nothing after it.
//!
//! [`decode`] runs at boot, without allocation, and accepts only a configuration that passes
//! every rule ([`CheckedConfig::new`]). [`encode`] (feature `host`) refuses to write one that
//! would not.

use core::fmt;

use crate::model::SystemConfig;
use crate::rules::{CheckedConfig, Finding, NoLines};

/// Why [`decode`] refused its bytes: they are not an encoded configuration, or the
/// configuration breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes start with a format version this code does not read.
    UnsupportedVersion { found: u8, expected: u8 },
    /// postcard could not decode the bytes (truncated, bad UTF-8, a list over its bound...).
    Malformed(postcard::Error),
    /// Bytes were left over after the configuration.
    TrailingBytes { count: usize },
    /// The configuration breaks a rule: the first finding of the rule engine ([`Refusal`]
    /// prints it with the names of the configuration).
    Refused(Finding),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnsupportedVersion { found, expected } => {
                write!(f, "format version {found}, expected {expected}")
            }
            DecodeError::Malformed(error) => write!(f, "malformed configuration: {error}"),
            DecodeError::TrailingBytes { count } => {
                write!(f, "{count} bytes after the configuration")
            }
            DecodeError::Refused(finding) => {
                write!(f, "error[{}] at {:?}", finding.rule(), finding.at)
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// The first byte of every encoded configuration. Bumped whenever the model's layout changes,
/// so that a memory manager never misreads a configuration built for another version.
pub const FORMAT_VERSION: u8 = 6;

/// Decodes and fully re-checks a configuration made by [`encode`].
///
/// Never panics, whatever the bytes: a wrong version, malformed or trailing bytes, and the
/// first broken rule are reported as a [`DecodeError`].
pub fn decode(bytes: &[u8]) -> Result<CheckedConfig, DecodeError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or(DecodeError::Malformed(postcard::Error::DeserializeUnexpectedEnd))?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version, expected: FORMAT_VERSION });
    }
    let (config, rest): (SystemConfig, &[u8]) =
        postcard::take_from_bytes(body).map_err(DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes { count: rest.len() });
    }
    CheckedConfig::new(config).map_err(DecodeError::Refused)
}

/// A configuration that [`decode`] refused, as a sentence: `error[code]: ` and the finding's
/// sentence, with the names of the configuration in `bytes`, which it decodes again (the
/// error itself stays small, and there is no allocator at boot). Prints only the code and the
/// item if the bytes do not decode.
pub struct Refusal<'a> {
    /// The bytes given to [`decode`].
    pub bytes: &'a [u8],
    pub finding: Finding,
}

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finding = &self.finding;
        write!(f, "error[{}]: ", finding.rule())?;
        let body = self.bytes.get(1..).unwrap_or_default();
        match postcard::take_from_bytes::<SystemConfig>(body) {
            Ok((config, _)) => write!(f, "{}", finding.sentence(&config, &NoLines)),
            Err(_) => write!(f, "at {:?}", finding.at),
        }
    }
}

/// Why [`encode`] refused a configuration.
#[cfg(feature = "host")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The configuration breaks a rule, so the memory manager would refuse it at boot.
    Invalid(crate::rules::Finding),
    /// postcard could not serialise it.
    Serialize(postcard::Error),
}

#[cfg(feature = "host")]
impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::Invalid(finding) => {
                write!(f, "invalid configuration: error[{}] at {:?}", finding.rule(), finding.at)
            }
            EncodeError::Serialize(error) => write!(f, "cannot serialise: {error}"),
        }
    }
}

#[cfg(feature = "host")]
impl std::error::Error for EncodeError {}

/// Encodes a configuration for the memory manager, after checking it as [`decode`] will.
#[cfg(feature = "host")]
pub fn encode(config: &SystemConfig) -> Result<std::vec::Vec<u8>, EncodeError> {
    if let Some(finding) = crate::rules::first_finding(config) {
        return Err(EncodeError::Invalid(finding));
    }
    let mut bytes = std::vec![FORMAT_VERSION];
    let body = postcard::to_allocvec(config).map_err(EncodeError::Serialize)?;
    bytes.extend_from_slice(&body);
    Ok(bytes)
}
