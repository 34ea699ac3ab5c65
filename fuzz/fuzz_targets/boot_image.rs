//! The boot image (`system_config::image::BootImage::read`), read by the memory manager at
//! boot the way `memory-manager/src/boot.rs` does: the image, then its configuration
//! (`system_config::decode`), then each realm's program (`memory_manager::program::Program::
//! parse`, the ELF checks). The input's bytes are also parsed as one program on their own,
//! so the ELF checks are fuzzed directly too. Whatever the bytes, nothing panics; an image
//! that reads re-writes to at most as many bytes and reads back to itself; a program that
//! parses has its segments inside the program window and its file, on pages of their own,
//! its entry point in an executable segment, and every page's bytes inside the page.
#![no_main]

use ipc::abi::{PAGE_BYTES, PROGRAM_WINDOW};
use libfuzzer_sys::fuzz_target;
use memory_manager::program::Program;
use system_config::image::BootImage;

fn check_program(elf: &[u8]) {
    let Ok(program) = Program::parse(elf) else { return };
    let mut pages = 0;
    let range = elf.as_ptr_range();
    for (index, segment) in program.segments.iter().enumerate() {
        let end = segment.vaddr + segment.memory_bytes;
        assert!(PROGRAM_WINDOW.start <= segment.vaddr && end <= PROGRAM_WINDOW.end);
        assert!(segment.file_bytes.len() as u64 <= segment.memory_bytes);
        let bytes = segment.file_bytes.as_ptr_range();
        assert!(
            segment.file_bytes.is_empty() || (range.start <= bytes.start && bytes.end <= range.end)
        );
        let span = segment.pages();
        assert!(span.start % PAGE_BYTES == 0 && span.end % PAGE_BYTES == 0);
        for other in &program.segments[..index] {
            let theirs = other.pages();
            assert!(span.end <= theirs.start || theirs.end <= span.start, "segments share a page");
        }
        let mut page = span.start;
        let mut copied = 0;
        while page < span.end {
            let (offset, bytes) = segment.bytes_on_page(page);
            assert!(offset as u64 + bytes.len() as u64 <= PAGE_BYTES);
            copied += bytes.len();
            page += PAGE_BYTES;
            pages += 1;
        }
        assert_eq!(copied, segment.file_bytes.len(), "every file byte lands on one page");
    }
    assert_eq!(program.page_count(), pages);
    assert!(program.segments.iter().any(|segment| {
        segment.executable
            && (segment.vaddr..segment.vaddr + segment.memory_bytes).contains(&program.entry)
    }));
}

fuzz_target!(|bytes: &[u8]| {
    check_program(bytes);
    let Ok(image) = BootImage::read(bytes) else { return };
    let written = image.write().expect("an image that reads writes");
    assert!(written.len() <= bytes.len());
    assert_eq!(BootImage::read(&written), Ok(image.clone()));
    let Ok(config) = system_config::decode(image.config) else { return };
    for id in config.realm_ids() {
        let realm = config.realm(id).expect("the ids of a checked configuration are its own");
        if let Some(elf) = image.program(&realm.program) {
            check_program(elf);
        }
    }
});
