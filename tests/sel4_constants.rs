//! Proves that the seL4 constants of our binding are the ones of the kernels we build with our
//! configuration (`xtask/kernel/autoconf.h`, and the release variant derived from it):
//! invocation labels (`sel4::kernel::label`), object types (`sel4::kernel::object_type`) and
//! syscall numbers (`sel4::syscall::number`, `sel4::kernel::syscall_number`). Every comparison
//! runs against both kernel variants, release and debug, each from its own build.
//!
//! Nothing about the kernel is restated here; its values are read from its own build:
//! - `kernel_final.c` in the build folder is the one preprocessed C file the kernel Makefile
//!   compiles into the kernel. Every `#if` of the generated headers (`api/invocation.h`,
//!   `arch/api/sel4_invocation.h`, `arch/api/invocation.h`, `arch/api/syscall.h`) and of the
//!   kernel's object-type headers is already evaluated there, with the Makefile's own flags
//!   (`DEBUG=1`, debug kernel only, defines `CONFIG_DEBUG_BUILD`) and the variant's
//!   configuration. We read its enums.
//! - libsel4's object-type headers (the user-side copy of the ABI) are run through `cpp` with
//!   the variant's configuration, and must agree too.
//!
//! The variants differ in one place: the release kernel has no debug syscalls
//! ([`DEBUG_ONLY_SYSCALLS`]); labels and object types are the same.
//!
//! The comparison is by name and both ways: each of our constants must name a kernel
//! enumerator with the same value, and each kernel enumerator we leave out must be in an
//! allow-list below with the reason. The names of our constants are also read from the
//! binding's source, so a constant added there cannot go unchecked.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use system_tests::{kernel, kernel_of};
use xtask::kernel::Variant;

/// One constant of our binding and the kernel enumerator it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ours {
    /// Its path below `sel4`, e.g. `kernel::label::CNODE_MINT`.
    name: &'static str,
    value: i128,
    kernel_name: &'static str,
}

/// A kernel enumerator our tables leave out on purpose, and why.
#[derive(Clone, Copy, Debug)]
struct Omitted {
    kernel_name: &'static str,
    why: &'static str,
}

/// One enumerator of a C enum, with the value the compiler gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Enumerator {
    name: String,
    value: i128,
}

/// Rows of a table of ours: `path::to::CONSTANT => "KernelName"`, both read by the compiler.
macro_rules! ours {
    ($($first:ident $(:: $rest:ident)* => $kernel_name:literal,)*) => {
        &[$(Ours {
            name: concat!(stringify!($first), $("::", stringify!($rest)),*),
            value: sel4::$first$(::$rest)* as i128,
            kernel_name: $kernel_name,
        },)*]
    };
}

