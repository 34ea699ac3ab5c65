//! Writes seed inputs for the fuzz targets into `<corpus>/<target>/seed-*`:
//!
//! - `system_toml`: every system file of the project (`system.toml`, `bench/system.toml`,
//!   `tests/systems/*.toml`), as they are;
//! - `config`: each of those that parses, encoded as the memory manager reads it;
//! - `boot_image`: each encoded configuration packed into a boot image with a small valid
//!   ELF for each of its programs, and that ELF on its own.
//!
//! Usage: `switchboard-fuzz-seeds <repository root> <corpus folder>`.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use system_config::image::{BootImage, Program};

/// A minimal 64-bit x86_64 executable that the memory manager accepts: an executable
/// segment holding the headers and the entry point, and a writable one with a zero tail.
fn tiny_elf() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let mut elf = Vec::new();
    // ELF header.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&(BASE + 176).to_le_bytes()); // entry: the code below
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers right after this one
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    for half in [64u16, 56, 2, 64, 0, 0] {
        // header size, program header size and count, section header size, count, names
        elf.extend_from_slice(&half.to_le_bytes());
    }
    // Program headers: (flags, offset, vaddr, file size, memory size).
    let code_size: u64 = 176 + 8;
    let headers = [(5u32, 0u64, BASE, code_size, code_size), (6, 0, BASE + 0x1000, 16, 0x2000)];
    for (flags, offset, vaddr, file_size, memory_size) in headers {
        elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        elf.extend_from_slice(&flags.to_le_bytes());
        elf.extend_from_slice(&offset.to_le_bytes());
        elf.extend_from_slice(&vaddr.to_le_bytes());
        elf.extend_from_slice(&vaddr.to_le_bytes()); // physical address
        elf.extend_from_slice(&file_size.to_le_bytes());
        elf.extend_from_slice(&memory_size.to_le_bytes());
        elf.extend_from_slice(&0x1000u64.to_le_bytes()); // alignment
    }
    assert_eq!(elf.len(), 176);
    elf.extend_from_slice(&[0xeb, 0xfe, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90]); // jmp .
    elf
}

/// The `program = "..."` values of a system file, so that its programs are "built".
fn programs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("program"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .collect()
}

fn write(corpus: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    let folder = corpus.join(target);
    fs::create_dir_all(&folder)?;
    fs::write(folder.join(format!("seed-{name}")), bytes)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(root), Some(corpus)) = (args.next(), args.next()) else {
        return Err("usage: switchboard-fuzz-seeds <repository root> <corpus folder>".into());
    };
    let (root, corpus) = (PathBuf::from(root), PathBuf::from(corpus));
    let mut files = vec![root.join("system.toml"), root.join("bench/system.toml")];
    let mut tests: Vec<PathBuf> = fs::read_dir(root.join("tests/systems"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    tests.sort();
    files.extend(tests);
    let elf = tiny_elf();
    write(&corpus, "boot_image", "elf", &elf)?;
    let mut configs = 0;
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else { continue };
        let stem = file.file_stem().and_then(|stem| stem.to_str()).unwrap_or("system");
        let parent = file.parent().and_then(|p| p.file_name()).and_then(|p| p.to_str());
        let name = format!("{}-{stem}", parent.unwrap_or("root"));
        write(&corpus, "system_toml", &name, text.as_bytes())?;
        let names = programs(&text);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // Some test systems are wrong on purpose: they only seed the parser.
        let Ok(config) = system_config::parse(&name, &text, &names) else { continue };
        let encoded = system_config::encode(&config)?;
        write(&corpus, "config", &name, &encoded)?;
        let mut image = BootImage { config: &encoded, programs: heapless::Vec::new() };
        for program in names {
            if image.programs.iter().all(|known| known.name != program) {
                let _ = image.programs.push(Program { name: program, elf: &elf });
            }
        }
        write(&corpus, "boot_image", &name, &image.write()?)?;
        configs += 1;
    }
    println!("seeds: {} system files, {configs} configurations and boot images", files.len());
    Ok(())
}
