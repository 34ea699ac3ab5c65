//! The build check of typed interfaces: what each realm program was built with, read from its
//! ELF file, compared with `system.toml` and with the system's other programs, after the
//! realm programs are built and before anything is packed or booted.
//!
//! # What a program records
//!
//! Each typed interface a program is built with (declared in its own code or in a crate it
//! links, such as `realms/protocols`) is recorded by the interface macro as a `#[used]` static
//! in the ELF section [`ipc::abi::interface_section::NAME`] (`.switchboard.interfaces`):
//! 48-byte entries, little-endian, a `u64` name length (1..=32), the name zero-padded to 32
//! bytes, the `u64` fingerprint. The linker script (`sel4-root-task/root-task.ld`) keeps the
//! section whatever `--gc-sections` drops, as a non-alloc section (`INFO`, address 0): it is in
//! the file for this check and in no load segment, so no realm maps it at run time. A crate is
//! linked, and its records kept, when the program names anything of it; a crate the program
//! never names is not linked at all (Rust loads only the crates a program uses).
//!
//! [`read_program`] reads the section: a program without it records nothing. An entry whose
//! size, name length, name (the one name rule, `vocabulary::Name`) or padding is wrong is an
//! error naming the program's file and the entry: the macro writes no such entry.
//!
//! # What is compared
//!
//! For each `[[service]]` with `interface = "X"` (provider realm R, running program P):
//!
//! - `interface-missing`: P records no interface named X. Points at the service's `interface`.
//! - `interface-ambiguous`: P records X with two fingerprints or more (two declarations of X
//!   linked into one program): which one it serves cannot be told. Points at the same place.
//! - `interface-fingerprint`: another program of the system records X with another
//!   fingerprint than P's. Points at the `program` of the first realm (in file order) that
//!   runs it; reported once per program and interface.
//!
//! These are the build tool's checks, not rules of `system_config`'s rule engine: the engine
//! checks a description alone and runs again at boot, where no program's section is read
//! (the boot image carries the programs stripped, without this section, and the broker
//! checks identities at each register and connect instead). So the codes are not in [`system_config::Rule`]; they print in the same
//! form, `system.toml:LINE:COLUMN: error[interface-...]: sentence`.
//!
//! # What it cannot know
//!
//! A record says which interfaces a program was *built with*, not which it serves or calls:
//! a program that links a protocol crate records every interface declared there. So a
//! provider that records X may still never register it with that interface (the broker then
//! refuses the register, `InterfaceMismatch`, at run time), and a program that records X
//! with another fingerprint is reported even if it never connects to X. Interfaces that no
//! `[[service]]` declares are not compared: nothing says which fingerprint is right.
//!
//! A system meant to reach the broker's `InterfaceMismatch` at run time (a QEMU test) must
//! still pass this check: leave `interface` out of the service (the broker then compares the
//! register's and the connect's identities alone), or give the provider a program that
//! records X but registers otherwise, or let the client record an interface of another name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use elf::ElfBytes;
use elf::abi::SHT_NOBITS;
use elf::endian::AnyEndian;
use ipc::InterfaceId;
use ipc::abi::interface_section::{ENTRY_BYTES, NAME as SECTION};
use system_config::SystemConfig;
use toml::de::{DeTable, DeValue};
use vocabulary::Name;

/// Bytes of an entry's name field.
const NAME_FIELD_BYTES: usize = 32;
/// Where an entry's name starts and its fingerprint starts.
const NAME_AT: usize = 8;
const FINGERPRINT_AT: usize = NAME_AT + NAME_FIELD_BYTES;

const _: () = assert!(FINGERPRINT_AT + 8 == ENTRY_BYTES);

