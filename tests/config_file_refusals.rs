#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What a config file that cannot be applied as written gives back: a missing file, a parse
//! error and a broken rule each say where (path, line, field, the key as the file writes it,
//! what a field accepts), a report lists what a loaded file did not apply, and a section key
//! that breaks a rule with a manifest entry declared later gives way, with the refusal
//! announced.

use breaker::{CircuitConfig, ConfigLayer, Event, RegistryError};
use breaker_suite::registry;

#[test]
fn file_errors_and_reports() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    registry.register("known").unwrap();

    // A missing file: an I/O error, with no line and no rule.
    let missing = registry
        .reload_from_path("/nonexistent/breaker/config.toml")
        .unwrap_err();
    assert_eq!(missing.line(), None);
    assert!(missing.config_error().is_none());
    assert!(missing.to_string().contains("config.toml"));

    // A parse error has a line, but no rule.
    let parse = registry.reload_from_str("[defaults\n").unwrap_err();
    assert_eq!(parse.line(), Some(1));
    assert!(parse.config_error().is_none());

    // A rule broken in [global]: located in that section.
    let global = registry
        .reload_from_str("[global]\ncomponent_open_ratio = 1.5\n")
        .unwrap_err();
    assert_eq!(global.line(), Some(2));
    assert_eq!(
        global.config_error().unwrap().field(),
        "global_trip_conditions.component_open_ratio"
    );

    // [defaults] may carry the fuse's table too; [global] extends it.
    let report = registry
        .reload_from_str(
            "[defaults.global_trip_conditions]\nmin_components = 2\n\n[global]\ncomponent_open_ratio = 0.25\n",
        )
        .unwrap();
    assert_eq!(
        report.to_string(),
        "every [components.*] section names a registered component"
    );
    let g = registry.config().global_trip_conditions;
    assert_eq!((g.min_components, g.component_open_ratio), (2, 0.25));

    let report = registry
        .reload_from_str("[components.unknown_one]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(
        report.to_string(),
        "sections for unregistered components: unknown_one"
    );
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { .. })));
}

mod declared_late {
    breaker::breakers! {
        late { half_open_max_concurrent: 1, half_open_required_successes: 1 },
    }
}

/// A file section loaded before a manifest entry is declared, whose key breaks a rule with
/// one of the entry's fields: declaring cannot be refused, so the section's key gives way to
/// the value the entry was checked with (the manifest conflict rule), the rest of the layers
/// still apply, and `ConfigRefused` names the component and the file's line.
#[test]
fn a_section_key_that_breaks_a_rule_with_an_entry_declared_later_gives_way() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[components.late]\nhalf_open_required_successes = 3\nmin_calls = 4\n")
        .unwrap();
    let own = declared_late::breakers::late.declared_config().unwrap();
    assert_eq!(
        (
            own.half_open_max_concurrent,
            own.half_open_required_successes
        ),
        (1, 1)
    );
    let late = declared_late::breakers::late.in_registry(&registry);
    assert_eq!(late.config().validate(), Ok(()));
    assert_eq!(
        late.config(),
        CircuitConfig {
            min_calls: 4,
            ..own
        },
        "the entry's one probe holds, the section's 3 successes give way to the entry's 1, \
         the section's min_calls applies"
    );
    assert!(
        log.events().iter().any(|e| matches!(
            e,
            Event::ConfigRefused {
                component: Some(name),
                error,
            } if name == "late" && error.line() == Some(2)
        )),
        "{:?}",
        log.events()
    );
}

/// `[defaults.global_trip_conditions]` is the table form of the README's inline
/// `global_trip_conditions = { .. }`. A refused key under it is reported at its own line (5),
/// not at the table's header (line 2), where it used to be.
#[test]
fn a_key_under_a_table_header_is_reported_at_its_own_line() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let text = "# the fuse, per registry\n[defaults.global_trip_conditions]\nmin_calls = 3\n\n\
                min_components = 0\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert!(err.to_string().contains("min_components = 0"), "{err}");
    assert_eq!(
        err.line(),
        Some(5),
        "`{err}` points at line {:?}: {:?}",
        err.line(),
        err.line().and_then(|l| text.lines().nth(l - 1))
    );
}

