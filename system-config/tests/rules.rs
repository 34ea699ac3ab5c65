//! One test per rule of `system.toml`: each checks the rule, the exact printed error (with
//! the line and column it points to) and that nothing else is reported.

use system_config::{
    ConfigError, MAX_DECLARED_GRANTS, MAX_DECLARED_SERVICES, MAX_REALMS, Rule, parse, parse_bytes,
};

const PROGRAMS: &[&str] = &["init", "logger", "kv-store", "app", "plugin"];

/// The root realm that most tests start from: lines 1 to 5.
const INIT: &str = r#"[[realm]]
name = "init"
program = "init"
priority = 200
memory = "16 MiB"
"#;

fn errors(text: &str) -> Vec<ConfigError> {
    match parse("system.toml", text, PROGRAMS) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors,
    }
}

/// Asserts that `text` has exactly one error, of `rule`, printed as `printed`.
fn assert_only_error(text: &str, rule: Rule, printed: &str) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    assert_error(&errors[0], rule, printed);
}

fn assert_error(error: &ConfigError, rule: Rule, printed: &str) {
    assert_eq!(error.rule, rule, "{error}");
    assert_eq!(error.to_string(), printed);
}

fn with_init(rest: &str) -> String {
    format!("{INIT}{rest}")
}

#[test]
fn not_text_points_at_the_first_byte_that_is_not_utf8() {
    // "ü" written in Latin-1 (0xfc) on line 3, after `name = "m`.
    let mut bytes = b"[[realm]]\n# caf\xc3\xa9 is UTF-8\nname = \"m".to_vec();
    bytes.extend_from_slice(b"\xfcller\"\n");
    let errors = parse_bytes("system.toml", &bytes, PROGRAMS).expect_err("not UTF-8");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::NotText,
        "system.toml:3:10: error[not-text]: the file is not UTF-8 text: byte 0xfc here is not \
         UTF-8; a system description is TOML, which is UTF-8: save it as UTF-8",
    );
}

#[test]
fn not_text_when_the_file_ends_inside_a_character() {
    let errors = parse_bytes("system.toml", b"[[realm]]\n\xe2\x82", PROGRAMS).expect_err("cut");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::NotText,
        "system.toml:2:1: error[not-text]: the file is not UTF-8 text: it ends in the middle of \
         a character; a system description is TOML, which is UTF-8: save it as UTF-8",
    );
}

#[test]
fn a_binary_file_that_happens_to_be_utf8_is_not_toml() {
    let errors =
        parse_bytes("system.toml", b"\x7fELF\x02\x01\x01\x00", PROGRAMS).expect_err("not TOML");
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|error| error.rule == Rule::TomlSyntax), "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].column), (1, 1), "{errors:#?}");
}

#[test]
fn parse_bytes_reads_utf8_text_like_parse() {
    assert_eq!(
        parse_bytes("system.toml", INIT.as_bytes(), PROGRAMS),
        parse("system.toml", INIT, PROGRAMS)
    );
}

#[test]
fn toml_syntax() {
    let text = "[[realm]]\nname = \n";
    assert_only_error(
        text,
        Rule::TomlSyntax,
        "system.toml:2:8: error[toml-syntax]: invalid TOML: string values must be quoted, \
         expected literal string",
    );
}

#[test]
fn toml_syntax_reports_a_duplicate_key_at_the_second_key() {
    let text = with_init("priority = 100\n");
    assert_only_error(
        &text,
        Rule::TomlSyntax,
        "system.toml:6:1: error[toml-syntax]: invalid TOML: duplicate key",
    );
}

#[test]
fn unknown_field_in_a_realm() {
    let text = with_init("prio = 3\n");
    assert_only_error(
        &text,
        Rule::UnknownField,
        "system.toml:6:1: error[unknown-field]: unknown field `prio` in realm \"init\"; the fields \
         are: name, program, parent, priority, memory, restartable, max_restarts, \
         max_connections, max_services, max_threads, on_thread_fault",
    );
}

#[test]
fn unknown_field_at_top_level() {
    let text = with_init("\n[[realms]]\nname = \"x\"\n");
    assert_only_error(
        &text,
        Rule::UnknownField,
        "system.toml:7:3: error[unknown-field]: unknown top-level key `realms`; a system.toml \
         has only a [system] table and [[realm]], [[service]] and [[grant]] tables",
    );
}

#[test]
fn bad_setting_names_the_choices() {
    let text = with_init("\n[system]\nrun = \"sometimes\"\nlog = \"loud\"\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::BadSetting,
        "system.toml:8:7: error[bad-setting]: `run` of [system] is \"sometimes\"; it must be one \
         of \"forever\", \"until-idle\"",
    );
    assert_error(
        &errors[1],
        Rule::BadSetting,
        "system.toml:9:7: error[bad-setting]: `log` of [system] is \"loud\"; it must be one of \
         \"all\", \"denials\", \"quiet\"",
    );
}

