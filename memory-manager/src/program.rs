//! Realm programs: which pages an ELF asks for, with what rights and contents.
//!
//! The memory manager trusts no input, and a program is input: every header is checked
//! (64-bit little-endian x86_64 executable, load segments inside the realm's program
//! window, file ranges inside the file, no two segments on one page, an entry point in an
//! executable segment) before anything is mapped.

use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use heapless::Vec;

use ipc::abi::{PAGE_BYTES, PROGRAM_WINDOW};

/// The most load segments a program may have.
pub const MAX_SEGMENTS: usize = 8;

/// Why a program cannot be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramError {
    /// Not an ELF file the parser accepts.
    NotElf,
    /// An ELF, but not a 64-bit x86_64 executable.
    WrongKind,
    TooManySegments,
    /// A segment outside the program window, or wrapping around.
    SegmentOutOfWindow {
        vaddr: u64,
    },
    /// A segment's file bytes lie outside the file, or it has more file bytes than memory.
    SegmentOutOfFile {
        vaddr: u64,
    },
    /// Two segments share a page.
    SegmentsOverlap {
        vaddr: u64,
    },
    /// The entry point is not in an executable segment.
    BadEntry {
        entry: u64,
    },
}

impl core::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProgramError::NotElf => write!(f, "not an ELF file"),
            ProgramError::WrongKind => write!(f, "not a 64-bit x86_64 executable"),
            ProgramError::TooManySegments => write!(f, "more than {MAX_SEGMENTS} load segments"),
            ProgramError::SegmentOutOfWindow { vaddr } => {
                write!(f, "segment at {vaddr:#x} lies outside the program window")
            }
            ProgramError::SegmentOutOfFile { vaddr } => {
                write!(f, "segment at {vaddr:#x} reaches past the end of the file")
            }
            ProgramError::SegmentsOverlap { vaddr } => {
                write!(f, "segment at {vaddr:#x} shares a page with another")
            }
            ProgramError::BadEntry { entry } => {
                write!(f, "entry point {entry:#x} is not in an executable segment")
            }
        }
    }
}

/// One load segment, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub vaddr: u64,
    pub memory_bytes: u64,
    /// The bytes the file gives; the rest of the segment is zero.
    pub file_bytes: &'a [u8],
    pub writable: bool,
    pub executable: bool,
}

impl Segment<'_> {
    /// The first page and the end of the last page the segment touches.
    pub fn pages(&self) -> core::ops::Range<u64> {
        let first = self.vaddr / PAGE_BYTES * PAGE_BYTES;
        let end = (self.vaddr + self.memory_bytes).div_ceil(PAGE_BYTES) * PAGE_BYTES;
        first..end
    }

    /// The file bytes that land on the page at `page`, and their offset in that page.
    pub fn bytes_on_page(&self, page: u64) -> (usize, &[u8]) {
        let page_end = page + PAGE_BYTES;
        let file_end = self.vaddr + self.file_bytes.len() as u64;
        let start = self.vaddr.max(page);
        let end = file_end.min(page_end);
        if start >= end {
            return (0, &[]);
        }
        let from = (start - self.vaddr) as usize;
        let to = (end - self.vaddr) as usize;
        ((start - page) as usize, self.file_bytes.get(from..to).unwrap_or(&[]))
    }
}

/// A program, checked and ready to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program<'a> {
    pub entry: u64,
    pub segments: Vec<Segment<'a>, MAX_SEGMENTS>,
}

