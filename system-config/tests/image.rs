//! The boot image round-trips and rejects what is not an image.

use system_config::image::{BootImage, IMAGE_FORMAT_VERSION, ImageError, Program};

fn sample() -> BootImage<'static> {
    let mut programs = heapless::Vec::new();
    programs.push(Program { name: "logger", elf: b"\x7fELF logger" }).unwrap();
    programs.push(Program { name: "kv-store", elf: b"\x7fELF kv" }).unwrap();
    BootImage { config: b"config bytes", programs }
}

#[test]
fn an_image_round_trips_and_finds_its_programs() {
    let bytes = sample().write().unwrap();
    assert_eq!(bytes[0], IMAGE_FORMAT_VERSION);
    let image = BootImage::read(&bytes).unwrap();
    assert_eq!(image, sample());
    assert_eq!(image.program("kv-store"), Some(&b"\x7fELF kv"[..]));
    assert_eq!(image.program("nope"), None);
}

#[test]
fn what_is_not_an_image_is_rejected_precisely() {
    assert_eq!(BootImage::read(&[]), Err(ImageError::Empty));
    assert_eq!(BootImage::read(&[9, 0]), Err(ImageError::UnsupportedVersion { found: 9 }));
    let mut bytes = sample().write().unwrap();
    bytes.push(0);
    assert_eq!(BootImage::read(&bytes), Err(ImageError::TrailingBytes { count: 1 }));
    bytes.truncate(10);
    assert!(matches!(BootImage::read(&bytes), Err(ImageError::Malformed(_))));
}
