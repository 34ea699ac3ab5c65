//! The build check of typed interfaces on real realm programs: the fixtures `ib-kv-v1` and
//! `ib-kv-v2` (tests/realms/) record interface "kv" from two different declarations (and v1
//! also "log"), by hand, as the interface macro does. Each test writes a system description,
//! builds its programs for seL4 and checks what `xtask` decides: the section survives the
//! link and is not loaded, matching programs pass, a planted mismatch is refused at the
//! right line and column, and a refused system is not packed; and every system of the
//! repository that the description check accepts passes this one.

use std::path::{Path, PathBuf};

use elf::ElfBytes;
use elf::abi::{PT_LOAD, SHF_ALLOC};
use elf::endian::AnyEndian;
use ipc::InterfaceId;
use ipc::abi::interface_section;
use xtask::Workspace;
use xtask::interfaces::{CheckFailed, Finding, InterfaceError};

/// What the fixtures record (their `KV_V1`, `LOG`, `KV_V2`).
const KV_V1: u64 = 0x6b76_0000_0000_0001;
const LOG: u64 = 0x6c6f_6700_0000_0001;
const KV_V2: u64 = 0x6b76_0000_0000_0002;

fn id(name: &str, fingerprint: u64) -> InterfaceId {
    InterfaceId { name: ipc::Name::new(name).expect("a name"), fingerprint }
}

/// Writes `text` as the system description `name` in a scratch folder; its path.
fn system(workspace: &Workspace, name: &str, text: &str) -> PathBuf {
    let folder = workspace.target_dir().join("xtask-tests");
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    let path = folder.join(name);
    std::fs::write(&path, text).expect("writing the system");
    path
}

/// A system of realm "store" running `provider`, which provides "kv" (declared with
/// `interface`), and its child realm "app" running `client`.
fn kv_system(provider: &str, interface: &str, client: &str) -> String {
    format!(
        "[system]\nrun = \"until-idle\"\n\n\
         [[realm]]\nname = \"store\"\nprogram = \"{provider}\"\npriority = 150\nmemory = \"1 MiB\"\n\n\
         [[realm]]\nname = \"app\"\nprogram = \"{client}\"\nparent = \"store\"\npriority = 100\n\
         memory = \"1 MiB\"\n\n\
         [[service]]\nname = \"kv\"\nrealm = \"store\"\ninterface = \"{interface}\"\n"
    )
}

fn errors(workspace: &Workspace, path: &Path) -> Vec<InterfaceError> {
    xtask::system::interface_errors(workspace, path).expect("checking and building the system")
}

#[test]
fn every_system_in_the_repository_passes_the_interface_check() {
    let workspace = Workspace::current();
    let mut systems: Vec<PathBuf> =
        ["system.toml", "bench/system.toml", "examples/hello/system.toml"]
            .iter()
            .map(|system| workspace.root().join(system))
            .collect();
    for entry in std::fs::read_dir(workspace.root().join("tests/systems")).expect("tests/systems") {
        systems.push(entry.expect("an entry").path());
    }
    let mut checked = 0;
    for path in systems.iter().filter(|path| path.extension().is_some_and(|ext| ext == "toml")) {
        // Only systems the description check accepts are built (xtask/tests/systems.rs says
        // which are refused there, and why).
        let accepted = xtask::system::parse(&workspace, path).expect("reading").result.is_ok();
        if !accepted {
            continue;
        }
        let found = errors(&workspace, path);
        let printed: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(found.is_empty(), "{}:\n{}", path.display(), printed.join("\n"));
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} systems checked");
}

#[test]
fn a_realm_program_keeps_its_records_in_a_section_that_is_not_loaded() {
    let workspace = Workspace::current();
    let text = kv_system("ib-kv-v1", "kv", "ib-kv-v1");
    let path = system(&workspace, "interfaces-one-program.toml", &text);
    assert_eq!(errors(&workspace, &path), Vec::new());

    let elf_path = workspace.target_dir().join("x86_64-unknown-none/release/ib-kv-v1");
    let recorded = xtask::interfaces::read_program(&elf_path).expect("reading the program");
    assert_eq!(recorded, vec![id("kv", KV_V1), id("log", LOG)]);

    let bytes = std::fs::read(&elf_path).expect("the program");
    let file = ElfBytes::<AnyEndian>::minimal_parse(&bytes).expect("an ELF file");
    let section = file
        .section_header_by_name(interface_section::NAME)
        .expect("section headers")
        .expect("the section survives the link");
    assert_eq!(section.sh_flags & u64::from(SHF_ALLOC), 0, "the section is allocated");
    assert_eq!(section.sh_addr, 0);
    let segments = file.segments().expect("program headers");
    let (start, end) = (section.sh_offset, section.sh_offset + section.sh_size);
    for segment in segments.iter().filter(|segment| segment.p_type == PT_LOAD) {
        let loaded = segment.p_offset..segment.p_offset + segment.p_filesz;
        assert!(
            end <= loaded.start || start >= loaded.end,
            "the section's bytes {start:#x}..{end:#x} are in a load segment {loaded:x?}"
        );
    }

    // The boot image carries the program without it.
    xtask::system::build(&workspace, &path).expect("building the system");
    let packed = workspace
        .target_dir()
        .join("switchboard/target-xtask-tests-interfaces-one-program/programs/ib-kv-v1");
    let packed = std::fs::read(&packed).expect("the packed program");
    let file = ElfBytes::<AnyEndian>::minimal_parse(&packed).expect("an ELF file");
    let section = file.section_header_by_name(interface_section::NAME).expect("section headers");
    assert_eq!(section, None, "the boot image carries the record of interfaces");
    assert_eq!(xtask::interfaces::read_section(&packed), Ok(Vec::new()));
}