const LABELS: &[Ours] = ours![
    kernel::label::UNTYPED_RETYPE => "UntypedRetype",
    kernel::label::TCB_READ_REGISTERS => "TCBReadRegisters",
    kernel::label::TCB_WRITE_REGISTERS => "TCBWriteRegisters",
    kernel::label::TCB_COPY_REGISTERS => "TCBCopyRegisters",
    kernel::label::TCB_CONFIGURE => "TCBConfigure",
    kernel::label::TCB_SET_PRIORITY => "TCBSetPriority",
    kernel::label::TCB_SET_MC_PRIORITY => "TCBSetMCPriority",
    kernel::label::TCB_SET_IPC_BUFFER => "TCBSetIPCBuffer",
    kernel::label::TCB_SET_SPACE => "TCBSetSpace",
    kernel::label::TCB_SUSPEND => "TCBSuspend",
    kernel::label::TCB_RESUME => "TCBResume",
    kernel::label::TCB_BIND_NOTIFICATION => "TCBBindNotification",
    kernel::label::TCB_UNBIND_NOTIFICATION => "TCBUnbindNotification",
    kernel::label::CNODE_REVOKE => "CNodeRevoke",
    kernel::label::CNODE_DELETE => "CNodeDelete",
    kernel::label::CNODE_CANCEL_BADGED_SENDS => "CNodeCancelBadgedSends",
    kernel::label::CNODE_COPY => "CNodeCopy",
    kernel::label::CNODE_MINT => "CNodeMint",
    kernel::label::CNODE_MOVE => "CNodeMove",
    kernel::label::CNODE_MUTATE => "CNodeMutate",
    kernel::label::CNODE_ROTATE => "CNodeRotate",
    kernel::label::CNODE_SAVE_CALLER => "CNodeSaveCaller",
    kernel::label::IRQ_ISSUE_IRQ_HANDLER => "IRQIssueIRQHandler",
    kernel::label::IRQ_ACK_IRQ => "IRQAckIRQ",
    kernel::label::IRQ_SET_IRQ_HANDLER => "IRQSetIRQHandler",
    kernel::label::IRQ_CLEAR_IRQ_HANDLER => "IRQClearIRQHandler",
    kernel::label::DOMAIN_SET_SET => "DomainSetSet",
    kernel::label::X86_PDPT_MAP => "X86PDPTMap",
    kernel::label::X86_PDPT_UNMAP => "X86PDPTUnmap",
    kernel::label::X86_PAGE_DIRECTORY_MAP => "X86PageDirectoryMap",
    kernel::label::X86_PAGE_DIRECTORY_UNMAP => "X86PageDirectoryUnmap",
    kernel::label::X86_PAGE_DIRECTORY_GET_STATUS_BITS => "X86PageDirectoryGetStatusBits",
    kernel::label::X86_PAGE_TABLE_MAP => "X86PageTableMap",
    kernel::label::X86_PAGE_TABLE_UNMAP => "X86PageTableUnmap",
    kernel::label::X86_IO_PAGE_TABLE_MAP => "X86IOPageTableMap",
    kernel::label::X86_IO_PAGE_TABLE_UNMAP => "X86IOPageTableUnmap",
    kernel::label::X86_PAGE_MAP => "X86PageMap",
    kernel::label::X86_PAGE_REMAP => "X86PageRemap",
    kernel::label::X86_PAGE_UNMAP => "X86PageUnmap",
    kernel::label::X86_PAGE_MAP_IO => "X86PageMapIO",
    kernel::label::X86_PAGE_GET_ADDRESS => "X86PageGetAddress",
    kernel::label::X86_ASID_CONTROL_MAKE_POOL => "X86ASIDControlMakePool",
    kernel::label::X86_ASID_POOL_ASSIGN => "X86ASIDPoolAssign",
    kernel::label::X86_IO_PORT_IN8 => "X86IOPortIn8",
    kernel::label::X86_IO_PORT_IN16 => "X86IOPortIn16",
    kernel::label::X86_IO_PORT_IN32 => "X86IOPortIn32",
    kernel::label::X86_IO_PORT_OUT8 => "X86IOPortOut8",
    kernel::label::X86_IO_PORT_OUT16 => "X86IOPortOut16",
    kernel::label::X86_IO_PORT_OUT32 => "X86IOPortOut32",
    kernel::label::X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC => "X86IRQIssueIRQHandlerIOAPIC",
    kernel::label::X86_IRQ_ISSUE_IRQ_HANDLER_MSI => "X86IRQIssueIRQHandlerMSI",
];

/// The label enums in the order the kernel chains them (each starts where the last ended).
const LABEL_ENUMS: &[&str] =
    &["invocation_label", "sel4_arch_invocation_label", "arch_invocation_label"];

const OMITTED_LABELS: &[Omitted] = &[
    Omitted {
        kernel_name: "InvalidInvocation",
        why: "label 0 is no invocation; the kernel rejects it",
    },
    Omitted {
        kernel_name: "nInvocationLabels",
        why: "the count of generic labels (where the x86_64 labels start), not a label",
    },
    Omitted {
        kernel_name: "nSeL4ArchInvocationLabels",
        why: "the end of the x86_64 labels (where the x86 labels start), not a label",
    },
    Omitted { kernel_name: "nArchInvocationLabels", why: "the end of all labels, not a label" },
];

