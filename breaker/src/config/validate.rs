//! The rules a [`CircuitConfig`] must satisfy, written once as a `const fn` so the runtime
//! (`validate`) and the compile-time manifest check (`check` in a `const` item) cannot drift.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::CircuitConfig;

/// The longest duration any field accepts: one year as humantime reads `"1y"` (365.25 days),
/// so the documented maximum can be written as is. Longer ones are refused rather than
/// allowed to overflow the nanosecond arithmetic of the window and the cooldown.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// The narrowest bucket: keeps epoch numbers small enough to pack beside an episode tag
/// (40 bits of 1 ms epochs: 34 years of uptime).
pub(crate) const MIN_BUCKET: Duration = Duration::from_millis(1);

/// The most buckets a window may have; memory per component grows with it.
pub(crate) const MAX_BUCKETS: u32 = 1000;

/// The most outcomes a count window judges; each stripe of the window keeps one byte per
/// outcome.
pub(crate) const MAX_WINDOW_CALLS: u16 = 10_000;

/// The most half-open probes, successes or failures; the half-open word packs them in 10 and
/// 11 bits.
pub(crate) const MAX_HALF_OPEN: u32 = 1000;

/// The offending value, kept typed so it can be built in `const` context.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ConfigValue {
    /// A duration field.
    Duration(Duration),
    /// A ratio or multiplier.
    Ratio(f32),
    /// A count.
    Count(u64),
    /// A ratio or multiplier as a config file wrote it, before it was narrowed to the
    /// field's `f32` (`1.00000001` is refused, not read as `1.0`).
    Number(f64),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duration(d) if d.is_zero() => f.write_str("0s"),
            Self::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
            Self::Ratio(r) => write!(f, "{r}"),
            Self::Count(n) => write!(f, "{n}"),
            Self::Number(x) => write!(f, "{x}"),
        }
    }
}

/// A broken rule, as found by the `const` checker: which field, its value, and the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Violation {
    /// The field's name as written in config files, e.g. `error_rate_threshold` or
    /// `global_trip_conditions.min_components`.
    pub field: &'static str,
    /// The value that was refused.
    pub value: ConfigValue,
    /// The rule, e.g. `must be in (0, 1]`.
    pub rule: &'static str,
    /// The other field's value, for a rule whose bound is another field
    /// (`half_open_required_successes` "must be between 1 and half_open_max_concurrent"), so
    /// the message can name it.
    pub(crate) bound: Option<u32>,
}

/// A message built in `const` context, so the compile-time manifest check and the runtime
/// [`ConfigError`] word a refusal with the same [`describe`]: a `const` panic cannot format.
/// Reached by users only through `__private`.
#[derive(Clone, Copy)]
pub struct Message {
    bytes: [u8; Message::CAPACITY],
    len: usize,
}

impl Message {
    /// Enough for the longest field, rule and bound, and the longest `f64` a file can write
    /// (`f64::MAX` prints 309 digits); a longer text is cut, never refused.
    const CAPACITY: usize = 512;