#[test]
fn unknown_field_in_the_system_table() {
    let text = with_init("\n[system]\nrun_forever = true\n");
    assert_only_error(
        &text,
        Rule::UnknownField,
        "system.toml:8:1: error[unknown-field]: unknown field `run_forever` in [system]; the \
         fields are: run, log, memory",
    );
}

#[test]
fn the_system_table_sets_run_and_log_and_defaults_to_forever_and_all() {
    use system_config::{LogLevel, RunPolicy};
    let config = parse("system.toml", INIT, PROGRAMS).expect("valid");
    assert_eq!((config.settings.run, config.settings.log), (RunPolicy::Forever, LogLevel::All));
    let text = with_init("\n[system]\nrun = \"until-idle\"\nlog = \"denials\"\n");
    let config = parse("system.toml", &text, PROGRAMS).expect("valid");
    assert_eq!(
        (config.settings.run, config.settings.log),
        (RunPolicy::UntilIdle, LogLevel::Denials)
    );
}

#[test]
fn missing_field_points_at_the_table() {
    let text = "# the root\n[[realm]]\nname = \"init\"\nprogram = \"init\"\nmemory = \"16 MiB\"\n";
    assert_only_error(
        text,
        Rule::MissingField,
        "system.toml:2:1: error[missing-field]: realm \"init\" is missing the required field \
         `priority`",
    );
}

#[test]
fn wrong_type() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = \"high\"\nmemory = \"16 MiB\"\n";
    assert_only_error(
        text,
        Rule::WrongType,
        "system.toml:4:12: error[wrong-type]: field `priority` of realm \"init\" must be an \
         integer, not a string",
    );
}

#[test]
fn wrong_type_for_a_single_table_instead_of_an_array_of_tables() {
    let text = with_init("\n[grant]\nclient = \"init\"\n");
    assert_only_error(
        &text,
        Rule::WrongType,
        "system.toml:7:1: error[wrong-type]: `grant` (write each one as a [[grant]] table) must \
         be an array of tables, not a table",
    );
}

#[test]
fn bad_realm_name() {
    let text = with_init(
        "\n[[realm]]\nname = \"Logger\"\nprogram = \"logger\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::BadName,
        "system.toml:8:8: error[bad-name]: realm name \"Logger\" has the character 'L': use 1 to \
         32 characters of a-z, 0-9 and -",
    );
}

#[test]
fn bad_service_name_too_long() {
    let name = "a".repeat(33);
    let text = with_init(&format!("\n[[service]]\nname = \"{name}\"\nrealm = \"init\"\n"));
    assert_only_error(
        &text,
        Rule::BadName,
        &format!(
            "system.toml:8:8: error[bad-name]: service name \"{name}\" is 33 characters long: use \
             1 to 32 characters of a-z, 0-9 and -"
        ),
    );
}

#[test]
fn a_service_interface_is_a_name_and_optional() {
    let text = with_init(
        "\n[[service]]\nname = \"kv\"\nrealm = \"init\"\ninterface = \"kv-v2\"\n\
         \n[[service]]\nname = \"log\"\nrealm = \"init\"\n",
    );
    let config = parse("system.toml", &text, PROGRAMS).expect("accepted");
    assert_eq!(config.services[0].interface.as_deref(), Some("kv-v2"));
    assert_eq!(config.services[1].interface, None);
}

#[test]
fn bad_interface_name() {
    let text = with_init("\n[[service]]\nname = \"kv\"\nrealm = \"init\"\ninterface = \"Kv\"\n");
    assert_only_error(
        &text,
        Rule::BadName,
        "system.toml:10:13: error[bad-name]: interface name \"Kv\" has the character 'K': use 1 \
         to 32 characters of a-z, 0-9 and -",
    );
    let name = "a".repeat(33);
    let text = with_init(&format!(
        "\n[[service]]\nname = \"kv\"\nrealm = \"init\"\ninterface = \"{name}\"\n"
    ));
    assert_only_error(
        &text,
        Rule::BadName,
        &format!(
            "system.toml:10:13: error[bad-name]: interface name \"{name}\" is 33 characters \
             long: use 1 to 32 characters of a-z, 0-9 and -"
        ),
    );
    let text = with_init("\n[[service]]\nname = \"kv\"\nrealm = \"init\"\ninterface = \"\"\n");
    assert_only_error(
        &text,
        Rule::BadName,
        "system.toml:10:13: error[bad-name]: interface name \"\" is empty: use 1 to 32 \
         characters of a-z, 0-9 and -",
    );
}