/// What is wrong with a program's interface section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionError {
    /// The file is not an ELF file the reader accepts (the reader's words).
    NotElf(String),
    /// The section is compressed: the macro's entries never are.
    Compressed,
    /// The section's size is not a whole number of entries.
    Size { bytes: usize },
    /// Entry `entry` (from 0) gives a name length outside 1..=32.
    NameLength { entry: usize, length: u64 },
    /// Entry `entry`'s name breaks the one name rule (the rule's words).
    BadName { entry: usize, why: String },
    /// Entry `entry` has bytes other than zero after its name.
    Padding { entry: usize },
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionError::NotElf(why) => write!(f, "not an ELF file the reader accepts: {why}"),
            SectionError::Compressed => write!(f, "section {SECTION} is compressed"),
            SectionError::Size { bytes } => write!(
                f,
                "section {SECTION} has {bytes} bytes, not a whole number of {ENTRY_BYTES}-byte \
                 entries"
            ),
            SectionError::NameLength { entry, length } => write!(
                f,
                "section {SECTION}, entry {entry}: name length {length} is outside \
                 1..={NAME_FIELD_BYTES}"
            ),
            SectionError::BadName { entry, why } => {
                write!(f, "section {SECTION}, entry {entry}: the name is not a name: {why}")
            }
            SectionError::Padding { entry } => write!(
                f,
                "section {SECTION}, entry {entry}: the name field has bytes other than zero \
                 after the name"
            ),
        }
    }
}

impl std::error::Error for SectionError {}

/// The interfaces recorded in the ELF file `elf`, in section order (duplicates kept); none
/// when it has no [`SECTION`] section.
pub fn read_section(elf: &[u8]) -> Result<Vec<InterfaceId>, SectionError> {
    let file = ElfBytes::<AnyEndian>::minimal_parse(elf)
        .map_err(|error| SectionError::NotElf(error.to_string()))?;
    let header = file
        .section_header_by_name(SECTION)
        .map_err(|error| SectionError::NotElf(error.to_string()))?;
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    if header.sh_type == SHT_NOBITS {
        return Ok(Vec::new());
    }
    let (bytes, compression) =
        file.section_data(&header).map_err(|error| SectionError::NotElf(error.to_string()))?;
    if compression.is_some() {
        return Err(SectionError::Compressed);
    }
    decode_entries(bytes)
}

/// The interfaces in `bytes`, the contents of a [`SECTION`] section.
pub fn decode_entries(bytes: &[u8]) -> Result<Vec<InterfaceId>, SectionError> {
    if !bytes.len().is_multiple_of(ENTRY_BYTES) {
        return Err(SectionError::Size { bytes: bytes.len() });
    }
    bytes
        .chunks_exact(ENTRY_BYTES)
        .enumerate()
        .map(|(entry, bytes)| decode_entry(entry, bytes))
        .collect()
}

fn decode_entry(entry: usize, bytes: &[u8]) -> Result<InterfaceId, SectionError> {
    let word = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let length = word(0);
    let field = &bytes[NAME_AT..FINGERPRINT_AT];
    let name_bytes = match usize::try_from(length) {
        Ok(used @ 1..=NAME_FIELD_BYTES) => &field[..used],
        _ => return Err(SectionError::NameLength { entry, length }),
    };
    if field[name_bytes.len()..].iter().any(|&byte| byte != 0) {
        return Err(SectionError::Padding { entry });
    }
    let name = Name::from_bytes(name_bytes)
        .map_err(|error| SectionError::BadName { entry, why: error.to_string() })?;
    Ok(InterfaceId { name, fingerprint: word(FINGERPRINT_AT) })
}

/// The interfaces recorded in the program at `path` ([`read_section`]).
pub fn read_program(path: &Path) -> Result<Vec<InterfaceId>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    read_section(&bytes).with_context(|| format!("{}", path.display()))
}

/// A service that declares its interface in `system.toml`, with its provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub service: String,
    /// The declared interface's name (`interface = "..."`).
    pub interface: String,
    /// The provider realm and the program it runs.
    pub realm: String,
    pub program: String,
}

/// What the check compares, from a system description: its declared interfaces, and each
/// realm with its program, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declarations {
    pub declared: Vec<Declared>,
    pub realms: Vec<(String, String)>,
}

impl Declarations {
    /// The declarations of a checked system.
    pub fn of(config: &SystemConfig) -> Self {
        let realms = config
            .realms
            .iter()
            .map(|realm| (realm.name.to_string(), realm.program.to_string()))
            .collect();
        let declared = config
            .services
            .iter()
            .filter_map(|service| {
                let interface = service.interface.as_ref()?;
                let provider = config.realm(service.realm)?;
                Some(Declared {
                    service: service.name.to_string(),
                    interface: interface.to_string(),
                    realm: provider.name.to_string(),
                    program: provider.program.to_string(),
                })
            })
            .collect();
        Declarations { declared, realms }
    }
}

