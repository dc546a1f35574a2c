//! Both text expositions, written from the [`families`](crate::observe::families) model. They differ
//! in two ways: in the Prometheus text format 0.0.4 a counter's `# HELP` and `# TYPE` are
//! under the name its samples carry (`breaker_calls_total`, what Prometheus' metadata and
//! `promtool check metrics` look up), and there is no `# EOF`; in OpenMetrics 1.0.0 they are
//! under the family's name (`breaker_calls`) and the exposition ends in `# EOF`. Samples are
//! written the same way in both.

use std::fmt::{self, Write};

use super::format::Format;
use crate::observe::families::{Family, Kind, Value};

/// Writes every family to `out` in `format`.
pub(crate) fn write(out: &mut impl Write, families: &[Family<'_>], format: Format) -> fmt::Result {
    for family in families {
        let name = family.sample_name();
        let described = match format {
            Format::Text => name.as_str(),
            Format::OpenMetrics => family.name,
        };
        writeln!(out, "# HELP {described} {}", escape_help(family.help))?;
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        writeln!(out, "# TYPE {described} {kind}")?;
        for sample in &family.samples {
            out.write_str(&name)?;
            if !sample.labels.is_empty() {
                out.write_char('{')?;
                for (i, (key, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    write!(out, "{key}=\"")?;
                    escape_label(out, value)?;
                    out.write_char('"')?;
                }
                out.write_char('}')?;
            }
            match sample.value {
                Value::Count(n) => writeln!(out, " {n}")?,
                // `{:?}` writes the shortest form that reads back, with a `.0` on whole
                // numbers, as the OpenMetrics encoder does.
                Value::Rate(r) => writeln!(out, " {r:?}")?,
            }
        }
    }
    if format == Format::OpenMetrics {
        out.write_str("# EOF\n")?;
    }
    Ok(())
}

/// A label value: backslash, double quote and line feed are escaped.
fn escape_label(out: &mut impl Write, value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\\' => out.write_str(r"\\")?,
            '"' => out.write_str("\\\"")?,
            '\n' => out.write_str(r"\n")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// A help text: backslash and line feed are escaped (the help texts here are constants
/// without either; this keeps a new one from breaking the format).
fn escape_help(help: &str) -> String {
    help.replace('\\', r"\\").replace('\n', r"\n")
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::families::Sample;

    /// Family keys may hold any text: a label value cannot end the quotes or the line.
    #[test]
    fn label_values_and_help_are_escaped() {
        let families = [Family {
            name: "breaker_calls",
            help: "one\\two\nthree",
            kind: Kind::Counter,
            samples: vec![Sample {
                labels: vec![("component", "a\"b\\c\nd")],
                value: Value::Count(3),
            }],
        }];
        let mut text = String::new();
        write(&mut text, &families, Format::Text).unwrap();
        assert_eq!(
            text,
            "# HELP breaker_calls_total one\\\\two\\nthree\n\
             # TYPE breaker_calls_total counter\n\
             breaker_calls_total{component=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
        let mut om = String::new();
        write(&mut om, &families, Format::OpenMetrics).unwrap();
        assert!(om.starts_with(
            "# HELP breaker_calls one\\\\two\\nthree\n# TYPE breaker_calls counter\n"
        ));
        assert!(om.ends_with("} 3\n# EOF\n"));
    }
}