#[test]
fn interface_must_be_a_string() {
    let text = with_init("\n[[service]]\nname = \"kv\"\nrealm = \"init\"\ninterface = 3\n");
    assert_only_error(
        &text,
        Rule::WrongType,
        "system.toml:10:13: error[wrong-type]: field `interface` of service \"kv\" must be a \
         string, not an integer",
    );
}

#[test]
fn bad_program_name() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"\"\npriority = 1\nmemory = \"4 KiB\"\n";
    assert_only_error(
        text,
        Rule::BadName,
        "system.toml:3:11: error[bad-name]: program name \"\" is empty: use 1 to 32 characters \
         of A-Z, a-z, 0-9, - and _",
    );
}

#[test]
fn duplicate_realm() {
    let text = with_init(
        "\n[[realm]]\nname = \"init\"\nprogram = \"app\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    let errors = errors(&text);
    // The second "init" is also a second root: both are reported, in file order.
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::MultipleRootRealms,
        "system.toml:7:1: error[multiple-root-realms]: realm \"init\" has no parent, but realm \
         \"init\" (line 1) is already the root; exactly one realm may have no `parent`",
    );
    assert_error(
        &errors[1],
        Rule::DuplicateRealm,
        "system.toml:8:8: error[duplicate-realm]: realm \"init\" is declared twice (first at \
         line 2)",
    );
}

#[test]
fn duplicate_realm_with_a_parent() {
    let text = with_init(
        "[[realm]]\nname = \"kv\"\nprogram = \"kv-store\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n\
         [[realm]]\nname = \"kv\"\nprogram = \"kv-store\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::DuplicateRealm,
        "system.toml:13:8: error[duplicate-realm]: realm \"kv\" is declared twice (first at line \
         7)",
    );
}

#[test]
fn duplicate_service() {
    let text = with_init(
        "max_services = 2\n\n[[service]]\nname = \"log\"\nrealm = \"init\"\n\n[[service]]\nname = \"log\"\nrealm = \"init\"\n",
    );
    assert_only_error(
        &text,
        Rule::DuplicateService,
        "system.toml:13:8: error[duplicate-service]: service \"log\" is declared twice (first at \
         line 9)",
    );
}

#[test]
fn unknown_parent() {
    let text = with_init(
        "\n[[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"inti\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::UnknownParent,
        "system.toml:10:10: error[unknown-parent]: parent \"inti\" of realm \"app\" is not a \
         declared realm",
    );
}

#[test]
fn no_root_realm_in_an_empty_file() {
    assert_only_error(
        "# nothing yet\n",
        Rule::NoRootRealm,
        "system.toml:1:1: error[no-root-realm]: no realm is declared: a system needs at least a \
         root realm, a [[realm]] without `parent`",
    );
}

#[test]
fn no_root_realm_when_every_realm_has_a_parent() {
    let text = "[[realm]]\nname = \"a\"\nprogram = \"app\"\nparent = \"b\"\npriority = 1\nmemory = \"4 KiB\"\n\
                [[realm]]\nname = \"b\"\nprogram = \"app\"\nparent = \"a\"\npriority = 1\nmemory = \"4 KiB\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::NoRootRealm,
        "system.toml:1:1: error[no-root-realm]: no realm is the root of the realm tree: every \
         realm names a `parent`, but exactly one realm must have none",
    );
    assert_error(
        &errors[1],
        Rule::RealmCycle,
        "system.toml:4:10: error[realm-cycle]: the parents of realm \"a\" form a cycle: \"a\" -> \
         \"b\" -> \"a\" (each arrow leads to a parent)",
    );
}

#[test]
fn more_than_one_root_realm() {
    let text = with_init(
        "\n[[realm]]\nname = \"app\"\nprogram = \"app\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::MultipleRootRealms,
        "system.toml:7:1: error[multiple-root-realms]: realm \"app\" has no parent, but realm \
         \"init\" (line 1) is already the root; exactly one realm may have no `parent`",
    );
}

#[test]
fn cycle_in_the_realm_tree_below_a_valid_root() {
    let text = with_init(
        "[[realm]]\nname = \"a\"\nprogram = \"app\"\nparent = \"c\"\npriority = 1\nmemory = \"4 KiB\"\n\
         [[realm]]\nname = \"b\"\nprogram = \"app\"\nparent = \"a\"\npriority = 1\nmemory = \"4 KiB\"\n\
         [[realm]]\nname = \"c\"\nprogram = \"app\"\nparent = \"b\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::RealmCycle,
        "system.toml:9:10: error[realm-cycle]: the parents of realm \"a\" form a cycle: \"a\" -> \
         \"c\" -> \"b\" -> \"a\" (each arrow leads to a parent)",
    );
}