/// One failure of the build check, with what its sentence names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The provider's program records no interface named as the service declares.
    Missing {
        service: String,
        interface: String,
        realm: String,
        program: String,
        /// What the program does record.
        recorded: Vec<InterfaceId>,
    },
    /// The provider's program records the declared interface with several fingerprints.
    Ambiguous {
        service: String,
        interface: String,
        realm: String,
        program: String,
        fingerprints: Vec<u64>,
    },
    /// `program`, run by `realm` (the first realm that runs it), records `interface` with
    /// `fingerprint`; `service`'s provider `provider` runs `provider_program`, which records
    /// `expected`.
    Fingerprint {
        realm: String,
        program: String,
        interface: String,
        fingerprint: u64,
        service: String,
        provider: String,
        provider_program: String,
        expected: u64,
    },
}

impl Finding {
    /// The check's stable code, as printed in `error[code]`.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::Missing { .. } => "interface-missing",
            Finding::Ambiguous { .. } => "interface-ambiguous",
            Finding::Fingerprint { .. } => "interface-fingerprint",
        }
    }

    /// The sentence that says what is wrong and what to do.
    pub fn sentence(&self) -> String {
        match self {
            Finding::Missing { service, interface, realm, program, recorded } => {
                let records = if recorded.is_empty() {
                    "it records no interface".to_string()
                } else {
                    let list: Vec<String> = recorded.iter().map(ToString::to_string).collect();
                    format!("it records {}", list.join(", "))
                };
                format!(
                    "service \"{service}\" declares interface \"{interface}\", but program \
                     \"{program}\" of its provider realm \"{realm}\" was not built with an \
                     interface of that name ({records}); build the program with the \
                     declaration of \"{interface}\", or correct the service's interface"
                )
            }
            Finding::Ambiguous { service, interface, realm, program, fingerprints } => {
                let list: Vec<String> =
                    fingerprints.iter().map(|print| format!("{print:016x}")).collect();
                format!(
                    "service \"{service}\" declares interface \"{interface}\", and program \
                     \"{program}\" of its provider realm \"{realm}\" was built with {} \
                     declarations of it (fingerprints {}), so which one it serves cannot be \
                     told; build it with one",
                    fingerprints.len(),
                    list.join(", ")
                )
            }
            Finding::Fingerprint {
                realm,
                program,
                interface,
                fingerprint,
                service,
                provider,
                provider_program,
                expected,
            } => format!(
                "realm \"{realm}\" runs program \"{program}\", built with interface \
                 \"{interface}\" fingerprint {fingerprint:016x}, but service \"{service}\" is \
                 provided by realm \"{provider}\" running program \"{provider_program}\", built \
                 with fingerprint {expected:016x}: the two were built from different \
                 declarations of \"{interface}\" (a connect between them is refused with \
                 InterfaceMismatch); build both from the same one"
            ),
        }
    }
}

/// Compares `declarations` with what each program records (`recorded`, by program name; a
/// program not in it records nothing). Findings come per declaration in file order, each
/// declaration's `interface-missing`/`interface-ambiguous` first, then the programs that
/// differ from its provider, in the order of the first realm that runs each.
pub fn compare(
    declarations: &Declarations,
    recorded: &BTreeMap<String, Vec<InterfaceId>>,
) -> Vec<Finding> {
    let none = Vec::new();
    let records_of = |program: &str| recorded.get(program).unwrap_or(&none);
    let fingerprints = |program: &str, interface: &str| {
        let mut prints: Vec<u64> = records_of(program)
            .iter()
            .filter(|record| record.name.as_str() == interface)
            .map(|record| record.fingerprint)
            .collect();
        prints.sort_unstable();
        prints.dedup();
        prints
    };
    let mut findings = Vec::new();
    // (program, interface, expected fingerprint) already reported.
    let mut reported: Vec<(&str, &str, u64)> = Vec::new();
    for declared in &declarations.declared {
        let provided = fingerprints(&declared.program, &declared.interface);
        let expected = match provided[..] {
            [expected] => expected,
            [] => {
                findings.push(Finding::Missing {
                    service: declared.service.clone(),
                    interface: declared.interface.clone(),
                    realm: declared.realm.clone(),
                    program: declared.program.clone(),
                    recorded: records_of(&declared.program).clone(),
                });
                continue;
            }
            _ => {
                findings.push(Finding::Ambiguous {
                    service: declared.service.clone(),
                    interface: declared.interface.clone(),
                    realm: declared.realm.clone(),
                    program: declared.program.clone(),
                    fingerprints: provided,
                });
                continue;
            }
        };
        for (realm, program) in &declarations.realms {
            let key = (program.as_str(), declared.interface.as_str(), expected);
            if *program == declared.program || reported.contains(&key) {
                continue;
            }
            let differing: Vec<u64> = fingerprints(program, &declared.interface)
                .into_iter()
                .filter(|print| *print != expected)
                .collect();
            if differing.is_empty() {
                continue;
            }
            reported.push(key);
            for fingerprint in differing {
                findings.push(Finding::Fingerprint {
                    realm: realm.clone(),
                    program: program.clone(),
                    interface: declared.interface.clone(),
                    fingerprint,
                    service: declared.service.clone(),
                    provider: declared.realm.clone(),
                    provider_program: declared.program.clone(),
                    expected,
                });
            }
        }
    }
    findings
}