const OBJECT_TYPES: &[Ours] = ours![
    kernel::object_type::UNTYPED => "seL4_UntypedObject",
    kernel::object_type::TCB => "seL4_TCBObject",
    kernel::object_type::ENDPOINT => "seL4_EndpointObject",
    kernel::object_type::NOTIFICATION => "seL4_NotificationObject",
    kernel::object_type::CNODE => "seL4_CapTableObject",
    kernel::object_type::X86_PDPT => "seL4_X86_PDPTObject",
    kernel::object_type::X64_PML4 => "seL4_X64_PML4Object",
    kernel::object_type::X86_4K_PAGE => "seL4_X86_4K",
    kernel::object_type::X86_LARGE_PAGE => "seL4_X86_LargePageObject",
    kernel::object_type::X86_PAGE_TABLE => "seL4_X86_PageTableObject",
    kernel::object_type::X86_PAGE_DIRECTORY => "seL4_X86_PageDirectoryObject",
];

/// The object-type enums, generic, x86_64, x86 (each starts where the last ended).
const OBJECT_TYPE_ENUMS: &[&str] = &["api_object", "_mode_object", "_object"];

const OMITTED_OBJECT_TYPES: &[Omitted] = &[
    Omitted {
        kernel_name: "seL4_NonArchObjectTypeCount",
        why: "the count of generic types (where the x86_64 types start), not a type",
    },
    Omitted {
        kernel_name: "seL4_ModeObjectTypeCount",
        why: "the end of the x86_64 types (where the x86 types start), not a type",
    },
    Omitted { kernel_name: "seL4_ObjectTypeCount", why: "the end of all types, not a type" },
];

const SYSCALLS: &[Ours] = ours![
    syscall::number::CALL => "SysCall",
    syscall::number::REPLY_RECV => "SysReplyRecv",
    syscall::number::SEND => "SysSend",
    syscall::number::NB_SEND => "SysNBSend",
    syscall::number::RECV => "SysRecv",
    syscall::number::REPLY => "SysReply",
    syscall::number::YIELD => "SysYield",
    syscall::number::NB_RECV => "SysNBRecv",
    kernel::syscall_number::DEBUG_PUT_CHAR => "SysDebugPutChar",
    kernel::syscall_number::DEBUG_HALT => "SysDebugHalt",
    kernel::syscall_number::DEBUG_CAP_IDENTIFY => "SysDebugCapIdentify",
    kernel::syscall_number::DEBUG_SNAPSHOT => "SysDebugSnapshot",
    kernel::syscall_number::DEBUG_NAME_THREAD => "SysDebugNameThread",
];

const SYSCALL_ENUMS: &[&str] = &["syscall"];

/// Our configuration has no syscall we leave out.
const OMITTED_SYSCALLS: &[Omitted] = &[];

/// The syscalls only the debug kernel has: `include/api/syscall.h` (generated from libsel4's
/// `syscall.xml`) puts them under `CONFIG_DEBUG_BUILD`, which the release kernel leaves out.
const DEBUG_ONLY_SYSCALLS: &[&str] = &[
    "SysDebugPutChar",
    "SysDebugHalt",
    "SysDebugCapIdentify",
    "SysDebugSnapshot",
    "SysDebugNameThread",
];

/// Our syscall constants that kernel `variant` has.
fn syscalls_of(variant: Variant) -> Vec<Ours> {
    SYSCALLS
        .iter()
        .filter(|constant| {
            variant == Variant::Debug || !DEBUG_ONLY_SYSCALLS.contains(&constant.kernel_name)
        })
        .copied()
        .collect()
}

/// A difference between our constants and the kernel's.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Mismatch {
    WrongValue { ours: &'static str, our_value: i128, kernel_name: String, kernel_value: i128 },
    NotInKernel { ours: &'static str, our_value: i128, kernel_name: &'static str },
    NeitherOursNorOmitted { kernel_name: String, kernel_value: i128 },
    OmittedButOurs { kernel_name: &'static str, why: &'static str, ours: &'static str },
    OmittedButNotInKernel { kernel_name: &'static str, why: &'static str },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::WrongValue { ours, our_value, kernel_name, kernel_value } => {
                write!(f, "{ours} is {our_value}, the kernel's {kernel_name} is {kernel_value}")
            }
            Mismatch::NotInKernel { ours, our_value, kernel_name } => {
                write!(f, "{ours} is {our_value}, but the kernel we build has no {kernel_name}")
            }
            Mismatch::NeitherOursNorOmitted { kernel_name, kernel_value } => write!(
                f,
                "the kernel's {kernel_name} is {kernel_value}: no constant of ours stands for it \
                 and the allow-list of omissions does not name it"
            ),
            Mismatch::OmittedButOurs { kernel_name, why, ours } => {
                write!(f, "the allow-list omits {kernel_name} ({why}), but {ours} stands for it")
            }
            Mismatch::OmittedButNotInKernel { kernel_name, why } => write!(
                f,
                "the allow-list omits {kernel_name} ({why}), which the kernel we build does not \
                 have"
            ),
        }
    }
}