/// README: "`file:line: [section] key = value`", where `key = value` is always a line of the
/// file. A refusal in `[global]` quotes `min_components = 0`, as its line 3 has it, not
/// `global_trip_conditions.min_components = 0`, as it used to.
#[test]
fn a_refusal_in_global_quotes_the_key_as_the_file_writes_it() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let text = "[global]\ncomponent_open_ratio = 0.5\nmin_components = 0\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(
        err.to_string().contains("[global] min_components = 0"),
        "`{err}` quotes a key that line 3 (`{}`) does not have",
        text.lines().nth(2).unwrap()
    );
}

/// A wrong type for an optional duration (`half_open_max_wait = 5`, seconds without a unit,
/// the commonest slip) is refused with the field and what it accepts (`"250ms"`, `"30s"` or
/// `"off"`), not serde's `data did not match any variant of untagged enum Repr`.
#[test]
fn a_wrong_type_for_an_optional_duration_says_what_the_field_accepts() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    for key in ["half_open_max_wait", "slow_call_threshold"] {
        let err = registry
            .reload_from_str(&format!("[defaults]\n{key} = 5\n"))
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.line(), Some(2));
        assert!(
            !text.contains("untagged enum Repr") && text.contains("\"off\""),
            "`{key} = 5` is refused with `{text}`"
        );
        assert!(
            text.contains(&format!(
                "{key} takes a duration such as \"250ms\" or \"30s\""
            )),
            "the message names the field: {text}"
        );
    }
    // The optional count names itself too.
    let err = registry
        .reload_from_str("[defaults]\nconsecutive_failures_threshold = \"5s\"\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2));
    assert!(
        err.to_string()
            .contains("consecutive_failures_threshold takes a count of at least 1, or \"off\""),
        "{err}"
    );
}