/// A [`Finding`] at its place in the system description.
///
/// Displays as `system.toml:31:13: error[interface-missing]: service "kv" declares ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub finding: Finding,
}

impl fmt::Display for InterfaceError {
    /// Names come from the description and the programs, both checked by the one name rule;
    /// control characters would still be shown escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error[{}]: ", self.file, self.line, self.column, self.finding.code())?;
        for character in self.finding.sentence().chars() {
            if character.is_control() {
                write!(f, "{}", character.escape_unicode())?;
            } else {
                fmt::Write::write_char(f, character)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for InterfaceError {}

/// The build check failed: every error, in file order. What `cargo xtask build` and `run`
/// fail with (through `anyhow`, so callers can `downcast_ref` it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailed {
    pub errors: Vec<InterfaceError>,
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.errors.first().map_or("the system description", |error| &error.file);
        write!(
            f,
            "{file}: {} interface error(s): the realm programs were built, nothing was packed \
             or booted",
            self.errors.len()
        )
    }
}

impl std::error::Error for CheckFailed {}

/// Checks the system description `text` (shown as `file`, already checked into `config`)
/// against what its programs record, and places each finding: [`compare`], with the line and
/// column of the value each points at. Sorted by position.
pub fn check(
    file: &str,
    text: &str,
    config: &SystemConfig,
    recorded: &BTreeMap<String, Vec<InterfaceId>>,
) -> Vec<InterfaceError> {
    let places = Places::new(text);
    let mut errors: Vec<InterfaceError> = compare(&Declarations::of(config), recorded)
        .into_iter()
        .map(|finding| {
            let offset = match &finding {
                Finding::Missing { service, .. } | Finding::Ambiguous { service, .. } => {
                    places.field("service", service, "interface")
                }
                Finding::Fingerprint { realm, .. } => places.field("realm", realm, "program"),
            };
            let (line, column) = position(text, offset);
            InterfaceError { file: file.to_string(), line, column, finding }
        })
        .collect();
    errors.sort_by_key(|error| (error.line, error.column));
    errors
}

/// Where the tables and values of a system description are written.
struct Places<'t> {
    document: Option<DeTable<'t>>,
}

impl<'t> Places<'t> {
    fn new(text: &'t str) -> Self {
        Places { document: DeTable::parse(text).ok().map(|document| document.into_inner()) }
    }

    /// The byte offset of `key`'s value in the `[[kind]]` table named `name`; of the table
    /// when it has no `key`; 0 when there is no such table (the description was checked, so
    /// only a file changed since could have none).
    fn field(&self, kind: &str, name: &str, key: &str) -> usize {
        let Some(DeValue::Array(tables)) =
            self.document.as_ref().and_then(|document| document.get(kind)).map(|v| v.get_ref())
        else {
            return 0;
        };
        for table in tables.iter() {
            let DeValue::Table(fields) = table.get_ref() else { continue };
            let named = fields.get("name").is_some_and(
                |value| matches!(value.get_ref(), DeValue::String(text) if text == name),
            );
            if named {
                return fields.get(key).map_or(table.span().start, |value| value.span().start);
            }
        }
        0
    }
}