impl<'a> Program<'a> {
    /// Reads and checks the ELF file `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ProgramError> {
        let file =
            ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(|_| ProgramError::NotElf)?;
        let header = &file.ehdr;
        if header.class != elf::file::Class::ELF64
            || header.e_machine != EM_X86_64
            || header.e_type != ET_EXEC
        {
            return Err(ProgramError::WrongKind);
        }
        let headers = file.segments().ok_or(ProgramError::NotElf)?;
        let mut segments: Vec<Segment<'a>, MAX_SEGMENTS> = Vec::new();
        for header in headers.iter().filter(|header| header.p_type == PT_LOAD && header.p_memsz > 0)
        {
            let vaddr = header.p_vaddr;
            let end = vaddr.checked_add(header.p_memsz);
            if vaddr < PROGRAM_WINDOW.start || end.is_none_or(|end| end > PROGRAM_WINDOW.end) {
                return Err(ProgramError::SegmentOutOfWindow { vaddr });
            }
            let file_range = usize::try_from(header.p_offset)
                .ok()
                .zip(usize::try_from(header.p_filesz).ok())
                .and_then(|(offset, size)| Some(offset..offset.checked_add(size)?));
            let file_bytes = file_range
                .filter(|_| header.p_filesz <= header.p_memsz)
                .and_then(|range| bytes.get(range))
                .ok_or(ProgramError::SegmentOutOfFile { vaddr })?;
            let segment = Segment {
                vaddr,
                memory_bytes: header.p_memsz,
                file_bytes,
                writable: header.p_flags & PF_W != 0,
                executable: header.p_flags & PF_X != 0,
            };
            let pages = segment.pages();
            if segments.iter().any(|other| {
                let theirs = other.pages();
                pages.start < theirs.end && theirs.start < pages.end
            }) {
                return Err(ProgramError::SegmentsOverlap { vaddr });
            }
            segments.push(segment).map_err(|_| ProgramError::TooManySegments)?;
        }
        let entry = header.e_entry;
        let entry_ok = segments.iter().any(|segment| {
            segment.executable
                && (segment.vaddr..segment.vaddr + segment.memory_bytes).contains(&entry)
        });
        if !entry_ok {
            return Err(ProgramError::BadEntry { entry });
        }
        Ok(Self { entry, segments })
    }

    /// The number of pages the program's segments occupy.
    pub fn page_count(&self) -> u64 {
        let pages = |segment: &Segment<'_>| {
            let range = segment.pages();
            (range.end - range.start) / PAGE_BYTES
        };
        self.segments.iter().map(pages).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One program header: (vaddr, file offset, file size, memory size, flags).
    type Header = (u64, u64, u64, u64, u32);

    /// A minimal ELF64 x86_64 executable with `headers`, `length` bytes long, whose bytes
    /// after the headers are their own offset (mod 251), so copied ranges can be checked.
    fn elf(entry: u64, headers: &[Header], length: usize) -> std::vec::Vec<u8> {
        let mut bytes: std::vec::Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
        let put = |bytes: &mut [u8], at: usize, value: &[u8]| {
            bytes[at..at + value.len()].copy_from_slice(value)
        };
        put(&mut bytes, 0, &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        put(&mut bytes, 16, &2u16.to_le_bytes()); // ET_EXEC
        put(&mut bytes, 18, &62u16.to_le_bytes()); // EM_X86_64
        put(&mut bytes, 20, &1u32.to_le_bytes());
        put(&mut bytes, 24, &entry.to_le_bytes());
        put(&mut bytes, 32, &64u64.to_le_bytes()); // program headers right after this header
        put(&mut bytes, 40, &0u64.to_le_bytes());
        put(&mut bytes, 48, &0u32.to_le_bytes());
        put(&mut bytes, 52, &64u16.to_le_bytes());
        put(&mut bytes, 54, &56u16.to_le_bytes());
        put(&mut bytes, 56, &(headers.len() as u16).to_le_bytes());
        put(&mut bytes, 58, &64u16.to_le_bytes());
        put(&mut bytes, 60, &0u16.to_le_bytes());
        put(&mut bytes, 62, &0u16.to_le_bytes());
        for (index, &(vaddr, offset, file_size, memory_size, flags)) in headers.iter().enumerate() {
            let at = 64 + 56 * index;
            put(&mut bytes, at, &PT_LOAD.to_le_bytes());
            put(&mut bytes, at + 4, &flags.to_le_bytes());
            put(&mut bytes, at + 8, &offset.to_le_bytes());
            put(&mut bytes, at + 16, &vaddr.to_le_bytes());
            put(&mut bytes, at + 24, &vaddr.to_le_bytes());
            put(&mut bytes, at + 32, &file_size.to_le_bytes());
            put(&mut bytes, at + 40, &memory_size.to_le_bytes());
            put(&mut bytes, at + 48, &PAGE_BYTES.to_le_bytes());
        }
        bytes
    }

    const RX: u32 = PF_X | 4;
    const RW: u32 = PF_W | 4;

    #[test]
    fn a_program_is_read_with_its_segments_and_pages() {
        let bytes = elf(
            0x40_0010,
            &[(0x40_0000, 0x1000, 0x1800, 0x1800, RX), (0x40_3100, 0x3000, 0x10, 0x2000, RW)],
            0x3100,
        );
        let program = Program::parse(&bytes).unwrap();
        assert_eq!(program.entry, 0x40_0010);
        assert_eq!(program.segments.len(), 2);
        let (text, data) = (&program.segments[0], &program.segments[1]);
        assert!(text.executable && !text.writable && data.writable && !data.executable);
        assert_eq!(text.pages(), 0x40_0000..0x40_2000);
        assert_eq!(data.pages(), 0x40_3000..0x40_6000);
        assert_eq!(program.page_count(), 5);
        // The second text page gets the file's bytes 0x2000..0x2800 at offset 0.
        let (offset, on_page) = text.bytes_on_page(0x40_1000);
        assert_eq!((offset, on_page.len(), on_page[0]), (0, 0x800, (0x2000 % 251) as u8));
        // Data starts 0x100 into its first page; its bss pages carry no file bytes.
        assert_eq!(data.bytes_on_page(0x40_3000).0, 0x100);
        assert_eq!(data.bytes_on_page(0x40_3000).1.len(), 0x10);
        assert_eq!(data.bytes_on_page(0x40_4000).1.len(), 0);
    }

    #[test]
    fn every_bad_program_is_refused_with_its_reason() {
        let text = |vaddr| (vaddr, 0x1000, 0x100, 0x100, RX);
        assert_eq!(Program::parse(b"not an elf"), Err(ProgramError::NotElf));
        let mut wrong_machine = elf(0x40_0000, &[text(0x40_0000)], 0x1100);
        wrong_machine[18] = 3;
        assert_eq!(Program::parse(&wrong_machine), Err(ProgramError::WrongKind));
        assert_eq!(
            Program::parse(&elf(0x1000, &[text(0x1000)], 0x1100)),
            Err(ProgramError::SegmentOutOfWindow { vaddr: 0x1000 })
        );
        assert_eq!(
            Program::parse(&elf(0x40_0000, &[text(0x40_0000)], 0x1050)),
            Err(ProgramError::SegmentOutOfFile { vaddr: 0x40_0000 })
        );
        assert_eq!(
            Program::parse(&elf(0x40_0000, &[text(0x40_0000), text(0x40_0800)], 0x1100)),
            Err(ProgramError::SegmentsOverlap { vaddr: 0x40_0800 })
        );
        assert_eq!(
            Program::parse(&elf(0x50_0000, &[text(0x40_0000)], 0x1100)),
            Err(ProgramError::BadEntry { entry: 0x50_0000 })
        );
        let nine: std::vec::Vec<Header> =
            (0..9).map(|index| (0x40_0000 + index * 0x1000, 0x1000, 0x10, 0x10, RX)).collect();
        assert_eq!(
            Program::parse(&elf(0x40_0000, &nine, 0x1100)),
            Err(ProgramError::TooManySegments)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = elf(0x40_0000, &[(0x40_0000, 0x1000, 0x100, 0x100, RX)], 0x1100);
        for cut in 0..valid.len() {
            let _ = Program::parse(&valid[..cut]);
        }
        for index in 0..valid.len().min(0x200) {
            let mut corrupt = valid.clone();
            corrupt[index] ^= 0xff;
            let _ = Program::parse(&corrupt);
        }
    }
}
