//! Durations as a person reads them.

use std::time::Duration;

/// `d` as a person reads it: whole seconds and up (`5m 56s`), milliseconds below one second.
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// `d` in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_and_up() {
        assert_eq!(human(Duration::from_millis(356_789)), "5m 56s");
        assert_eq!(human(Duration::from_millis(999)), "999ms");
        assert_eq!(human(Duration::ZERO), "0ms");
        assert_eq!(human(Duration::from_secs(3600 * 26 + 1)), "1day 2h 1s");
    }
}