#[test]
fn realm_that_is_its_own_parent() {
    let text = with_init(
        "[[realm]]\nname = \"a\"\nprogram = \"app\"\nparent = \"a\"\npriority = 1\nmemory = \"4 KiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::RealmCycle,
        "system.toml:9:10: error[realm-cycle]: realm \"a\" is its own parent",
    );
}

#[test]
fn service_in_an_unknown_realm() {
    let text = with_init("\n[[service]]\nname = \"log\"\nrealm = \"logger\"\n");
    assert_only_error(
        &text,
        Rule::UnknownServiceRealm,
        "system.toml:9:9: error[unknown-service-realm]: service \"log\" is provided by realm \
         \"logger\", which is not a declared realm",
    );
}

#[test]
fn grant_naming_an_unknown_realm() {
    let text = with_init(
        "\n[[service]]\nname = \"log\"\nrealm = \"init\"\n\n[[grant]]\nclient = \"ap\"\nservice = \"log\"\n",
    );
    assert_only_error(
        &text,
        Rule::UnknownGrantClient,
        "system.toml:12:10: error[unknown-grant-client]: grant names client \"ap\", which is not \
         a declared realm",
    );
}

#[test]
fn grant_naming_an_unknown_service() {
    let text = with_init("\n[[grant]]\nclient = \"init\"\nservice = \"logs\"\n");
    assert_only_error(
        &text,
        Rule::UnknownGrantService,
        "system.toml:9:11: error[unknown-grant-service]: grant names service \"logs\", which is \
         not a declared service",
    );
}

#[test]
fn allowed_client_naming_an_unknown_realm() {
    let text = with_init(
        "\n[[service]]\nname = \"log\"\nrealm = \"init\"\nallowed_clients = [\"init\", \"kv\"]\n",
    );
    assert_only_error(
        &text,
        Rule::UnknownAllowedClient,
        "system.toml:10:28: error[unknown-allowed-client]: allowed client \"kv\" of service \
         \"log\" is not a declared realm",
    );
}

#[test]
fn allowed_client_listed_twice() {
    let text = with_init(
        "\n[[service]]\nname = \"log\"\nrealm = \"init\"\nallowed_clients = [\"init\", \"init\"]\n",
    );
    assert_only_error(
        &text,
        Rule::DuplicateAllowedClient,
        "system.toml:10:28: error[duplicate-allowed-client]: realm \"init\" is listed twice in \
         the allowed_clients of service \"log\"",
    );
}

#[test]
fn duplicate_grant() {
    let text = with_init(
        "\n[[service]]\nname = \"log\"\nrealm = \"init\"\n\n[[grant]]\nclient = \"init\"\nservice = \"log\"\n\n\
         [[grant]]\nclient = \"init\"\nservice = \"log\"\n",
    );
    assert_only_error(
        &text,
        Rule::DuplicateGrant,
        "system.toml:15:1: error[duplicate-grant]: realm \"init\" is granted service \"log\" \
         twice (first at line 11)",
    );
}

#[test]
fn grant_denied_by_the_service_policy() {
    let text = with_init(
        "\n[[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n\
         \n[[service]]\nname = \"log\"\nrealm = \"init\"\nallowed_clients = [\"init\"]\n\
         \n[[grant]]\nclient = \"app\"\nservice = \"log\"\n",
    );
    assert_only_error(
        &text,
        Rule::GrantDeniedByService,
        "system.toml:20:10: error[grant-denied-by-service]: grant lets realm \"app\" connect to \
         service \"log\", but that service accepts only \"init\"; add \"app\" to its \
         allowed_clients or remove this grant",
    );
}

#[test]
fn grant_denied_by_a_service_that_accepts_nobody() {
    let text = with_init(
        "\n[[service]]\nname = \"log\"\nrealm = \"init\"\nallowed_clients = []\n\
         \n[[grant]]\nclient = \"init\"\nservice = \"log\"\n",
    );
    assert_only_error(
        &text,
        Rule::GrantDeniedByService,
        "system.toml:13:10: error[grant-denied-by-service]: grant lets realm \"init\" connect to \
         service \"log\", but that service accepts no client; add \"init\" to its \
         allowed_clients or remove this grant",
    );
}

#[test]
fn child_memory_budget_above_its_parent() {
    let text = with_init(
        "\n[[realm]]\nname = \"kv\"\nprogram = \"kv-store\"\nparent = \"init\"\npriority = 100\nmemory = \"32 MiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::MemoryAboveParent,
        "system.toml:12:10: error[memory-above-parent]: realm \"kv\" has a memory budget of 32 \
         MiB, more than its parent realm \"init\" has (16 MiB)",
    );
}

