//! The boot image: the encoded system configuration plus every realm program's ELF, packed
//! by the `qemu` tool and embedded in the memory manager, which reads it at boot.
//!
//! Postcard with borrowed fields, so reading it at boot copies nothing and allocates nothing.
//! The first byte is [`IMAGE_FORMAT_VERSION`].

use heapless::Vec;
use serde::{Deserialize, Serialize};

/// The most programs one image carries (one per realm at most).
pub const MAX_PROGRAMS: usize = crate::MAX_REALMS;
/// The version byte every image starts with.
pub const IMAGE_FORMAT_VERSION: u8 = 1;

/// One realm program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program<'a> {
    pub name: &'a str,
    pub elf: &'a [u8],
}

/// What the memory manager boots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootImage<'a> {
    /// The configuration, as [`crate::encode`] wrote it (decode it with [`crate::decode`]).
    pub config: &'a [u8],
    #[serde(borrow)]
    pub programs: Vec<Program<'a>, MAX_PROGRAMS>,
}

/// Why an image could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    Empty,
    UnsupportedVersion { found: u8 },
    Malformed(postcard::Error),
    TrailingBytes { count: usize },
}

impl core::fmt::Display for ImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ImageError::Empty => write!(f, "the boot image is empty"),
            ImageError::UnsupportedVersion { found } => write!(
                f,
                "boot image format {found}, this memory manager reads {IMAGE_FORMAT_VERSION}"
            ),
            ImageError::Malformed(error) => write!(f, "the boot image is malformed: {error}"),
            ImageError::TrailingBytes { count } => {
                write!(f, "the boot image has {count} bytes after its end")
            }
        }
    }
}

impl<'a> BootImage<'a> {
    /// Reads an image, checking its version and that nothing follows it.
    pub fn read(bytes: &'a [u8]) -> Result<Self, ImageError> {
        let (&version, rest) = bytes.split_first().ok_or(ImageError::Empty)?;
        if version != IMAGE_FORMAT_VERSION {
            return Err(ImageError::UnsupportedVersion { found: version });
        }
        let (image, trailing) = postcard::take_from_bytes(rest).map_err(ImageError::Malformed)?;
        if !trailing.is_empty() {
            return Err(ImageError::TrailingBytes { count: trailing.len() });
        }
        Ok(image)
    }

    /// The ELF of program `name`.
    pub fn program(&self, name: &str) -> Option<&'a [u8]> {
        self.programs.iter().find(|program| program.name == name).map(|program| program.elf)
    }

    /// Writes the image (host side).
    #[cfg(feature = "host")]
    pub fn write(&self) -> Result<std::vec::Vec<u8>, postcard::Error> {
        let mut bytes = std::vec![IMAGE_FORMAT_VERSION];
        bytes.extend(postcard::to_allocvec(self)?);
        Ok(bytes)
    }
}