/// Compares our constants with the kernel's enumerators, both ways (see the module doc).
fn compare(ours: &[Ours], kernel: &[Enumerator], omitted: &[Omitted]) -> Vec<Mismatch> {
    let kernel_value = |name: &str| {
        kernel.iter().find(|enumerator| enumerator.name == name).map(|enumerator| enumerator.value)
    };
    let ours_for = |name: &str| ours.iter().find(|constant| constant.kernel_name == name);
    let mut mismatches = Vec::new();

    for constant in ours {
        match kernel_value(constant.kernel_name) {
            Some(value) if value == constant.value => {}
            Some(value) => mismatches.push(Mismatch::WrongValue {
                ours: constant.name,
                our_value: constant.value,
                kernel_name: constant.kernel_name.to_string(),
                kernel_value: value,
            }),
            None => mismatches.push(Mismatch::NotInKernel {
                ours: constant.name,
                our_value: constant.value,
                kernel_name: constant.kernel_name,
            }),
        }
    }
    for enumerator in kernel {
        let is_omitted = omitted.iter().any(|omission| omission.kernel_name == enumerator.name);
        if ours_for(&enumerator.name).is_none() && !is_omitted {
            mismatches.push(Mismatch::NeitherOursNorOmitted {
                kernel_name: enumerator.name.clone(),
                kernel_value: enumerator.value,
            });
        }
    }
    for omission in omitted {
        if let Some(constant) = ours_for(omission.kernel_name) {
            mismatches.push(Mismatch::OmittedButOurs {
                kernel_name: omission.kernel_name,
                why: omission.why,
                ours: constant.name,
            });
        }
        if kernel_value(omission.kernel_name).is_none() {
            mismatches.push(Mismatch::OmittedButNotInKernel {
                kernel_name: omission.kernel_name,
                why: omission.why,
            });
        }
    }
    mismatches
}

/// Fails with every mismatch, one per line, unless there are none.
fn assert_no_mismatches(what: &str, mismatches: &[Mismatch]) {
    let lines: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "{what}: {} mismatch(es) between sel4 and the kernel we build:\n  {}",
        lines.len(),
        lines.join("\n  ")
    );
}

/// Reads the C enums `enum_names`, in this order, from preprocessed C `text`. Values are the
/// ones the compiler assigns: the explicit integer or earlier enumerator after `=`, or else
/// one more than the previous enumerator (0 for the first of an enum).
fn read_enums(text: &str, enum_names: &[&str]) -> Result<Vec<Enumerator>, String> {
    let mut enumerators: Vec<Enumerator> = Vec::new();
    for enum_name in enum_names {
        let body = without_comments_and_line_markers(enum_body(text, enum_name)?);
        let mut next = 0;
        for entry in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = match entry.split_once('=') {
                Some((name, expression)) => (name.trim(), evaluate(expression, &enumerators)),
                None => (entry, Some(next)),
            };
            let value = value.ok_or_else(|| {
                format!("cannot evaluate the enumerator `{entry}` of enum {enum_name}")
            })?;
            if !is_identifier(name) {
                return Err(format!("`{entry}` in enum {enum_name} is not an enumerator"));
            }
            enumerators.push(Enumerator { name: name.to_string(), value });
            next = value + 1;
        }
    }
    Ok(enumerators)
}

/// The text between the braces of the definition `enum <enum_name> {`.
fn enum_body<'a>(text: &'a str, enum_name: &str) -> Result<&'a str, String> {
    let mut rest = text;
    while let Some(at) = rest.find("enum ") {
        rest = &rest[at + "enum ".len()..];
        let after_name = rest.trim_start().strip_prefix(enum_name);
        let Some(after_name) = after_name else {
            continue;
        };
        if let Some(body) = after_name.trim_start().strip_prefix('{') {
            let end =
                body.find('}').ok_or_else(|| format!("enum {enum_name} has no closing brace"))?;
            return Ok(&body[..end]);
        }
    }
    Err(format!("no definition of enum {enum_name}"))
}