#[test]
fn child_priority_above_its_parent() {
    let text = with_init(
        "\n[[realm]]\nname = \"kv\"\nprogram = \"kv-store\"\nparent = \"init\"\npriority = 201\nmemory = \"1 MiB\"\n",
    );
    assert_only_error(
        &text,
        Rule::PriorityAboveParent,
        "system.toml:11:12: error[priority-above-parent]: realm \"kv\" has priority 201, above \
         its parent realm \"init\" (200): a realm may not run above the realm that starts it",
    );
}

#[test]
fn program_that_does_not_exist() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"inti\"\npriority = 1\nmemory = \"4 KiB\"\n";
    assert_only_error(
        text,
        Rule::UnknownProgram,
        "system.toml:3:11: error[unknown-program]: program \"inti\" does not exist; the build \
         has: init, logger, kv-store, app, plugin",
    );
}

#[test]
fn bad_memory_size_unit() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 1\nmemory = \"16 MB\"\n";
    assert_only_error(
        text,
        Rule::BadMemorySize,
        "system.toml:5:10: error[bad-memory-size]: memory size \"16 MB\" is not understood: write \
         a number of bytes, or a whole number with KiB, MiB or GiB, such as \"16 MiB\"",
    );
}

#[test]
fn bad_memory_size_zero_and_partial_page() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 1\nmemory = 6000\n\
                [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"0 KiB\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::BadMemorySize,
        "system.toml:5:10: error[bad-memory-size]: memory size 6000 is not a whole number of 4 \
         KiB pages",
    );
    assert_error(
        &errors[1],
        Rule::BadMemorySize,
        "system.toml:11:10: error[bad-memory-size]: memory size \"0 KiB\" is zero: a realm needs \
         at least one 4 KiB page",
    );
}

/// A service `s` of realm `low` (priority 120, a child of init) with `service_extra` lines,
/// and realm `high` (priority 150): the service's header is at line 21, `service_extra` starts
/// at line 24.
fn inversion_system(service_extra: &str) -> String {
    with_init(&format!(
        "\n[[realm]]\nname = \"low\"\nprogram = \"app\"\nparent = \"init\"\npriority = 120\nmemory = \"1 MiB\"\n\
         \n[[realm]]\nname = \"high\"\nprogram = \"app\"\nparent = \"init\"\npriority = 150\nmemory = \"1 MiB\"\n\
         \n[[service]]\nname = \"s\"\nrealm = \"low\"\n{service_extra}"
    ))
}

#[test]
fn priority_inversion_of_a_grant() {
    let text = inversion_system("\n[[grant]]\nclient = \"high\"\nservice = \"s\"\n");
    assert_only_error(
        &text,
        Rule::PriorityInversion,
        "system.toml:26:10: error[priority-inversion]: grant lets realm \"high\" (priority 150) \
         call service \"s\", whose provider realm \"low\" has priority 120: its calls would wait \
         while any realm at priorities 121 to 150 runs; lower the client, raise the provider, \
         or set allow_priority_inversion = true on the service",
    );
}

#[test]
fn priority_inversion_of_an_allowed_client() {
    let text = inversion_system("allowed_clients = [\"init\", \"low\"]\n");
    assert_only_error(
        &text,
        Rule::PriorityInversion,
        "system.toml:24:20: error[priority-inversion]: allowed client \"init\" of service \"s\" \
         has priority 200, above its provider realm \"low\" (priority 120): its calls would \
         wait while any realm at priorities 121 to 200 runs; lower the client, raise the \
         provider, or set allow_priority_inversion = true on the service",
    );
}

#[test]
fn priority_inversion_names_a_single_priority_when_there_is_one() {
    let text = with_init(
        "\n[[realm]]\nname = \"low\"\nprogram = \"app\"\nparent = \"init\"\npriority = 199\nmemory = \"1 MiB\"\n\
         \n[[service]]\nname = \"s\"\nrealm = \"low\"\n\n[[grant]]\nclient = \"init\"\nservice = \"s\"\n",
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].message.contains("while any realm at priority 200 runs"), "{errors:#?}");
}

#[test]
fn allow_priority_inversion_accepts_higher_clients_and_equal_priorities_need_nothing() {
    let text = inversion_system(
        "allow_priority_inversion = true\nallowed_clients = [\"init\", \"high\"]\n\
         \n[[grant]]\nclient = \"high\"\nservice = \"s\"\n",
    );
    let config = parse("system.toml", &text, PROGRAMS).expect("accepted");
    assert!(config.services[0].allow_priority_inversion);
    // A client at the provider's own priority is no inversion.
    let text =
        with_init("\n[[service]]\nname = \"s\"\nrealm = \"init\"\nallowed_clients = [\"init\"]\n");
    let config = parse("system.toml", &text, PROGRAMS).expect("accepted");
    assert!(!config.services[0].allow_priority_inversion);
}