#[test]
fn programs_built_from_the_same_declarations_pass() {
    let workspace = Workspace::current();
    // The provider records "kv" and "log"; a program that records no interface passes too.
    let mut text = kv_system("ib-kv-v1", "kv", "ib-kv-v1");
    text.push_str(
        "\n[[realm]]\nname = \"greeter\"\nprogram = \"hello\"\nparent = \"store\"\n\
         priority = 100\nmemory = \"1 MiB\"\n\n\
         [[service]]\nname = \"journal\"\nrealm = \"store\"\ninterface = \"log\"\n",
    );
    let path = system(&workspace, "interfaces-matching.toml", &text);
    assert_eq!(errors(&workspace, &path), Vec::new());
}

#[test]
fn a_client_built_from_another_declaration_is_refused_at_its_program() {
    let workspace = Workspace::current();
    let text = kv_system("ib-kv-v1", "kv", "ib-kv-v2");
    let path = system(&workspace, "interfaces-stale-client.toml", &text);
    let found = errors(&workspace, &path);
    let expected = InterfaceError {
        file: "target/xtask-tests/interfaces-stale-client.toml".into(),
        // `program = "ib-kv-v2"` of realm "app", at its opening quote.
        line: 12,
        column: 11,
        finding: Finding::Fingerprint {
            realm: "app".into(),
            program: "ib-kv-v2".into(),
            interface: "kv".into(),
            fingerprint: KV_V2,
            service: "kv".into(),
            provider: "store".into(),
            provider_program: "ib-kv-v1".into(),
            expected: KV_V1,
        },
    };
    assert_eq!(found, vec![expected.clone()]);
    assert_eq!(text.lines().nth(11), Some("program = \"ib-kv-v2\""));

    // The other way round: the provider is v2, and v1 is the stale one.
    let text = kv_system("ib-kv-v2", "kv", "ib-kv-v1");
    let path = system(&workspace, "interfaces-stale-provider.toml", &text);
    let found = errors(&workspace, &path);
    assert!(
        matches!(&found[..], [InterfaceError { line: 12, finding: Finding::Fingerprint {
            program, fingerprint: KV_V1, expected: KV_V2, .. }, .. }] if program == "ib-kv-v1"),
        "{found:#?}"
    );

    // The build stops there, with the same errors, before packing the boot image.
    let path = system(
        &workspace,
        "interfaces-stale-client.toml",
        &kv_system("ib-kv-v1", "kv", "ib-kv-v2"),
    );
    let folder =
        workspace.target_dir().join("switchboard/target-xtask-tests-interfaces-stale-client");
    let _ = std::fs::remove_dir_all(&folder);
    let error = xtask::system::build(&workspace, &path).expect_err("a planted mismatch");
    let failed = error.downcast_ref::<CheckFailed>().expect("the interface check failed");
    assert_eq!(failed.errors, vec![expected]);
    assert!(!folder.join("boot-image.bin").exists(), "a refused system was packed");
}

#[test]
fn a_service_declaring_an_interface_its_program_lacks_is_refused_at_the_field() {
    let workspace = Workspace::current();
    let text = kv_system("ib-kv-v1", "clock", "ib-kv-v1");
    let path = system(&workspace, "interfaces-missing.toml", &text);
    assert_eq!(
        errors(&workspace, &path),
        vec![InterfaceError {
            file: "target/xtask-tests/interfaces-missing.toml".into(),
            // `interface = "clock"`, at its opening quote.
            line: 20,
            column: 13,
            finding: Finding::Missing {
                service: "kv".into(),
                interface: "clock".into(),
                realm: "store".into(),
                program: "ib-kv-v1".into(),
                recorded: vec![id("kv", KV_V1), id("log", LOG)],
            },
        }]
    );
    assert_eq!(text.lines().nth(19), Some("interface = \"clock\""));

    // A provider that records no interface at all.
    // (hello records `greeting` since it was ported to a typed interface: panic-probe
    // links no interface.)
    let text = kv_system("panic-probe", "kv", "ib-kv-v1");
    let path = system(&workspace, "interfaces-none.toml", &text);
    let found = errors(&workspace, &path);
    assert!(
        matches!(&found[..], [InterfaceError { line: 20, finding: Finding::Missing {
            program, recorded, .. }, .. }] if program == "panic-probe" && recorded.is_empty()),
        "{found:#?}"
    );
}
