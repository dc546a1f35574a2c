#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! An optional duration in a config file (`half_open_max_wait`): "off" may be written `false`,
//! `"Never"` or `" disabled "`; a duration is a human one (`"90s"`); `true` and a misspelt unit
//! are refused with a message that says what is accepted; and `None` serialises as `"off"`.

use std::time::Duration;

use breaker::CircuitConfig;

fn parse(value: &str) -> Result<CircuitConfig, toml::de::Error> {
    toml::from_str::<CircuitConfig>(&format!("half_open_max_wait = {value}"))
}

#[test]
fn off_may_be_written_several_ways() {
    assert_eq!(parse("false").unwrap().half_open_max_wait, None);
    assert_eq!(parse("\"Never\"").unwrap().half_open_max_wait, None);
    assert_eq!(parse("\" disabled \"").unwrap().half_open_max_wait, None);
}

#[test]
fn a_duration_is_a_human_one() {
    assert_eq!(
        parse("\"90s\"").unwrap().half_open_max_wait,
        Some(Duration::from_secs(90))
    );
}

#[test]
fn true_and_misspelt_units_are_refused_with_what_is_accepted() {
    let flag = parse("true").unwrap_err().to_string();
    assert!(flag.contains("or \"off\""), "{flag}");
    let typo = parse("\"5 parsecs\"").unwrap_err().to_string();
    assert!(typo.contains("invalid duration"), "{typo}");
}

#[test]
fn none_serialises_as_off() {
    let off = toml::to_string(&CircuitConfig {
        half_open_max_wait: None,
        ..CircuitConfig::DEFAULT
    })
    .unwrap();
    assert!(off.contains("half_open_max_wait = \"off\""), "{off}");
    assert_eq!(
        toml::from_str::<CircuitConfig>(&off)
            .unwrap()
            .half_open_max_wait,
        None
    );
}