#[test]
fn allow_priority_inversion_must_be_a_boolean() {
    let text = inversion_system("allow_priority_inversion = \"yes\"\n");
    assert_only_error(
        &text,
        Rule::WrongType,
        "system.toml:24:28: error[wrong-type]: field `allow_priority_inversion` of service \"s\" \
         must be true or false, not a string",
    );
}

#[test]
fn budgets_exceed_the_default_machine_memory() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 200\nmemory = \"384 MiB\"\n\
                [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"256 MiB\"\n";
    assert_only_error(
        text,
        Rule::BudgetsExceedMemory,
        "system.toml:11:10: error[budgets-exceed-memory]: the realms' memory budgets add up to \
         640 MiB with realm \"app\", more than the machine's 512 MiB (the default when [system] \
         sets no `memory`: what the qemu tool gives QEMU): the memory manager could not start \
         every realm",
    );
}

#[test]
fn budgets_exceed_a_declared_machine_memory_and_sums_never_wrap() {
    // Two budgets of 2^63 bytes: their sum, 2^64, does not fit in a u64.
    let huge = "8589934592 GiB";
    let text = format!(
        "[system]\nmemory = \"4 GiB\"\n\n[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 200\nmemory = \"{huge}\"\n\
         [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"{huge}\"\n"
    );
    assert_only_error(
        &text,
        Rule::BudgetsExceedMemory,
        "system.toml:8:10: error[budgets-exceed-memory]: the realms' memory budgets add up to \
         8589934592 GiB with realm \"init\", more than the machine's 4 GiB (`memory` of \
         [system], line 2): the memory manager could not start every realm",
    );
    let text = format!(
        "[system]\nmemory = \"17179869183 GiB\"\n\n[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 200\nmemory = \"{huge}\"\n\
         [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"{huge}\"\n"
    );
    assert_only_error(
        &text,
        Rule::BudgetsExceedMemory,
        "system.toml:14:10: error[budgets-exceed-memory]: the realms' memory budgets add up to \
         17179869184 GiB with realm \"app\", more than the machine's 17179869183 GiB (`memory` \
         of [system], line 2): the memory manager could not start every realm",
    );
}

#[test]
fn the_machine_memory_is_a_memory_size() {
    let config = parse("system.toml", &with_init("\n[system]\nmemory = \"1 GiB\"\n"), PROGRAMS)
        .expect("valid");
    assert_eq!(config.settings.memory_bytes, 1 << 30);
    let config = parse("system.toml", INIT, PROGRAMS).expect("valid");
    assert_eq!(config.settings.memory_bytes, system_config::DEFAULT_MACHINE_MEMORY);
    assert_only_error(
        &with_init("\n[system]\nmemory = \"0 MiB\"\n"),
        Rule::BadMemorySize,
        "system.toml:8:10: error[bad-memory-size]: memory size \"0 MiB\" is zero: the machine \
         needs at least one 4 KiB page",
    );
}

/// A root and `count - 1` children, all valid.
/// `init` and `count - 1` children; each child may provide `child_services` services (the
/// quotas of all realms together must fit the broker's 1024).
fn realms_with_quota(count: usize, child_services: usize) -> String {
    let mut text = String::from(INIT);
    text.push_str("max_services = 64\n");
    for index in 1..count {
        text.push_str(&format!(
            "[[realm]]\nname = \"r{index}\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\nmax_services = {child_services}\n"
        ));
    }
    text
}

fn realms(count: usize) -> String {
    realms_with_quota(count, 16)
}

#[test]
fn too_many_realms() {
    let text = realms(MAX_REALMS + 1);
    // INIT plus its max_services line is 6 lines; each child is 7 lines.
    let line = 6 + 7 * (MAX_REALMS - 1) + 1;
    assert_only_error(
        &text,
        Rule::TooManyRealms,
        &format!(
            "system.toml:{line}:1: error[too-many-realms]: too many realms: this file declares 33 \
             and a system may have at most 32; this is number 33"
        ),
    );
    assert!(parse("system.toml", &realms(MAX_REALMS), PROGRAMS).is_ok());
}

#[test]
fn too_many_services() {
    let mut text = realms_with_quota(2, 64);
    for index in 0..=MAX_DECLARED_SERVICES {
        let realm = if index % 2 == 0 { "init" } else { "r1" };
        text.push_str(&format!("[[service]]\nname = \"s{index}\"\nrealm = \"{realm}\"\n"));
    }
    let line = 6 + 7 + 3 * MAX_DECLARED_SERVICES + 1;
    assert_only_error(
        &text,
        Rule::TooManyServices,
        &format!(
            "system.toml:{line}:1: error[too-many-services]: too many services: this file \
             declares 65 and a system may have at most 64; this is number 65"
        ),
    );
}