/// 1-based line and column (in characters) of the byte at `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One section entry, as the interface macro writes it.
    fn entry(name: &str, fingerprint: u64) -> Vec<u8> {
        let mut bytes = (name.len() as u64).to_le_bytes().to_vec();
        let mut field = [0u8; NAME_FIELD_BYTES];
        field[..name.len()].copy_from_slice(name.as_bytes());
        bytes.extend(field);
        bytes.extend(fingerprint.to_le_bytes());
        bytes
    }

    fn id(name: &str, fingerprint: u64) -> InterfaceId {
        InterfaceId { name: Name::new(name).expect("a name"), fingerprint }
    }

    /// A minimal ELF64 little-endian x86_64 executable with no segments and these sections
    /// (name, type, contents), after the null section and before `.shstrtab`.
    fn elf_with(sections: &[(&str, u32, &[u8])]) -> Vec<u8> {
        const HEADER: usize = 64;
        const SECTION_HEADER: usize = 64;
        let mut names = vec![0u8];
        let mut name_at = Vec::new();
        for (name, _, _) in sections.iter().copied().chain([(".shstrtab", 3, &[][..])]) {
            name_at.push(names.len() as u32);
            names.extend(name.as_bytes());
            names.push(0);
        }
        let mut data = Vec::new();
        let mut placed = Vec::new();
        for (_, _, contents) in sections {
            placed.push((HEADER + data.len(), contents.len()));
            data.extend(*contents);
        }
        placed.push((HEADER + data.len(), names.len()));
        data.extend(&names);
        while data.len() % 8 != 0 {
            data.push(0);
        }
        let section_headers = HEADER + data.len();
        let count = sections.len() + 2;

        let mut elf = Vec::new();
        elf.extend(b"\x7fELF");
        elf.extend([2, 1, 1, 0]); // 64-bit, little-endian, version 1, System V
        elf.extend([0; 8]);
        elf.extend(2u16.to_le_bytes()); // ET_EXEC
        elf.extend(62u16.to_le_bytes()); // EM_X86_64
        elf.extend(1u32.to_le_bytes());
        elf.extend(0x40_0000u64.to_le_bytes()); // entry
        elf.extend(0u64.to_le_bytes()); // no program headers
        elf.extend((section_headers as u64).to_le_bytes());
        elf.extend(0u32.to_le_bytes()); // flags
        elf.extend((HEADER as u16).to_le_bytes());
        elf.extend(56u16.to_le_bytes());
        elf.extend(0u16.to_le_bytes());
        elf.extend((SECTION_HEADER as u16).to_le_bytes());
        elf.extend((count as u16).to_le_bytes());
        elf.extend(((count - 1) as u16).to_le_bytes()); // .shstrtab is the last
        assert_eq!(elf.len(), HEADER);
        elf.extend(&data);
        elf.extend([0; SECTION_HEADER]);
        let types = sections.iter().map(|(_, kind, _)| *kind).chain([3]);
        for ((kind, name), (offset, size)) in types.zip(name_at).zip(placed) {
            elf.extend(name.to_le_bytes());
            elf.extend(kind.to_le_bytes());
            elf.extend(0u64.to_le_bytes()); // flags: not alloc
            elf.extend(0u64.to_le_bytes()); // address
            elf.extend((offset as u64).to_le_bytes());
            elf.extend((size as u64).to_le_bytes());
            elf.extend(0u32.to_le_bytes());
            elf.extend(0u32.to_le_bytes());
            elf.extend(1u64.to_le_bytes());
            elf.extend(0u64.to_le_bytes());
        }
        elf
    }

    const PROGBITS: u32 = 1;

    #[test]
    fn the_section_is_read_entry_by_entry_in_order() {
        let mut section = entry("kv", 0x0123_4567_89ab_cdef);
        section.extend(entry("log", 7));
        section.extend(entry("kv", 0x0123_4567_89ab_cdef));
        let elf = elf_with(&[(".text", PROGBITS, &[0xc3; 5]), (SECTION, PROGBITS, &section)]);
        assert_eq!(
            read_section(&elf),
            Ok(vec![
                id("kv", 0x0123_4567_89ab_cdef),
                id("log", 7),
                id("kv", 0x0123_4567_89ab_cdef)
            ])
        );
        let longest = "a".repeat(NAME_FIELD_BYTES);
        assert_eq!(decode_entries(&entry(&longest, u64::MAX)), Ok(vec![id(&longest, u64::MAX)]));
    }

    #[test]
    fn a_program_without_the_section_records_nothing() {
        assert_eq!(read_section(&elf_with(&[(".text", PROGBITS, &[0xc3])])), Ok(Vec::new()));
        assert_eq!(read_section(&elf_with(&[(SECTION, SHT_NOBITS, &[])])), Ok(Vec::new()));
        assert_eq!(read_section(&elf_with(&[(SECTION, PROGBITS, &[])])), Ok(Vec::new()));
    }

    #[test]
    fn what_is_not_an_elf_file_is_refused() {
        assert!(matches!(read_section(b"#!/bin/sh\n"), Err(SectionError::NotElf(_))));
        assert!(matches!(read_section(&[]), Err(SectionError::NotElf(_))));
        // Section headers said to lie beyond the file's end.
        let mut elf = elf_with(&[(SECTION, PROGBITS, &entry("kv", 1))]);
        let end = elf.len() - 64;
        elf.truncate(end);
        assert!(matches!(read_section(&elf), Err(SectionError::NotElf(_))));
    }

    #[test]
    fn every_malformed_entry_is_refused_with_its_position() {
        let mut section = entry("kv", 1);
        section.pop();
        assert_eq!(decode_entries(&section), Err(SectionError::Size { bytes: 47 }));

        let mut section = entry("kv", 1);
        section.extend(entry("log", 2));
        section[ENTRY_BYTES..ENTRY_BYTES + 8].copy_from_slice(&33u64.to_le_bytes());
        assert_eq!(
            decode_entries(&section),
            Err(SectionError::NameLength { entry: 1, length: 33 })
        );
        section[ENTRY_BYTES..ENTRY_BYTES + 8].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(decode_entries(&section), Err(SectionError::NameLength { entry: 1, length: 0 }));
        section[ENTRY_BYTES..ENTRY_BYTES + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            decode_entries(&section),
            Err(SectionError::NameLength { entry: 1, length: u64::MAX })
        );

        // "log" said to be 2 bytes long: its "g" is after the name.
        let mut section = entry("log", 2);
        section[..8].copy_from_slice(&2u64.to_le_bytes());
        assert_eq!(decode_entries(&section), Err(SectionError::Padding { entry: 0 }));

        for bad in ["Kv", "k.v", "k\0v"] {
            let refused = decode_entries(&entry(bad, 1));
            assert!(matches!(refused, Err(SectionError::BadName { entry: 0, .. })), "{bad:?}");
        }
    }

    fn declared(service: &str, interface: &str, realm: &str, program: &str) -> Declared {
        Declared {
            service: service.into(),
            interface: interface.into(),
            realm: realm.into(),
            program: program.into(),
        }
    }

    fn realms(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(realm, program)| (realm.to_string(), program.to_string())).collect()
    }

    fn recorded(programs: &[(&str, &[InterfaceId])]) -> BTreeMap<String, Vec<InterfaceId>> {
        programs.iter().map(|(program, ids)| (program.to_string(), ids.to_vec())).collect()
    }

    /// A kv service provided by realm "kv" (program "kv-server"), used by "app" and "shell".
    fn kv_system() -> Declarations {
        Declarations {
            declared: vec![declared("kv", "kv", "kv", "kv-server")],
            realms: realms(&[
                ("init", "init"),
                ("kv", "kv-server"),
                ("app", "app"),
                ("spare-kv", "kv-server"),
                ("shell", "app"),
            ]),
        }
    }

    #[test]
    fn programs_built_with_the_providers_declaration_pass() {
        let records = recorded(&[
            ("init", &[]),
            ("kv-server", &[id("kv", 5), id("log", 9)]),
            ("app", &[id("kv", 5), id("log", 9), id("other", 1)]),
        ]);
        assert_eq!(compare(&kv_system(), &records), Vec::new());
        // Nothing declared, nothing compared, whatever the programs record.
        let undeclared = Declarations { declared: Vec::new(), realms: kv_system().realms };
        let records = recorded(&[("kv-server", &[id("kv", 5)]), ("app", &[id("kv", 6)])]);
        assert_eq!(compare(&undeclared, &records), Vec::new());
    }

    #[test]
    fn a_provider_built_without_the_declared_interface_is_reported_with_what_it_records() {
        let records = recorded(&[("kv-server", &[id("log", 9)]), ("app", &[id("kv", 5)])]);
        assert_eq!(
            compare(&kv_system(), &records),
            vec![Finding::Missing {
                service: "kv".into(),
                interface: "kv".into(),
                realm: "kv".into(),
                program: "kv-server".into(),
                recorded: vec![id("log", 9)],
            }]
        );
        // A program missing from the records records nothing.
        let findings = compare(&kv_system(), &recorded(&[]));
        assert!(
            matches!(&findings[..], [Finding::Missing { recorded, .. }] if recorded.is_empty())
        );
    }

    #[test]
    fn a_provider_built_with_two_declarations_of_the_interface_is_ambiguous() {
        let records =
            recorded(&[("kv-server", &[id("kv", 8), id("kv", 5), id("kv", 8)]), ("app", &[])]);
        assert_eq!(
            compare(&kv_system(), &records),
            vec![Finding::Ambiguous {
                service: "kv".into(),
                interface: "kv".into(),
                realm: "kv".into(),
                program: "kv-server".into(),
                fingerprints: vec![5, 8],
            }]
        );
    }

    #[test]
    fn a_program_with_another_fingerprint_is_reported_once_at_its_first_realm() {
        let records = recorded(&[
            ("init", &[id("kv", 5)]),
            ("kv-server", &[id("kv", 5)]),
            ("app", &[id("kv", 6), id("kv", 5)]),
        ]);
        assert_eq!(
            compare(&kv_system(), &records),
            vec![Finding::Fingerprint {
                realm: "app".into(),
                program: "app".into(),
                interface: "kv".into(),
                fingerprint: 6,
                service: "kv".into(),
                provider: "kv".into(),
                provider_program: "kv-server".into(),
                expected: 5,
            }]
        );
    }

    #[test]
    fn two_services_of_one_interface_compare_each_program_once_per_fingerprint() {
        let mut system = kv_system();
        system.declared.push(declared("kv-backup", "kv", "spare-kv", "kv-server"));
        let records = recorded(&[("kv-server", &[id("kv", 5)]), ("app", &[id("kv", 6)])]);
        let findings = compare(&system, &records);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(matches!(&findings[0], Finding::Fingerprint { service, program, .. }
            if service == "kv" && program == "app"));
    }

    #[test]
    fn errors_print_in_the_house_form_with_both_fingerprints() {
        let error = InterfaceError {
            file: "system.toml".into(),
            line: 31,
            column: 13,
            finding: Finding::Fingerprint {
                realm: "app".into(),
                program: "app".into(),
                interface: "kv".into(),
                fingerprint: 6,
                service: "kv".into(),
                provider: "kv".into(),
                provider_program: "kv-server".into(),
                expected: 0xfedc_ba98_7654_3210,
            },
        };
        let printed = error.to_string();
        assert!(
            printed.starts_with("system.toml:31:13: error[interface-fingerprint]: "),
            "{printed}"
        );
        for part in ["\"app\"", "\"kv-server\"", "0000000000000006", "fedcba9876543210"] {
            assert!(printed.contains(part), "{part} missing from {printed}");
        }
    }

    #[test]
    fn places_are_lines_and_columns_in_characters_of_the_value() {
        let text = "[[realm]]\nname = \"é-app\"\nprogram = \"app\"\n\n[[service]]\n\
                    realm = \"kv\"\n  interface = \"kv\"\nname = \"kv\"\n\n[[service]]\nname = \"x\"\n";
        let places = Places::new(text);
        assert_eq!(position(text, places.field("service", "kv", "interface")), (7, 15));
        // No such key: the table; no such table: the start.
        assert_eq!(position(text, places.field("service", "x", "interface")), (10, 1));
        assert_eq!(position(text, places.field("realm", "nobody", "program")), (1, 1));
        assert_eq!(position("a = \"é\"\nb", 9), (2, 1));
        assert_eq!(position("é", 1), (1, 1));
    }
}