    const fn new() -> Self {
        Self {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    const fn push(mut self, text: &str) -> Self {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() && self.len < Self::CAPACITY {
            self.bytes[self.len] = text[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    const fn push_u64(mut self, mut n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while count > 0 && self.len < Self::CAPACITY {
            count -= 1;
            self.bytes[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// The text (empty if a cut split a character, which only a non-ASCII value can cause).
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "",
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `rule`, with the bound's value when the bound is another field:
/// `must be between 1 and half_open_max_concurrent (3)`.
const fn push_rule(message: Message, rule: &str, bound: Option<u32>) -> Message {
    let message = message.push(rule);
    match bound {
        Some(n) => message.push(" (").push_u64(n as u64).push(")"),
        None => message,
    }
}

/// How every refusal of a value reads, at run time and in a manifest's compile error:
/// `field = value: rule`, or `field: rule` when the value cannot be written (a non-literal
/// ratio or duration in a manifest, which a `const` cannot format).
pub(crate) const fn describe(
    field: &str,
    value: Option<&str>,
    rule: &str,
    bound: Option<u32>,
) -> Message {
    let message = Message::new().push(field);
    let message = match value {
        Some(value) => message.push(" = ").push(value).push(": "),
        None => message.push(": "),
    };
    push_rule(message, rule, bound)
}

/// The message of a refused value as a manifest's `const` check can write it: counts (and a
/// zero duration) are formatted here; a ratio or another duration is written as the macro
/// saw it when that was a literal (`literal`), and left out otherwise.
pub(crate) const fn describe_violation(violation: &Violation, literal: Option<&str>) -> Message {
    let count;
    let value = match violation.value {
        ConfigValue::Count(n) => {
            count = Message::new().push_u64(n);
            Some(count.as_str())
        }
        ConfigValue::Duration(d) if d.is_zero() => Some("0s"),
        _ => literal,
    };
    describe(violation.field, value, violation.rule, violation.bound)
}

/// An invalid [`CircuitConfig`]: names the field, the value and the rule, and, when the
/// config was put together from layers (registry defaults, a `breakers!` entry, a config
/// file), the component and where each value involved was set.
///
/// ```
/// use breaker::CircuitConfig;
///
/// let err = CircuitConfig { error_rate_threshold: 1.5, ..CircuitConfig::DEFAULT }
///     .validate()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "error_rate_threshold = 1.5: must be in (0, 1]");
/// assert_eq!(err.field(), "error_rate_threshold");
/// assert_eq!(err.component(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    field: &'static str,
    value: ConfigValue,
    rule: &'static str,
    /// Boxed: most errors have none, and the error travels in `Result`s.
    details: Option<Box<Details>>,
}

/// What only some errors carry.
#[derive(Debug, Clone, PartialEq)]
struct Details {
    /// The other field's value, for a rule whose bound is another field.
    bound: Option<u32>,
    layering: Option<Layering>,
}

/// Where the values of a refused layered config came from.
#[derive(Debug, Clone, PartialEq)]
struct Layering {
    /// `None`: the registry's own defaults.
    component: Option<String>,
    /// The layer that set the refused value.
    layer: ConfigLayer,
    /// For a rule between two fields: the other field, its value and its layer.
    other: Option<(&'static str, ConfigValue, ConfigLayer)>,
}

/// The layer a value of a component's config came from (see [Config files](crate#config-files) in the crate docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigLayer {
    /// [`CircuitConfig::DEFAULT`] (also the value a field takes when it gives way to a
    /// `breakers!` entry's field under the manifest conflict rule, see
    /// [Config files](crate#config-files)).
    BuiltIn,
    /// The registry's defaults in code: the builder, [`reload`](crate::GlobalCircuitBreaker::reload).
    RegistryDefaults,
    /// The component's `breakers!` entry.
    Manifest,
    /// The component's own config in code:
    /// [`register_with`](crate::GlobalCircuitBreaker::register_with) or
    /// [`reload_component`](crate::GlobalCircuitBreaker::reload_component).
    Code,
    /// A key of a config file.
    File {
        /// The file, if it came from one (`None`: `reload_from_str`).
        path: Option<PathBuf>,
        /// `defaults`, `global` or `components.<name>`.
        section: String,
        /// The key's 1-based line.
        line: usize,
    },
}

impl fmt::Display for ConfigLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("the built-in defaults"),
            Self::RegistryDefaults => f.write_str("the registry's defaults"),
            Self::Manifest => f.write_str("the `breakers!` entry"),
            Self::Code => f.write_str("the config in code"),
            Self::File {
                path,
                section,
                line,
            } => write!(f, "{}:{line} [{section}]", source_name(path.as_deref())),
        }
    }
}

/// How errors name a config that did not come from a file.
pub(crate) fn source_name(path: Option<&std::path::Path>) -> String {
    path.map_or_else(|| "<config>".to_owned(), |p| p.display().to_string())
}

impl ConfigLayer {
    /// The line, for a file key.
    fn line(&self) -> Option<usize> {
        match self {
            Self::File { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(layering) = self.layering() else {
            let value = self.value.to_string();
            let message = describe(self.field, Some(&value), self.rule, self.bound());
            return f.write_str(message.as_str());
        };
        if let Some(component) = &layering.component {
            write!(f, "component `{component}`: ")?;
        }
        write!(
            f,
            "{} = {} (from {}): {}",
            self.field,
            self.value,
            layering.layer,
            self.rule_text().as_str()
        )?;
        if let Some((field, value, layer)) = &layering.other {
            write!(f, ", with {field} = {value} (from {layer})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The field's name as written in config files.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The refused value.
    pub fn value(&self) -> ConfigValue {
        self.value
    }

    /// The rule it broke.
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// The rule as messages write it, with the bound's value when the bound is another field.
    fn rule_text(&self) -> Message {
        push_rule(Message::new(), self.rule, self.bound())
    }

    fn layering(&self) -> Option<&Layering> {
        self.details.as_deref().and_then(|d| d.layering.as_ref())
    }

    fn bound(&self) -> Option<u32> {
        self.details.as_deref().and_then(|d| d.bound)
    }

    /// The component whose layered config broke the rule (`None`: a config checked on its
    /// own, or the registry's defaults).
    pub fn component(&self) -> Option<&str> {
        self.layering().and_then(|l| l.component.as_deref())
    }

    /// The layer that set the refused value, when layering refused it.
    pub fn layer(&self) -> Option<&ConfigLayer> {
        self.layering().map(|l| &l.layer)
    }

    /// For a rule between two fields (`half_open_required_successes` and
    /// `half_open_max_concurrent`, `window_buckets` and `rolling_window`): the other field,
    /// its value and the layer that set it.
    pub fn conflicting(&self) -> Option<(&'static str, ConfigValue, &ConfigLayer)> {
        self.layering()
            .and_then(|l| l.other.as_ref())
            .map(|(field, value, layer)| (*field, *value, layer))
    }

    /// The line of the config file's key that takes part (the refused value's, or else the
    /// other field's).
    pub fn line(&self) -> Option<usize> {
        let layering = self.layering()?;
        layering
            .layer
            .line()
            .or_else(|| layering.other.as_ref().and_then(|(_, _, l)| l.line()))
    }

    /// An error for a rule that only the runtime can check (e.g. a value a file wrote that
    /// does not survive narrowing to the field's type).
    pub(crate) fn runtime(field: &'static str, value: ConfigValue, rule: &'static str) -> Self {
        Self {
            field,
            value,
            rule,
            details: None,
        }
    }

    /// The same error, saying where its values came from.
    pub(crate) fn layered(
        mut self,
        component: Option<&str>,
        layer: ConfigLayer,
        other: Option<(&'static str, ConfigValue, ConfigLayer)>,
    ) -> Self {
        let bound = self.bound();
        self.details = Some(Box::new(Details {
            bound,
            layering: Some(Layering {
                component: component.map(str::to_owned),
                layer,
                other,
            }),
        }));
        self
    }

    /// The file key that takes part, as `(section, line, field, value)`: the refused value
    /// when the file set it, or else the other field of the rule.
    pub(crate) fn file_key(&self) -> Option<(&str, usize, &'static str, ConfigValue)> {
        let layering = self.layering()?;
        if let ConfigLayer::File { section, line, .. } = &layering.layer {
            return Some((section, *line, self.field, self.value));
        }
        match &layering.other {
            Some((field, value, ConfigLayer::File { section, line, .. })) => {
                Some((section, *line, field, *value))
            }
            _ => None,
        }
    }

    /// Whether the refused value itself is a key of the file.
    pub(crate) fn set_by_file(&self) -> bool {
        matches!(
            self.layering(),
            Some(Layering {
                layer: ConfigLayer::File { .. },
                ..
            })
        )
    }

    /// The rule and the other field, without the component (for messages that lead with the
    /// file's own line).
    pub(crate) fn describe_rest(&self) -> String {
        match self.layering().and_then(|l| l.other.as_ref()) {
            Some((field, value, layer)) => {
                format!(
                    "{}, with {field} = {value} (from {layer})",
                    self.rule_text().as_str()
                )
            }
            None => self.rule_text().as_str().to_owned(),
        }
    }
}

impl From<Violation> for ConfigError {
    fn from(v: Violation) -> Self {
        Self {
            details: v.bound.map(|bound| {
                Box::new(Details {
                    bound: Some(bound),
                    layering: None,
                })
            }),
            ..Self::runtime(v.field, v.value, v.rule)
        }
    }
}

macro_rules! refuse {
    ($field:literal, $value:expr, $rule:literal) => {
        refuse!($field, $value, $rule, None)
    };
    ($field:literal, $value:expr, $rule:literal, $bound:expr) => {
        return Err(Violation {
            field: $field,
            value: $value,
            rule: $rule,
            bound: $bound,
        })
    };
}

/// `(0, 1]`, written so NaN fails (every comparison with NaN is false).
const fn is_unit_ratio(r: f32) -> bool {
    r > 0.0 && r <= 1.0
}

const fn is_positive_duration(d: Duration) -> bool {
    !d.is_zero() && d.as_nanos() <= MAX_DURATION.as_nanos()
}

impl CircuitConfig {
    /// Checks every rule; the error names the field, the value and the rule it broke.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match check(self) {
            Ok(()) => Ok(()),
            Err(violation) => Err(ConfigError::from(violation)),
        }
    }

    /// The same rules as [`validate`](Self::validate), usable in `const` context so a
    /// manifest can reject an out-of-range value at compile time (through `__private`).
    pub(crate) const fn check(&self) -> Result<(), Violation> {
        check(self)
    }
}

/// Every rule, in field order; the first broken one is reported.
const fn check(c: &CircuitConfig) -> Result<(), Violation> {
    use ConfigValue::{Count, Duration as Dur, Ratio};

    if !is_positive_duration(c.rolling_window) {
        refuse!(
            "rolling_window",
            Dur(c.rolling_window),
            "must be greater than 0 and at most 1 year"
        );
    }
    if c.window_buckets == 0 || c.window_buckets > MAX_BUCKETS {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must be between 1 and 1000"
        );
    }
    if !c
        .rolling_window
        .as_nanos()
        .is_multiple_of(c.window_buckets as u128)
    {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must divide rolling_window into equal whole-nanosecond buckets"
        );
    }
    if c.rolling_window.as_nanos() / (c.window_buckets as u128) < MIN_BUCKET.as_nanos() {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must leave buckets of at least 1ms (rolling_window / window_buckets)"
        );
    }
    if c.min_calls == 0 {
        refuse!("min_calls", Count(0), "must be at least 1");
    }
    if !is_unit_ratio(c.error_rate_threshold) {
        refuse!(
            "error_rate_threshold",
            Ratio(c.error_rate_threshold),
            "must be in (0, 1]"
        );
    }
    if let Some(0) = c.consecutive_failures_threshold {
        refuse!(
            "consecutive_failures_threshold",
            Count(0),
            "must be at least 1 when set (\"off\" turns it off)"
        );
    }
    if let Some(d) = c.slow_call_threshold {
        if !is_positive_duration(d) {
            refuse!(
                "slow_call_threshold",
                Dur(d),
                "must be greater than 0 and at most 1 year when set"
            );
        }
    }
    if !is_unit_ratio(c.slow_call_rate_threshold) {
        refuse!(
            "slow_call_rate_threshold",
            Ratio(c.slow_call_rate_threshold),
            "must be in (0, 1]"
        );
    }
    if !is_positive_duration(c.open_cooldown) {
        refuse!(
            "open_cooldown",
            Dur(c.open_cooldown),
            "must be greater than 0 and at most 1 year"
        );
    }
    if !(c.open_backoff_multiplier >= 1.0 && c.open_backoff_multiplier <= 1000.0) {
        refuse!(
            "open_backoff_multiplier",
            Ratio(c.open_backoff_multiplier),
            "must be in [1, 1000]"
        );
    }
    // The cap only limits the backoff's growth (the cooldown used is at most
    // `max(open_cooldown, open_cooldown_max)`), so a cap below the cooldown is valid: a config
    // that sets only `open_cooldown` must not be refused for a field it never set.
    if c.open_cooldown_max.as_nanos() > MAX_DURATION.as_nanos() {
        refuse!(
            "open_cooldown_max",
            Dur(c.open_cooldown_max),
            "must be at most 1 year"
        );
    }
    if c.half_open_max_concurrent == 0 || c.half_open_max_concurrent > MAX_HALF_OPEN {
        refuse!(
            "half_open_max_concurrent",
            Count(c.half_open_max_concurrent as u64),
            "must be between 1 and 1000"
        );
    }
    if c.half_open_required_successes == 0
        || c.half_open_required_successes > c.half_open_max_concurrent
    {
        refuse!(
            "half_open_required_successes",
            Count(c.half_open_required_successes as u64),
            "must be between 1 and half_open_max_concurrent",
            Some(c.half_open_max_concurrent)
        );
    }
    if c.half_open_allowed_failures > MAX_HALF_OPEN {
        refuse!(
            "half_open_allowed_failures",
            Count(c.half_open_allowed_failures as u64),
            "must be at most 1000"
        );
    }
    if let Some(d) = c.half_open_max_wait {
        if !is_positive_duration(d) {
            refuse!(
                "half_open_max_wait",
                Dur(d),
                "must be greater than 0 and at most 1 year when set"
            );
        }
    }
    if !is_positive_duration(c.exponential_half_life) {
        refuse!(
            "exponential_half_life",
            Dur(c.exponential_half_life),
            "must be greater than 0 and at most 1 year"
        );
    }
    if c.window_calls == 0 || c.window_calls > MAX_WINDOW_CALLS {
        refuse!(
            "window_calls",
            Count(c.window_calls as u64),
            "must be between 1 and 10000"
        );
    }
    let g = &c.global_trip_conditions;
    if !is_unit_ratio(g.component_open_ratio) {
        refuse!(
            "global_trip_conditions.component_open_ratio",
            Ratio(g.component_open_ratio),
            "must be in (0, 1]"
        );
    }
    if g.min_components == 0 {
        refuse!(
            "global_trip_conditions.min_components",
            Count(0),
            "must be at least 1"
        );
    }
    Ok(())
}

/// Checks a ratio or multiplier as a config file wrote it, before it is narrowed to `f32`:
/// `1.00000001` rounds to `1.0`, which the field accepts, but the file asked for more.
pub(crate) fn check_exact(field: &str, x: f64) -> Option<&'static str> {
    let narrowed = x as f32;
    match field {
        "error_rate_threshold"
        | "slow_call_rate_threshold"
        | "global_trip_conditions.component_open_ratio" => {
            (!(x > 0.0 && x <= 1.0 && is_unit_ratio(narrowed))).then_some("must be in (0, 1]")
        }
        "open_backoff_multiplier" => (!((1.0..=1000.0).contains(&x)
            && (1.0..=1000.0).contains(&narrowed)))
        .then_some("must be in [1, 1000]"),
        _ => None,
    }
}