#[test]
fn too_many_grants() {
    let mut text = realms(3);
    let services_needed = MAX_DECLARED_GRANTS / 3 + 1;
    for index in 0..services_needed {
        text.push_str(&format!("[[service]]\nname = \"s{index}\"\nrealm = \"init\"\n"));
    }
    for index in 0..=MAX_DECLARED_GRANTS {
        let client = ["init", "r1", "r2"][index % 3];
        let service = index / 3;
        text.push_str(&format!("[[grant]]\nclient = \"{client}\"\nservice = \"s{service}\"\n"));
    }
    let line = 6 + 7 * 2 + 3 * services_needed + 3 * MAX_DECLARED_GRANTS + 1;
    assert_only_error(
        &text,
        Rule::TooManyGrants,
        &format!(
            "system.toml:{line}:1: error[too-many-grants]: too many grants: this file declares \
             129 and a system may have at most 128; this is number 129"
        ),
    );
}

#[test]
fn too_many_allowed_clients() {
    let mut text = realms(17);
    let clients: Vec<String> = (1..17).map(|index| format!("\"r{index}\"")).collect();
    text.push_str(&format!(
        "[[service]]\nname = \"log\"\nrealm = \"init\"\nallowed_clients = [\"init\", {}]\n",
        clients.join(", ")
    ));
    let line = 6 + 7 * 16 + 4;
    // The 17th entry, "r16", starts after `allowed_clients = [` (19 characters) and 16 entries.
    let column =
        20 + "\"init\", ".len() + (1..16).map(|i| format!("\"r{i}\", ").len()).sum::<usize>();
    assert_only_error(
        &text,
        Rule::TooManyAllowedClients,
        &format!(
            "system.toml:{line}:{column}: error[too-many-allowed-clients]: service \"log\" lists \
             17 allowed clients; at most 16 are allowed"
        ),
    );
}

#[test]
fn priority_out_of_range() {
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 254\nmemory = \"4 KiB\"\n\
                [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = -1\nmemory = \"4 KiB\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::PriorityOutOfRange,
        "system.toml:4:12: error[priority-out-of-range]: priority 254 of realm \"init\" is out \
         of range: realms have priorities 0 to 253 (254 is the memory manager's console thread, \
         255 the memory manager)",
    );
    assert_error(
        &errors[1],
        Rule::PriorityOutOfRange,
        "system.toml:10:12: error[priority-out-of-range]: priority -1 of realm \"app\" is out of \
         range: realms have priorities 0 to 253 (254 is the memory manager's console thread, 255 \
         the memory manager)",
    );
}

#[test]
fn quota_out_of_range() {
    let text = with_init("max_connections = 256\nmax_services = 1025\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::QuotaOutOfRange,
        "system.toml:6:19: error[quota-out-of-range]: `max_connections` of realm \"init\" is 256, \
         outside 0 to 255",
    );
    assert_error(
        &errors[1],
        Rule::QuotaOutOfRange,
        "system.toml:7:16: error[quota-out-of-range]: `max_services` of realm \"init\" is 1025, \
         outside 0 to 1024",
    );
}

#[test]
fn max_threads_is_1_to_16_and_defaults_to_the_main_thread_only() {
    let config = parse("system.toml", INIT, PROGRAMS).expect("valid");
    assert_eq!(config.realms[0].max_threads, 1);
    assert_eq!(config.realms[0].max_threads, system_config::DEFAULT_MAX_THREADS);
    for threads in [1, 7, 16] {
        let text = with_init(&format!("max_threads = {threads}\n"));
        let config = parse("system.toml", &text, PROGRAMS).expect("valid");
        assert_eq!(usize::from(config.realms[0].max_threads), threads);
    }
    let text = "[[realm]]\nname = \"init\"\nprogram = \"init\"\npriority = 200\nmemory = \"16 MiB\"\n\
                max_threads = 0\n\
                [[realm]]\nname = \"app\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\nmemory = \"4 KiB\"\n\
                max_threads = 17\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_error(
        &errors[0],
        Rule::QuotaOutOfRange,
        "system.toml:6:15: error[quota-out-of-range]: `max_threads` of realm \"init\" is 0, \
         outside 1 to 16",
    );
    assert_error(
        &errors[1],
        Rule::QuotaOutOfRange,
        "system.toml:13:15: error[quota-out-of-range]: `max_threads` of realm \"app\" is 17, \
         outside 1 to 16",
    );
    assert_only_error(
        &with_init("max_threads = -1\n"),
        Rule::QuotaOutOfRange,
        "system.toml:6:15: error[quota-out-of-range]: `max_threads` of realm \"init\" is -1, \
         outside 1 to 16",
    );
    assert_only_error(
        &with_init("max_threads = \"4\"\n"),
        Rule::WrongType,
        "system.toml:6:15: error[wrong-type]: field `max_threads` of realm \"init\" must be an \
         integer, not a string",
    );
}

