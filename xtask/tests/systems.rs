//! Every system description in the repository passes the build check, except the ones that
//! exist to be refused; a file that is not text is refused with its position; realm programs
//! are the workspace's realm packages wherever their folder is, and a `program` that names
//! none is refused with its line and the packages there are.

use std::path::Path;

use system_config::Rule;
use xtask::Workspace;
use xtask::packages::realm_packages;

/// Systems that exist to be refused, with the rule each breaks.
const REFUSED: &[(&str, Rule)] = &[("tests/systems/unknown-parent.toml", Rule::UnknownParent)];

fn check(workspace: &Workspace, relative: &str) -> Result<(), Vec<system_config::ConfigError>> {
    let checked = xtask::system::parse(workspace, &workspace.root().join(relative))
        .expect("reading the system and the workspace");
    assert_eq!(checked.shown, relative);
    checked.result.map(|_| ())
}

/// The `.toml` files directly in `folder` (relative to the repository), by relative path.
fn system_files(workspace: &Workspace, folder: &str) -> Vec<String> {
    let mut systems = Vec::new();
    for entry in std::fs::read_dir(workspace.root().join(folder)).expect(folder) {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|extension| extension == "toml") {
            let name = path.file_name().expect("a name").to_string_lossy().into_owned();
            systems.push(format!("{folder}/{name}"));
        }
    }
    systems
}

#[test]
fn every_system_in_the_repository_passes_the_check_or_is_meant_to_fail() {
    let workspace = Workspace::current();
    let mut systems = vec![
        "system.toml".to_string(),
        "bench/system.toml".to_string(),
        "examples/hello/system.toml".to_string(),
    ];
    systems.extend(system_files(&workspace, "tests/systems"));
    for system in &systems {
        let result = check(&workspace, system);
        match REFUSED.iter().find(|(refused, _)| refused == system) {
            Some((_, rule)) => {
                let errors = result.expect_err("meant to be refused");
                assert!(errors.iter().all(|error| error.rule == *rule), "{system}: {errors:#?}");
            }
            None => {
                if let Err(errors) = result {
                    let printed: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    panic!("{system} is refused:\n{}", printed.join("\n"));
                }
            }
        }
    }
    assert!(Path::new(&workspace.root().join("tests/systems")).is_dir());
}

#[test]
fn the_tool_refuses_a_file_that_is_not_text_with_its_position() {
    let workspace = Workspace::current();
    let folder = workspace.target_dir().join("xtask-tests");
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    let path = folder.join("latin1.toml");
    std::fs::write(&path, b"[[realm]]\nname = \"m\xfcller\"\n").expect("writing");
    let errors =
        xtask::system::parse(&workspace, &path).expect("reading").result.expect_err("not UTF-8");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].rule, Rule::NotText);
    assert_eq!((errors[0].line, errors[0].column), (2, 10));
    let error = xtask::system::check(&workspace, &path).expect_err("not UTF-8");
    assert!(format!("{error:#}").contains("1 error(s), nothing was built"), "{error:#}");
}

#[test]
fn realm_programs_are_the_workspace_packages_that_link_the_realm_runtime_in_any_folder() {
    let workspace = Workspace::current();
    let packages = realm_packages(&workspace).expect("cargo metadata");
    let folder_of = |name: &str| {
        let package = packages
            .iter()
            .find(|package| package.name == name)
            .unwrap_or_else(|| panic!("{name} is not a realm package: {packages:#?}"));
        let folder = package.manifest.parent().expect("a folder");
        folder.strip_prefix(workspace.root()).expect("inside the repository").to_path_buf()
    };
    // One from each folder, and the example outside realms/ and tests/.
    assert_eq!(folder_of("hello"), Path::new("examples/hello"));
    assert_eq!(folder_of("init"), Path::new("realms/init"));
    assert_eq!(folder_of("lc-echo"), Path::new("tests/realms/lc-echo"));
    assert_eq!(folder_of("bench-client"), Path::new("bench/realms/bench-client"));
    let hello = packages.iter().find(|package| package.name == "hello").expect("hello");
    assert_eq!(hello.binary, "hello");
    // Libraries beside the realms and root tasks are no realm programs.
    for not_a_realm in
        ["demo-protocols", "test-protocols", "memory-manager", "probe-panic", "realm-runtime"]
    {
        assert!(
            packages.iter().all(|package| package.name != not_a_realm),
            "{not_a_realm} is listed as a realm program"
        );
    }
    let mut sorted = packages.clone();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(packages, sorted);
}

#[test]
fn a_program_that_is_no_workspace_package_is_refused_with_its_line_and_the_known_packages() {
    let workspace = Workspace::current();
    let folder = workspace.target_dir().join("xtask-tests");
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    let path = folder.join("unknown-program.toml");
    let text = "[system]\nrun = \"until-idle\"\n\n[[realm]]\nname = \"root\"\n\
                program = \"nowhere\"\npriority = 100\nmemory = \"1 MiB\"\n";
    std::fs::write(&path, text).expect("writing");
    let checked = xtask::system::parse(&workspace, &path).expect("reading");
    let errors = checked.result.expect_err("an unknown program");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let error = &errors[0];
    assert_eq!(error.rule, Rule::UnknownProgram);
    assert_eq!(error.file, checked.shown);
    assert_eq!((error.line, error.column), (6, 11));
    for known in ["hello", "init", "lc-echo", "bench-client"] {
        assert!(error.message.contains(known), "{known} missing from: {}", error.message);
    }
    let error = xtask::system::check(&workspace, &path).expect_err("an unknown program");
    assert!(format!("{error:#}").contains("1 error(s), nothing was built"), "{error:#}");
}
