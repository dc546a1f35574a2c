//! The two exposition formats and the negotiation between them on `Accept`.

/// The content type of the OpenMetrics output ([`Format::OpenMetrics`]).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of the text format 0.0.4 output ([`Format::Text`]).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format 0.0.4: a counter's `# HELP`/`# TYPE` under its `_total`
    /// name, no `# EOF`. What `promtool check metrics` reads, and the default for a client
    /// that names neither format.
    #[default]
    Text,
    /// OpenMetrics 1.0.0: a counter family `breaker_calls` whose samples are
    /// `breaker_calls_total`, ending in `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it accepts
    /// `application/openmetrics-text` (any version) at least as much as the text format
    /// (`text/plain`, `text/*`, `*/*`), by `q`; the text format otherwise, and for a missing or
    /// unreadable header.
    pub fn from_accept(accept: &str) -> Self {
        let mut openmetrics = 0.0_f32;
        let mut text = 0.0_f32;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Self::OpenMetrics
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` to serve this format's output as.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Text => TEXT_CONTENT_TYPE,
            Self::OpenMetrics => CONTENT_TYPE,
        }
    }
}