/// Refusals from code against a file in force name the field, the value, the rule and the
/// line of the file's key (and only lines the file has); the `1y` maximum is accepted as
/// written; ratios are checked before narrowing.
#[test]
fn refusals_name_the_field_value_rule_and_the_files_own_line() {
    let (_clock, registry, _log) = registry(CircuitConfig {
        half_open_max_concurrent: 3,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    registry.register("w").unwrap();
    let text = "# operators' tuning\n\n[defaults]\nmin_calls = 9\n\n[components.w]\n# one probe\n\
                half_open_max_concurrent = 1\n";
    registry.reload_from_str(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // A code reload of the defaults that breaks w's section.
    let err = registry
        .reload(CircuitConfig {
            half_open_max_concurrent: 2,
            half_open_required_successes: 2,
            ..CircuitConfig::DEFAULT
        })
        .unwrap_err();
    assert_eq!(err.component(), Some("w"));
    assert_eq!(err.line(), Some(8), "{err}");
    assert_eq!(lines[7], "half_open_max_concurrent = 1");
    assert!(
        err.to_string().contains("half_open_required_successes = 2"),
        "{err}"
    );

    // A component reload that breaks it.
    let err = registry
        .reload_component(
            "w",
            CircuitConfig {
                half_open_max_concurrent: 2,
                half_open_required_successes: 2,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap_err();
    let RegistryError::Config(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.line(), Some(8), "{err}");
    assert!(
        matches!(
            e.conflicting(),
            Some((_, _, ConfigLayer::File { line: 8, .. }))
        ),
        "the other field of the rule is the file's key: {e}"
    );

    // A later file that does not have the section cannot be refused for it.
    registry
        .reload_from_str("[defaults]\nmin_calls = 10\n")
        .unwrap();

    for (text, ok) in [
        (
            "[defaults]\nrolling_window = \"1y\"\nwindow_buckets = 1000\n",
            true,
        ),
        ("[defaults]\nopen_cooldown = \"1y\"\n", true),
        ("[defaults]\nopen_cooldown = \"1y 1ns\"\n", false),
        ("[defaults]\nerror_rate_threshold = 1.00000001\n", false),
        ("[global]\ncomponent_open_ratio = 1.00000001\n", false),
        ("[defaults]\nopen_backoff_multiplier = 1000.0001\n", false),
        ("[defaults]\nerror_rate_threshold = 1e-50\n", false),
    ] {
        let result = registry.reload_from_str(text);
        assert_eq!(result.is_ok(), ok, "{text:?}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.line(), Some(2), "{e}");
        }
    }
}

/// A `[families.<name>]` table that is not shaped as one: `keys` not a table of per-key
/// tables, a per-key field that is no breaker field (a family field, the fuse's table), a
/// family name that is no component name, a breaker field of the wrong type. Each refusal
/// names the section and the file's own line, and nothing of the file is applied.
#[test]
fn a_misshapen_family_section_is_refused_where_the_file_wrote_it() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    let before = registry.config();
    let refused = |text: &str| {
        let error = registry.reload_from_str(text).unwrap_err();
        (error.line(), error.to_string())
    };

    assert_eq!(
        refused("[families.hosts]\nmin_calls = 3\nkeys = 3\n"),
        (
            Some(3),
            "<config>:3:1: [families.hosts] keys must be a table of per-key sections".to_owned()
        )
    );
    assert_eq!(
        refused("[families.hosts.keys]\n\"a.example\" = 1\n"),
        (
            Some(2),
            "<config>:2:1: [families.hosts.keys] `a.example` must be a table of breaker fields"
                .to_owned()
        )
    );
    // A family field belongs to the family, not to one key.
    assert_eq!(
        refused("[families.hosts.keys.\"a.example\"]\n\nmax_keys = 3\n"),
        (
            Some(3),
            "<config>:3:1: [families.hosts.keys.\"a.example\"] unknown breaker field `max_keys`"
                .to_owned()
        )
    );
    // So does the fuse's table, even though it is a field of `[defaults]`.
    let (line, text) = refused(
        "[families.hosts.keys.\"a.example\"]\nglobal_trip_conditions = { min_components = 1 }\n",
    );
    assert_eq!(line, Some(2));
    assert!(
        text.ends_with("unknown breaker field `global_trip_conditions`"),
        "{text}"
    );
    let (line, text) = refused("[families.\"bad name\"]\nmin_calls = 3\n");
    assert_eq!(line, Some(1));
    assert!(
        text.starts_with("<config>:1:") && text.contains("`bad name` cannot name a keyed family: "),
        "{text}"
    );
    // A value of the wrong type, in a family's breaker fields, its own fields or one key's
    // section: at the field's own line and column, naming the section and the field.
    assert_eq!(
        refused("[components.db]\nmin_calls = 2\n\n[families.hosts]\nmin_calls = \"three\"\n"),
        (
            Some(5),
            "<config>:5:1: [families.hosts] `min_calls`: invalid type: string \"three\", expected u32"
                .to_owned()
        )
    );
    assert_eq!(
        refused("[families.hosts]\nmin_calls = 3\nmax_keys = \"many\"\n"),
        (
            Some(3),
            "<config>:3:1: [families.hosts] `max_keys`: invalid type: string \"many\", expected u32"
                .to_owned()
        )
    );
    assert_eq!(
        refused("[families.hosts.keys.\"a\"]\n\nmin_calls = 3\n  error_rate_threshold = \"half\"\n"),
        (
            Some(4),
            "<config>:4:3: [families.hosts.keys.\"a\"] `error_rate_threshold`: invalid type: string \"half\", expected f32"
                .to_owned()
        )
    );

    assert_eq!(registry.config(), before);
    assert!(registry.family("hosts").is_none());
    let refusals = log
        .events()
        .iter()
        .filter(|e| matches!(e, Event::FileRefused { .. }))
        .count();
    assert_eq!(refusals, 8);
    assert!(!log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileReloaded { .. })));
}

/// Values of a type no field takes (a boolean, an array) are refused by the typed parse at
/// their own line, and a large integer is read as the count it is.
#[test]
fn values_of_the_wrong_shape_are_refused_at_their_line() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    for (text, line) in [
        ("[defaults]\nmin_calls = true\n", 2),
        ("[defaults]\n\nwindow_buckets = [1, 2]\n", 3),
        ("[components.db]\nmin_calls = 1.5\n", 2),
    ] {
        let error = registry.reload_from_str(text).unwrap_err();
        assert_eq!(error.line(), Some(line), "{text:?}: {error}");
        assert!(error.config_error().is_none(), "{text:?}: {error}");
    }
    registry
        .reload_from_str("[defaults]\nmin_calls = 4000000000\n")
        .unwrap();
    assert_eq!(registry.config().min_calls, 4_000_000_000);
}