#[test]
fn on_thread_fault_is_stop_realm_or_stop_thread_and_defaults_to_stop_realm() {
    use system_config::ThreadFaultPolicy;
    let config = parse("system.toml", INIT, PROGRAMS).expect("valid");
    assert_eq!(config.realms[0].on_thread_fault, ThreadFaultPolicy::StopRealm);
    for (written, policy) in [
        ("stop-realm", ThreadFaultPolicy::StopRealm),
        ("stop-thread", ThreadFaultPolicy::StopThread),
    ] {
        let text = with_init(&format!("on_thread_fault = \"{written}\"\n"));
        let config = parse("system.toml", &text, PROGRAMS).expect("valid");
        assert_eq!(config.realms[0].on_thread_fault, policy);
    }
    assert_only_error(
        &with_init("on_thread_fault = \"restart-thread\"\n"),
        Rule::BadSetting,
        "system.toml:6:19: error[bad-setting]: `on_thread_fault` of realm \"init\" is \
         \"restart-thread\"; it must be one of \"stop-realm\", \"stop-thread\"",
    );
    assert_only_error(
        &with_init("on_thread_fault = true\n"),
        Rule::WrongType,
        "system.toml:6:19: error[wrong-type]: field `on_thread_fault` of realm \"init\" must be \
         a string, not a boolean",
    );
}

#[test]
fn service_quota_exceeded() {
    let text = with_init(
        "max_services = 1\n\n[[service]]\nname = \"log\"\nrealm = \"init\"\n\n[[service]]\nname = \"kv\"\nrealm = \"init\"\n",
    );
    assert_only_error(
        &text,
        Rule::ServiceQuotaExceeded,
        "system.toml:14:9: error[service-quota-exceeded]: service \"kv\" is service number 2 of \
         realm \"init\", whose max_services is 1",
    );
}

#[test]
fn quotas_exceed_broker() {
    let child = |name: &str| {
        format!(
            "[[realm]]\nname = \"{name}\"\nprogram = \"app\"\nparent = \"init\"\npriority = 1\n\
             memory = \"4 KiB\"\nmax_services = 600\n"
        )
    };
    let text = format!("{INIT}{}{}", child("a"), child("b"));
    assert_only_error(
        &text,
        Rule::QuotasExceedBroker,
        "system.toml:13:1: error[quotas-exceed-broker]: the realms' max_services add up to 1204 \
         at realm \"b\", more than the broker's 1024",
    );
}

#[test]
fn default_service_quota_is_enforced() {
    let mut text = String::from(INIT);
    for index in 0..=system_config::DEFAULT_MAX_SERVICES {
        text.push_str(&format!("[[service]]\nname = \"s{index}\"\nrealm = \"init\"\n"));
    }
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].rule, Rule::ServiceQuotaExceeded);
    assert_eq!(errors[0].line, 5 + 3 * 4 + 3);
}

#[test]
fn every_error_in_a_file_is_reported_in_file_order() {
    let text = r#"[[realm]]
name = "init"
program = "init"
priority = 200
memory = "16 MiB"

[[realm]]
name = "Kv"
program = "kv"
parent = "init"
priority = 300
memory = "16 MB"

[[service]]
name = "kv"
realm = "kv-realm"

[[grant]]
client = "app"
service = "log"
"#;
    let found: Vec<(usize, Rule)> =
        errors(text).iter().map(|error| (error.line, error.rule)).collect();
    assert_eq!(
        found,
        [
            (8, Rule::BadName),
            (9, Rule::UnknownProgram),
            (11, Rule::PriorityOutOfRange),
            (12, Rule::BadMemorySize),
            (16, Rule::UnknownServiceRealm),
            (19, Rule::UnknownGrantClient),
            (20, Rule::UnknownGrantService),
        ]
    );
}

#[test]
fn rule_codes_are_unique_kebab_case_and_documented() {
    let docs = include_str!("../src/lib.rs");
    let mut codes: Vec<&str> = Rule::ALL.iter().map(|rule| rule.code()).collect();
    for code in &codes {
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{code} is not kebab-case"
        );
        assert!(docs.contains(&format!("`{code}`")), "{code} is not in the crate docs");
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Rule::ALL.len(), "two rules share a code");
}