/// `text` without C comments and without the preprocessor's `# line "file"` markers.
fn without_comments_and_line_markers(text: &str) -> String {
    let mut code = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        rest = rest[start..].find("*/").map_or("", |end| &rest[start + end + 2..]);
    }
    code.push_str(rest);
    code.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of an enumerator's initialiser: an integer or an earlier enumerator.
fn evaluate(expression: &str, earlier: &[Enumerator]) -> Option<i128> {
    let mut expression = expression.trim();
    while let Some(inner) = expression.strip_prefix('(').and_then(|inner| inner.strip_suffix(')')) {
        expression = inner.trim();
    }
    let (negative, magnitude) = match expression.strip_prefix('-') {
        Some(magnitude) => (true, magnitude.trim()),
        None => (false, expression),
    };
    let value = match magnitude.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok(),
        None => magnitude.parse::<i128>().ok(),
    }
    .or_else(|| {
        earlier
            .iter()
            .find(|enumerator| enumerator.name == magnitude)
            .map(|enumerator| enumerator.value)
    })?;
    Some(if negative { -value } else { value })
}

fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// The preprocessed C file the build of kernel `variant` compiled into the kernel.
fn kernel_final_c(variant: Variant) -> String {
    let path = kernel_of(variant).build.join("kernel_final.c");
    fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("reading {} (the kernel build's preprocessed source): {error}", path.display())
    })
}

/// Enumerators of `enum_names` in the C file kernel `variant` was compiled from.
fn kernel_enums(variant: Variant, enum_names: &[&str]) -> Vec<Enumerator> {
    read_enums(&kernel_final_c(variant), enum_names)
        .unwrap_or_else(|error| panic!("reading the {variant} kernel's kernel_final.c: {error}"))
}

