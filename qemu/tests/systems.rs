//! Every system description in the repository passes the build check, except the ones that
//! exist to be refused; and a file that is not text is refused with its position.

use std::path::Path;

use qemu::Workspace;
use system_config::Rule;

/// Systems that exist to be refused, with the rule each breaks.
const REFUSED: &[(&str, Rule)] = &[("tests/systems/unknown-parent.toml", Rule::UnknownParent)];

fn check(workspace: &Workspace, relative: &str) -> Result<(), Vec<system_config::ConfigError>> {
    let programs = qemu::system::realm_programs(workspace).expect("listing realm programs");
    let programs: Vec<&str> = programs.iter().map(String::as_str).collect();
    let bytes = std::fs::read(workspace.root().join(relative)).expect("reading the system");
    system_config::parse_bytes(relative, &bytes, &programs).map(|_| ())
}

#[test]
fn every_system_in_the_repository_passes_the_check_or_is_meant_to_fail() {
    let workspace = Workspace::current();
    let mut systems = vec!["system.toml".to_string(), "bench/system.toml".to_string()];
    let folder = workspace.root().join("tests/systems");
    for entry in std::fs::read_dir(&folder).expect("tests/systems") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|extension| extension == "toml") {
            let name = path.file_name().expect("a name").to_string_lossy().into_owned();
            systems.push(format!("tests/systems/{name}"));
        }
    }
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
    let folder = workspace.target_dir().join("qemu-tests");
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    let path = folder.join("latin1.toml");
    std::fs::write(&path, b"[[realm]]\nname = \"m\xfcller\"\n").expect("writing");
    let error = qemu::system::check(&workspace, &path).expect_err("not UTF-8");
    assert!(format!("{error:#}").contains("1 error(s), nothing was built"), "{error:#}");
}
