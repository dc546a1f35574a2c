// An out-of-range value fails to compile with the runtime's words (`field = value: rule`),
// at the field: the value as written for a literal, the value itself for a count, the field
// and the rule only for a value a `const` cannot format; a rule broken by a field the entry
// does not set is reported at the entry's braces.
use std::time::Duration;

const THRESHOLD: f32 = 1.5;

breaker::breakers! {
    binance_rest { error_rate_threshold: 1.5 },
    negative { slow_call_rate_threshold: -0.25 },
    named_const { error_rate_threshold: THRESHOLD },
    too_many_successes { half_open_required_successes: 5 },
    one_probe { half_open_max_concurrent: 1 },
    no_cooldown { open_cooldown: Duration::ZERO },
    long_cooldown { open_cooldown: Duration::from_secs(40_000_000) },
    fine { min_calls: 5, error_rate_threshold: 0.25 },
}

fn main() {}