/// libsel4's three object-type headers, preprocessed as a user build with a variant's
/// configuration would: `HAVE_AUTOCONF` makes them include `autoconf.h`, which is that
/// configuration in the variant's kernel source copy (`include/plat/pc99/`).
fn libsel4_object_type_headers(source: &Path) -> String {
    let libsel4 = source.join("libsel4");
    let include_dirs: [PathBuf; 4] = [
        source.join("include/plat/pc99"),
        libsel4.join("include"),
        libsel4.join("arch_include/x86"),
        libsel4.join("sel4_arch_include/x86_64"),
    ];
    let mut cpp = Command::new("cpp")
        .args(["-P", "-nostdinc", "-DHAVE_AUTOCONF"])
        .args(include_dirs.iter().map(|dir| format!("-I{}", dir.display())))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running cpp (gcc's C preprocessor)");
    cpp.stdin
        .take()
        .expect("cpp's stdin")
        .write_all(
            b"#include <sel4/objecttype.h>\n\
              #include <sel4/sel4_arch/objecttype.h>\n\
              #include <sel4/arch/objecttype.h>\n",
        )
        .expect("writing to cpp");
    let output = cpp.wait_with_output().expect("waiting for cpp");
    assert!(
        output.status.success(),
        "cpp over libsel4's object-type headers failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cpp output is UTF-8")
}

/// The names of the `pub const`s of `pub mod <module>` in the Rust source `text`.
fn declared_constants(text: &str, module: &str) -> BTreeSet<String> {
    let opening = format!("pub mod {module} {{");
    text.lines()
        .skip_while(|line| line.trim() != opening)
        .skip(1)
        .take_while(|line| line.trim_end() != "}")
        .filter_map(|line| line.trim().strip_prefix("pub const "))
        .filter_map(|declaration| declaration.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

/// The last path segments of our constants whose path starts with `prefix`.
fn compared_constants(table: &[Ours], prefix: &str) -> BTreeSet<String> {
    table
        .iter()
        .filter_map(|constant| constant.name.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_kernels_we_build_are_the_version_the_binding_describes() {
    for variant in Variant::ALL {
        assert_eq!(kernel_of(variant).version, sel4::kernel::VERSION, "{variant} kernel");
    }
}

#[test]
fn invocation_labels_are_the_kernels() {
    for variant in Variant::ALL {
        let kernel = kernel_enums(variant, LABEL_ENUMS);
        assert_no_mismatches(
            &format!("invocation labels ({variant} kernel)"),
            &compare(LABELS, &kernel, OMITTED_LABELS),
        );
    }
}

#[test]
fn object_types_are_the_kernels() {
    for variant in Variant::ALL {
        let kernel = kernel_enums(variant, OBJECT_TYPE_ENUMS);
        assert_no_mismatches(
            &format!("object types ({variant} kernel)"),
            &compare(OBJECT_TYPES, &kernel, OMITTED_OBJECT_TYPES),
        );
    }
}

#[test]
fn object_types_are_libsel4s_with_our_configurations() {
    for variant in Variant::ALL {
        let headers = libsel4_object_type_headers(&kernel_of(variant).source);
        let libsel4 = read_enums(&headers, OBJECT_TYPE_ENUMS)
            .unwrap_or_else(|error| panic!("reading libsel4's object types: {error}"));
        assert_no_mismatches(
            &format!("object types (libsel4, {variant} configuration)"),
            &compare(OBJECT_TYPES, &libsel4, OMITTED_OBJECT_TYPES),
        );
    }
}

/// Both ways, per variant: the release kernel has exactly our syscalls but the debug ones,
/// the debug kernel exactly all of ours.
#[test]
fn syscall_numbers_are_the_kernels() {
    for variant in Variant::ALL {
        let kernel = kernel_enums(variant, SYSCALL_ENUMS);
        assert_no_mismatches(
            &format!("syscall numbers ({variant} kernel)"),
            &compare(&syscalls_of(variant), &kernel, OMITTED_SYSCALLS),
        );
    }
    let release = kernel_enums(Variant::Release, SYSCALL_ENUMS);
    let debug_in_release: Vec<&str> = DEBUG_ONLY_SYSCALLS
        .iter()
        .copied()
        .filter(|name| release.iter().any(|enumerator| enumerator.name == *name))
        .collect();
    assert!(debug_in_release.is_empty(), "the release kernel has {debug_in_release:?}");
}

/// Every constant in our tables is in the lists above, so none escapes the comparison.
#[test]
fn every_constant_of_our_tables_is_compared() {
    let sel4_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sel4/src");
    let version_file = format!("kernel/v{}.rs", sel4::kernel::VERSION.replace('.', "_"));
    let tables: [(&str, &str, &[Ours], &str); 4] = [
        (&version_file, "label", LABELS, "kernel::label::"),
        (&version_file, "object_type", OBJECT_TYPES, "kernel::object_type::"),
        (&version_file, "syscall_number", SYSCALLS, "kernel::syscall_number::"),
        ("syscall.rs", "number", SYSCALLS, "syscall::number::"),
    ];
    for (file, module, table, prefix) in tables {
        let path = sel4_source.join(file);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let declared = declared_constants(&text, module);
        assert!(!declared.is_empty(), "no `pub mod {module}` constants in {file}");
        let compared = compared_constants(table, prefix);
        let unchecked: Vec<_> = declared.difference(&compared).collect();
        let gone: Vec<_> = compared.difference(&declared).collect();
        assert!(
            unchecked.is_empty() && gone.is_empty(),
            "{prefix}: declared in {file} but not compared with the kernel: {unchecked:?}; \
             compared but no longer declared: {gone:?}"
        );
    }
}

/// The comparison catches a wrong label: our real tables against the real kernel, with
/// CNodeMint changed to 23 (the value the crates.io `sel4-sys` 0.0.28 wrongly gives it).
#[test]
fn a_wrong_label_is_reported_exactly() {
    let kernel = kernel_enums(kernel().variant, LABEL_ENUMS);
    let kernel_mint = kernel
        .iter()
        .find(|enumerator| enumerator.name == "CNodeMint")
        .expect("the kernel has CNodeMint")
        .value;
    let wrong = 23;
    assert_ne!(kernel_mint, wrong, "pick another wrong value");
    let mut labels = LABELS.to_vec();
    let mint = labels
        .iter_mut()
        .find(|constant| constant.name == "kernel::label::CNODE_MINT")
        .expect("our CNODE_MINT");
    mint.value = wrong;

    let mismatches = compare(&labels, &kernel, OMITTED_LABELS);
    assert_eq!(
        mismatches,
        [Mismatch::WrongValue {
            ours: "kernel::label::CNODE_MINT",
            our_value: 23,
            kernel_name: "CNodeMint".to_string(),
            kernel_value: kernel_mint,
        }]
    );
    assert_eq!(
        mismatches[0].to_string(),
        format!("kernel::label::CNODE_MINT is 23, the kernel's CNodeMint is {kernel_mint}")
    );
}

// The comparison and the enum reader on small inputs, without a kernel.

fn enumerators(pairs: &[(&str, i128)]) -> Vec<Enumerator> {
    pairs.iter().map(|&(name, value)| Enumerator { name: name.to_string(), value }).collect()
}

const TWO: &[Ours] = &[
    Ours { name: "label::A", value: 1, kernel_name: "A" },
    Ours { name: "label::B", value: 2, kernel_name: "B" },
];

const COUNT_OMITTED: &[Omitted] = &[Omitted { kernel_name: "nLabels", why: "a count" }];

#[test]
fn compare_accepts_equal_tables() {
    let kernel = enumerators(&[("A", 1), ("B", 2), ("nLabels", 3)]);
    assert_eq!(compare(TWO, &kernel, COUNT_OMITTED), []);
}

#[test]
fn compare_reports_what_differs_both_ways() {
    let kernel = enumerators(&[("A", 1), ("Extra", 2), ("nLabels", 3)]);
    let omitted = [
        COUNT_OMITTED[0],
        Omitted { kernel_name: "A", why: "stale" },
        Omitted { kernel_name: "Gone", why: "stale" },
    ];
    assert_eq!(
        compare(TWO, &kernel, &omitted),
        [
            Mismatch::NotInKernel { ours: "label::B", our_value: 2, kernel_name: "B" },
            Mismatch::NeitherOursNorOmitted { kernel_name: "Extra".to_string(), kernel_value: 2 },
            Mismatch::OmittedButOurs { kernel_name: "A", why: "stale", ours: "label::A" },
            Mismatch::OmittedButNotInKernel { kernel_name: "Gone", why: "stale" },
        ]
    );
}

#[test]
fn read_enums_evaluates_like_a_c_compiler() {
    let text = "\
        int enumerated; /* enum not_this { X }; */\n\
        enum first {\n\
            Zero, /* a comment */\n\
            One,\n\
        # 12 \"header.h\"\n\
            Ten = 0xa, // another\n\
            Eleven,\n\
            Count\n\
        };\n\
        enum firsts { Wrong };\n\
        typedef enum second {\n\
            Chained = Count,\n\
            Negative = (-3),\n\
            After,\n\
        } second_t;\n";
    assert_eq!(
        read_enums(text, &["first", "second"]),
        Ok(enumerators(&[
            ("Zero", 0),
            ("One", 1),
            ("Ten", 10),
            ("Eleven", 11),
            ("Count", 12),
            ("Chained", 12),
            ("Negative", -3),
            ("After", -2),
        ]))
    );
}

#[test]
fn read_enums_refuses_what_it_cannot_read() {
    assert_eq!(
        read_enums("enum e { A = Unknown };", &["e"]),
        Err("cannot evaluate the enumerator `A = Unknown` of enum e".to_string())
    );
    assert_eq!(read_enums("enum e { A };", &["f"]), Err("no definition of enum f".to_string()));
    assert_eq!(
        read_enums("enum e { A = 1 + 2 };", &["e"]),
        Err("cannot evaluate the enumerator `A = 1 + 2` of enum e".to_string())
    );
}

#[test]
fn declared_constants_reads_one_module() {
    let text = "\
pub mod label {
    /// Doc.
    pub const A: u64 = 1;
    pub const B_C: u64 = 2;
}

pub mod other {
    pub const D: u64 = 3;
}
";
    assert_eq!(
        declared_constants(text, "label"),
        BTreeSet::from(["A".to_string(), "B_C".to_string()])
    );
}
